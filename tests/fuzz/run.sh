#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for FUZZ_SECONDS each (default 60), FUZZ_JOBS at a time
# (default 2), from the committed seed corpus tests/fuzz/corpus/<target>/ into a working corpus in the
# build folder; prints each target's executions and time, and fails on any finding (a crash, a leak,
# undefined behaviour, a timeout or running out of memory; the reproducer is left in the build folder).
set -uo pipefail
: "${FUZZ_BUILD:=build-fuzz}" "${FUZZ_SECONDS:=60}" "${FUZZ_JOBS:=2}"
src=$(cd "$(dirname "$0")" && pwd)
targets=(fuzz_toml fuzz_npz fuzz_zarr fuzz_checkpoint)
fuzz_one() {
  local t=$1 dir="$FUZZ_BUILD/fuzz-work/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  "$FUZZ_BUILD/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$src/corpus/$t" > "$dir/log" 2>&1
  local rc=$?
  local execs secs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$')
  secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$dir/log" | grep -o '[0-9]*$')
  if [ $rc -eq 0 ]; then
    echo "ok   $t: ${execs:-?} executions in ${FUZZ_SECONDS} s (${secs:-?}/s), no finding; corpus $(ls "$dir/corpus" | wc -l) inputs"
  else
    echo "FAIL $t (status $rc): see $dir/log and $dir/artifacts/"
    grep -m3 -E 'ERROR|SUMMARY|runtime error' "$dir/log"
  fi
  return $rc
}
failures=0
pids=()
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$FUZZ_JOBS" ]; then
    wait "${pids[0]}" || failures=$((failures + 1))
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failures=$((failures + 1)); done
[ $failures -eq 0 ]
