#!/usr/bin/env bash
# The end-to-end round benchmark: U baseline models (the six of `crucible
# models make-baselines`, repeated) on S series of length L, `crucible eval`
# against the per-model-subprocess Python reference. Prints the wall seconds
# of each. Usage: round_benchmark.sh BUILD_DIR [U] [S] [L] [DEVICE]
set -euo pipefail
build=${1:-build}
models=${2:-16}
series=${3:-100}
length=${4:-1024}
device=${5:-cpu}
crucible="$build/apps/crucible"
work=$(mktemp -d /tmp/crucible-round-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/baselines"
"$crucible" models make-baselines --out "$work/baselines" >/dev/null
mapfile -t baselines < <(ls "$work/baselines"/*.pt | sort)
mkdir -p "$work/models"
for ((i = 0; i < models; i++)); do
  source=${baselines[$((i % ${#baselines[@]}))]}
  name=$(basename "$source" | cut -d_ -f2-)
  cp "$source" "$work/models/$(printf '%02d' "$i")_$name"
done
"$crucible" synth --series "$series" --length "$length" --seed 1 --out "$work/task" >/dev/null

seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -n 1; }
echo "U=$models S=$series L=$length device=$device"
echo "crucible eval (2 workers): $(seconds "$crucible" eval --models "$work/models" \
  --data "$work/task" --seed 1 --jobs 2 --device "$device" --out "$work/isolated.json") s"
echo "crucible eval --isolation none: $(seconds "$crucible" eval --models "$work/models" \
  --data "$work/task" --seed 1 --isolation none --device "$device" --out "$work/none.json") s"
/usr/bin/python3 - "$work/isolated.json" <<'PY'
import json, sys
models = json.load(open(sys.argv[1]))["models"]
seconds = lambda key: sum(m["seconds"][key] for m in models)
print(f"  2-worker run: models' own forecast calls {seconds('forward'):.3f} s, archive loads {seconds('load'):.3f} s "
      f"(worker time, summed), one loss pass {models[0]['seconds']['loss']:.3f} s")
PY
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "python reference: $(seconds /usr/bin/python3 benchmarks/python_round_reference.py \
    --models "$work/models" --data "$work/task") s"
else
  echo "python reference: skipped (python3-torch is not installed)"
fi
