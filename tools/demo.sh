#!/usr/bin/env bash
# The demo pipeline on the small built-in network (parameters/demo-*.toml):
#   stage 1 (connectome) -> stage 2 (homeostatic plasticity) -> stage 3 (teacher activity)
#   -> stage 4 (student training) -> compare (trained vs target) -> odourants (teacher's odour responses)
# usage: tools/demo.sh [OUTPUT_DIR]   (SNNFIT=path/to/snnfit, default build/snnfit)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-output}
SNNFIT=${SNNFIT:-build/snnfit}
QUIET=""
[ -t 2 ] || QUIET="--quiet"
rm -rf "$OUT"
mkdir -p "$OUT"
# Under the sanitizers (make test sets SNNFIT_SANITIZED=1) the same pipeline runs on shortened copies of
# the demo parameter files: every stage and command runs once more under ASan and UBSan, in a fraction
# of the time (stage 2: 50 iterations of 4 trials; stage 3: 2 trials of 2 s; stage 4: 40 epochs).
P=parameters
if [ "${SNNFIT_SANITIZED:-0}" != 0 ]; then
  P=$(mktemp -d)
  trap 'rm -rf "$P"' EXIT
  cp parameters/demo-*.toml "$P/"
  sed -i -e 's/^duration = .*/duration = 5000.0/' -e 's/^batch_size = .*/batch_size = 4/' "$P/demo-homeostatic.toml"
  sed -i -e 's/^duration = .*/duration = 2000.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    -e 's/^plot_size = .*/plot_size = 20/' "$P/demo-teacher.toml"
  sed -i -e 's/^epochs = .*/epochs = 40/' -e 's/^plot_interval = .*/plot_interval = 20/' "$P/demo-train.toml"
  echo "(sanitized build: shortened copies of the demo parameter files in $P)"
fi

banner() { printf '\n==== %s ====\n' "$*"; }

banner "Stage 1: connectome (parameters/demo-connectome.toml)"
"$SNNFIT" connectome "$P/demo-connectome.toml" -o "$OUT/1-connectome" $QUIET

banner "Stage 2: homeostatic plasticity (parameters/demo-homeostatic.toml)"
"$SNNFIT" homeostatic "$P/demo-homeostatic.toml" -i "$OUT/1-connectome" -o "$OUT/2-homeostatic" $QUIET \
  | tee "$OUT/homeostatic.log"

banner "Stage 3: teacher activity (parameters/demo-teacher.toml)"
"$SNNFIT" teacher "$P/demo-teacher.toml" -i "$OUT/2-homeostatic/final_state" -o "$OUT/3-teacher" $QUIET \
  | tee "$OUT/teacher.log"

banner "Stage 4: student training (parameters/demo-train.toml)"
"$SNNFIT" train "$P/demo-train.toml" -i "$OUT/3-teacher" -o "$OUT/4-student" $QUIET

banner "Compare: the trained student against its target (snnfit compare)"
"$SNNFIT" compare "$OUT/4-student" "$OUT/5-compare" "$P/demo-teacher.toml" $QUIET

banner "Odourants: the teacher's responses to odour 1 and to baseline input (snnfit odourants)"
"$SNNFIT" odourants "$OUT/3-teacher" $QUIET

banner "Summary"
/usr/bin/python3 tools/demo_summary.py "$OUT"
rm -f "$OUT/teacher.log" "$OUT/homeostatic.log"
