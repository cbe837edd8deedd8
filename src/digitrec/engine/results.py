"""Results as plain JSON-ready dicts: the one shape the API, the CLI and the page share.

Number first, whatever was read: ``number`` (the digits as a string), ``confidence`` (how
sure the whole answer is: the product of its digits' confidences), ``uncertain`` (any digit
unsure) and ``digits``, one entry per digit left to right, each with its ``digit``,
``confidence``, ``uncertain``, ``not_digit`` (the probability that it is no digit at all),
``probabilities`` of 0-9, ``box`` (where it is in the picture; null when the picture was read
as one digit) and, when asked to explain, ``input_28x28`` (a PNG data URL of what the model
saw). When the answer is one digit, that digit's fields are also at the top level
(``digit``, ``probabilities``...), so a client that reads one digit needs no list; when it is
several, the top level never describes a squashed whole: ``digit`` is null. A picture read
as one digit that does not look like a digit, but reads as a number of several digits that
each look like one, says so in ``looks_like_number`` (the number), so that a client knows to
ask for numbers.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from digitrec.engine.errors import NoDigitFound
from digitrec.engine.preprocess import to_uint8_28x28
from digitrec.engine.recognizer import Prediction, Recognizer


def answer_json(recognizer: Recognizer, data: bytes, number: bool, explain: bool = False) -> dict:
    """The answer for one encoded picture, as the API and `digitrec predict --json` give it:
    the number in it (``number``), or else the one digit it shows."""
    if number:
        return result_json(recognizer.read_number(data).digits, explain)
    digit = recognizer.recognize(data)
    body = result_json([digit], explain)
    if not digit.looks_like_digit:
        try:
            several = recognizer.read_number(data)
        except NoDigitFound:  # (e.g. its parts too small to read as digits)
            several = None
        # A picture of a number, read as one digit (not shapes that are no digits either).
        if several and len(several.digits) > 1 and all(d.looks_like_digit for d in several.digits):
            body["looks_like_number"] = several.number
    return body


def result_json(digits: Sequence[Prediction], explain: bool = False) -> dict:
    """The answer for one image: the digits read in it, left to right (at least one)."""
    entries = [prediction_json(digit, explain) for digit in digits]
    body = {
        "number": "".join(str(d.digit) for d in digits),
        "confidence": round(math.prod(d.confidence for d in digits), 4),
        "uncertain": any(d.uncertain for d in digits),
    }
    if len(entries) == 1:
        body = {**body, **{k: v for k, v in entries[0].items() if k not in body}}
    else:
        body["digit"] = None
    return {**body, "digits": entries}


def prediction_json(result: Prediction, explain: bool = False) -> dict:
    body = {
        "digit": result.digit,
        "confidence": round(result.confidence, 4),
        "uncertain": result.uncertain,
        "not_digit": round(result.not_digit, 4),
        "probabilities": [round(p, 4) for p in result.probabilities],
        "box": dataclasses.asdict(result.box) if result.box else None,
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
