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
