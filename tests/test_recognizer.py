"""The recognizer: loads the shipped ONNX model once and returns complete result objects."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.engine import ModelNotFound, NoDigitFound, Recognizer
from digitrec.engine.recognizer import shipped_model_path


def test_the_model_ships_inside_the_package_and_is_small():
    path = shipped_model_path()
    assert path.is_file() and path.stat().st_size < 10 * 1024 * 1024
    assert path.with_suffix(".json").is_file()


def test_each_digit_is_recognised_with_a_full_result(recognizer, digit_images):
    for digit, data in digit_images.items():
        result = recognizer.recognize(data)
        assert result.digit == digit
        assert len(result.probabilities) == 10
        assert sum(result.probabilities) + result.not_digit == pytest.approx(1.0, abs=1e-4)
        assert result.confidence == max(result.probabilities)
        assert result.input_28x28.shape == (28, 28)
        assert isinstance(result.uncertain, bool)


def test_a_batch_gives_the_same_answers_as_one_by_one(recognizer, mnist_test_set):
    images, labels = mnist_test_set
    batch = images[:64].astype(np.float32) / 255
    together = recognizer.predict_tensors(batch)
    alone = np.concatenate([recognizer.predict_tensors(b[None]) for b in batch])
    assert np.allclose(together, alone, atol=1e-5)
    assert (together.argmax(1) == labels[:64]).mean() > 0.95


def test_low_confidence_is_flagged_uncertain(recognizer):
    flat = np.full((28, 28), 0.5, np.float32)  # no digit at all: the model must not be sure
    (result,) = recognizer.predict_28x28([flat])
    assert result.uncertain == (result.confidence < recognizer.uncertain_below)
    assert 0 < recognizer.uncertain_below < 1


def test_a_blank_canvas_is_not_a_digit(recognizer):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(buffer, "PNG")
    with pytest.raises(NoDigitFound):
        recognizer.recognize(buffer.getvalue())


def test_missing_or_broken_model_is_a_typed_error(tmp_path):
    with pytest.raises(ModelNotFound):
        Recognizer(tmp_path / "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelNotFound):
        Recognizer(broken)
