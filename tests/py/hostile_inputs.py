"""Hostile variants of snnfit's input files for tests/e2e/hostile.sh (issue 11).

usage:
  hostile_inputs.py network GOOD.npz OUT.npz MODE   MODE: n0 | sparse_assemblies | negative_sf
  hostile_inputs.py ckpt_set CKPT.npz KEY INDEX VALUE
      sets entry INDEX (a flat index, or "-" for a scalar) of array KEY to VALUE (a Python literal such
      as nan, -inf, -1, -9223372036854775808), keeping the array's dtype
  hostile_inputs.py ckpt_dup CKPT.npz KEY VALUE
      appends a second member KEY.npy holding the scalar VALUE (numpy reads the last of two members)
"""
import io
import os
import sys
import zipfile

import numpy as np


def save_npz(path, arrays):
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def literal(text):
    return {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}.get(text) or eval(text)


def network(src, dst, mode):
    d = dict(np.load(src))
    if mode == "n0":
        n_in = d["feedforward_weights"].shape[0]
        d["recurrent_weights"] = np.zeros((0, 0), np.float32)
        d["recurrent_connectivity"] = np.zeros((0, 0), bool)
        d["feedforward_weights"] = np.zeros((n_in, 0), np.float32)
        d["feedforward_connectivity"] = np.zeros((n_in, 0), bool)
        d["cell_type_indices"] = np.zeros(0, np.int64)
        d["assembly_ids"] = np.zeros(0, np.int32)
    elif mode == "sparse_assemblies":
        ids = d["assembly_ids"].astype(np.int64)
        # the four assemblies 0..3 become 0, 7, 1000000 and 2147483647
        d["assembly_ids"] = np.array([0, 7, 1000000, 2147483647], np.int64)[ids].astype(np.int32)
    elif mode == "negative_sf":
        nt = int(d["cell_type_indices"].max()) + 1
        nf = int(d["feedforward_cell_type_indices"].max()) + 1
        sf = np.ones((nt, nt))
        sf[0, 1] = -0.5
        d["recurrent_scaling_factors"] = sf
        d["feedforward_scaling_factors"] = np.ones((nf, nt))
    else:
        raise SystemExit("unknown mode " + mode)
    save_npz(dst, d)


def ckpt_set(path, key, index, value):
    d = dict(np.load(path))
    a = d[key].copy()
    v = literal(value)
    if index == "-":
        a = np.array(v, dtype=a.dtype)
    else:
        a.reshape(-1)[int(index)] = v
    d[key] = a
    save_npz(path, d)


def ckpt_dup(path, key, value):
    buf = io.BytesIO()
    np.save(buf, np.array(literal(value), dtype=np.int64))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": exactly what this makes
        with zipfile.ZipFile(path, "a") as z:
            z.writestr(key + ".npy", buf.getvalue())
    assert int(np.load(path)[key]) == int(literal(value)), "numpy does not read the last member"


cmd = sys.argv[1]
if cmd == "network":
    network(*sys.argv[2:5])
elif cmd == "ckpt_set":
    ckpt_set(*sys.argv[2:6])
elif cmd == "ckpt_dup":
    ckpt_dup(*sys.argv[2:5])
else:
    raise SystemExit(__doc__)
