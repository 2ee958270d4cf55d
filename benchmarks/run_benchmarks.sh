#!/usr/bin/env bash
# Runs the engine benchmarks and the Python reference of the same work.
# Usage: run_benchmarks.sh BUILD_DIR. Figures go to BENCHMARKS.md by hand,
# with the machine they came from.
set -euo pipefail
build=${1:-build}
"$build/benchmarks/engine_bench" --benchmark_counters_tabular=true
/usr/bin/python3 benchmarks/python_reference.py --job loss --max-series 2048
/usr/bin/python3 benchmarks/python_reference.py --job score
bash "$(dirname "$0")/round_benchmark.sh" "$build"
bash "$(dirname "$0")/native_benchmark.sh" "$build" 8 128
# The official Chronos-2 pipeline on BM_Chronos2Cpu's models and task (U=16).
if [[ -f .venv-chronos2/.ready ]]; then
  .venv-chronos2/bin/python benchmarks/chronos2_reference.py --crucible "$build/apps/crucible" \
    --models 16 --d-model 128 --groups 50
else
  echo "Chronos-2 reference skipped: .venv-chronos2/.ready missing (run scripts/make-chronos2-venv.sh)"
fi
