#!/usr/bin/env bash
# make bench-brian2: snnfit against Brian2's C++ standalone mode on the bench network and the same input
# spikes (trial 0 of the stage-3 store that bench/run.sh makes; made here if missing), with the same
# discrete model (bench/brian2_compare.py). Prints both simulators' time per trial-step (time loop only,
# minimum of BENCH_REPEATS runs) and their rates side by side. Needs Brian2 (python3-brian).
set -euo pipefail
cd "$(dirname "$0")/.."
SNNFIT=${SNNFIT:-build/snnfit}
ENGINE=${ENGINE:-$(dirname "$SNNFIT")/snnfit-engine-bench}
OUT=${BENCH_OUT:-bench-output}
mkdir -p "$OUT"
if [ ! -f "$OUT/dp-network/network_structure.npz" ]; then
  echo "generating the Dp-scale network (bench/dp-network.toml) ..."
  $SNNFIT connectome bench/dp-network.toml -o "$OUT/dp-network" --overwrite --quiet > "$OUT/connectome.log"
fi
store=""
for t in 2 1; do
  if [ -d "$OUT/teacher-$t/results/spike_data.zarr" ]; then store="$OUT/teacher-$t/results/spike_data.zarr"; break; fi
done
if [ -z "$store" ]; then
  echo "generating the stage-3 store (parameters/generate-teacher-activity.toml) ..."
  $SNNFIT teacher parameters/generate-teacher-activity.toml -i "$OUT/dp-network" -o "$OUT/teacher-2" --overwrite \
    --quiet > "$OUT/teacher-2.log"
  store="$OUT/teacher-2/results/spike_data.zarr"
fi
exec /usr/bin/python3 bench/brian2_compare.py --params parameters/generate-teacher-activity.toml \
  --network "$OUT/dp-network" --store "$store" --engine "$ENGINE" --steps "${BRIAN2_STEPS:-10000}" \
  --repeats "${BENCH_REPEATS:-3}" --threads "${BRIAN2_THREADS:-1,2}" --out "$OUT/brian2"
