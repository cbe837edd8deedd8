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
    out = augment_batch(batch, Augmentation()).numpy()
    assert out.shape == batch.shape and out.min() >= 0 and out.max() <= 1
    changed = np.abs(out - batch).reshape(64, -1).mean(axis=1)
    assert (changed > 0.001).all()  # every image is transformed
    assert np.unique(changed.round(4)).size > 32  # each in its own way
