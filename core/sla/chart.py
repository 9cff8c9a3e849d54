"""A tiny pure-Python PNG rasterizer for the daily report's chart (stdlib zlib, no Pillow).

Three bar panels: median first response by local hour of day, SLA hit rate per channel, and
per operator. Labels use a 3×5 pixel font, scaled; the caption of the post carries the exact
numbers, the picture the shape.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from datetime import timedelta

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
INK: Color = (40, 40, 40)
GRID: Color = (220, 220, 220)
BLUE: Color = (66, 133, 244)
GREEN: Color = (52, 168, 83)
ORANGE: Color = (251, 140, 0)

# 3×5 glyphs, rows top to bottom, bits left to right.
_FONT: dict[str, tuple[int, ...]] = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "%": (5, 1, 2, 4, 5), ":": (0, 2, 0, 2, 0),
    " ": (0, 0, 0, 0, 0), "-": (0, 0, 7, 0, 0), ".": (0, 0, 0, 0, 2), "?": (7, 1, 3, 0, 2),
    "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6), "C": (7, 4, 4, 4, 7), "D": (6, 5, 5, 5, 6),
    "E": (7, 4, 6, 4, 7), "F": (7, 4, 6, 4, 4), "G": (7, 4, 5, 5, 7), "H": (5, 5, 7, 5, 5),
    "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 7), "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7),
    "M": (5, 7, 7, 5, 5), "N": (6, 5, 5, 5, 5), "O": (7, 5, 5, 5, 7), "P": (7, 5, 7, 4, 4),
    "Q": (7, 5, 5, 7, 1), "R": (7, 5, 6, 5, 5), "S": (7, 4, 7, 1, 7), "T": (7, 2, 2, 2, 2),
    "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2), "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5),
    "Y": (5, 5, 2, 2, 2), "Z": (7, 1, 2, 4, 7),
}


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(color) * (x1 - x0)
        for yy in range(y0, y1):
            start = (yy * self.width + x0) * 3
            self.pixels[start:start + len(row)] = row

    def text(self, x: int, y: int, text: str, color: Color = INK, scale: int = 2) -> None:
        for i, char in enumerate(text.upper()):
            glyph = _FONT.get(char, _FONT["?"])
            for row, bits in enumerate(glyph):
                for col in range(3):
                    if bits & (4 >> col):
                        self.rect(x + (i * 4 + col) * scale, y + row * scale, scale, scale,
                                  color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[y * self.width * 3:(y + 1) * self.width * 3])
                       for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _panel(c: Canvas, top: int, title: str, bars: Sequence[tuple[str, float]], peak: float,
           color: Color, value_label: str) -> None:
    left, width, height = 20, c.width - 40, 90
    c.text(left, top, title, scale=2)
    base = top + 20 + height
    for frac in (0.0, 0.5, 1.0):
        c.rect(left, base - int(height * frac), width, 1, GRID)
    c.text(c.width - 20 - 4 * 2 * len(value_label), top, value_label, scale=2)
    if not bars:
        c.text(left, base - 30, "NO DATA", scale=2)
        return
    slot = min(width // len(bars), 100)
    for i, (label, value) in enumerate(bars):
        h = int(height * (value / peak)) if peak > 0 else 0
        x = left + i * slot
        c.rect(x + 1, base - h, max(1, slot - 2), h, color)
        if value_label == "100%" and h < height - 12:  # rates get their number on top
            c.text(x + 1, base - h - 12, f"{value:.0%}", scale=2)
        if len(label) * 4 * 1 <= slot:
            c.text(x + 1, base + 4, label, scale=1 if slot < 40 else 2)


def report_chart(first_response_by_hour: dict[int, timedelta], hit_per_channel: dict[str, float],
                 hit_per_operator: dict[str, float]) -> bytes:
    """The daily report's PNG: three bar panels (values: minutes, and rates 0…1)."""
    c = Canvas(640, 420)
    minutes = {h: v.total_seconds() / 60 for h, v in first_response_by_hour.items()}
    peak = max(minutes.values(), default=0.0)
    _panel(c, 10, "FIRST RESPONSE BY HOUR", [(str(h), minutes.get(h, 0.0)) for h in range(24)],
           peak, BLUE, f"MAX {peak:.0f} MIN" if peak else "")
    _panel(c, 145, "HIT RATE PER CHANNEL",
           [(k, v) for k, v in hit_per_channel.items()], 1.0, GREEN, "100%")
    _panel(c, 280, "HIT RATE PER OPERATOR",
           [(k[:6], v) for k, v in hit_per_operator.items()][:24], 1.0, ORANGE, "100%")
    return c.png()
