#!/usr/bin/env bash
# Per-synapse recovery (`optimisable = "weights"`) against the amount of teacher data: the demo network
# (stages 1 -> 2 -> 3 with parameters/demo-*.toml, the teacher run for 4 trials x 16 s), every synapse
# perturbed by its own log-normal factor (variance 0.3), then teacher forcing with L-BFGS on the first
# 1, 2, 4, 8 and 16 s of every trial. Prints the Pearson r between fitted and true weights (log scale)
# at the start and at the end, for recurrent and feedforward synapses, over all synapses and over those
# whose source and target both spiked at least 10 times in the data (a synapse from a silent neuron has
# no gradient; one onto a neuron that never nears its threshold has almost none), and the mean
# |log(w / w_true)|; writes OUT/weights.md.
#   bench/weights_recovery.sh [OUT]   (SNNFIT=path/to/snnfit; NET=a folder with 1-connectome,
#                                      2-homeostatic from an earlier run to reuse; STEPS to restrict)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-weights-output}
SNNFIT=${SNNFIT:-build/snnfit}
PY=${PY:-/usr/bin/python3}
STEPS=${STEPS:-"1000 2000 4000 8000 16000"}
EPOCHS=${EPOCHS:-300}
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [ ! -d "$OUT/2-homeostatic/final_state" ]; then
  if [ -n "${NET:-}" ]; then
    cp -r "$NET/1-connectome" "$NET/2-homeostatic" "$OUT/"
  else
    $SNNFIT connectome parameters/demo-connectome.toml -o "$OUT/1-connectome" --quiet > "$OUT/net-1.log"
    $SNNFIT homeostatic parameters/demo-homeostatic.toml -i "$OUT/1-connectome" -o "$OUT/2-homeostatic" --quiet \
      > "$OUT/net-2.log"
  fi
fi
if [ ! -f "$OUT/3-teacher/results/spike_data.zarr/.zgroup" ]; then
  sed 's/^duration = .*/duration = 16000.0/' parameters/demo-teacher.toml > "$OUT/teacher.toml"
  $SNNFIT teacher "$OUT/teacher.toml" -i "$OUT/2-homeostatic/final_state" -o "$OUT/3-teacher" --overwrite --quiet \
    > "$OUT/net-3.log"
fi
: > "$OUT/runs.txt"
for steps in $STEPS; do
  sed -e 's/^optimisable = .*/optimisable = "weights"/' -e 's/^weight_perturbation_variance = .*/weight_perturbation_variance = 0.3/' \
      -e "s/^epochs = .*/epochs = $EPOCHS/" -e 's/^plot_interval = .*/plot_interval = 100000/' \
      -e "s/^optimiser = .*/optimiser = \"lbfgs\"\nfit_steps = $steps/" parameters/demo-train.toml > "$OUT/w$steps.toml"
  t0=$(date +%s.%N)
  $SNNFIT train "$OUT/w$steps.toml" -i "$OUT/3-teacher" -o "$OUT/w$steps" --overwrite --quiet > "$OUT/w$steps.log"
  t1=$(date +%s.%N)
  echo "$steps $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') $OUT/w$steps" >> "$OUT/runs.txt"
  echo "  $steps steps: done"
done
"$PY" - "$OUT" <<'PYEOF'
import csv, json, sys
import numpy as np
import zarr
out = sys.argv[1]
spikes = zarr.open_group(f"{out}/3-teacher/results/spike_data.zarr", mode="r")
lines = ["| data per trial (4 trials) | synapses | r at start | r fitted | r start -> fitted, source and target >= 10 spikes (n) | mean abs log error start -> fitted | epochs | wall (s) |",
         "|---|---|---|---|---|---|---|---|"]
for line in open(f"{out}/runs.txt"):
    steps, wall, run = line.split()
    steps = int(steps)
    out_sp = np.asarray(spikes["output_spikes"][:, :steps, :]).sum(axis=(0, 1))
    in_sp = np.asarray(spikes["input_spikes"][:, :steps, :]).sum(axis=(0, 1))
    tgt = np.load(f"{run}/targets/target_weights.npz")
    ini = np.load(f"{run}/initial_state/network_structure.npz")
    fit = np.load(f"{run}/final_state/network_structure.npz")
    rows = list(csv.DictReader(open(f"{run}/training_metrics.csv", newline="")))
    for key, conn, src in [("recurrent_weights", "recurrent_connectivity", out_sp), ("feedforward_weights", "feedforward_connectivity", in_sp)]:
        m = tgt[conn].astype(bool) & (tgt[key] > 0)
        t, a, b = np.log(tgt[key][m]), np.log(ini[key][m]), np.log(fit[key][m])
        active = (np.broadcast_to(src[:, None], m.shape) >= 10) & (np.broadcast_to(out_sp[None, :], m.shape) >= 10)
        active = active[m]
        r0, r1 = np.corrcoef(t, a)[0, 1], np.corrcoef(t, b)[0, 1]
        ra0 = np.corrcoef(t[active], a[active])[0, 1] if active.sum() > 2 else float("nan")
        ra = np.corrcoef(t[active], b[active])[0, 1] if active.sum() > 2 else float("nan")
        lines.append(f"| {steps * 1e-3:g} s | {key.split('_')[0]} {m.sum()} | {r0:.3f} | {r1:.3f} | {ra0:.3f} -> {ra:.3f} ({active.sum()}) | "
                     f"{np.mean(np.abs(a - t)):.3f} -> {np.mean(np.abs(b - t)):.3f} | {rows[-1]['epoch']} | {float(wall):.0f} |")
text = "\n".join(lines)
open(f"{out}/weights.md", "w").write(text + "\n")
print(text)
PYEOF
