#!/usr/bin/env bash
# Sparse network files on the demo network:
#  - stage 1 with [output] sparse = true writes scipy.sparse's CSR layout, which scipy reads as the
#    dense file's matrices (a zero-weight synapse included);
#  - dense -> sparse -> dense (snnfit convert) gives the dense file byte for byte, and dense -> sparse
#    gives stage 1's sparse file byte for byte;
#  - every command run on the sparse file writes the same bytes as on the dense file: connectome (all
#    but the network file), simulate, teacher, homeostatic, train, compare, odourants;
#  - under a virtual-memory limit that one dense N x N matrix would exceed, stage 1, stage 3 and a
#    stage-4 iteration run on a 20,000-neuron sparse network, and stage 3's printed memory estimate
#    matches its measured peak (skipped under the sanitizers, whose shadow memory a limit on virtual
#    memory cannot accommodate).
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# ---- stage 1, both formats
cp parameters/demo-connectome.toml "$work/net.toml"
cp "$work/net.toml" "$work/net-sparse.toml"
printf '\n[output]\nsparse = true\n' >> "$work/net-sparse.toml"
"$SNNFIT" connectome "$work/net.toml" -o "$work/dense" --quiet > "$work/dense.log" || fail "connectome (dense)"
"$SNNFIT" connectome "$work/net-sparse.toml" -o "$work/sparse" --quiet > "$work/sparse.log" || fail "connectome (sparse)"
grep -q "network_structure.npz (dense)" "$work/dense.log" || fail "auto should write the demo network dense"
grep -q "network_structure.npz (sparse)" "$work/sparse.log" || fail "sparse = true should write sparse"
D=$work/dense/network_structure.npz S=$work/sparse/network_structure.npz
"$PY" tests/py/sparse_check.py "$S" "$D" > /dev/null || fail "scipy does not read the sparse file as the dense one"
for f in network_statistics.csv activity_statistics.csv results/dashboard_traces.npz \
         figures/connectivity_dashboard.png figures/activity_dashboard.png; do
  cmp -s "$work/dense/$f" "$work/sparse/$f" || fail "connectome: $f differs between the formats"
done
echo "ok   stage 1 writes sparse on request; scipy reads it; every other output is the same"

# ---- round trips
"$SNNFIT" convert "$D" "$work/d2s.npz" --sparse > /dev/null || fail "convert --sparse"
cmp -s "$work/d2s.npz" "$S" || fail "dense -> sparse differs from stage 1's sparse file"
"$SNNFIT" convert "$work/d2s.npz" "$work/d2s2d.npz" --dense > /dev/null || fail "convert --dense"
cmp -s "$work/d2s2d.npz" "$D" || fail "dense -> sparse -> dense is not the dense file"
"$SNNFIT" convert "$S" "$work/auto.npz" --auto > /dev/null && cmp -s "$work/auto.npz" "$D" || fail "convert --auto"
# a zero-weight synapse (connected, weight 0) survives both ways
"$PY" - "$D" "$work/zero.npz" <<'EOF' || fail "could not write the zero-weight file"
import sys, numpy as np
z = dict(np.load(sys.argv[1]))
i, j = np.argwhere(z["recurrent_connectivity"])[3]
z["recurrent_weights"][i, j] = 0.0
np.savez(sys.argv[2], **z)
EOF
"$SNNFIT" convert "$work/zero.npz" "$work/zero-s.npz" --sparse > /dev/null || fail "convert (zero weight)"
"$PY" tests/py/sparse_check.py "$work/zero-s.npz" "$work/zero.npz" > "$work/zero.log" || fail "scipy check (zero weight)"
grep -q "(1 of weight 0)" "$work/zero.log" || fail "zero-weight synapse lost"
"$SNNFIT" convert "$work/zero-s.npz" "$work/zero-d.npz" --dense > /dev/null && \
  "$SNNFIT" convert "$work/zero.npz" "$work/zero-d0.npz" --dense > /dev/null && \
  cmp -s "$work/zero-d.npz" "$work/zero-d0.npz" || fail "zero-weight round trip"
echo "ok   dense -> sparse -> dense is byte-identical (zero-weight synapses kept); dense -> sparse is stage 1's file"

# ---- every command, dense input vs sparse input
same() { # same WHAT DIR1 DIR2 [diff options]: the two output folders hold the same bytes
  local what=$1 a=$2 b=$3; shift 3
  diff -r "$@" "$a" "$b" > "$work/diff.log" || { head -20 "$work/diff.log"; fail "$what: outputs differ between dense and sparse input"; }
}
sed -e 's/^duration = .*/duration = 1200.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    -e 's/^plot_size = .*/plot_size = 1/' parameters/demo-teacher.toml > "$work/teacher.toml"
for f in dense sparse; do
  "$SNNFIT" teacher "$work/teacher.toml" -i "$work/$f" -o "$work/teacher-$f" --quiet > /dev/null || fail "teacher ($f)"
  "$SNNFIT" simulate "$work/teacher.toml" -i "$work/$f" --inputs "$work/teacher-dense/results/spike_data.zarr" \
    -o "$work/sim-$f" --quiet > /dev/null || fail "simulate ($f)"
done
same simulate "$work/sim-dense" "$work/sim-sparse"
same teacher "$work/teacher-dense" "$work/teacher-sparse"
echo "ok   simulate and teacher: the same bytes from either format"

sed -e 's/^duration = .*/duration = 600.0/' -e 's/^batch_size = .*/batch_size = 2/' \
    -e 's/^plot_interval = .*/plot_interval = 3/' -e 's/^plot_size = .*/plot_size = 1/' \
    parameters/demo-homeostatic.toml > "$work/hp.toml"
# the sanitizer pass skips the repeats that exercise no other code: stage 2 (the trainer of stage 4)
# and the weights mode (the perturbation is checked in the release pass)
sanitized=${SNNFIT_SANITIZED:-0}
if [ "$sanitized" != 1 ]; then
  for f in dense sparse; do
    "$SNNFIT" homeostatic "$work/hp.toml" -i "$work/$f" -o "$work/hp-$f" --quiet > /dev/null || fail "homeostatic ($f)"
  done
  # the checkpoints record the input path
  same homeostatic "$work/hp-dense" "$work/hp-sparse" -x tensorboard -x wandb -x checkpoints
  echo "ok   homeostatic: the same bytes from either format"
fi

# stage 4 and the analyses read the teacher folder's network: a copy of it with the network sparse
cp -r "$work/teacher-dense" "$work/teacher-sp"
"$SNNFIT" convert "$work/teacher-dense/inputs/network_structure.npz" "$work/teacher-sp/inputs/network_structure.npz" \
  --sparse > /dev/null || fail "convert the teacher's network"
sed -e 's/^epochs = .*/epochs = 4/' -e 's/^accumulation_interval = .*/accumulation_interval = 2/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 2/' \
    -e 's/^plot_interval = .*/plot_interval = 4/' -e 's/^plot_size = .*/plot_size = 1/' \
    parameters/demo-train.toml > "$work/train.toml"
sed 's/^optimisable = .*/optimisable = "weights"/' "$work/train.toml" > "$work/train-w.toml"
grep -q '^optimisable = "weights"' "$work/train-w.toml" || fail "demo-train.toml has no optimisable line to edit"
for f in dense sp; do
  "$SNNFIT" train "$work/train.toml" -i "$work/teacher-$f" -o "$work/train-$f" --quiet > /dev/null || fail "train ($f)"
  [ "$sanitized" = 1 ] || "$SNNFIT" train "$work/train-w.toml" -i "$work/teacher-$f" -o "$work/trainw-$f" --quiet \
    > /dev/null || fail "train weights ($f)"
done
same train "$work/train-dense" "$work/train-sp" -x tensorboard -x wandb -x checkpoints
[ "$sanitized" = 1 ] || same "train (weights)" "$work/trainw-dense" "$work/trainw-sp" -x tensorboard -x wandb -x checkpoints
echo "ok   train (scaling factors; and weights with target_weights.npz outside the sanitizer pass): the same bytes from either format"

# the analyses' code runs under the sanitizers in analysis.sh; their format equivalence is checked here in the
# release pass
if [ "$sanitized" = 1 ]; then
  echo "skip compare and odourants (and the memory-limit run) under the sanitizers"
  exit 0
fi
cp -r "$work/train-dense" "$work/train-sp2"
for f in inputs final_state; do
  "$SNNFIT" convert "$work/train-dense/$f/network_structure.npz" "$work/train-sp2/$f/network_structure.npz" \
    --sparse > /dev/null || fail "convert $f"
done
for f in dense sp2; do
  "$SNNFIT" compare "$work/train-$f" "$work/cmp-$f" "$work/teacher.toml" --quiet > /dev/null 2>&1 || fail "compare ($f)"
done
same compare "$work/cmp-dense" "$work/cmp-sp2"
"$SNNFIT" odourants "$work/teacher-dense" --quiet > /dev/null 2>&1 || fail "odourants (dense)"
"$SNNFIT" odourants "$work/teacher-sp" --quiet > /dev/null 2>&1 || fail "odourants (sparse)"
same odourants "$work/teacher-dense/figures" "$work/teacher-sp/figures"
echo "ok   compare and odourants: the same bytes from either format"

# ---- a network a dense matrix would not fit: 20,000 neurons, 1.6 GB per dense float32 N x N
big=$work/big
sed -e 's/^num_neurons = 300 .*/num_neurons = 20000/' -e 's/^num_neurons = 120 .*/num_neurons = 200/' \
    -e 's/^duration = .*/duration = 200.0/' -e 's/^chunk_size = .*/chunk_size = 100/' \
    -e 's/^    \[0.2, 0.2\],  .*/    [0.004, 0.004],/' -e 's/^    \[0.4, 0.2\],  .*/    [0.008, 0.004],/' \
    -e '/^conn_between/,/^\]/ s/\[0.1, 0.1\]/[0.0005, 0.0005]/' -e 's/^    \[0.3, 0.3\],  .*/    [0.05, 0.05],/' \
    parameters/demo-connectome.toml > "$work/big.toml"
grep -q "num_neurons = 20000" "$work/big.toml" && grep -q "0.0005, 0.0005" "$work/big.toml" || fail "big.toml edits"
printf '\n[output]\nsparse = true\n' >> "$work/big.toml"
sed -e 's/^duration = .*/duration = 200.0/' -e 's/^batch_size = .*/batch_size = 2/' -e 's/^chunk_size = .*/chunk_size = 100/' \
    -e 's/^plot_size = .*/plot_size = 1/' parameters/demo-teacher.toml > "$work/big-teacher.toml"
sed -e 's/^epochs = .*/epochs = 1/' -e 's/^accumulation_interval = .*/accumulation_interval = 1/' -e 's/^chunk_size = .*/chunk_size = 100/' -e 's/^plot_interval = .*/plot_interval = 1/' \
    -e 's/^plot_size = .*/plot_size = 1/' parameters/demo-train.toml > "$work/big-train.toml"
(
  ulimit -v 1500000  # KiB: 1.4 GiB of address space; one dense N x N float32 matrix needs 1.5 GiB
  "$SNNFIT" connectome "$work/big.toml" -o "$big/net" --quiet > "$work/big-net.log" || exit 11
  "$SNNFIT" teacher "$work/big-teacher.toml" -i "$big/net" -o "$big/teacher" --quiet > "$work/big-teacher.log" || exit 12
  "$SNNFIT" train "$work/big-train.toml" -i "$big/teacher" -o "$big/train" --quiet > "$work/big-train.log" || exit 13
)
rc=$?
[ $rc -eq 0 ] || { tail -5 "$work"/big-*.log; fail "large sparse network under the memory limit (step $rc)"; }
grep -q "(sparse)" "$work/big-net.log" || fail "the large network should be sparse"
[ -f "$big/train/final_state/network_structure.npz" ] || fail "no final state for the large network"
grep "Generated" "$work/big-net.log"
# the printed estimate bounds the measured peak (beyond the libraries' own ~100 MB) and is not far above it
est=$(grep -o 'this run: about [0-9.]* MiB' "$work/big-teacher.log" | grep -o '[0-9.]*' | head -1)
peak=$(grep -o 'peak memory [0-9.]* MiB' "$work/big-teacher.log" | grep -o '[0-9.]*' | head -1)
awk -v e="$est" -v p="$peak" 'BEGIN {exit !(e > 0 && p > 0 && p <= e + 150 && p >= e / 3)}' \
  || fail "stage 3's estimate of $est MiB does not match its peak of $peak MiB"
echo "stage 3: estimate $est MiB, peak $peak MiB"
echo "ok   20,000 neurons under a 1.4 GiB address-space limit: connectome, teacher and a training iteration"
echo "sparse OK"
