"""MNIST loading: the real files load; broken or missing files give one clear sentence."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from digitrec.idx import DatasetError
from digitrec.training import mnist


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return mnist.resolve_folder(os.environ.get(mnist.DATA_ENV))


def test_the_four_files_load_with_the_right_shapes(data_dir):
    data = mnist.load(data_dir)
    assert data.train_images.shape == (60_000, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10_000, 28, 28)
    assert set(np.unique(data.train_labels)) == set(range(10))
    assert np.bincount(data.test_labels).tolist()[:3] == [980, 1135, 1032]  # official counts
    assert len(data.md5) == 4 and all(len(v) == 32 for v in data.md5.values())


def test_folder_comes_from_the_environment(data_dir, monkeypatch):
    monkeypatch.setenv(mnist.DATA_ENV, str(data_dir))
    assert mnist.resolve_folder(None) == data_dir


def _copy(data_dir: Path, target: Path) -> Path:
    for name in mnist.FILES:
        shutil.copy(data_dir / f"{name}.gz", target / f"{name}.gz")
    return target


def test_missing_folder_says_so(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        mnist.load(tmp_path / "nowhere")


def test_missing_file_is_named(data_dir, tmp_path):
    _copy(data_dir, tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz is missing"):
        mnist.load_test_set(tmp_path)


def test_truncated_gzip_is_reported(data_dir, tmp_path):
    _copy(data_dir, tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        mnist.load_test_set(tmp_path)


def test_wrong_magic_number_is_reported(data_dir, tmp_path):
    _copy(data_dir, tmp_path)
    # Labels where images should be: a valid gzip, but the wrong kind of IDX file.
    shutil.copy(tmp_path / "t10k-labels-idx1-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(DatasetError, match="magic number"):
        mnist.load_test_set(tmp_path)


def test_short_data_is_reported(data_dir, tmp_path):
    _copy(data_dir, tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DatasetError, match="expected 10000"):
        mnist.load_test_set(tmp_path)


def test_uncompressed_files_are_accepted(data_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((data_dir / f"{name}.gz").read_bytes()))
    images, labels = mnist.load_test_set(tmp_path)
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
