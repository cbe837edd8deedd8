"""Results as plain JSON-ready dicts: the one shape the API and the CLI both answer with.

``{"digit", "confidence", "uncertain", "probabilities"}`` for the image read as one digit,
plus ``number`` and ``digits`` (each with its ``box``) when it was also read as a number,
and ``input_28x28`` (a PNG data URL of what the model saw) when asked to explain.
"""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
from PIL import Image

from digitrec.engine.preprocess import to_uint8_28x28
from digitrec.engine.recognizer import NumberReading, Prediction


def result_json(whole: Prediction, reading: NumberReading | None = None, explain: bool = False) -> dict:
    """The answer for one image: as one digit, and (if read) as a number."""
    body = prediction_json(whole, explain)
    if reading is not None:
        body["number"] = reading.number
        body["digits"] = [
            {**prediction_json(digit, explain), "box": dataclasses.asdict(digit.box)}
            for digit in reading.digits
        ]
    return body


def prediction_json(result: Prediction, explain: bool = False) -> dict:
    body = {
        "digit": result.digit,
        "confidence": round(result.confidence, 4),
        "uncertain": result.uncertain,
        "probabilities": [round(p, 4) for p in result.probabilities],
    }
    if explain:
        body["input_28x28"] = png_data_url(result.input_28x28)
    return body


def png_data_url(image_28x28: np.ndarray) -> str:
    """A 28x28 (float in [0, 1], or uint8) as a PNG data URL, white ink on black as the
    model sees it."""
    pixels = image_28x28 if image_28x28.dtype == np.uint8 else to_uint8_28x28(image_28x28)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
