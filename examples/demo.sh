#!/usr/bin/env bash
# The demo round: eight example models' forecasts -> per-series CRPS ->
# win rate, bootstrap CI, gap and composite. Usage: demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
out=demo-out
crucible="$build/apps/crucible"

/usr/bin/python3 examples/make_demo_data.py "$out"
echo "== crucible loss: CRPS of 8 models x 100 series (example data in $out/)"
"$crucible" loss --metric crps --targets "$out/targets.npy" --forecasts "$out/forecasts.npy" \
  --lengths "$out/lengths.npy" --out "$out/losses.npy"
echo "== crucible score: seed 150 (a block hash in a real round)"
"$crucible" score --losses "$out/losses.npy" --uids "$out/uids.npy" --seed 150 \
  --bootstrap-samples 1000 --out "$out/scores.json"
echo "== wrote $out/losses.npy and $out/scores.json"
