import pytest
import torch

from mae_theory.masking import (
    block_mask,
    grid_mask,
    masking_from_mask,
    n_visible,
    patchify,
    random_masking,
    unpatchify,
)


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_patchify_unpatchify_are_inverse(channels):
    x = torch.randn(2, channels, 12, 8)
    p = patchify(x, 4)
    assert p.shape == (2, 6, 16 * channels)
    assert torch.equal(unpatchify(p, 4, channels, grid_size=(3, 2)), x)


def test_patchify_order_is_row_col_channel():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    p = patchify(x, 2)
    # first patch: pixels (0,0),(0,1),(1,0),(1,1), channels interleaved last
    assert p[0, 0].tolist() == [0, 16, 1, 17, 4, 20, 5, 21]
    # token 1 is the patch to the right of token 0
    assert p[0, 1, 0].item() == 2


def test_patchify_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="not divisible by the patch size p=3"):
        patchify(torch.zeros(1, 1, 8, 8), 3)


@pytest.mark.parametrize(("n_tokens", "ratio", "keep"), [
    (64, 0.75, 16), (64, 0.9, 6), (16, 0.5, 8), (100, 0.71, 29), (49, 0.75, 12), (10, 0.0, 10),
    (100, 0.9, 9), (1000, 0.9, 99), (196, 0.75, 49),
])
def test_n_visible_is_the_official_count(n_tokens, ratio, keep):
    """The official int(L * (1 - r)) in floating point, with no guard: L=100, r=0.9 keeps 9."""
    assert n_visible(n_tokens, ratio) == keep
    assert keep == int(n_tokens * (1 - ratio))


def test_n_visible_agrees_with_the_official_rule_on_a_grid_of_pairs():
    for n_tokens in (4, 16, 49, 64, 100, 196):
        for k in range(100):
            r = k / 100
            if int(n_tokens * (1 - r)) >= 1:
                assert n_visible(n_tokens, r) == int(n_tokens * (1 - r))


@pytest.mark.parametrize("bad", [1.0, 1.2, -0.1])
def test_mask_ratio_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r"mask ratio r must lie in \[0, 1\)"):
        n_visible(16, bad)


@pytest.mark.parametrize("bad", ["0.5", None, True])
def test_mask_ratio_that_is_not_a_number_is_refused(bad):
    with pytest.raises(TypeError, match=r"mask ratio r must be a number"):
        n_visible(16, bad)


@pytest.mark.parametrize(("args", "kind", "match"), [
    ((0, 0.5), ValueError, r"n_tokens \(L\) must be an integer >= 1"),
    ((16.0, 0.5), TypeError, r"n_tokens \(L\) must be an integer"),
])
def test_bad_token_counts_are_refused(args, kind, match):
    with pytest.raises(kind, match=match):
        n_visible(*args)


def test_mask_ratio_that_hides_everything_is_refused():
    with pytest.raises(ValueError, match="leaves no visible token"):
        n_visible(4, 0.9)


def test_random_masking_counts_and_restore():
    m = random_masking(5, (4, 4), 0.75, seed=0)
    assert m.mask.shape == (5, 16)
    assert torch.all(m.mask.sum(1) == 12)
    # the kept ids are exactly the zeros of the mask
    for row in range(5):
        assert set(m.ids_keep[row].tolist()) == set((m.mask[row] == 0).nonzero().flatten().tolist())
    # ids_restore sends each visible token l to its slot among the encoder's tokens
    n_keep = m.ids_keep.shape[1]
    for row in range(5):
        for token in range(16):
            slot = m.ids_restore[row, token].item()
            assert (slot < n_keep) == (m.mask[row, token].item() == 0)
            if slot < n_keep:
                assert m.ids_keep[row, slot].item() == token
    assert torch.equal(m.ids_restore.sort(1).values, torch.arange(16).expand(5, 16))


def test_random_masking_is_reproducible_per_seed_and_varies_across_seeds():
    a = random_masking(3, (4, 4), 0.5, seed=1).mask
    b = random_masking(3, (4, 4), 0.5, seed=1).mask
    c = random_masking(3, (4, 4), 0.5, seed=2).mask
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_random_masking_is_uniform_over_positions():
    m = random_masking(4000, (4, 4), 0.75, seed=0).mask
    freq = m.mean(0)
    assert torch.allclose(freq, torch.full((16,), 0.75), atol=0.03)  # 4000 draws: sd ~ 0.007


def test_masking_units_hide_whole_units():
    m = random_masking(20, (8, 8), 0.75, unit=2, seed=0).mask.view(20, 4, 2, 4, 2)
    per_unit = m.sum(dim=(2, 4))
    assert torch.all((per_unit == 0) | (per_unit == 4))
    assert torch.all(m.sum(dim=(1, 2, 3, 4)) == 48)  # 12 of 16 units


def test_masking_unit_must_divide_grid():
    with pytest.raises(ValueError, match="masking unit u=3"):
        random_masking(1, (8, 8), 0.5, unit=3, seed=0)


def test_fixed_masks():
    b = block_mask((4, 4), 0, 0, 2, 4)
    assert b.sum() == 8 and b[:8].all()
    g = grid_mask((4, 4), stride=2, offset=(1, 1))
    assert g.view(4, 4)[1, 1].item() is False and g.sum() == 12
    m = masking_from_mask(b)
    assert m.ids_keep.tolist() == [list(range(8, 16))]
    with pytest.raises(ValueError, match="same number"):
        masking_from_mask(torch.tensor([[1, 0, 0], [1, 1, 0]]))


@pytest.mark.parametrize(("mask", "kind", "match"), [
    (torch.tensor([2, 0, 1, 0]), ValueError, r"only 0 \(visible\) and 1 \(masked\)"),
    (torch.tensor([0.5, 0.0, 1.0, 0.0]), ValueError, r"only 0 \(visible\) and 1"),
    (torch.tensor([-1, 0, 1, 0]), ValueError, r"only 0 \(visible\) and 1"),
    (torch.zeros(1, 2, 4), ValueError, r"mask must be a 1-D or 2-D tensor"),
    ([1, 0, 1, 0], TypeError, r"mask must be a torch.Tensor"),
    (torch.ones(4), ValueError, r"hides every token"),
])
def test_bad_fixed_masks_are_refused(mask, kind, match):
    with pytest.raises(kind, match=match):
        masking_from_mask(mask)


def test_fixed_mask_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match=r"mask must have L = 16 entries per row"):
        masking_from_mask(torch.tensor([1, 0, 1, 0]), n_tokens=16)


def test_patchify_refuses_numpy_and_bad_patch_sizes():
    import numpy as np

    with pytest.raises(TypeError, match=r"torch.as_tensor"):
        patchify(np.zeros((1, 1, 8, 8), dtype=np.float32), 2)
    with pytest.raises(TypeError, match=r"patch_size \(p\) must be an integer"):
        patchify(torch.zeros(1, 1, 8, 8), 2.0)
    with pytest.raises(ValueError, match=r"patch_size \(p\) must be an integer >= 1"):
        patchify(torch.zeros(1, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="inside the 4 x 4"):
        block_mask((4, 4), 3, 0, 2, 1)
