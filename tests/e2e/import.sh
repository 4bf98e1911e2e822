#!/usr/bin/env bash
# snnfit import on hand-made CSVs:
#  - a correct small network (64-bit and negative ids, FlyWire's column names, one row per neuropil
#    summed, a neuron typed by its edges' transmitter, inputs by an input column, groups as
#    assemblies) gives the matrices written out by hand here, and its simulation is byte for byte the
#    simulation of the same network built directly with numpy; the id map lists every neuron;
#  - every problem is reported with its file and line and status 2, and nothing is written: malformed
#    rows, ids and weights, a negative weight, an unknown id, duplicate edges (reject; keep takes the
#    first), self-loops (reject; drop reports them), a missing or unknown cell type, an unknown
#    transmitter, a duplicate neuron id, a missing column, an open quote; one run lists every problem;
#  - TSV input and column-name options.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$work/map.toml" <<'TOML'
[recurrent]
cell_types = ["excitatory", "inhibitory"]
[feedforward]
cell_types = ["mitral"]
[cell_types]
ACH = "excitatory"
GABA = "inhibitory"
GLUT = "inhibitory"
ORN = "mitral"
[transmitters]
ACH = "excitatory"
GABA = "inhibitory"
GLUT = "inhibitory"
[inputs]
values = ["1", "sensory"]
TOML
# neurons in file order: recurrent 0 = 720575940621039145 (E, group A), 1 = 5 (I, A), 2 = -3 (E, B),
# 3 = 9000000000000000000 (no type: its edges say GABA -> inhibitory, B), 4 = 7 (E, no group);
# inputs 0 = 42, 1 = 43
cat > "$work/neurons.csv" <<'CSV'
root_id,nt_type,group,is_input
720575940621039145,ACH,A,0
5,GABA,A,
-3,ACH,B,0
42,ORN,,1
9000000000000000000,,B,0
43,ACH,,sensory
7,ACH,,0
CSV
cat > "$work/edges.csv" <<'CSV'
pre_root_id,post_root_id,neuropil,syn_count,nt_type
720575940621039145,5,AL_L,3,ACH
720575940621039145,5,MB_R,2,ACH
5,720575940621039145,AL_L,4,GABA
-3,9000000000000000000,AL_L,1.5,ACH
9000000000000000000,-3,AL_L,6,GABA
9000000000000000000,7,LH_R,2,GABA
7,-3,LH_R,0,ACH
42,720575940621039145,AL_L,5,
42,-3,AL_L,1,
43,7,AL_R,2,
5,42,AL_L,9,GABA
7,7,LH_R,1,ACH
720575940621039145,5,LH_R,1,ACH
CSV
"$SNNFIT" import --edges "$work/edges.csv" --neurons "$work/neurons.csv" --mapping "$work/map.toml" \
  --group-column group --input-column is_input -o "$work/net" > "$work/ok.log" 2> "$work/ok.err" \
  || { cat "$work/ok.err"; fail "import of the correct network"; }
grep -q "5 recurrent neurons, 2 inputs; 6 recurrent and 3 feedforward synapses" "$work/ok.log" || { cat "$work/ok.log"; fail "counts"; }
grep -q "Summed 2 duplicate edges" "$work/ok.log" || fail "duplicates not summed"
grep -q "edges.csv:12: edge onto input neuron 42 dropped" "$work/ok.err" || { cat "$work/ok.err"; fail "edge onto an input not reported"; }
grep -q "edges.csv:13: self-loop of neuron 7 dropped" "$work/ok.err" || fail "self-loop not reported"
"$PY" - "$work" <<'PYEOF' || fail "the imported network is not the one written by hand"
import csv, sys
import numpy as np
d = sys.argv[1]
z = np.load(f"{d}/net/network_structure.npz")
W = np.zeros((5, 5), np.float32)
W[0, 1] = 3 + 2 + 1   # three neuropil rows summed
W[1, 0] = 4
W[2, 3] = 1.5
W[3, 2] = 6
W[3, 4] = 2
C = W > 0
C[4, 2] = True        # weight 0: still a synapse
Wff = np.zeros((2, 5), np.float32)
Wff[0, 0], Wff[0, 2], Wff[1, 4] = 5, 1, 2
assert np.array_equal(z["recurrent_weights"], W), z["recurrent_weights"]
assert np.array_equal(z["recurrent_connectivity"], C)
assert np.array_equal(z["feedforward_weights"], Wff)
assert list(z["cell_type_indices"]) == [0, 1, 0, 1, 0], z["cell_type_indices"]
assert list(z["feedforward_cell_type_indices"]) == [0, 0]
assert list(z["assembly_ids"]) == [0, 0, 1, 1, -1], z["assembly_ids"]
rows = list(csv.DictReader(open(f"{d}/net/neuron_ids.csv")))
assert [(r["layer"], r["index"], r["id"], r["cell_type"]) for r in rows] == [
    ("recurrent", "0", "720575940621039145", "excitatory"), ("recurrent", "1", "5", "inhibitory"),
    ("recurrent", "2", "-3", "excitatory"), ("recurrent", "3", "9000000000000000000", "inhibitory"),
    ("recurrent", "4", "7", "excitatory"), ("feedforward", "0", "42", "mitral"), ("feedforward", "1", "43", "mitral")], rows
assert [r["group"] for r in rows[:5]] == ["A", "A", "B", "B", ""]
# the same network built directly, as the reference's files are
import os
os.makedirs(f"{d}/direct")
np.savez(f"{d}/direct/network_structure.npz", recurrent_weights=W, feedforward_weights=Wff,
         recurrent_connectivity=C, feedforward_connectivity=Wff > 0,
         cell_type_indices=np.array([0, 1, 0, 1, 0]), feedforward_cell_type_indices=np.array([0, 0]),
         assembly_ids=np.array([0, 0, 1, 1, -1], np.int32))
PYEOF
sed -e 's/^duration = .*/duration = 800.0/' -e 's/^batch_size = .*/batch_size = 2/' parameters/demo-teacher.toml > "$work/sim.toml"
printf '\n[feedforward.activity.mitral]\nfiring_rate = 40.0\n' >> "$work/sim.toml"
for n in net direct; do
  "$SNNFIT" simulate "$work/sim.toml" -i "$work/$n" -o "$work/sim-$n" --quiet > /dev/null || fail "simulate $n"
done
cmp -s "$work/sim-net/simulation.npz" "$work/sim-direct/simulation.npz" || fail "simulations differ"
"$PY" -c "import numpy as np, sys; s = np.load(sys.argv[1]); assert s['output_spikes'].sum() > 0, 'no spikes'" \
  "$work/sim-net/simulation.npz" || fail "the imported network never spikes"
echo "ok   a correct network: the matrices written by hand, and the simulation of the directly built network"

# ---- errors: each case is (edges, neurons, extra options, expected message)
n=0
bad() { # bad "EDGES" "NEURONS" "OPTIONS" "MESSAGE..."
  local edges=$1 neurons=$2 opts=$3; shift 3
  n=$((n + 1))
  local d="$work/bad$n"
  mkdir -p "$d"
  printf '%s\n' "$edges" > "$d/edges.csv"
  printf '%s\n' "$neurons" > "$d/neurons.csv"
  # shellcheck disable=SC2086
  "$SNNFIT" import --edges "$d/edges.csv" --neurons "$d/neurons.csv" --mapping "$work/map.toml" $opts \
    -o "$d/out" > "$d/log" 2>&1
  local rc=$?
  [ $rc -eq 2 ] || { cat "$d/log"; fail "case $n: status $rc, expected 2"; }
  [ ! -e "$d/out" ] || fail "case $n: wrote an output folder"
  for m in "$@"; do
    grep -qF -- "$m" "$d/log" || { cat "$d/log"; fail "case $n: no \"$m\""; }
  done
}
N='root_id,nt_type
1,ACH
2,GABA
3,ACH'
H='pre_root_id,post_root_id,syn_count'
bad "$H
1,2,3
2,3" "$N" "" "edges.csv:3: malformed row: 2 fields, the header has 3"
bad "$H
1,2,3" 'root_id,nt_type
1,ACH
abc,GABA
2,GABA' "" "neurons.csv:3: malformed row: id 'abc' is not a 64-bit integer"
bad "$H
1,2,x" "$N" "" "edges.csv:2: malformed row: weight 'x' is not a finite number"
bad "$H
1,2,nan" "$N" "" "edges.csv:2: malformed row: weight 'nan'"
bad "$H
1,2,-4" "$N" "" "edges.csv:2: negative weight -4"
bad "$H
1,2,1
2,99,1" "$N" "" "edges.csv:3: unknown id 99"
bad "$H
1,2,1
2,3,1
1,2,5" "$N" "--duplicates reject" "edges.csv:4: duplicate edge 1 -> 2 (first on line 2)"
bad "$H
1,2,1
3,3,1" "$N" "--self-loops reject" "edges.csv:3: self-loop of neuron 3"
bad "$H
1,2,1" 'root_id,nt_type
1,ACH
2,
3,ACH' "" "neurons.csv:3: missing cell type of neuron 2"
bad "$H
1,2,1" 'root_id,nt_type
1,ACH
2,Q
3,ACH' "" "neurons.csv:3: unknown cell type 'Q'"
bad "pre_root_id,post_root_id,syn_count,nt_type
1,2,1,ZZZ" "$N" "" "edges.csv:2: unknown transmitter 'ZZZ'"
bad "$H
1,2,1" 'root_id,nt_type
1,ACH
5,GABA
5,ACH
2,ACH' "" "neurons.csv:4: duplicate neuron id 5 (first on line 3)"
bad "pre_root_id,post_root_id,count
1,2,1" "$N" "" "no column 'syn_count' (set it with --weight-column)" "the header has 'pre_root_id', 'post_root_id', 'count'"
bad "$H
1,2,\"3
2,3,1" "$N" "" "edges.csv:2: a quoted field is never closed"
bad "$H
1,2,1
1,2,1
2,2,1
1,9,1
x,2,1" 'root_id,nt_type
1,ACH
2,Q
3,ACH
3,ACH' "--duplicates reject --self-loops reject" "neurons.csv:3: unknown cell type 'Q'" \
  "neurons.csv:5: duplicate neuron id 3" "edges.csv:3: duplicate edge" "edges.csv:4: self-loop" \
  "edges.csv:5: unknown id 9" "edges.csv:6: malformed row" "import failed: 6 problems"
echo "ok   $n kinds of bad input: status 2, file and line, no output; one run lists every problem"

# keep: the first of a duplicate pair wins, the others are reported
printf '%s\n1,2,1\n1,2,5\n' "$H" > "$work/dup.csv"
printf '%s\n' "$N" > "$work/n3.csv"
"$SNNFIT" import --edges "$work/dup.csv" --neurons "$work/n3.csv" --mapping "$work/map.toml" --duplicates keep \
  -o "$work/keep" > /dev/null 2> "$work/keep.err" || fail "--duplicates keep"
grep -q "dup.csv:3: duplicate edge 1 -> 2 ignored (first on line 2)" "$work/keep.err" || { cat "$work/keep.err"; fail "keep: not reported"; }
"$PY" -c "import numpy as np, sys; w = np.load(sys.argv[1])['recurrent_weights']; assert w[0, 1] == 1.0, w" \
  "$work/keep/network_structure.npz" || fail "keep: not the first weight"
# TSV, other column names, quoted fields
printf 'src\tdst\tw\n"1"\t2\t2.5\n2\t3\t1\n' > "$work/e.tsv"
printf 'id\tkind\n1\t"ACH"\n2\tGABA\n3\tACH\n' > "$work/n.tsv"
"$SNNFIT" import --edges "$work/e.tsv" --neurons "$work/n.tsv" --mapping "$work/map.toml" --pre-column src \
  --post-column dst --weight-column w --id-column id --type-column kind --format sparse -o "$work/tsv" > /dev/null \
  || fail "TSV with column options"
"$PY" -c "
import numpy as np, sys
z = np.load(sys.argv[1])
assert 'recurrent_weights_indptr' in z.files
assert list(z['recurrent_weights_data']) == [2.5, 1.0] and list(z['recurrent_weights_indices']) == [1, 2]
" "$work/tsv/network_structure.npz" || fail "TSV network"
echo "ok   --duplicates keep, TSV input, column options, --format sparse"
echo "import OK"
