#!/usr/bin/env bash
# Teacher forcing at Dp scale: the reference's 5000-neuron network (parameters/connectome.toml) ->
# stage 2 (parameters/homeostatic-plasticity.toml, SHORTENED: HOMEO_MS ms of input on HOMEO_TRIALS
# trials, default 30 s x 20 instead of 200 s x 100, which takes hours on two cores) -> stage 3
# (parameters/generate-teacher-activity.toml with TEACHER_TRIALS trials, default 10, of 10 s) ->
# stage 4 from parameters/fitting-activity.toml switched to teacher forcing with L-BFGS on the first
# FIT_STEPS steps (default 1000) of every trial, for each seed in SEEDS (default 1 2 3) and variance in
# VARIANCES (default 0.3 1.0). Prints start and end mean |log(SF/target)| (fitted and debiased),
# iterations, wall and CPU time.
#   bench/dp_recovery.sh [OUT]   (SNNFIT=path/to/snnfit; NET=a folder with 1-connectome and
#                                 2-homeostatic of an earlier run to reuse)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dp-recovery-output}
SNNFIT=${SNNFIT:-build/snnfit}
PY=${PY:-/usr/bin/python3}
HOMEO_MS=${HOMEO_MS:-30000}
HOMEO_TRIALS=${HOMEO_TRIALS:-20}
TEACHER_TRIALS=${TEACHER_TRIALS:-10}
FIT_STEPS=${FIT_STEPS:-1000}
SEEDS=${SEEDS:-"1 2 3"}
VARIANCES=${VARIANCES:-"0.3 1.0"}
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${NET:-}" ] && [ ! -e "$OUT/2-homeostatic" ]; then
  ln -s "$(cd "$NET" && pwd)/1-connectome" "$OUT/1-connectome"
  ln -s "$(cd "$NET" && pwd)/2-homeostatic" "$OUT/2-homeostatic"
fi
if [ ! -f "$OUT/2-homeostatic/final_state/network_structure.npz" ]; then
  $SNNFIT connectome parameters/connectome.toml -o "$OUT/1-connectome" --overwrite --quiet > "$OUT/1.log"
  sed -e "s/^duration = .*/duration = $HOMEO_MS/" -e "s/^batch_size = .*/batch_size = $HOMEO_TRIALS/" \
      -e 's/^plot_interval = .*/plot_interval = 100000/' parameters/homeostatic-plasticity.toml > "$OUT/homeostatic.toml"
  $SNNFIT homeostatic "$OUT/homeostatic.toml" -i "$OUT/1-connectome" -o "$OUT/2-homeostatic" --overwrite --quiet > "$OUT/2.log"
fi
if [ ! -f "$OUT/3-teacher/results/spike_data.zarr/.zgroup" ]; then
  sed -e "s/^batch_size = .*/batch_size = $TEACHER_TRIALS/" parameters/generate-teacher-activity.toml > "$OUT/teacher.toml"
  $SNNFIT teacher "$OUT/teacher.toml" -i "$OUT/2-homeostatic/final_state" -o "$OUT/3-teacher" --overwrite --quiet \
    > "$OUT/3.log"
fi
grep -A3 "firing rates" "$OUT/3.log" | grep Hz || true
: > "$OUT/runs.txt"
for var in $VARIANCES; do
  for seed in $SEEDS; do
    name="v$var-s$seed"
    sed -e "s/^seed = .*/seed = $seed/" -e "s/^weight_perturbation_variance = .*/weight_perturbation_variance = $var/" \
        -e 's/^epochs = .*/epochs = 100/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 10/' \
        -e 's/^plot_interval = .*/plot_interval = 100000/' -e 's/^plot_size = .*/plot_size = 1/' \
        -e "s/^grad_norm_clip = .*/method = \"teacher_forced\"\noptimiser = \"lbfgs\"\nfit_steps = $FIT_STEPS/" \
        -e 's/^loss_weight.van_rossum = .*/loss_weight.spike_time = 1.0/' -e 's/^loss_weight.firing_rate = .*/loss_weight.firing_rate = 0.0/' \
        parameters/fitting-activity.toml > "$OUT/$name.toml"
    TIMEFORMAT='%R %U %S'
    { time $SNNFIT train "$OUT/$name.toml" -i "$OUT/3-teacher" -o "$OUT/$name" --overwrite --quiet > "$OUT/$name.log" 2>&1 \
        || echo "  $name failed: $(tail -1 "$OUT/$name.log")"; } 2> "$OUT/$name.time"
    echo "$var $seed $(awk '{printf "%.1f/%.1f", $1, $2 + $3}' "$OUT/$name.time") $OUT/$name" >> "$OUT/runs.txt"
    echo "  $name: $(cat "$OUT/$name.time") (wall, user, system s), load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
print("| variance | seed | start | end | end, debiased | worst factor | iterations (+ bias check) | evaluations | wall / CPU (s) |")
print("|---|---|---|---|---|---|---|---|---|")
for line in open(f"{out}/runs.txt"):
    var, seed, wall, run = line.split()
    try:
        r = json.load(open(f"{run}/final_state/fit_report.json"))
    except OSError:
        print(f"| {var} | {seed} | failed | | | | | | {wall} |")
        continue
    worst = max(abs(f["log_error"]) for f in r["factors"])
    deb = r.get("mean_abs_log_error_debiased")
    print(f"| {var} | {seed} | {r['mean_abs_log_error_initial']:.3f} | {r['mean_abs_log_error']:.4f} | "
          f"{deb if deb is not None else float('nan'):.4f} | {worst:.4f} | "
          f"{r['epochs']} (+{r.get('bias_check_iterations', 0)}) | {r.get('evaluations', '')} | {wall} |")
PYEOF
