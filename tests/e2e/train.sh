#!/usr/bin/env bash
# Stage 4 on the demo network: exact resume (straight run vs stopped + resumed, byte for byte, with a
# stop inside an accumulation window, through `resume` and through `train --resume-from`), every
# optimisable mode and loss runs, a student started at the teacher's own parameters does not move, and
# bad inputs are refused with status 2.
# Under the sanitizers (SNNFIT_SANITIZED=1) every code path still runs, but the byte-identity repeats
# that the release pass checks are left out: the second resume chain, the 400-epoch straight run
# (the interrupted run is resumed for a few epochs instead), and the thinner runs are shorter.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sanitized=0
[ "${SNNFIT_SANITIZED:-0}" != 0 ] && sanitized=1

"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
sed 's/^duration = .*/duration = 1200.0/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail "teacher"

# small training runs: 30 epochs over 12 chunks (the data wraps twice), a step every 3 epochs,
# checkpoints every 4 (inside accumulation windows), a metrics row every 2
mk() { # mk OUT.toml [sed expressions...]
  local out=$1; shift
  sed -e 's/^epochs = .*/epochs = 30/' -e 's/^accumulation_interval = .*/accumulation_interval = 3/' \
      -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' -e 's/^plot_interval = .*/plot_interval = 15/' \
      -e 's/^plot_size = .*/plot_size = 3/' -e 's/^\[simulation\]/[simulation]\nlog_interval = 2/' \
      -e 's/^\[training\]/[training]\neval_chunks = 1/' "$@" parameters/demo-train-closed-loop.toml > "$out"
}
mk "$work/train.toml" -e 's/^loss_weight.firing_rate = .*/loss_weight.firing_rate = 0.1\nloss_weight.silent_penalty = 0.05\nloss_weight.membrane_variance = 0.01\nloss_weight.cv = 0.1/'

"$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/straight" --quiet > "$work/straight.log" || fail "straight run"
"$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped" --quiet --stop-after 10 > "$work/stop.log" || fail "stopped run"
grep -q "snnfit resume" "$work/stop.log" || fail "no resume hint after --stop-after"
[ ! -e "$work/stopped/final_state" ] || fail "a stopped run wrote its final state"
"$SNNFIT" resume "$work/stopped" --quiet > "$work/resume.log" || fail "resume"
diff -r -x tensorboard -x wandb "$work/straight" "$work/stopped" || fail "straight and resumed runs differ"
echo "ok   resume after a stop at epoch 10 (inside an accumulation window) is byte-identical"

if [ $sanitized = 0 ]; then
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped2" --quiet --stop-after 7 > /dev/null || fail "stopped run 2"
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped2" --quiet \
    --resume-from "$work/stopped2/checkpoints/checkpoint_latest.npz" --stop-after 9 > /dev/null || fail "resume-from 1"
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped2" --quiet \
    --resume-from "$work/stopped2/checkpoints/checkpoint_latest.npz" > /dev/null || fail "resume-from 2"
  diff -r -x tensorboard -x wandb "$work/straight" "$work/stopped2" || fail "straight and twice-resumed runs differ"
  echo "ok   train --resume-from twice (epochs 7 and 16) is byte-identical"
else
  # the --resume-from path, once, without the repeat of the comparison
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped2" --quiet --stop-after 7 > /dev/null || fail "stopped run 2"
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/stopped2" --quiet \
    --resume-from "$work/stopped2/checkpoints/checkpoint_latest.npz" --stop-after 2 > /dev/null || fail "resume-from"
  echo "ok   train --resume-from runs (its byte identity is checked in the release pass)"
fi

# SIGINT: the run saves its latest checkpoint at the end of the current epoch and exits 0; resuming
# it gives the uninterrupted run's files
mk "$work/long.toml" -e 's/^epochs = 30/epochs = 400/'
[ $sanitized = 0 ] && { "$SNNFIT" train "$work/long.toml" -i "$work/teacher" -o "$work/long_straight" --quiet > /dev/null || fail "long run"; }
"$SNNFIT" train "$work/long.toml" -i "$work/teacher" -o "$work/long_int" --quiet > "$work/int.log" &
pid=$!
for _ in $(seq 100); do [ -e "$work/long_int/checkpoints/checkpoint_latest.npz" ] && break; sleep 0.05; done
kill -INT $pid
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "interrupted run exited with $rc"
if grep -q "Stopped at epoch" "$work/int.log"; then
  if [ $sanitized = 0 ]; then
    "$SNNFIT" resume "$work/long_int" --quiet > /dev/null || fail "resume after SIGINT"
    diff -r -x tensorboard -x wandb "$work/long_straight" "$work/long_int" || fail "SIGINT + resume differs from the straight run"
    echo "ok   SIGINT at $(grep -o 'Stopped at epoch [0-9]*' "$work/int.log"): checkpoint, exit 0, resume byte-identical"
  else
    "$SNNFIT" resume "$work/long_int" --quiet --stop-after 3 > /dev/null || fail "resume after SIGINT"
    echo "ok   SIGINT at $(grep -o 'Stopped at epoch [0-9]*' "$work/int.log"): checkpoint, exit 0, resumed"
  fi
else
  echo "note the run finished before the signal arrived; SIGINT not exercised"
fi

"$SNNFIT" resume "$work/straight" > "$work/again.log"; rc=$?
[ $rc -eq 0 ] && grep -q "already finished" "$work/again.log" || fail "resuming a finished run (status $rc)"
echo "ok   resuming a finished run says so and exits 0"

# the files: numpy opens the checkpoint, the metrics and the final state
"$PY" - "$work/straight" <<'PYEOF' || fail "output files"
import csv, sys, numpy as np
run = sys.argv[1]
c = np.load(f"{run}/checkpoints/checkpoint_latest.npz")
assert int(c["epoch"]) == 30, c["epoch"]
for k in ["parameters", "adam_exp_avg", "adam_exp_avg_sq", "state_v", "state_g", "recurrent_scaling_factors"]:
    assert k in c.files, k
rows = list(csv.DictReader(open(f"{run}/training_metrics.csv", newline="")))
assert [int(r["epoch"]) for r in rows] == list(range(2, 31, 2)), [r["epoch"] for r in rows]
assert b"\r" not in open(f"{run}/training_metrics.csv", "rb").read()
for col in ["total_loss", "van_rossum_loss", "firing_rate_loss", "silent_penalty_loss", "cv_loss",
            "membrane_variance_loss", "firing_rate/mean/excitatory", "fraction_active/inhibitory",
            "scaling_factors/recurrent/excitatory_to_inhibitory/value",
            "scaling_factors/recurrent/excitatory_to_inhibitory/target",
            "gradients/scaling_factors/feedforward/mitral_to_excitatory"]:
    assert col in rows[0], col
# the first row comes before any optimiser step in window 1 (epoch 2 < 3): no gradient yet
assert rows[0]["gradients/scaling_factors/recurrent/excitatory_to_excitatory"] == ""
assert rows[1]["gradients/scaling_factors/recurrent/excitatory_to_excitatory"] != ""
# the best checkpoint is the lowest fixed evaluation (every evaluation, at epochs 3, 6, ..., shows in a row)
evals = [float(r["eval_loss"]) for r in rows if r["eval_loss"] != ""]
assert rows[0]["eval_loss"] == "" and len(evals) == 14, evals
assert float(np.load(f"{run}/checkpoints/checkpoint_best.npz")["best_loss"]) == min(evals)
t = np.load(f"{run}/targets/target_scaling_factors.npz")
assert t["recurrent_scaling_factors"].shape == (2, 2) and t["feedforward_scaling_factors"].shape == (1, 2)
f = np.load(f"{run}/final_state/network_structure.npz")
b = np.load(f"{run}/checkpoints/checkpoint_best.npz")
sf = b["best_parameters"][:4].reshape(2, 2)
assert np.allclose(f["recurrent_scaling_factors"], sf)
# effective weights = perturbed teacher weights x learned factors
i = np.load(f"{run}/initial_state/network_structure.npz")
ct = f["cell_type_indices"]
expect = i["recurrent_weights"].astype(np.float64) * sf[ct][:, ct]
assert np.allclose(f["recurrent_weights"], expect, rtol=1e-6), "final weights are not effective weights"
tr = np.load(f"{run}/final_state/dashboard_traces.npz")
assert tr["output_spikes"].shape[1] == f["recurrent_weights"].shape[0]
print("ok   checkpoint, metrics, targets and final state read with numpy")
PYEOF

# the training figures: initial and final state, and figures/epoch_XXXX/ at every plot interval (15)
"$PY" tests/py/png_check.py \
  "$work/straight/initial_state/figures/connectivity_dashboard.png:2400x1600" \
  "$work/straight/initial_state/figures/activity_dashboard.png:2400x1600" \
  "$work/straight/final_state/figures/connectivity_dashboard.png:2400x1600" \
  "$work/straight/final_state/figures/activity_dashboard.png:2400x1600" \
  "$work/straight/figures/epoch_0015/connectivity_dashboard.png:2400x1600" \
  "$work/straight/figures/epoch_0015/activity_dashboard.png:2400x1600" \
  "$work/straight/figures/epoch_0030/activity_dashboard.png:2400x1600" > /dev/null || fail "training figures"
[ "$(ls "$work/straight/figures")" = "$(printf 'epoch_0015\nepoch_0030')" ] || fail "figure folders: $(ls "$work/straight/figures")"
echo "ok   initial, final and per-plot-interval figures decode, have the expected size and are not blank"

# a student at the teacher's own parameters: zero van Rossum loss, zero gradient, no movement
mk "$work/same.toml" -e 's/^weight_perturbation_variance = .*/weight_perturbation_variance = 0.0/'
[ $sanitized = 1 ] && sed -i 's/^epochs = 30/epochs = 6/' "$work/same.toml"
"$SNNFIT" train "$work/same.toml" -i "$work/teacher" -o "$work/same" --quiet > /dev/null || fail "zero-perturbation run"
"$PY" - "$work/same/training_metrics.csv" <<'PYEOF' || fail "zero-perturbation run moved"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
for r in rows:
    assert float(r["van_rossum_loss"]) == 0.0, r["van_rossum_loss"]
    for k, v in r.items():
        if k.startswith("gradients/") and v != "":
            assert float(v) == 0.0, (k, v)
        if k.startswith("scaling_factors/") and k.endswith("/value"):
            assert float(v) == 1.0, (k, v)
print("ok   a student at the teacher's parameters has zero loss and gradient and does not move")
PYEOF

# the other optimisable modes and a difference-of-exponentials kernel run
for mode in weights scaling_factors_recurrent scaling_factors_feedforward; do
  mk "$work/$mode.toml" -e "s/^optimisable = .*/optimisable = \"$mode\"/" -e "s/^epochs = 30/epochs = $([ $sanitized = 1 ] && echo 3 || echo 9)/"
  "$SNNFIT" train "$work/$mode.toml" -i "$work/teacher" -o "$work/$mode" --quiet > /dev/null || fail "mode $mode"
done
mk "$work/dexp.toml" -e 's/^van_rossum_tau = .*/van_rossum_tau_rise = 5.0\nvan_rossum_tau_decay = 100.0/' \
  -e "s/^epochs = 30/epochs = $([ $sanitized = 1 ] && echo 3 || echo 9)/"
"$SNNFIT" train "$work/dexp.toml" -i "$work/teacher" -o "$work/dexp" --quiet > /dev/null || fail "difference-of-exponentials kernel"
echo "ok   weights, recurrent-only and feedforward-only modes and the rise/decay kernel run"

# bad input: status 2, a message naming the file and the array or key
expect2() { # expect2 NAME NEEDLE command...
  local name=$1 needle=$2; shift 2
  "$@" > /dev/null 2> "$work/err"; local rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$needle" "$work/err" || { cat "$work/err"; fail "$name (status $rc)"; }
  echo "ok   $name: $(cat "$work/err")"
}
cp -r "$work/straight" "$work/corrupt"
head -c 2000 "$work/straight/checkpoints/checkpoint_latest.npz" > "$work/corrupt/checkpoints/checkpoint_latest.npz"
expect2 corrupt_checkpoint "checkpoint_latest.npz" "$SNNFIT" resume "$work/corrupt"
mkdir -p "$work/empty"
expect2 no_checkpoint "no checkpoint" "$SNNFIT" resume "$work/empty"
sed -i 's/^chunk_size = .*/chunk_size = 5000/' "$work/dexp.toml"
expect2 chunk_too_long "chunk_size" "$SNNFIT" train "$work/dexp.toml" -i "$work/teacher" -o "$work/x1"
mk "$work/dt.toml" -e 's/^\[simulation\]/[simulation]\ndt = 0.5/'
expect2 store_dt "dt" "$SNNFIT" train "$work/dt.toml" -i "$work/teacher" -o "$work/x2"
sed 's/^num_neurons = 300 .*/num_neurons = 280/' parameters/demo-connectome.toml > "$work/small.toml"
"$SNNFIT" connectome "$work/small.toml" -o "$work/small" --quiet > /dev/null || fail "small network"
mkdir -p "$work/mismatch" && cp "$work/small/network_structure.npz" "$work/mismatch/" && \
  ln -s "$work/teacher/results/spike_data.zarr" "$work/mismatch/spike_data.zarr"
expect2 store_n "output_spikes" "$SNNFIT" train "$work/train.toml" -i "$work/mismatch" -o "$work/x3"
[ ! -e "$work/x1" ] && [ ! -e "$work/x2" ] && [ ! -e "$work/x3" ] || fail "a refused run wrote its output folder"
echo "train OK"
