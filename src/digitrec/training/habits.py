"""Ways people write digits that MNIST rarely shows, added to training as more digits.

MNIST's ones are mostly bare strokes; many people start a "1" with a flag, a short stroke
down to the left from its top. Models trained on MNIST with spoilt digits among them read
such a "1" as a "7" (docs/model.md, "Runs on a GPU"). These are MNIST training ones with a
flag drawn on, each its own length and angle, at about the digit's own pen width.
"""

from __future__ import annotations

import cv2
import numpy as np

SCALE = 4  # drawn at 4x, then reduced back to 28x28 as MNIST's digits were


def flagged_one(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 28x28 uint8 "1" (ink bright) with a flag from the top of its stroke down to the
    left, 15-30 % of the digit's height long, 25-60 degrees below the level and at least 20
    degrees flatter than the stroke (never as flat as a "7"'s bar: a "1" leaning too far
    for that is left as it is)."""
    ys, xs = np.nonzero(digit > 96)
    if len(ys) < 2:
        return digit.copy()
    # The stroke's direction, downwards: the main axis of its ink.
    points = np.stack([xs, ys], 1).astype(np.float64)
    axis = np.linalg.svd(points - points.mean(0), full_matrices=False)[2][0]
    axis = axis if axis[1] > 0 else -axis
    top = points[np.argmin(points @ axis)]
    height = float(np.ptp(points @ axis)) + 1
    # How steeply the stroke falls to the left, in degrees below the level (90: upright).
    stroke = np.degrees(np.arctan2(axis[1], -axis[0]))
    slope = min(rng.uniform(25, 60), stroke - 20)
    if slope < 25:
        return digit.copy()
    # The pen: the ink's area over the stroke's length, a little thinner (a flag is quick).
    pen = float(np.clip(0.8 * len(ys) / height, 1.2, 3.0))
    start = (top + 0.5) * SCALE
    direction = np.array([-np.cos(np.radians(slope)), np.sin(np.radians(slope))])
    end = start + direction * rng.uniform(0.15, 0.30) * height * SCALE
    big = cv2.resize(digit, (28 * SCALE, 28 * SCALE), interpolation=cv2.INTER_CUBIC)
    cv2.line(
        big,
        tuple(int(v) for v in start),
        tuple(int(v) for v in end),
        255,
        int(round(pen * SCALE)),
        cv2.LINE_AA,
    )
    return cv2.resize(big, (28, 28), interpolation=cv2.INTER_AREA)


def flagged_ones(
    images: np.ndarray, labels: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Flagged copies of ``share`` of the ones among ``images`` (all labelled 1)."""
    ones = np.flatnonzero(labels == 1)
    picked = ones[rng.random(len(ones)) < share]
    return np.array([flagged_one(images[i], rng) for i in picked], np.uint8).reshape(-1, 28, 28)
