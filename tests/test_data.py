"""Tests for mae_theory.data: loaders, normalisation, splits, the IDX reader, errors."""

from __future__ import annotations

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
    with pytest.raises(ValueError, match=r"pad_to must be an integer >= 8; got 6\. Use pad_to=8"):
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
    for bad in (0, 1797, 1.0, 0.0, float("nan")):
        with pytest.raises(ValueError, match="n_test"):
            digits.split(bad, seed=0)
    for bad in ("10", True, None):
        with pytest.raises(TypeError, match="n_test must be an int count or a float fraction"):
            digits.split(bad, seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        digits.split(10, seed=1.5)


def test_denormalize_rejects_wrong_channels(digits):
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(N, 1, H, W\)"):
        digits.denormalize(torch.zeros(2, 3, 8, 8))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor of shape \(N, 1, H, W\)"):
        digits.denormalize(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="x must be a 3-D or 4-D tensor"):
        digits.denormalize(torch.zeros(8, 8))


def test_imagedata_validation():
    ok = dict(name="t", mean=(0.5,), std=(0.2,), classes=("a", "b"))
    with pytest.raises(ValueError, match=r"images must be a non-empty batch \(N >= 1\)"):
        D.ImageData(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long), **ok)
    with pytest.raises(ValueError, match="images must be a 4-D tensor"):
        D.ImageData(torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.long), **ok)
    with pytest.raises(TypeError, match="images must be a torch.float32 tensor"):
        D.ImageData(torch.zeros(2, 1, 4, 4, dtype=torch.float64), torch.zeros(2).long(), **ok)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        D.ImageData(np.zeros((2, 1, 4, 4), np.float32), torch.zeros(2).long(), **ok)
    with pytest.raises(ValueError, match="images must be finite"):
        D.ImageData(torch.full((2, 1, 4, 4), float("nan")), torch.zeros(2).long(), **ok)
    with pytest.raises(TypeError, match="std must be a tuple of finite floats"):
        D.ImageData(torch.zeros(2, 1, 4, 4), torch.zeros(2).long(), name="t", mean=(0.5,),
                    std=(float("nan"),), classes=("a",))
    with pytest.raises(ValueError, match="labels must be a long tensor"):
        D.ImageData(torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long), **ok)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        D.ImageData(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), **ok)
    with pytest.raises(ValueError, match="one entry per channel"):
        D.ImageData(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), **ok)


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
    with pytest.raises(ValueError, match=r"n \(N\) must be an integer >= 1"):
        D.synthetic_shapes(n, seed=0)
    with pytest.raises(ValueError, match=r"img_size \(H = W\) must be an integer >= 8"):
        D.synthetic_shapes(4, img_size=4)
    with pytest.raises(TypeError, match=r"n \(N\) must be an integer; got 4.0"):
        D.synthetic_shapes(4.0)


def test_load_dataset_dispatch_and_unknown(digits):
    assert len(D.load_dataset("synthetic_shapes", n=3, seed=0)) == 3
    assert D.load_dataset("digits", pad_to=8).mean == digits.mean
    with pytest.raises(ValueError, match="unknown data set name 'cifar10'; known names: "
                                         "digits, fashion_mnist, synthetic_shapes"):
        D.load_dataset("cifar10")
    with pytest.raises(TypeError, match="name must be a data set name"):
        D.load_dataset(None)
