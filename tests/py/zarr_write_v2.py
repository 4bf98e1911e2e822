"""Oracle for test_zarr: python3-zarr 2.13 writes format-2 arrays with every codec the reader must
handle; the exact contents go to EXPECTED/<name>.bin (C order, little-endian) for the C reader to
compare against (usage: zarr_write_v2.py STORE EXPECTED)."""
import os
import sys

import numpy as np
import zarr
from numcodecs import GZip, Zlib, Zstd, Blosc

store, expected = sys.argv[1], sys.argv[2]
os.makedirs(expected, exist_ok=True)
rng = np.random.default_rng(20240611)
g = zarr.open_group(store, mode="w")
g.attrs["dt"] = 0.25


def save(name, data):
    np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tofile(os.path.join(expected, name + ".bin"))


def put(name, data, chunks, **kw):
    a = g.create_dataset(name, shape=data.shape, chunks=chunks, dtype=data.dtype, **kw)
    a[...] = data
    save(name, a[...])
    return a


put("lz4", (rng.standard_normal((30, 41)) * 100).astype("<f4"), (7, 9))
put("zstd_bitshuffle", rng.standard_normal((4, 25, 13)), (3, 6, 5),
    compressor=Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE))
put("blosc_zlib_noshuffle", rng.integers(-2**31, 2**31 - 1, (17, 19), dtype="<i4"), (5, 8),
    compressor=Blosc(cname="zlib", clevel=4, shuffle=Blosc.NOSHUFFLE))
put("blosclz_bool", rng.random((6, 40, 9)) < 0.3, (4, 16, 5),
    compressor=Blosc(cname="blosclz", clevel=9, shuffle=Blosc.BITSHUFFLE))
put("lz4hc_u8", rng.integers(0, 255, (50, 3), dtype="u1"), (11, 2), compressor=Blosc(cname="lz4hc", clevel=5))
put("zlib", rng.integers(-30000, 30000, (20, 33), dtype="<i2"), (6, 10), compressor=Zlib(level=6))
put("gzip", rng.integers(0, 65535, (15, 14), dtype="<u2"), (4, 5), compressor=GZip(level=5))
put("zstd", (rng.standard_normal((12, 31)) * 7).astype("<f4"), (5, 8), compressor=Zstd(level=3))
put("none", rng.random((4, 30, 11)) < 0.2, (4, 7, 11), compressor=None)
put("slash", rng.integers(-2**62, 2**62, (9, 10), dtype="<i8"), (4, 3), dimension_separator="/")
put("bigendian", (rng.standard_normal((10, 12)) * 3).astype(">f8"), (4, 5))
put("bigendian_zlib", rng.integers(0, 2**31, (10, 7), dtype="<u4").astype(">u4"), (3, 3), compressor=Zlib(level=1))

# fill values with chunks left unwritten: those chunk files must not exist
a = g.create_dataset("fill", shape=(30, 20), chunks=(7, 6), dtype="<f4", fill_value=-2.5)
a[0:7, 0:6] = rng.standard_normal((7, 6)).astype("<f4")
a[16:23, 13:19] = rng.standard_normal((7, 6)).astype("<f4")  # straddles chunks (2,2),(2,3),(3,2),(3,3)
save("fill", a[...])
assert os.path.exists(os.path.join(store, "fill", "0.0"))
assert not os.path.exists(os.path.join(store, "fill", "1.1"))
assert not os.path.exists(os.path.join(store, "fill", "4.3"))

a = g.create_dataset("fill_nan", shape=(10, 10), chunks=(4, 4), dtype="<f8", fill_value=np.nan)
a[0:4, 0:4] = 1.5
save("fill_nan", a[...])
assert not os.path.exists(os.path.join(store, "fill_nan", "2.2"))

a = g.create_dataset("fill_true", shape=(3, 25, 4), chunks=(3, 10, 4), dtype=bool, fill_value=True)
a[:, 0:10, :] = rng.random((3, 10, 4)) < 0.5
save("fill_true", a[...])
assert not os.path.exists(os.path.join(store, "fill_true", "0.1.0"))
print("wrote", store)
