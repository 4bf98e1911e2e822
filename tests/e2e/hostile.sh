#!/usr/bin/env bash
# Hostile input and data safety (issue 11), one block per fault: an input is never deleted or
# overwritten; absurd sizes, corrupt stores and checkpoints, FIFOs and folders given as files are
# refused with status 2, one line naming the file and the key or array, and no output folder;
# checkpoints record what the run depends on; stale temporaries are cleaned; a run folder has one
# writer at a time. (The kill test is tests/e2e/kill.sh; the TOML nesting and zarr fill cases are unit
# tests.) Under the sanitizers (SNNFIT_SANITIZED=1) the blocks that only repeat training runs (other
# teacher, partial final state, relative paths, leftovers, locking) are left to the release pass.
set -uo pipefail
: "${SNNFIT:?}" "${SNNFIT_SOURCE_DIR:?}" "${PY:=/usr/bin/python3}"
cd "$SNNFIT_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
H="$PY tests/py/hostile_inputs.py"
full=1
[ "${SNNFIT_SANITIZED:-0}" = 1 ] && full=0

source tests/e2e/lib/expect.sh
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

# the content of a folder (or file), for "left untouched" checks
snapshot() { (cd "$(dirname "$1")" && find "$(basename "$1")" -exec sh -c 'if [ -f "$1" ]; then sha256sum "$1"; else echo "$1"; fi' _ {} \; | sort); }

# expect_untouched NAME PATH "needle" command...: status 2, the needle in the message, PATH unchanged
expect_untouched() {
  local name=$1 path=$2 needle=$3
  shift 3
  local before after
  before=$(snapshot "$path")
  timeout 60 "$@" > "$work/stdout" 2> "$work/stderr"
  local rc=$?
  after=$(snapshot "$path")
  if [ $rc -eq 2 ] && grep -qF -- "$needle" "$work/stderr" && [ "$before" = "$after" ]; then
    ok "$name: $(cat "$work/stderr")"
  else
    bad "$name (status $rc, $( [ "$before" = "$after" ] && echo unchanged || echo CHANGED))"
    cat "$work/stderr"
  fi
}

conn=parameters/demo-connectome.toml
homeo=parameters/demo-homeostatic.toml
"$SNNFIT" connectome "$conn" -o "$work/net" --quiet > /dev/null || { echo "connectome failed"; exit 1; }
sed 's/^duration = .*/duration = 1200.0/' parameters/demo-teacher.toml > "$work/teacher.toml"
"$SNNFIT" teacher "$work/teacher.toml" -i "$work/net" -o "$work/teacher" --quiet > /dev/null || { echo "teacher failed"; exit 1; }
# 12 epochs over 12 chunks, a step every 2, checkpoints every 4, no epoch figures
mktrain() { # mktrain OUT.toml [sed expressions...]
  local out=$1; shift
  sed -e 's/^epochs = .*/epochs = 12/' -e 's/^accumulation_interval = .*/accumulation_interval = 2/' \
      -e 's/^checkpoint_interval = .*/checkpoint_interval = 4/' -e 's/^plot_interval = .*/plot_interval = 1000/' \
      -e 's/^plot_size = .*/plot_size = 3/' "$@" parameters/demo-train-closed-loop.toml > "$out"
}
mktrain "$work/train.toml"
mkhomeo() { # mkhomeo OUT.toml [sed expressions...]
  local out=$1; shift
  sed -e 's/^duration = .*/duration = 1200.0/' -e 's/^batch_size = .*/batch_size = 2/' \
      -e 's/^plot_interval = .*/plot_interval = 1000/' -e 's/^plot_size = .*/plot_size = 2/' "$@" "$homeo" > "$out"
}
T="$work/train.toml"

echo "--- fault 1: an output folder that is, contains or lies inside an input"
fresh_x1() { rm -rf "$work/x1" && cp -r "$work/net" "$work/x1"; }  # each case gets an intact input
fresh_x1
expect_untouched teacher_output_is_input "$work/x1" "input" \
  "$SNNFIT" teacher "$work/teacher.toml" -i "$work/x1" -o "$work/x1" --overwrite --quiet
fresh_x1
expect_untouched teacher_output_inside_input "$work/x1" "input" \
  "$SNNFIT" teacher "$work/teacher.toml" -i "$work/x1" -o "$work/x1/sub" --quiet
fresh_x1
ln -s "$work/x1" "$work/x1link"
expect_untouched teacher_output_is_input_via_link "$work/x1" "input" \
  "$SNNFIT" teacher "$work/teacher.toml" -i "$work/x1link" -o "$work/x1" --overwrite --quiet
fresh_x1
expect_untouched homeostatic_output_contains_input "$work/x1" "input" \
  "$SNNFIT" homeostatic "$homeo" -i "$work/x1/network_structure.npz" -o "$work/x1" --overwrite --quiet
cp -r "$work/teacher" "$work/t1"
expect_untouched train_output_is_input "$work/t1" "input" \
  "$SNNFIT" train "$T" -i "$work/t1" -o "$work/t1" --overwrite --quiet
mkdir -p "$work/x2" && cp "$conn" "$work/x2/p.toml"
expect_untouched connectome_output_contains_params "$work/x2" "p.toml" \
  "$SNNFIT" connectome "$work/x2/p.toml" -o "$work/x2" --overwrite --quiet
mkdir -p "$work/x3" && cp -r "$work/teacher/results/spike_data.zarr" "$work/x3/store.zarr"
expect_untouched simulate_output_contains_inputs "$work/x3" "store.zarr" \
  "$SNNFIT" simulate "$work/teacher.toml" -i "$work/net" --inputs "$work/x3/store.zarr" -o "$work/x3" --overwrite --quiet

echo "--- fault 2: sizes that overflow, counters out of range"
mktrain "$work/plot_huge.toml" -e 's/^plot_size = .*/plot_size = 4611686018427387904/'
expect_error train_plot_size_overflow "plot_huge.toml|plot_size" "$SNNFIT" train "$work/plot_huge.toml" -i "$work/teacher" -o "$work/out"
mkhomeo "$work/hplot_huge.toml" -e 's/^plot_size = .*/plot_size = 4611686018427387904/'
expect_error homeostatic_plot_size_overflow "hplot_huge.toml|plot_size" "$SNNFIT" homeostatic "$work/hplot_huge.toml" -i "$work/net" -o "$work/out"
"$SNNFIT" train "$T" -i "$work/teacher" -o "$work/stopped" --quiet --stop-after 8 > /dev/null || bad "stopped run"
for v in -1 -9223372036854775808 -7; do
  rm -rf "$work/c" && cp -r "$work/stopped" "$work/c"
  $H ckpt_set "$work/c/checkpoints/checkpoint_latest.npz" statistics_chunks - "$v"
  expect_untouched "checkpoint_statistics_chunks_$v" "$work/c/training_metrics.csv" "statistics_chunks" "$SNNFIT" resume "$work/c" --quiet
done

echo "--- fault 3: nesting"
"$PY" -c "print('[simulation]'); print('x = ' + '{a = ' * 10000 + '1' + '}' * 10000)" > "$work/nested.toml"
expect_error toml_inline_tables_10000_deep "nested.toml:2|nest" "$SNNFIT" connectome "$work/nested.toml" -o "$work/out"
"$PY" -c "print('x = ' + '[' * 1000000 + ']' * 1000000)" > "$work/nested2.toml"
expect_error toml_arrays_1000000_deep "nested2.toml:1|nest" "$SNNFIT" connectome "$work/nested2.toml" -o "$work/out"

echo "--- fault 4: huge values"
# (the message must say why: the old one blamed a chunk too long for a 1e308 ms run)
for kv in "duration = 1e308|out of range" "dt = 1e-300|time steps"; do
  why=${kv#*|} kv=${kv%|*}
  key=${kv%% *}
  sed "s/^$key = .*/$kv/" "$conn" > "$work/c_$key.toml"
  expect_error "connectome_$key" "c_$key.toml|$key|$why" "$SNNFIT" connectome "$work/c_$key.toml" -o "$work/out"
  sed "s/^$key = .*/$kv/" "$work/teacher.toml" > "$work/t_$key.toml"
  expect_error "teacher_$key" "t_$key.toml|$key|$why" "$SNNFIT" teacher "$work/t_$key.toml" -i "$work/net" -o "$work/out"
done
mkhomeo "$work/h_dur.toml" -e 's/^duration = .*/duration = 9223372036854775807/'
expect_error homeostatic_duration_int64_max "h_dur.toml|duration" "$SNNFIT" homeostatic "$work/h_dur.toml" -i "$work/net" -o "$work/out"
mktrain "$work/epochs.toml" -e 's/^epochs = .*/epochs = 9223372036854775807/'
expect_error train_epochs_int64_max "epochs.toml|epochs" "$SNNFIT" train "$work/epochs.toml" -i "$work/teacher" -o "$work/out"
cp -r "$work/teacher" "$work/tdt" && echo '{"dt": 1e-300}' > "$work/tdt/results/spike_data.zarr/.zattrs"
expect_error train_store_dt_tiny "spike_data.zarr|dt" "$SNNFIT" train "$T" -i "$work/tdt" -o "$work/out"

echo "--- fault 5: absurd values refused at once"
sed 's/^num_neurons = 300 .*/num_neurons = 1000000000/' "$conn" > "$work/big_n.toml"
expect_error connectome_1e9_neurons "big_n.toml|memory" "$SNNFIT" connectome "$work/big_n.toml" -o "$work/out"
expect_error connectome_max_memory "demo-connectome.toml|--max-memory" "$SNNFIT" connectome "$conn" -o "$work/out" --max-memory 1M
expect_error max_memory_bad_value "--max-memory" "$SNNFIT" connectome "$conn" -o "$work/out" --max-memory 12Q
for kv in "duration = 1e9" "duration = 1e12" "dt = 1e-9" "batch_size = 1000000000" "batch_size = 4611686018427387904" "plot_size = 0"; do
  key=${kv%% *}
  sed "s/^$key = .*/$kv/" "$work/teacher.toml" > "$work/t5.toml"
  expect_error "teacher_$(echo "$kv" | tr -d ' =')" "t5.toml|$key" "$SNNFIT" teacher "$work/t5.toml" -i "$work/net" -o "$work/out"
done
sed 's/^baseline_rate = .*/baseline_rate = 1e308/' "$work/teacher.toml" > "$work/t5.toml"
expect_error teacher_baseline_rate_1e308 "t5.toml|baseline_rate" "$SNNFIT" teacher "$work/t5.toml" -i "$work/net" -o "$work/out"
for kv in "accumulation_interval = 1000000000" "plot_size = 1000000000"; do
  key=${kv%% *}
  mktrain "$work/t5.toml" -e "s/^$key = .*/$kv/"
  expect_error "train_$key" "t5.toml|$key" "$SNNFIT" train "$work/t5.toml" -i "$work/teacher" -o "$work/out"
done
mkhomeo "$work/h5.toml" -e 's/^batch_size = .*/batch_size = 1000000000/'
expect_error homeostatic_batch_size_1e9 "h5.toml|batch_size" "$SNNFIT" homeostatic "$work/h5.toml" -i "$work/net" -o "$work/out"
sed 's/^dt = 1.0 .*/dt = 1e9/' "$conn" > "$work/c5.toml"
expect_error connectome_dt_1e9 "c5.toml|duration" "$SNNFIT" connectome "$work/c5.toml" -o "$work/out"
sed 's/^chunk_size = .*/chunk_size = 5000/' "$conn" > "$work/c5.toml"
expect_error connectome_chunk_longer_than_duration "c5.toml|chunk_size" "$SNNFIT" connectome "$work/c5.toml" -o "$work/out"
sed '0,/\[0.5, 0.2\]/s//[1e300, 0.2]/' "$conn" > "$work/c5.toml"
expect_error connectome_w_mu_1e300 "c5.toml|w_mu" "$SNNFIT" connectome "$work/c5.toml" -o "$work/out"
mktrain "$work/t5.toml" -e '0,/\[1.0, 1.0\]/s//[1e308, 1.0]/'
expect_error train_scaling_factor_1e308 "t5.toml|scaling_factors" "$SNNFIT" train "$work/t5.toml" -i "$work/teacher" -o "$work/out"

echo "--- fault 6: every input checked before the output folder exists"
store=results/spike_data.zarr
cp -r "$work/teacher" "$work/s_trunc"
last=$(ls "$work/s_trunc/$store/output_spikes" | grep -v '^\.' | sort -t. -k2,2n | tail -1)
head -c 40 "$work/s_trunc/$store/output_spikes/$last" > "$work/chunk" && mv "$work/chunk" "$work/s_trunc/$store/output_spikes/$last"
expect_error store_truncated_last_chunk "s_trunc|output_spikes|$last" "$SNNFIT" train "$T" -i "$work/s_trunc" -o "$work/out"
cp -r "$work/teacher" "$work/s_body"
"$PY" - "$work/s_body/$store/input_spikes/0.7.0" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[16:] = bytes(len(b) - 16)  # the blosc header intact, the blocks zeroed
open(sys.argv[1], "wb").write(b)
PYEOF
expect_error store_corrupt_chunk_body "s_body|input_spikes|0.7.0" "$SNNFIT" train "$T" -i "$work/s_body" -o "$work/out"
cp -r "$work/teacher" "$work/s_shape"
"$PY" - "$work/s_shape/$store/output_spikes/.zarray" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1])); m["chunks"][1] = 50
json.dump(m, open(sys.argv[1], "w"), indent=4, sort_keys=True)
PYEOF
expect_error store_chunk_shape_mismatch "s_shape|output_spikes" "$SNNFIT" train "$T" -i "$work/s_shape" -o "$work/out"
cp -r "$work/teacher" "$work/s_dt0" && echo '{"dt": 0}' > "$work/s_dt0/$store/.zattrs"
expect_error store_dt_zero "s_dt0|dt" "$SNNFIT" train "$T" -i "$work/s_dt0" -o "$work/out"
cp -r "$work/teacher" "$work/s_missing" && rm "$work/s_missing/$store/output_spikes/0.5.0"
expect_error store_missing_chunk "s_missing|output_spikes|0.5.0" "$SNNFIT" train "$T" -i "$work/s_missing" -o "$work/out"
cp -r "$work/teacher" "$work/s_slash"
sed -i 's|"dimension_separator": "."|"dimension_separator": "/"|' "$work/s_slash/$store/input_spikes/.zarray"
expect_error store_dimension_separator_slash "s_slash|input_spikes" "$SNNFIT" train "$T" -i "$work/s_slash" -o "$work/out"
cp -r "$work/teacher" "$work/s_fifo" && rm "$work/s_fifo/$store/input_spikes/0.3.0" && mkfifo "$work/s_fifo/$store/input_spikes/0.3.0"
expect_error store_fifo_chunk "s_fifo|input_spikes|0.3.0" "$SNNFIT" train "$T" -i "$work/s_fifo" -o "$work/out"
mkfifo "$work/params.fifo"
expect_error fifo_parameter_file "params.fifo|regular file" "$SNNFIT" connectome "$work/params.fifo" -o "$work/out"
mkdir -p "$work/params_dir.toml"
expect_error folder_parameter_file "params_dir.toml|regular file" "$SNNFIT" connectome "$work/params_dir.toml" -o "$work/out"
mkdir -p "$work/n_fifo" && mkfifo "$work/n_fifo/network_structure.npz"
expect_error fifo_network_file "n_fifo/network_structure.npz|regular file" "$SNNFIT" teacher "$work/teacher.toml" -i "$work/n_fifo" -o "$work/out"

echo "--- fault 7: checkpoints checked on load, and what the run depends on"
ckpt_case() { # ckpt_case NAME NEEDLE hostile_inputs-args...
  local name=$1 needle=$2; shift 2
  rm -rf "$work/c" && cp -r "$work/stopped" "$work/c"
  $H "$1" "$work/c/checkpoints/checkpoint_latest.npz" "${@:2}"
  expect_untouched "$name" "$work/c/training_metrics.csv" "$needle" "$SNNFIT" resume "$work/c" --quiet
}
ckpt_case checkpoint_nan_parameter parameters ckpt_set parameters 0 nan
ckpt_case checkpoint_inf_parameter parameters ckpt_set parameters 1 inf
ckpt_case checkpoint_negative_parameter parameters ckpt_set parameters 2 -0.5
ckpt_case checkpoint_negative_adam_second_moment adam_exp_avg_sq ckpt_set adam_exp_avg_sq 0 -1.0
ckpt_case checkpoint_negative_adam_step adam_step ckpt_set adam_step - -3
ckpt_case checkpoint_nan_best_loss best_loss ckpt_set best_loss - nan
ckpt_case checkpoint_negative_refractory state_refractory ckpt_set state_refractory 5 -4
ckpt_case checkpoint_nan_state state_v ckpt_set state_v 7 nan
ckpt_case checkpoint_duplicate_member "epoch" ckpt_dup epoch 2
rm -rf "$work/c" && cp -r "$work/stopped" "$work/c" && sed -i 's/^seed = 44 /seed = 45 /' "$work/c/parameters.toml"
expect_untouched resume_edited_parameters "$work/c/targets" "parameters.toml" "$SNNFIT" resume "$work/c" --quiet
if [ $full = 1 ]; then
cp -r "$work/teacher" "$work/tB"
"$SNNFIT" train "$T" -i "$work/tB" -o "$work/onB" --quiet --stop-after 4 > /dev/null || bad "run on tB"
sed 's/^seed = 43 /seed = 46 /' "$work/teacher.toml" > "$work/teacher46.toml"
rm -rf "$work/tB" && "$SNNFIT" teacher "$work/teacher46.toml" -i "$work/net" -o "$work/tB" --quiet > /dev/null || bad "teacher 46"
expect_untouched resume_other_teacher "$work/onB/checkpoints" "spike_data.zarr" "$SNNFIT" resume "$work/onB" --quiet

echo "--- fault 8: a run is finished only when its final state is whole"
"$SNNFIT" train "$T" -i "$work/teacher" -o "$work/straight" --quiet > /dev/null || bad "straight run"
rm -rf "$work/partial" && cp -r "$work/straight" "$work/partial"
rm -rf "$work/partial/final_state/figures" "$work/partial/final_state/dashboard_traces.npz"
$H ckpt_set "$work/partial/checkpoints/checkpoint_latest.npz" final_state_written - 0 2> /dev/null ||
  $H ckpt_dup "$work/partial/checkpoints/checkpoint_latest.npz" final_state_written 0
"$SNNFIT" resume "$work/partial" --quiet > "$work/partial.log" 2>&1
if diff -r -x tensorboard -x wandb "$work/straight" "$work/partial" > /dev/null; then
  ok "a final state cut short is written again by resume, byte-identical"
else bad "partial final state: $(tail -1 "$work/partial.log")"; fi

echo "--- fault 9: resume does not depend on the working directory"
rm -rf "$work/rel"
(cd "$work" && "$SNNFIT" train "$T" -i teacher -o rel --quiet --stop-after 4 > /dev/null) || bad "relative run"
(cd / && "$SNNFIT" resume "$work/rel" --quiet > /dev/null 2> "$work/stderr")
if [ $? -eq 0 ] && diff -r -x tensorboard -x wandb "$work/straight" "$work/rel" > /dev/null; then
  ok "a run started with a relative -i resumes from / and matches the straight run"
else bad "resume from /: $(cat "$work/stderr")"; fi

echo "--- fault 10: leftovers and locking"
rm -rf "$work/c" && cp -r "$work/stopped" "$work/c"
touch "$work/c/checkpoints/.checkpoint_latest.npz.tmp.999999999" "$work/c/.training_metrics.csv.tmp.999999999"
mkdir -p "$work/c/figures" && touch "$work/c/figures/.x.png.tmp.999999999" "$work/c/figures/.y.png.tmp.$$"
mkdir -p "$work/c/.final_state.tmp.999999999"
"$SNNFIT" resume "$work/c" --quiet > /dev/null 2>&1 || bad "resume with leftovers"
left=$(cd "$work/c" && find . -name '*.tmp.999999999' | wc -l)
if [ "$left" -eq 0 ] && [ -e "$work/c/figures/.y.png.tmp.$$" ]; then ok "stale temporaries of dead processes removed, a live one kept"
else bad "stale temporaries: $left left"; fi
# killed before its first checkpoint: the same train command starts it again, without --overwrite
rm -rf "$work/c" && cp -r "$work/straight" "$work/c" && rm -rf "$work/c/checkpoints" "$work/c/final_state" "$work/c/training_metrics.csv"
"$SNNFIT" train "$T" -i "$work/teacher" -o "$work/c" --quiet > /dev/null 2> "$work/stderr"
if [ $? -eq 0 ] && diff -r -x tensorboard -x wandb "$work/straight" "$work/c" > /dev/null; then
  ok "a run killed before its first checkpoint is restarted by the same train command"
else bad "restart of an unstarted run: $(cat "$work/stderr")"; fi
mktrain "$work/long.toml" -e 's/^epochs = .*/epochs = 100000/' -e 's/^checkpoint_interval = .*/checkpoint_interval = 1/'
"$SNNFIT" train "$work/long.toml" -i "$work/teacher" -o "$work/locked" --quiet > /dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do [ -e "$work/locked/checkpoints/checkpoint_latest.npz" ] && break; sleep 0.05; done
timeout 60 "$SNNFIT" resume "$work/locked" --quiet > /dev/null 2> "$work/stderr"; rc=$?
kill -INT $pid 2> /dev/null; wait $pid
if [ $rc -eq 2 ] && grep -q "locked" "$work/stderr"; then ok "a second writer is refused: $(cat "$work/stderr")"
else bad "second writer (status $rc): $(cat "$work/stderr")"; fi

fi # full

echo "--- fault 11: small ones"
"$SNNFIT" resume "$work/stopped" extra > /dev/null 2> "$work/stderr"; rc=$?
[ $rc -eq 2 ] && grep -q "extra" "$work/stderr" && ok "resume OUT extra: $(cat "$work/stderr")" || bad "resume OUT extra ($rc)"
rm -rf "$work/out"
"$SNNFIT" train "$T" -i "$work/teacher" -o "$work/out" --stop-after 99999999999999999999999 > /dev/null 2> "$work/stderr"; rc=$?
[ $rc -eq 2 ] && [ ! -e "$work/out" ] && ok "--stop-after overflow: $(cat "$work/stderr")" || bad "--stop-after overflow ($rc)"
mkdir -p "$work/sparse" "$work/n0" "$work/negsf"
$H network "$work/net/network_structure.npz" "$work/sparse/network_structure.npz" sparse_assemblies
rm -rf "$work/out"
if "$SNNFIT" teacher "$work/teacher.toml" -i "$work/sparse" -o "$work/out" --quiet > /dev/null 2> "$work/stderr" &&
   [ -f "$work/out/figures/assembly_activity_dashboard.png" ]; then ok "assembly ids up to 2147483647"
else bad "sparse assembly ids: $(cat "$work/stderr")"; fi
$H network "$work/net/network_structure.npz" "$work/n0/network_structure.npz" n0
expect_error network_without_neurons "n0/network_structure.npz|N = 0" "$SNNFIT" teacher "$work/teacher.toml" -i "$work/n0" -o "$work/out"
$H network "$work/net/network_structure.npz" "$work/negsf/network_structure.npz" negative_sf
expect_error network_negative_scaling_factor "negsf/network_structure.npz|recurrent_scaling_factors" \
  "$SNNFIT" teacher "$work/teacher.toml" -i "$work/negsf" -o "$work/out"

echo "$failures failures"
[ $failures -eq 0 ]
