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
