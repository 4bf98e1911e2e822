#!/usr/bin/env bash
# The source folders are layers, data flowing one way: a file may include its own layer and the
# layers below it, never one above. Fails naming every include that goes upward.
set -euo pipefail
cd "${SNNFIT_SOURCE_DIR:-$(dirname "$0")/../..}/src"
order=(core config io model inputs train plot stages cli)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
bad=0
for dir in */; do
  dir=${dir%/}
  r=$(rank "$dir")
  [ "$r" -lt 0 ] && { echo "src/$dir is not a known layer (add it to tests/e2e/layers.sh)"; bad=1; continue; }
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$inc")
    tr=$(rank "$target")
    if [ "$tr" -gt "$r" ]; then echo "upward include: $file includes $target/ ($inc)"; bad=1; fi
  done < <(grep -n '#include "[a-z_]*/' "$dir"/*.[ch] || true)
done
[ "$bad" = 0 ] && echo "layers: every include points to the same or a lower layer"
exit "$bad"
