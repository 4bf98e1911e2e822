#!/usr/bin/env bash
# snnfit run: the shipped demo chain of experiments (experiments/demo-*.toml, with
# shortened copies of the demo parameter files) runs stage 1 -> 2 -> 3 -> 4 through the runner;
# metadata.json says "completed" and its hashes are sha256sum's; a failing stage leaves status
# "failed", log.err and its exit status; an existing output folder is refused without --overwrite
# (status 2, nothing touched) and replaced with it; each run appends one JSON line to log_file; bad
# experiment files are refused before anything is written.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The shipped experiment files, unchanged, beside shortened parameter files of the same names: their
# relative paths ("../parameters/...", "../runs/...") resolve against their own folder, so in $work
# they read $work/parameters and write $work/runs.
mkdir -p "$work/experiments" "$work/parameters"
cp experiments/demo-*.toml "$work/experiments/"
cp parameters/demo-connectome.toml "$work/parameters/"
sed -e 's/^duration = .*/duration = 2000.0/' -e 's/^batch_size = .*/batch_size = 2/' -e '/^plot_interval = /d' \
    -e 's/^log_interval = .*/log_interval = 5\nplot_interval = 20/' parameters/demo-homeostatic.toml \
    > "$work/parameters/demo-homeostatic.toml"
sed 's/^duration = .*/duration = 1200.0/' parameters/demo-teacher.toml > "$work/parameters/demo-teacher.toml"
sed -e 's/^epochs = .*/epochs = 12/' -e 's/^accumulation_interval = .*/accumulation_interval = 3/' \
    -e 's/^checkpoint_interval = .*/checkpoint_interval = 6/' -e 's/^plot_interval = .*/plot_interval = 12/' \
    parameters/demo-train.toml > "$work/parameters/demo-train.toml"
log="$work/runs/experiments.jsonl"

# stage 1 is started from another folder: the paths in the file do not depend on the current one
(cd / && "$SNNFIT" run "$work/experiments/demo-1-connectome.toml" --quiet) > "$work/1.log" 2>&1 \
  || { cat "$work/1.log"; fail "demo-1-connectome"; }
for s in 2-homeostatic 3-teacher 4-train; do
  "$SNNFIT" run "$work/experiments/demo-$s.toml" --quiet > "$work/$s.log" 2>&1 || { cat "$work/$s.log"; fail "demo-$s"; }
done
for s in 1-connectome 2-homeostatic 3-teacher 4-train; do
  for f in metadata.json README.md parameters.toml experiment.toml; do
    [ -f "$work/runs/demo-$s/$f" ] || fail "demo-$s: no $f"
  done
  [ ! -e "$work/runs/demo-$s/log.err" ] || fail "demo-$s: log.err after a successful run"
done
for f in runs/demo-1-connectome/network_structure.npz runs/demo-2-homeostatic/final_state/network_structure.npz \
         runs/demo-3-teacher/results/spike_data.zarr runs/demo-4-train/final_state/network_structure.npz; do
  [ -e "$work/$f" ] || fail "the chain did not produce $f"
done
[ -L "$work/runs/demo-4-train/inputs/spike_data.zarr" ] || fail "the symlink strategy did not link spike_data.zarr"
grep -q "COMPLETED" "$work/runs/demo-4-train/README.md" || fail "README.md does not say COMPLETED"
grep -q "final_state/" "$work/runs/demo-4-train/README.md" || fail "README.md does not say where the results are"
echo "ok   the demo chain runs through 'snnfit run' (stage 1 started from another folder)"

# metadata: status, the build, and every hash against sha256sum (a folder's own hash is that of its
# manifest: `find -L . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum`)
"$PY" - "$work" <<'PYEOF' || fail "metadata.json"
import json, os, subprocess, sys
work = sys.argv[1]
def sha(path):
    return subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]
def manifest(folder):
    return subprocess.run("find -L . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum",
                          shell=True, cwd=folder, capture_output=True, text=True, check=True).stdout.split()[0]
version = subprocess.run([os.environ["SNNFIT"], "--version"], capture_output=True, text=True).stdout
stages = {"1-connectome": "connectome", "2-homeostatic": "homeostatic", "3-teacher": "teacher", "4-train": "train"}
n_inputs = {"1-connectome": 0, "2-homeostatic": 1, "3-teacher": 1, "4-train": 2}
for run, stage in stages.items():
    out = f"{work}/runs/demo-{run}"
    m = json.load(open(f"{out}/metadata.json"))
    assert m["status"] == "completed", (run, m["status"])
    assert m["exit_status"] == 0 and "error" not in m, run
    assert m["stage"] == stage, run
    assert m["snnfit_version"] in version and m["git_commit"] in version, (m["snnfit_version"], m["git_commit"], version)
    assert m["output_dir"] == out, (m["output_dir"], out)
    assert m["parameters_file"] == f"{work}/parameters/demo-{stage}.toml", m["parameters_file"]
    assert m["parameters_sha256"] == sha(m["parameters_file"]), run
    assert open(f"{out}/parameters.toml").read() == open(m["parameters_file"]).read(), run
    assert m["command"].startswith("snnfit run ") and m["host"] and m["start_time"] < m["end_time"], run
    assert m["duration_seconds"] > 0, run
    assert len(m["inputs"]) == n_inputs[run], (run, m["inputs"])
    for i in m["inputs"]:
        assert i["strategy"] == "symlink" and os.path.isabs(i["source"]) and os.path.exists(i["source"]), i
        assert i["destination"] == "inputs/" + os.path.basename(i["source"]), i
        if i["kind"] == "file":
            assert len(i["files"]) == 1 and i["files"][0]["path"] == i["destination"], i
            assert i["sha256"] == i["files"][0]["sha256"] == sha(i["source"]), i
        else:
            assert len(i["files"]) > 10, "a teacher store has many chunk files"
            for f in i["files"]:
                src = i["source"] + f["path"][len(i["destination"]):]
                assert f["sha256"] == sha(src) and f["bytes"] == os.path.getsize(src), f
            assert [f["path"] for f in i["files"]] == sorted(f["path"] for f in i["files"])
            assert i["sha256"] == manifest(i["source"]), i
    if run != "3-teacher":
        assert m["wandb"] == {"enabled": False}, m["wandb"]
    text = open(f"{out}/metadata.json", "rb").read()
    assert all(b < 128 for b in text), "metadata.json is not ASCII"
lines = [json.loads(l) for l in open(f"{work}/runs/experiments.jsonl")]
assert [l["stage"] for l in lines] == list(stages.values()), [l["stage"] for l in lines]
assert all(l["status"] == "completed" for l in lines)
assert lines[-1] == json.load(open(f"{work}/runs/demo-4-train/metadata.json"))
PYEOF
echo "ok   metadata.json: completed, version and commit, and every hash equals sha256sum's"
echo "ok   one JSON line per run appended to log_file (equal to metadata.json)"

# an existing output folder: refused without --overwrite (status 2, untouched), replaced with it
meta1="$work/runs/demo-1-connectome/metadata.json"
cp "$meta1" "$work/meta1.json"
touch "$work/runs/demo-1-connectome/marker"
"$SNNFIT" run "$work/experiments/demo-1-connectome.toml" --quiet > "$work/again.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/again.log"; fail "an existing output folder gave status $rc, not 2"; }
grep -q -- "--overwrite" "$work/again.log" || fail "the refusal does not mention --overwrite"
cmp -s "$meta1" "$work/meta1.json" && [ -e "$work/runs/demo-1-connectome/marker" ] || fail "the refused run touched the folder"
[ "$(wc -l < "$log")" -eq 4 ] || fail "a refused run was logged"
"$SNNFIT" run "$work/experiments/demo-1-connectome.toml" --overwrite --quiet > "$work/over.log" 2>&1 \
  || { cat "$work/over.log"; fail "--overwrite"; }
[ ! -e "$work/runs/demo-1-connectome/marker" ] || fail "--overwrite kept the old folder's files"
cmp -s "$meta1" "$work/meta1.json" && fail "--overwrite did not rewrite metadata.json"
grep -q '"status": "completed"' "$meta1" || fail "the overwritten run is not completed"
[ "$(wc -l < "$log")" -eq 5 ] || fail "the --overwrite run was not logged"
echo "ok   an existing output folder is refused without --overwrite (status 2) and replaced with it"

# a stage that fails (a typo in the parameters): status failed, log.err, README, the stage's status
sed 's/^seed = /sede = /' "$work/parameters/demo-connectome.toml" > "$work/parameters/typo.toml"
cat > "$work/experiments/typo.toml" <<EOF
stage = "connectome"
parameters_file = "../parameters/typo.toml"
output_dir = "../runs/typo"
log_file = "../runs/experiments.jsonl"
EOF
"$SNNFIT" run "$work/experiments/typo.toml" --quiet > "$work/typo.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/typo.log"; fail "a bad parameter file gave status $rc, not the stage's 2"; }
grep -q "sede" "$work/typo.log" || fail "the stage's message is not printed"
[ -f "$work/runs/typo/log.err" ] || fail "no log.err"
grep -q "sede" "$work/runs/typo/log.err" && grep -q "exit status: 2" "$work/runs/typo/log.err" || fail "log.err: $(cat "$work/runs/typo/log.err")"
grep -q "FAILED" "$work/runs/typo/README.md" || fail "README.md does not say FAILED"
"$PY" - "$work" <<'PYEOF' || fail "failed metadata"
import json, sys
work = sys.argv[1]
m = json.load(open(f"{work}/runs/typo/metadata.json"))
assert m["status"] == "failed" and m["exit_status"] == 2 and "sede" in m["error"], m
assert m["error_file"] == "log.err" and m["duration_seconds"] >= 0 and m["end_time"], m
last = json.loads(open(f"{work}/runs/experiments.jsonl").read().splitlines()[-1])
assert last["status"] == "failed" and last["output_dir"] == f"{work}/runs/typo", last
PYEOF
echo "ok   a failing stage: status failed, log.err, README.md, the logged line, and the stage's exit status"

# the copy strategy (files and folders), and a [wandb] table recorded as given
cat > "$work/experiments/copy.toml" <<EOF
stage = "connectome"
parameters_file = "../parameters/demo-connectome.toml"
output_dir = "../runs/copy"
description = "copies, \"quotes\" and ümlauts"
[[data.inputs]]
path = "../runs/demo-3-teacher/results/spike_data.zarr"
strategy = "copy"
[[data.inputs]]
path = "../runs/demo-1-connectome/network_structure.npz"
strategy = "copy"
[wandb]
enabled = true
project = "snnfit-tests"
tags = ["a", "b"]
EOF
"$SNNFIT" run "$work/experiments/copy.toml" --quiet > "$work/copy.log" 2>&1 || { cat "$work/copy.log"; fail "copy strategy"; }
[ -d "$work/runs/copy/inputs/spike_data.zarr" ] && [ ! -L "$work/runs/copy/inputs/spike_data.zarr" ] || fail "the folder was not copied"
[ -f "$work/runs/copy/inputs/network_structure.npz" ] && [ ! -L "$work/runs/copy/inputs/network_structure.npz" ] || fail "the file was not copied"
diff -r "$work/runs/copy/inputs/spike_data.zarr" "$work/runs/demo-3-teacher/results/spike_data.zarr" > /dev/null || fail "the copy differs"
"$PY" - "$work" <<'PYEOF' || fail "copy metadata"
import json, sys
work = sys.argv[1]
m = json.load(open(f"{work}/runs/copy/metadata.json"))
assert m["description"] == 'copies, "quotes" and \u00fcmlauts', m["description"]
assert m["wandb"] == {"enabled": True, "project": "snnfit-tests", "tags": ["a", "b"]}, m["wandb"]
assert [i["strategy"] for i in m["inputs"]] == ["copy", "copy"]
PYEOF
echo "ok   the copy strategy copies files and folders; [wandb] is recorded"

# the reference's experiment files run unchanged: `script` (a path of the reference's repository)
# names the stage, relative paths resolve against the reference's repository root (the folder that
# holds parameters/...), whatever the current folder, and its [wandb] keys are accepted
ref="$work/ref"
mkdir -p "$ref/parameters" "$ref/workspace"
cp "$work/parameters/demo-connectome.toml" "$work/parameters/demo-teacher.toml" "$ref/parameters/"
cat > "$ref/workspace/experiment.toml" <<EOF
script = "scripts/network_inference/generate_connectome.py"
output_dir = "workspace/runs/connectome"
parameters_file = "parameters/demo-connectome.toml"
log_file = "workspace/experiments.jsonl"
description = "the reference's experiment.toml"

[data]

[wandb]
enabled = false
project = "connectome-snns"
entity = "lab"
tags = ["demo"]
notes = "reference keys"
EOF
cat > "$ref/workspace/teacher.toml" <<EOF
script = "scripts/fitting_activity/generate_teacher_activity.py"
output_dir = "workspace/runs/teacher"
parameters_file = "parameters/demo-teacher.toml"
log_file = "workspace/experiments.jsonl"

[[data.inputs]]
path = "workspace/runs/connectome/network_structure.npz"
strategy = "symlink"
EOF
(cd / && "$SNNFIT" run "$ref/workspace/experiment.toml" --quiet) > "$work/ref1.log" 2>&1 \
  || { cat "$work/ref1.log"; fail "a reference experiment file (generate_connectome.py)"; }
(cd "$work" && "$SNNFIT" run "$ref/workspace/teacher.toml" --quiet) > "$work/ref2.log" 2>&1 \
  || { cat "$work/ref2.log"; fail "a reference experiment file (generate_teacher_activity.py)"; }
[ -d "$ref/workspace/runs/teacher/results/spike_data.zarr" ] || fail "the reference teacher experiment wrote no store"
# the other two stage scripts name their stages (here with another stage's parameter file, which the
# stage itself refuses: metadata.json shows which stage ran)
for pair in homeostatic_plasticity/backprop_hp.py:homeostatic fitting_activity/train_student.py:train; do
  printf 'script = "scripts/%s"\noutput_dir = "workspace/runs/%s"\nparameters_file = "parameters/demo-connectome.toml"\nlog_file = "workspace/experiments.jsonl"\n' \
    "${pair%%:*}" "${pair#*:}" > "$ref/workspace/${pair#*:}.toml"
  "$SNNFIT" run "$ref/workspace/${pair#*:}.toml" --quiet > /dev/null 2>&1
  [ $? -eq 2 ] || fail "${pair%%:*} with a stage-1 parameter file should fail in its stage"
done
"$PY" - "$ref" <<'PYEOF' || fail "reference experiment metadata"
import json, sys
ref = sys.argv[1]
expect = {"connectome": ("scripts/network_inference/generate_connectome.py", "completed"),
          "teacher": ("scripts/fitting_activity/generate_teacher_activity.py", "completed"),
          "homeostatic": ("scripts/homeostatic_plasticity/backprop_hp.py", "failed"),
          "train": ("scripts/fitting_activity/train_student.py", "failed")}
for stage, (script, status) in expect.items():
    m = json.load(open(f"{ref}/workspace/runs/{stage}/metadata.json"))
    assert m["stage"] == stage and m["script"] == script and m["status"] == status, m
    assert m["parameters_file"].startswith(f"{ref}/parameters/"), m["parameters_file"]
m = json.load(open(f"{ref}/workspace/runs/connectome/metadata.json"))
assert m["wandb"] == {"enabled": False, "project": "connectome-snns", "entity": "lab", "tags": ["demo"],
                      "notes": "reference keys"}, m["wandb"]
assert len(open(f"{ref}/workspace/experiments.jsonl").read().splitlines()) == 4
PYEOF
echo "ok   the reference's experiment files (script = scripts/...py, paths from its repository root) run unchanged"

# bad experiment files: status 2, a message naming the file and key, nothing written
bad() { # bad NAME EXPECTED-TEXT (the experiment text on stdin)
  cat > "$work/experiments/$1.toml"
  "$SNNFIT" run "$work/experiments/$1.toml" --overwrite --quiet > "$work/$1.log" 2>&1
  local rc=$?
  [ $rc -eq 2 ] || { cat "$work/$1.log"; fail "$1: status $rc, not 2"; }
  grep -q "$1.toml" "$work/$1.log" && grep -q -- "$2" "$work/$1.log" || { cat "$work/$1.log"; fail "$1: message"; }
  [ ! -e "$work/runs/$1" ] || fail "$1: the output folder was created"
}
printf 'stage = "connectome"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "../runs/b1"\nlog_fle = "x"\n' \
  | bad b1 "did you mean 'log_file'"
printf 'stage = "conectome"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "../runs/b2"\n' \
  | bad b2 "did you mean 'connectome'"
printf 'stage = "teacher"\nparameters_file = "../parameters/nope.toml"\noutput_dir = "../runs/b3"\n' \
  | bad b3 "parameters_file"
printf 'stage = "train"\nparameters_file = "../parameters/demo-train.toml"\noutput_dir = "../runs/b4"\n[[data.inputs]]\npath = "../runs/demo-3-teacher/inputs/network_structure.npz"\nstrategy = "symlink"\n[[data.inputs]]\npath = "../runs/demo-1-connectome/network_structure.npz"\nstrategy = "copy"\n' \
  | bad b4 "same name"
printf 'stage = "train"\nparameters_file = "../parameters/demo-train.toml"\noutput_dir = "../runs/b5"\n[[data.inputs]]\npath = "../runs/missing.npz"\nstrategy = "symlink"\n' \
  | bad b5 "missing.npz"
printf 'stage = "train"\nparameters_file = "../parameters/demo-train.toml"\noutput_dir = "../runs/b6"\n[[data.inputs]]\npath = "../runs/demo-1-connectome/network_structure.npz"\nstrategy = "link"\n' \
  | bad b6 "symlink"
printf 'stage = "train"\nparameters_file = "../parameters/demo-train.toml"\n' | bad b7 "output_dir"
# --overwrite never removes a folder holding the experiment file (or the parameters, inputs, log)
printf 'stage = "connectome"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "."\n' \
  | bad b8 "contains the experiment file"
[ -f "$work/experiments/demo-1-connectome.toml" ] || fail "--overwrite removed the experiments folder"
printf 'stage = "connectome"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "../parameters"\n' \
  | bad b9 "contains parameters_file"
printf 'script = "scripts/fitting_activity/plot_odourants.py"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "../runs/b10"\n' \
  | bad b10 "snnfit odourants EXP"
printf 'script = "scripts/foo.py"\nparameters_file = "../parameters/demo-connectome.toml"\noutput_dir = "../runs/b11"\n' \
  | bad b11 "unknown script"
printf 'stage = "train"\nscript = "scripts/fitting_activity/train_student.py"\nparameters_file = "../parameters/demo-train.toml"\noutput_dir = "../runs/b12"\n' \
  | bad b12 "either stage or script"
[ "$(wc -l < "$log")" -eq 6 ] || fail "a refused experiment was logged"
echo "ok   bad experiment files and unsafe output folders are refused with status 2 before anything is written"
