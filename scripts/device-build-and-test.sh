#!/usr/bin/env bash
# One full GPU-machine call (the device tool), meant to finish in under 8
# minutes on an H200: build with CUDA (sm_90) against the machine's PyTorch,
# run the C++ tests (the CUDA agreement tests run there instead of skipping),
# then the benchmarks of record (benchmarks/record.py: the loss pass, the
# scoring, the stacked Chronos-Bolt forecast in fp32 and TF32 and the stacked
# Chronos-2 forecast, record/chronos2_fp32: U=64 and 256 models of d_model 128
# and U=16 of d_model 512 on 100 groups of 1 target + 1 past + 1 known
# covariate; engine_bench's register_record_benchmarks). Everything lands in
# $OUT: record.json, record.md (the table BENCHMARKS.md takes as it is),
# phases.txt (seconds per phase) and the logs. Needs .device-deps
# (scripts/pack-device-deps.sh) carried along: the Debian C++ packages that
# machine lacks.
#
# Rehearsal on a machine without a GPU: the same steps, the CUDA code compiled
# but not run, the workloads scaled down, against the PyTorch wheel of
# scripts/fetch-torch-wheel.sh, in make test-wheel's build folder:
#   CRUCIBLE_REHEARSAL=1 OUT=/tmp/rehearsal bash scripts/device-build-and-test.sh
set -uo pipefail
out=${OUT:-/tmp/crucible-device}
mkdir -p "$out"
: > "$out/phases.txt"
phase() {  # phase NAME COMMAND...: runs it, appends "NAME SECONDS EXIT" to phases.txt
  local name=$1 start=$SECONDS status
  shift
  "$@"
  status=$?
  echo "$name $((SECONDS - start)) $status" >> "$out/phases.txt"
  return $status
}

if [ "${CRUCIBLE_REHEARSAL:-0}" = 1 ]; then
  build=build-wheel
  torch_root=$(bash scripts/fetch-torch-wheel.sh) || exit 1
  cmake_flags=(-DCMAKE_CUDA_ARCHITECTURES=90 -DCRUCIBLE_REQUIRE_CUDA=ON)
  scale=small
  machine="rehearsal: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) threads, no GPU"
else
  build=build-gpu
  deps="$PWD/.device-deps/usr"
  export LD_LIBRARY_PATH="$deps/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  # The torch root, not torch/share/cmake: with the latter, CMake can find
  # another LibTorch's libraries first.
  torch_root=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  torch_root="$deps;$torch_root"
  cmake_flags=(-DCMAKE_CUDA_ARCHITECTURES=90 -DCRUCIBLE_REQUIRE_CUDA=ON -DBLA_VENDOR=OpenBLAS
               "-DCMAKE_CXX_FLAGS=-I$deps/include")
  scale=full
  nvidia-smi > "$out/nvidia-smi.txt" 2>&1
  machine=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
fi

if ! phase configure cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_root" -DCRUCIBLE_BUILD_BENCHMARKS=ON "${cmake_flags[@]}" \
    > "$out/configure.log" 2>&1; then
  tail -40 "$out/configure.log"
  exit 1
fi
if ! phase build cmake --build "$build" -j "$(nproc)" --target crucible engine_tests core_tests \
    validator_tests engine_bench > "$out/build.log" 2>&1; then
  grep -E "error" "$out/build.log" | head -40
  exit 1
fi
# The C++ suites (the Python, bridge, container and fuzz tests need what the
# GPU machine lacks; the kernel-family runs are CPU checks made by make test).
phase ctest ctest --test-dir "$build" -E "^(python|bridge|docker|fuzz|engine\.kernels)\." \
  --output-on-failure -j "$(nproc)" > "$out/ctest.log" 2>&1
grep -E "tests passed|\(Failed\)|\(Timeout\)|Not Run" "$out/ctest.log" | tail -20

phase bench "$build/benchmarks/engine_bench" --record="$scale" --benchmark_filter='^record/' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json > "$out/bench.txt" 2>&1
phase record python3 benchmarks/record.py "$out/bench.json" --machine "$machine" \
  --out-json "$out/record.json" --out-md "$out/record.md"
cat "$out/record.md" 2>/dev/null
echo "phases (seconds, exit):"
cat "$out/phases.txt"
