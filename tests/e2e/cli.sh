#!/usr/bin/env bash
# The command line against its own help: for every command listed by `snnfit --help`,
#  - `snnfit CMD --help` exits 0, every line fits in 100 columns, every option it lists has a
#    description, and the usage line names every listed option;
#  - every option it lists is accepted by the parser (the option, with a value when it takes one,
#    then --help: exit 0), and every option that any other command lists, and an unknown one, is
#    refused with exit status 2 and a message naming it;
#  - too many or too few positional arguments are refused with exit status 2.
# The help texts and the parser share one option table (src/cli/main.c); this checks the result from
# outside, as a user meets it.
set -uo pipefail
: "${SNNFIT:?}" "${PY:=/usr/bin/python3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# lines of at most 100 columns (characters, not bytes)
fits() { "$PY" -c 'import sys; bad = [l for l in sys.stdin.read().splitlines() if len(l) > 100]; print(*bad, sep="\n"); sys.exit(1 if bad else 0)'; }

"$SNNFIT" --help > "$work/main.txt" || fail "snnfit --help exits $?"
fits < "$work/main.txt" > "$work/long" || fail "snnfit --help: lines over 100 columns: $(cat "$work/long")"
commands=$(sed -n '/^commands:/,/^$/p' "$work/main.txt" | grep -E '^  [a-z]+ ' | awk '{print $1}')
[ "$(echo "$commands" | wc -l)" -ge 9 ] || fail "snnfit --help lists too few commands: $commands"

# every option each command lists: "  -x, --name VALUE   help" or "  --name VALUE   help"
declare -A opts
all=""
for c in $commands; do
  "$SNNFIT" "$c" --help > "$work/$c.txt" || fail "snnfit $c --help exits $?"
  fits < "$work/$c.txt" > "$work/long" || fail "snnfit $c --help: lines over 100 columns: $(cat "$work/long")"
  grep -q "^usage: snnfit $c" "$work/$c.txt" || fail "snnfit $c --help has no usage line"
  sed -n '/^options:/,$p' "$work/$c.txt" | grep -E '^  -' > "$work/$c.opts" || fail "snnfit $c --help lists no options"
  list=""
  while IFS= read -r line; do
    # the long name, its value name (if any) and the description after two spaces
    spec=$(sed -E 's/^  (-[a-z], )?(--[a-z-]+)( [A-Z.]+)?( {2,}(.*))?$/\2|\3|\5/' <<<"$line")
    name=${spec%%|*}; rest=${spec#*|}; value=${rest%%|*}; value=${value# }; desc=${rest#*|}
    [[ $name == --* ]] || fail "snnfit $c --help: cannot read the option line '$line'"
    [ -n "$desc" ] || fail "snnfit $c --help: $name has no description"
    list="$list $name${value:+=$value}"
    if [ "$name" != --help ]; then
      # the usage line (possibly wrapped) names it, by its short or long spelling
      short=$(sed -nE 's/^  (-[a-z]), .*/\1/p' <<<"$line")
      sed -n '/^usage:/,/^$/p' "$work/$c.txt" | grep -qE -- "(^| |\[)(${short:-$name}|$name)( |\]|$)" \
        || fail "snnfit $c: the usage line does not show $name"
    fi
  done < "$work/$c.opts"
  opts[$c]=$list
  all="$all$list"
done
all=$(tr ' ' '\n' <<<"$all" | sort -u | grep -v '^$')

value_for() { case $1 in K | N) echo 3 ;; X) echo 2 ;; BYTES) echo 8G ;; *) echo "$work/x" ;; esac; }
n=0
for c in $commands; do
  for o in $all --no-such-option; do
    name=${o%%=*}; value=""
    [[ $o == *=* ]] && value=$(value_for "${o#*=}")
    args=("$name"); [ -n "$value" ] && args+=("$value")
    "$SNNFIT" "$c" "${args[@]}" --help > /dev/null 2> "$work/err"; rc=$?
    if [[ " ${opts[$c]} " == *" $o "* ]]; then
      [ $rc -eq 0 ] || { cat "$work/err"; fail "snnfit $c lists $name but refuses it (exit $rc)"; }
    else
      [ $rc -eq 2 ] || fail "snnfit $c does not list $name but accepts it (exit $rc)"
      grep -qF -- "$name" "$work/err" || { cat "$work/err"; fail "snnfit $c $name: the message does not name it"; }
    fi
    n=$((n + 1))
  done
done
echo "ok   $n command/option pairs: each command accepts exactly the options its --help lists"

# positional arguments: one too many, one too few (no output is written)
cd "$work"
expect2() { # expect2 NEEDLE command...
  local needle=$1; shift
  "$SNNFIT" "$@" > /dev/null 2> "$work/err"; local rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$needle" "$work/err" || { cat "$work/err"; fail "snnfit $* (exit $rc)"; }
}
expect2 "unexpected argument 'extra'" resume somewhere extra
expect2 "unexpected argument 'extra'" odourants somewhere extra
expect2 "unexpected argument 'extra'" connectome p.toml extra -o out
expect2 "missing TEACHER.toml" compare exp out
expect2 "missing P.toml" train -i in -o out
expect2 "missing -i IN" teacher p.toml -o out
expect2 "missing -o OUT" connectome p.toml
expect2 "given twice" train p.toml -i a -i b -o out
expect2 "takes no value" connectome p.toml -o out --quiet=yes
expect2 "--stop-after" resume somewhere --stop-after 99999999999999999999999
expect2 "did you mean '--overwrite'" connectome p.toml -o out --overwirte
[ -z "$(ls -A "$work" | grep -vE '\.(txt|opts)$|^err$|^long$')" ] || fail "a refused command wrote files: $(ls -A "$work")"
echo "ok   wrong numbers of arguments, repeated options and bad values exit 2"
echo "cli OK"
