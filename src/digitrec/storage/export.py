"""Corrections as files: NPZ or MNIST-style IDX, written by `digitrec feedback export` and read
by `digitrec train --extra-data`.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from digitrec.engine.errors import DatasetError


def write_corrections(
    out: Path, images: np.ndarray, correct: np.ndarray, predicted: np.ndarray, fmt: str
) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "npz":
        np.savez_compressed(out, images=images, labels=correct, predicted=predicted)
        return [out]
    base = str(out).removesuffix(".gz").removesuffix("-images-idx3-ubyte")
    image_path = Path(f"{base}-images-idx3-ubyte.gz")
    label_path = Path(f"{base}-labels-idx1-ubyte.gz")
    with gzip.open(image_path, "wb") as handle:
        handle.write(struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(label_path, "wb") as handle:
        handle.write(struct.pack(">II", 2049, len(correct)) + correct.astype(np.uint8).tobytes())
    return [image_path, label_path]


def read_corrections(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from an NPZ or an IDX images file."""
    try:
        if path.suffix == ".npz":
            with np.load(path) as data:
                images, labels = data["images"], data["labels"]
        else:
            labels_path = Path(str(path).replace("-images-idx3-ubyte", "-labels-idx1-ubyte"))
            images = _read_idx(path, 2051).reshape(-1, 28, 28)
            labels = _read_idx(labels_path, 2049)
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise DatasetError(f"Cannot read corrections from {path}: {exc}") from None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DatasetError(f"{path} does not hold matching 28x28 images and labels.")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{path} holds labels outside 0-9.")
    return images.astype(np.uint8), labels.astype(np.uint8)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dims = magic & 0xFF
    found, *shape = struct.unpack(f">{1 + dims}I", raw[: 4 + 4 * dims])
    if found != magic:
        raise ValueError(f"magic number {found}, expected {magic}")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)
