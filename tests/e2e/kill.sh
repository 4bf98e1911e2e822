#!/usr/bin/env bash
# SIGKILL at random moments of a small training run (issue 11): at least 30 kills at moments drawn
# from a fixed seed, plus kills aimed inside the final-state write (while .final_state.tmp.PID exists).
# After each kill the run is continued as a user would: `snnfit resume OUT`, or the same `snnfit
# train` command when it was killed before its first checkpoint. Every chain of kills must end with
# exactly the files of an uninterrupted run, byte for byte (metrics, checkpoints, targets, initial and
# final state, figures), except the TensorBoard and W&B logs, which carry wall-clock times.
# Timing-based and slow under the sanitizers: skipped there (SNNFIT_SANITIZED=1).
# KILL_TRAIN: the stage-4 file (default the closed-loop demo file: Adam, accumulation windows, van Rossum
# state); tests/e2e/kill_forced.sh runs the same with the teacher-forced demo file (L-BFGS state, fit
# report).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
if [ "${SNNFIT_SANITIZED:-0}" = 1 ]; then echo "skipped under the sanitizers"; exit 0; fi
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
MIN_KILLS=${KILL_TEST_KILLS:-30}
RANDOM=20240611  # the moments are drawn from a fixed seed

"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail connectome
sed 's/^duration = .*/duration = 1200.0/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail teacher
# 16 epochs over 12 chunks (the data wraps), a step every 3, checkpoints every 4, figures at 16
sed -e 's/^epochs = .*/epochs = 16/' -e 's/^accumulation_interval = .*/accumulation_interval = 3/' \
    -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' -e 's/^plot_interval = .*/plot_interval = 16/' \
    -e 's/^plot_size = .*/plot_size = 3/' "${KILL_TRAIN:-parameters/demo-train-closed-loop.toml}" > "$work/train.toml"
train() { "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$1" --quiet; }

t0=$(date +%s%N)
train "$work/straight" > /dev/null || fail "straight run"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "straight run: $ms ms"

# continue RUN after a kill: resume when it has a checkpoint, else the command that started it (the
# command line is put in cmd, to be started as the background process itself: a kill must reach it)
next_cmd() {
  if [ -e "$1/checkpoints/checkpoint_latest.npz" ]; then cmd=("$SNNFIT" resume "$1" --quiet)
  else cmd=("$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$1" --quiet); fi
}
next() {
  next_cmd "$1"
  "${cmd[@]}"
}

kills=0 final_kills=0 chains=0
check_chain() {
  chains=$((chains + 1))
  diff -r -x tensorboard -x wandb "$work/straight" "$1" > "$work/diff" || { head -20 "$work/diff"; fail "chain $chains differs from the straight run"; }
}

# chains of random kills: each run is killed at a random moment of its next attempt until it finishes
while [ $kills -lt "$MIN_KILLS" ]; do
  run="$work/run$chains"
  rm -rf "$run"
  for attempt in $(seq 60); do
    next_cmd "$run"
    "${cmd[@]}" > "$work/attempt.log" 2>&1 &
    pid=$!
    delay=$((RANDOM % (2 * ms / 3)))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL $pid 2> /dev/null
    wait $pid
    rc=$?
    if [ $rc -eq 137 ]; then
      kills=$((kills + 1))
    elif [ $rc -ne 0 ]; then
      cat "$work/attempt.log"; fail "attempt $attempt of chain $chains exited with $rc"
    else
      break  # finished before the kill
    fi
  done
  # a chain whose last attempt was killed finishes without interruption
  next "$run" > "$work/attempt.log" 2>&1 || { cat "$work/attempt.log"; fail "finishing chain $chains"; }
  check_chain "$run"
done

# kills inside the final-state write: wait for its temporary folder, then kill at once or a little later
for k in 0 20 60 150; do
  run="$work/final$k"
  rm -rf "$run"
  cp -r "$work/straight" "$run"
  # the run's state just before its final state: the last checkpoint with the final state not yet marked
  "$PY" - "$run/checkpoints/checkpoint_latest.npz" <<'PYEOF' || fail "preparing the final-state case"
import sys, numpy as np
p = sys.argv[1]
d = dict(np.load(p)); d["final_state_written"] = np.array(0, dtype=np.int64)
np.savez(p + ".tmp.npz", **d)
import os; os.replace(p + ".tmp.npz", p)
PYEOF
  rm -rf "$run/final_state"
  "$SNNFIT" resume "$run" --quiet > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 2000); do
    compgen -G "$run/.final_state.tmp.*" > /dev/null && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.002
  done
  [ $k -gt 0 ] && sleep "0.$(printf '%03d' $k)"
  kill -KILL $pid 2> /dev/null
  wait $pid
  rc=$?
  if [ $rc -eq 137 ]; then kills=$((kills + 1)); final_kills=$((final_kills + 1)); fi
  [ -e "$run/final_state" ] && [ $rc -eq 137 ] && [ ! -e "$run/final_state/figures/activity_dashboard.png" ] &&
    fail "a final_state/ without its figures exists after a kill"
  next "$run" > "$work/attempt.log" 2>&1 || { cat "$work/attempt.log"; fail "resume after a kill in the final state"; }
  check_chain "$run"
  compgen -G "$run/.final_state.tmp.*" > /dev/null && fail "a stale .final_state.tmp was left in $run"
done
[ $final_kills -ge 2 ] || fail "only $final_kills kills landed inside the final-state write"
echo "ok   $kills SIGKILLs ($final_kills inside the final-state write) over $chains chains: every chain resumed to the straight run's files, byte for byte"
