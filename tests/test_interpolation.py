import math

import pytest
import torch

from mae_theory import masking_from_mask, random_masking
from mae_theory.interpolation import (
    error_by_partner,
    kernel_interpolation_fill,
    local_attention_mask,
    mirror_images,
    mirror_partner,
    nearest_visible_fill,
    partner_attention,
    restrict_decoder_attention,
)
from mae_theory.models import mae_micro


def test_nearest_visible_copies_the_closest_patch_and_keeps_visible():
    x = torch.arange(9.0).view(1, 9, 1)  # 3x3 grid, value = index
    mask = torch.zeros(1, 9)
    mask[0, [0, 1, 2, 4]] = 1  # visible: 3, 5, 6, 7, 8
    out = nearest_visible_fill(x, mask, (3, 3)).flatten().tolist()
    # patch 1 is equally near 3 and 5 (tie: averaged); patch 4 is next to 3, 5 and 7
    assert out == pytest.approx([3.0, 4.0, 5.0, 3.0, 5.0, 5.0, 6.0, 7.0, 8.0])


def test_kernel_interpolation_weights_and_limits():
    x = torch.tensor([[[0.0], [5.0], [3.0]]])
    m = torch.tensor([[0.0, 1.0, 1.0]])
    # only patch 0 visible: every masked patch copies it
    assert kernel_interpolation_fill(x, m, (1, 3)).flatten().tolist() == [0.0, 0.0, 0.0]
    # two visible at distances 1 and 2 from patch 2 with h = 1: weights e^-1/2, e^-2
    x = torch.tensor([[[1.0], [2.0], [0.0]]])
    m = torch.tensor([[0.0, 0.0, 1.0]])
    w1, w2 = math.exp(-2.0), math.exp(-0.5)
    got = kernel_interpolation_fill(x, m, (1, 3), bandwidth=1.0)[0, 2, 0].item()
    assert got == pytest.approx((w1 * 1 + w2 * 2) / (w1 + w2), rel=1e-5)
    with pytest.raises(ValueError, match="bandwidth"):
        kernel_interpolation_fill(x, m, (1, 3), bandwidth=0)
    with pytest.raises(ValueError, match="every patch"):
        nearest_visible_fill(x, torch.ones(1, 3), (1, 3))
    with pytest.raises(ValueError, match="grid_size"):
        nearest_visible_fill(x, m, (2, 2))


def test_mirror_images_are_symmetric_standardised_and_seeded():
    x = mirror_images(50, 8, 16, seed=3)
    assert torch.equal(x, x.flip(-1))
    assert torch.equal(x, mirror_images(50, 8, 16, seed=3))
    assert x.mean().abs() < 1e-5 and abs(x.std().item() - 1) < 0.05
    with pytest.raises(ValueError, match=r"width \(W\) must be even"):
        mirror_images(2, 8, 15)
    # patch l of a mirror image is its partner's patch, flipped left-right
    p = torch.nn.functional.unfold(x, 2, stride=2)  # (N, 4, L)
    partner = mirror_partner((4, 8))
    flipped = p.view(50, 2, 2, 32).flip(2).reshape(50, 4, 32)
    assert torch.equal(p, flipped[:, :, partner])


def test_local_attention_mask_counts():
    allowed = local_attention_mask((3, 3), 1.0)
    assert allowed[0].all() and not allowed[1:, 0].any()
    assert allowed[1:, 1:].sum(dim=1).tolist() == [3, 4, 3, 4, 5, 4, 3, 4, 3]
    with pytest.raises(ValueError, match="radius"):
        local_attention_mask((3, 3), -1)


def test_restricted_decoder_reach_grows_by_radius_per_block():
    mae = restrict_decoder_attention(mae_micro(decoder_depth=2, seed=0), 1.0)
    m = masking_from_mask(torch.tensor([1] * 8 + [0] * 8))
    lat = torch.randn(1, 9, 16, generator=torch.Generator().manual_seed(0))
    moved = lat.clone()
    moved[0, -1] += 1.0  # visible patch 15 = (3, 3)
    a, b = mae.forward_decoder(lat, m), mae.forward_decoder(moved, m)
    changed = ~torch.isclose(a, b, atol=1e-6).all(dim=-1)[0]
    coords = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij"), -1)
    dist = (coords.reshape(16, 2).float() - torch.tensor([3.0, 3.0])).norm(dim=-1)
    assert not changed[dist > 2.0 + 1e-6].any()  # two blocks, radius 1: reach 2
    assert changed[15]
    maps = mae.attention_maps(torch.zeros(1, 1, 8, 8), m)["decoder"][0]
    assert (maps[0, :, 1, 16] == 0).all()  # patch 0 never attends patch 15
    assert torch.allclose(maps.sum(-1), torch.ones_like(maps.sum(-1)))


def test_error_by_partner_splits_masked_patches():
    target = torch.zeros(1, 4, 1)
    pred = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])
    mask = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    partner = torch.tensor([3, 2, 1, 0])
    vis, hid = error_by_partner(pred, target, mask, partner)
    assert vis == pytest.approx(4.0) and hid == pytest.approx((1 + 16) / 2)


def test_nearest_visible_distance_of_a_single_visible_centre():
    from mae_theory.interpolation import nearest_visible_distance

    mask = torch.ones(1, 9)
    mask[0, 4] = 0  # only the centre of a 3x3 grid is visible
    assert nearest_visible_distance(mask, (3, 3)) == pytest.approx((4 + 4 * math.sqrt(2)) / 8)
    with pytest.raises(ValueError, match="mask must have shape"):
        nearest_visible_distance(mask, (2, 2))


@pytest.mark.parametrize(("call", "kind", "match"), [
    (lambda: mirror_images(0, 8, 16), ValueError, r"n \(N\) must be an integer >= 1"),
    (lambda: mirror_images(2, 8.0, 16), TypeError, r"height \(H\) must be an integer"),
    (lambda: mirror_images(2, 8, 16, smoothness=0.0), ValueError, r"smoothness must be"),
    (lambda: local_attention_mask((3, 3), float("nan")), ValueError, r"radius must be a finite"),
    (lambda: local_attention_mask(3, 1.0), TypeError, r"grid_size must be a pair"),
    (lambda: restrict_decoder_attention("model", 1.0), TypeError, r"mae must be a mae_theory MAE"),
    (lambda: nearest_visible_fill(torch.zeros(1, 3, 1).numpy(), torch.zeros(1, 3), (1, 3)),
     TypeError, r"patches must be a torch.Tensor"),
    (lambda: nearest_visible_fill(torch.full((1, 3, 1), float("nan")), torch.tensor([[0., 1, 0]]),
                                  (1, 3)), ValueError, r"patches must be finite"),
    (lambda: nearest_visible_fill(torch.zeros(1, 3, 1), torch.tensor([[0, 2, 0]]), (1, 3)),
     ValueError, r"only 0 \(visible\) and 1 \(masked\)"),
    (lambda: error_by_partner(torch.zeros(1, 2, 1), torch.zeros(1, 3, 1), torch.zeros(1, 2),
                              torch.tensor([1, 0])), ValueError, r"target must have the shape"),
])
def test_bad_inputs_are_refused(call, kind, match):
    with pytest.raises(kind, match=match):
        call()


def test_restricted_decoder_is_the_decoder_run_with_the_attention_mask():
    """restrict_decoder_attention only stores the mask: forward_decoder(attn_mask=...) agrees."""

    plain, local = mae_micro(decoder_depth=2, seed=0), mae_micro(decoder_depth=2, seed=0)
    restrict_decoder_attention(local, 1.0)
    m = masking_from_mask(torch.tensor([1] * 8 + [0] * 8))
    lat = torch.randn(1, 9, 16, generator=torch.Generator().manual_seed(1))
    allowed = local_attention_mask(plain.grid_size, 1.0)
    torch.testing.assert_close(local.forward_decoder(lat, m),
                               plain.forward_decoder(lat, m, attn_mask=allowed))
    assert "forward" not in vars(local.decoder_blocks[0].attn)  # no monkey-patching
    local.decoder_attn_mask = None
    torch.testing.assert_close(local.forward_decoder(lat, m), plain.forward_decoder(lat, m))


def _partner_map(n, grid, mask, on_partner):
    """Attention (n, 1, L+1, L+1): uniform rows, plus weight ``on_partner`` on each partner."""
    L = grid[0] * grid[1]
    a = torch.ones(n, 1, L + 1, L + 1)
    partner = mirror_partner(grid)
    a[:, :, 1 + torch.arange(L), 1 + partner] += on_partner
    return a / a.sum(dim=-1, keepdim=True)


def test_partner_attention_is_distance_only_for_uniform_maps_and_higher_when_read():
    grid = (4, 8)
    mask = random_masking(50, grid, 0.75, seed=0).mask  # |V| = 8 in every image
    partner = mirror_partner(grid)
    obs, dist = partner_attention(_partner_map(50, grid, mask, 0.0), mask, partner, grid)
    assert torch.allclose(obs, dist, atol=1e-6)  # no partner preference: the two agree
    read = _partner_map(50, grid, mask, 20.0)
    obs, dist = partner_attention(read, mask, partner, grid)
    assert obs.item() > 0.5 > dist.item()
    # a local map (weight decays with distance) gives a far partner less than uniform
    c = torch.cdist(*(2 * [torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(8.0),
                                                      indexing="ij"), -1).reshape(-1, 2)]))
    local = torch.ones(50, 1, 33, 33)
    local[..., 1:, 1:] = torch.exp(-c)
    far = mirror_partner(grid) != torch.arange(32)
    obs, dist = partner_attention(local, mask, partner, grid, far)
    assert obs.item() == pytest.approx(dist.item(), rel=0.05)  # distance explains it; tol 5 %


def test_partner_attention_refuses_bad_inputs():
    grid = (2, 4)
    partner = mirror_partner(grid)
    attn = torch.full((1, 1, 9, 9), 1 / 9)
    with pytest.raises(ValueError, match="L \\+ 1"):
        partner_attention(torch.full((1, 1, 8, 8), 1 / 8), torch.zeros(1, 8), partner, grid)
    with pytest.raises(ValueError, match="visible partner"):
        partner_attention(attn, torch.zeros(1, 8), partner, grid)  # nothing masked
    with pytest.raises(ValueError, match="distance profile"):  # the partner is the only key
        partner_attention(torch.full((1, 1, 3, 3), 1 / 3), torch.tensor([[1., 0.]]),
                          mirror_partner((1, 2)), (1, 2))


def test_partner_attention_of_a_local_decoder_is_zero_for_far_partners():
    grid = (4, 8)
    mask = random_masking(20, grid, 0.75, seed=1).mask
    allowed = local_attention_mask(grid, 1.5).float()
    local = (allowed / allowed.sum(dim=-1, keepdim=True)).expand(20, 1, 33, 33)
    far = (torch.arange(32) % 8 - 3.5).abs() >= 2.5
    obs, dist = partner_attention(local, mask, mirror_partner(grid), grid, far)
    assert obs.item() == 0.0 and dist.item() == pytest.approx(0.0, abs=1e-9)
