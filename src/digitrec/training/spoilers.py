"""What spoils a digit on real paper, for training: a stroke across it, a hollow outline,
blur. Used by training (``Hyperparameters.spoiled_share``) and by ``harden``.

These differ on purpose from the test renderings of ``mnist_c`` (no zigzags, no Canny
edges, no single-line motion kernels): what is measured on MNIST-C is not what was trained on.
"""

from __future__ import annotations

import cv2
import numpy as np


def strokes_across(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One or two smooth pen strokes (quadratic curves) over the digit, as a scribble or a
    crossing-out leaves them."""
    canvas = np.zeros((112, 112), np.uint8)  # drawn 4x larger, then averaged down
    for _ in range(int(rng.integers(1, 3))):
        a, b, c = rng.uniform(0, 112, (3, 2))
        t = np.linspace(0, 1, 40)[:, None]
        curve = (1 - t) ** 2 * a + 2 * (1 - t) * t * c + t**2 * b
        cv2.polylines(
            canvas, [curve.astype(np.int32)], False, int(rng.integers(150, 256)), int(rng.integers(3, 8))
        )
    overlay = cv2.resize(canvas, (28, 28), interpolation=cv2.INTER_AREA)
    return np.maximum(image, overlay)


def hollow(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit as an outline: its strokes thickened, then only their rim kept."""
    size = int(rng.integers(2, 4))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    solid = cv2.dilate(image, kernel) if rng.random() < 0.5 else image
    rim = cv2.morphologyEx(solid, cv2.MORPH_GRADIENT, np.ones((2, 2), np.uint8))
    return np.where(rim > 60, 255, 0).astype(np.uint8) if rng.random() < 0.5 else rim


def blurred(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Out of focus or shaken: a round blur, or copies of the digit smeared along a direction."""
    x = image.astype(np.float32)
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.7, 1.6))
    else:
        steps, angle = int(rng.integers(3, 8)), rng.uniform(0, np.pi)
        shifts = np.linspace(-0.5, 0.5, steps)[:, None] * steps * np.array([np.cos(angle), np.sin(angle)])
        x = np.mean(
            [cv2.warpAffine(x, np.float32([[1, 0, dx], [0, 1, dy]]), (28, 28)) for dx, dy in shifts], axis=0
        )
    return (x * (255.0 / max(float(x.max()), 1.0))).astype(np.uint8)


SPOILERS = (strokes_across, hollow, blurred)


def spoil(images: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``images`` (uint8 MNIST) where ``share`` of them get one spoiler each."""
    out = images.copy()
    for i in np.flatnonzero(rng.random(len(images)) < share):
        out[i] = SPOILERS[int(rng.integers(len(SPOILERS)))](images[i], rng)
    return out
