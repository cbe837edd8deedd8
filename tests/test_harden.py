"""Hardening: the training-time spoilers, and a short fine-tune from the shipped weights that
exports a model the engine loads and that still reads MNIST."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitrec.engine.recognizer import Recognizer, shipped_model_path
from digitrec.training import mnist_c, renderings

pytest.importorskip("tensorflow")  # the training extra

from digitrec.training import harden


def test_spoilers_keep_the_digit_in_a_28x28_and_are_not_the_test_corruptions(mnist_test_set):
    images, _ = mnist_test_set
    for spoiler in harden.SPOILERS:
        rng = np.random.default_rng(3)
        for image in images[:50]:
            spoilt = spoiler(image, rng)
            assert spoilt.shape == (28, 28) and spoilt.dtype == np.uint8
            assert spoilt.max() > 100 and not np.array_equal(spoilt, image)
    # What the model is hardened on is not what MNIST-C measures.
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert not np.array_equal(harden.strokes_across(images[0], rng_a), mnist_c.zigzag(images[0], rng_b))
    assert not np.array_equal(harden.hollow(images[0], rng_a), mnist_c.canny_edges(images[0], rng_b))
    spoilt = harden.spoil(images[:400], 0.4, np.random.default_rng(0))
    changed = np.mean([not np.array_equal(a, b) for a, b in zip(spoilt, images[:400])])
    assert 0.3 < changed < 0.5


@pytest.mark.slow
def test_a_short_hardening_exports_a_model_that_still_reads_mnist(tmp_path, mnist_test_set):
    out = tmp_path / "hardened.onnx"
    card = harden.harden(None, shipped_model_path(), out, harden.HardenSettings(epochs=1), limit=400)
    assert json.loads(out.with_suffix(".json").read_text()) == card
    assert (
        card["hardened_from"] == json.loads(shipped_model_path().with_suffix(".json").read_text())["version"]
    )
    assert out.with_suffix(".weights.npz").is_file()
    model = Recognizer(out)
    images, labels = mnist_test_set
    read = [model.recognize(renderings.mnist_png(image)).digit for image in images[:500]]
    assert np.mean(np.array(read) == labels[:500]) >= 0.99
