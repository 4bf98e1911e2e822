#!/usr/bin/env bash
# Benchmarks at Dp scale. Prints seconds, trial-steps per second and peak memory, for 1 and 2 threads.
# Results go to bench-output/ (not committed).
#   teacher: stage 3, 50 trials x 10 s of teacher activity on the Dp-scale network
#   engine:  the simulator alone on the store's inputs (snnfit-engine-bench): one trial on 1 and 2
#            threads (the trial split across them), and the taped forward and reverse pass of a chunk
#   train:   stage-4 iterations of 50 trials x 200 steps with exact gradients (bench/dp-train.toml),
#            and their cost per trial-step against the forward's
#   forced:  teacher forcing: one loss-and-gradient evaluation against a plain forward pass (bench/forced_eval.c)
#   mpi:     stage 3 on 1 and 2 ranks of one thread each (OMP_NUM_THREADS=1 mpirun -np K): parallel
#            efficiency and communication time; the two stores must be byte-identical
#   mpi-train: stage-4 iterations (bench/dp-train.toml) on 1 and 2 ranks of one thread each: parallel
#            efficiency per iteration and rank 0's time in MPI calls per iteration; the metrics and
#            checkpoints must be byte-identical
# BENCH_SECTIONS (default "teacher engine train forced mpi mpi-train") chooses what runs; engine, forced
# and mpi-train need the teacher section's store.
set -euo pipefail
cd "$(dirname "$0")/.."
SNNFIT=${SNNFIT:-build/snnfit}
ENGINE=${ENGINE:-$(dirname "$SNNFIT")/snnfit-engine-bench}
OUT=${BENCH_OUT:-bench-output}
REPEATS=${BENCH_REPEATS:-3}
SECTIONS=${BENCH_SECTIONS:-teacher engine train forced mpi mpi-train}
section() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "snnfit: $($SNNFIT --version)"

if [ ! -f "$OUT/dp-network/network_structure.npz" ]; then
  echo "generating the Dp-scale network (bench/dp-network.toml) ..."
  $SNNFIT connectome bench/dp-network.toml -o "$OUT/dp-network" --overwrite --quiet > "$OUT/connectome.log"
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

if section teacher; then
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
fi

if section engine; then
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
fi

if section train; then
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

fi

if section forced; then
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
fi

if section mpi; then
echo
echo "== MPI: stage 3, 50 trials x 10 s, on 1 and 2 ranks of one thread each (OMP_NUM_THREADS=1 mpirun -np K) =="
if ! command -v mpirun > /dev/null || ! $SNNFIT --version | grep -q '^MPI: built in'; then
  echo "skipped: no mpirun, or snnfit built without MPI"
else
  mpiflags=()
  [ "$(id -u)" = 0 ] && mpiflags+=(--allow-run-as-root)
  : > "$OUT/teacher-mpi1.times"
  : > "$OUT/teacher-mpi2.times"
  # -np 1 and -np 2 alternate, so that both see the same load on a shared machine
  for r in $(seq "$REPEATS"); do
    for np in 1 2; do
      t0=$(date +%s.%N)
      OMP_NUM_THREADS=1 mpirun "${mpiflags[@]}" -np $np $SNNFIT teacher parameters/generate-teacher-activity.toml \
        -i "$OUT/dp-network" -o "$OUT/teacher-mpi$np" --overwrite --quiet > "$OUT/teacher-mpi$np.log"
      t1=$(date +%s.%N)
      # simulation wall time (Timing:), the whole command's, the simulation's CPU time on the busiest
      # rank, and the MPI waits (MPI timing:)
      sim=$(awk '/^Timing:/ {print $2}' "$OUT/teacher-mpi$np.log")
      cpu=$(awk '/^CPU time of the simulation:/ {print $6}' "$OUT/teacher-mpi$np.log")
      wait=$(awk '/^MPI timing:/ {for(i=1;i<=NF;i++) if($i=="end") print $(i+1)}' "$OUT/teacher-mpi$np.log")
      comm=$(awk '/^MPI timing:/ {for(i=1;i<=NF;i++) if($i=="counts") print $(i+1)}' "$OUT/teacher-mpi$np.log")
      total=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
      echo "np=$np: simulation $sim s (CPU $cpu s on the busiest rank), whole command $total s, waiting ${wait:-0} s, exchanging ${comm:-0} s, load $(cut -d' ' -f1 /proc/loadavg)"
      echo "$sim $total ${cpu:-0} ${wait:-0} ${comm:-0}" >> "$OUT/teacher-mpi$np.times"
    done
  done
  for np in 1 2; do
    sim=$(awk '{print $1}' "$OUT/teacher-mpi$np.times" | median)
    total=$(awk '{print $2}' "$OUT/teacher-mpi$np.times" | median)
    cpu=$(awk '{print $3}' "$OUT/teacher-mpi$np.times" | median)
    wait=$(awk '{print $4}' "$OUT/teacher-mpi$np.times" | median)
    comm=$(awk '{print $5}' "$OUT/teacher-mpi$np.times" | median)
    echo "np=$np median of $REPEATS: simulation ${sim} s (CPU ${cpu} s on the busiest rank), whole command ${total} s; waiting for the slowest rank ${wait} s, exchanging data ${comm} s"
    eval "sim_$np=$sim; total_$np=$total; cpu_$np=$cpu"
  done
  awk -v a="$sim_1" -v b="$sim_2" 'BEGIN {printf "parallel efficiency of the simulation on 2 ranks, wall time: %.2f (speed-up %.2fx)\n", a / (2 * b), a / b}'
  awk -v a="$cpu_1" -v b="$cpu_2" 'BEGIN {printf "parallel efficiency of the simulation on 2 ranks, CPU time of the busiest rank: %.2f (what a machine with a free core per rank would show)\n", a / (2 * b)}'
  awk -v a="$total_1" -v b="$total_2" 'BEGIN {printf "parallel efficiency of the whole command on 2 ranks: %.2f (speed-up %.2fx; loading, dashboards and figures are rank 0 only)\n", a / (2 * b), a / b}'
  if diff -r "$OUT/teacher-mpi1" "$OUT/teacher-mpi2" > /dev/null; then
    echo "outputs of -np 1 and -np 2 are byte-identical"
  else
    echo "ERROR: outputs of -np 1 and -np 2 differ"; exit 1
  fi
fi
fi

if section mpi-train; then
echo
echo "== MPI: stage 4, 50 trials x 200 steps per iteration (bench/dp-train.toml), on 1 and 2 ranks of one thread each =="
if ! command -v mpirun > /dev/null || ! $SNNFIT --version | grep -q '^MPI: built in'; then
  echo "skipped: no mpirun, or snnfit built without MPI"
else
  mpiflags=()
  [ "$(id -u)" = 0 ] && mpiflags+=(--allow-run-as-root)
  : > "$OUT/train-mpi1.times"
  : > "$OUT/train-mpi2.times"
  # alternating, so that both see the same load on a shared machine
  for r in $(seq "$REPEATS"); do
    for np in 1 2; do
      OMP_NUM_THREADS=1 mpirun "${mpiflags[@]}" -np $np $SNNFIT train bench/dp-train.toml -i "$OUT/teacher-2" \
        -o "$OUT/train-mpi$np" --overwrite --quiet --no-wandb > "$OUT/train-mpi$np.log"
      it=$(awk '/^Timing:/ {print $2}' "$OUT/train-mpi$np.log")
      # "MPI: K ranks, rank 0's trials A-B; rank 0 in MPI calls (waits and exchanges) S s per epoch"
      comm=$(awk '/^MPI: .*in MPI calls/ {for(i=1;i<=NF;i++) if($i=="exchanges)") print $(i+1)}' "$OUT/train-mpi$np.log")
      echo "$it ${comm:-0}" >> "$OUT/train-mpi$np.times"
    done
  done
  for np in 1 2; do
    it=$(awk '{print $1}' "$OUT/train-mpi$np.times" | median)
    comm=$(awk '{print $2}' "$OUT/train-mpi$np.times" | median)
    echo "-np $np median of $REPEATS: ${it} s per iteration, rank 0 in MPI calls ${comm} s per iteration"
    eval "it_mpi_$np=$it"
  done
  awk -v a="$it_mpi_1" -v b="$it_mpi_2" 'BEGIN {printf "parallel efficiency of a training iteration on 2 ranks: %.2f (speed-up %.2fx)\n", a / (2 * b), a / b}'
  if diff -r -x tensorboard -x wandb "$OUT/train-mpi1" "$OUT/train-mpi2" > /dev/null; then
    echo "outputs of -np 1 and -np 2 are byte-identical (tensorboard/ and wandb/ aside: wall-clock times)"
  else
    echo "ERROR: outputs of -np 1 and -np 2 differ"; exit 1
  fi
fi
fi
