"""The IDX file format of MNIST (optionally gzipped): read with checks, and write.

A header of a magic number (2051 for images, 2049 for labels; its low byte is the number of
dimensions) and one big-endian uint32 per dimension, then the uint8 values.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from digitrec.errors import DigitrecError

IMAGES, LABELS = 2051, 2049


class DatasetError(DigitrecError):
    """Data files (MNIST, exported corrections) are missing, truncated or not what they claim."""

    code = "dataset_error"


def read(path: Path, magic: int, count: int | None = None) -> np.ndarray:
    """The array in ``path``; its magic number, shape ((count,) 28, 28) and length are checked.
    Any problem raises DatasetError with one sentence saying what is wrong."""
    return parse(read_bytes(path), path, magic, count)


def read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise DatasetError(
            f"{path} is truncated or corrupt ({exc}). Delete it and download it again."
        ) from None


def parse(raw: bytes, path: Path, magic: int, count: int | None = None) -> np.ndarray:
    dims = magic & 0xFF
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DatasetError(f"{path} is too short to be an MNIST IDX file. Download it again.")
    found_magic, *shape = struct.unpack(f">{1 + dims}I", raw[:header])
    if found_magic != magic:
        raise DatasetError(
            f"{path} has magic number {found_magic}, not {magic}: it is not the MNIST file "
            "its name says. Check the folder's contents."
        )
    expected = [shape[0] if count is None else count, 28, 28][:dims]
    if shape != expected:
        raise DatasetError(f"{path} holds an array of shape {tuple(shape)}, expected {tuple(expected)}.")
    size = int(np.prod(shape))
    if len(raw) != header + size:
        raise DatasetError(
            f"{path} holds {len(raw) - header} bytes of data, expected {size}: the file is "
            "truncated or padded. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write(path: Path, array: np.ndarray, magic: int) -> None:
    """``array`` (uint8, (N,) or (N, 28, 28)) as a gzipped IDX file."""
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())
