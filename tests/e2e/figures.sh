#!/usr/bin/env bash
# The dashboards of stages 1 and 3 on the demo network: every PNG decodes, has the planned size, is not
# blank, and shows the colours it must (cell-type red #FF0000 and blue #0000FF in the activity
# dashboard, the viridis end #FDE725 of the connectivity matrices, #1F77B4 of assembly 0); the
# console says where they are; the figures are byte-identical on a second run (release pass only: under
# the sanitizers, SNNFIT_SANITIZED=1, the repeat runs the same code).
set -euo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > "$work/net.log"
grep -q "✓ Saved dashboard plots to $work/net/figures" "$work/net.log"
"$SNNFIT" teacher parameters/demo-teacher.toml -i "$work/net" -o "$work/teacher" --quiet > "$work/teacher.log"
grep -q "✓ Saved dashboard plots to $work/teacher/figures" "$work/teacher.log"

"$PY" tests/py/png_check.py \
  "$work/net/figures/connectivity_dashboard.png:2400x1600:FDE725" \
  "$work/net/figures/activity_dashboard.png:2400x1600:FF0000,0000FF" \
  "$work/teacher/figures/connectivity_dashboard.png:2400x1600:FDE725" \
  "$work/teacher/figures/activity_dashboard.png:2400x1600:FF0000,0000FF" \
  "$work/teacher/figures/assembly_activity_dashboard.png:2400x900:1F77B4"
# no temporary files left in the figure folders
test "$(ls -A "$work/teacher/figures" | wc -l)" -eq 3

if [ "${SNNFIT_SANITIZED:-0}" = 0 ]; then
  "$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net2" --quiet > /dev/null
  cmp "$work/net/figures/connectivity_dashboard.png" "$work/net2/figures/connectivity_dashboard.png"
  cmp "$work/net/figures/activity_dashboard.png" "$work/net2/figures/activity_dashboard.png"
fi
echo "figures OK"
