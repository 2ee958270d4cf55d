#!/usr/bin/env bash
# One full GPU-machine call (the device tool): build with CUDA against the
# machine's PyTorch, run the C++ tests (the CUDA agreement tests run there
# instead of skipping) and the engine benchmarks. Logs and the benchmark JSON
# go to $OUT. Needs .device-deps (scripts/pack-device-deps.sh) carried along.
set -uo pipefail
out=${OUT:-/tmp/crucible-device}
mkdir -p "$out"
deps="$PWD/.device-deps/usr"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$deps/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1

if ! cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$deps;$torch_prefix" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DBLA_VENDOR=OpenBLAS -DCMAKE_CXX_FLAGS="-I$deps/include" \
    > "$out/configure.log" 2>&1; then
  tail -40 "$out/configure.log"
  exit 1
fi
if ! cmake --build build-gpu -j "$(nproc)" > "$out/build.log" 2>&1; then
  grep -E "error" "$out/build.log" | head -40
  exit 1
fi
ctest --test-dir build-gpu -E '^python\.' --output-on-failure > "$out/ctest.log" 2>&1
echo "ctest exit $?"
grep -E "tests passed|Failed|Skipped" "$out/ctest.log" | tail -20
build-gpu/benchmarks/engine_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json > "$out/bench.txt" 2>&1
grep -E "median|ERROR" "$out/bench.txt"
# The round benchmark on the GPU: U=64 baselines through worker processes, and
# in process. Each model's load/forward seconds are in the result JSON files.
bash benchmarks/round_benchmark.sh build-gpu 64 100 1024 cuda > "$out/round.txt" 2>&1
cat "$out/round.txt"
