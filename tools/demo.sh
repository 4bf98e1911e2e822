#!/usr/bin/env bash
# The demo pipeline on the small built-in network (parameters/demo-*.toml):
#   stage 1 (connectome) -> stage 3 (teacher activity)
# usage: tools/demo.sh [OUTPUT_DIR]   (SNNFIT=path/to/snnfit, default build/snnfit)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-output}
SNNFIT=${SNNFIT:-build/snnfit}
QUIET=""
[ -t 2 ] || QUIET="--quiet"
rm -rf "$OUT"
mkdir -p "$OUT"

banner() { printf '\n==== %s ====\n' "$*"; }

banner "Stage 1: connectome (parameters/demo-connectome.toml)"
"$SNNFIT" connectome parameters/demo-connectome.toml -o "$OUT/1-connectome" $QUIET

banner "Stage 3: teacher activity (parameters/demo-teacher.toml)"
"$SNNFIT" teacher parameters/demo-teacher.toml -i "$OUT/1-connectome" -o "$OUT/3-teacher" $QUIET | tee "$OUT/teacher.log"

banner "Summary"
cat <<TXT
Results are in $OUT/:
  $OUT/1-connectome/network_structure.npz      the connectome (numpy.load opens it)
  $OUT/1-connectome/network_statistics.csv     edges, degrees and weights per cell-type pair
  $OUT/1-connectome/activity_statistics.csv    rates, CVs and voltages of a short run per cell type
  $OUT/3-teacher/results/spike_data.zarr       teacher spikes, inputs and OU mixing weights
  $OUT/3-teacher/results/dashboard_traces.npz  trial 0's traces for the dashboards
Teacher firing rates:
$(grep -A 10 '^Teacher firing rates' "$OUT/teacher.log" | tail -n +2 | grep -E '^  ')
TXT
rm -f "$OUT/teacher.log"
