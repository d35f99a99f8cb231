"""Image quality: PSNR and SSIM."""

import math

import numpy as np
import pytest
import torch

from mae_theory.image_quality import gaussian_window, psnr, ssim


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


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


def test_image_quality_refuses_bad_input():
    x = torch.rand(1, 1, 8, 8, generator=_gen(0))
    with pytest.raises(TypeError, match=r"pred \(x_hat\) must be a torch.Tensor"):
        psnr(np.zeros((1, 4)), torch.zeros(1, 4), 1.0)
    with pytest.raises(ValueError, match=r"target \(x\) must be finite"):
        psnr(torch.zeros(1, 4), torch.full((1, 4), float("nan")), 1.0)
    with pytest.raises(ValueError, match=r"data_range \(R\) must be a finite number"):
        psnr(x, x, float("nan"))
    with pytest.raises(TypeError, match=r"data_range \(R\) must be a number"):
        ssim(x, x, "1")
    with pytest.raises(ValueError, match="no image"):
        psnr(torch.zeros(0, 4), torch.zeros(0, 4), 1.0)
    with pytest.raises(ValueError, match="window_size must be an integer >= 1; got -1"):
        ssim(x, x, 1.0, window_size=-1)
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        ssim(x, x, 1.0, sigma=0.0)
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        gaussian_window(5, -1.0)
