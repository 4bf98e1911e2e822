#!/usr/bin/env bash
# A real connectome through `snnfit import`: the C. elegans hermaphrodite chemical synapses of White
# et al. (1986) (tests/data/celegans/, converted by tests/celegans_to_import.py). The imported network
# has the matrices the conversion script computes on its own (synapse counts x the weight scale, the
# 26 GABAergic neurons inhibitory, the 24 amphid sensory neurons as inputs, the connections onto them
# dropped and reported), the id map names every neuron, and the network simulates (snnfit simulate on
# Poisson input at the amphid neurons).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" tests/celegans_to_import.py "$work/csv" > "$work/convert.log" || fail "conversion script"
cat "$work/convert.log"
"$SNNFIT" import --edges "$work/csv/edges.csv" --neurons "$work/csv/neurons.csv" \
  --mapping tests/data/celegans/mapping.toml --type-column cell_type --input-column input \
  --weight-scale 0.05 -o "$work/worm" > "$work/import.log" 2> "$work/import.err" \
  || { cat "$work/import.err"; fail "import"; }
grep -q "273 recurrent neurons, 24 inputs" "$work/import.log" || { cat "$work/import.log"; fail "wrong neuron counts"; }
grep -q "warning: 111 edges onto input neurons dropped" "$work/import.err" || { cat "$work/import.err"; fail "dropped edges not reported"; }
grep -q "edges.csv:[0-9]*: edge onto input neuron" "$work/import.err" || fail "dropped edges not listed with their line"
"$PY" - "$work/worm" "$work/csv/expected.npz" "$work/csv/neurons.csv" <<'PYEOF' || fail "imported network differs from the conversion script's"
import csv, sys
import numpy as np
out, exp_path, neurons = sys.argv[1:]
net, exp = np.load(f"{out}/network_structure.npz"), np.load(exp_path)
name_of = {int(r["root_id"]): r["name"] for r in csv.DictReader(open(neurons))}
ids = list(csv.DictReader(open(f"{out}/neuron_ids.csv")))
order = [name_of[int(r["id"])] for r in ids]
assert order == list(exp["names"]), "neuron order"
assert [r["layer"] for r in ids].count("feedforward") == 24
W, Wff = net["recurrent_weights"], net["feedforward_weights"]
# synapse count x scale in float64, stored as float32
assert np.array_equal(W, (exp["W"].astype(np.float64) * 0.05).astype(np.float32)), "recurrent weights"
assert np.array_equal(Wff, (exp["W_ff"].astype(np.float64) * 0.05).astype(np.float32)), "feedforward weights"
assert np.array_equal(net["recurrent_connectivity"], exp["W"] > 0)
inh = net["cell_type_indices"] == 1
assert np.array_equal(inh, exp["inhibitory"]) and inh.sum() == 26, inh.sum()
assert (net["feedforward_cell_type_indices"] == 0).all()
print(f"imported: {int((W > 0).sum())} recurrent and {int((Wff > 0).sum())} feedforward connections, "
      f"{int(round(W.sum() / 0.05 + Wff.sum() / 0.05))} synapses")
PYEOF

sed -e 's/mitral/amphid/g' -e 's/^duration = .*/duration = 1000.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    parameters/demo-teacher.toml > "$work/worm.toml"
printf '\n[feedforward.activity.amphid]\nfiring_rate = 20.0\n' >> "$work/worm.toml"
"$SNNFIT" simulate "$work/worm.toml" -i "$work/worm" -o "$work/sim" --quiet > "$work/sim.log" \
  || { cat "$work/sim.log"; fail "simulate"; }
"$PY" - "$work/sim/simulation.npz" <<'PYEOF' || fail "simulation output"
import sys
import numpy as np
s = np.load(sys.argv[1])
out = s["output_spikes"]
assert out.shape == (2, 1000, 273), out.shape
assert s["input_spikes"].shape == (2, 1000, 24)
assert out.sum() > 0, "the worm is silent"
print(f"simulated: {int(out.sum())} spikes of {int((out.sum(axis=(0, 1)) > 0).sum())} neurons in 2 x 1 s")
PYEOF
echo "celegans OK"
