"""Data augmentation for training: the ways real handwriting differs from MNIST.

Every image in a batch gets its own random rotation, scale, shear and small shift (one
projective-transform op for the whole batch), and a share of them get thicker strokes (one
or two pixels), so that fat canvas strokes look as familiar to the model as MNIST's pen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Augmentation:
    rotation_degrees: float = 12.0
    scale_range: tuple[float, float] = (0.88, 1.12)
    aspect_jitter: float = 0.08  # independent x/y scale change, as a fraction
    shear: float = 0.15  # tan of the shear angle
    shift_pixels: float = 2.0
    thicken_probability: float = 0.3
    # Thinner strokes (a fine pen): a 2x2 grey erosion takes a pixel off every stroke.
    thin_probability: float = 0.0
    # A coarse scan (a form scanner's 16 px crop, enlarged): the digit resampled down to
    # 12-18 px and back up, which blurs and blocks it.
    coarse_probability: float = 0.0
    # A digit squeezed narrow (a number written across a phone): its width times 0.4-0.8,
    # as narrow as people squeeze a "0" or an "8" into a row of digits; never thickened.
    narrow_probability: float = 0.0
    narrow_range: tuple[float, float] = (0.4, 0.8)


def augment_batch(images: tf.Tensor, settings: Augmentation) -> tf.Tensor:
    """images: (N, 28, 28, 1) float32 in [0, 1] -> same shape, each image transformed."""
    n = tf.shape(images)[0]
    uniform = lambda low, high: tf.random.uniform([n], low, high)  # noqa: E731

    angle = uniform(-1.0, 1.0) * settings.rotation_degrees * math.pi / 180
    scale = uniform(*settings.scale_range)
    sx = scale * (1 + uniform(-settings.aspect_jitter, settings.aspect_jitter))
    narrowed = tf.zeros([n], tf.bool)
    if settings.narrow_probability:  # (no extra draws otherwise: earlier runs stay reproducible)
        narrowed = uniform(0.0, 1.0) < settings.narrow_probability
        sx = tf.where(narrowed, sx * uniform(*settings.narrow_range), sx)
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
    # (never a squeezed digit: its loops would close up)
    draw = tf.where(narrowed[:, None, None, None], 1.0, tf.random.uniform([n, 1, 1, 1]))
    images = tf.where(draw < settings.thicken_probability / 2, thickest, images)
    images = tf.where(
        (draw >= settings.thicken_probability / 2) & (draw < settings.thicken_probability),
        thicker,
        images,
    )
    if settings.thin_probability:  # never on a thickened image: the two would cancel out
        thinner = -tf.nn.max_pool2d(-images, ksize=2, strides=1, padding="SAME")
        thin = (draw >= settings.thicken_probability) & (
            draw < settings.thicken_probability + settings.thin_probability
        )
        images = tf.where(thin, thinner, images)
    if settings.coarse_probability:  # one coarseness per batch, a share of its images
        side = tf.random.uniform([], 12, 19, dtype=tf.int32)
        coarse = tf.image.resize(tf.image.resize(images, [side, side], "area"), [28, 28], "bilinear")
        images = tf.where(tf.random.uniform([n, 1, 1, 1]) < settings.coarse_probability, coarse, images)
    return images


def augment_array(images: np.ndarray, settings: Augmentation, chunk: int = 4096) -> np.ndarray:
    """``augment_batch`` over a whole in-memory array, applied once, a chunk at a time (for
    fine-tuning on arrays rather than a tf.data pipeline)."""
    return np.concatenate(
        [np.asarray(augment_batch(images[i : i + chunk], settings)) for i in range(0, len(images), chunk)]
    )
