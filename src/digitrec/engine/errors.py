"""Typed errors of the recognition engine.

Each error carries a stable machine-readable ``code`` and a plain-words message. They are
raised once, here in the engine, and translated once at the edge (HTTP status in the web
layer, exit code in the CLI).
"""


class DigitrecError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnsupportedImage(DigitrecError):
    """The bytes are not an image we can read (wrong type, corrupt, truncated, empty)."""

    code = "unsupported_image"


class ImageTooLarge(DigitrecError):
    """The image declares more pixels than we are willing to decode."""

    code = "image_too_large"


class NoDigitFound(DigitrecError):
    """The image is readable but holds no ink that could be a digit (blank, a dot, noise)."""

    code = "no_digit"


class ModelNotFound(DigitrecError):
    """The ONNX model file or its model card is missing or unreadable."""

    code = "model_not_found"


class DatasetError(DigitrecError):
    """MNIST files are missing, truncated or not what they claim to be."""

    code = "dataset_error"
