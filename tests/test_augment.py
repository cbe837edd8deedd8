"""Training augmentation: restroked digits stay MNIST-style and change only the pen."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")  # the training extra

from digitrec.engine.preprocess import stroke_width  # noqa: E402
from digitrec.training.augment import Augmentation, augment_batch, restroke  # noqa: E402


@pytest.fixture(scope="module")
def digits(mnist_test_set) -> np.ndarray:
    return mnist_test_set[0][:200]


def mean_stroke_width(images: np.ndarray) -> float:
    return float(np.mean([stroke_width(image > 127) / 20 for image in images]))


def test_restroked_digits_are_mnist_style(digits):
    out = restroke(digits, np.random.default_rng(0), (-1, 5))
    assert out.shape == digits.shape and out.dtype == np.uint8
    for image in out:
        ys, xs = np.nonzero(image > 30)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)  # longest side fitted to 20 px
        moments = cv2.moments(image.astype(np.float32))
        centre = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
        assert np.allclose(centre, (13.5, 13.5), atol=1.0)  # centred by mass, like MNIST


def test_a_fatter_pen_gives_thicker_strokes_and_the_same_digit_otherwise(digits):
    rng = np.random.default_rng(0)
    same_pen = restroke(digits, rng, (0, 0))
    fat_pen = restroke(digits, rng, (4, 4))
    assert np.abs(same_pen.astype(float) - digits).mean() < 20  # only re-centred, re-scaled
    assert mean_stroke_width(fat_pen) > 1.3 * mean_stroke_width(same_pen)


def test_a_batch_is_augmented_image_by_image(digits):
    batch = (digits[:64].astype(np.float32) / 255)[..., None]
    out = augment_batch(batch, Augmentation()).numpy()
    assert out.shape == batch.shape and 0 <= out.min() and out.max() <= 1
    changed = np.abs(out - batch).reshape(64, -1).mean(axis=1)
    assert (changed > 0.001).all()  # every image is transformed
    assert np.unique(changed.round(4)).size > 32  # each in its own way
