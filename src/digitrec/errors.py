"""The root of every error digitrec raises on purpose.

Each layer owns its errors (the engine's in ``engine/errors.py``, storage's in
``storage/feedback.py``, MNIST files' in ``idx.py``, the server's in ``web/server.py``) and
derives them from ``DigitrecError``. Each carries a stable machine-readable ``code`` and one
plain-words sentence; the edges translate them once: an HTTP status and a JSON error in
``web/edge.py``, a message and an exit code in ``cli.py``.
"""


class DigitrecError(Exception):
    """Base class of every error digitrec raises on purpose."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class MissingExtra(DigitrecError):
    """An optional dependency (an extra such as ``digitrec[train]``) is not installed."""

    code = "missing_extra"


def require(module: str, extra: str, purpose: str) -> None:
    """Import ``module`` or raise MissingExtra saying which extra to install for ``purpose``."""
    import importlib

    if extra == "train":
        importlib.import_module("digitrec.training")  # quiets TensorFlow before it loads
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{purpose} needs {module}, which is not installed: pip install 'digitrec[{extra}]'."
        ) from None
