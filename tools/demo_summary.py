"""Prints the end-of-demo summary: what each stage wrote, the teacher's rates, and the student's
scaling factors before and after the fit next to their targets, with standard errors (from
final_state/fit_report.json), the fitted network's closed-loop statistics, and the losses.
usage: /usr/bin/python3 tools/demo_summary.py DEMO_OUTPUT_DIR"""
import csv
import json
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
    ("4-student/final_state/fit_report.json", "stage 4: factors, targets, standard errors, closed-loop check"),
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

report_path = f"{student}/final_state/fit_report.json"
report = json.load(open(report_path)) if os.path.exists(report_path) else None
method = report["method"] if report else "closed_loop"
print(f"\nStudent (stage 4, {method.replace('_', ' ')}"
      f"{', ' + report['optimiser'].upper().replace('LBFGS', 'L-BFGS') if report else ''}): scaling factors, start -> "
      f"fitted, against the targets (1 / the hidden perturbation)")
if report and report["factors"]:
    nan = float("nan")
    print(f"  {'factor':40s} {'start':>7s} {'fitted':>8s} {'target':>8s} {'log err':>8s} {'SE total':>9s} {'debiased':>9s}")
    for f in report["factors"]:
        se = f.get("standard_error_total_log", f["standard_error_log"])
        print(f"  {f['name']:40s} {f['initial']:7.3f} {f['value']:8.4f} {f['target']:8.4f} {f['log_error']:+8.4f} "
              f"{se if se is not None else nan:9.4f} {f.get('debiased_value') or nan:9.4f}")
    deb = report.get("mean_abs_log_error_debiased")
    print(f"  mean |log(SF/target)|: {report['mean_abs_log_error_initial']:.3f} at the start -> "
          f"{report['mean_abs_log_error']:.4f} fitted" + (f", {deb:.4f} debiased" if deb is not None else ""))
    if "sloppiest_direction" in report:
        sd = report["sloppiest_direction"]
        comps = ", ".join(f"{v:+.2f} {k}" for k, v in sd["components"].items() if abs(v) >= 0.1)
        print(f"  least constrained direction (SE {sd['standard_error_log']:.4f} in log space): {comps}")
        print("  (SE total: the curvature's standard error and the delta bias together, in log space; debiased: the "
              "bias removed;\n   docs/training.md says how they compare with the actual errors)")
else:
    targets = np.load(f"{student}/targets/target_scaling_factors.npz")
    best = np.load(f"{student}/final_state/network_structure.npz")
    offs0, offs1 = [], []
    for key in ["recurrent_scaling_factors", "feedforward_scaling_factors"]:
        if key in targets.files:
            offs0 += list(np.abs(np.log(1.0 / targets[key])).ravel())
            offs1 += list(np.abs(np.log(np.abs(best[key]) / targets[key])).ravel())
    print(f"  mean |log(SF/target)|: {np.mean(offs0):.3f} at the start -> {np.mean(offs1):.3f} at the best checkpoint")
if report and "forced_replay" in report:
    fr = report["forced_replay"]
    rep = ", ".join(f"{t} {100 * v:.1f}%" for t, v in fr["reproduced_fraction"].items())
    ext = ", ".join(f"{t} {v:.3f} Hz" for t, v in fr["extra_rate_hz"].items())
    print(f"\nForced replay of the fitted student: teacher spikes reproduced at the same step: {rep}; extra: {ext}")
if report:
    cl = report["closed_loop"]
    print(f"Closed loop, the fitted network on the teacher's inputs ({cl['trials']} trials x "
          f"{cl['steps']} steps, {cl['window_ms']:.0f} ms windows):")
    for t, v in cl["types"].items():
        print(f"  {t:12s} rate {v['rate_hz']:.3f} Hz (teacher {v['rate_hz_teacher']:.3f}), CV {v['cv']:.2f} "
              f"(teacher {v['cv_teacher']:.2f}), windowed-rate r {v['pearson_r']:.3f}")
loss_cols = [k for k in first if k.endswith("_loss") and k != "eval_loss"]
print(f"\nLosses, first metrics row (epoch {first['epoch']}) -> last (epoch {last['epoch']}):")
for k in loss_cols:
    print(f"  {k:24s} {float(first[k]):.6g} -> {float(last[k]):.6g}")
print("\nFigures to open first:")
for f in ["5-compare/firing_rate_correlogram.png", "3-teacher/figures/activity_dashboard.png",
          "4-student/final_state/figures/activity_dashboard.png", "2-homeostatic/final_state/figures/activity_dashboard.png",
          "1-connectome/figures/connectivity_dashboard.png"]:
    if os.path.exists(f"{out}/{f}"):
        print(f"  {out}/{f}")
