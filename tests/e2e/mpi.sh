#!/usr/bin/env bash
# MPI data parallelism (docs/parallel.md): `teacher` and `simulate` under mpirun with 2 and 3 ranks on
# localhost write the same bytes as one process (the whole output folder: the store's chunk files and
# metadata, traces, figures); a bad input on one rank ends every rank with exit status 2, quickly and
# with the message; a rank that aborts ends the job with its exit code; commands that do not run on
# several ranks refuse to. Skipped (exit 77) when mpirun is missing or snnfit was built without MPI
# (the sanitizer build is: see CMakeLists.txt).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
if ! command -v mpirun > /dev/null; then
  echo "SKIP: no mpirun (tools/install-deps.sh installs Open MPI)"; exit 77
fi
if ! "$SNNFIT" --version | grep -q '^MPI: built in'; then
  echo "SKIP: $SNNFIT was built without MPI ($("$SNNFIT" --version | grep '^MPI'))"; exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# every mpirun has a time limit: a hang is a failure, not a stuck test suite
MPIRUN=(timeout -k 5 60 mpirun --allow-run-as-root --oversubscribe)
. "$(dirname "$0")/lib/mpi_fail.sh"
par_check=${SNNFIT_BUILD_DIR:-build}/tests/par_check
export OMP_NUM_THREADS=1

# no file but the wrapper includes mpi.h
others=$(grep -rl '#include <mpi.h>' src | grep -v '^src/core/par.c$' || true)
[ -z "$others" ] || fail "mpi.h is included outside src/core/par.c: $others"

# --- the wrapper itself
"${MPIRUN[@]}" -np 3 "$par_check" data > "$work/data.log" 2>&1 || { cat "$work/data.log"; fail "par_check data, np 3"; }
"${MPIRUN[@]}" -np 3 "$par_check" sync 1 2 > "$work/sync.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/sync.log"; fail "a failed status sync on rank 1 gave exit status $rc, expected 2"; }
[ "$(grep -c 'status 2: rank 1 cannot go on' "$work/sync.log")" -eq 3 ] || { cat "$work/sync.log"; fail "not every rank got rank 1's status and message"; }
start=$(date +%s)
"${MPIRUN[@]}" -np 3 "$par_check" abort 2 3 > "$work/abort.log" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$work/abort.log"; fail "snn_par_abort(3) on rank 2 gave mpirun exit status $rc, expected 3"; }
grep -q 'this rank stops the job (on MPI rank 2 of 3' "$work/abort.log" || { cat "$work/abort.log"; fail "the aborting rank's message is missing"; }
! grep -q 'completed without rank' "$work/abort.log" || fail "a sync completed without the aborting rank"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the abort took more than 30 s"
echo "ok   par_check: data exchanges with 3 ranks; a failed sync gives every rank the status; MPI_Abort's code is mpirun's exit status"

# --- a small network; a teacher with 12 trials: store chunks of 5 trials, the last one partial
"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
sed -e 's/^duration = .*/duration = 500.0/' -e 's/^batch_size = .*/batch_size = 12/' -e 's/^plot_size = .*/plot_size = 3/' \
    parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/t1" --quiet > "$work/t1.log" 2>&1 || { cat "$work/t1.log"; fail "teacher, one process"; }
for k in 2 3; do
  "${MPIRUN[@]}" -np $k "$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/t$k" --quiet > "$work/t$k.log" 2>&1 \
    || { cat "$work/t$k.log"; fail "teacher under mpirun -np $k"; }
  grep -q "^MPI: $k ranks" "$work/t$k.log" || { cat "$work/t$k.log"; fail "teacher -np $k did not run on $k ranks"; }
  [ "$(grep -c '^Timing:' "$work/t$k.log")" -eq 1 ] || fail "teacher -np $k: the console is not written once (rank 0 only)"
  diff -r "$work/t1" "$work/t$k" > "$work/diff.log" || { head "$work/diff.log"; fail "teacher -np $k differs from one process"; }
done
n_chunks=$(ls "$work/t1/results/spike_data.zarr/output_spikes" | grep -vc '^\.')
[ "$n_chunks" -eq 15 ] || fail "expected 3 x 5 chunk files of output_spikes, found $n_chunks"
[ ! -e "$work/t2/results/.spike_data.zarr.tmp" ] || fail "the temporary store was left behind"
echo "ok   teacher: -np 2 and -np 3 write the same bytes as one process (store chunks and metadata, traces, figures)"

# --- simulate: Poisson inputs, and inputs read from the teacher's store; tracked trials on every rank
cp "$work/teacher.toml" "$work/sim.toml"
sed -i -e 's/^batch_size = .*/batch_size = 7/' -e 's/^duration = .*/duration = 300.0/' "$work/sim.toml"
printf '\n[feedforward.activity.mitral]\nfiring_rate = 6.0\n\n[tracking]\ntrials = [0, 4, 6]\nneurons = [0, 5, 100]\n' >> "$work/sim.toml"
"$SNNFIT" simulate "$work/sim.toml" -i "$work/net" -o "$work/s1" --quiet > /dev/null 2>&1 || fail "simulate, one process"
"$SNNFIT" simulate "$work/sim.toml" -i "$work/net" --inputs "$work/t1/results/spike_data.zarr" -o "$work/r1" --quiet \
  > /dev/null 2>&1 || fail "simulate on recorded inputs, one process"
# Poisson inputs on 3 ranks (trials 0-2, 3-4, 5-6), recorded inputs on 2 (0-3, 4-6)
"${MPIRUN[@]}" -np 3 "$SNNFIT" simulate "$work/sim.toml" -i "$work/net" -o "$work/s3" --quiet > "$work/s3.log" 2>&1 \
  || { cat "$work/s3.log"; fail "simulate under mpirun -np 3"; }
grep -q "^MPI: 3 ranks" "$work/s3.log" || { cat "$work/s3.log"; fail "simulate -np 3 did not run on 3 ranks"; }
cmp "$work/s1/simulation.npz" "$work/s3/simulation.npz" || fail "simulate -np 3: simulation.npz differs from one process"
"${MPIRUN[@]}" -np 2 "$SNNFIT" simulate "$work/sim.toml" -i "$work/net" --inputs "$work/t1/results/spike_data.zarr" \
  -o "$work/r2" --quiet > "$work/r2.log" 2>&1 || { cat "$work/r2.log"; fail "simulate on recorded inputs, -np 2"; }
cmp "$work/r1/simulation.npz" "$work/r2/simulation.npz" || fail "simulate -np 2 on recorded inputs differs from one process"
"$PY" - "$work/s1/simulation.npz" <<'PYEOF' || fail "simulation.npz content"
import sys, numpy as np
z = np.load(sys.argv[1])
assert z["output_spikes"].shape == (7, 300, 300) and z["output_spikes"][6].any(), "trial 6 has no spikes"
v = z["voltages"]
assert v.shape == (3, 300, 3) and (v[2] != 0).any(), "tracked trial 6 (the last rank's) has no voltages"
PYEOF
echo "ok   simulate: -np 3 (Poisson inputs) and -np 2 (recorded inputs) write the same simulation.npz as one process"

# --- a bad input on one rank (mpirun's MPMD form gives rank 1 another parameter file): exit status 2
# on every rank, the message, nothing written, and quickly
sed 's/^\[odours\]/[odors]/' "$work/teacher.toml" > "$work/bad.toml"
expect_rank_failure "$work/bad.log" "^error: .*bad.toml:.*unknown key 'odors'.*(on MPI rank 1 of 2)" \
  -np 1 "$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/bad" --quiet : \
  -np 1 "$SNNFIT" teacher "$work/bad.toml" -i "$work/net" -o "$work/bad" --quiet
# a missing input on one rank of three, for simulate
expect_rank_failure "$work/bad2.log" "nonet.*(on MPI rank 2 of 3)" \
  -np 2 "$SNNFIT" simulate "$work/sim.toml" -i "$work/net" -o "$work/bad" --quiet : \
  -np 1 "$SNNFIT" simulate "$work/sim.toml" -i "$work/nonet" -o "$work/bad" --quiet
echo "ok   a bad input on one rank: exit status 2 on every rank within ${elapsed} s, one message naming it and the rank"

# --- a command that does not run on several ranks says so
"${MPIRUN[@]}" -np 2 "$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/c2" --quiet > "$work/c2.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/c2.log"; fail "connectome under -np 2 gave exit status $rc, expected 2"; }
grep -q "does not run on several MPI ranks" "$work/c2.log" || fail "connectome under -np 2: no explanation"
[ ! -e "$work/c2" ] || fail "connectome under -np 2 wrote its output"
echo "ok   connectome under -np 2 is refused with exit status 2"
