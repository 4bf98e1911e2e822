"""Oracle for the C TOML reader: compares its JSON dump of each document with Python's tomllib.

Usage: toml_oracle.py DOC.toml DUMP.json [DOC.toml DUMP.json ...]
The dump is tagged: {"t": "table", "v": [[key, node], ...]} (keys in file order),
{"t": "array", "v": [node, ...]}, {"t": "string"|"integer"|"float"|"boolean", "v": "<text>"}.
Floats are compared bit for bit (NaN by sign only); integers and floats are told apart; table key
order must match too. Exits 1 and prints every difference if any."""
import json
import math
import struct
import sys
import tomllib


def fbits(x):
    return struct.pack("<d", x)


def compare(expected, got, path, errors):
    t = got.get("t")
    if isinstance(expected, bool):
        if t != "boolean" or got["v"] != ("true" if expected else "false"):
            errors.append(f"{path}: expected boolean {expected}, got {got}")
    elif isinstance(expected, int):
        if t != "integer" or int(got["v"]) != expected:
            errors.append(f"{path}: expected integer {expected}, got {got}")
    elif isinstance(expected, float):
        if t != "float":
            errors.append(f"{path}: expected float {expected!r}, got {got}")
            return
        g = float(got["v"])
        if math.isnan(expected):
            if not math.isnan(g) or math.copysign(1, g) != math.copysign(1, expected):
                errors.append(f"{path}: expected {expected!r}, got {got['v']}")
        elif fbits(g) != fbits(expected):
            errors.append(f"{path}: expected float {expected!r}, got {got['v']}")
    elif isinstance(expected, str):
        if t != "string" or got["v"] != expected:
            errors.append(f"{path}: expected string {expected!r}, got {got}")
    elif isinstance(expected, list):
        if t != "array" or len(got["v"]) != len(expected):
            errors.append(f"{path}: expected array of {len(expected)}, got {str(got)[:200]}")
            return
        for i, (e, g) in enumerate(zip(expected, got["v"])):
            compare(e, g, f"{path}[{i}]", errors)
    elif isinstance(expected, dict):
        if t != "table":
            errors.append(f"{path}: expected table, got {str(got)[:200]}")
            return
        gkeys = [k for k, _ in got["v"]]
        ekeys = list(expected.keys())
        if gkeys != ekeys:
            errors.append(f"{path}: expected keys {ekeys}, got {gkeys}")
            return
        for (k, g) in got["v"]:
            compare(expected[k], g, f"{path}.{k}" if path else k, errors)
    else:
        errors.append(f"{path}: unexpected python type {type(expected)}")


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = []
    for doc, dump in zip(argv[0::2], argv[1::2]):
        with open(doc, "rb") as f:
            expected = tomllib.load(f)
        with open(dump, encoding="utf-8") as f:
            got = json.load(f)
        errs = []
        compare(expected, got, "", errs)
        errors += [f"{doc}: {e}" for e in errs]
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
