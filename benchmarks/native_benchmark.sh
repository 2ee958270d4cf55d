#!/usr/bin/env bash
# The native-model benchmark: U same-config Chronos-Bolt models (random
# weights, chronos-bolt-tiny's shape ratios at D_MODEL, 4 + 4 layers) on S=100
# synthetic series of length 1024: `crucible eval` (stacked, in process)
# against amazon's chronos-forecasting pipeline looping over the models in one
# interpreter, and a fresh interpreter per model (how subnet validators run
# models). Needs the venv of scripts/make-chronos-venv.sh (skips without it).
# Usage: native_benchmark.sh BUILD_DIR [U] [D_MODEL] [DEVICE]
set -euo pipefail
build=${1:-build}
count=${2:-8}
d_model=${3:-128}
device=${4:-cpu}
venv=.venv-chronos
crucible="$build/apps/crucible"
if [[ ! -f $venv/.ready ]]; then
  echo "native benchmark skipped: $venv/.ready missing (run scripts/make-chronos-venv.sh)"
  exit 0
fi
work=$(mktemp -d /tmp/crucible-native-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" benchmarks/make_bench_bolt_models.py --out "$work/models" --count "$count" \
  --d-model "$d_model" >/dev/null
"$crucible" synth --series 100 --length 1024 --seed 1 --out "$work/task" >/dev/null

seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -n 1; }
echo "U=$count d_model=$d_model S=100 L=1024 device=$device OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "crucible eval (stacked): $(seconds "$crucible" eval --models "$work/models" --data "$work/task" \
  --seed 1 --device "$device" --out "$work/crucible.json") s"
for mode in loop fresh-process; do
  echo "chronos-forecasting, $mode: $(seconds "$venv/bin/python" benchmarks/chronos_bolt_reference.py \
    --models "$work/models" --data "$work/task" --mode "$mode" --device "$device") s"
done
