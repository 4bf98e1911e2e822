#!/usr/bin/env bash
# Stages 1 and 3 and simulate on the demo network: the files they write open with numpy and
# python3-zarr with the spec's keys, shapes and dtypes; the teacher store is byte-identical with 1 and
# 2 threads; simulate on the recorded inputs reproduces the teacher's spikes.
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
OMP_NUM_THREADS=1 "$SNNFIT" teacher "$params_teacher" -i "$work/net" -o "$work/teacher1" --quiet > "$work/teacher1.log"
diff -r "$work/teacher1" "$work/teacher2"
echo "teacher outputs byte-identical with 1 and 2 threads"
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
echo "pipeline OK"
