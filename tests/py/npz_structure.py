"""NumPy oracle for network_structure.npz (run with /usr/bin/python3).

  check PATH   checks a structure saved by snn_structure_save (test_structure.c): exact keys, dtypes,
               shapes and values of the pattern below, scaling factors included.
  write DIR    writes good and bad structure files for snn_structure_load to accept or refuse.

Pattern (mirrored in test_structure.c, keep in sync): N = 6, N_in = 4,
  w[i, j]     = 0 if i == j or (7i + 3j) % 5 == 0, else float32(0.1 * (1 + (i + 2j) % 4))
  conn        = w != 0, plus conn[0, 5] = True (a synapse whose weight is 0)
  w_ff[k, j]  = 0 if (k + j) % 3 == 0, else float32(0.05 * (1 + (k * j) % 3));  conn_ff = w_ff != 0
  cell types  = i % 2;  ff types = k % 3;  assembly ids = [0, 0, 1, 1, -1, -1]
  sf          = [[1.5, 0.5], [2.0, 0.25]];  sf_ff = [[1, 2], [3, 4], [5, 6]] * 0.125
"""
import os
import sys

import numpy as np

N, N_IN = 6, 4


def base():
    w = np.zeros((N, N), np.float32)
    for i in range(N):
        for j in range(N):
            if i != j and (7 * i + 3 * j) % 5 != 0:
                w[i, j] = np.float32(0.1 * (1 + (i + 2 * j) % 4))
    conn = w != 0
    conn[0, 5] = True
    w_ff = np.zeros((N_IN, N), np.float32)
    for k in range(N_IN):
        for j in range(N):
            if (k + j) % 3 != 0:
                w_ff[k, j] = np.float32(0.05 * (1 + (k * j) % 3))
    return {
        "recurrent_weights": w,
        "feedforward_weights": w_ff,
        "recurrent_connectivity": conn,
        "feedforward_connectivity": w_ff != 0,
        "cell_type_indices": (np.arange(N) % 2).astype(np.int64),
        "feedforward_cell_type_indices": (np.arange(N_IN) % 3).astype(np.int64),
        "assembly_ids": np.array([0, 0, 1, 1, -1, -1], np.int32),
        "recurrent_scaling_factors": np.array([[1.5, 0.5], [2.0, 0.25]]),
        "feedforward_scaling_factors": np.array([[1, 2], [3, 4], [5, 6]], np.float64) * 0.125,
    }


def fail(msg):
    print("npz_structure: FAIL:", msg)
    sys.exit(1)


def check(path):
    want = base()
    with np.load(path) as f:
        if sorted(f.files) != sorted(want):
            fail(f"keys {sorted(f.files)}, expected {sorted(want)}")
        for k, v in want.items():
            a = f[k]
            if a.dtype != v.dtype or a.shape != v.shape:
                fail(f"{k}: {a.dtype} {a.shape}, expected {v.dtype} {v.shape}")
            if not np.array_equal(a, v):
                fail(f"{k}: values differ:\n{a}\nexpected\n{v}")
    print("npz_structure: OK", path)


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def replaced(d, key, value):
    d = dict(d)
    d[key] = value
    return d


def write(out):
    b = without(base(), "recurrent_scaling_factors", "feedforward_scaling_factors")
    w, w_ff = b["recurrent_weights"], b["feedforward_weights"]

    def mod(key, fn):
        a = b[key].copy()
        fn(a)
        return replaced(b, key, a)

    def setw(key, idx, val):
        return mod(key, lambda a: a.__setitem__(idx, val))

    cases = {
        # accepted
        "ok_full": base(),
        "ok_old_name": dict(without(b, "recurrent_weights", "recurrent_connectivity", "feedforward_connectivity",
                                    "assembly_ids"),
                            weights=w.astype(np.float64),
                            cell_type_indices=b["cell_type_indices"].astype(np.int32),
                            feedforward_cell_type_indices=b["feedforward_cell_type_indices"].astype(np.uint8)),
        "ok_int_conn": replaced(b, "recurrent_connectivity", b["recurrent_connectivity"].astype(np.int8)),
        # refused
        "no_recurrent": without(b, "recurrent_weights"),
        "no_ff": without(b, "feedforward_weights"),
        "no_types": without(b, "cell_type_indices"),
        "no_ff_types": without(b, "feedforward_cell_type_indices"),
        "int_weights": replaced(b, "recurrent_weights", (w * 10).astype(np.int64)),
        "float_types": replaced(b, "cell_type_indices", b["cell_type_indices"].astype(np.float64)),
        "float_conn": replaced(b, "recurrent_connectivity", b["recurrent_connectivity"].astype(np.float32)),
        "conn_not_01": replaced(b, "feedforward_connectivity", (w_ff != 0).astype(np.int16) * 2),
        "nonsquare": replaced(b, "recurrent_weights", w[:, :5]),
        "ff_n": replaced(b, "feedforward_weights", w_ff[:, :5]),
        "types_len": replaced(b, "cell_type_indices", b["cell_type_indices"][:5]),
        "ff_types_len": replaced(b, "feedforward_cell_type_indices", b["feedforward_cell_type_indices"][:3]),
        "asm_len": replaced(b, "assembly_ids", b["assembly_ids"][:4]),
        "conn_shape": replaced(b, "recurrent_connectivity", b["recurrent_connectivity"][:, :5]),
        "nan_weight": setw("recurrent_weights", (2, 3), np.nan),
        "inf_ff_weight": setw("feedforward_weights", (1, 0), np.inf),
        "neg_weight": setw("recurrent_weights", (4, 1), -0.5),
        "weight_no_conn": setw("recurrent_weights", (1, 1), 0.25),
        "ff_weight_no_conn": mod("feedforward_connectivity", lambda a: a.__setitem__((3, 2), False)),
        "type_range": setw("cell_type_indices", 3, 2),
        "neg_type": setw("feedforward_cell_type_indices", 2, -1),
        "asm_bad": setw("assembly_ids", 5, -2),
        "sf_shape": dict(base(), recurrent_scaling_factors=np.ones((2, 3))),
        "sf_alone": dict(b, recurrent_scaling_factors=np.ones((2, 2))),
    }
    for name, arrays in cases.items():
        path = os.path.join(out, name + ".npz")
        if name in ("ok_old_name", "nan_weight"):
            np.savez_compressed(path, **arrays)
        else:
            np.savez(path, **arrays)
    print(f"npz_structure: wrote {len(cases)} files")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "write"):
        print(__doc__)
        sys.exit(2)
    {"check": check, "write": write}[sys.argv[1]](sys.argv[2])
