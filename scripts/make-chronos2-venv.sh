#!/usr/bin/env bash
# Makes a venv with amazon's chronos-forecasting 2.3.2 (the Chronos-2 reference)
# on top of Debian's python3 + torch 1.13.1 (the LibTorch crucible links).
#   scripts/make-chronos2-venv.sh [DIR]     (default: .venv-chronos2 in the repo root)
# Idempotent: DIR/.ready marks a finished venv; a half-made one is redone.
# Exits non-zero with one line on failure.
# chronos-forecasting 2.3.2 declares torch>=2, but Chronos-2 inference runs on
# torch 1.13.1 (with pandas 2.1.4 on Debian's numpy 1.24) as it is
# when the model is loaded with attn_implementation="eager":
#   Chronos2Pipeline.from_pretrained(path, attn_implementation="eager")
# The default "sdpa" calls torch 2's scaled_dot_product_attention; nothing else
# needed a workaround. Hence --no-deps and pinned versions.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/.venv-chronos2}"
py=/usr/bin/python3   # Debian's interpreter: a pyenv/other python3 would lack torch
log="$(mktemp)"; trap 'rm -f "$log"' EXIT
fail() { echo "make-chronos2-venv: $1 (log: $(tail -n 1 "$log"))" >&2; exit 1; }
check='import chronos, transformers; from chronos import Chronos2Pipeline'

if [[ -f "$dir/.ready" ]] && "$dir/bin/python" -c "$check" 2>/dev/null; then
  echo "chronos2 venv ready: $dir"; exit 0
fi
if [[ -f "$dir/pyvenv.cfg" ]]; then rm -rf "$dir"   # a half-made venv: start again
elif [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
  echo "make-chronos2-venv: $dir exists and is not a venv" >&2; exit 1
fi

apt_pkgs=()
"$py" -c 'import ensurepip' 2>/dev/null || apt_pkgs+=(python3-venv)
"$py" -c 'import torch' 2>/dev/null || apt_pkgs+=(python3-torch)
"$py" -c 'import numpy' 2>/dev/null || apt_pkgs+=(python3-numpy)
if ((${#apt_pkgs[@]})); then
  [[ $EUID -eq 0 ]] || { echo "make-chronos2-venv: need root to apt-get install ${apt_pkgs[*]}" >&2; exit 1; }
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_pkgs[@]}"; } \
    >>"$log" 2>&1 || fail "apt-get install ${apt_pkgs[*]} failed"
fi

"$py" -m venv --system-site-packages "$dir" >>"$log" 2>&1 || fail "python3 -m venv $dir failed"
pip=("$dir/bin/pip" install -q --disable-pip-version-check --no-deps)
"${pip[@]}" chronos-forecasting==2.3.2 transformers==4.48.3 accelerate==0.34.2 einops==0.8.1 \
  pandas==2.1.4 pytz==2026.6 tzdata==2026.6 'python-dateutil>=2.8.2' 'six>=1.16' >>"$log" 2>&1 \
  || fail "pip install chronos-forecasting failed"
# tested versions; requests, pyyaml and psutil usually come from Debian (python3-torch's deps)
"${pip[@]}" huggingface-hub==0.36.2 tokenizers==0.21.4 safetensors==0.8.0 regex==2026.11.19 \
  tqdm==4.70.1 filelock==4.3.1 fsspec==2026.9.0 packaging==26.4 typing-extensions==4.16.0 \
  'requests>=2.28' 'pyyaml>=6' 'psutil>=5.9' certifi idna 'urllib3<3' charset-normalizer \
  >>"$log" 2>&1 || fail "pip install support packages failed"

"$dir/bin/python" -c "$check" >>"$log" 2>&1 || fail "import check failed in $dir"
touch "$dir/.ready"
echo "chronos2 venv ready: $dir"
