"""U-MAE and its uniformity loss."""

import pytest
import torch

import mae_theory as mt
from mae_theory.models import SIZES, UMAE, uniformity_loss


def test_uniformity_of_known_configurations():
    tau = 0.1
    # orthonormal features: only the diagonal, 1/tau^2 each, survives: mean = 1 / (N tau^2)
    assert uniformity_loss(torch.eye(5), tau).item() == pytest.approx(1 / (5 * tau**2))
    # collapsed features: every pair has cosine 1
    same = torch.ones(6, 3) * torch.tensor([1.0, 2.0, 3.0])
    assert uniformity_loss(same, tau).item() == pytest.approx(1 / tau**2)
    # scale invariance
    x = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    assert uniformity_loss(3 * x).item() == pytest.approx(uniformity_loss(x).item())


def test_zero_weight_gives_mae_loss_and_training_runs():
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    umae = SIZES["mae_micro"].build(UMAE, seed=0, uniformity_weight=0.0)
    mae = mt.mae_micro(seed=0)
    assert torch.equal(umae(x, seed=1)[0], mae(x, seed=1)[0])
    umae = SIZES["mae_micro"].build(UMAE, seed=0, uniformity_weight=0.1)
    loss, pred, mask = umae(x, seed=1)
    latent = umae.forward_encoder(x, umae.make_masking(6, 0.75, seed=1))
    extra = 0.1 * uniformity_loss(latent[:, 1:].mean(1))
    assert loss.item() == pytest.approx(mae(x, seed=1)[0].item() + extra.item(), rel=1e-5)
    res = mt.train(umae, torch.randn(32, 1, 8, 8), mt.TrainConfig(steps=3, batch_size=8,
                   log_every=1), seed=0, device="cpu", progress=False)
    assert res.steps_done == 3


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"features must be a 2-D tensor"):
        uniformity_loss(torch.zeros(3))
    with pytest.raises(TypeError, match=r"features must be a torch.Tensor"):
        uniformity_loss(torch.zeros(3, 2).numpy())
    with pytest.raises(ValueError, match=r"temperature \(tau\) must be a finite number"):
        uniformity_loss(torch.zeros(3, 2), temperature=0.0)
    with pytest.raises(ValueError, match=r"uniformity_weight \(lambda\) must be a finite"):
        SIZES["mae_micro"].build(UMAE, uniformity_weight=-1.0)
    with pytest.raises(ValueError, match=r"embed_dim \(D\) must be divisible by 4"):
        SIZES["mae_micro"].build(UMAE, embed_dim=18, num_heads=2)
    umae = SIZES["mae_micro"].build(UMAE, seed=0)
    with pytest.raises(ValueError, match=r"imgs must be finite"):
        umae(torch.full((2, 1, 8, 8), float("nan")))
