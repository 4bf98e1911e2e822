"""Checks the files stages 1 and 3 write, with Debian's numpy and python3-zarr (tests/e2e/pipeline.sh).
usage: check_stage_outputs.py CONNECTOME_DIR TEACHER_DIR TEACHER_PARAMS SIMULATION_NPZ"""
import csv
import math
import sys
import tomllib

import numpy as np
import zarr

net_dir, teacher_dir, teacher_params, sim_npz = sys.argv[1:5]

# ---- stage 1: network_structure.npz with the reference's keys and dtypes
z = np.load(f"{net_dir}/network_structure.npz")
expect = {"recurrent_weights": "float32", "feedforward_weights": "float32", "recurrent_connectivity": "bool",
          "feedforward_connectivity": "bool", "cell_type_indices": "int64",
          "feedforward_cell_type_indices": "int64", "assembly_ids": "int32"}
for k, dt in expect.items():
    assert k in z.files, f"missing {k}"
    assert str(z[k].dtype) == dt, (k, z[k].dtype)
W, C = z["recurrent_weights"], z["recurrent_connectivity"]
N = W.shape[0]
N_in = z["feedforward_weights"].shape[0]
assert W.shape == (N, N) and C.shape == (N, N) and z["feedforward_weights"].shape == (N_in, N)
assert np.all((W > 0) == C), "weights and connectivity disagree"
assert not np.any(np.diag(C)), "self-loops"
assert np.all(W >= 0) and np.all(np.isfinite(W))

# network_statistics.csv: the recurrent and feedforward edge counts add up to the connectivity
rows = list(csv.DictReader(open(f"{net_dir}/network_statistics.csv")))
rec_edges = sum(int(r["edges"]) for r in rows if r["layer"] == "recurrent")
ff_edges = sum(int(r["edges"]) for r in rows if r["layer"] == "feedforward")
assert rec_edges == C.sum(), (rec_edges, C.sum())
assert ff_edges == z["feedforward_connectivity"].sum()
ct = z["cell_type_indices"]
for r in rows:
    if r["layer"] != "recurrent":
        continue
    names = [x["source_type"] for x in rows if x["layer"] == "recurrent"]
    a = sorted(set(names), key=names.index).index(r["source_type"])
    b = sorted(set(names), key=names.index).index(r["target_type"])
    block = C[np.ix_(ct == a, ct == b)]
    assert block.sum() == int(r["edges"])
    assert math.isclose(block.sum(axis=0).mean(), float(r["in_degree_mean"]), rel_tol=1e-5)
    assert math.isclose(block.sum(axis=1).mean(), float(r["out_degree_mean"]), rel_tol=1e-5)
tr = np.load(f"{net_dir}/results/dashboard_traces.npz")
assert tr["output_spikes"].shape[1] == N and tr["voltage"].ndim == 1

# ---- stage 3: the teacher store opens with python3-zarr (format 2) with the spec's shapes and dtypes
p = tomllib.load(open(teacher_params, "rb"))["simulation"]
B, L = p["batch_size"], p["chunk_size"]
T = int(p["duration"] / (L * p["dt"])) * L
g = zarr.open_group(f"{teacher_dir}/results/spike_data.zarr", mode="r")
assert g.attrs["dt"] == p["dt"]
out, inp, ou, pat = g["output_spikes"], g["input_spikes"], g["ou_process_weights"], g["odourant_patterns"]
P = len(set(z["assembly_ids"].tolist()) - {-1})
assert out.shape == (B, T, N) and out.dtype == bool, (out.shape, out.dtype)
assert inp.shape == (B, T, N_in) and inp.dtype == bool
assert ou.shape == (B, T, P) and ou.dtype == np.float32
assert pat.shape == (P, N_in) and pat.dtype == np.float64
w = ou[:]
assert np.allclose(w.sum(axis=2), 1, atol=1e-5), "OU mixing weights do not sum to 1"
assert np.allclose(w[:, 0, :], 1.0 / P), "the first step is not the uniform mixture"
assert not np.array_equal(w[0], w[1]), "trials share one OU trajectory"
# input spikes follow the mixed rates (a loose statistical check over all trials and steps)
rates = np.einsum("btp,pk->btk", w.astype(np.float64), pat[:])
expected = rates.sum() * p["dt"] / 1000.0
observed = inp[:].sum()
assert abs(observed - expected) < 5 * math.sqrt(expected) + 1, (observed, expected)
spikes = out[:]
assert spikes.sum() > 0, "teacher network is silent"

# ---- simulate on the teacher's recorded inputs reproduces the teacher's spikes exactly
s = np.load(sim_npz)
assert np.array_equal(s["input_spikes"], inp[:]), "simulate did not use the recorded inputs"
assert np.array_equal(s["output_spikes"], spikes), "simulate and teacher disagree on the same inputs"
v = s["voltages"]
assert v.shape[0] == 1 and v.shape[1] == T and np.all(np.isfinite(v))
assert s["conductances"].shape[3:] == (2, len(s["synapse_names"]))
print(f"stage outputs OK: N={N}, N_in={N_in}, {rec_edges} recurrent edges, teacher {spikes.mean() * 1000 / p['dt']:.2f} Hz")
