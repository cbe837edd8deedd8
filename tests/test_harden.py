"""Hardening: a short fine-tune from the shipped weights that
exports a model the engine loads and that still reads MNIST."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitrec.engine.recognizer import Recognizer, shipped_model_path
from digitrec.training import renderings

pytest.importorskip("tensorflow")  # the training extra

from digitrec.training import harden


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
