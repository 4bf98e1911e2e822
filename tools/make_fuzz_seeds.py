"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/), small valid inputs
the fuzzer mutates. Run from the repository root with Debian's python3 (numpy, numcodecs); the
checkpoint seed comes from the fuzz target itself:
  /usr/bin/python3 tools/make_fuzz_seeds.py [build-fuzz]"""
import glob
import gzip
import io
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
from numcodecs import Blosc, Zstd

build = sys.argv[1] if len(sys.argv) > 1 else "build-fuzz"
root = "tests/fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


# TOML: the reader's corpus and a parameter file of each command
for p in sorted(glob.glob("tests/fixtures/toml/*.toml")):
    shutil.copy(p, os.path.join(root, "fuzz_toml", os.path.basename(p)))
for p in ["parameters/demo-connectome.toml", "parameters/demo-teacher.toml", "parameters/demo-train.toml",
          "parameters/demo-homeostatic.toml"]:
    shutil.copy(p, os.path.join(root, "fuzz_toml", os.path.basename(p)))

# npy / npz: every dtype, shapes of 0 to 3 dimensions, stored and deflated, a big-endian array
arrays = {
    "b": np.array([True, False, True]),
    "i1": np.arange(-3, 3, dtype=np.int8).reshape(2, 3),
    "u2": np.arange(4, dtype=np.uint16),
    "i4": np.array([[1, -2], [3, 4]], dtype=np.int32),
    "u8": np.array([7], dtype=np.uint64),
    "i8": np.array(5, dtype=np.int64),
    "f4": np.linspace(0, 1, 6, dtype=np.float32).reshape(1, 2, 3),
    "f8": np.array([1.5, -2.25]),
    "be": np.array([1.0, 2.0], dtype=">f8"),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
buf = io.BytesIO()
np.savez(buf, **arrays)
put("fuzz_npz", "stored.npz", buf.getvalue())
buf = io.BytesIO()
np.savez_compressed(buf, w=np.eye(3, dtype=np.float32), c=np.eye(3, dtype=bool), t=np.array([0, 1, 1]))
put("fuzz_npz", "deflated.npz", buf.getvalue())
buf = io.BytesIO()
np.save(buf, np.arange(12, dtype=np.float64).reshape(3, 4))
put("fuzz_npz", "plain.npy", buf.getvalue())

# zarr, metadata mode (first byte even): byte 2 odd for format 3; metadata, NUL, one chunk
data = np.arange(24, dtype="<f4").reshape(4, 6)
v2 = ('{"chunks": [4, 6], "compressor": {"blocksize": 0, "clevel": 5, "cname": "lz4", "id": "blosc", '
      '"shuffle": 1}, "dimension_separator": ".", "dtype": "<f4", "fill_value": 0.0, "filters": null, '
      '"order": "C", "shape": [4, 6], "zarr_format": 2}')
put("fuzz_zarr", "v2_blosc", b"\x00\x00" + v2.encode() + b"\x00" + Blosc(cname="lz4", clevel=5).encode(data))
v2z = v2.replace('{"blocksize": 0, "clevel": 5, "cname": "lz4", "id": "blosc", "shuffle": 1}', '{"id": "zlib", "level": 1}')
put("fuzz_zarr", "v2_zlib", b"\x00\x00" + v2z.encode() + b"\x00" + zlib.compress(data.tobytes(), 1))
v2b = v2.replace('"<f4"', '"|b1"').replace('0.0', 'false')
put("fuzz_zarr", "v2_bool_fill_missing", b"\x00\x00" + v2b.encode())
v3 = ('{"zarr_format": 3, "node_type": "array", "shape": [4, 6], "data_type": "float32", "chunk_grid": '
      '{"name": "regular", "configuration": {"chunk_shape": [4, 6]}}, "chunk_key_encoding": {"name": '
      '"default", "configuration": {"separator": "/"}}, "fill_value": 0.0, "codecs": [{"name": "bytes", '
      '"configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 0}}]}')
put("fuzz_zarr", "v3_zstd", b"\x00\x01" + v3.encode() + b"\x00" + Zstd(level=1).encode(data))
# chunk mode (first byte odd): codec index, decoded size / 4 - (little-endian 16 bits), then the chunk
raw = np.arange(64, dtype="<u4").tobytes()  # 256 bytes: dst_len = 4 * 63 + 1 is close, not equal
size = (len(raw) - 1) // 4
hdr = bytes([size & 255, size >> 8])
put("fuzz_zarr", "chunk_none", b"\x01\x00" + hdr + raw)
put("fuzz_zarr", "chunk_blosc", b"\x01\x01" + hdr + Blosc(cname="lz4", clevel=5).encode(raw))
put("fuzz_zarr", "chunk_zlib", b"\x01\x02" + hdr + zlib.compress(raw))
put("fuzz_zarr", "chunk_gzip", b"\x01\x03" + hdr + gzip.compress(raw))
put("fuzz_zarr", "chunk_zstd", b"\x01\x04" + hdr + Zstd(level=3).encode(raw))

# checkpoints: the valid one (raw mode, first byte even) and a few structured edits (first byte odd)
tmp = os.path.join(root, "fuzz_checkpoint", ".seed.npz")
subprocess.run([os.path.join(build, "tests/fuzz/fuzz_checkpoint")], env=dict(os.environ, SNNFIT_FUZZ_WRITE_SEED=tmp),
               check=True)
put("fuzz_checkpoint", "valid_raw", b"\x00" + open(tmp, "rb").read())
os.remove(tmp)
put("fuzz_checkpoint", "structured_keep", b"\x01" + b"\xff" * 64)
put("fuzz_checkpoint", "structured_values", b"\x01" + b"\x04\x00\x00\x00\x00\x00\x00\xf8\x7f" * 8)
put("fuzz_checkpoint", "structured_shapes", b"\x01" + bytes(range(2, 66)))
print("wrote", root)
