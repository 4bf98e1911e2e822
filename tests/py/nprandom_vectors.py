"""Prints numpy legacy RandomState draws for the C port's cross-check (tests/unit/test_nprandom.c).

Usage: nprandom_vectors.py OUT_FILE SEED...
One block per seed, one quantity per line: `<name> <count> <values...>`; doubles as float.hex()."""
import sys

import numpy as np


def line(f, name, values, fmt):
    values = list(values)
    f.write("%s %d %s\n" % (name, len(values), " ".join(fmt(v) for v in values)))


def main():
    out = sys.argv[1]
    with open(out, "w") as f:
        for s in sys.argv[2:]:
            seed = int(s)
            np.random.seed(seed)
            st = np.random.get_state()
            line(f, "key", st[1][[0, 1, 2, 3, 623]], lambda v: str(int(v)))
            line(f, "random", np.random.random(5), lambda v: float(v).hex())
            x = np.arange(20, dtype=np.int64)
            np.random.shuffle(x)
            line(f, "shuffle", x, str)
            y = np.arange(7, dtype=np.int64)
            np.random.shuffle(y[2:6])
            line(f, "shuffle_slice", y, str)
            line(f, "randint7", [np.random.randint(0, 7) for _ in range(5)], str)
            line(f, "randint_big", [np.random.randint(-5, 1000003) for _ in range(3)], str)
            line(f, "randint_one", [np.random.randint(3, 4) for _ in range(2)], str)
            line(f, "u32", np.random.randint(0, 2**32, size=3, dtype=np.uint64), str)
            line(f, "normal", np.random.standard_normal(5), lambda v: float(v).hex())
            line(f, "lognormal", [np.random.lognormal(0.3, 0.7) for _ in range(3)],
                 lambda v: float(v).hex())
            mu = np.array([[-1.0, 0.5], [2.0, 0.0]])
            sg = np.array([[0.25, 1.5], [0.0, 0.1]])
            line(f, "lognormal_arr", np.random.lognormal(mu, sg).ravel(), lambda v: float(v).hex())
            line(f, "after", [np.random.random()], lambda v: float(v).hex())
            st = np.random.get_state()
            line(f, "state", [int(st[2]), int(st[3]), int(st[1][0]), int(st[1][311])], str)
            line(f, "gauss", [st[4]], lambda v: float(v).hex())


if __name__ == "__main__":
    main()
