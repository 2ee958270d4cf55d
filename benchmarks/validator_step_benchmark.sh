#!/usr/bin/env bash
# A validator's steps over U unchanged native models: U random Chronos-Bolt
# models of one config (chronos-bolt-tiny's shape ratios at D_MODEL, 4 + 4
# layers) on a local chain and hub (examples/make_demo_chain.py, one task
# window every 3 s), run for STEPS steps. Every step falls in a new window, so
# each runs all U models again on that window's task. Prints each step's
# seconds and the native weight bytes it read (metrics.jsonl). Needs the venv
# of scripts/make-chronos-venv.sh to write the models (skips without it).
# Usage: validator_step_benchmark.sh BUILD_DIR [U] [D_MODEL] [STEPS] [DEVICE]
set -euo pipefail
build=${1:-build}
count=${2:-32}
d_model=${3:-64}
steps=${4:-4}
device=${5:-cpu}
venv=.venv-chronos
crucible="$build/apps/crucible"
if [[ ! -f $venv/.ready ]]; then
  echo "validator step benchmark skipped: $venv/.ready missing (run scripts/make-chronos-venv.sh)"
  exit 0
fi
work=$(mktemp -d /tmp/crucible-step-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" benchmarks/make_bench_bolt_models.py --out "$work/models" --count "$count" \
  --d-model "$d_model" >/dev/null
/usr/bin/python3 examples/make_demo_chain.py "$work/models" "$work/hub" "$work/chain" >/dev/null
"$crucible" validator --chain "local:$work/chain" --hub "$work/hub" --state-dir "$work/state" \
  --steps "$steps" --no-http --idle-poll 0.2 --weights-interval 1000 --timeout-per-model 600 \
  --device "$device" > "$work/validator.log" 2>&1 || { tail -20 "$work/validator.log"; exit 1; }
model_bytes=$(du -cb "$work"/models/*/model.safetensors | tail -n 1 | cut -f1)
echo "U=$count d_model=$d_model device=$device: $model_bytes bytes of model.safetensors in all"
/usr/bin/python3 - "$work/state/metrics.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    step = json.loads(line)
    ran = len(step["models"])  # the rows are the models the step ran
    read = step.get("weight_bytes_read")
    print(f"step {step['step']}: window {step['window']}, {ran} models run, {step['seconds']:.2f} s, "
          f"weight bytes read: {read if read is not None else 'not reported'}")
EOF
