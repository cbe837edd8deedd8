"""Run the digit model with ONNX Runtime: load once, predict batches, return result objects.

No TensorFlow here: the model was exported to ONNX at training time, so the server starts
fast and stays small.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from digitrec.engine.decode import MAX_PIXELS, decode
from digitrec.engine.errors import ModelNotFound, NoDigitFound
from digitrec.engine.preprocess import (
    MIN_SMALL_DIGIT_TO_STROKE,
    SMALL_DIGIT,
    Ink,
    filled_28x28,
    ink_in,
    ink_to_28x28,
    widened_28x28,
)
from digitrec.engine.segment import (
    SEVERAL_DIGITS,
    DigitBox,
    DigitPiece,
    joined,
    split_ink,
    squeeze,
    touching_splits,
)

DEFAULT_MODEL = "digitrec.onnx"
WIDENED_MIN = 0.5  # a widened reading this sure of another digit than "1" is kept (unsure if unsure)
JOIN_WIDER = 1.3  # two pieces joined into one digit are at most this much wider than the rest
LINE_STROKES = 1.5  # ink no more strokes tall than this is a line drawn across, not digits
CLEARER = 4  # a cut into touching digits must be this many times less likely wrong than the whole


@dataclass(frozen=True)
class Prediction:
    """What the model says about one 28x28 image."""

    digit: int
    confidence: float
    uncertain: bool
    probabilities: tuple[float, ...]  # ten values, digits 0-9; with not_digit they sum to 1
    input_28x28: np.ndarray  # float32 (28, 28) in [0, 1]: exactly what the model saw
    box: DigitBox | None = None  # where the digit is in the original image (multi-digit)
    not_digit: float = 0.0  # probability that this is not a digit at all (11-class models)

    @property
    def looks_like_digit(self) -> bool:
        """False when "not a digit" is the model's first choice."""
        return self.not_digit <= self.confidence


@dataclass(frozen=True)
class NumberReading:
    """Several digits read left to right."""

    number: str
    digits: tuple[Prediction, ...]

    @property
    def uncertain(self) -> bool:
        return any(d.uncertain for d in self.digits)


def shipped_model_path() -> Path:
    return Path(str(resources.files("digitrec") / "models" / DEFAULT_MODEL))


class Recognizer:
    """Holds one ONNX Runtime session; thread-safe for concurrent ``predict`` calls."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int = 1,
        max_pixels: int = MAX_PIXELS,
        *,
        model_bytes: bytes | None = None,
        card: dict | None = None,
    ):
        """The model from ``model_path`` (default: the shipped one) and the card beside it,
        or from ``model_bytes`` with its ``card`` (a version kept in the database)."""
        self.max_pixels = max_pixels
        import onnxruntime as ort

        self.model_path = Path(model_path) if model_path else shipped_model_path()
        source = model_bytes if model_bytes is not None else str(self.model_path)
        where = (
            f"version {(card or {}).get('version', '?')}" if model_bytes is not None else str(self.model_path)
        )
        card_path = self.model_path.with_suffix(".json")
        if model_bytes is None and not self.model_path.is_file():
            raise ModelNotFound(f"The model file {self.model_path} does not exist.")
        try:
            # The model card is optional (a freshly exported model has none yet).
            if card is None:
                card = json.loads(card_path.read_text()) if card_path.exists() else {}
            self.card = card
            options = ort.SessionOptions()
            # One thread per request: a server runs one worker process per core instead.
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"Cannot load the model {where}: {exc}") from None
        except Exception as exc:  # onnxruntime raises its own exception types
            reason = str(exc).split(":")[-1].strip().rstrip(".")  # ONNX Runtime's own words last
            raise ModelNotFound(f"The model {where} is not a valid ONNX model ({reason}).") from None
        self._input = self._session.get_inputs()[0].name
        self.version = str(self.card.get("version", "unknown"))
        self.uncertain_below = float(self.card.get("uncertain_below", 0.5))

    def predict_tensors(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities of the digits 0-9, or
        (N, 11) for a model whose eleventh class is "not a digit"."""
        batch = np.ascontiguousarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        return self._session.run(None, {self._input: batch})[0]

    def predict_28x28(self, images: list[np.ndarray]) -> list[Prediction]:
        """Prediction objects for preprocessed 28x28 images, run as one batch."""
        if not images:
            return []
        probabilities = self.predict_tensors(np.stack(images))
        return [self._prediction(p, image) for p, image in zip(probabilities, images)]

    def recognize(self, data: bytes) -> Prediction:
        """Image file bytes -> one digit. Raises the engine's typed errors."""
        ink = ink_in(decode(data, self.max_pixels))
        return self._read([(ink_to_28x28(ink), None, filled_28x28(ink.image, ink.mask))])[0]

    def _read(
        self, images: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]
    ) -> list[Prediction]:
        """One prediction per (28x28, widened 28x28 or None, filled 28x28 or None), all run
        as one batch.

        The widened reading is kept where the digit as it is reads as a "1" and, as wide as
        the rest of its number says it was meant (``segment.squeeze``), surely as another
        digit: a straight "1" stays a "1" when stretched; a squeezed "2" does not. The
        filled reading (an outlined digit filled in) is kept where it is sure, and surer
        than the digit as it is: a pen's "0" reads best as it is, a bubble "7" filled."""
        extra = [alt for _, *alts in images for alt in alts if alt is not None]
        predictions = iter(self.predict_28x28([image for image, *_ in images] + extra))
        as_is = [next(predictions) for _ in images]
        read = []
        for prediction, (_, wide, solid) in zip(as_is, images):
            widened = next(predictions) if wide is not None else None
            filled = next(predictions) if solid is not None else None
            if (
                prediction.digit == 1
                and widened is not None
                and widened.digit != 1
                and widened.confidence >= WIDENED_MIN
            ):
                prediction = widened
            if filled is not None and not filled.uncertain and filled.confidence > prediction.confidence:
                prediction = filled
            read.append(prediction)
        return read

    def read_number(self, data: bytes) -> NumberReading:
        """Image file bytes -> all digits found, left to right."""
        return self.recognize_and_read_number(data)[1]

    def recognize_and_read_number(self, data: bytes) -> tuple[Prediction, NumberReading]:
        """Both answers from one decoding and one search for ink: the image as one digit,
        and as a number. The model runs once, on the whole, the pieces and the ways to cut
        wide pieces into touching digits, all in one batch."""
        ink = ink_in(decode(data, self.max_pixels))
        pieces = split_ink(ink)
        if _all_too_small(ink, pieces):
            raise NoDigitFound("The digits are too small to read: write them bigger.")
        options = [[[piece]] + touching_splits(ink, piece) for piece in pieces]
        flat = [part for choices in options for option in choices for part in option]
        stretch = squeeze(pieces)
        whole, *predictions = self._read(
            [(ink_to_28x28(ink), None, filled_28x28(ink.image, ink.mask))]
            + [
                (p.image, widened_28x28(ink.image, p.mask, stretch), filled_28x28(ink.image, p.mask))
                for p in flat
            ]
        )
        read = iter(predictions)
        kept = []
        for choices in options:
            scored = [[(next(read), part) for part in option] for option in choices]
            kept.append(self._surest(scored))
        digits = [_with_box(pred, part) for reading in self._joined(ink, kept) for pred, part in reading]
        # A digit drawn that small with a broad brush is a blob (its loops closed): whatever
        # the model says of it, it is not sure.
        digits = [replace(d, uncertain=True) if _too_small(ink, d.box) else d for d in digits]
        return whole, NumberReading("".join(str(d.digit) for d in digits), tuple(digits))

    def _joined(self, ink, kept: list[list[tuple[Prediction, DigitPiece]]]):
        """Neighbouring pieces read as one digit where one of them does not look like a
        digit at all and, together, they are a sure one: the bar of a "4" that stops short
        of its stem read "21" (its "2" not a digit), the whole a sure "4". A narrow digit of
        a squeezed number read unsurely is still a digit, and stays one. Only where such a
        piece is found is the model run again."""
        pairs = [
            (i, both)
            for i, (a, b) in enumerate(zip(kept, kept[1:]))
            if len(a) == len(b) == 1
            and not (a[0][0].looks_like_digit and b[0][0].looks_like_digit)
            and (both := joined(ink, a[0][1], b[0][1])) is not None
            and _as_wide_as_the_others(both, kept[:i] + kept[i + 2 :])
        ]
        if not pairs:
            return kept
        readings = self._read([(both.image, None, filled_28x28(ink.image, both.mask)) for _, both in pairs])
        out = list(kept)
        for (i, both), prediction in zip(pairs, readings):
            if out[i] is not None and not prediction.uncertain:  # None: joined to its left already
                out[i], out[i + 1] = [(prediction, both)], None
        return [reading for reading in out if reading is not None]

    def _surest(self, options: list[list[tuple[Prediction, DigitPiece]]]):
        """The reading of one piece to keep: as it is (options[0]) unless the model is unsure
        of it (or it is too wide for one digit) and sure of every digit of a cut into
        touching digits; of those, the cut into the fewest digits, then the surest."""
        as_is = options[0]
        prediction, piece = as_is[0]
        if not (prediction.uncertain or piece.aspect > SEVERAL_DIGITS):
            return as_is

        def wins(option) -> bool:
            # Every part sure, and, for a piece that one digit could be this wide, the
            # parts together CLEARER times less likely wrong than the whole: a bold "4" or
            # an open "0" read a little unsurely must not become "21" or "11".
            if any(p.uncertain for p, _ in option):
                return False
            together = math.prod(p.confidence for p, _ in option)
            return piece.aspect > SEVERAL_DIGITS or 1 - together <= (1 - prediction.confidence) / CLEARER

        cuts = [option for option in options[1:] if wins(option)]
        return min(cuts, key=lambda o: (len(o), -min(p.confidence for p, _ in o)), default=as_is)

    def _prediction(self, probabilities: np.ndarray, image: np.ndarray) -> Prediction:
        digits = probabilities[:10]
        digit = int(digits.argmax())
        confidence = float(digits[digit])
        not_digit = float(probabilities[10]) if len(probabilities) > 10 else 0.0
        return Prediction(
            digit=digit,
            confidence=confidence,
            # The model card's rule: unsure when "not a digit" wins or the best digit is
            # less sure than the threshold fitted on held-out digits.
            uncertain=not_digit > confidence or confidence < self.uncertain_below,
            probabilities=tuple(float(p) for p in digits),
            input_28x28=image,
            not_digit=not_digit,
        )


def _strokes_tall(ink: Ink, box: DigitBox) -> float:
    """How many of its strokes' widths tall the ink in ``box`` is."""
    return box.height * ink.mask.shape[0] / ink.stroke


def _too_small(ink: Ink, box: DigitBox) -> bool:
    """A digit of a number drawn with a canvas's broad brush, fewer strokes tall than a
    small digit alone may be (a long number squeezed onto a phone, a tiny "42"), and small
    beside the picture as a small digit is (filled shapes are not thin strokes)."""
    return (
        ink.broad_brush and box.height < SMALL_DIGIT and _strokes_tall(ink, box) < MIN_SMALL_DIGIT_TO_STROKE
    )


def _all_too_small(ink: Ink, pieces: list[DigitPiece]) -> bool:
    """Every digit too small: several, or one band as wide as several, the brush ran them
    into (not a line across: under LINE_STROKES strokes tall)."""
    if len(pieces) == 1:
        (piece,) = pieces
        return (
            piece.aspect > SEVERAL_DIGITS
            and _strokes_tall(ink, piece.box) >= LINE_STROKES
            and _too_small(ink, piece.box)
        )
    return all(_too_small(ink, p.box) for p in pieces)


def _as_wide_as_the_others(piece: DigitPiece, others: list[list[tuple[Prediction, DigitPiece]]]) -> bool:
    """A digit made of two pieces is about as wide as the number's other digits: two narrow
    digits of a squeezed number ("17" in "17343") together are twice as wide as the rest."""
    widths = [part.box.width for reading in others for _, part in reading]
    return not widths or piece.box.width <= JOIN_WIDER * float(np.median(widths))


def _with_box(prediction: Prediction, piece: DigitPiece) -> Prediction:
    return Prediction(**{**prediction.__dict__, "box": piece.box})
