"""Reads a training_metrics.csv written by the C logger with Python's csv module and checks every cell
against the expected values, for tests/unit/test_metrics.c.

    metrics_check.py CSV EXPECTED

EXPECTED: first line the column names after `epoch`, tab-separated; then one line per row:
"<epoch> <cell> <cell> ...", each cell the 16 hex digits of the IEEE bits of the value or '-' for an
empty cell. A cell must parse with float() to exactly those bits (nan: any NaN, written 'nan').
The raw file must use LF line endings only and end with a line break.
"""
import csv
import math
import struct
import sys


def main():
    path, expected = sys.argv[1], sys.argv[2]
    raw = open(path, "rb").read()
    if b"\r" in raw or not raw.endswith(b"\n"):
        sys.exit("%s: expected LF line endings and a final line break" % path)
    with open(expected) as f:
        names = f.readline().rstrip("\n").split("\t")
        rows = [line.split() for line in f if line.strip()]
    with open(path, newline="") as f:
        got = list(csv.reader(f))
    if got[0] != ["epoch"] + names:
        sys.exit("%s: header %r, expected %r" % (path, got[0], ["epoch"] + names))
    if len(got) - 1 != len(rows):
        sys.exit("%s: %d rows, expected %d" % (path, len(got) - 1, len(rows)))
    for r, (g, e) in enumerate(zip(got[1:], rows), start=2):
        if len(g) != len(e):
            sys.exit("%s line %d: %d cells, expected %d" % (path, r, len(g), len(e)))
        if g[0] != e[0] or int(g[0]) != int(e[0]):
            sys.exit("%s line %d: epoch %r, expected %r" % (path, r, g[0], e[0]))
        for c, (cell, want) in enumerate(zip(g[1:], e[1:]), start=1):
            if want == "-":
                if cell != "":
                    sys.exit("%s line %d column %d: %r, expected empty" % (path, r, c, cell))
                continue
            x = struct.unpack("<d", struct.pack("<Q", int(want, 16)))[0]
            y = float(cell)
            if math.isnan(x):
                ok = math.isnan(y) and cell == "nan"
            else:
                ok = struct.pack("<d", x) == struct.pack("<d", y) and cell == repr(x)
            if not ok:
                sys.exit("%s line %d column %d: %r, expected %r" % (path, r, c, cell, repr(x)))
    print("%s: %d rows checked" % (path, len(rows)))


if __name__ == "__main__":
    main()
