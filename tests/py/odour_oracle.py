"""Oracle for tests/unit/test_odours.c: the reference's generate_odour_firing_rates, computed with numpy.

Usage: odour_oracle.py DIR. Reads DIR/meta.txt (N_in N target_type, then one line per feedforward
type: baseline modulation fraction), DIR/w_ff.f32 (N_in x N), DIR/ffi.i64, DIR/cti.i64, DIR/asm.i32;
writes DIR/expected.f64 (P x N_in). Follows the reference line by line, with two documented changes:
equal drives keep ascending input order (stable argsort) and a negative down rate is clamped to 0.
"""
import sys

import numpy as np


def main(d):
    with open(f"{d}/meta.txt") as f:
        lines = f.read().split("\n")
    n_in, n, target = (int(x) for x in lines[0].split())
    configs = [tuple(float(x) for x in ln.split()) for ln in lines[1:] if ln.strip()]
    w_ff = np.fromfile(f"{d}/w_ff.f32", dtype=np.float32).reshape(n_in, n)
    ffi = np.fromfile(f"{d}/ffi.i64", dtype=np.int64)
    cti = np.fromfile(f"{d}/cti.i64", dtype=np.int64)
    asm = np.fromfile(f"{d}/asm.i32", dtype=np.int32)

    unique = np.unique(asm[asm >= 0])
    rates = np.zeros((len(unique), n_in))
    drive = np.zeros((len(unique), n_in))
    target_mask = cti == target
    for p, a in enumerate(unique):
        drive[p, :] = w_ff[:, (asm == a) & target_mask].sum(axis=1)
    for c, (b, m, frac) in enumerate(configs):
        idx = np.where(ffi == c)[0]
        up = b + m
        n_c = np.sum(ffi == c)
        n_up = int(n_c * frac)
        n_down = n_c - n_up
        down = (n_c * b - n_up * up) / n_down if n_down > 0 else b
        down = max(down, 0.0)
        for p in range(len(unique)):
            order = idx[np.argsort(-drive[p, idx], kind="stable")]
            rates[p, order[:n_up]] = up
            rates[p, order[n_up:]] = down
    rates.astype(np.float64).tofile(f"{d}/expected.f64")


if __name__ == "__main__":
    main(sys.argv[1])
