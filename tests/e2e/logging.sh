#!/usr/bin/env bash
# Logging of a small stage-4 run: the TensorBoard event files decode (both CRCs of
# every record, canonical protobuf) and hold every metrics row as scalars (float32 of the csv values),
# every figure as an image with the PNG's bytes and the parameters file as text (tests/py/tb_check.py
# run); with [wandb] enabled a fake `wandb` first on PATH records the background syncs: the first
# without --append and with -p/-e/--id, later ones with --append and the same id, a resumed run
# appending to the same id, output in OUT/wandb/sync.log; an experiment file's [wandb] (snnfit run)
# replaces the parameter file's, as the reference's runner does; --no-wandb runs none; without wandb on PATH
# one note with the command to run later.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# under the sanitizers (SNNFIT_SANITIZED=1) the runs that only check what is not done (--no-wandb, no
# wandb installed) stop after 2 epochs: the same code paths, without the training the other runs repeat
short=""
[ "${SNNFIT_SANITIZED:-0}" != 0 ] && short="--stop-after 2"

"$SNNFIT" connectome parameters/demo-connectome.toml -o "$work/net" --quiet > /dev/null || fail "connectome"
sed 's/^duration = .*/duration = 1200.0/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail "teacher"

# 24 epochs, a metrics row every 2, figures every 6, checkpoints every 8 (three syncs and the last)
sed -e 's/^epochs = .*/epochs = 24/' -e 's/^accumulation_interval = .*/accumulation_interval = 3/' \
    -e 's/^checkpoint_interval = .*/checkpoint_interval = 8/' -e 's/^plot_interval = .*/plot_interval = 6/' \
    -e 's/^plot_size = .*/plot_size = 3/' -e 's/^\[simulation\]/[simulation]\nlog_interval = 2/' \
    parameters/demo-train-closed-loop.toml > "$work/train.toml"
cat >> "$work/train.toml" <<'EOF'

[wandb]
enabled = true
project = "e2e-project"
entity = "e2e-lab"
tags = ["e2e", "logging"]
notes = "end-to-end test"
EOF

# the fake wandb: one line per call with its arguments separated by '|'
mkdir -p "$work/bin" "$work/nobin"
cat > "$work/bin/wandb" <<EOF
#!/bin/sh
line=''
for a in "\$@"; do line="\$line\$a|"; done
echo "\$line" >> "$work/args.txt"
echo "fake wandb: synced"
EOF
chmod +x "$work/bin/wandb"
fakepath="$work/bin:/usr/bin:/bin"

PATH="$fakepath" "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/run" --quiet > "$work/run.log" \
  || fail "training run"
"$PY" tests/py/tb_check.py run "$work/run" || fail "event files of the run"
echo "ok   event files: scalars of every metrics row, every figure, the parameters"

# W&B: syncs at the checkpoints (8, 16, 24) and at the end; the last may be skipped or merged when
# the previous one still runs, so: at least two calls, the first without --append, the rest with
[ -f "$work/args.txt" ] || fail "the fake wandb never ran"
n=$(wc -l < "$work/args.txt")
[ "$n" -ge 2 ] || fail "wandb ran $n times, expected at least 2"
first=$(head -1 "$work/args.txt")
id=$(echo "$first" | sed -n 's/.*|--id|\([^|]*\)|.*/\1/p')
[ -n "$id" ] || fail "no --id in the first sync: $first"
[ "$first" = "sync|$work/run/tensorboard|--sync-tensorboard|-p|e2e-project|-e|e2e-lab|--id|$id|" ] \
  || fail "first sync: $first"
tail -n +2 "$work/args.txt" | while read -r l; do
  [ "$l" = "sync|$work/run/tensorboard|--sync-tensorboard|-p|e2e-project|-e|e2e-lab|--id|$id|--append|" ] \
    || { echo "FAIL: later sync: $l"; exit 1; }
done || exit 1
grep -q "fake wandb: synced" "$work/run/wandb/sync.log" || fail "no wandb output in wandb/sync.log"
grep -q "Uploaded to W&B: run $id" "$work/run.log" || fail "no upload line on the console"
echo "ok   W&B: $n background syncs of run $id (first creates, the rest --append), output in wandb/sync.log"

# a stopped and resumed run: a second event file, the same W&B id, every sync of the resumed part
# appends
rm -f "$work/args.txt"
PATH="$fakepath" "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/res" --quiet --stop-after 10 \
  > /dev/null || fail "stopped run"
id1=$(head -1 "$work/args.txt" | sed -n 's/.*|--id|\([^|]*\)|.*/\1/p')
[ -n "$id1" ] || fail "the stopped run never synced"
cp "$work/args.txt" "$work/args_first.txt"
rm -f "$work/args.txt"
PATH="$fakepath" "$SNNFIT" resume "$work/res" --quiet > /dev/null || fail "resume"
[ "$(ls "$work/res/tensorboard" | grep -c tfevents)" -eq 2 ] || fail "the resumed run did not start a second event file"
"$PY" tests/py/tb_check.py run "$work/res" || fail "event files of the resumed run"
[ -s "$work/args.txt" ] || fail "the resumed run never synced"
grep -vq -- "|--id|$id1|--append|\$" "$work/args.txt" && fail "resumed run: a sync without --append or another id"
echo "ok   resume: a second event file, syncs append to W&B run $id1"

# --no-wandb: no sync at all, no note
rm -f "$work/args.txt"
PATH="$fakepath" "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/nowandb" --quiet --no-wandb $short \
  > "$work/nowandb.log" || fail "--no-wandb run"
[ ! -e "$work/args.txt" ] || fail "--no-wandb still ran wandb"
grep -qE "W&B|wandb sync|not installed" "$work/nowandb.log" && fail "--no-wandb printed about W&B"
[ ! -e "$work/nowandb/wandb" ] || fail "--no-wandb created OUT/wandb"
echo "ok   --no-wandb: no upload"

# snnfit run: the experiment file's [wandb] replaces the parameter file's (which has none here)
rm -f "$work/args.txt"
sed -e '/^\[wandb\]/,$d' -e 's/^epochs = .*/epochs = 8/' "$work/train.toml" > "$work/plain.toml"
cat > "$work/exp.toml" <<EOF
stage = "train"
parameters_file = "plain.toml"
output_dir = "exprun"
[[data.inputs]]
path = "teacher/inputs/network_structure.npz"
strategy = "symlink"
[[data.inputs]]
path = "teacher/results/spike_data.zarr"
strategy = "symlink"
[wandb]
enabled = true
project = "exp-project"
EOF
PATH="$fakepath" "$SNNFIT" run "$work/exp.toml" --quiet > "$work/exp.log" 2>&1 || { cat "$work/exp.log"; fail "snnfit run with [wandb]"; }
grep -q "^sync|$work/exprun/tensorboard|--sync-tensorboard|-p|exp-project|--id|" "$work/args.txt" \
  || fail "the experiment's [wandb] was not used: $(cat "$work/args.txt" 2>/dev/null)"
echo "ok   snnfit run: the experiment file's [wandb] is the run's W&B setting"

# no wandb installed: one note with the command to run later (not checkable where /usr/bin or /bin has one)
if [ -x /usr/bin/wandb ] || [ -x /bin/wandb ]; then echo "note a wandb is installed; not-installed note not checked"; exit 0; fi
PATH="$work/nobin:/usr/bin:/bin" "$SNNFIT" train "$work/train.toml" -i "$work/teacher" -o "$work/missing" --quiet $short \
  > "$work/missing.log" || fail "run without wandb"
[ "$(grep -c "not installed" "$work/missing.log")" -eq 1 ] || fail "expected one 'not installed' note"
grep -q "wandb sync $work/missing/tensorboard --sync-tensorboard -p e2e-project -e e2e-lab --id " "$work/missing.log" \
  || fail "the note lacks the command to run later"
echo "ok   without wandb: one note with the command to run later"
