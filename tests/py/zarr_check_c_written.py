"""Oracle for test_zarr: python3-zarr 2.13 opens the group that the C writer made and checks every
array against the same deterministic patterns, recomputed here (usage: zarr_check_c_written.py DIR)."""
import json
import os
import sys

import numpy as np
import zarr

root = sys.argv[1]
g = zarr.open_group(root, mode="r")
assert g.attrs["dt"] == 0.1, g.attrs.asdict()
assert g.attrs["label"] == "\u00b5s test", g.attrs.asdict()


def bool_pattern(shape):
    b, t, n = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return (b * 131 + t * 7 + n * 3) % 5 == 0


def f32_pattern(shape):
    k = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    return (k % 1000).astype(np.float32) / np.float32(3.0) - np.float32(100.0)


def f64_pattern(shape):
    k = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    return k.astype(np.float64) / 7.0 - 1e6


expected_compressor = {
    "blosc": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
    "zlib": {"id": "zlib", "level": 1},
    "raw": None,
}
specs = {
    "b": ((5, 23, 17), (2, 10, 8), np.bool_, bool_pattern, False),
    "f": ((13, 9), (4, 4), np.float32, f32_pattern, 0.0),
    "d": ((7, 11), (3, 5), np.float64, f64_pattern, 0.0),
}
seen = 0
for prefix, (shape, chunks, dtype, pattern, fill) in specs.items():
    for codec, comp in expected_compressor.items():
        name = f"{prefix}_{codec}"
        a = g[name]
        assert a.shape == shape, (name, a.shape)
        assert a.chunks == chunks, (name, a.chunks)
        assert a.dtype == np.dtype(dtype), (name, a.dtype)
        assert a.fill_value == fill, (name, a.fill_value)
        meta = json.load(open(os.path.join(root, name, ".zarray"), encoding="ascii"))
        assert meta["compressor"] == comp, (name, meta["compressor"])
        assert meta["filters"] is None and meta["order"] == "C" and meta["zarr_format"] == 2
        assert meta["dimension_separator"] == "."
        data = a[:]
        exp = pattern(shape)
        assert data.dtype == exp.dtype, (name, data.dtype, exp.dtype)
        assert np.array_equal(data, exp), name
        # every chunk present, stored at full chunk shape (edge chunks padded with the fill value)
        nchunks = int(np.prod([-(-s // c) for s, c in zip(shape, chunks)]))
        files = [f for f in os.listdir(os.path.join(root, name)) if not f.startswith(".")]
        assert len(files) == nchunks, (name, len(files), nchunks)
        leftovers = [f for f in os.listdir(os.path.join(root, name)) if f.startswith(".") and f != ".zarray"]
        assert not leftovers, (name, leftovers)
        if codec == "raw":
            itemsize = np.dtype(dtype).itemsize
            for f in files:
                assert os.path.getsize(os.path.join(root, name, f)) == itemsize * int(np.prod(chunks)), (name, f)
            # the last edge chunk holds the fill value beyond the array's extent
            last = ".".join(str(-(-s // c) - 1) for s, c in zip(shape, chunks))
            raw = np.fromfile(os.path.join(root, name, last), dtype=dtype).reshape(chunks)
            valid = tuple(s - (-(-s // c) - 1) * c for s, c in zip(shape, chunks))
            pad = raw.copy()
            pad[tuple(slice(0, v) for v in valid)] = fill
            assert np.all(pad == fill), name
        seen += 1
assert seen == 9
print("python3-zarr", zarr.__version__, "read the C-written group: OK")
