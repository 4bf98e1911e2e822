"""Checks dashboard PNGs without PIL (Debian's python3 has none): decodes each file with zlib
(8-bit RGB/RGBA, non-interlaced, all five filters), checks its size, that it is not blank (variance of
the grey level above a threshold), and that it holds some pixels of an expected colour.
usage: png_check.py FILE:WIDTHxHEIGHT[:RRGGBB,...] ..."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG layout (depth {depth}, colour type {ctype})")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride, rows, prev, k = w * bpp, [], bytearray(w * bpp), 0
    for _ in range(h):
        f, line = raw[k], bytearray(raw[k + 1:k + 1 + stride])
        k += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    for arg in sys.argv[1:]:
        parts = arg.split(":")
        path, (ew, eh) = parts[0], map(int, parts[1].split("x"))
        colours = parts[2].split(",") if len(parts) > 2 else []
        w, h, bpp, rows = decode(path)
        if (w, h) != (ew, eh):
            raise SystemExit(f"{path}: size {w}x{h}, expected {ew}x{eh}")
        n = s = ss = 0
        for r in rows[::4]:  # every 4th row is plenty for the statistics
            for x in range(0, w * bpp, bpp):
                g = (r[x] + r[x + 1] + r[x + 2]) / 3
                n, s, ss = n + 1, s + g, ss + g * g
        # exact colour matches over all rows (the centre of a line or a patch has the exact colour;
        # anti-aliased edges and alpha blends do not), aligned to pixel boundaries
        found = {}
        for c in colours:
            pat, k = bytes(int(c[i:i + 2], 16) for i in (0, 2, 4)), 0
            for r in rows:
                i = r.find(pat)
                while i >= 0:
                    k += i % bpp == 0
                    i = r.find(pat, i + 1)
            found[c] = k
        var = ss / n - (s / n) ** 2
        if var < 200:
            raise SystemExit(f"{path}: looks blank (grey-level variance {var:.1f})")
        for c, k in found.items():
            if k < 20:
                raise SystemExit(f"{path}: only {k} sampled pixels of colour #{c}")
        print(f"{path}: {w}x{h}, variance {var:.0f}, colours {found}")


main()
