"""Writes broken variants of a network_structure.npz for the error tests (tests/e2e/errors.sh).
usage: make_bad_networks.py GOOD.npz OUTDIR"""
import os
import sys

import numpy as np

src, out = sys.argv[1], sys.argv[2]
good = dict(np.load(src))


def save(name, d, compressed=False):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(os.path.join(out, name, "network_structure.npz"), **d)


d = dict(good); del d["feedforward_weights"]; save("missing_key", d)
d = dict(good); d["recurrent_weights"] = good["recurrent_weights"].astype("U8"); save("wrong_dtype", d)
d = dict(good); d["recurrent_weights"] = good["recurrent_weights"][:, :-1]; save("not_square", d)
d = dict(good); d["cell_type_indices"] = good["cell_type_indices"][:-1]; save("n_mismatch", d)
d = dict(good); w = good["recurrent_weights"].copy(); i, j = np.argwhere(w > 0)[3]; w[i, j] = np.nan
d["recurrent_weights"] = w; save("nan_weight", d)
d = dict(good); w = good["feedforward_weights"].copy(); i, j = np.argwhere(w > 0)[5]; w[i, j] = -0.5
d["feedforward_weights"] = w; save("negative_weight", d)
d = dict(good); d["cell_type_indices"] = good["cell_type_indices"].copy(); d["cell_type_indices"][7] = 2
save("type_out_of_range", d)
# the old key name, float64 weights, int32 indices, no connectivity, deflated: must be accepted
d = dict(good); d["weights"] = d.pop("recurrent_weights").astype(np.float64)
d["cell_type_indices"] = d["cell_type_indices"].astype(np.int32)
del d["recurrent_connectivity"], d["feedforward_connectivity"]
save("old_layout_ok", d, compressed=True)
raw = open(src, "rb").read()
os.makedirs(os.path.join(out, "truncated"), exist_ok=True)
open(os.path.join(out, "truncated", "network_structure.npz"), "wb").write(raw[: len(raw) // 2])
