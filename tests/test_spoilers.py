"""The spoilers training and hardening use: each keeps the digit in a 28x28 and none is what
MNIST-C measures."""

import numpy as np
import pytest

from digitrec.training import mnist_c, spoilers


def test_spoilers_keep_the_digit_in_a_28x28_and_are_not_the_test_corruptions(mnist_test_set):
    images, _ = mnist_test_set
    for spoiler in spoilers.SPOILERS:
        rng = np.random.default_rng(3)
        for image in images[:50]:
            spoilt = spoiler(image, rng)
            assert spoilt.shape == (28, 28) and spoilt.dtype == np.uint8
            assert spoilt.max() > 100 and not np.array_equal(spoilt, image)
    # What the model is hardened on is not what MNIST-C measures.
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert not np.array_equal(spoilers.strokes_across(images[0], rng_a), mnist_c.zigzag(images[0], rng_b))
    assert not np.array_equal(spoilers.hollow(images[0], rng_a), mnist_c.canny_edges(images[0], rng_b))
    spoilt = spoilers.spoil(images[:400], 0.4, np.random.default_rng(0))
    changed = np.mean([not np.array_equal(a, b) for a, b in zip(spoilt, images[:400])])
    assert 0.3 < changed < 0.5


@pytest.mark.slow
def test_training_with_spoilt_digits_exports_a_model(tmp_path):
    """Full training's path with a share of spoilt digits (run 7's recipe), on 200 digits."""
    pytest.importorskip("tensorflow")  # the training extra
    from digitrec.training.train import Hyperparameters, train

    out = tmp_path / "spoilt.onnx"
    card = train(
        None, out, Hyperparameters(epochs=1, spoiled_share=0.5, training_seed=7), limit=200, verbose=0
    )
    assert out.is_file() and card["hyperparameters"]["spoiled_share"] == 0.5
    assert card["seed"] == Hyperparameters().seed and card["hyperparameters"]["training_seed"] == 7
