#!/usr/bin/env bash
# Stage 2 on the demo network (demo-homeostatic.toml, shortened): the generated connectome and the
# run's folders, final_state/network_structure.npz with effective weights SF[type pre][type post]
# that numpy opens and stage 3 accepts, exact resume (straight run vs stopped + resumed, byte for
# byte, through `snnfit resume`), the same run from -i IN, thread-count independence, and bad inputs
# refused with status 2 before any output is written.
# Under the sanitizers (SNNFIT_SANITIZED=1) the byte-identity repeats that the release pass checks (the
# -i run trained to the end, the one-thread run) are left out; the -i path still runs.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sanitized=0
[ "${SNNFIT_SANITIZED:-0}" != 0 ] && sanitized=1

# 30 iterations of 4 trials, an Adam step every 3, checkpoints every 4 (inside accumulation windows),
# a metrics row every 2
sed -e 's/^duration = .*/duration = 3000.0/' -e 's/^batch_size = .*/batch_size = 4/' \
    -e 's/^chunks_per_update = .*/chunks_per_update = 3/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' \
    -e 's/^log_interval = .*/log_interval = 2/' -e 's/^plot_interval = .*/plot_interval = 15/' -e 's/^plot_size = .*/plot_size = 3/' \
    parameters/demo-homeostatic.toml > "$work/hp.toml"

"$SNNFIT" homeostatic "$work/hp.toml" -o "$work/straight" --quiet > "$work/straight.log" || { cat "$work/straight.log"; fail "straight run"; }
grep -q "Mean firing rates with the initial weights" "$work/straight.log" || fail "no initial rates on the console"
grep -q "Mean firing rates with the learned weights" "$work/straight.log" || fail "no final rates on the console"
for f in parameters.toml inputs/network_structure.npz initial_state/network_structure.npz \
         initial_state/dashboard_traces.npz training_metrics.csv checkpoints/checkpoint_latest.npz \
         checkpoints/checkpoint_best.npz final_state/network_structure.npz final_state/dashboard_traces.npz; do
  [ -f "$work/straight/$f" ] || fail "missing $f"
done
echo "ok   a run on a generated connectome writes inputs/, initial_state/, checkpoints, metrics and final_state/"

"$PY" - "$work/straight" <<'PYEOF' || fail "output files"
import csv, sys, numpy as np
run = sys.argv[1]
net = np.load(f"{run}/inputs/network_structure.npz")
ct = net["cell_type_indices"]
asm = net["assembly_ids"]
assert net["recurrent_weights"].shape == (300, 300) and net["feedforward_weights"].shape == (120, 300)
# cell types balanced per assembly (the stage-2 generator): 60 E and 15 I in each of the 4 assemblies
for a in range(4):
    assert np.sum((asm == a) & (ct == 0)) == 60 and np.sum((asm == a) & (ct == 1)) == 15, a
f = np.load(f"{run}/final_state/network_structure.npz")
b = np.load(f"{run}/checkpoints/checkpoint_best.npz")
sf = b["best_parameters"][:4].reshape(2, 2)
sf_ff = b["best_parameters"][4:].reshape(1, 2)
assert np.array_equal(f["recurrent_scaling_factors"], sf)
assert np.array_equal(f["feedforward_scaling_factors"], sf_ff)
assert not np.allclose(sf, sf.T), "the learned factors are symmetric: the orientation test below means nothing"
# effective weights: W[i][j] * SF[type i][type j] (i presynaptic), not the reference's transposed SF
expect = net["recurrent_weights"].astype(np.float64) * sf[ct][:, ct]
assert np.allclose(f["recurrent_weights"], expect, rtol=1e-6), "final weights are not W * SF[pre][post]"
assert not np.allclose(f["recurrent_weights"], net["recurrent_weights"] * sf.T[ct][:, ct], rtol=1e-6)
fct = net["feedforward_cell_type_indices"]
assert np.allclose(f["feedforward_weights"], net["feedforward_weights"] * sf_ff[fct][:, ct], rtol=1e-6)
assert np.array_equal(f["recurrent_connectivity"], net["recurrent_connectivity"])
i = np.load(f"{run}/initial_state/network_structure.npz")
assert np.array_equal(i["recurrent_weights"], net["recurrent_weights"])  # all-ones initial factors
rows = list(csv.DictReader(open(f"{run}/training_metrics.csv", newline="")))
assert [int(r["epoch"]) for r in rows] == list(range(2, 31, 2)), [r["epoch"] for r in rows]
for col in ["total_loss", "firing_rate_loss", "silent_penalty_loss", "cv_loss", "membrane_variance_loss",
            "weight_ratio_loss", "firing_rate/mean/excitatory", "fraction_active/inhibitory",
            "scaling_factors/recurrent/excitatory_to_inhibitory/value",
            "gradients/scaling_factors/feedforward/mitral_to_excitatory"]:
    assert col in rows[0], col
assert "van_rossum_loss" not in rows[0]
assert not any(k.endswith("/target") for k in rows[0]), "stage 2 has no target scaling factors"
c = np.load(f"{run}/checkpoints/checkpoint_latest.npz")
assert int(c["epoch"]) == 30 and c["state_v"].shape == (4, 300)
t = np.load(f"{run}/final_state/dashboard_traces.npz")
assert t["output_spikes"].shape == (10000, 300) and t["input_spikes"].shape == (10000, 120)
# about 6 Hz per input
assert 4.5 < t["input_spikes"].mean() * 1000 < 7.5, t["input_spikes"].mean()
print("ok   numpy opens the network, checkpoints and metrics; final weights are W x SF[type pre][type post]")
PYEOF

# exact resume: stop inside an accumulation window, resume twice
"$SNNFIT" homeostatic "$work/hp.toml" -o "$work/stopped" --quiet --stop-after 10 > "$work/stop.log" || fail "stopped run"
grep -q "^Stopped at epoch 10 of 30; continue with: snnfit resume" "$work/stop.log" || fail "no resume hint after --stop-after"
[ ! -e "$work/stopped/final_state" ] || fail "a stopped run wrote its final state"
"$SNNFIT" resume "$work/stopped" --quiet --stop-after 7 > /dev/null || fail "resume 1"
"$SNNFIT" resume "$work/stopped" --quiet --no-wandb > "$work/resume.log" || { cat "$work/resume.log"; fail "resume 2"; }
diff -r -x tensorboard -x wandb "$work/straight" "$work/stopped" || fail "straight and resumed runs differ"
echo "ok   stopped at epochs 10 and 17 and resumed: byte-identical to the straight run"

"$SNNFIT" resume "$work/straight" > "$work/again.log"; rc=$?
[ $rc -eq 0 ] && grep -q "already finished" "$work/again.log" || fail "resuming a finished run (status $rc)"
echo "ok   resuming a finished stage-2 run says so and exits 0"

# the same network given with -i: the same training (the checkpoints record the input path, so
# compare the rest)
if [ $sanitized = 0 ]; then
  "$SNNFIT" homeostatic "$work/hp.toml" -i "$work/straight/inputs" -o "$work/given" --quiet > /dev/null || fail "run with -i"
  for f in inputs/network_structure.npz training_metrics.csv final_state/network_structure.npz \
           final_state/dashboard_traces.npz initial_state/dashboard_traces.npz; do
    cmp -s "$work/straight/$f" "$work/given/$f" || fail "-i run differs in $f"
  done
  echo "ok   -i IN with the generated network trains exactly as the generating run"

  OMP_NUM_THREADS=1 "$SNNFIT" homeostatic "$work/hp.toml" -o "$work/one" --quiet > /dev/null || fail "one-thread run"
  diff -r -x tensorboard -x wandb "$work/straight" "$work/one" || fail "one thread and two threads differ"
  echo "ok   OMP_NUM_THREADS=1 and 2 give identical folders"
else
  "$SNNFIT" homeostatic "$work/hp.toml" -i "$work/straight/inputs" -o "$work/given" --quiet --stop-after 2 > /dev/null \
    || fail "run with -i"
  cmp -s "$work/straight/inputs/network_structure.npz" "$work/given/inputs/network_structure.npz" || fail "-i run: inputs differ"
  echo "ok   -i IN runs (its identity with the generating run is checked in the release pass)"
fi

# stage 3 takes the final state as its teacher network
sed 's/^duration = .*/duration = 400.0/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/straight/final_state" -o "$work/teacher" --quiet > "$work/teacher.log" \
  || { cat "$work/teacher.log"; fail "teacher on the final state"; }
[ -d "$work/teacher/results/spike_data.zarr" ] || fail "no teacher data"
grep -q "no learned scaling factors" "$work/teacher.log" && fail "the teacher calls a stage-2 network untuned"
echo "ok   snnfit teacher demo-teacher.toml -i OUT/final_state accepts the stage-2 result"

# bad input: status 2, a message naming the file and the key, nothing written
expect2() { # expect2 NAME NEEDLE command...
  local name=$1 needle=$2; shift 2
  "$@" > /dev/null 2> "$work/err"; local rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$needle" "$work/err" || { cat "$work/err"; fail "$name (status $rc)"; }
  echo "ok   $name: $(cat "$work/err")"
}
"$PY" - "$work/hp.toml" "$work/notopo.toml" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\[recurrent\.topology\].*?(?=\n\[)", "", text, flags=re.S)
open(sys.argv[2], "w").write(text)
PYEOF
expect2 no_topology "[recurrent.topology]: required to generate a connectome" "$SNNFIT" homeostatic "$work/notopo.toml" -o "$work/x1"
"$SNNFIT" homeostatic "$work/notopo.toml" -i "$work/straight/inputs/network_structure.npz" -o "$work/x5" --quiet \
  --stop-after 2 > /dev/null || fail "a file without topology, given -i"
expect2 missing_input "no such file" "$SNNFIT" homeostatic "$work/hp.toml" -i "$work/nothing" -o "$work/x2"
sed 's/^loss_weight.firing_rate = .*/loss_weight.van_rossum = 1.0/' "$work/hp.toml" > "$work/vr.toml"
expect2 van_rossum "no teacher spikes" "$SNNFIT" homeostatic "$work/vr.toml" -o "$work/x3"
sed '/^firing_rate.excitatory/d; /^firing_rate.inhibitory/d' "$work/hp.toml" > "$work/norate.toml"
expect2 no_rate_target "missing required key 'firing_rate'" "$SNNFIT" homeostatic "$work/norate.toml" -o "$work/x4"
expect2 taken_output "not empty" "$SNNFIT" homeostatic "$work/hp.toml" -o "$work/straight"
[ ! -e "$work/x1" ] && [ ! -e "$work/x2" ] && [ ! -e "$work/x3" ] && [ ! -e "$work/x4" ] || fail "a refused run wrote its output folder"
echo "homeostatic OK"
