"""Reconstruction and representation metrics: masked MSE, mean patch, CKA, effective rank."""

import math

import numpy as np
import pytest
import torch

import mae_theory as mt
from mae_theory.metrics import cka_matrix, effective_rank, linear_cka, masked_mse, mean_patch


def test_masked_mse_counts_only_masked_patches():
    pred = torch.zeros(2, 3, 4)
    target = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1).expand(2, 3, 4)
    mask = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    assert masked_mse(pred, target, mask).tolist() == [1.0, (4 + 9) / 2]


def test_masked_mse_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        masked_mse(torch.zeros(1, 3, 4), torch.zeros(1, 2, 4), torch.ones(1, 3))


def test_mean_patch_is_the_best_constant_predictor_per_position():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randn(50, 1, 4, 4, generator=g)
    mp = mean_patch(imgs, 2)
    target = imgs.reshape(50, 1, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(50, 4, 4)
    mask = torch.ones(50, 4)
    best = masked_mse(mp.expand(50, -1, -1), target, mask).mean()
    for shift in (0.1, -0.1):
        assert masked_mse((mp + shift).expand(50, -1, -1), target, mask).mean() > best
    with pytest.raises(ValueError, match="images must be a non-empty batch"):
        mean_patch(torch.zeros(0, 1, 4, 4), 2)


def test_masked_mse_and_mean_patch_refuse_bad_input():
    ok = torch.zeros(1, 3, 4)
    with pytest.raises(TypeError, match=r"pred \(x_hat\) must be a torch.Tensor"):
        masked_mse(np.zeros((1, 3, 4)), ok, torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"target \(x\) must be finite"):
        masked_mse(ok, torch.full((1, 3, 4), float("nan")), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"mask \(m\) must be a 2-D tensor"):
        masked_mse(ok, ok, torch.ones(3))
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        mean_patch(np.zeros((2, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"patch_size \(p\) must be an integer >= 1; got 0"):
        mean_patch(torch.zeros(2, 1, 4, 4), 0)
    with pytest.raises(ValueError, match=r"patch_size \(p\) must divide"):
        mean_patch(torch.zeros(2, 1, 4, 4), 3)
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        mean_patch(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), 2)


# --- representation metrics ------------------------------------------------------------------


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_cka_of_x_with_itself_is_one_and_invariant_to_orthogonal_maps_and_scaling():
    X = torch.randn(200, 6, generator=_gen(0))
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=_gen(1)))
    assert linear_cka(X, X).item() == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(X, 2.5 * X @ Q + 3.0).item() == pytest.approx(1.0, abs=1e-6)
    Y = torch.randn(200, 6, generator=_gen(2))
    assert linear_cka(X, Y).item() == pytest.approx(linear_cka(X @ Q, 0.1 * Y).item(), abs=1e-6)


def test_cka_of_independent_features_is_small_and_of_partial_copy_in_between():
    X = torch.randn(4000, 4, generator=_gen(3))
    Y = torch.randn(4000, 4, generator=_gen(4))
    # E[CKA] for independent isotropic features ~ d/n scale: far below 0.05 here
    assert linear_cka(X, Y).item() < 0.01
    # Y = first two coordinates of X: CKA = ||X1^T X1||^2... closed form 2/sqrt(4*2) = 1/sqrt(2)
    assert linear_cka(X, X[:, :2]).item() == pytest.approx(1 / math.sqrt(2), abs=0.03)


def test_cka_matrix_is_symmetric_with_unit_diagonal():
    X = torch.randn(100, 3, generator=_gen(5))
    m = cka_matrix([X, X + 0.5 * torch.randn(100, 3, generator=_gen(6)), X ** 2])
    assert torch.allclose(m, m.T) and torch.allclose(m.diagonal(), torch.ones(3))
    assert ((m >= 0) & (m <= 1 + 1e-6)).all()


def test_cka_rejects_bad_input():
    with pytest.raises(ValueError, match="same n examples"):
        linear_cka(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"X must be a 2-D tensor of shape \(n, d1\)"):
        linear_cka(torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="Y must be finite"):
        linear_cka(torch.zeros(3, 2), torch.full((3, 2), float("inf")))
    with pytest.raises(TypeError, match="Y must be a torch.Tensor"):
        linear_cka(torch.zeros(3, 2), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="features must be a list"):
        cka_matrix(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"features\[1\] must be a 2-D tensor"):
        cka_matrix([torch.zeros(3, 2), torch.zeros(3)])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(torch.ones(3, 2), torch.randn(3, 2, generator=_gen(0)))
    with pytest.raises(ValueError, match="at least one layer"):
        cka_matrix([])


def test_effective_rank_of_known_spectra():
    for k in (1, 3, 7):
        s = torch.cat([torch.ones(k), torch.zeros(5)])
        assert effective_rank(s, spectrum=True).item() == pytest.approx(k, rel=1e-6)
    # p = (1/2, 1/4, 1/4): entropy = 1.5 log 2, erank = 2^1.5
    assert effective_rank(torch.tensor([2.0, 1.0, 1.0]), spectrum=True).item() == pytest.approx(
        2 ** 1.5, rel=1e-6)
    # the matrix path: U diag(s) V^T has erank of s; rank-1 matrix -> 1; batched
    U, _ = torch.linalg.qr(torch.randn(6, 6, generator=_gen(7)))
    A = U @ torch.diag(torch.tensor([3.0, 3.0, 3.0, 0, 0, 0])) @ U.T
    out = effective_rank(torch.stack([A, torch.ones(6, 6)]))
    assert out.shape == (2,) and torch.allclose(out, torch.tensor([3.0, 1.0]), atol=1e-4)


def test_effective_rank_rejects_bad_input():
    with pytest.raises(ValueError, match="spectrum=True"):
        effective_rank(torch.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        effective_rank(torch.tensor([1.0, -1.0]), spectrum=True)
    with pytest.raises(ValueError, match="zero matrix"):
        effective_rank(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"x \(A\) must be finite"):
        effective_rank(torch.full((3, 3), float("nan")))
    with pytest.raises(TypeError, match=r"x \(sigma\) must be a floating-point tensor"):
        effective_rank(torch.tensor([1, 2]), spectrum=True)


def test_old_names_still_reach_the_split_modules():
    assert mt.psnr is mt.metrics.psnr and mt.metrics.ssim is mt.image_quality.ssim
    assert mt.metrics.patch_coordinates is mt.attention_metrics.patch_coordinates
    assert mt.mean_attention_distance is mt.metrics.mean_attention_distance
    assert mt.masked_to_visible_attention is mt.attention_metrics.masked_to_visible_attention
