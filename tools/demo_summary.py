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
    ("3-teacher/results/spike_data.zarr", "stage 3: teacher spikes, inputs and OU mixing weights (zarr)"),
    ("3-teacher/figures", "stage 3: connectivity, activity and assembly dashboards"),
    ("4-student/training_metrics.csv", "stage 4: losses, rates, CVs, scaling factors per log interval"),
    ("4-student/checkpoints", "stage 4: checkpoint_latest.npz and checkpoint_best.npz (snnfit resume)"),
    ("4-student/final_state/network_structure.npz", "stage 4: the trained network (effective weights + factors)"),
]:
    if os.path.exists(f"{out}/{path}"):
        print(f"  {out}/{path:<46} {what}")

rows = list(csv.DictReader(open(f"{student}/training_metrics.csv", newline="")))
first, last = rows[0], rows[-1]
types = [k.split("/")[-1] for k in first if k.startswith("firing_rate/mean/")]
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
loss_cols = [k for k in first if k.endswith("_loss")]
print(f"\nLosses (first log interval, epoch {first['epoch']} -> last, epoch {last['epoch']}):")
for k in loss_cols:
    print(f"  {k:24s} {float(first[k]):.6f} -> {float(last[k]):.6f}")
print("  (the student need not reach the targets in a short demo: see docs/training.md)")
print("\nFigures to open first:")
for f in ["3-teacher/figures/activity_dashboard.png", "4-student/final_state/figures/activity_dashboard.png",
          "1-connectome/figures/connectivity_dashboard.png"]:
    if os.path.exists(f"{out}/{f}"):
        print(f"  {out}/{f}")
