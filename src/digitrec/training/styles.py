"""A writer with habits MNIST does not have: the proof that retraining learns.

Real MNIST test digits with the strokes this writer adds: a long bar across the 7, a long
flag and a base on the 1, a slash through the 0, and a base under the 9's stem. Each is drawn on the digit at 4x with MNIST's
pen width, reduced back to 28x28 and sent as a canvas drawing (dark strokes on a
transparent 280x280 canvas), as the page would send it.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitrec.training import renderings

DIGITS = (7, 1, 0, 9)  # the habits, by digit
SCALE = 4


def _ink_box(digit: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(digit > 64)
    return xs.min(), ys.min(), xs.max(), ys.max()


def with_habit(digit: np.ndarray, label: int, rng) -> np.ndarray:
    """The 28x28 uint8 digit (ink bright) with this writer's added strokes."""
    big = cv2.resize(digit, (28 * SCALE, 28 * SCALE), interpolation=cv2.INTER_CUBIC)
    x0, y0, x1, y1 = (v * SCALE for v in _ink_box(digit))
    w, h = x1 - x0, y1 - y0
    pen = int(rng.integers(8, 12))  # MNIST's stroke is ~2.5 px of 28, ~10 px at 4x
    jitter = lambda: rng.uniform(-0.05, 0.05) * h  # noqa: E731

    def line(a, b):
        points = np.array([a, b], np.float64) + [[jitter(), jitter()], [jitter(), jitter()]]
        cv2.line(big, *[tuple(int(v) for v in p) for p in points], 255, pen, cv2.LINE_AA)

    cx = (x0 + x1) / 2
    if label == 7:  # a long bar across the middle of the stem
        y = y0 + 0.55 * h
        line((cx - 0.55 * max(w, 0.6 * h), y), (cx + 0.45 * max(w, 0.6 * h), y))
    elif label == 1:  # a long flag from the top, and a base
        top = (x1 - 0.3 * w, y0)
        line(top, (top[0] - 0.45 * h, y0 + 0.35 * h))
        line((cx - 0.35 * h, y1), (cx + 0.35 * h, y1))
    elif label == 0:  # a slash through, from below left to above right
        line((x0 - 0.1 * w, y1 + 0.05 * h), (x1 + 0.1 * w, y0 - 0.05 * h))
    elif label == 9:  # a base under the stem, as on a printed 9
        line((x1 - 0.55 * h, y1), (x1 + 0.05 * h, y1))
    return cv2.resize(big, (28, 28), interpolation=cv2.INTER_AREA)


def drawing(digit: np.ndarray, label: int, rng) -> bytes:
    """The digit with its habit, drawn on the page's canvas (a transparent PNG)."""
    return renderings.transparent_canvas(with_habit(digit, label, rng), rng)


def style_set(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> list[tuple[int, bytes]]:
    """``count`` (label, canvas PNG) of this writer, the four habits in turn, from the
    given MNIST digits (pass the test set: never trained on)."""
    rng = np.random.default_rng(seed)
    pools = {d: rng.permutation(np.flatnonzero(labels == d)) for d in DIGITS}
    out = []
    for i in range(count):
        d = DIGITS[i % len(DIGITS)]
        out.append((d, drawing(images[pools[d][i // len(DIGITS)]], d, rng)))
    return out
