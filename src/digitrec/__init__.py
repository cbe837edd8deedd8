"""digitrec: recognise handwritten digits in drawings, scans and photos."""

__version__ = "0.1.0"
