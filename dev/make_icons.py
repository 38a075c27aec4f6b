"""Draws the app's icons into static/icons/: run once, the results are committed.

A flat design (a white envelope on the app's blue) drawn with the standard library alone:
each pixel is the share of 3×3 samples that fall in each shape, written as PNG with zlib and
struct; favicon.ico holds two of those PNGs. icon.svg is the same drawing for browsers that
take SVG. ``python -m dev.make_icons``
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"

BLUE = (0x0B, 0x5C, 0xAD)
WHITE = (0xFF, 0xFF, 0xFF)
# In units of the icon's side: the envelope, its flap's two strokes, the rounded corners.
BODY = (0.2, 0.3, 0.8, 0.7)
BODY_RADIUS = 0.03
FLAP = ((0.2, 0.3), (0.5, 0.53), (0.8, 0.3))
FLAP_HALF_WIDTH = 0.025
CORNER_RADIUS = 0.18
SAMPLES = 3

SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">\
<rect width="512" height="512" rx="92" fill="#0b5cad"/>\
<rect x="102" y="154" width="308" height="204" rx="15" fill="#fff"/>\
<path d="M102 154 256 271 410 154" fill="none" stroke="#0b5cad" stroke-width="26" \
stroke-linejoin="round" stroke-linecap="round"/></svg>
"""


def inside_rounded(x: float, y: float, box: tuple[float, float, float, float], r: float) -> bool:
    left, top, right, bottom = box
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + r), right - r)
    cy = min(max(y, top + r), bottom - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def near_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def colour_at(x: float, y: float, full_bleed: bool) -> tuple[int, int, int, int]:
    """The colour of one sample: transparent outside the rounded square unless full bleed
    (maskable icons and Apple's, which the system crops itself)."""
    if not full_bleed and not inside_rounded(x, y, (0, 0, 1, 1), CORNER_RADIUS):
        return (0, 0, 0, 0)
    on_flap = any(near_segment(x, y, a, b) <= FLAP_HALF_WIDTH for a, b in itertools.pairwise(FLAP))
    if inside_rounded(x, y, BODY, BODY_RADIUS) and not on_flap:
        return (*WHITE, 255)
    return (*BLUE, 255)


def pixels(size: int, full_bleed: bool) -> bytes:
    rows = bytearray()
    step = 1 / (size * SAMPLES)
    for py in range(size):
        rows.append(0)  # PNG filter type: none
        for px in range(size):
            total = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px * SAMPLES + sx + 0.5) * step
                    y = (py * SAMPLES + sy + 0.5) * step
                    r, g, b, a = colour_at(x, y, full_bleed)
                    total = [total[0] + r * a, total[1] + g * a, total[2] + b * a, total[3] + a]
            alpha = total[3]
            if alpha == 0:
                rows.extend((0, 0, 0, 0))
            else:
                rows.extend((*(round(total[c] / alpha) for c in range(3)), alpha // SAMPLES**2))
    return bytes(rows)


def png(size: int, full_bleed: bool = False) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels(size, full_bleed), 9))
        + chunk(b"IEND", b"")
    )


def ico(images: dict[int, bytes]) -> bytes:
    """An .ico whose entries are PNGs (every browser since 2007 reads them)."""
    directory = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, bodies = b"", b""
    for size, data in images.items():
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
        bodies += data
        offset += len(data)
    return directory + entries + bodies


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon.svg").write_text(SVG, encoding="utf-8")
    (OUT / "icon-192.png").write_bytes(png(192))
    (OUT / "icon-512.png").write_bytes(png(512))
    (OUT / "maskable-512.png").write_bytes(png(512, full_bleed=True))
    (OUT / "apple-touch-icon.png").write_bytes(png(180, full_bleed=True))
    (OUT / "favicon.ico").write_bytes(ico({16: png(16), 32: png(32)}))
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
