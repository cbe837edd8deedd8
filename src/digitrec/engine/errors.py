"""Typed errors of the recognition engine.

Raised once, here in the engine, and translated once at the edge (HTTP status in
``web/edge.py``, exit code in ``cli.py``).
"""

from digitrec.errors import DigitrecError


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
