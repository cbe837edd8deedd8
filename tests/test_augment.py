"""Training augmentation: every image of a batch is transformed, each in its own way."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")  # the training extra

from digitrec.training.augment import Augmentation, augment_batch


@pytest.fixture(scope="module")
def digits(mnist_test_set) -> np.ndarray:
    return mnist_test_set[0][:200]


def test_a_batch_is_augmented_image_by_image(digits):
    batch = (digits[:64].astype(np.float32) / 255)[..., None]
    out = np.asarray(augment_batch(batch, Augmentation()))
    assert out.shape == batch.shape and out.min() >= 0 and out.max() <= 1
    changed = np.abs(out - batch).reshape(64, -1).mean(axis=1)
    assert (changed > 0.001).all()  # every image is transformed
    assert np.unique(changed.round(4)).size > 32  # each in its own way


def test_thin_strokes_lose_ink_and_coarse_scans_keep_it(digits):
    batch = (digits[:64].astype(np.float32) / 255)[..., None]
    still = {
        "rotation_degrees": 0.0,
        "scale_range": (1.0, 1.0),
        "aspect_jitter": 0.0,
        "shear": 0.0,
        "shift_pixels": 0.0,
    }
    plain = np.asarray(augment_batch(batch, Augmentation(**still, thicken_probability=0.0)))
    thin = np.asarray(
        augment_batch(batch, Augmentation(**still, thicken_probability=0.0, thin_probability=1.0))
    )
    coarse = np.asarray(
        augment_batch(batch, Augmentation(**still, thicken_probability=0.0, coarse_probability=1.0))
    )
    ink = lambda images: images.reshape(64, -1).sum(axis=1)  # noqa: E731
    assert (ink(thin) < 0.8 * ink(plain)).all()  # every stroke a pixel thinner
    assert thin.min() >= 0 and coarse.min() >= 0 and coarse.max() <= 1
    assert (np.abs(coarse - plain).reshape(64, -1).max(axis=1) > 0.1).all()  # blurred, blocky
    assert np.allclose(ink(coarse), ink(plain), rtol=0.1)  # but the same digit, as much ink
