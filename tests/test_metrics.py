import pytest
import torch

from mae_theory.metrics import masked_mse, mean_patch


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
    with pytest.raises(ValueError, match="empty"):
        mean_patch(torch.zeros(0, 1, 4, 4), 2)


# --- representation metrics ------------------------------------------------------------------
import math  # noqa: E402

from mae_theory.masking import masking_from_mask  # noqa: E402
from mae_theory.metrics import (  # noqa: E402
    cka_matrix,
    effective_rank,
    linear_cka,
    masked_to_visible_attention,
    mean_attention_distance,
    patch_coordinates,
    psnr,
    ssim,
)


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
    with pytest.raises(ValueError, match=r"2-D tensor of features \(n, d\)"):
        linear_cka(torch.zeros(3), torch.zeros(3, 2))
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


def _uniform(t, heads=2, n=1):
    return torch.full((n, heads, t, t), 1.0 / t)


def test_attention_distance_of_uniform_and_identity_maps():
    # 2x2 grid: from any patch the distances are 0, 1, 1, sqrt(2) -> mean (2 + sqrt 2) / 4
    expected = (2 + math.sqrt(2)) / 4
    d = mean_attention_distance(_uniform(5), (2, 2))
    assert d.shape == (2,) and torch.allclose(d, torch.full((2,), expected))
    # without cls, on a 1x3 grid: pairwise distances 0,1,2 / 1,0,1 / 2,1,0 -> mean 8/9
    d = mean_attention_distance(_uniform(3), (1, 3), cls_token=False)
    assert torch.allclose(d, torch.full((2,), 8 / 9))
    eye = torch.eye(5).expand(2, 3, 5, 5)
    assert torch.equal(mean_attention_distance([eye, eye], (2, 2)), torch.zeros(2, 3))


def test_attention_distance_with_token_ids_and_query_subset():
    # two tokens, patches 0 and 3 of a 2x2 grid (diagonal): each attends only to the other
    swap = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).expand(1, 1, 2, 2)
    d = mean_attention_distance(swap, (2, 2), cls_token=False, token_ids=torch.tensor([0, 3]))
    assert d.item() == pytest.approx(math.sqrt(2))
    # queries: only query 0 of a 1x3 grid, uniform -> (0 + 1 + 2) / 3
    q = torch.tensor([True, False, False])
    d = mean_attention_distance(_uniform(3, heads=1), (1, 3), cls_token=False, queries=q)
    assert d.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="token_ids"):
        mean_attention_distance(_uniform(4), (2, 2))
    with pytest.raises(ValueError, match=r"\(N, heads, T, T\)"):
        mean_attention_distance(torch.ones(3, 3), (2, 2))
    with pytest.raises(ValueError, match="no token"):
        mean_attention_distance(_uniform(3), (1, 3), cls_token=False,
                                queries=torch.zeros(3, dtype=torch.bool))


def test_masked_to_visible_share_under_uniform_and_local_maps():
    masking = masking_from_mask(torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1]]))
    share = masked_to_visible_attention(_uniform(5, heads=3, n=2), masking)
    assert share.shape == (2, 3) and torch.allclose(share, torch.full((2, 3), 2 / 5))
    one = masking_from_mask(torch.tensor([1, 0, 0, 0]))
    assert masked_to_visible_attention(_uniform(5, n=1), one)[0].tolist() == pytest.approx(
        [3 / 5, 3 / 5])
    eye = torch.eye(5).expand(2, 1, 5, 5)  # masked tokens look only at themselves
    assert torch.equal(masked_to_visible_attention(eye, masking), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="masking.mask has shape"):
        masked_to_visible_attention(_uniform(4, n=2), masking)
    with pytest.raises(ValueError, match="must be a Masking"):
        masked_to_visible_attention(_uniform(5, n=2), torch.zeros(2, 4))


def test_patch_coordinates_grid_order():
    assert patch_coordinates((2, 3))[4].tolist() == [1.0, 1.0]


# --- image quality ---------------------------------------------------------------------------

def test_psnr_of_known_mse():
    target = torch.zeros(2, 1, 4, 4)
    pred = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.01)])
    assert psnr(pred, target, 1.0).tolist() == pytest.approx([20.0, 40.0], abs=1e-4)
    assert psnr(2 * pred, target, 2.0).tolist() == pytest.approx([20.0, 40.0], abs=1e-4)
    assert math.isinf(psnr(target, target, 1.0)[0].item())
    with pytest.raises(ValueError, match="data_range"):
        psnr(pred, target, 0)
    with pytest.raises(ValueError, match="same shape"):
        psnr(pred, target[:1], 1.0)


def test_ssim_identity_noise_and_constant_images():
    x = torch.rand(3, 1, 28, 28, generator=_gen(8))
    assert torch.allclose(ssim(x, x, 1.0), torch.ones(3), atol=1e-5)
    noise = torch.randn(3, 1, 28, 28, generator=_gen(9))
    values = [ssim(x + s * noise, x, 1.0).mean().item() for s in (0.05, 0.2, 0.5)]
    assert values[0] > values[1] > values[2]
    # constant images a and b: only the luminance term remains, (2ab + c1) / (a^2 + b^2 + c1)
    a, b = 0.2, 0.6
    c1 = 0.01 ** 2
    got = ssim(torch.full((1, 1, 8, 8), a), torch.full((1, 1, 8, 8), b), 1.0).item()
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-4)
    # digits-sized images work with the default window (7)
    y = torch.rand(2, 1, 8, 8, generator=_gen(10))
    assert ssim(y, y, 1.0).shape == (2,)


def test_ssim_rejects_bad_input():
    x = torch.rand(1, 1, 8, 8, generator=_gen(0))
    with pytest.raises(ValueError, match="window_size must be odd"):
        ssim(x, x, 1.0, window_size=9)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ssim(x[0], x[0], 1.0)
