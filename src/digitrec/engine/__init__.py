"""The recognition engine: bytes -> decoded image -> MNIST-style 28x28 -> model -> result.

Knows nothing of HTTP, Keras or databases.
"""

from digitrec.engine.decode import decode
from digitrec.engine.errors import (
    ImageTooLarge,
    ModelNotFound,
    NoDigitFound,
    UnsupportedImage,
)
from digitrec.engine.preprocess import to_mnist_28x28
from digitrec.engine.recognizer import NumberReading, Prediction, Recognizer
from digitrec.engine.segment import DigitBox, split_digits
from digitrec.errors import DigitrecError

__all__ = [
    "DigitBox",
    "DigitrecError",
    "ImageTooLarge",
    "ModelNotFound",
    "NoDigitFound",
    "NumberReading",
    "Prediction",
    "Recognizer",
    "UnsupportedImage",
    "decode",
    "split_digits",
    "to_mnist_28x28",
]
