"""Classification probes for real images (probes.py section 2) and reconstruction quality."""

import math

import pytest
import torch

from mae_theory import MAE, synthetic_shapes
from mae_theory.probes import (
    ProbeResult,
    cross_validated_probe,
    knn_accuracy,
    linear_probe,
    partial_finetune,
    reconstruction_quality,
)


def blobs(n=240, d=6, sep=3.0, seed=0):
    """Three Gaussian classes around the first three axes, scaled by ``sep``."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, d, generator=g)
    x[torch.arange(n), y] += sep
    return x, y


def test_linear_probe_separates_separable_classes_and_is_reproducible():
    x, y = blobs(sep=8.0)
    a = linear_probe(x[:180], y[:180], x[180:], y[180:], epochs=15, batch_size=32, device="cpu")
    b = linear_probe(x[:180], y[:180], x[180:], y[180:], epochs=15, batch_size=32, device="cpu")
    assert isinstance(a, ProbeResult) and a.n_classes == 3
    assert a.accuracy == 1.0 and float(a) == a.accuracy
    assert a.losses == b.losses and a.losses[-1] < a.losses[0]


def test_linear_probe_is_blind_to_feature_scale():
    # BatchNorm without affine parameters standardises each feature: scaling changes nothing
    x, y = blobs(sep=1.5)
    a = linear_probe(x[:180], y[:180], x[180:], y[180:], epochs=5, batch_size=32, device="cpu")
    b = linear_probe(1e3 * x[:180], y[:180], 1e3 * x[180:], y[180:], epochs=5, batch_size=32,
                     device="cpu")
    assert a.accuracy == b.accuracy
    assert all(math.isclose(p, q, rel_tol=1e-3) for p, q in zip(a.losses, b.losses))


def test_linear_probe_on_noise_stays_near_chance():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(600, 8, generator=g), torch.arange(600) % 2
    res = linear_probe(x[:400], y[:400], x[400:], y[400:], epochs=5, device="cpu")
    assert abs(res.accuracy - 0.5) < 0.1


def test_knn_hand_worked_vote():
    # query [1, 0]: neighbours at cos 1 (class 0) and 0.6 (class 1); k=2, tau=1 weighs e^1 > e^0.6
    bank = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    q = torch.tensor([[1.0, 0.0]])
    assert knn_accuracy(bank, y, q, torch.tensor([0]), k=2, temperature=1.0) == 1.0
    # with k=3 the two class-1 neighbours outvote: e^0.6 + e^0 > e^1
    assert knn_accuracy(bank, y, q, torch.tensor([1]), k=3, temperature=1.0) == 1.0


def test_knn_is_invariant_to_positive_rescaling_and_k1_is_nearest_neighbour():
    x, y = blobs(sep=1.0)
    a = knn_accuracy(x[:180], y[:180], x[180:], y[180:], k=1)
    scales = torch.rand(180, 1, generator=torch.Generator().manual_seed(0)) + 0.1
    assert knn_accuracy(x[:180] * scales, y[:180], x[180:], y[180:], k=1) == a
    cos = torch.nn.functional.normalize(x[180:], dim=1) @ torch.nn.functional.normalize(
        x[:180], dim=1).T
    nn_acc = (y[:180][cos.argmax(dim=1)] == y[180:]).float().mean().item()
    assert a == pytest.approx(nn_acc)


def test_partial_finetune_leaves_the_model_alone_and_learns():
    data = synthetic_shapes(96, img_size=16, seed=0)
    mae = MAE(16, 4, 1, 32, 2, 2, 32, 1, 2, seed=0)
    before = [p.clone() for p in mae.parameters()]
    res = partial_finetune(mae, data.images[:72], data.labels[:72], data.images[72:],
                           data.labels[72:], epochs=8, batch_size=24, lr=3e-3, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(before, mae.parameters()))
    assert res.losses[-1] < res.losses[0] and res.train_accuracy > 1 / 3


def test_reconstruction_without_masking_is_perfect():
    data = synthetic_shapes(6, img_size=16, seed=0)
    q = reconstruction_quality(MAE(16, 4, 1, 16, 1, 2, 16, 1, 2, seed=0), data, 0.0,
                               device="cpu")
    assert q["ssim"] == pytest.approx(1.0, abs=1e-5) and q["psnr"] > 60
    q75 = reconstruction_quality(MAE(16, 4, 1, 16, 1, 2, 16, 1, 2, seed=0), data, 0.75,
                                 device="cpu")
    assert q75["psnr"] < q["psnr"] and q75["ssim"] < 1.0


def _nan_at(x, i=0):
    x = x.clone()
    x[i, 0] = float("nan")
    return x


@pytest.mark.parametrize(("call", "match"), [
    (lambda x, y: linear_probe(x, y, x[:, :2], y, device="cpu"), "share their feature shape"),
    (lambda x, y: linear_probe(x, y, x, y, epochs=0, device="cpu"),
     "epochs must be an integer >= 1; got 0"),
    (lambda x, y: linear_probe(x, y, x, y, batch_size=1, device="cpu"),
     "batch_size must be an integer >= 2"),
    (lambda x, y: linear_probe(x, y, x, y, lr=float("nan"), device="cpu"),
     r"lr \(peak learning rate\) must be a finite number"),
    # the known defect: NaN features used to train a head that reported chance accuracy
    (lambda x, y: linear_probe(_nan_at(x), y, x, y, device="cpu"),
     r"train_feats \(z\) must be finite .* got 1 non-finite"),
    (lambda x, y: linear_probe(x, y, _nan_at(x), y, device="cpu"),
     r"test_feats \(z\) must be finite"),
    (lambda x, y: knn_accuracy(_nan_at(x), y, x, y), r"train_feats \(z\) must be finite"),
    (lambda x, y: knn_accuracy(x, y, x, y, k=0), r"k \(neighbours\) must be .* in \[1, 30\]"),
    (lambda x, y: knn_accuracy(x, y, x, y, k=31), r"k \(neighbours\) must be .* in \[1, 30\]"),
    (lambda x, y: knn_accuracy(x, y, x, y, temperature=0.0), r"temperature \(tau\)"),
    (lambda x, y: knn_accuracy(x[0], y, x, y), "train_feats .* must be a 2-D tensor"),
    (lambda x, y: knn_accuracy(x[:0], y[:0], x, y), "at least one row"),
    (lambda x, y: knn_accuracy(x, y[:-1], x, y), "one label per row of train_feats"),
    (lambda x, y: knn_accuracy(x, y - 1, x, y), "class indices >= 0"),
])
def test_bad_values_are_refused(call, match):
    x, y = blobs(n=30)
    with pytest.raises(ValueError, match=match):
        call(x, y)


@pytest.mark.parametrize(("call", "match"), [
    (lambda x, y: linear_probe(x, y.float(), x, y, device="cpu"),
     "train_labels must be a 1-D integer tensor"),
    (lambda x, y: linear_probe(x.numpy(), y, x, y, device="cpu"),
     r"train_feats \(z\) must be a torch.Tensor"),
    (lambda x, y: linear_probe(x.long(), y, x, y, device="cpu"),
     "must be a floating-point tensor"),
    (lambda x, y: knn_accuracy(x, y.tolist(), x, y), "train_labels must be a torch.Tensor"),
    (lambda x, y: linear_probe(x, y, x, y, epochs=2.0, device="cpu"), "epochs must be an integer"),
    (lambda x, y: linear_probe(x, y, x, y, seed=-1.5, device="cpu"), "seed must be an int"),
])
def test_bad_types_are_refused(call, match):
    x, y = blobs(n=30)
    with pytest.raises(TypeError, match=match):
        call(x, y)


def test_image_probes_refuse_bad_images_and_models():
    mae = MAE(8, 4, 1, 16, 1, 2, 16, 1, 2, seed=0)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    with pytest.raises(ValueError, match="train_images must be finite"):
        partial_finetune(mae, _nan_at(x.view(8, -1)).view(8, 1, 8, 8), y, x, y, device="cpu")
    with pytest.raises(TypeError, match="train_images must be a floating-point tensor"):
        partial_finetune(mae, (x * 100).to(torch.uint8), y, x, y, device="cpu")
    with pytest.raises(ValueError, match="C = 1 channel"):
        partial_finetune(mae, x.expand(8, 3, 8, 8), y, x.expand(8, 3, 8, 8), y, device="cpu")
    with pytest.raises(TypeError, match="model must be an MAE"):
        partial_finetune(torch.nn.Linear(2, 2), x, y, x, y, device="cpu")
    data = synthetic_shapes(4, img_size=8, seed=0)
    with pytest.raises(ValueError, match=r"mask_ratio \(r\) must be a finite number in \[0"):
        reconstruction_quality(mae, data, 1.0, device="cpu")
    with pytest.raises(TypeError, match="data must be an ImageData"):
        reconstruction_quality(mae, data.images, device="cpu")


def test_partial_finetune_refuses_too_many_blocks():
    mae = MAE(8, 4, 1, 16, 1, 2, 16, 1, 2, seed=0)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    with pytest.raises(ValueError, match="blocks"):
        partial_finetune(mae, x, y, x, y, blocks=2, device="cpu")


def test_cross_validated_probe_tests_every_row_once_and_is_paired_by_seed():
    x, y = blobs(n=120, sep=8.0)
    res = cross_validated_probe(x, y, folds=4, epochs=15, batch_size=32, device="cpu")
    assert isinstance(res, ProbeResult) and res.accuracy > 0.9
    assert len(res.losses) == 15 and res.n_classes == 3
    # pooled over all rows: a multiple of 1/N; same seed, same folds and heads, same number
    assert abs(res.accuracy * 120 - round(res.accuracy * 120)) < 1e-9
    again = cross_validated_probe(x, y, folds=4, epochs=15, batch_size=32, device="cpu")
    assert again.accuracy == res.accuracy
    noise = torch.randn(120, 6, generator=torch.Generator().manual_seed(1))
    chance = cross_validated_probe(noise, y, folds=4, epochs=15, batch_size=32, device="cpu")
    assert chance.accuracy < 0.6  # 3 balanced classes: chance is 1/3; tol = 0.27


def test_cross_validated_probe_refuses_bad_folds():
    x, y = blobs(n=30)
    with pytest.raises(ValueError, match="folds"):
        cross_validated_probe(x, y, folds=1, device="cpu")
    with pytest.raises(ValueError, match="folds"):
        cross_validated_probe(x, y, folds=31, device="cpu")
