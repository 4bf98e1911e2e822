#!/usr/bin/env bash
# The user's documents stand alone: README.md, docs/, the shipped parameter and experiment files, the
# Makefile and bench/ never cite what users do not have: the developers' specification (SPEC.md, "SPEC
# 7.3", "SPEC section N", "§"), the files beside it (../shared/, seed.md, figures.md,
# model-and-training.md, inputs-and-data.md, libraries.md) or "the seed" that wrote it. Fails naming
# every line that does, and when a relative link in README.md or docs/ points to a missing file.
set -uo pipefail
cd "${SNNFIT_SOURCE_DIR:-$(dirname "$0")/../..}"
files=(README.md Makefile docs/*.md parameters/*.toml experiments/*.toml bench/*)
pattern='SPEC|\.\./shared|shared/|§|seed\.md|figures\.md|model-and-training\.md|inputs-and-data\.md|libraries\.md|the seed'"'"'s|\(seed:|[Tt]he seed (describes|plotted|says)'
bad=0
if grep -nE "$pattern" "${files[@]}"; then
  echo "FAIL: the lines above cite documents users do not have; say what matters in the project's own words"
  bad=1
fi
# relative links of the markdown files must resolve
for f in README.md docs/*.md; do
  dir=$(dirname "$f")
  while IFS= read -r link; do
    target=${link%%#*}
    [ -z "$target" ] && continue
    case $target in http*|mailto:*) continue ;; esac
    [ -e "$dir/$target" ] || { echo "FAIL: $f links to $target, which does not exist"; bad=1; }
  done < <(grep -oE '\]\([^)]+\)' "$f" | sed -E 's/^\]\((.*)\)$/\1/')
done
[ $bad = 0 ] && echo "docs: README.md, docs/, parameters/, experiments/, Makefile and bench/ stand alone"
exit $bad
