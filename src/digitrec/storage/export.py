"""Corrections as files: NPZ or MNIST-style IDX, written by `digitrec feedback export` and read
by `digitrec train --extra-data`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitrec import idx
from digitrec.idx import DatasetError


def write_corrections(
    out: Path, images: np.ndarray, correct: np.ndarray, predicted: np.ndarray, fmt: str
) -> list[Path]:
    if fmt == "npz":
        np.savez_compressed(out, images=images, labels=correct, predicted=predicted)
        return [out]
    base = str(out).removesuffix(".gz").removesuffix("-images-idx3-ubyte")
    image_path = Path(f"{base}-images-idx3-ubyte.gz")
    label_path = Path(f"{base}-labels-idx1-ubyte.gz")
    idx.write(image_path, images, idx.IMAGES)
    idx.write(label_path, correct, idx.LABELS)
    return [image_path, label_path]


def read_corrections(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from an NPZ or an IDX images file."""
    try:
        if path.suffix == ".npz":
            with np.load(path) as data:
                images, labels = data["images"], data["labels"]
        else:
            labels_path = Path(str(path).replace("-images-idx3-ubyte", "-labels-idx1-ubyte"))
            images = idx.read(path, idx.IMAGES)
            labels = idx.read(labels_path, idx.LABELS, len(images))
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise DatasetError(f"Cannot read corrections from {path}: {exc}") from None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DatasetError(f"{path} does not hold matching 28x28 images and labels.")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{path} holds labels outside 0-9.")
    return images.astype(np.uint8), labels.astype(np.uint8)
