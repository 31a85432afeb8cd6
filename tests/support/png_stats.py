"""Prints `width height nonwhite_fraction distinct_colors right_quarter_nonwhite_fraction` of a PNG (8-bit RGB/RGBA, no
interlace: what Chromium writes), with the standard library only, so the screenshot test needs
no imaging package."""
import struct
import sys
import zlib


def main(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    nonwhite, colors, i = 0, set(), 0
    # Content in the rightmost quarter: a page that uses its width, not one clipped at the left.
    right, right_from = 0, (width * 3 // 4) * bpp
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp):
            px = bytes(line[x:x + 3])
            if px != b"\xff\xff\xff":
                nonwhite += 1
                if x >= right_from:
                    right += 1
            if len(colors) < 4096:
                colors.add(px)
        prev = line
    quarter = (width - width * 3 // 4) * height
    print(width, height, f"{nonwhite / (width * height):.4f}", len(colors), f"{right / quarter:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
