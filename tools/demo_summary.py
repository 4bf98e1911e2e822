"""Prints the end-of-demo summary: what each stage wrote, the teacher's rates, and the student's
scaling factors and losses before and after training next to their targets.
usage: /usr/bin/python3 tools/demo_summary.py DEMO_OUTPUT_DIR"""
import csv
import os
import sys

import numpy as np

out = sys.argv[1]
teacher, student = f"{out}/3-teacher", f"{out}/4-student"
print(f"Results are in {out}/:")
for path, what in [
    ("1-connectome/network_structure.npz", "stage 1: the connectome (numpy.load opens it)"),
    ("1-connectome/network_statistics.csv", "stage 1: edges, degrees and weights per cell-type pair"),
    ("1-connectome/figures", "stage 1: connectivity and activity dashboards"),
    ("2-homeostatic/final_state/network_structure.npz", "stage 2: the network after homeostatic plasticity"),
    ("2-homeostatic/training_metrics.csv", "stage 2: losses, rates and scaling factors during plasticity"),
    ("3-teacher/results/spike_data.zarr", "stage 3: teacher spikes, inputs and OU mixing weights (zarr)"),
    ("3-teacher/figures", "stage 3: connectivity, activity and assembly dashboards"),
    ("4-student/training_metrics.csv", "stage 4: losses, rates, CVs, scaling factors per log interval"),
    ("4-student/checkpoints", "stage 4: checkpoint_latest.npz and checkpoint_best.npz (snnfit resume)"),
    ("4-student/final_state/network_structure.npz", "stage 4: the trained network (effective weights + factors)"),
    ("5-compare/firing_rate_correlogram.png", "compare: Poisson vs learning variability (windowed rates, r)"),
    ("3-teacher/figures/odourant_vs_baseline_correlogram.png", "odourants: odour 1 vs baseline and vs repeat"),
]:
    if os.path.exists(f"{out}/{path}"):
        print(f"  {out}/{path:<46} {what}")

rows = list(csv.DictReader(open(f"{student}/training_metrics.csv", newline="")))
first, last = rows[0], rows[-1]
types = [k.split("/")[-1] for k in first if k.startswith("firing_rate/mean/")]
print("\nStage 2 (homeostatic plasticity), firing rates of a 10 s run against the targets:")
for line in open(f"{out}/homeostatic.log"):
    if line.startswith("Mean firing rates"):
        print("  " + line.strip())
print("\nTeacher firing rates (stage 3, all trials):")
for line in open(f"{out}/teacher.log"):
    if line.startswith("  ") and "Hz" in line and "silent" in line:
        print(line.rstrip())

targets = np.load(f"{student}/targets/target_scaling_factors.npz")
best = np.load(f"{student}/final_state/network_structure.npz")
print("\nStudent scaling factors (stage 4): start -> best checkpoint, target = 1 / perturbation")
names_ff = [k.split("/")[2].split("_to_")[0] for k in first if k.startswith("scaling_factors/feedforward/")][:1]
for layer, key in [("recurrent", "recurrent_scaling_factors"), ("feedforward", "feedforward_scaling_factors")]:
    if key not in targets.files:
        continue
    tgt, got = targets[key], best[key]
    src_names = types if layer == "recurrent" else names_ff
    for a in range(tgt.shape[0]):
        for b in range(tgt.shape[1]):
            start = 1.0
            off0 = abs(np.log(start / tgt[a, b]))
            off1 = abs(np.log(got[a, b] / tgt[a, b]))
            print(f"  {layer:11s} {src_names[a]:>11s} -> {types[b]:<11s} {start:6.3f} -> {got[a, b]:6.3f}"
                  f"   target {tgt[a, b]:6.3f}   |log(SF/target)| {off0:.3f} -> {off1:.3f}")
offs0, offs1 = [], []
for layer, key in [("recurrent", "recurrent_scaling_factors"), ("feedforward", "feedforward_scaling_factors")]:
    if key in targets.files:
        offs0 += list(np.abs(np.log(1.0 / targets[key])).ravel())
        offs1 += list(np.abs(np.log(np.abs(best[key]) / targets[key])).ravel())
print(f"  mean |log(SF/target)|: {np.mean(offs0):.3f} at the start -> {np.mean(offs1):.3f} at the best checkpoint")
loss_cols = [k for k in first if k.endswith("_loss")]
# losses depend on where in the teacher data a chunk lies (the student drifts from the teacher within a
# pass), so compare the first log interval with the same chunks in the last pass
import zarr
steps = zarr.open_group(f"{teacher}/results/spike_data.zarr", mode="r")["output_spikes"].shape[1]
chunk = int(next(l.split("=")[1].split("#")[0] for l in open(f"{student}/parameters.toml") if l.startswith("chunk_size")))
per_pass = steps // chunk
same = [r for r in rows if (int(r["epoch"]) - int(first["epoch"])) % per_pass == 0]
later = same[-1]
print(f"\nLosses on the same chunks of the teacher data, first pass (epoch {first['epoch']}) -> last pass "
      f"(epoch {later['epoch']}):")
for k in loss_cols:
    print(f"  {k:24s} {float(first[k]):.6f} -> {float(later[k]):.6f}")
print("  (the student need not reach the targets in a short demo: see docs/training.md)")
print("\nFigures to open first:")
for f in ["5-compare/firing_rate_correlogram.png", "3-teacher/figures/activity_dashboard.png",
          "4-student/final_state/figures/activity_dashboard.png", "2-homeostatic/final_state/figures/activity_dashboard.png",
          "1-connectome/figures/connectivity_dashboard.png"]:
    if os.path.exists(f"{out}/{f}"):
        print(f"  {out}/{f}")
