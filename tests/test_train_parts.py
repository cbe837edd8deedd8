"""The parts of a training run: the training model's first layer, the distillation loss, and
the flagged ones added to MNIST's. Real MNIST digits; no training run (tests of whole runs:
test_spoilers, test_ensemble, test_retrain)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")  # the training extra

from digitrec.training import habits
from digitrec.training.augment import Augmentation, augment_layer
from digitrec.training.train import CLASSES, distillation_loss

STILL = Augmentation(
    rotation_degrees=0.0,
    scale_range=(1.0, 1.0),
    aspect_jitter=0.0,
    shear=0.0,
    shift_pixels=0.0,
    thicken_probability=0.0,
)


def test_the_training_model_picks_each_images_version_only_in_training(mnist_test_set):
    images = mnist_test_set[0][:32]
    versions = np.stack([images, 255 - images, np.roll(images, 3, axis=2)], axis=-1)

    def through(engine_share, spoiled_share, training=True):
        layer = augment_layer(STILL, engine_share, spoiled_share, seed=1)
        return np.asarray(layer(versions, training=training))[..., 0] * 255

    assert np.allclose(through(0.0, 0.0), images, atol=1e-3)  # as it is
    assert np.allclose(through(1.0, 0.0), 255 - images, atol=1e-3)  # as the engine makes it
    assert np.allclose(through(0.0, 1.0), np.roll(images, 3, axis=2), atol=1e-3)  # spoilt
    mixed = through(0.5, 0.0)
    engine_made = np.isclose(mixed, 255 - images, atol=1e-3).all(axis=(1, 2))
    assert 0 < engine_made.sum() < 32  # each image its own draw
    assert np.allclose(through(1.0, 1.0, training=False), images, atol=1e-3)  # outside training


def test_distillation_blends_the_labels_with_the_teachers_probabilities():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, CLASSES)).astype(np.float32)
    labels = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, 8)]
    taught = rng.dirichlet(np.ones(CLASSES), 8).astype(np.float32)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    smoothed = labels * 0.9 + 0.1 / CLASSES

    def loss(weight):
        return np.asarray(distillation_loss(0.1, weight)(labels, np.concatenate([logits, taught], axis=1)))

    assert np.allclose(loss(0.0), -(smoothed * log_p).sum(axis=1), atol=1e-5)  # the labels alone
    assert np.allclose(loss(1.0), -(taught * log_p).sum(axis=1), atol=1e-5)  # the teachers alone
    assert np.allclose(loss(0.5), (loss(0.0) + loss(1.0)) / 2, atol=1e-5)


def test_a_flagged_one_gets_its_flag_at_the_top_left(mnist_test_set):
    images, labels = mnist_test_set
    ones = images[labels == 1][:200]
    flagged = habits.flagged_ones(ones, np.ones(len(ones), int), 1.0, np.random.default_rng(3))
    assert flagged.shape == ones.shape and flagged.dtype == np.uint8
    added = (flagged > 96) & (ones < 32)  # new ink, not a stroke resampled
    drawn = added.reshape(len(ones), -1).any(axis=1)
    assert drawn.mean() > 0.8  # (a "1" leaning too far for a flag is left as it is)
    left, high = [], []
    for one, new in zip(ones[drawn], added[drawn]):
        ys, xs = np.nonzero(one > 96)
        new_ys, new_xs = np.nonzero(new)
        left.append(new_xs.mean() < xs[ys <= ys.min() + 2].mean())  # left of the stroke's top
        high.append(new_ys.mean() < ys.min() + 0.4 * (ys.max() - ys.min()))  # and near it
    # (a short flag's round start spills round the top of a bold stroke: most, not all)
    assert np.mean(left) > 0.9 and all(high)
    assert (flagged[~drawn] == ones[~drawn]).all()
