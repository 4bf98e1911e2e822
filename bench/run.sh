#!/usr/bin/env bash
# Benchmarks at Dp scale. Prints seconds, trial-steps per second and peak memory, for 1 and 2 threads.
# Results go to bench-output/ (not committed).
#   stage 3: 50 trials x 10 s of teacher activity on the Dp-scale network
#   engine:  the simulator alone on the store's inputs (snnfit-engine-bench): one trial on 1 and 2
#            threads (the trial split across them), and the taped forward and reverse pass of a chunk
#   stage 4: training iterations of 50 trials x 200 steps with exact gradients (bench/dp-train.toml),
#            and their cost per trial-step against the forward's
#   teacher forcing: one loss-and-gradient evaluation against a plain forward pass (bench/forced_eval.c)
set -euo pipefail
cd "$(dirname "$0")/.."
SNNFIT=${SNNFIT:-build/snnfit}
ENGINE=${ENGINE:-$(dirname "$SNNFIT")/snnfit-engine-bench}
OUT=${BENCH_OUT:-bench-output}
REPEATS=${BENCH_REPEATS:-3}
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
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
for threads in 1 2; do
  eval "w=\$wall_$threads"
  awk -v w="$w" -v t="$threads" 'BEGIN {printf "threads=%d: %.1f us per trial-step (%.1f per core)\n", t, w * 1e6 / 500000, w * 1e6 * t / 500000}'
done

echo
echo "== engine alone: 1 trial x 10000 steps of the store's inputs (time loop only, min of $REPEATS) =="
store="$OUT/teacher-2/results/spike_data.zarr"
for threads in 1 2; do
  OMP_NUM_THREADS=$threads $ENGINE parameters/generate-teacher-activity.toml "$OUT/dp-network" "$store" \
    --trials 1 --steps 10000 --repeats "$REPEATS" | grep -E '^forward|^spike hash' | sed "s/^/threads=$threads: /"
done
echo "== engine alone: 50 trials x 200 steps, taped forward and reverse pass (scaling factors, exact) =="
for threads in 1 2; do
  OMP_NUM_THREADS=$threads $ENGINE parameters/generate-teacher-activity.toml "$OUT/dp-network" "$store" \
    --trials 50 --steps 200 --repeats "$REPEATS" --backward | grep -E '^forward|^taped|^reverse' | sed "s/^/threads=$threads: /"
done

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
# an iteration is 50 x 200 trial-steps of forward, losses and reverse pass; stage 3 is 500000 of forward
for threads in 1 2; do
  eval "it=\$it_$threads; w=\$wall_$threads"
  awk -v it="$it" -v w="$w" -v t="$threads" 'BEGIN {printf "threads=%d: a training iteration costs %.1f us per trial-step, %.1fx stage 3 forward\n", t, it * 1e6 / 10000, (it / 10000) / (w / 500000)}'
done

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
