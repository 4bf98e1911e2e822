"""Sparse network files read with scipy (tests/e2e/sparse.sh).

    sparse_check.py SPARSE.npz DENSE.npz
The CSR arrays of SPARSE.npz, prefixed by the matrix name, are what scipy.sparse.save_npz writes for a
CSR matrix: csr_matrix((data, indices, indptr), shape) and, with the prefix stripped, load_npz give the
matrices of DENSE.npz (weights; the stored entries are the connectivity, zero-weight synapses included).
Every other array is the same in both files."""
import io
import sys

import numpy as np
import scipy.sparse as sp

sparse_path, dense_path = sys.argv[1], sys.argv[2]
s, d = np.load(sparse_path), np.load(dense_path)
for name, conn in (("recurrent_weights", "recurrent_connectivity"), ("feedforward_weights", "feedforward_connectivity")):
    keys = [f"{name}_{k}" for k in ("data", "indices", "indptr", "shape", "format")]
    for k in keys:
        assert k in s.files, (k, s.files)
    assert s[f"{name}_format"].item() == b"csr", s[f"{name}_format"]
    assert s[f"{name}_data"].dtype == np.float32 and s[f"{name}_indices"].dtype == np.int32
    m = sp.csr_matrix((s[f"{name}_data"], s[f"{name}_indices"], s[f"{name}_indptr"]), shape=tuple(s[f"{name}_shape"]))
    assert m.has_sorted_indices
    # the layout scipy itself writes: strip the prefix and let load_npz read it
    buf = io.BytesIO()
    np.savez(buf, **{k[len(name) + 1:]: s[k] for k in keys})
    buf.seek(0)
    m2 = sp.load_npz(buf)
    assert (m2 != m).nnz == 0
    w, c = d[name], d[conn]
    assert m.shape == w.shape, (m.shape, w.shape)
    assert np.array_equal(m.toarray(), w), name
    stored = np.zeros(w.shape, bool)
    stored[np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices] = True
    assert np.array_equal(stored, c), f"{name}: the stored entries are not the connectivity"
    print(f"{name}: {m.nnz} synapses ({int((m.data == 0).sum())} of weight 0), scipy reads them")
for k in d.files:
    if k in ("recurrent_weights", "feedforward_weights", "recurrent_connectivity", "feedforward_connectivity"):
        assert k not in s.files, k
        continue
    assert np.array_equal(s[k], d[k]) and s[k].dtype == d[k].dtype, k
print("sparse file OK")
