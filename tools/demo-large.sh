#!/usr/bin/env bash
# `make demo-large`: the pipeline at 100,000 neurons and about 10 million recurrent synapses (plus 2
# million feedforward), with the time and peak memory of each stage:
#   stage 1 (parameters/large-connectome.toml, written sparse) -> stage 3 (large-teacher.toml: 10
#   trials x 1 s) -> stage 4 (large-train.toml: 3 closed-loop iterations of 10 trials x 200 steps)
# It takes several minutes on two cores and about 4 GB of memory at its peak (stage 4); the output
# folder takes about 0.7 GB. Not part of `make demo`.
# usage: tools/demo-large.sh [OUTPUT_DIR]   (SNNFIT=path/to/snnfit, default build/snnfit)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-large-output}
SNNFIT=${SNNFIT:-build/snnfit}
rm -rf "$OUT"
mkdir -p "$OUT"

banner() { printf '\n==== %s ====\n' "$*"; }
summary=()
# run NAME LOG COMMAND...: runs a stage, keeps its console in LOG, notes its wall time and peak memory
run() {
  local name=$1 log=$2
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$@" --quiet 2>&1 | tee "$log"
  t1=$(date +%s.%N)
  local peak
  peak=$(grep -o 'peak memory [0-9.]* MiB\|Peak memory: [0-9.]* MiB' "$log" | tail -1 | grep -o '[0-9.]* MiB' || echo "?")
  summary+=("$(awk -v n="$name" -v a="$t0" -v b="$t1" -v p="$peak" 'BEGIN {printf "%-30s %8.1f s   peak %s", n, b - a, p}')")
}

banner "Stage 1: a 100,000-neuron connectome, written sparse (parameters/large-connectome.toml)"
run "stage 1 (connectome)" "$OUT/connectome.log" "$SNNFIT" connectome parameters/large-connectome.toml -o "$OUT/1-connectome"
banner "Stage 3: teacher activity, 10 trials x 1 s (parameters/large-teacher.toml)"
run "stage 3 (10 trials x 1 s)" "$OUT/teacher.log" "$SNNFIT" teacher parameters/large-teacher.toml -i "$OUT/1-connectome" -o "$OUT/3-teacher"
banner "Stage 4: 3 closed-loop iterations of 10 trials x 200 steps (parameters/large-train.toml)"
run "stage 4 (3 iterations)" "$OUT/train.log" "$SNNFIT" train parameters/large-train.toml -i "$OUT/3-teacher" -o "$OUT/4-student"

banner "Summary"
grep -h "Generated\|Memory:\|Timing:" "$OUT"/connectome.log "$OUT"/teacher.log "$OUT"/train.log || true
printf '%s\n' "${summary[@]}"
du -sh "$OUT"
