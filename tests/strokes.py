"""Pen strokes for the digits 0-9, as a person draws them, for the browser tests.

Each digit is a list of strokes; each stroke a list of (x, y) points in canvas fractions
(0-1), in drawing order. They are drawn with real mouse drags or touch moves.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in (start_deg + (end_deg - start_deg) * i / n for i in range(n + 1))
    ]


def _line(x0, y0, x1, y1, n=12):
    return [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n + 1)]


STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.19, 0.3, -90, 275, 40)],
    1: [_line(0.46, 0.26, 0.56, 0.18, 4) + _line(0.56, 0.18, 0.53, 0.82, 14)],
    2: [
        _arc(0.5, 0.36, 0.18, 0.16, 200, 390, 20)
        + _line(0.66, 0.44, 0.31, 0.8, 12)
        + _line(0.31, 0.8, 0.72, 0.8, 10)
    ],
    3: [_arc(0.49, 0.34, 0.17, 0.15, 210, 450, 20) + _arc(0.49, 0.65, 0.19, 0.17, -90, 150, 22)],
    4: [_line(0.58, 0.18, 0.3, 0.6, 12) + _line(0.3, 0.6, 0.74, 0.6, 10), _line(0.6, 0.36, 0.6, 0.84, 12)],
    5: [
        _line(0.7, 0.18, 0.38, 0.18, 8)
        + _line(0.38, 0.18, 0.35, 0.46, 8)
        + _arc(0.5, 0.62, 0.2, 0.19, -125, 160, 24)
    ],
    6: [_arc(0.62, 0.48, 0.28, 0.34, -100, -200, 12) + _arc(0.5, 0.66, 0.17, 0.16, 180, 540, 30)],
    7: [_line(0.3, 0.2, 0.72, 0.2, 10), _line(0.72, 0.2, 0.44, 0.84, 16)],
    8: [
        _arc(0.5, 0.33, 0.15, 0.14, 0, -270, 20)
        + _arc(0.5, 0.64, 0.18, 0.17, -90, 270, 28)
        + _arc(0.5, 0.33, 0.15, 0.14, 90, 0, 8)
    ],
    9: [_arc(0.5, 0.34, 0.17, 0.15, 0, 360, 28) + _line(0.67, 0.34, 0.62, 0.84, 12)],
}


def shifted(strokes, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0):
    """The same strokes moved and shrunk about the canvas centre (for numbers)."""
    return [
        [(0.5 + (x - 0.5) * scale + dx, 0.5 + (y - 0.5) * scale + dy) for x, y in stroke]
        for stroke in strokes
    ]


def squeezed(digits: list[int], width: float):
    """The strokes of ``digits`` side by side across the canvas, each squeezed to ``width``
    of its own size sideways (the way people fit a long number onto a phone)."""
    return [
        [((k + 0.5) / len(digits) + (x - 0.5) * width, y) for x, y in stroke]
        for k, digit in enumerate(digits)
        for stroke in STROKES[digit]
    ]


def in_a_row(digits, height: float, step: float, at=(0.5, 0.5), uphill: float = 0.0):
    """The strokes of ``digits`` side by side, each ``height`` of the canvas tall and ``step``
    apart, centred at ``at`` (x, y). ``uphill``: each digit that share of a step lower than
    the one before it (y grows downwards, so a negative value is a line drifting uphill)."""
    centre_x, centre_y = at
    middle = (len(digits) - 1) / 2
    return [
        [
            (
                centre_x + (k - middle) * step + (x - 0.5) * height,
                centre_y + (y - 0.5) * height + uphill * (k - middle) * step,
            )
            for x, y in stroke
        ]
        for k, digit in enumerate(digits)
        for stroke in STROKES[int(digit)]
    ]


def rasterised(strokes, size: tuple[int, int] = (340, 280), brush: int = 12) -> np.ndarray:
    """The strokes drawn with a round ``brush`` on a ``size`` (width, height) canvas: its
    alpha channel, anti-aliased (drawn at 4x, then reduced), as the page's canvas holds it."""
    width, height = size
    canvas = np.zeros((height * 4, width * 4), np.uint8)
    for stroke in strokes:
        points = np.array([(x * width * 4, y * height * 4) for x, y in stroke], np.int32)
        cv2.polylines(canvas, [points], False, 255, thickness=brush * 4, lineType=cv2.LINE_AA)
    return cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
