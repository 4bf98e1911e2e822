#!/usr/bin/env bash
# Bad input (SPEC section 12): each case must exit with status 2, print one message naming the file and
# the key or array, and leave no output behind.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

source tests/e2e/lib/expect.sh

net_params=parameters/demo-connectome.toml
teacher_params=parameters/demo-teacher.toml
"$SNNFIT" connectome "$net_params" -o "$work/net" --quiet > /dev/null || { echo "cannot build the test network"; exit 1; }
"$PY" tests/py/make_bad_networks.py "$work/net/network_structure.npz" "$work/bad"

# parameter files
expect_error missing_params "nope.toml" "$SNNFIT" connectome "$work/nope.toml" -o "$work/out"
sed 's/^\[recurrent.topology\]/[recurent.topology]/' "$net_params" > "$work/typo.toml"
expect_error unknown_key "typo.toml|recurent|did you mean 'recurrent'" "$SNNFIT" connectome "$work/typo.toml" -o "$work/out"
sed 's/^dt = 1.0 .*/dt = "one"/' "$net_params" > "$work/type.toml"
expect_error wrong_type "type.toml|dt" "$SNNFIT" connectome "$work/type.toml" -o "$work/out"
sed 's/^dt = 1.0 .*/dt = 0.0/' "$net_params" > "$work/dt0.toml"
expect_error dt_zero "dt0.toml|dt" "$SNNFIT" connectome "$work/dt0.toml" -o "$work/out"
printf '[simulation\ndt = 1.0\n' > "$work/malformed.toml"
expect_error malformed_toml "malformed.toml:1" "$SNNFIT" connectome "$work/malformed.toml" -o "$work/out"

# network structure files
expect_error missing_network "network_structure.npz" "$SNNFIT" teacher "$teacher_params" -i "$work/empty" -o "$work/out"
expect_error missing_key "missing_key/network_structure.npz|feedforward_weights" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/missing_key" -o "$work/out"
expect_error wrong_dtype "wrong_dtype/network_structure.npz|recurrent_weights" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/wrong_dtype" -o "$work/out"
expect_error not_square "not_square/network_structure.npz|recurrent_weights" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/not_square" -o "$work/out"
expect_error n_mismatch "n_mismatch/network_structure.npz|cell_type_indices" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/n_mismatch" -o "$work/out"
expect_error nan_weight "nan_weight/network_structure.npz|recurrent_weights" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/nan_weight" -o "$work/out"
expect_error negative_weight "negative_weight/network_structure.npz|feedforward_weights" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/negative_weight" -o "$work/out"
expect_error type_out_of_range "type_out_of_range/network_structure.npz|cell_type_indices" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/type_out_of_range" -o "$work/out"
expect_error truncated_npz "truncated/network_structure.npz" \
  "$SNNFIT" teacher "$teacher_params" -i "$work/bad/truncated" -o "$work/out"

# a teacher store as simulate inputs: dt, N_in and corrupted chunks
"$SNNFIT" teacher "$teacher_params" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || { echo "teacher failed"; exit 1; }
store="$work/teacher/results/spike_data.zarr"
sed 's/^dt = 1.0 .*/dt = 0.5/' "$teacher_params" > "$work/dt05.toml"
expect_error store_dt "spike_data.zarr|dt" "$SNNFIT" simulate "$work/dt05.toml" -i "$work/net" --inputs "$store" -o "$work/out"
cp -r "$store" "$work/store_nin"
sed -i 's/"shape": \[/"shape": [\n        /' "$work/store_nin/input_spikes/.zarray"
"$PY" - "$work/store_nin/input_spikes/.zarray" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1])); m["shape"][2] += 1; m["chunks"][2] += 1
json.dump(m, open(sys.argv[1], "w"), indent=4, sort_keys=True)
PYEOF
expect_error store_n_in "store_nin|input_spikes" "$SNNFIT" simulate "$teacher_params" -i "$work/net" --inputs "$work/store_nin" -o "$work/out"
cp -r "$store" "$work/store_bad"
chunk=$(ls "$work/store_bad/input_spikes" | grep -v '^\.' | head -1)
head -c 40 "$work/store_bad/input_spikes/$chunk" > "$work/chunk" && mv "$work/chunk" "$work/store_bad/input_spikes/$chunk"
expect_error corrupt_chunk "store_bad|input_spikes|$chunk" "$SNNFIT" simulate "$teacher_params" -i "$work/net" --inputs "$work/store_bad" -o "$work/out"

# accepted variant: the old key name, float64 weights, int32 indices, derived connectivity, deflated
rm -rf "$work/out"
if "$SNNFIT" teacher "$teacher_params" -i "$work/bad/old_layout_ok" -o "$work/out" --quiet > /dev/null 2>&1; then
  echo "ok   old_layout_accepted"
else echo "FAIL old_layout_accepted"; failures=$((failures + 1)); fi

# an existing output folder is refused and left untouched; --overwrite replaces it
mkdir -p "$work/exists" && echo keep > "$work/exists/file"
"$SNNFIT" connectome "$net_params" -o "$work/exists" > "$work/stdout" 2> "$work/stderr"
rc=$?
# refused before the connectome is generated (which takes minutes at Dp scale)
if [ $rc -eq 2 ] && grep -q "exists" "$work/stderr" && grep -q "$work/exists" "$work/stderr" && [ "$(cat "$work/exists/file")" = keep ] \
   && ! grep -q "Generating" "$work/stdout"; then
  echo "ok   output_exists: $(cat "$work/stderr")"
else echo "FAIL output_exists (status $rc)"; failures=$((failures + 1)); fi
"$SNNFIT" connectome "$net_params" -o "$work/exists" --overwrite --quiet > /dev/null
if [ -f "$work/exists/network_structure.npz" ] && [ ! -e "$work/exists/file" ]; then echo "ok   overwrite"
else echo "FAIL overwrite"; failures=$((failures + 1)); fi

# usage errors
"$SNNFIT" teacher "$teacher_params" -o "$work/out" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok   missing_input_option" || { echo "FAIL missing_input_option ($rc)"; failures=$((failures + 1)); }
"$SNNFIT" frobnicate > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok   unknown_command" || { echo "FAIL unknown_command ($rc)"; failures=$((failures + 1)); }

echo "$failures failures"
[ $failures -eq 0 ]
