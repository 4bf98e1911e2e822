#!/usr/bin/env bash
# MPI data parallelism for training (docs/parallel.md): `train` closed loop (Adam, accumulation windows,
# the fixed evaluation, the van Rossum loss) and teacher forced (L-BFGS with its fit report's curvature
# and bias-check refit; Adam), and `homeostatic` (rate, CV, silent-neuron, membrane-variance and
# weight-ratio losses) under mpirun with 2 and 3 ranks on localhost write the same bytes as one process
# (metrics, checkpoints, initial and final state, fit report; not tensorboard/ and wandb/, whose events
# carry wall-clock times); a run stopped under 2 ranks and resumed under 3 (and the other way) ends with
# the same bytes; a bad input on one rank ends every rank with exit status 2, quickly; what runs on one
# rank only (training the weights themselves) is refused before anything is written. Skipped (exit 77) when
# mpirun is missing or snnfit was built without MPI (the sanitizer build is: see CMakeLists.txt).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}"
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
export OMP_NUM_THREADS=1
same() { diff -r -x tensorboard -x wandb "$1" "$2" > "$work/diff.log" || { head "$work/diff.log"; fail "$3"; }; }

# --- a small network and a teacher of 5 trials (blocks of 3, 2 on two ranks; 2, 2, 1 on three)
"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
sed -e 's/^duration = .*/duration = 1200.0/' -e 's/^batch_size = .*/batch_size = 5/' \
    parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null 2>&1 || fail "teacher"

# --- train, closed loop: 16 epochs over 12 chunks (the data wraps), a step every 3, checkpoints every 4
sed -e 's/^epochs = .*/epochs = 16/' -e 's/^accumulation_interval = .*/accumulation_interval = 3/' \
    -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' -e 's/^plot_interval = .*/plot_interval = 1000/' \
    -e 's/^plot_size = .*/plot_size = 3/' parameters/demo-train-closed-loop.toml > "$work/train.toml"
# train OUT [OPTION...] -- LAUNCHER...: the run into OUT, started by LAUNCHER (snnfit, or mpirun ... snnfit)
train() { local out=$1; shift; local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  "$@" train "$work/train.toml" -i "$work/teacher" -o "$out" --quiet --no-wandb "${opts[@]}"; }
train "$work/c1" -- "$SNNFIT" > "$work/c1.log" 2>&1 || { cat "$work/c1.log"; fail "train, one process"; }
for k in 2 3; do
  train "$work/c$k" -- "${MPIRUN[@]}" -np $k "$SNNFIT" > "$work/c$k.log" 2>&1 || { cat "$work/c$k.log"; fail "train -np $k"; }
  grep -q "^MPI: $k ranks, each training" "$work/c$k.log" || { cat "$work/c$k.log"; fail "train -np $k did not run on $k ranks"; }
  [ "$(grep -c '^Timing:' "$work/c$k.log")" -eq 1 ] || fail "train -np $k: the console is not written once (rank 0 only)"
  same "$work/c1" "$work/c$k" "train -np $k differs from one process"
done
for f in training_metrics.csv checkpoints/checkpoint_latest.npz checkpoints/checkpoint_best.npz \
         final_state/network_structure.npz final_state/fit_report.json; do
  [ -s "$work/c3/$f" ] || fail "train -np 3 did not write $f"
done
# stopped under 2 ranks, resumed under 3
train "$work/cr" --stop-after 5 -- "${MPIRUN[@]}" -np 2 "$SNNFIT" > "$work/cr.log" 2>&1 || { cat "$work/cr.log"; fail "train -np 2 --stop-after 5"; }
grep -q "Stopped at epoch 5" "$work/cr.log" || { cat "$work/cr.log"; fail "train -np 2 did not stop at epoch 5"; }
"${MPIRUN[@]}" -np 3 "$SNNFIT" resume "$work/cr" --quiet --no-wandb > "$work/cr2.log" 2>&1 || { cat "$work/cr2.log"; fail "resume -np 3"; }
same "$work/c1" "$work/cr" "train stopped under -np 2 and resumed under -np 3 differs from the straight run"
echo "ok   train (closed loop): -np 2 and -np 3 write the same bytes as one process; stopped under 2 ranks, resumed under 3: the same"

# --- homeostatic: 12 iterations of 5 trials, a step every 3, checkpoints every 4, a row every 2
sed -e 's/^duration = .*/duration = 1200.0/' -e 's/^batch_size = .*/batch_size = 5/' \
    -e 's/^chunks_per_update = .*/chunks_per_update = 3/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' \
    -e 's/^log_interval = .*/log_interval = 2/' -e 's/^plot_interval = .*/plot_interval = 1000/' \
    -e 's/^plot_size = .*/plot_size = 3/' parameters/demo-homeostatic.toml > "$work/hp.toml"
homeo() { local out=$1; shift; local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  "$@" homeostatic "$work/hp.toml" -o "$out" --quiet --no-wandb "${opts[@]}"; }
homeo "$work/h1" -- "$SNNFIT" > "$work/h1.log" 2>&1 || { cat "$work/h1.log"; fail "homeostatic, one process"; }
for k in 2 3; do
  homeo "$work/h$k" -- "${MPIRUN[@]}" -np $k "$SNNFIT" > "$work/h$k.log" 2>&1 || { cat "$work/h$k.log"; fail "homeostatic -np $k"; }
  grep -q "^MPI: $k ranks, each training" "$work/h$k.log" || { cat "$work/h$k.log"; fail "homeostatic -np $k did not run on $k ranks"; }
  same "$work/h1" "$work/h$k" "homeostatic -np $k differs from one process"
done
homeo "$work/hr" --stop-after 5 -- "${MPIRUN[@]}" -np 3 "$SNNFIT" > "$work/hr.log" 2>&1 || { cat "$work/hr.log"; fail "homeostatic -np 3 --stop-after 5"; }
"${MPIRUN[@]}" -np 2 "$SNNFIT" resume "$work/hr" --quiet --no-wandb > "$work/hr2.log" 2>&1 || { cat "$work/hr2.log"; fail "resume -np 2"; }
same "$work/h1" "$work/hr" "homeostatic stopped under -np 3 and resumed under -np 2 differs from the straight run"
echo "ok   homeostatic: -np 2 and -np 3 write the same bytes as one process; stopped under 3 ranks, resumed under 2: the same"

# --- a bad input on one rank (mpirun's MPMD form gives rank 1 another parameter file): exit status 2
# on every rank, one message naming it and the rank, nothing written, and quickly
sed 's/^\[training\]/[trainig]/' "$work/train.toml" > "$work/bad.toml"
expect_rank_failure "$work/bad.log" "^error: .*bad.toml:.*(on MPI rank 1 of 2)" \
  -np 1 "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/bad" --quiet : \
  -np 1 "$SNNFIT" train "$work/bad.toml" -i "$work/teacher" -o "$work/bad" --quiet
# a missing teacher folder on the last of three ranks
expect_rank_failure "$work/bad2.log" "noteacher.*(on MPI rank 2 of 3)" \
  -np 2 "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/bad" --quiet : \
  -np 1 "$SNNFIT" train "$work/train.toml" -i "$work/noteacher" -o "$work/bad" --quiet
echo "ok   a bad input on one rank: exit status 2 on every rank within ${elapsed} s, one message naming it and the rank"

# --- teacher forcing (L-BFGS: the line search, the fit report's curvature and its bias-check refit;
# Adam: chunks, the fixed evaluation): -np 2 and -np 3 write the same bytes as one process
sed -e 's/^epochs = .*/epochs = 6/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 2/' \
    parameters/demo-train.toml > "$work/forced.toml"
forced() { local toml=$1 out=$2; shift 2; local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  "$@" train "$toml" -i "$work/teacher" -o "$out" --quiet --no-wandb "${opts[@]}"; }
forced "$work/forced.toml" "$work/f1" -- "$SNNFIT" > "$work/f1.log" 2>&1 || { cat "$work/f1.log"; fail "teacher-forced train, one process"; }
grep -q "Bias check" "$work/f1.log" || { cat "$work/f1.log"; fail "the teacher-forced run did no bias check"; }
for k in 2 3; do
  forced "$work/forced.toml" "$work/f$k" -- "${MPIRUN[@]}" -np $k "$SNNFIT" > "$work/f$k.log" 2>&1 || { cat "$work/f$k.log"; fail "teacher-forced train -np $k"; }
  grep -q "^MPI: $k ranks, each training" "$work/f$k.log" || { cat "$work/f$k.log"; fail "teacher-forced train -np $k did not run on $k ranks"; }
  same "$work/f1" "$work/f$k" "teacher-forced train (L-BFGS) -np $k differs from one process"
done
for f in training_metrics.csv checkpoints/checkpoint_latest.npz checkpoints/checkpoint_best.npz \
         final_state/fit_report.json final_state/fit_report.csv; do
  [ -s "$work/f3/$f" ] || fail "teacher-forced train -np 3 did not write $f"
done
grep -q '"bias' "$work/f3/final_state/fit_report.json" || fail "the fit report of -np 3 has no bias check"
forced "$work/forced.toml" "$work/fr" --stop-after 3 -- "${MPIRUN[@]}" -np 2 "$SNNFIT" > "$work/fr.log" 2>&1 || { cat "$work/fr.log"; fail "teacher-forced train -np 2 --stop-after 3"; }
grep -q "Stopped at epoch 3" "$work/fr.log" || { cat "$work/fr.log"; fail "teacher-forced train -np 2 did not stop at epoch 3"; }
"${MPIRUN[@]}" -np 3 "$SNNFIT" resume "$work/fr" --quiet --no-wandb > "$work/fr2.log" 2>&1 || { cat "$work/fr2.log"; fail "teacher-forced resume -np 3"; }
same "$work/f1" "$work/fr" "teacher-forced train stopped under -np 2 and resumed under -np 3 differs from the straight run"
echo "ok   teacher-forced train (L-BFGS): -np 2 and -np 3 write the same bytes as one process; stopped under 2 ranks, resumed under 3: the same"
# Adam: 14 chunks of 100 steps (the data wraps at 12), a step every 2 and the fixed evaluation of 2 chunks
sed -e 's/^optimiser = .*/optimiser = "adam"/' -e 's/^epochs = .*/epochs = 14/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' \
    -e 's/^\[simulation\]/[simulation]\naccumulation_interval = 2/' -e 's/^\[training\]/[training]\neval_chunks = 2/' \
    -e 's/^\[hyperparameters\]/[hyperparameters]\nlearning_rate = 0.01/' parameters/demo-train.toml > "$work/forced-adam.toml"
forced "$work/forced-adam.toml" "$work/a1" -- "$SNNFIT" > "$work/a1.log" 2>&1 || { cat "$work/a1.log"; fail "teacher-forced Adam train, one process"; }
forced "$work/forced-adam.toml" "$work/a3" -- "${MPIRUN[@]}" -np 3 "$SNNFIT" > "$work/a3.log" 2>&1 || { cat "$work/a3.log"; fail "teacher-forced Adam train -np 3"; }
same "$work/a1" "$work/a3" "teacher-forced train (Adam) -np 3 differs from one process"
echo "ok   teacher-forced train (Adam): -np 3 writes the same bytes as one process"

# a corrupt chunk in the data the last of three ranks reads (its copy of the teacher): every rank stops
# with exit status 2 and that rank's message, before anything is written
cp -r "$work/teacher" "$work/tbad"
/usr/bin/python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[16:] = b"\xff" * (len(b) - 16); open(p, "wb").write(b)' \
  "$work/tbad/results/spike_data.zarr/output_spikes/0.11.0"
start=$(date +%s)
"${MPIRUN[@]}" -np 2 "$SNNFIT" train "$work/forced.toml" -i "$work/teacher" -o "$work/bad3" --quiet : \
  -np 1 "$SNNFIT" train "$work/forced.toml" -i "$work/tbad" -o "$work/bad3" --quiet > "$work/bad3.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/bad3.log"; fail "a corrupt chunk on rank 2 gave exit status $rc, expected 2"; }
grep -q "^error: .*tbad.*chunk 0.11.0.*(on MPI rank 2 of 3)" "$work/bad3.log" || { cat "$work/bad3.log"; fail "no message naming the corrupt chunk and the rank"; }
[ ! -e "$work/bad3" ] || fail "a corrupt chunk on one rank left an output folder"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the failing teacher-forced job took too long"
echo "ok   teacher-forced train with a corrupt chunk on rank 2 of 3: exit status 2 on every rank, its message, nothing written"

# --- training the weights themselves runs on one rank only: refused, with the reason, before anything
# is written
sed -e 's/^optimisable = .*/optimisable = "weights"/' "$work/forced.toml" > "$work/weights.toml"
"${MPIRUN[@]}" -np 2 "$SNNFIT" train "$work/weights.toml" -i "$work/teacher" -o "$work/w2" --quiet > "$work/w2.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/w2.log"; fail "weights-mode train under -np 2 gave exit status $rc, expected 2"; }
grep -q "optimisable = \"weights\").* runs on one rank only" "$work/w2.log" || { cat "$work/w2.log"; fail "no reason given"; }
[ ! -e "$work/w2" ] || fail "the refused weights-mode run wrote its output folder"
echo "ok   weights-mode train under -np 2 is refused with exit status 2 before anything is written"
