#!/usr/bin/env bash
# The analysis commands on a shortened demo pipeline (stage 1 -> 3 -> 4):
#  - compare and odourants finish; every PNG decodes, has its planned size and is not blank; the console
#    prints both Pearson r and the reading; odourants creates EXP/figures/ when it is missing;
#  - a student trained from the teacher's own parameters (perturbation variance 0, factors 1) is the
#    teacher: its run on target run 1's input spikes gives exactly target run 1's spikes (learning r = 1),
#    while target run 2 (other input noise) differs;
#  - bad input (a run without final_state, a missing teacher file, a folder that is no run, missing
#    arguments) exits 2 with a message naming the file, and creates no output folder.
# Under the sanitizers (SNNFIT_SANITIZED=1) the identity check (a second compare through the same code,
# checked in the release pass) is left out and the students train 6 epochs.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sanitized=0
[ "${SNNFIT_SANITIZED:-0}" != 0 ] && sanitized=1

# shortened pipeline: 2 trials of 2 s of teacher data (odourants then runs 2 s: two 1 s windows),
# 20-epoch students
"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
sed -e 's/^duration = .*/duration = 2000.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    -e 's/^plot_size = .*/plot_size = 20/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail "teacher"
mk() { # mk OUT.toml [sed expressions...]
  local out=$1; shift
  sed -e "s/^epochs = .*/epochs = $([ $sanitized = 1 ] && echo 6 || echo 20)/" -e 's/^checkpoint_interval = .*/checkpoint_interval = 10/' \
      -e 's/^plot_interval = .*/plot_interval = 20/' -e 's/^plot_size = .*/plot_size = 5/' \
      "$@" parameters/demo-train-closed-loop.toml > "$out"
}
mk "$work/train.toml"
mk "$work/train-id.toml" -e 's/^weight_perturbation_variance = .*/weight_perturbation_variance = 0.0/'
"$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/student" --quiet > /dev/null || fail "train"
[ $sanitized = 0 ] && { "$SNNFIT" train "$work/train-id.toml" -i "$work/teacher" -o "$work/student-id" --quiet > /dev/null || fail "train (identity)"; }

# ---- compare
"$SNNFIT" compare "$work/student" "$work/cmp" "$work/teacher.toml" --quiet > "$work/cmp.log" 2>&1 \
  || { cat "$work/cmp.log"; fail "compare"; }
grep -q "^Poisson variability (target run 1 vs run 2): r = 0\.[0-9]" "$work/cmp.log" || fail "no Poisson r printed"
grep -q "^Learning variability (target vs trained): *r = [0-9]\.[0-9]" "$work/cmp.log" || fail "no learning r printed"
grep -q "^Reading: learning variability r=.* vs Poisson variability r=" "$work/cmp.log" || fail "no reading printed"
grep -q "windows of 10.00 s (2 windows)" "$work/cmp.log" || fail "compare should run two 10 s windows"
"$PY" tests/py/png_check.py \
  "$work/cmp/firing_rate_correlogram.png:2100x1050" \
  "$work/cmp/spike_raster_comparison.png:2100x1200:FF0000,0000FF" \
  "$work/cmp/connectivity_dashboard_target.png:2400x1600:FDE725" \
  "$work/cmp/connectivity_dashboard_trained.png:2400x1600:FDE725" \
  "$work/cmp/activity_dashboard_target.png:2400x1600:FF0000,0000FF" \
  "$work/cmp/activity_dashboard_trained.png:2400x1600:FF0000,0000FF" > /dev/null || fail "compare figures"
# figures, the spikes file and the teacher parameters used (the temporary traces are removed)
cmp -s "$work/teacher.toml" "$work/cmp/parameters.toml" || fail "compare did not copy TEACHER.toml to OUT/parameters.toml"
[ "$(ls -A "$work/cmp" | wc -l)" -eq 8 ] || { ls -A "$work/cmp"; fail "unexpected files in the compare folder"; }
echo "ok   compare: correlogram, raster, 4 dashboards, both r and the reading"

# ---- identity: a student that is the teacher (release pass only: the same code as above)
if [ $sanitized = 0 ]; then
"$SNNFIT" compare "$work/student-id" "$work/cmp-id" "$work/teacher.toml" --quiet > "$work/cmp-id.log" 2>&1 \
  || { cat "$work/cmp-id.log"; fail "compare (identity)"; }
grep -q "^Learning variability (target vs trained): *r = 1.000$" "$work/cmp-id.log" || fail "identity: learning r is not 1"
"$PY" - "$work/cmp-id/compare_spikes.npz" <<'EOF' || fail "identity: trained spikes differ from target run 1"
import sys
import numpy as np
z = np.load(sys.argv[1])
t1, t2, tr = z["target_run1"], z["target_run2"], z["trained"]
assert t1.dtype == bool and t1.shape == tr.shape == t2.shape, (t1.dtype, t1.shape, tr.shape)
assert t1.shape[0] == 20000 and int(z["window_steps"]) == 10000, (t1.shape, z["window_steps"])
assert t1.sum() > 0, "no spikes at all"
assert np.array_equal(t1, tr), f"{int((t1 != tr).sum())} spikes differ"
assert not np.array_equal(t1, t2), "run 2 should see other input noise"
assert float(z["learning_r"]) == 1.0, float(z["learning_r"])
assert 0 < float(z["poisson_r"]) < 1, float(z["poisson_r"])
print(f"identity: {int(t1.sum())} spikes equal, poisson r {float(z['poisson_r']):.4f}")
EOF
echo "ok   compare: a student at the teacher's parameters reproduces target run 1 exactly (learning r = 1)"
fi

# ---- odourants (EXP/figures/ is created when missing)
rm -rf "$work/teacher/figures"
"$SNNFIT" odourants "$work/teacher" --quiet > "$work/odo.log" 2>&1 || { cat "$work/odo.log"; fail "odourants"; }
grep -q "^Odourant 1 vs baseline: r = 0\.[0-9]*; odourant 1 vs odourant 1 (other noise): r = 0\.[0-9]" "$work/odo.log" \
  || fail "odourants: no r printed"
grep -q "windows of 1.00 s (2 windows)" "$work/odo.log" || fail "odourants: the window should be half of the 2 s run"
"$PY" tests/py/png_check.py \
  "$work/teacher/figures/input_firing_rates_histogram.png:1200x900" \
  "$work/teacher/figures/odourant_vs_baseline_correlogram.png:2400x900" > /dev/null || fail "odourants figures"
[ "$(ls -A "$work/teacher/figures" | wc -l)" -eq 2 ] || fail "unexpected files in the figures folder"
echo "ok   odourants: histogram and correlogram in EXP/figures/"

# ---- bad input: exit 2, a message naming the file, no output folder
expect2() { # expect2 NAME NEEDLE CMD...
  local name=$1 needle=$2; shift 2
  "$@" > "$work/bad.out" 2> "$work/bad.err"
  local rc=$?
  [ $rc -eq 2 ] || { cat "$work/bad.err"; fail "$name: exit $rc, expected 2"; }
  grep -qF -- "$needle" "$work/bad.err" || { cat "$work/bad.err"; fail "$name: message does not name $needle"; }
}
cp -r "$work/student" "$work/unfinished"
rm -rf "$work/unfinished/final_state"
expect2 "no final_state" "$work/unfinished/final_state/network_structure.npz" \
  "$SNNFIT" compare "$work/unfinished" "$work/bad1" "$work/teacher.toml"
[ ! -e "$work/bad1" ] || fail "compare created its output folder on bad input"
expect2 "missing teacher file" "$work/nope.toml" "$SNNFIT" compare "$work/student" "$work/bad2" "$work/nope.toml"
[ ! -e "$work/bad2" ] || fail "compare created its output folder on bad input"
expect2 "a stage-3 folder given to compare" "$work/teacher/final_state/network_structure.npz" \
  "$SNNFIT" compare "$work/teacher" "$work/bad3" "$work/teacher.toml"
expect2 "compare without arguments" "usage: snnfit compare" "$SNNFIT" compare "$work/student"
mkdir "$work/empty"
expect2 "odourants on a folder without parameters" "$work/empty/parameters.toml" "$SNNFIT" odourants "$work/empty"
expect2 "odourants on a stage-1 folder" "$work/net is a stage-1 (connectome) run, not a stage-3" "$SNNFIT" odourants "$work/net"
expect2 "odourants on a stage-4 folder" "$work/student is a stage-4 (training) run, not a stage-3" \
  "$SNNFIT" odourants "$work/student"
expect2 "odourants on a missing folder" "$work/none" "$SNNFIT" odourants "$work/none"
expect2 "odourants without arguments" "usage: snnfit odourants" "$SNNFIT" odourants
echo "ok   bad input exits 2 naming the file"
echo "analysis OK"
