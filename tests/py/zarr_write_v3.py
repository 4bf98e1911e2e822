"""Oracle for test_zarr: builds a Zarr format-3 teacher store the way zarr-python 3 lays it out
(reference/inputs-and-data.md section 8.2) using only json and zstandard, since no zarr 3 is
installed; the exact contents go to EXPECTED/<name>.bin (usage: zarr_write_v3.py STORE EXPECTED).

Layout: zarr.json group with attribute dt; output_spikes / input_spikes bool (B, T, N) in chunks
(B, L, N) under keys c/0/<c>/0, ou_process_weights float32, odourant_patterns float64 with padded
edge chunks; codecs bytes -> zstd; all-false chunks are not written."""
import gzip
import json
import os
import sys

import numpy as np
import zstandard

store, expected = sys.argv[1], sys.argv[2]
os.makedirs(store, exist_ok=True)
os.makedirs(expected, exist_ok=True)
rng = np.random.default_rng(7)
B, L, C, N, NIN, P = 3, 10, 4, 13, 7, 3
T = L * C
cctx = zstandard.ZstdCompressor(level=3)


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


dump(os.path.join(store, "zarr.json"),
     {"attributes": {"dt": 0.5}, "zarr_format": 3, "consolidated_metadata": None, "node_type": "group"})


def codecs_for(dtype, compressor):
    first = {"name": "bytes"} if dtype.itemsize == 1 else {"name": "bytes", "configuration": {"endian": "little"}}
    return [first, compressor]


ZSTD = {"name": "zstd", "configuration": {"level": 0, "checksum": False}}


def write_array(name, data, chunks, fill, data_type, compressor=ZSTD, sep="/", encode=None):
    d = os.path.join(store, name)
    os.makedirs(d, exist_ok=True)
    dump(os.path.join(d, "zarr.json"), {
        "shape": list(data.shape), "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": sep}},
        "fill_value": fill, "codecs": codecs_for(data.dtype, compressor), "attributes": {},
        "zarr_format": 3, "node_type": "array", "storage_transformers": []})
    np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tofile(os.path.join(expected, name + ".bin"))
    grid = [-(-s // c) for s, c in zip(data.shape, chunks)]
    written = []
    for idx in np.ndindex(*grid):
        block = np.full(chunks, fill, dtype=data.dtype)
        sl = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, data.shape))
        part = data[sl]
        block[tuple(slice(0, e) for e in part.shape)] = part
        if np.all(block == fill):
            continue  # zarr's write_empty_chunks = False
        raw = block.astype(block.dtype.newbyteorder("<")).tobytes()
        payload = (encode or cctx.compress)(raw)
        key = "c" + "".join(sep + str(i) for i in idx)
        path = os.path.join(d, *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(payload)
        written.append(key)
    return written


out = rng.random((B, T, N)) < 0.15
out[:, 2 * L:3 * L, :] = False  # chunk c = 2 has no spike at all: no file
keys = write_array("output_spikes", out, (B, L, N), False, "bool")
assert keys == ["c/0/0/0", "c/0/1/0", "c/0/3/0"], keys
inp = rng.random((B, T, NIN)) < 0.3
write_array("input_spikes", inp, (B, L, NIN), False, "bool")
logits = rng.standard_normal((B, T, P)).astype(np.float32)
w = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
write_array("ou_process_weights", w.astype(np.float32), (B, L, P), 0.0, "float32")
pat = rng.random((P, NIN)) * 50.0
keys = write_array("odourant_patterns", pat, (2, 4), 0.0, "float64")
assert keys == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"], keys
# variants the reader also accepts: "." key separator with gzip, and the v2 key encoding
alt = (rng.standard_normal((5, 6)) * 10).astype(np.float32)
write_array("alt_dot_gzip", alt, (2, 4), 0.0, "float32", compressor={"name": "gzip", "configuration": {"level": 5}},
            sep=".", encode=lambda b: gzip.compress(b, 5))
assert os.path.exists(os.path.join(store, "alt_dot_gzip", "c.2.1"))
print("wrote", store)
