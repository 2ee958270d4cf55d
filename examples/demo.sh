#!/usr/bin/env bash
# The demo: (1) eight example models' forecasts on synthetic series -> CRPS ->
# win rate, bootstrap CI, gap and composite; (2) a synthetic GP task for a
# seed; (3) windows of a real dataset (yearly sunspots) scored for three
# baseline forecasters; (4) `crucible eval` of seven TorchScript baselines in
# worker processes, two native Chronos-Bolt baselines (one config, stacked
# into one forward) and a native Chronos-2 one, on the GP task and on a task
# of groups with covariates; (5) `crucible validator` for 3 task windows on a
# local chain of 11 miners (the ten baselines and one broken model) and a
# local model hub.
# Usage: demo.sh BUILD_DIR
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

echo "== crucible synth: the round's synthetic GP series for seed 150 (S=100, L=1024)"
"$crucible" synth --series 100 --length 1024 --seed 150 --out "$out/synthetic"

echo "== crucible synth: 40 windows of yearly sunspots (examples/data), 16-year horizon"
"$crucible" synth --dataset examples/data/sunspots.csv --series 40 --length 96 --horizon 16 \
  --seed 150 --out "$out/sunspots"
/usr/bin/python3 examples/baseline_forecasts.py "$out/sunspots" 11
"$crucible" loss --targets "$out/sunspots/targets.npy" --forecasts "$out/sunspots/forecasts.npy" \
  --lengths "$out/sunspots/target_lengths.npy" --out "$out/sunspots/losses.npy"
echo "== crucible score: uid 0 naive, 1 mean, 2 seasonal naive (11 years)"
"$crucible" score --losses "$out/sunspots/losses.npy" --seed 150 --out "$out/sunspots/scores.json"
echo "== crucible eval: seven TorchScript and three native baselines (Chronos-Bolt, Chronos-2) on the round's GP task (seed 150)"
rm -rf "$out/models" && mkdir -p "$out/models"
"$crucible" models make-baselines --out "$out/models" >/dev/null
"$crucible" eval --models "$out/models" --series 100 --length 512 --seed 150 \
  --timeout-per-model 60 --out "$out/eval.json"
echo "== crucible eval: the same models on 30 groups of 2 targets, a past and a known covariate"
"$crucible" synth --series 30 --length 512 --seed 150 --group-targets 2 --past-covariates 1 \
  --known-covariates 1 --out "$out/groups" >/dev/null
"$crucible" eval --models "$out/models" --data "$out/groups" --seed 150 \
  --timeout-per-model 60 --out "$out/eval-groups.json"
echo "== crucible validator: a local chain (uid 0 a validator, 11 miners, a task window every 3 s), a local hub, 3 windows"
rm -rf "$out/hub" "$out/chain" "$out/validator"
/usr/bin/python3 examples/make_demo_chain.py "$out/models" "$out/hub" "$out/chain"
"$crucible" validator --chain "local:$out/chain" --hub "$out/hub" --state-dir "$out/validator" \
  --steps 3 --no-http --idle-poll 0.5 --weights-interval 5 --timeout-per-model 60
echo "== weights set on the local chain: $out/chain/weights.jsonl (last line)"
tail -n 1 "$out/chain/weights.jsonl"
echo "== wrote $out/"
