#!/usr/bin/env python3
"""Draws Nubo's icons: the app icon and one tray icon per state.

A white cloud with a dark outline reads on light and dark panels alike; the
tray states differ by a coloured badge (and a glyph) in the corner. Plain
Python, no imaging library: run `make icons` to redraw them.
"""
import math
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "icons"


def png(path, w, h, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[y * w * 4:(y + 1) * w * 4]) for y in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(data)


CLOUD = [((0.50, 0.47), 0.21), ((0.31, 0.58), 0.14), ((0.69, 0.58), 0.14)]
CLOUD_BOX = (0.31, 0.50, 0.69, 0.72)


def in_cloud(x, y, grow=0.0):
    if any((x - cx) ** 2 + (y - cy) ** 2 <= (r + grow) ** 2 for (cx, cy), r in CLOUD):
        return True
    x0, y0, x1, y1 = CLOUD_BOX
    return x0 - grow <= x <= x1 + grow and y0 - grow <= y <= y1 + grow


def rounded_square(x, y, r=0.18):
    dx = max(abs(x - 0.5) - (0.5 - r), 0)
    dy = max(abs(y - 0.5) - (0.5 - r), 0)
    return dx * dx + dy * dy <= r * r


BADGES = {
    "up-to-date": ((46, 160, 67), "check"),
    "syncing": ((33, 118, 214), "arrows"),
    "paused": ((110, 118, 129), "pause"),
    "offline": ((110, 118, 129), "cross"),
    "error": ((207, 34, 46), "bang"),
    "action-needed": ((219, 125, 0), "bang"),
}


def glyph(kind, u, v):
    """u, v in [-1, 1] inside the badge."""
    if kind == "check":
        return abs(v - (0.35 - 0.6 * abs(u + 0.15))) < 0.16 and -0.55 < u < 0.6 if u > -0.15 else abs(v - (0.35 - 0.6 * abs(u + 0.15))) < 0.16 and u > -0.55
    if kind == "pause":
        return -0.5 < v < 0.5 and (0.12 < abs(u) < 0.38)
    if kind == "cross":
        return (abs(u - v) < 0.2 or abs(u + v) < 0.2) and abs(u) < 0.55 and abs(v) < 0.55
    if kind == "bang":
        return abs(u) < 0.14 and (-0.6 < v < 0.2 or 0.38 < v < 0.62)
    if kind == "arrows":
        r = math.hypot(u, v)
        a = math.atan2(v, u)
        return 0.32 < r < 0.56 and not (-0.4 < a < 0.4 or 2.7 < abs(a))
    return False


def draw(size, badge=None, background=True, ss=4):
    px = []
    for y in range(size):
        for x in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(ss):
                for sx in range(ss):
                    fx = (x + (sx + 0.5) / ss) / size
                    fy = (y + (sy + 0.5) / ss) / size
                    c = None
                    if background and rounded_square(fx, fy):
                        c = (30, 99, 201)
                    if in_cloud(fx, fy, 0.05 if not background else 0.0) and not background:
                        c = (32, 36, 42)
                    if in_cloud(fx, fy):
                        c = (255, 255, 255)
                    if badge:
                        color, kind = BADGES[badge]
                        bx, by, br = 0.74, 0.74, 0.25
                        d = math.hypot(fx - bx, fy - by)
                        if d <= br + 0.04:
                            c = (32, 36, 42)
                        if d <= br:
                            c = color
                            if glyph(kind, (fx - bx) / br, (fy - by) / br):
                                c = (255, 255, 255)
                    if c:
                        acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
            n = ss * ss
            a = acc[3] / n
            px += [int(acc[i] / max(acc[3] / 255, 1e-9)) if acc[3] else 0 for i in range(3)] + [int(a)]
    return px


def main():
    OUT.mkdir(exist_ok=True)
    for size, name in [(32, "32x32.png"), (128, "128x128.png"), (256, "256x256.png"), (512, "icon.png")]:
        png(OUT / name, size, size, draw(size, ss=4 if size <= 256 else 2))
    for state in BADGES:
        png(OUT / f"tray-{state}.png", 64, 64, draw(64, badge=state, background=False))
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
