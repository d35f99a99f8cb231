"""Fashion-MNIST from IDX files: the reader, the search order, the statistics, the errors."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_theory import data as D
from mae_theory import fashion_mnist as FM

# --- Fashion-MNIST from IDX files -----------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, magic: bytes | None = None):
    """Write ``array`` (uint8) as an IDX file, optionally gzipped or with a forged magic."""
    head = magic if magic is not None else bytes([0, 0, 0x08, array.ndim])
    dims = np.asarray(array.shape, dtype=">u4").tobytes()
    payload = head + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def write_fashion(folder: Path, *, gz: bool, n_train: int = 6, n_test: int = 4,
                  train: bool = True) -> dict[str, np.ndarray]:
    """Tiny Fashion-MNIST-shaped IDX files in ``folder``; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10}
    if train:
        arrays |= {
            "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10}
    for stem, arr in arrays.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arr, gz=gz)
    return arrays


@pytest.fixture
def no_system_data(monkeypatch):
    """Hide any installed Debian copy and MAE_THEORY_DATA, so tests see only tmp_path."""
    monkeypatch.setattr(FM, "FASHION_MNIST_SYSTEM_DIRS", ())
    monkeypatch.delenv("MAE_THEORY_DATA", raising=False)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_from_root(tmp_path, no_system_data, gz):
    arrays = write_fashion(tmp_path, gz=gz)
    train = FM.load_fashion_mnist("train", root=tmp_path)
    raw = arrays["train-images-idx3-ubyte"] / 255.0
    assert train.images.shape == (6, 1, 28, 28) and train.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert train.mean[0] == pytest.approx(raw.mean(), abs=1e-12)
    assert train.std[0] == pytest.approx(raw.std(), abs=1e-12)
    torch.testing.assert_close(train.denormalize(train.images)[:, 0],
                               torch.as_tensor(raw, dtype=torch.float32), atol=1e-6, rtol=0)
    test = FM.load_fashion_mnist("test", root=str(tmp_path), pad_to=32)
    assert test.images.shape == (4, 1, 32, 32) and test.mean == train.mean  # train statistics
    assert test.classes[0] == "T-shirt/top" and len(test.classes) == 10


def test_fashion_from_env_and_subfolder(tmp_path, no_system_data, monkeypatch):
    write_fashion(tmp_path / "fashion-mnist", gz=True)
    monkeypatch.setenv("MAE_THEORY_DATA", str(tmp_path))
    assert len(D.load_dataset("fashion_mnist", split="test")) == 4
    monkeypatch.setenv("MAE_THEORY_DATA", str(tmp_path / "fashion-mnist"))
    assert len(FM.load_fashion_mnist()) == 6


def test_fashion_test_only_uses_constant_statistics(tmp_path, no_system_data):
    write_fashion(tmp_path, gz=False, train=False)
    test = FM.load_fashion_mnist("test", root=tmp_path)
    assert test.mean == (FM.FASHION_MNIST_MEAN,) and test.std == (FM.FASHION_MNIST_STD,)
    with pytest.raises(FileNotFoundError):
        FM.load_fashion_mnist("train", root=tmp_path)


def test_fashion_missing_says_how_to_get_it(tmp_path, no_system_data, monkeypatch):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as err:
        FM.load_fashion_mnist(root=tmp_path)
    assert str(tmp_path) in str(err.value) and "MAE_THEORY_DATA" in str(err.value)
    monkeypatch.setitem(sys.modules, "torchvision", None)  # download=True, no torchvision
    with pytest.raises(FileNotFoundError, match="needs torchvision"):
        FM.load_fashion_mnist(root=tmp_path, download=True)


def test_fashion_bad_split(tmp_path, no_system_data):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'; got 'val'"):
        FM.load_fashion_mnist("val", root=tmp_path)


def test_idx_truncated_wrong_magic_and_empty(tmp_path, no_system_data):
    arrays = write_fashion(tmp_path, gz=False)
    img = tmp_path / "train-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:-10])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        FM.load_fashion_mnist(root=tmp_path)
    write_idx(img, arrays["train-images-idx3-ubyte"], magic=b"\x12\x34\x08\x03")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte has a wrong magic number"):
        FM.load_fashion_mnist(root=tmp_path)
    write_idx(img, np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        FM.load_fashion_mnist(root=tmp_path)
    gz = write_idx(tmp_path / "x-idx3-ubyte.gz", arrays["train-images-idx3-ubyte"], gz=True)
    gz.write_bytes(gz.read_bytes()[:200])
    with pytest.raises(ValueError, match="x-idx3-ubyte.gz could not be decompressed"):
        FM.read_idx(gz)


def test_read_idx_other_types(tmp_path):
    arr = np.arange(-3, 3, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + np.array([2, 3], ">u4").tobytes() + arr.tobytes())
    np.testing.assert_array_equal(FM.read_idx(path), arr)


REAL = FM.FASHION_MNIST_SYSTEM_DIRS[0]


@pytest.mark.skipif(not (REAL / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_counts():
    test = FM.load_fashion_mnist("test", root=REAL)
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.labels.bincount().tolist() == [1000] * 10
    assert test.mean[0] == pytest.approx(FM.FASHION_MNIST_MEAN, abs=1e-4)
    assert test.std[0] == pytest.approx(FM.FASHION_MNIST_STD, abs=1e-4)
    assert FM.read_idx(REAL / "train-labels-idx1-ubyte.gz").shape == (60000,)


def test_old_names_still_reach_the_reader():
    assert D.load_fashion_mnist is FM.load_fashion_mnist and D.read_idx is FM.read_idx
    import mae_theory as mt

    assert mt.load_fashion_mnist is FM.load_fashion_mnist


def test_fashion_bad_arguments(tmp_path, no_system_data):
    write_fashion(tmp_path, gz=False)
    with pytest.raises(TypeError, match="root must be a folder"):
        FM.load_fashion_mnist(root=3)
    with pytest.raises(TypeError, match="download must be True or False"):
        FM.load_fashion_mnist(root=tmp_path, download="yes")
    with pytest.raises(ValueError, match=r"pad_to must be an integer >= 28; got 20"):
        FM.load_fashion_mnist(root=tmp_path, pad_to=20)
    with pytest.raises(TypeError, match="path must be a file path"):
        FM.read_idx(None)
