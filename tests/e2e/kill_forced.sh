#!/usr/bin/env bash
# tests/e2e/kill.sh on the teacher-forced demo file: SIGKILLs during an L-BFGS fit, its checkpoints
# (L-BFGS history) and its final state with the fit report, each chain resumed to the straight run's
# files byte for byte.
KILL_TRAIN=parameters/demo-train.toml KILL_TEST_KILLS=${KILL_TEST_KILLS:-12} exec bash "$(dirname "$0")/kill.sh"
