#!/usr/bin/env bash
# snnfit sweep (docs/sweeps.md): a product sweep of stage 1 over two axes (every point a tracked run,
# its parameter file the base file with the point's values, the summary's values those of the
# points' own files, a heatmap); running it again skips the completed points and runs only new ones;
# a zip sweep of `simulate` with a point that fails at run time (recorded, the others go on, exit 1);
# bad sweep files refused before anything is written; the points shared by mpirun's ranks and by the
# tasks of a Slurm job array (emulated by its environment variables).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=1

# the shipped example, beside a shortened copy of its parameter file; an output_dir, which -o overrides
mkdir -p "$work/sw" "$work/parameters"
sed -e 's/^duration = .*/duration = 300.0/' -e 's/^chunk_size = .*/chunk_size = 100/' \
    parameters/demo-connectome.toml > "$work/parameters/demo-connectome.toml"
cp "$work/parameters/demo-connectome.toml" "$work/sw/connectome.toml"
{ echo 'output_dir = "nowhere"'; cat experiments/demo-sweep.toml; } > "$work/sw/grid.toml"
sed -i 's|^parameters_file = .*|parameters_file = "connectome.toml"|' "$work/sw/grid.toml"
grep -q '^"simulation.seed" = \[1, 2\]$' "$work/sw/grid.toml" && grep -q '^"recurrent.topology.num_assemblies" = \[2, 4\]$' \
  "$work/sw/grid.toml" || fail "experiments/demo-sweep.toml does not have the axes this test expects"
out="$work/grid"
"$SNNFIT" sweep "$work/sw/grid.toml" -o "$out" --jobs 2 > "$work/grid.log" 2>&1 || { cat "$work/grid.log"; fail "product sweep"; }
grep -q "Running 4 points, 2 at a time" "$work/grid.log" || { cat "$work/grid.log"; fail "not 4 points, 2 at a time"; }
[ ! -e "$work/sw/nowhere" ] || fail "output_dir of the sweep file was used"
for p in seed=1_num_assemblies=2 seed=1_num_assemblies=4 seed=2_num_assemblies=2 seed=2_num_assemblies=4; do
  [ -f "$out/points/$p/network_structure.npz" ] || fail "point $p has no network"
  [ -f "$out/logs/$p.log" ] || fail "point $p has no log"
done
"$PY" - "$out" "$work/sw/connectome.toml" <<'PYEOF' || fail "product sweep outputs"
import csv, json, sys, tomllib
out, base_path = sys.argv[1:]
base = tomllib.load(open(base_path, "rb"))
rows = list(csv.DictReader(open(f"{out}/summary.csv")))
assert [r["point"] for r in rows] == ["seed=1_num_assemblies=2", "seed=1_num_assemblies=4",
                                      "seed=2_num_assemblies=2", "seed=2_num_assemblies=4"], [r["point"] for r in rows]
for r in rows:
    run = f"{out}/points/{r['point']}"
    seed, n_asm = int(r["simulation.seed"]), int(r["recurrent.topology.num_assemblies"])
    assert r["point"] == f"seed={seed}_num_assemblies={n_asm}", r
    m = json.load(open(f"{run}/metadata.json"))
    assert m["status"] == "completed" == r["status"] and r["exit_status"] == "0", (r, m["status"])
    assert abs(float(r["duration_seconds"]) - m["duration_seconds"]) < 1e-5 * max(1, m["duration_seconds"]), r
    # the point's parameters: the base file with exactly the axis values changed
    p = tomllib.load(open(f"{run}/parameters.toml", "rb"))
    want = json.loads(json.dumps(base))
    want["simulation"]["seed"] = seed
    want["recurrent"]["topology"]["num_assemblies"] = n_asm
    assert p == want, (r["point"], p, want)
    # the outcome: the point's own statistics files, value for value
    for a in csv.DictReader(open(f"{run}/activity_statistics.csv")):
        t = a["cell_type_name"]
        assert r[f"rate_hz/{t}"] == a["mean_firing_rate_hz"] and r[f"silent/{t}"] == a["n_silent_cells"], (r, a)
        assert r[f"cv/{t}"] == a["mean_cv"] and r[f"rate_std_hz/{t}"] == a["std_firing_rate_hz"], (r, a)
    n = 0
    for s in csv.DictReader(open(f"{run}/network_statistics.csv")):
        assert r[f"density/{s['layer']}/{s['source_type']}_to_{s['target_type']}"] == s["density"], (r, s)
        n += 1
    assert n == 6, n
# the density of E->E changes with the assemblies: the heatmap has something to show
dens = {r["point"]: float(r["density/recurrent/excitatory_to_excitatory"]) for r in rows}
assert dens["seed=1_num_assemblies=2"] != dens["seed=1_num_assemblies=4"], dens
png = open(f"{out}/summary_heatmap.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, len(png)
PYEOF
echo "ok   product sweep: 4 tracked points (2 at a time), their parameter files, summary values = their own files, heatmap"

# again: nothing to run; with a third seed: only the two new points run
stamp=$(stat -c %Y.%N "$out/points/seed=1_num_assemblies=2/metadata.json")
"$SNNFIT" sweep "$work/sw/grid.toml" -o "$out" > "$work/again.log" 2>&1 || { cat "$work/again.log"; fail "sweep again"; }
grep -q "Skipping 4 points completed before" "$work/again.log" || { cat "$work/again.log"; fail "completed points not skipped"; }
! grep -q "^Running" "$work/again.log" || fail "a completed point ran again"
[ "$(stat -c %Y.%N "$out/points/seed=1_num_assemblies=2/metadata.json")" = "$stamp" ] || fail "a completed point was touched"
sed -i 's/^"simulation.seed" = .*/"simulation.seed" = [1, 2, 3]/' "$work/sw/grid.toml"
"$SNNFIT" sweep "$work/sw/grid.toml" -o "$out" > "$work/more.log" 2>&1 || { cat "$work/more.log"; fail "sweep with a new seed"; }
grep -q "Skipping 4 points" "$work/more.log" && grep -q "Running 2 points" "$work/more.log" || { cat "$work/more.log"; fail "not just the new points ran"; }
[ "$(grep -c ',completed,' "$out/summary.csv")" -eq 6 ] || { cat "$out/summary.csv"; fail "the summary does not list 6 completed points"; }
echo "ok   running a sweep again skips its completed points; new axis values run only their points"

# --- a zip sweep of simulate on a network input; the third point tracks a neuron that does not exist
# (which only the run can know: the parameter file does not say how many neurons the network has)
"$SNNFIT" connectome "$work/sw/connectome.toml" -o "$work/net" --quiet > /dev/null || fail "connectome"
sed -e 's/^duration = .*/duration = 200.0/' -e 's/^batch_size = .*/batch_size = 2/' parameters/demo-teacher.toml > "$work/sw/sim.toml"
printf '\n[feedforward.activity.mitral]\nfiring_rate = 6.0\n\n[tracking]\ntrials = [1]\nneurons = [0, 1]\n' >> "$work/sw/sim.toml"
cat > "$work/sw/zip.toml" <<EOF
stage = "simulate"
parameters_file = "sim.toml"

[[data.inputs]]
path = "$work/net/network_structure.npz"
strategy = "symlink"

[sweep]
combine = "zip"

[sweep.axes]
simulation.seed = [5, 6, 7]       # a dotted key without quotes means the same
"tracking.neurons" = [[0], [7, 8], [500]]
EOF
"$SNNFIT" sweep "$work/sw/zip.toml" -o "$work/zip" --jobs 3 > "$work/zip.log" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$work/zip.log"; fail "a sweep with a failed point gave exit status $rc, expected 1"; }
grep -q "1 of 3 points run here failed" "$work/zip.log" || { cat "$work/zip.log"; fail "no message about the failed point"; }
"$PY" - "$work/zip" <<'PYEOF' || fail "zip sweep outputs"
import csv, json, sys
import numpy as np
out = sys.argv[1]
rows = {r["simulation.seed"]: r for r in csv.DictReader(open(f"{out}/summary.csv"))}
assert sorted(rows) == ["5", "6", "7"], rows.keys()
assert rows["7"]["tracking.neurons"] == "[500]" and rows["7"]["status"] == "failed" and rows["7"]["exit_status"] == "2", rows["7"]
assert "neuron 500 does not exist" in rows["7"]["error"], rows["7"]["error"]
m = json.load(open(f"{out}/points/{rows['7']['point']}/metadata.json"))
assert m["status"] == "failed" and "neuron 500" in m["error"], m
for s, neurons in (("5", [0]), ("6", [7, 8])):
    r = rows[s]
    assert r["status"] == "completed" and r["error"] == "", r
    z = np.load(f"{out}/points/{r['point']}/simulation.npz")
    assert list(z["tracked_neurons"]) == neurons and list(z["tracked_trials"]) == [1], (s, z["tracked_neurons"])
# different seeds, different Poisson inputs
a, b = (np.load(f"{out}/points/{rows[s]['point']}/simulation.npz")["input_spikes"] for s in ("5", "6"))
assert (a != b).any()
PYEOF
"$SNNFIT" sweep "$work/sw/zip.toml" -o "$work/zip" > "$work/zip2.log" 2>&1
grep -q "Skipping 2 points" "$work/zip2.log" && grep -q "Running 1 point," "$work/zip2.log" || { cat "$work/zip2.log"; fail "the failed point was not the only one run again"; }
echo "ok   zip sweep: a point failing at run time is recorded (status, exit status, error), the others complete; a re-run retries only it"

# --- a stage-4 sweep: final loss and factor errors from the points' metrics; the closed-loop r from each
# point's own fit report; empty once a point's report is gone (the sweep run again)
sed -e 's/^duration = .*/duration = 400.0/' -e 's/^batch_size = .*/batch_size = 2/' parameters/demo-teacher.toml \
  > "$work/sw/teacher.toml"
"$SNNFIT" teacher "$work/sw/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || fail "teacher"
sed -e 's/^epochs = .*/epochs = 4/' -e 's/^accumulation_interval = .*/accumulation_interval = 2/' \
    -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' -e 's/^plot_interval = .*/plot_interval = 4/' \
    parameters/demo-train.toml > "$work/sw/train.toml"
cat > "$work/sw/train-sweep.toml" <<EOF
stage = "train"
parameters_file = "train.toml"
[[data.inputs]]
path = "$work/teacher/results/spike_data.zarr"
strategy = "symlink"
[[data.inputs]]
path = "$work/teacher/inputs/network_structure.npz"
strategy = "symlink"
[sweep]
[sweep.axes]
"simulation.seed" = [44, 45]
EOF
"$SNNFIT" sweep "$work/sw/train-sweep.toml" -o "$work/train" --jobs 2 > "$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train sweep"; }
cp "$work/train/summary.csv" "$work/train-first.csv"
mv "$work/train/points/seed=44/final_state/fit_report.json" "$work/fit_report-44.json"
"$SNNFIT" sweep "$work/sw/train-sweep.toml" -o "$work/train" > "$work/train2.log" 2>&1 || fail "train sweep again"
"$PY" - "$work/train" "$work/train-first.csv" "$work/fit_report-44.json" <<'PYEOF' || fail "train sweep summary"
import csv, json, math, sys
out, first, report44 = sys.argv[1:]
rows = {r["point"]: r for r in csv.DictReader(open(f"{out}/summary.csv"))}
assert sorted(rows) == ["seed=44", "seed=45"], rows.keys()
for name, r in rows.items():
    last = list(csv.DictReader(open(f"{out}/points/{name}/training_metrics.csv")))[-1]
    assert r["status"] == "completed" and r["final_loss"] == last["total_loss"], (r, last["total_loss"])
    errs = []
    for k, v in last.items():
        if k.startswith("scaling_factors/") and k.endswith("/value") and v:
            e = abs(math.log(float(v) / float(last[k[:-6] + "/target"])))
            pair = k[len("scaling_factors/"):-len("/value")]
            assert abs(float(r[f"factor_error/{pair}"]) - e) <= 1e-5 * max(e, 1e-3), (pair, r[f"factor_error/{pair}"], e)
            errs.append(e)
    assert len(errs) == 6, errs
    assert abs(float(r["factor_error"]) - sum(errs) / len(errs)) <= 1e-5 * max(sum(errs), 1e-3), r["factor_error"]
# the closed-loop r over all types as each point's own fit report gives it (first run); seed=44's
# report moved away before the second run: its column is empty there, seed=45's row unchanged
reports = {"seed=44": report44, "seed=45": f"{out}/points/seed=45/final_state/fit_report.json"}
before = {r["point"]: r for r in csv.DictReader(open(first))}
for name, path in reports.items():
    want = json.load(open(path))["closed_loop"]["pearson_r_all_types"]
    assert isinstance(want, float) and before[name]["closed_loop_r"] == f"{want:.6g}", (name, before[name], want)
assert rows["seed=44"]["closed_loop_r"] == "" and rows["seed=45"] == before["seed=45"], (rows, before)
PYEOF
echo "ok   train sweep: final loss and factor errors (mean |log(SF / target)|) as the points' metrics say; closed-loop r from each point's fit report"

# --- bad sweep files: exit 2, one message, nothing written
expect_bad() {
  local name=$1 needle=$2 file=$3
  "$SNNFIT" sweep "$file" -o "$work/bad" > "$work/bad.out" 2> "$work/bad.err"
  local rc=$?
  [ $rc -eq 2 ] || { cat "$work/bad.err"; fail "$name: exit status $rc, expected 2"; }
  grep -qF -- "$needle" "$work/bad.err" || { cat "$work/bad.err"; fail "$name: message lacks '$needle'"; }
  [ ! -e "$work/bad" ] || fail "$name: the output folder was written"
  echo "ok   $name: $(head -c 200 "$work/bad.err")"
}
sed 's/^"recurrent.topology.num_assemblies" = .*/"recurrent.topology.num_assembly" = [2, 4]/' "$work/sw/grid.toml" > "$work/sw/typo.toml"
expect_bad unknown_axis_key "did you mean 'recurrent.topology.num_assemblies'" "$work/sw/typo.toml"
sed 's/^"tracking.neurons" = .*/"tracking.neurons" = [[0], [1]]/' "$work/sw/zip.toml" > "$work/sw/short.toml"
grep -q '\[\[0\], \[1\]\]' "$work/sw/short.toml" || fail "short.toml"
expect_bad zip_lengths "zip needs lists of one length" "$work/sw/short.toml"
sed 's/^"simulation.seed" = .*/"simulation.seed" = [1, -3]/' "$work/sw/grid.toml" > "$work/sw/neg.toml"
expect_bad bad_value "seed=-3" "$work/sw/neg.toml"
sed 's/^heatmap = .*/heatmap = "rate"/' "$work/sw/grid.toml" > "$work/sw/heat.toml"
expect_bad heatmap_column "heatmap: 'rate' is not a column" "$work/sw/heat.toml"
sed 's/^"simulation.seed" = .*/"simulation.seed" = [1, 1]/' "$work/sw/grid.toml" > "$work/sw/dup.toml"
expect_bad repeated_point "are the same point" "$work/sw/dup.toml"
mkdir -p "$work/bad" && touch "$work/bad/x"
"$SNNFIT" sweep "$work/sw/grid.toml" -o "$work/bad" > /dev/null 2> "$work/bad.err"
[ $? -eq 2 ] && grep -q "holds no sweep" "$work/bad.err" || { cat "$work/bad.err"; fail "a non-sweep output folder was not refused"; }
rm -rf "$work/bad"

# --- the points shared by the tasks of a Slurm job array (ids 3, 4, 5: the environment Slurm sets);
# not repeated by the sanitizer pass (the sharing is the same code as under mpirun, run above)
if [ "${SNNFIT_SANITIZED:-0}" = 1 ]; then echo "skip job array and mpirun sweeps in the sanitizer pass"; exit 0; fi
sed -i 's/^"simulation.seed" = .*/"simulation.seed" = [1, 2]/' "$work/sw/grid.toml"
for id in 3 4 5; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=5 SLURM_ARRAY_TASK_COUNT=3 \
    "$SNNFIT" sweep "$work/sw/grid.toml" -o "$work/array" > "$work/array$id.log" 2>&1 &
done
wait
grep -q "Running 2 points" "$work/array3.log" && grep -q "Running 1 point," "$work/array4.log" \
  && grep -q "Running 1 point," "$work/array5.log" || { cat "$work"/array*.log; fail "array tasks did not share the 4 points 2/1/1"; }
"$SNNFIT" sweep "$work/sw/grid.toml" -o "$work/array" > "$work/array.log" 2>&1 || fail "summary after the array"
grep -q "Skipping 4 points" "$work/array.log" || fail "the array did not complete the points"
cut -d, -f1-5 "$out/summary.csv" | head -5 > "$work/a.csv"
cut -d, -f1-5 "$work/array/summary.csv" > "$work/b.csv"
diff <(grep -v seed=3 "$work/a.csv") "$work/b.csv" > /dev/null || fail "the array's summary differs from the single process's"
echo "ok   Slurm job array: 3 tasks share 4 points (2/1/1), summary as one process's"

# --- the points shared by mpirun's ranks
if [ "${SNNFIT_SANITIZED:-0}" != 1 ] && command -v mpirun > /dev/null && "$SNNFIT" --version | grep -q '^MPI: built in'; then
  timeout -k 5 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$SNNFIT" sweep "$work/sw/grid.toml" -o "$work/mpi" \
    > "$work/mpi.log" 2>&1 || { cat "$work/mpi.log"; fail "sweep under mpirun -np 2"; }
  grep -q "Shared by 2 processes (2 MPI ranks" "$work/mpi.log" || { cat "$work/mpi.log"; fail "not shared by 2 ranks"; }
  cut -d, -f1-5 "$work/mpi/summary.csv" > "$work/c.csv"
  diff "$work/b.csv" "$work/c.csv" > /dev/null || fail "the mpirun summary differs"
  for p in seed=1_num_assemblies=2 seed=2_num_assemblies=4; do
    cmp "$out/points/$p/network_structure.npz" "$work/mpi/points/$p/network_structure.npz" || fail "mpirun point $p differs"
  done
  echo "ok   mpirun -np 2: the ranks share the points, summary and networks as one process's"
else
  echo "skip mpirun sweep (no mpirun, a build without MPI, or the sanitizer build)"
fi
