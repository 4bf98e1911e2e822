#!/usr/bin/env bash
# Stage 4 with teacher forcing on the demo network: a full-batch L-BFGS fit recovers hidden scaling
# factors and writes its fit report (standard errors, closed-loop comparison); a run stopped mid-fit and
# resumed ends byte-identical to the straight run (L-BFGS memory in the checkpoint); Adam with teacher
# forcing resumes byte-identically too (stop inside an accumulation window); weights mode runs; a
# student at the teacher's own parameters reproduces every teacher spike.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
small=${SNNFIT_SANITIZED:-0}
[ "$small" = 0 ] || small=1

"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
dur=1200.0
[ "$small" = 1 ] && dur=600.0
sed "s/^duration = .*/duration = $dur/" parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail "teacher"

# teacher forcing with L-BFGS (parameters/demo-train.toml): 20 iterations at most (10 under the
# sanitizers: fewer leave the E factors too far off for the forced student to reproduce any E spike),
# a checkpoint every 2, figures at 6
epochs=20 stop=5
[ "$small" = 1 ] && epochs=10 && stop=3
mk() { # mk OUT.toml [sed expressions...]
  local out=$1; shift
  sed -e "s/^epochs = .*/epochs = $epochs/" -e 's/^checkpoint_interval = .*/checkpoint_interval = 2/' \
      -e 's/^plot_interval = .*/plot_interval = 6/' -e 's/^plot_size = .*/plot_size = 3/' \
      -e 's/^weight_perturbation_variance = .*/weight_perturbation_variance = 0.3/' \
      -e 's/^\[training\]/[training]\nchange_tolerance = 0.0\ngradient_tolerance = 0.0/' \
      "$@" parameters/demo-train.toml > "$out"
}
mk "$work/lbfgs.toml"
"$SNNFIT" train "$work/lbfgs.toml" -i "$work/teacher" -o "$work/straight" --quiet > "$work/straight.log" || { cat "$work/straight.log"; fail "L-BFGS run"; }
grep -q "FIT REPORT" "$work/straight.log" || fail "no fit report on the console"
"$SNNFIT" train "$work/lbfgs.toml" -i "$work/teacher" -o "$work/stopped" --quiet --stop-after $stop > /dev/null || fail "stopped run"
[ ! -e "$work/stopped/final_state" ] || fail "a stopped run wrote its final state"
"$SNNFIT" resume "$work/stopped" --quiet > /dev/null || fail "resume"
diff -r -x tensorboard -x wandb "$work/straight" "$work/stopped" || fail "straight and resumed L-BFGS runs differ"
echo "ok   L-BFGS stopped at epoch $stop (a checkpoint there) and resumed is byte-identical"

"$PY" - "$work/straight" "$small" "$work/teacher/results/spike_data.zarr" "$work/net/network_structure.npz" <<'PYEOF' || fail "fit report"
import csv, json, sys, numpy as np, zarr
run = sys.argv[1]
rep = json.load(open(f"{run}/final_state/fit_report.json"))
# the closed loop's teacher statistics, recomputed here from the store: rates and CVs per type
cl = rep["closed_loop"]
store = zarr.open(sys.argv[3], mode="r")
dt_s = float(store.attrs["dt"]) * 1e-3
spk = np.asarray(store["output_spikes"])[: cl["trials"], : cl["steps"]].astype(bool)
types = np.load(sys.argv[4])["cell_type_indices"]
for k, t in enumerate(("excitatory", "inhibitory")):
    sel = spk[:, :, types == k]
    rate = sel.sum() / (sel.shape[0] * sel.shape[2] * cl["steps"] * dt_s)
    cvs = []
    for b in range(sel.shape[0]):
        for j in range(sel.shape[2]):
            isi = np.diff(np.flatnonzero(sel[b, :, j]))
            if len(isi) >= 2:
                cvs.append(isi.std(ddof=1) / isi.mean())
    got = cl["types"][t]
    assert abs(got["rate_hz_teacher"] - rate) <= 1e-6 * max(rate, 1), (t, got, rate)
    assert (not cvs and got["cv_teacher"] is None) or abs(got["cv_teacher"] - np.mean(cvs)) <= 1e-9, (t, got, np.mean(cvs))
assert rep["method"] == "teacher_forced" and rep["optimiser"] == "lbfgs", rep
start, end = rep["mean_abs_log_error_initial"], rep["mean_abs_log_error"]
if sys.argv[2] == "0":
    assert end < 0.25 * start and end < 0.1, (start, end)
else:  # ten iterations under the sanitizers (600 ms of data)
    assert end < 0.7 * start, (start, end)
for f in rep["factors"]:
    assert f["standard_error_log"] is not None and 0 < f["standard_error_log"] < 0.5, f
assert abs(sum(c * c for c in rep["sloppiest_direction"]["components"].values()) - 1) < 1e-9
for t in ("excitatory", "inhibitory"):
    assert 0 < rep["forced_replay"]["reproduced_fraction"][t] <= 1
    assert rep["closed_loop"]["types"][t]["rate_hz_teacher"] > 0
rows = list(csv.DictReader(open(f"{run}/training_metrics.csv", newline="")))
assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1)), "one row per L-BFGS iteration"
loss = [float(r["total_loss"]) for r in rows]
assert all(b <= a for a, b in zip(loss, loss[1:])), "the full-batch loss never rises"
for col in ["spike_time_loss", "spike_time/reproduced/excitatory", "spike_time/extra_rate/inhibitory",
            "lbfgs/evaluations", "scaling_factors/recurrent/excitatory_to_excitatory/target"]:
    assert col in rows[0], col
ck = np.load(f"{run}/checkpoints/checkpoint_latest.npz")
for k in ["lbfgs_x", "lbfgs_s", "lbfgs_y", "lbfgs_rho", "lbfgs_pairs"]:
    assert k in ck.files, k
best = np.load(f"{run}/checkpoints/checkpoint_best.npz")
assert float(best["best_loss"]) == min(loss)
lines = open(f"{run}/final_state/fit_report.csv").read().splitlines()
assert lines[0] == "factor,value,target,standard_error,standard_error_log,log_error,delta_bias_log,standard_error_total_log" and len(lines) == 7, lines
print(f"ok   fit report: mean |log(SF/target)| {start:.3f} -> {end:.4f} in {len(rows)} iterations; standard "
      f"errors, sloppiest direction, forced replay and closed-loop statistics present")
PYEOF

# Adam with teacher forcing: resume inside an accumulation window is byte-identical
adam=(-e 's/^optimiser = .*/optimiser = "adam"\nchunks_per_update = 3/'
      -e 's/^\[hyperparameters\]/[hyperparameters]\nlearning_rate = 0.02/')
mk "$work/adam.toml" "${adam[@]}" -e "s/^epochs = $epochs/epochs = 10/" -e 's/^checkpoint_interval = 2/checkpoint_interval = 4/'
"$SNNFIT" train "$work/adam.toml" -i "$work/teacher" -o "$work/adam" --quiet > /dev/null || fail "forced Adam run"
"$SNNFIT" train "$work/adam.toml" -i "$work/teacher" -o "$work/adam2" --quiet --stop-after 5 > /dev/null || fail "forced Adam stop"
"$SNNFIT" resume "$work/adam2" --quiet > /dev/null || fail "forced Adam resume"
diff -r -x tensorboard -x wandb "$work/adam" "$work/adam2" || fail "straight and resumed forced Adam runs differ"
grep -q "^epoch,total_loss,spike_time_loss,eval_loss," "$work/adam/training_metrics.csv" || fail "forced Adam columns"
echo "ok   teacher forcing with Adam (fixed-evaluation best checkpoint) resumes byte-identically"

# weights mode with L-BFGS, and a student at the teacher's own parameters, on the whole store as one
# chunk: its first row is at exactly the teacher's parameters
mk "$work/w.toml" -e 's/^optimisable = .*/optimisable = "weights"/' -e "s/^epochs = $epochs/epochs = 3/"
"$SNNFIT" train "$work/w.toml" -i "$work/teacher" -o "$work/w" --quiet > /dev/null || fail "weights mode"
steps=${dur%.0}
mk "$work/same.toml" -e 's/^optimiser = .*/optimiser = "adam"/' -e 's/^\[hyperparameters\]/[hyperparameters]\nlearning_rate = 0.02/' \
   -e 's/^weight_perturbation_variance = .*/weight_perturbation_variance = 0.0/' \
   -e "s/^epochs = $epochs/epochs = 1/" -e "s/^chunk_size = .*/chunk_size = $steps/" -e 's/^plot_size = .*/plot_size = 1/'
"$SNNFIT" train "$work/same.toml" -i "$work/teacher" -o "$work/same" --quiet > /dev/null || fail "zero-perturbation run"
"$PY" - "$work/same/training_metrics.csv" "$work/w/training_metrics.csv" <<'PYEOF' || fail "identity or weights mode"
import csv, sys
row = list(csv.DictReader(open(sys.argv[1], newline="")))[0]
for t in ("excitatory", "inhibitory"):
    assert float(row[f"spike_time/reproduced/{t}"]) == 1.0, row
    assert float(row[f"spike_time/extra_rate/{t}"]) == 0.0, row
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert float(rows[-1]["total_loss"]) < float(rows[0]["total_loss"]) * 1.0000001
print("ok   at the teacher's parameters the forced student reproduces every spike of the store and adds none; "
      "weights mode fits")
PYEOF
# bad input: status 2 before anything is written
mk "$work/burn.toml" -e 's/^\[training\]/[training]\nburn_in = 5000.0/'
"$SNNFIT" train "$work/burn.toml" -i "$work/teacher" -o "$work/burn" > /dev/null 2> "$work/err"; rc=$?
[ $rc -eq 2 ] && grep -q "burn_in = 5000 ms leaves no step" "$work/err" && [ ! -e "$work/burn" ] \
  || { cat "$work/err"; fail "a burn-in longer than the data (status $rc)"; }
echo "ok   a burn-in longer than the fit data is refused: $(cat "$work/err")"
echo "train_forced OK"
