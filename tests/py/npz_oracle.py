"""NumPy oracle for the C .npy/.npz reader and writer (run with /usr/bin/python3).

  check_c DIR   checks the files test_npz.c wrote into DIR: every array must equal the deterministic
                pattern recomputed here, with the exact dtype and shape its name announces.
  write DIR     writes files with np.savez / np.savez_compressed / np.save for the C reader to check
                against the same pattern (and a few files the C reader must refuse or convert).

Pattern (mirrored in test_npz.c, keep in sync): element i of the flattened array is
  bool:     i % 3 == 1
  integers: (i * 2654435761 + 12345) mod 2**bits, reinterpreted as signed for signed types
  floats:   (i * 0.37 - 5.5) * SCALE[i % 7]  (computed in float64, then cast)
"""
import os
import sys
import zipfile

import numpy as np

SCALE = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3]
DTYPES = {
    "bool": np.bool_, "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
    "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64,
    "float32": np.float32, "float64": np.float64,
}
SHAPES = {"0d": (), "1d": (7,), "2d": (3, 5), "3d": (2, 3, 4), "empty": (2, 0, 3)}


def pattern(dtype, shape):
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    if dt == np.bool_:
        flat = (i % 3) == 1
    elif dt.kind in "iu":
        bits = dt.itemsize * 8
        with np.errstate(over="ignore"):
            u = i * np.uint64(2654435761) + np.uint64(12345)
        if bits < 64:
            u = u & np.uint64((1 << bits) - 1)
        flat = u.astype(np.dtype(f"u{dt.itemsize}")).view(dt) if dt.kind == "i" else u.astype(dt)
    else:
        idx = np.arange(n, dtype=np.float64)
        scale = np.array([SCALE[k % 7] for k in range(n)], dtype=np.float64)
        flat = ((idx * 0.37 - 5.5) * scale).astype(dt)
    return flat.reshape(shape)


def fail(msg):
    print("npz_oracle: FAIL:", msg)
    sys.exit(1)


def check_array(where, name, a):
    dname, sname = name.split("__")
    want = pattern(DTYPES[dname], SHAPES[sname])
    if a.dtype != np.dtype(DTYPES[dname]):
        fail(f"{where}:{name}: dtype {a.dtype}, expected {dname}")
    if a.shape != want.shape:
        fail(f"{where}:{name}: shape {a.shape}, expected {want.shape}")
    if not np.array_equal(a, want):
        fail(f"{where}:{name}: values differ: {a.ravel()[:8]} vs {want.ravel()[:8]}")
    if not a.flags.c_contiguous:
        fail(f"{where}:{name}: not C-ordered")


def check_c(d):
    count = 0
    for fname, method in (("c_stored.npz", zipfile.ZIP_STORED), ("c_deflated.npz", zipfile.ZIP_DEFLATED)):
        path = os.path.join(d, fname)
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                fail(f"{fname}: CRC error in {zf.testzip()}")
            for info in zf.infolist():
                if info.compress_type != method:
                    fail(f"{fname}:{info.filename}: compression {info.compress_type}, expected {method}")
                if not info.filename.endswith(".npy"):
                    fail(f"{fname}: member {info.filename} lacks .npy")
                with zf.open(info) as m:
                    head = m.read(10)
                    if head[:8] != b"\x93NUMPY\x01\x00":
                        fail(f"{fname}:{info.filename}: not a format 1.0 header: {head!r}")
                    hlen = head[8] | (head[9] << 8)
                    if (10 + hlen) % 64 != 0:
                        fail(f"{fname}:{info.filename}: data starts at {10 + hlen}, not 64-byte aligned")
        with np.load(path) as f:
            names = sorted(f.files)
            expect = sorted(f"{d_}__{s_}" for d_ in DTYPES for s_ in SHAPES)
            if names != expect:
                fail(f"{fname}: keys {names}, expected {expect}")
            for k in names:
                check_array(fname, k, f[k])
                count += 1
    for dname in DTYPES:
        for sname in SHAPES:
            path = os.path.join(d, f"c_{dname}__{sname}.npy")
            a = np.load(path)
            check_array(os.path.basename(path), f"{dname}__{sname}", a)
            count += 1
    with np.load(os.path.join(d, "c_empty.npz")) as f:
        if len(f.files) != 0:
            fail(f"c_empty.npz: keys {f.files}")
    with np.load(os.path.join(d, "c_scalars.npz")) as f:
        x, y = f["x"], f["n"]
        if x.shape != () or x.dtype != np.float64 or x[()] != -1.25e-7:
            fail(f"c_scalars.npz: x = {x!r}")
        if y.shape != () or y.dtype != np.int64 or y[()] != -(2 ** 62) - 3:
            fail(f"c_scalars.npz: n = {y!r}")
    print(f"npz_oracle: OK ({count} arrays checked)")


def write(d):
    arrays = {
        "bool__2d": pattern(np.bool_, (3, 5)),
        "int32__1d": pattern(np.int32, (7,)),
        "int64__2d": pattern(np.int64, (3, 5)),
        "float64__3d": pattern(np.float64, (2, 3, 4)),
        "float64__0d": pattern(np.float64, ()),
        "uint8__1d": pattern(np.uint8, (7,)),
        "big": pattern(np.float32, (1000, 1000)),
    }
    np.savez(os.path.join(d, "py_stored.npz"), **arrays)
    np.savez_compressed(os.path.join(d, "py_deflated.npz"), **arrays)
    np.save(os.path.join(d, "py_float32__2d.npy"), pattern(np.float32, (3, 5)))
    # big-endian data must be converted on read
    np.save(os.path.join(d, "py_be.npy"), pattern(np.float64, (3, 5)).astype(">f8"))
    np.savez(os.path.join(d, "py_be.npz"), x=pattern(np.int32, (7,)).astype(">i4"),
             y=pattern(np.uint16, (2, 3, 4)).astype(">u2"))
    # refused: Fortran order, unsupported dtypes
    np.savez(os.path.join(d, "py_fortran.npz"), x=np.asfortranarray(pattern(np.float64, (3, 5))))
    np.save(os.path.join(d, "py_fortran.npy"), np.asfortranarray(pattern(np.float32, (3, 5))))
    np.savez(os.path.join(d, "py_unsupported.npz"), half=np.ones(3, np.float16),
             rec=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), text=np.array(["ab", "c"]))
    # a format 2.0 header (numpy uses it only when the header does not fit in 65535 bytes; force it)
    with open(os.path.join(d, "py_v2.npy"), "wb") as fh:
        a = pattern(np.int16, (2, 3, 4))
        np.lib.format.write_array(fh, a, version=(2, 0))
    print("npz_oracle: wrote python files")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check_c", "write"):
        print(__doc__)
        sys.exit(2)
    {"check_c": check_c, "write": write}[sys.argv[1]](sys.argv[2])
