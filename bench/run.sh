#!/usr/bin/env bash
# Benchmarks of SPEC section 13 (Dp scale). Prints seconds, trial-steps per second and peak memory,
# for 1 and 2 threads. Results go to bench-output/ (not committed).
#   stage 3: 50 trials x 10 s of teacher activity on the Dp-scale network
#   stage 4: training iterations of 50 trials x 200 steps with exact gradients (bench/dp-train.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
SNNFIT=${SNNFIT:-build/snnfit}
OUT=${BENCH_OUT:-bench-output}
REPEATS=${BENCH_REPEATS:-3}
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "snnfit: $($SNNFIT --version)"

if [ ! -f "$OUT/dp-network/network_structure.npz" ]; then
  echo "generating the Dp-scale network (bench/dp-network.toml) ..."
  $SNNFIT connectome bench/dp-network.toml -o "$OUT/dp-network" --overwrite --quiet > "$OUT/connectome.log"
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
echo "== stage 3: teacher activity, 50 trials x 10 s (parameters/generate-teacher-activity.toml) =="
for threads in 1 2; do
  : > "$OUT/teacher-$threads.times"
  for r in $(seq "$REPEATS"); do
    OMP_NUM_THREADS=$threads $SNNFIT teacher parameters/generate-teacher-activity.toml \
      -i "$OUT/dp-network" -o "$OUT/teacher-$threads" --overwrite --quiet > "$OUT/teacher-$threads.log"
    grep '^Timing:' "$OUT/teacher-$threads.log" | tee -a "$OUT/teacher-$threads.times"
  done
  # "Timing: W s for N trial-steps (R trial-steps/s), peak memory M MiB"
  wall=$(awk '{print $2}' "$OUT/teacher-$threads.times" | median)
  tps=$(awk '{gsub(/\(/, "", $7); print $7}' "$OUT/teacher-$threads.times" | median)
  rss=$(awk '{print $(NF-1)}' "$OUT/teacher-$threads.times" | median)
  echo "threads=$threads median of $REPEATS: wall ${wall} s, ${tps} trial-steps/s, peak ${rss} MiB"
  eval "wall_$threads=$wall"
done
awk -v a="$wall_1" -v b="$wall_2" 'BEGIN {printf "speed-up from the second thread: %.2fx\n", a / b}'

echo
echo "== stage 4: training, 50 trials x 200 steps per iteration, exact gradients (bench/dp-train.toml) =="
for threads in 1 2; do
  : > "$OUT/train-$threads.times"
  for r in $(seq "$REPEATS"); do
    OMP_NUM_THREADS=$threads $SNNFIT train bench/dp-train.toml -i "$OUT/teacher-2" -o "$OUT/train-$threads" \
      --overwrite --quiet > "$OUT/train-$threads.log"
    grep '^Timing:' "$OUT/train-$threads.log" | tee -a "$OUT/train-$threads.times"
  done
  # "Timing: S s per epoch over K epochs (R trial-steps/s), peak memory M MiB, BPTT memory B MiB per trial-step"
  it=$(awk '{print $2}' "$OUT/train-$threads.times" | median)
  rss=$(awk '{for(i=1;i<=NF;i++) if($i=="memory" && $(i-1)=="peak") print $(i+1)}' "$OUT/train-$threads.times" | median)
  per=$(awk '{for(i=1;i<=NF;i++) if($i=="BPTT") print $(i+2)}' "$OUT/train-$threads.times" | median)
  echo "threads=$threads median of $REPEATS: ${it} s per iteration, peak ${rss} MiB, BPTT ${per} MiB per trial-step"
  eval "it_$threads=$it"
done
awk -v a="$it_1" -v b="$it_2" 'BEGIN {printf "speed-up from the second thread: %.2fx\n", a / b}'

echo
echo "== teacher forcing: one loss-and-gradient evaluation against a plain forward pass of the same data =="
echo "   (10 trials x 2000 steps of the stage-3 data above; bench/forced_eval.c)"
BENCH_FORCED=${BENCH_FORCED:-$(dirname "$SNNFIT")/bench_forced_eval}
if [ -x "$BENCH_FORCED" ]; then
  for threads in 1 2; do
    echo "threads=$threads:"
    OMP_NUM_THREADS=$threads "$BENCH_FORCED" parameters/generate-teacher-activity.toml "$OUT/teacher-2/inputs/network_structure.npz" \
      "$OUT/teacher-2/results/spike_data.zarr" 10 2000 "$REPEATS" | sed 's/^/  /'
  done
else
  echo "($BENCH_FORCED not built: make bench builds it)"
fi
