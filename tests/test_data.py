"""Tests for mae_theory.data: loaders, normalisation, splits, the IDX reader, errors."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_theory import data as D

TOL = 1e-4  # normalised pixels: float32 mean/std of ~1e5 values agree with 0/1 to this


@pytest.fixture(scope="module")
def digits():
    return D.load_digits()


# --- digits -------------------------------------------------------------------------------


def test_digits_shape_labels_and_normalisation(digits):
    assert digits.images.shape == (1797, 1, 8, 8) and len(digits) == 1797
    assert digits.images.dtype == torch.float32 and digits.labels.dtype == torch.long
    assert sorted(digits.labels.unique().tolist()) == list(range(10))
    assert abs(float(digits.images.mean())) < TOL
    assert abs(float(digits.images.std(correction=0)) - 1.0) < TOL
    assert digits.name == "digits" and len(digits.mean) == len(digits.std) == 1


def test_digits_denormalize_round_trip(digits):
    from sklearn.datasets import load_digits

    raw = torch.as_tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16
    back = digits.denormalize(digits.images)
    assert float(back.min()) >= 0.0 and float(back.max()) <= 1.0
    torch.testing.assert_close(back, raw, atol=1e-5, rtol=0)
    assert digits.denormalize(digits.images[0]).shape == (1, 8, 8)  # one (C, H, W) image


def test_digits_pad_to_keeps_statistics_and_black_border(digits):
    padded = D.load_digits(pad_to=16)
    assert padded.images.shape == (1797, 1, 16, 16)
    assert padded.mean == digits.mean and padded.std == digits.std
    torch.testing.assert_close(padded.images[:, :, 4:12, 4:12], digits.images)
    assert float(padded.denormalize(padded.images)[:, :, :4].abs().max()) == 0.0
    assert D.load_digits(pad_to=11).images.shape[-2:] == (11, 11)  # odd padding: 1 + 2
    with pytest.raises(ValueError, match="pad_to must be an int >= the native image size 8"):
        D.load_digits(pad_to=6)


def test_split_sizes_determinism_and_errors(digits):
    train, test = digits.split(0.25, seed=0)
    assert (len(train), len(test)) == (1348, 449)
    assert train.mean == digits.mean and train.classes == digits.classes
    again = digits.split(0.25, seed=0)[1]
    assert torch.equal(test.images, again.images) and torch.equal(test.labels, again.labels)
    assert not torch.equal(test.labels, digits.split(0.25, seed=1)[1].labels)
    train, test = digits.split(100, seed=torch.Generator().manual_seed(3))
    assert (len(train), len(test)) == (1697, 100)
    for bad in (0, 1797, 1.0, 0.0, "10", True):
        with pytest.raises(ValueError, match="n_test"):
            digits.split(bad, seed=0)


def test_denormalize_rejects_wrong_channels(digits):
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(N, 1, H, W\)"):
        digits.denormalize(torch.zeros(2, 3, 8, 8))


def test_imagedata_validation():
    ok = dict(name="t", mean=(0.5,), std=(0.2,), classes=("a", "b"))
    with pytest.raises(ValueError, match="empty"):
        D.ImageData(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long), **ok)
    with pytest.raises(ValueError, match="images must be a float32 tensor"):
        D.ImageData(torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.long), **ok)
    with pytest.raises(ValueError, match="labels must be a long tensor"):
        D.ImageData(torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long), **ok)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        D.ImageData(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), **ok)
    with pytest.raises(ValueError, match="one entry per channel"):
        D.ImageData(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), **ok)


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
    monkeypatch.setattr(D, "FASHION_MNIST_SYSTEM_DIRS", ())
    monkeypatch.delenv("MAE_THEORY_DATA", raising=False)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_from_root(tmp_path, no_system_data, gz):
    arrays = write_fashion(tmp_path, gz=gz)
    train = D.load_fashion_mnist("train", root=tmp_path)
    raw = arrays["train-images-idx3-ubyte"] / 255.0
    assert train.images.shape == (6, 1, 28, 28) and train.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert train.mean[0] == pytest.approx(raw.mean(), abs=1e-12)
    assert train.std[0] == pytest.approx(raw.std(), abs=1e-12)
    torch.testing.assert_close(train.denormalize(train.images)[:, 0],
                               torch.as_tensor(raw, dtype=torch.float32), atol=1e-6, rtol=0)
    test = D.load_fashion_mnist("test", root=str(tmp_path), pad_to=32)
    assert test.images.shape == (4, 1, 32, 32) and test.mean == train.mean  # train statistics
    assert test.classes[0] == "T-shirt/top" and len(test.classes) == 10


def test_fashion_from_env_and_subfolder(tmp_path, no_system_data, monkeypatch):
    write_fashion(tmp_path / "fashion-mnist", gz=True)
    monkeypatch.setenv("MAE_THEORY_DATA", str(tmp_path))
    assert len(D.load_dataset("fashion_mnist", split="test")) == 4
    monkeypatch.setenv("MAE_THEORY_DATA", str(tmp_path / "fashion-mnist"))
    assert len(D.load_fashion_mnist()) == 6


def test_fashion_test_only_uses_constant_statistics(tmp_path, no_system_data):
    write_fashion(tmp_path, gz=False, train=False)
    test = D.load_fashion_mnist("test", root=tmp_path)
    assert test.mean == (D.FASHION_MNIST_MEAN,) and test.std == (D.FASHION_MNIST_STD,)
    with pytest.raises(FileNotFoundError):
        D.load_fashion_mnist("train", root=tmp_path)


def test_fashion_missing_says_how_to_get_it(tmp_path, no_system_data, monkeypatch):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as err:
        D.load_fashion_mnist(root=tmp_path)
    assert str(tmp_path) in str(err.value) and "MAE_THEORY_DATA" in str(err.value)
    monkeypatch.setitem(sys.modules, "torchvision", None)  # download=True, no torchvision
    with pytest.raises(FileNotFoundError, match="needs torchvision"):
        D.load_fashion_mnist(root=tmp_path, download=True)


def test_fashion_bad_split(tmp_path, no_system_data):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'; got 'val'"):
        D.load_fashion_mnist("val", root=tmp_path)


def test_idx_truncated_wrong_magic_and_empty(tmp_path, no_system_data):
    arrays = write_fashion(tmp_path, gz=False)
    img = tmp_path / "train-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:-10])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        D.load_fashion_mnist(root=tmp_path)
    write_idx(img, arrays["train-images-idx3-ubyte"], magic=b"\x12\x34\x08\x03")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte has a wrong magic number"):
        D.load_fashion_mnist(root=tmp_path)
    write_idx(img, np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        D.load_fashion_mnist(root=tmp_path)
    gz = write_idx(tmp_path / "x-idx3-ubyte.gz", arrays["train-images-idx3-ubyte"], gz=True)
    gz.write_bytes(gz.read_bytes()[:200])
    with pytest.raises(ValueError, match="x-idx3-ubyte.gz could not be decompressed"):
        D.read_idx(gz)


def test_read_idx_other_types(tmp_path):
    arr = np.arange(-3, 3, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + np.array([2, 3], ">u4").tobytes() + arr.tobytes())
    np.testing.assert_array_equal(D.read_idx(path), arr)


REAL = D.FASHION_MNIST_SYSTEM_DIRS[0]


@pytest.mark.skipif(not (REAL / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_counts():
    test = D.load_fashion_mnist("test", root=REAL)
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.labels.bincount().tolist() == [1000] * 10
    assert test.mean[0] == pytest.approx(D.FASHION_MNIST_MEAN, abs=1e-4)
    assert test.std[0] == pytest.approx(D.FASHION_MNIST_STD, abs=1e-4)
    assert D.read_idx(REAL / "train-labels-idx1-ubyte.gz").shape == (60000,)


# --- synthetic shapes and dispatch -------------------------------------------------------------


def test_synthetic_shapes_deterministic_balanced_and_normalised():
    a = D.synthetic_shapes(30, img_size=12, seed=5)
    b = D.synthetic_shapes(30, img_size=12, seed=5)
    assert a.images.shape == (30, 1, 12, 12)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, D.synthetic_shapes(30, img_size=12, seed=6).images)
    assert a.labels.bincount().tolist() == [10, 10, 10]
    assert abs(float(a.images.mean())) < TOL
    raw = a.denormalize(a.images)
    assert float(raw.min()) >= 0.0 and float(raw.max()) <= 1.0


@pytest.mark.parametrize("n", [0, -1])
def test_synthetic_shapes_empty(n):
    with pytest.raises(ValueError, match="empty data set"):
        D.synthetic_shapes(n, seed=0)
    with pytest.raises(ValueError, match="img_size must be an int >= 8"):
        D.synthetic_shapes(4, img_size=4)


def test_load_dataset_dispatch_and_unknown(digits):
    assert len(D.load_dataset("synthetic_shapes", n=3, seed=0)) == 3
    assert D.load_dataset("digits", pad_to=8).mean == digits.mean
    with pytest.raises(ValueError, match="unknown data set name 'cifar10'; known names: "
                                         "digits, fashion_mnist, synthetic_shapes"):
        D.load_dataset("cifar10")
