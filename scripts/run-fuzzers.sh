#!/usr/bin/env bash
# Runs the libFuzzer targets that `make fuzz` built, one after another, each
# for SECONDS over a scratch copy of its seed corpus (tests/fuzz/corpus/<target>/,
# never written to), with its dictionary (tests/fuzz/<target>.dict) and an
# input size limit that suits it. New corpus entries, logs and crash inputs go
# to BUILD/fuzz-work/<target>/. Prints each target's executions and final
# corpus, writes the table to BUILD/fuzz-summary.txt, and exits non-zero when
# any target crashed (the crashing input is under BUILD/fuzz-work/<target>/).
#
# Usage: run-fuzzers.sh BUILD [SECONDS] [TARGET...]   (default: 60 s, every target)
set -uo pipefail

build=${1:?usage: run-fuzzers.sh BUILD [SECONDS] [TARGET...]}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
root=$(cd "$(dirname "$0")/.." && pwd)
sources=$root/tests/fuzz

# target:max_len in bytes (room for the largest seed and some growth).
all_targets=(npy:4096 safetensors:4096 native_model:16384 model_id:512 schedule:8192
  local_chain:4096 hub_file_list:4096)
selected=("$@")

work=$build/fuzz-work
summary=$build/fuzz-summary.txt
mkdir -p "$work"
printf '%-14s %8s %12s %15s %13s  %s\n' target seconds executions corpus_entries corpus_bytes \
  result >"$summary"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for entry in "${all_targets[@]}"; do
  target=${entry%%:*}
  max_len=${entry#*:}
  if [ ${#selected[@]} -gt 0 ] && [[ " ${selected[*]} " != *" $target "* ]]; then continue; fi
  binary=$build/tests/fuzz/${target}_fuzz
  if [ ! -x "$binary" ]; then
    echo "run-fuzzers: $binary is missing (run make fuzz)" >&2
    exit 2
  fi
  dir=$work/$target
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp "$sources/corpus/$target"/* "$dir/corpus/"
  dict=()
  [ -f "$sources/$target.dict" ] && dict=("-dict=$sources/$target.dict")

  echo "== $target: ${seconds} s, max_len $max_len"
  start=$(date +%s)
  "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/" "${dict[@]}" "$dir/corpus" \
    >"$dir/fuzz.log" 2>&1
  status=$?
  elapsed=$(($(date +%s) - start))

  executions=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$dir/fuzz.log" | tail -1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/fuzz.log" | tail -1)
  entries=$(sed -n 's/.* corp: \([0-9]*\)\/\([0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done_line")
  corpus_bytes=$(sed -n 's/.* corp: \([0-9]*\)\/\([0-9]*[a-zA-Z]*\).*/\2/p' <<<"$done_line")
  result=ok
  if [ "$status" -ne 0 ]; then
    result="CRASH (exit $status; input in $dir/crashes/, log $dir/fuzz.log)"
    failed+=("$target")
    tail -n 40 "$dir/fuzz.log"
  fi
  echo "   ${done_line:-no DONE line}"
  echo "   executions ${executions:-?}, corpus ${entries:-?} entries / ${corpus_bytes:-?}: $result"
  printf '%-14s %8s %12s %15s %13s  %s\n' "$target" "$elapsed" "${executions:-?}" \
    "${entries:-?}" "${corpus_bytes:-?}" "$result" >>"$summary"
done

echo "== summary ($summary)"
cat "$summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzzers: crashes in: ${failed[*]}" >&2
  exit 1
fi
