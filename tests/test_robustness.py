"""The shipped model reads MNIST test digits re-rendered the way users send them.

For each variant, 500 official test digits are rendered into real image files (PNG or JPEG)
and go through the full path: decode -> preprocess -> ONNX model.
"""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.training import renderings

SAMPLE = 500
REQUIRED = 0.99  # on every variant


@pytest.fixture(scope="module")
def sample(mnist_test_set):
    images, labels = mnist_test_set
    picked = np.random.default_rng(2024).choice(len(images), SAMPLE, replace=False)
    return images[picked], labels[picked]


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(renderings.VARIANTS))
def test_accuracy_on_user_style_images(variant, sample, recognizer):
    images, labels = sample
    render = renderings.VARIANTS[variant]
    rng = np.random.default_rng(7)
    predicted = np.array([recognizer.recognize(render(image, rng)).digit for image in images])
    accuracy = float((predicted == labels).mean())
    print(f"{variant}: {accuracy:.2%} of {SAMPLE}")
    assert accuracy >= REQUIRED, f"{variant}: {accuracy:.2%} < {REQUIRED:.0%}"
