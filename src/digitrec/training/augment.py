"""Data augmentation for training: the ways real handwriting differs from MNIST.

Two kinds. ``restroke`` runs once before training: it redraws each digit large with a
fatter or finer pen (a round brush, so small loops close as they do on a canvas) and puts it
back through the engine's own preprocessing, which re-crops and re-centres it exactly as it
would a user's drawing. ``augment_batch`` runs on every batch: each image gets its own random
rotation, scale, shear and small shift (one projective-transform op for the whole batch),
and a share of them get strokes one or two pixels thicker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from digitrec.engine.errors import NoDigitFound
from digitrec.engine.preprocess import find_ink, to_28x28

RESTROKE_SCALE = 4  # digits are redrawn at 4x MNIST's size, 112 px


def restroke(images: np.ndarray, rng: np.random.Generator, radii: tuple[int, int]) -> np.ndarray:
    """Each 28x28 uint8 digit redrawn with a random pen: a round dilation (radius > 0) or
    erosion (< 0) at 4x size by a radius drawn from ``radii`` (inclusive), then the engine's
    crop, 20 px fit and centring. Returns uint8 (N, 28, 28)."""
    out = np.empty_like(images)
    size = 28 * RESTROKE_SCALE
    for i, (digit, radius) in enumerate(zip(images, rng.integers(radii[0], radii[1] + 1, len(images)))):
        big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
        if radius:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1,) * 2)
            morphed = cv2.dilate(big, kernel) if radius > 0 else cv2.erode(big, kernel)
            big = morphed if morphed.max() > 64 else big  # never erase a faint digit
        try:
            ink = find_ink(big.astype(np.float32))
            out[i] = np.round(to_28x28(ink.image, ink.mask) * 255).astype(np.uint8)
        except NoDigitFound:  # a freak digit the engine would refuse: keep the original
            out[i] = digit
    return out


@dataclass(frozen=True)
class Augmentation:
    rotation_degrees: float = 12.0
    scale_range: tuple[float, float] = (0.88, 1.12)
    aspect_jitter: float = 0.08  # independent x/y scale change, as a fraction
    shear: float = 0.15  # tan of the shear angle
    shift_pixels: float = 2.0
    thicken_probability: float = 0.2
    restroke_probability: float = 0.5  # share of images drawn from the restroked copies
    restroke_radii: tuple[int, int] = (-1, 5)  # pen radius change at 4x size, in px


def augment_batch(images: tf.Tensor, settings: Augmentation) -> tf.Tensor:
    """images: (N, 28, 28, 1) float32 in [0, 1] -> same shape, each image transformed."""
    n = tf.shape(images)[0]
    uniform = lambda low, high: tf.random.uniform([n], low, high)  # noqa: E731

    angle = uniform(-1.0, 1.0) * settings.rotation_degrees * math.pi / 180
    scale = uniform(*settings.scale_range)
    sx = scale * (1 + uniform(-settings.aspect_jitter, settings.aspect_jitter))
    sy = scale * (1 + uniform(-settings.aspect_jitter, settings.aspect_jitter))
    shear = uniform(-settings.shear, settings.shear)
    tx = uniform(-settings.shift_pixels, settings.shift_pixels)
    ty = uniform(-settings.shift_pixels, settings.shift_pixels)

    # Forward map M = rotation @ shear @ scale about the image centre; the op wants the
    # inverse (output pixel -> input pixel).
    cos, sin = tf.cos(angle), tf.sin(angle)
    m00 = cos * sx
    m01 = (cos * shear - sin) * sy
    m10 = sin * sx
    m11 = (sin * shear + cos) * sy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    c = 13.5
    a2 = c - (i00 * (c + tx) + i01 * (c + ty))
    b2 = c - (i10 * (c + tx) + i11 * (c + ty))
    zeros = tf.zeros([n])
    transforms = tf.stack([i00, i01, a2, i10, i11, b2, zeros, zeros], axis=1)
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.constant([28, 28]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )

    # Thicker strokes: a 2x2 grey dilation grows every stroke by one pixel, a 3x3 one by two
    # (a fat canvas brush); each is picked for half of the thickened images.
    thicker = tf.nn.max_pool2d(images, ksize=2, strides=1, padding="SAME")
    thickest = tf.nn.max_pool2d(images, ksize=3, strides=1, padding="SAME")
    draw = tf.random.uniform([n, 1, 1, 1])
    images = tf.where(draw < settings.thicken_probability / 2, thickest, images)
    return tf.where(
        (draw >= settings.thicken_probability / 2) & (draw < settings.thicken_probability),
        thicker,
        images,
    )
