"""Data augmentation for training: the ways real handwriting differs from MNIST.

Every image in a batch gets its own random rotation, scale, shear and small shift (one
affine-transform op for the whole batch), and a share of them get thicker strokes (one
or two pixels), so that fat canvas strokes look as familiar to the model as MNIST's pen.

Written in Keras 3 ops only, so training runs on any Keras backend (TensorFlow here, JAX on
a GPU machine: docs/model.md, "Runs on a GPU").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COARSE_SIDES = tuple(range(12, 19))  # a coarse scan's digit, 12-18 px across, enlarged again


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


def augment_batch(images, settings: Augmentation, seed=None):
    """images: (N, 28, 28, 1) float32 in [0, 1] -> same shape (a backend tensor), each image
    transformed. ``seed``: a ``keras.random.SeedGenerator`` (a layer's, inside a model), an
    int, or None for a fresh draw. (An int goes into a generator: given to each draw as it
    is, every draw would give the same numbers.)"""
    from keras import ops, random

    if not isinstance(seed, random.SeedGenerator):
        seed = random.SeedGenerator(seed)
    images = ops.convert_to_tensor(images, "float32")
    n = ops.shape(images)[0]
    uniform = lambda low, high: random.uniform((n,), low, high, seed=seed)  # noqa: E731
    as_image = lambda flags: ops.reshape(flags, (-1, 1, 1, 1))  # noqa: E731

    angle = uniform(-1.0, 1.0) * (settings.rotation_degrees * math.pi / 180)
    scale = uniform(*settings.scale_range)
    sx = scale * (1 + uniform(-settings.aspect_jitter, settings.aspect_jitter))
    narrowed = ops.zeros((n,), "bool")
    if settings.narrow_probability:
        narrowed = uniform(0.0, 1.0) < settings.narrow_probability
        sx = ops.where(narrowed, sx * uniform(*settings.narrow_range), sx)
    sy = scale * (1 + uniform(-settings.aspect_jitter, settings.aspect_jitter))
    shear = uniform(-settings.shear, settings.shear)
    tx = uniform(-settings.shift_pixels, settings.shift_pixels)
    ty = uniform(-settings.shift_pixels, settings.shift_pixels)

    # Forward map M = rotation @ shear @ scale about the image centre; the op wants the
    # inverse (output pixel -> input pixel).
    cos, sin = ops.cos(angle), ops.sin(angle)
    m00 = cos * sx
    m01 = (cos * shear - sin) * sy
    m10 = sin * sx
    m11 = (sin * shear + cos) * sy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    c = 13.5
    a2 = c - (i00 * (c + tx) + i01 * (c + ty))
    b2 = c - (i10 * (c + tx) + i11 * (c + ty))
    zeros = ops.zeros_like(i00)
    transforms = ops.stack([i00, i01, a2, i10, i11, b2, zeros, zeros], axis=1)
    images = ops.image.affine_transform(
        images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0
    )

    # Thicker strokes: a 2x2 grey dilation grows every stroke by one pixel, a 3x3 one by two
    # (a fat canvas brush); each is picked for half of the thickened images.
    thicker = ops.max_pool(images, 2, strides=1, padding="same")
    thickest = ops.max_pool(images, 3, strides=1, padding="same")
    # (never a squeezed digit: its loops would close up)
    draw = as_image(ops.where(narrowed, 1.0, uniform(0.0, 1.0)))
    t = settings.thicken_probability
    images = ops.where(draw < t / 2, thickest, images)
    images = ops.where((draw >= t / 2) & (draw < t), thicker, images)
    if settings.thin_probability:  # never on a thickened image: the two would cancel out
        thinner = -ops.max_pool(-images, 2, strides=1, padding="same")
        images = ops.where((draw >= t) & (draw < t + settings.thin_probability), thinner, images)
    if settings.coarse_probability:
        # Each coarse image at one of the sides, each side's version of the whole batch made
        # (the sizes of a tensor are fixed when a backend compiles the step).
        side = ops.floor(uniform(0.0, len(COARSE_SIDES)))
        coarse = images
        for i, s in enumerate(COARSE_SIDES):
            small = ops.image.resize(images, (s, s), interpolation="bilinear", antialias=True)
            big = ops.image.resize(small, (28, 28), interpolation="bilinear")
            coarse = ops.where(as_image(side == i), big, coarse)
        chosen = as_image(uniform(0.0, 1.0) < settings.coarse_probability)
        images = ops.where(chosen, ops.clip(coarse, 0.0, 1.0), images)
    return images


def augment_array(images: np.ndarray, settings: Augmentation, chunk: int = 4096, seed=None) -> np.ndarray:
    """``augment_batch`` over a whole in-memory array, applied once, a chunk at a time (for
    fine-tuning on arrays rather than a training model with an ``Augment`` layer)."""
    from keras import ops, random

    generator = random.SeedGenerator(seed)
    return np.concatenate(
        [
            ops.convert_to_numpy(augment_batch(images[i : i + chunk], settings, generator))
            for i in range(0, len(images), chunk)
        ]
    )


def augment_layer(settings: Augmentation, engine_share: float, spoiled_share: float, seed: int | None = None):
    """The training model's first layer. Its input holds each image three times, uint8, as
    channels: as it is, as the engine makes it again from a file, and spoilt (or as it is).
    In training it picks one of them for each image (the engine's for ``engine_share`` of
    them, the spoilt one for ``spoiled_share``) and augments it; otherwise it passes the
    first on. Everything happens in the model's step, on its device, with any backend."""
    import keras
    from keras import ops

    class Augment(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="augment")
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, versions, training=None):
            x = ops.cast(versions, "float32") / 255.0
            if not training:
                return x[..., :1]
            n = ops.shape(x)[0]
            draw = lambda: keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)  # noqa: E731
            picked = ops.where(draw() < engine_share, x[..., 1:2], x[..., :1])
            if spoiled_share:
                picked = ops.where(draw() < spoiled_share, x[..., 2:3], picked)
            return augment_batch(picked, settings, self.seed_generator)

        def compute_output_shape(self, shape):
            return (*shape[:-1], 1)

    return Augment()
