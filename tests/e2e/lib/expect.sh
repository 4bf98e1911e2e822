# Sourced by the end-to-end tests of bad input (errors.sh, hostile.sh). Expects $work (the test's
# scratch folder) and counts failures in $failures.

ok() { echo "ok   $*"; }

# expect_error NAME "needle1|needle2..." command...: status 2 within 60 s, every needle in the one-line
# message, and no $work/out
expect_error() {
  local name=$1 needles=$2
  shift 2
  rm -rf "$work/out"
  timeout 60 "$@" > "$work/stdout" 2> "$work/stderr"
  local rc=$?
  local good=1
  [ $rc -eq 2 ] || { echo "FAIL $name: exit status $rc, expected 2"; good=0; }
  IFS='|' read -ra parts <<< "$needles"
  for needle in "${parts[@]}"; do
    grep -qF -- "$needle" "$work/stderr" || { echo "FAIL $name: message lacks '$needle'"; good=0; }
  done
  # one message (a usage error adds the command's usage lines after it)
  [ "$(grep -vc '^usage: \|^  ' "$work/stderr")" -eq 1 ] || { echo "FAIL $name: message is not one line"; good=0; }
  [ ! -e "$work/out" ] || { echo "FAIL $name: output folder was written"; good=0; }
  if [ $good = 1 ]; then ok "$name: $(cat "$work/stderr")"; else cat "$work/stderr"; failures=$((failures + 1)); fi
}
