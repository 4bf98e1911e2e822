"""Doubles and their Python repr, for tests/unit/test_metrics.c.

    repr_oracle.py OUT      # writes lines "<16 hex digits of the IEEE bits> <repr(x)>"

The values cover the cases where repr's shortest round-trip rule and its switch to exponent form are
easy to get wrong: every power of two (where the rounding interval is lopsided), powers of ten and
their neighbours, the exponent-form thresholds (1e-05, 0.0001, 1e16), float32-derived values
(float(np.float32(0.4)) = 0.4000000059604645), subnormals, huge and tiny values, integral values,
random bit patterns and random values of every scale, all with both signs.
"""
import struct
import sys

import numpy as np


def values():
    rng = np.random.RandomState(20240611)
    v = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e16, 1e-05, 0.0001, 123456789012345.0,
         2.0, 1e15, 9999999999999998.0, 1e22, 1e23, 5e-324, 2.2250738585072014e-308,
         2.225073858507201e-308, 1.7976931348623157e308, 0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3,
         9007199254740992.0, 9007199254740993.0, 2.0 ** 63, 1e-4 * (1 - 2 ** -52), 0.5, 1.5, 100.0,
         123.456, 1234567890123456.7, 12345678901234567.0, 0.000123, 0.00001234, 9.999999999999999e15]
    v += [2.0 ** e for e in range(-1074, 1024)]
    for e in range(-325, 309):
        x = float("1e%d" % e)
        v += [x, float(np.nextafter(x, np.inf)), float(np.nextafter(x, -np.inf))]
        v += [float("9.5e%d" % e), float("1.25e%d" % e)]
    v += [float(np.float32(x)) for x in (0.4, 0.1, 0.3, 1e-3, 3.14159, 1e-8, 1e10, 65504.0, 0.7)]
    v += [float(x) for x in rng.standard_normal(2000).astype(np.float32)]
    v += [float(x) for x in (rng.random_sample(1000) * 10.0 ** rng.randint(-12, 12, 1000)).astype(np.float32)]
    v += [float(x) for x in rng.standard_normal(2000) * 10.0 ** rng.randint(-30, 30, 2000)]
    v += [float(x) for x in rng.randint(-(2 ** 53), 2 ** 53, 1000, dtype=np.int64)]
    v += [float(x) for x in rng.randint(-10 ** 6, 10 ** 6, 500)]
    v += [float(x) / 8 for x in rng.randint(-10 ** 6, 10 ** 6, 500)]
    bits = rng.randint(0, 2 ** 63 - 1, 4000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    bits |= rng.randint(0, 2, 4000).astype(np.uint64)
    v += [float(x) for x in bits.view(np.float64)]
    # every value with both signs
    v += [-x for x in v]
    return v


def main():
    with open(sys.argv[1], "w") as f:
        for x in values():
            f.write("%016x %s\n" % (struct.unpack("<Q", struct.pack("<d", x))[0], repr(x)))


if __name__ == "__main__":
    main()
