#!/usr/bin/env bash
# Stages 1 and 3 and simulate on the demo network: the files they write open with numpy and
# python3-zarr with the spec's keys, shapes and dtypes; the teacher store is byte-identical with 1 and
# 2 threads; simulate on the recorded inputs reproduces the teacher's spikes; simulate tracks a few
# neurons by default, all on request, and refuses a request that cannot fit.
set -euo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
params_net=parameters/demo-connectome.toml
params_teacher=parameters/demo-teacher.toml

"$SNNFIT" connectome "$params_net" -o "$work/net" --quiet > "$work/connectome.log"
grep -q "Network structure saved" "$work/connectome.log"
cmp "$params_net" "$work/net/parameters.toml"

OMP_NUM_THREADS=2 "$SNNFIT" teacher "$params_teacher" -i "$work/net" -o "$work/teacher2" --quiet > "$work/teacher2.log"
# thread-count independence: the release pass (under the sanitizers the second run repeats the same code)
if [ "${SNNFIT_SANITIZED:-0}" = 0 ]; then
  OMP_NUM_THREADS=1 "$SNNFIT" teacher "$params_teacher" -i "$work/net" -o "$work/teacher1" --quiet > "$work/teacher1.log"
  diff -r "$work/teacher1" "$work/teacher2"
  echo "teacher outputs byte-identical with 1 and 2 threads"
fi
# the console says where the results are
grep -q "All data saved to $work/teacher2/results/spike_data.zarr" "$work/teacher2.log"

"$SNNFIT" simulate "$params_teacher" -i "$work/net" --inputs "$work/teacher2/results/spike_data.zarr" \
  -o "$work/sim" --quiet > "$work/sim.log"
"$PY" tests/py/check_stage_outputs.py "$work/net" "$work/teacher2" "$params_teacher" "$work/sim/simulation.npz"

# simulate on Poisson inputs at the [feedforward.activity] rates, with tracking of chosen neurons
sed 's/^duration = .*/duration = 500.0/; s/^batch_size = .*/batch_size = 2/' "$params_teacher" > "$work/sim.toml"
cat >> "$work/sim.toml" <<TOML
[feedforward.activity.mitral]
firing_rate = 15.0
[tracking]
trials = [0, 1]
neurons = [0, 5, 17]
TOML
"$SNNFIT" simulate "$work/sim.toml" -i "$work/net/network_structure.npz" -o "$work/sim2" --quiet > /dev/null
"$PY" - "$work/sim2/simulation.npz" "$work/net/network_structure.npz" <<'PYEOF'
import sys, numpy as np
s = np.load(sys.argv[1])
ct = np.load(sys.argv[2])["cell_type_indices"]
assert s["output_spikes"].shape[:2] == (2, 500), s["output_spikes"].shape
assert list(s["tracked_trials"]) == [0, 1] and list(s["tracked_neurons"]) == [0, 5, 17]
v = s["voltages"]
assert v.shape == (2, 500, 3)
# tracked voltage stays between the reset potential and a little above threshold
assert v.min() >= -70.0 and v.max() < 0, (v.min(), v.max())
# a tracked neuron spikes exactly at the steps after its voltage exceeded its threshold
theta = np.array([-38.0, -45.0])
for b in range(2):
    for q, j in enumerate([0, 5, 17]):
        crossed = v[b, :-1, q] > theta[ct[j]]
        assert np.array_equal(s["output_spikes"][b, 1:, j], crossed), (b, j)
assert s["output_spikes"][:, :, [0, 5, 17]].sum() > 0, "tracked neurons never spiked"
print("simulate with tracking OK")
PYEOF

# default tracking: the first 5 neurons of each cell type of trial 0; neurons = "all": every neuron;
# a request that cannot fit in memory is refused with its size before anything is written
sed 's/^duration = .*/duration = 300.0/' "$params_teacher" > "$work/sim3.toml"
printf '[feedforward.activity.mitral]\nfiring_rate = 15.0\n' >> "$work/sim3.toml"
"$SNNFIT" simulate "$work/sim3.toml" -i "$work/net" -o "$work/sim3" --quiet > "$work/sim3.log"
grep -q "^Tracking 10 neurons (.*: the first 5 of each cell type) in 1 trial" "$work/sim3.log"
cp "$work/sim3.toml" "$work/sim4.toml"
printf '[tracking]\nneurons = "all"\n' >> "$work/sim4.toml"
"$SNNFIT" simulate "$work/sim4.toml" -i "$work/net" -o "$work/sim4" --quiet > /dev/null
"$PY" - "$work/sim3/simulation.npz" "$work/sim4/simulation.npz" "$work/net/network_structure.npz" <<'PYEOF'
import sys, numpy as np
few, every = np.load(sys.argv[1]), np.load(sys.argv[2])
ct = np.load(sys.argv[3])["cell_type_indices"]
expect = sorted(list(np.flatnonzero(ct == 0)[:5]) + list(np.flatnonzero(ct == 1)[:5]))
assert list(few["tracked_neurons"]) == expect, (few["tracked_neurons"], expect)
assert few["voltages"].shape == (1, 300, 10) and every["voltages"].shape == (1, 300, len(ct))
assert list(every["tracked_neurons"]) == list(range(len(ct)))
# the same run: the default's traces are the full run's for those neurons
assert np.array_equal(few["voltages"][0], every["voltages"][0][:, expect])
assert np.array_equal(few["output_spikes"], every["output_spikes"])
print("simulate default and 'all' tracking OK")
PYEOF
sed -e 's/^duration = .*/duration = 10000000.0/' -e 's/^batch_size = .*/batch_size = 4/' "$params_teacher" > "$work/huge.toml"
printf '[feedforward.activity.mitral]\nfiring_rate = 15.0\n[tracking]\ntrials = [0, 1, 2, 3]\nneurons = "all"\n' >> "$work/huge.toml"
rc=0
"$SNNFIT" simulate "$work/huge.toml" -i "$work/net" -o "$work/huge" > /dev/null 2> "$work/huge.err" || rc=$?
[ $rc -eq 2 ] || { echo "a run that cannot fit: exit $rc, expected 2"; exit 1; }
grep -q "huge.toml: the run needs [0-9.]* GB, more than the [0-9.]* GB of memory available" "$work/huge.err"
[ ! -e "$work/huge" ]
echo "simulate refuses a tracking request that does not fit: $(cat "$work/huge.err")"
# a stage-1 network (no learned scaling factors) gets a note, and runaway rates on it a warning that
# points to stage 2 (synapses 3x stronger make the demo network run away)
sed -e 's/^duration = .*/duration = 500.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    -e 's/^g_bar = \[4.177, 0.448\] /g_bar = [12.0, 1.2]/' "$params_teacher" > "$work/runaway.toml"
"$SNNFIT" teacher "$work/runaway.toml" -i "$work/net" -o "$work/runaway" --quiet > "$work/runaway.log"
grep -q "^Note: $work/net/network_structure.npz has no learned scaling factors" "$work/runaway.log"
grep -q "^Warning: these rates look like runaway activity of an untuned network" "$work/runaway.log"
grep -q "snnfit homeostatic STAGE2.toml -i $work/net/network_structure.npz -o HP" "$work/runaway.log"
if grep -q "^Warning" "$work/teacher2.log"; then echo "a warning for the demo teacher"; exit 1; fi
echo "teacher: a note for an untuned network, a warning when it runs away"
echo "pipeline OK"
