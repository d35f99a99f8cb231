"""The linear MAE: closed forms (theory section 2) against numerics and gradient descent."""

import numpy as np
import pytest
import torch

import mae_theory as mt
from mae_theory.models import LinearMAE
from mae_theory.theory import (
    expected_masked_loss,
    exponential_covariance,
    fixed_mask_optimum,
    linear_mae_optimum,
    optimal_linear_predictor,
    predictor_reach,
    subspace_angle,
)


def monte_carlo_loss(w, cov, p, r, n_samples=20000, seed=0):
    """Masked loss per masked pixel of x_hat = W (v * x), by sampling x and masks."""
    n = cov.shape[0]
    gen = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(torch.as_tensor(cov))
    x = torch.randn(n_samples, n, generator=gen, dtype=torch.float64) @ chol.T
    mask = mt.random_masking(n_samples, (1, n // p), r, seed=seed).mask.double()
    pix = mask.repeat_interleave(p, dim=1)
    pred = (x * (1 - pix)) @ torch.as_tensor(w).T
    return float((((pred - x) ** 2) * pix).sum() / pix.sum())


@pytest.mark.parametrize("p,r", [(1, 0.5), (2, 0.75), (4, 0.25)])
def test_expected_loss_matches_monte_carlo(p, r):
    cov = exponential_covariance(16)
    rng = np.random.default_rng(0)
    for w in (optimal_linear_predictor(cov, p, r), 0.1 * rng.standard_normal((16, 16))):
        exact = expected_masked_loss(w, cov, p, r)
        assert monte_carlo_loss(w, cov, p, r) == pytest.approx(exact, rel=0.03)


def test_full_rank_optimum_is_a_minimum():
    cov = exponential_covariance(16)
    w = optimal_linear_predictor(cov, 2, 0.5)
    best = expected_masked_loss(w, cov, 2, 0.5)
    rng = np.random.default_rng(1)
    for _ in range(5):
        assert expected_masked_loss(w + 0.01 * rng.standard_normal(w.shape), cov, 2, 0.5) > best


def test_fixed_mask_full_rank_is_conditional_variance():
    cov = exponential_covariance(12)
    masked = np.zeros(12, bool)
    masked[[2, 3, 7]] = True
    _, _, loss = fixed_mask_optimum(cov, masked)
    cond = cov[np.ix_(masked, masked)] - cov[np.ix_(masked, ~masked)] @ np.linalg.solve(
        cov[np.ix_(~masked, ~masked)], cov[np.ix_(~masked, masked)])
    assert loss == pytest.approx(np.trace(cond) / 3, abs=1e-12)


def test_fixed_mask_rank_k_loss_decreases_with_k():
    cov = exponential_covariance(12)
    masked = np.arange(12) >= 6
    losses = [fixed_mask_optimum(cov, masked, k)[2] for k in range(1, 7)]
    assert all(a > b for a, b in zip(losses, losses[1:]))


def test_als_full_rank_reaches_normal_equations():
    cov = exponential_covariance(8)
    _, _, loss = linear_mae_optimum(cov, 2, 0.5, rank=8)
    w = optimal_linear_predictor(cov, 2, 0.5)
    assert loss == pytest.approx(expected_masked_loss(w, cov, 2, 0.5), abs=1e-8)


def test_reach_grows_with_patch_size():
    cov = exponential_covariance(32)
    reach = [predictor_reach(optimal_linear_predictor(cov, p, 0.5)) for p in (1, 4, 8)]
    assert reach[0] < reach[1] < reach[2]


def test_gradient_descent_reaches_fixed_mask_optimum():
    n, p, k = 16, 2, 2
    cov = exponential_covariance(n)
    fm = np.zeros(n // p, bool)
    fm[[1, 2, 5, 6]] = True
    pix = np.repeat(fm, p)
    enc, _, loss = fixed_mask_optimum(cov, pix, k)
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(8000, n, generator=gen, dtype=torch.float64)
         @ torch.linalg.cholesky(torch.as_tensor(cov)).T).float()
    model = LinearMAE(n, p, k, fixed_mask=fm, seed=0)
    cfg = mt.TrainConfig(steps=300, batch_size=256, lr=2e-2, weight_decay=0.0, log_every=50)
    mt.train(model, x, cfg, seed=0, device="cpu", progress=False)
    w = model.weight.detach().double().numpy()[np.ix_(pix, ~pix)]
    s_vv, s_mv = cov[np.ix_(~pix, ~pix)], cov[np.ix_(pix, ~pix)]
    gd = np.trace(w @ s_vv @ w.T - 2 * w @ s_mv.T + cov[np.ix_(pix, pix)]) / pix.sum()
    assert gd == pytest.approx(loss, rel=0.02)
    assert subspace_angle(model.encoder.detach().numpy()[:, ~pix], enc) < 0.3


def test_linear_mae_forward_loss_counts_masked_pixels_only():
    model = LinearMAE(4, 2, 4, fixed_mask=[True, False], seed=0)
    with torch.no_grad():
        model.encoder.copy_(torch.eye(4))
        model.decoder.copy_(torch.eye(4))
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    loss, pred, mask = model(x)
    assert mask.tolist() == [[1.0, 0.0]]
    assert pred.tolist() == [[0.0, 0.0, 3.0, 4.0]]
    assert loss.item() == pytest.approx((1 + 4) / 2)


def test_bad_inputs():
    with pytest.raises(ValueError, match="patch_size p=3"):
        LinearMAE(8, 3, 2)
    with pytest.raises(ValueError, match=r"rank \(d\) must be an integer in \[1, 8\]; got 9"):
        LinearMAE(8, 2, 9)
    with pytest.raises(ValueError, match="fixed_mask"):
        LinearMAE(8, 2, 2, fixed_mask=[True] * 4)
    with pytest.raises(ValueError, match="do not fit"):
        LinearMAE(8, 2, 2).check_inputs(torch.zeros(3, 6))
    with pytest.raises(ValueError, match=r"rank \(d\) must be an integer in \[1, 8\]"):
        LinearMAE(8, 2, 0)
    with pytest.raises(TypeError, match=r"n_pixels \(n\) must be an integer"):
        LinearMAE(8.0, 2, 2)
    with pytest.raises(TypeError, match=r"torch.as_tensor"):
        LinearMAE(8, 2, 2)(np.zeros((3, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"signals must be finite"):
        LinearMAE(8, 2, 2)(torch.full((3, 8), float("inf")))
    with pytest.raises(ValueError, match=r"mask ratio r must lie in \[0, 1\)"):
        LinearMAE(8, 2, 2)(torch.zeros(3, 8), mask_ratio=1.5)
    model = LinearMAE(8, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"masking.mask must have shape \(N, L\) = \(3, 4\)"):
        model(torch.zeros(3, 8), masking=model.make_masking(2, 0.5, seed=0))
    with pytest.raises(ValueError, match="correlation lengths"):
        exponential_covariance(8, lengths=(0.0,))
    with pytest.raises(ValueError, match="hides no patch"):
        optimal_linear_predictor(exponential_covariance(8), 2, 0.0)
    with pytest.raises(ValueError, match="masked must be"):
        fixed_mask_optimum(exponential_covariance(4), np.ones(4, bool))
    with pytest.raises(ValueError, match=r"rank \(d\)"):
        linear_mae_optimum(exponential_covariance(4), 1, 0.5, rank=0)
