"""Tests of mae_theory.operators against closed forms, exact identities and stated rates."""

import math

import numpy as np
import pytest
import torch

from mae_theory import MAE, patchify
from mae_theory import operators as op

# --- fields and synthetic images ---------------------------------------------------------------


def test_cell_centres_follow_the_patch_token_order():
    m = 4
    x = op.cell_centres(m)
    img = (x[:, 0] * 10 + x[:, 1]).reshape(1, 1, m, m).float()  # value encodes the point
    tokens = patchify(img, 1)[0, :, 0]
    assert torch.allclose(tokens, (x[:, 0] * 10 + x[:, 1]).float())
    assert x.dtype == torch.float64 and x.min() == 1 / 8 and x.max() == 7 / 8
    with pytest.raises(ValueError, match=r"m \(cells per side\) must be an integer >= 1; got 0"):
        op.cell_centres(0)


def test_sine_field_gradient_matches_finite_differences():
    f = op.smooth_field(3, seed=1)
    x = torch.rand(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    eps = 1e-6
    for a in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[a] = eps
        fd = (f(x + e) - f(x - e)) / (2 * eps)
        assert torch.allclose(fd, f.grad(x)[..., a], atol=1e-6)


def test_fields_and_images_are_reproducible_from_their_seed():
    assert torch.equal(op.smooth_image(16, seed=3), op.smooth_image(16, seed=3))
    assert not torch.equal(op.smooth_image(16, seed=3), op.smooth_image(16, seed=4))
    assert torch.equal(op.rough_image(16, 0.5, seed=3), op.rough_image(16, 0.5, seed=3))


def test_field_input_validation():
    f = op.smooth_field(2, seed=0)
    with pytest.raises(ValueError, match=r"points \(x\) must be a tensor of shape \(M, 2\)"):
        f(torch.zeros(3, 3))
    with pytest.raises(TypeError, match=r"points \(x\) must be a torch.Tensor"):
        f(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"points \(x\) must be finite"):
        f(torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match=r"max_freq \(cycles per unit length\) must be a finite"):
        op.smooth_field(1, max_freq=0.0, seed=0)
    with pytest.raises(ValueError, match=r"dim \(d\) must be an integer >= 1"):
        op.smooth_field(0, seed=0)
    with pytest.raises(TypeError, match=r"n_modes \(K\) must be an integer"):
        op.smooth_field(1, n_modes=2.5, seed=0)
    with pytest.raises(ValueError, match=r"hurst \(Hoelder exponent H\) must be a finite number "
                                         r"in \(0.0, 1.0\)"):
        op.rough_image(16, 1.0, seed=0)
    with pytest.raises(ValueError, match=r"n \(pixels per side\) must be an integer >= 2"):
        op.rough_image(-4, 0.5, seed=0)
    with pytest.raises(TypeError, match=r"patch_size\[1\] \(p\) must be an integer; got 2.5"):
        op.rough_patch_mean_error(16, 0.5, [1, 2.5])
    with pytest.raises(TypeError, match="field must be callable"):
        op.sample_field(3, 8)
    with pytest.raises(ValueError, match=r"freqs \(K, 2\), phases \(K,\) and amps"):
        op.SineField(torch.zeros(3, 2), torch.zeros(2), torch.zeros(3, 1))


def test_rough_image_has_unit_variance_and_structure_function_slope_2h():
    n, hurst = 256, 0.5
    imgs = torch.stack([op.rough_image(n, hurst, seed=s) for s in range(4)])
    assert abs(float(imgs.var()) - 1) < 0.15
    lags = [2, 4, 8, 16]
    sf = [float((imgs.roll(lag, dims=-1) - imgs).pow(2).mean()) for lag in lags]
    slope = np.polyfit(np.log(lags), np.log(sf), 1)[0]
    assert abs(slope - 2 * hurst) < 0.15


# --- patch-wise approximation ------------------------------------------------------------------


def test_patch_mean_is_an_orthogonal_projection():
    g = torch.Generator().manual_seed(0)
    f, u = torch.randn(2, 8, 8, dtype=torch.float64, generator=g)
    for order in (0, 1):
        pf = op.patch_approximation(f, 4, order)
        assert torch.allclose(op.patch_approximation(pf, 4, order), pf)  # idempotent
        pu = op.patch_approximation(u, 4, order)
        assert torch.allclose((pf * u).sum(), (f * pu).sum())  # self-adjoint


def test_plane_fit_is_exact_for_planes_and_patch_mean_error_has_its_closed_form():
    i = torch.arange(16, dtype=torch.float64)
    plane = (2 * i[:, None] + 3 * i[None, :] + 1) / 16  # grad = (2, 3) in [0,1]^2 units
    assert torch.allclose(op.patch_approximation(plane, 4, order=1), plane)
    for p in (2, 4, 8):
        err = float(op.patch_approximation_error(plane, p))
        assert math.isclose(err, op.patch_mean_error_linear(math.sqrt(13), p, 16), rel_tol=1e-12)


def test_patch_mean_error_rate_is_h_for_smooth_images_and_h2_for_planes_per_patch():
    n, ps = 256, np.array([4, 8, 16, 32])
    h = ps / n
    imgs = [op.smooth_image(n, seed=s) for s in range(3)]
    e0 = [[float(op.patch_approximation_error(f, int(p))) for p in ps] for f in imgs]
    e1 = [[float(op.patch_approximation_error(f, int(p), 1)) for p in ps] for f in imgs]
    assert np.all(np.abs(op.fit_rate(h, e0) - 1) < 0.1)
    assert np.all(np.abs(op.fit_rate(h, e1) - 2) < 0.35)


def test_smooth_patch_mean_error_matches_h_grad_over_sqrt12():
    n, p = 256, 8
    f = op.smooth_field(1, seed=2)
    grad_norm = float(f.grad(op.cell_centres(n)).pow(2).sum(dim=(1, 2)).mean().sqrt())
    err = float(op.patch_approximation_error(op.sample_field(f, n)[0], p))
    assert math.isclose(err, op.patch_mean_error_linear(grad_norm, p, n), rel_tol=0.02)


def test_rough_patch_mean_error_matches_its_spectral_formula():
    n, hurst, ps = 128, 0.5, np.array([2, 8, 32])
    errs = np.array([[float(op.patch_approximation_error(op.rough_image(n, hurst, seed=s), p))
                      for p in ps] for s in range(8)])
    rms = np.sqrt((errs**2).mean(axis=0))
    assert np.allclose(rms, op.rough_patch_mean_error(n, hurst, ps), rtol=0.1)


def test_patch_approximation_validation():
    with pytest.raises(ValueError, match="patch size p=3 must divide the image size 8 x 8"):
        op.patch_approximation(torch.zeros(8, 8), 3)
    with pytest.raises(ValueError, match="order must be an integer in \\[0, 1\\]"):
        op.patch_approximation(torch.zeros(8, 8), 2, order=2)
    with pytest.raises(ValueError, match=r"img \(f\) must be a tensor of shape \(\.\.\., n, n\)"):
        op.patch_approximation(torch.zeros(8), 2)
    with pytest.raises(TypeError, match=r"img \(f\) must be a floating-point tensor"):
        op.patch_approximation(torch.zeros(8, 8, dtype=torch.long), 2)
    with pytest.raises(TypeError, match=r"img \(f\) must be a torch.Tensor"):
        op.patch_approximation_error(np.zeros((8, 8)), 2)
    with pytest.raises(ValueError, match=r"patch_size \(p\) must be an integer >= 1; got -2"):
        op.patch_approximation(torch.zeros(8, 8), -2)
    with pytest.raises(ValueError, match=r"grad_norm \(\|grad f\|\) must be a finite number"):
        op.patch_mean_error_linear(float("nan"), 4, 8)


def test_fit_rate_recovers_exponents_and_checks_shapes():
    h = np.array([0.05, 0.1, 0.2])
    assert np.allclose(op.fit_rate(h, [h**0.5, 7 * h**1.5]), [0.5, 1.5])
    with pytest.raises(ValueError, match="errors must have shape"):
        op.fit_rate(h, [1.0, 2.0])
    with pytest.raises(ValueError, match="errors must be finite and > 0"):
        op.fit_rate([0.1, 0.2], [0.0, 1.0])
    with pytest.raises(ValueError, match="h must be finite and > 0"):
        op.fit_rate([float("nan"), 0.2], [1.0, 2.0])


def test_overlap_leak_is_zero_without_overlap_and_matches_theory_with_it():
    assert op.overlap_leak(16, 4, 4, 0.75, seed=0) == 0.0
    for stride, r in [(2, 0.75), (2, 0.5), (1, 0.9)]:
        got = np.mean([op.overlap_leak(64, 4, stride, r, seed=s) for s in range(4)])
        assert abs(got - op.overlap_leak_theory(4, stride, r)) < 0.035  # ~3.5 sigma
    with pytest.raises(ValueError, match="stride s=3 must divide the patch size p=4"):
        op.overlap_leak(8, 4, 3, 0.5, seed=0)
    with pytest.raises(ValueError, match=r"mask_ratio \(r\) must be a finite number in \[0.0, 1"):
        op.overlap_leak(8, 4, 2, 1.0, seed=0)
    with pytest.raises(ValueError, match=r"mask_ratio \(r\) must be a finite number"):
        op.overlap_leak_theory(4, 2, float("nan"))
    with pytest.raises(ValueError, match=r"stride \(s\) must be an integer >= 1; got 0"):
        op.overlap_leak_theory(4, 0, 0.5)


# --- the kernel integral operator --------------------------------------------------------------


def test_quadrature_rules_integrate_what_they_should():
    x, w = op.midpoint_nodes(8)
    assert math.isclose(float((w * x[:, 0]).sum()), 0.5, rel_tol=1e-14)  # linear: exact
    x, w = op.gauss_legendre_nodes(4)
    poly = x[:, 0] ** 7 * x[:, 1] ** 6
    assert math.isclose(float((w * poly).sum()), 1 / 8 / 7, rel_tol=1e-12)


def test_kernel_attention_is_softmax_attention_and_ignores_a_common_weight():
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(5, 4, generator=g), torch.randn(7, 4, generator=g), torch.randn(7, 3)
    a = torch.softmax(q @ k.T / 2, dim=-1) @ v
    assert torch.allclose(op.kernel_attention(q, k, v), a, atol=1e-6)
    assert torch.allclose(op.kernel_attention(q, k, v, torch.full((7,), 1e-3)), a, atol=1e-6)
    with pytest.raises(ValueError, match="same width d"):
        op.kernel_attention(q, k[:, :3], v)
    with pytest.raises(ValueError, match=r"values must have shape \(J, d_v\) with J = 7"):
        op.kernel_attention(q, k, v[:6])
    with pytest.raises(ValueError, match="weights w must be positive"):
        op.kernel_attention(q, k, v, torch.zeros(7))
    with pytest.raises(TypeError, match=r"keys \(k\) must be a torch.Tensor"):
        op.kernel_attention(q, k.numpy(), v)
    with pytest.raises(ValueError, match=r"values \(v\) must be finite"):
        op.kernel_attention(q, k, torch.full_like(v, float("inf")))
    with pytest.raises(TypeError, match=r"queries \(q\) must be a floating-point tensor"):
        op.kernel_attention(q.long(), k, v)


def _fields(seed):
    return [op.smooth_field(4, seed=10 * seed + i) for i in range(3)]


def test_token_attention_is_exact_for_patch_constant_features():
    m = 8
    for seed in range(3):
        q, k, v = (op.PatchConstant(f, m) for f in _fields(seed))
        x = op.cell_centres(m)
        tokens = op.kernel_attention(q(x), k(x), v(x))  # plain softmax on the patch centres
        fine = op.integral_attention(x, q, k, v, *op.midpoint_nodes(8 * m))
        assert float((tokens - fine).abs().max()) < 1e-12


def test_midpoint_attention_error_is_order_h_squared_for_smooth_features():
    ms = np.array([8, 16, 32, 64])
    x = op.cell_centres(3)
    for seed in range(3):
        q, k, v = _fields(seed)
        exact = op.integral_attention(x, q, k, v, *op.gauss_legendre_nodes(40))
        errs = [float((op.integral_attention(x, q, k, v, *op.midpoint_nodes(int(m)))
                       - exact).abs().max()) for m in ms]
        assert abs(op.fit_rate(1 / ms, errs)[0] - 2) < 0.25


def test_patch_constant_field_is_constant_on_each_patch():
    f = op.smooth_field(2, seed=0)
    pc = op.PatchConstant(f, 4)
    assert torch.allclose(pc(torch.tensor([[0.01, 0.26], [0.24, 0.49]], dtype=torch.float64)),
                          f(torch.tensor([[0.125, 0.375]] * 2, dtype=torch.float64)))
    assert torch.allclose(pc(torch.tensor([[1.0, 1.0]], dtype=torch.float64)),
                          f(torch.tensor([[0.875, 0.875]], dtype=torch.float64)))


def test_subset_attention_error_shrinks_like_n_to_the_minus_half_as_predicted():
    x = op.cell_centres(48)  # J = 2304 tokens
    q, k, v = _fields(5)
    queries = q(x[::97])
    keys, values = k(x), v(x)
    full = op.kernel_attention(queries, keys, values)
    ns = np.array([16, 32, 64, 128])
    errs = np.array([float((op.subset_attention(queries, keys, values, int(n), n_draws=40,
                                                seed=0) - full).pow(2).mean().sqrt())
                     for n in ns])
    theory = op.subset_attention_error_theory(queries, keys, values, ns)
    assert np.allclose(errs, theory, rtol=0.3)
    assert abs(op.fit_rate(ns, errs)[0] + 0.5) < 0.12


def test_subset_attention_validation():
    q = k = v = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"n_visible \(\|V\|\) must be an integer in \[1, 4\]"):
        op.subset_attention(q, k, v, 5, seed=0)
    with pytest.raises(ValueError, match=r"n_visible \(\|V\|\) must be an integer in \[1, 4\]"):
        op.subset_attention(q, k, v, 0, seed=0)
    with pytest.raises(ValueError, match="n_draws must be an integer >= 1"):
        op.subset_attention(q, k, v, 2, n_draws=0, seed=0)
    with pytest.raises(ValueError, match=r"n_visible\[1\] \(\|V\|\) must be an integer in"):
        op.subset_attention_error_theory(q, k, v, [2, 0])


# --- kernels of a trained MAE ------------------------------------------------------------------


def test_kernel_spectrum_of_a_known_matrix():
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=g))
    w, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=g))
    a = u @ torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5], dtype=torch.float64)) @ w.T
    assert torch.allclose(op.kernel_spectrum(a), torch.tensor([3.0, 2.0, 1.0, 0.5],
                                                               dtype=torch.float64))
    with pytest.raises(ValueError, match=r"kernels must have shape \(\.\.\., T, T\)"):
        op.kernel_spectrum(torch.ones(3))
    with pytest.raises(ValueError, match="kernels must be finite"):
        op.kernel_spectrum(torch.full((2, 2), float("nan")))


def test_kernel_uniform_gap_is_the_mass_moved_to_uniform():
    t = 5
    uniform = op.kernel_uniform_gap(torch.full((2, t, t), 1 / t))
    assert uniform.shape == (2,) and uniform.abs().max() < 1e-7  # float32 rounding of 1/5
    perm = torch.eye(t)[[1, 2, 3, 4, 0]]
    assert math.isclose(op.kernel_uniform_gap(perm).item(), 1 - 1 / t)
    half = 0.5 * torch.eye(t, dtype=torch.float64) + 0.5 / t  # half on itself, half spread
    assert math.isclose(op.kernel_uniform_gap(half).item(), 0.5 * (1 - 1 / t))
    with pytest.raises(ValueError, match=r"kernels must have shape \(\.\.\., T, T\)"):
        op.kernel_uniform_gap(torch.ones(2, 3))


def test_attention_kernels_are_row_stochastic_and_validate_part(tiny_mae):
    mae = tiny_mae(depth=2)
    imgs = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    a = op.attention_kernels(mae, imgs)
    assert a.shape == (2, 2, 2, 16, 16)
    assert torch.allclose(a.sum(-1), torch.ones(()), atol=1e-5)
    masking = mae.make_masking(2, 0.75, seed=0)
    assert op.attention_kernels(mae, imgs, masking=masking, part="decoder").shape == (
        1, 2, 2, 16, 16)
    assert op.attention_kernels(mae, imgs, masking=masking, drop_cls=False).shape[-1] == 5
    with pytest.raises(ValueError, match="part must be 'encoder' or 'decoder'"):
        op.attention_kernels(mae, imgs, part="middle")
    with pytest.raises(ValueError, match="part='decoder' needs a masking"):
        op.attention_kernels(mae, imgs, part="decoder")
    with pytest.raises(TypeError, match="imgs must be a torch.Tensor"):
        op.attention_kernels(mae, imgs.numpy())
    with pytest.raises(TypeError, match="model must be an MAE"):
        op.attention_effective_rank(None, imgs)


def test_uniform_attention_has_effective_rank_one(tiny_mae):
    mae: MAE = tiny_mae(depth=2)
    with torch.no_grad():
        for blk in mae.blocks:  # q = k = 0: every logit is 0, A = 11^T / T
            blk.attn.qkv.weight.zero_()
            blk.attn.qkv.bias.zero_()
    erank = op.attention_effective_rank(mae, torch.randn(2, 1, 8, 8))
    assert erank.shape == (2, 2)
    assert torch.allclose(erank, torch.ones(2, 2), atol=1e-4)


# --- figures and the explorer -----------------------------------------------------------------


def test_plot_rate_and_explorer_build_and_validate():
    import matplotlib

    matplotlib.use("Agg")
    from mae_theory.plotting import plot_rate
    from mae_theory.widgets import patch_approximation_explorer

    ax = plot_rate([1, 2, 4], np.ones((3, 3)), theory=[1, 1, 1], slope=1.0)
    assert len(ax.lines) >= 2
    with pytest.raises(ValueError, match=r"measured must have shape \(S, K\) with K = len"):
        plot_rate([1, 2, 4], np.ones((3, 2)))
    box = patch_approximation_explorer({"smooth": op.smooth_image(32, seed=0)}, (2, 4, 8))
    assert box.children[1].children[0].value == 4
    with pytest.raises(ValueError, match="images is empty"):
        patch_approximation_explorer({})


# --- what a masked patch's error is made of (chapter 5, Experiment 4) ----------------------------


def test_masked_error_split_is_orthogonal_and_counts_masked_patches_only():
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(3, 5, 4, generator=gen), torch.randn(3, 5, 4, generator=gen)
    mask = torch.zeros(3, 5)
    mask[:, :2] = 1
    coarse, detail = op.masked_error_split(pred, target, mask)
    total = float((pred.double() - target.double())[:, :2].pow(2).sum())
    assert coarse + detail == pytest.approx(total, rel=1e-12)
    # a prediction off by a constant per patch has no texture error
    shifted = target + torch.randn(3, 5, 1, generator=gen)
    assert op.masked_error_split(shifted, target, mask)[1] == pytest.approx(0.0, abs=1e-10)
    # the patch mean itself has no mean error
    flat = target.mean(dim=-1, keepdim=True).expand_as(target)
    assert op.masked_error_split(flat, target, mask)[0] == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match=r"mask must be\s+\(N, L\)"):
        op.masked_error_split(pred, target, mask[:, :3])
