# Sourced by the MPI end-to-end tests (mpi.sh, mpi_train.sh). Expects $work, fail() and MPIRUN.

# expect_rank_failure LOG REGEX mpirun-arguments...: a job in which one rank gets a bad input must end
# with exit status 2 on every rank within 30 s, print one message matching REGEX (which names the rank),
# and leave no $work/bad. Sets elapsed (seconds).
expect_rank_failure() {
  local log=$1 regex=$2
  shift 2
  local start rc
  start=$(date +%s)
  "${MPIRUN[@]}" "$@" > "$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  [ $rc -eq 2 ] || { cat "$log"; fail "a bad input on one rank gave exit status $rc, expected 2"; }
  grep -q "$regex" "$log" || { cat "$log"; fail "rank 0 did not report the failing rank's message ($regex)"; }
  [ "$(grep -c '^error:' "$log")" -eq 1 ] || { cat "$log"; fail "the message is not printed once"; }
  [ ! -e "$work/bad" ] || fail "a bad input on one rank left an output folder"
  [ $elapsed -lt 30 ] || fail "the failing job took $elapsed s"
}
