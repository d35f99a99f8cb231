"""Attention metrics: mean attention distance and masked-to-visible attention."""

import math

import numpy as np
import pytest
import torch

from mae_theory.attention_metrics import (
    distance_from_uniform,
    masked_to_visible_attention,
    mean_attention_distance,
    patch_coordinates,
)
from mae_theory.masking import masking_from_mask


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
    with pytest.raises(TypeError, match="must be a Masking"):
        masked_to_visible_attention(_uniform(5, n=2), torch.zeros(2, 4))


def test_patch_coordinates_grid_order():
    assert patch_coordinates((2, 3))[4].tolist() == [1.0, 1.0]


def test_attention_metrics_refuse_bad_input():
    with pytest.raises(TypeError, match="attn .* must be a torch.Tensor"):
        mean_attention_distance(np.ones((1, 1, 5, 5)), (2, 2))
    with pytest.raises(ValueError, match="attn .* must be finite"):
        mean_attention_distance(torch.full((1, 1, 5, 5), float("nan")), (2, 2))
    with pytest.raises(TypeError, match="attn .* must be a floating-point tensor"):
        mean_attention_distance(torch.ones(1, 1, 5, 5, dtype=torch.long), (2, 2))
    with pytest.raises(ValueError, match=r"grid_size\[0\] \(H/p\) must be an integer >= 1"):
        mean_attention_distance(_uniform(5), (0, 2))
    with pytest.raises(TypeError, match="grid_size must be a pair"):
        patch_coordinates(4)
    with pytest.raises(ValueError, match=r"token_ids must be grid indices in \[0, L = 4\)"):
        mean_attention_distance(_uniform(2, heads=1), (2, 2), cls_token=False,
                                token_ids=torch.tensor([0, 7]))
    with pytest.raises(TypeError, match="queries must be a torch.Tensor"):
        mean_attention_distance(_uniform(3), (1, 3), cls_token=False, queries=[True, False, True])


def test_distance_from_uniform_of_uniform_one_hot_and_mixed_rows():
    assert torch.allclose(distance_from_uniform(_uniform(5)), torch.zeros(2))
    one_hot = torch.eye(5).expand(1, 1, 5, 5)  # every patch row on one of 4 patch keys
    assert distance_from_uniform(one_hot).item() == pytest.approx(0.75)
    # without cls all 5 tokens count
    assert distance_from_uniform(one_hot, cls_token=False).item() == pytest.approx(0.8)
    # half uniform, half one-hot: half of the one-hot distance (TV is linear along the mix)
    mix = 0.5 * _uniform(5, heads=1) + 0.5 * one_hot
    assert distance_from_uniform(mix, cls_token=False).item() == pytest.approx(0.4)


def test_distance_from_uniform_refuses_non_square_maps():
    with pytest.raises(ValueError, match="attention weights"):
        distance_from_uniform(torch.ones(1, 1, 3, 4))
