"""MNIST in its original IDX format: find it, check it, load it as numpy arrays.

The folder comes from ``--data`` or the ``DIGITREC_DATA`` environment variable. With neither,
the four files are downloaded once into the user's cache folder from the standard mirrors and
checked against their published md5 sums.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec import idx
from digitrec.idx import DatasetError

DATA_ENV = "DIGITREC_DATA"

# name -> (IDX magic number, item count, official md5 of the .gz)
FILES = {
    "train-images-idx3-ubyte": (idx.IMAGES, 60_000, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte": (idx.LABELS, 60_000, "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte": (idx.IMAGES, 10_000, "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte": (idx.LABELS, 10_000, "ec29112dd5afa0611ce80d1b7f02629c"),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray  # (60000, 28, 28) uint8, ink bright on black
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray  # (10000,) uint8
    folder: Path
    md5: dict[str, str]  # md5 of each file as read, for the model card


def load(folder: str | os.PathLike | None = None) -> Mnist:
    """Load all four MNIST files from ``folder`` (or $DIGITREC_DATA, or the download cache)."""
    folder = resolve_folder(folder)
    arrays, md5 = {}, {}
    for name, (magic, count, _) in FILES.items():
        path = _find_file(folder, name)
        md5[path.name] = _md5(path)
        arrays[name] = idx.read(path, magic, count)
    return Mnist(
        train_images=arrays["train-images-idx3-ubyte"],
        train_labels=arrays["train-labels-idx1-ubyte"],
        test_images=arrays["t10k-images-idx3-ubyte"],
        test_labels=arrays["t10k-labels-idx1-ubyte"],
        folder=folder,
        md5=md5,
    )


def load_test_set(folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the 10,000 official test images and labels (what ``digitrec evaluate`` needs)."""
    folder = resolve_folder(folder)
    out = []
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        magic, count, _ = FILES[name]
        path = _find_file(folder, name)
        out.append(idx.read(path, magic, count))
    return out[0], out[1]


def resolve_folder(folder: str | os.PathLike | None) -> Path:
    """The folder given, else $DIGITREC_DATA, else the cache folder (downloading if needed)."""
    if folder is None and os.environ.get(DATA_ENV):
        folder = os.environ[DATA_ENV]
    if folder is not None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise DatasetError(
                f"The MNIST folder {path} does not exist. Point --data (or {DATA_ENV}) at the "
                "folder that holds the four MNIST .gz files."
            )
        return path
    return download()


def cache_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("digitrec")) / "mnist"


def download(folder: Path | None = None) -> Path:
    """Fetch the four official files into ``folder`` (default: the user cache), md5-checked."""
    from tqdm import tqdm

    folder = folder or cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for name, (_, _, md5) in FILES.items():
        target = folder / f"{name}.gz"
        if target.exists() and _md5(target) == md5:
            continue
        errors = []
        for mirror in MIRRORS:
            partial = target.with_suffix(".gz.part")
            try:
                with urllib.request.urlopen(mirror + target.name, timeout=30) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with (
                        open(partial, "wb") as out,
                        tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar,
                    ):
                        while chunk := response.read(1 << 16):
                            out.write(chunk)
                            bar.update(len(chunk))
            except OSError as exc:
                errors.append(f"{mirror}: {exc}")
                continue
            if _md5(partial) == md5:
                shutil.move(partial, target)
                break
            errors.append(f"{mirror}: md5 mismatch")
            partial.unlink(missing_ok=True)
        else:
            raise DatasetError(
                f"Could not download {target.name} ({'; '.join(errors)}). Download the four "
                f"MNIST files by hand and pass their folder with --data or {DATA_ENV}."
            )
    return folder


def _find_file(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"{name}.gz is missing from {folder}. The folder must hold the four MNIST files "
        "(train-images, train-labels, t10k-images, t10k-labels) under their original names."
    )


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
