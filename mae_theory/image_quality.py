"""Image quality of reconstructions: PSNR and a Gaussian-window SSIM that fits 8x8 digits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_float, check_int, check_tensor


def _check_pair(pred, target, data_range) -> float:
    check_tensor("pred", pred, symbol="x_hat", shape_hint="(N, ...)")
    check_tensor("target", target, symbol="x", shape_hint="(N, ...)")
    if pred.shape != target.shape or pred.ndim < 2:
        raise ValueError(
            f"pred x_hat {tuple(pred.shape)} and target x {tuple(target.shape)} must have the "
            "same shape (N, ...) with a leading batch dimension; add one with x[None]."
        )
    if pred.shape[0] == 0:
        raise ValueError("pred x_hat and target x hold no image (N = 0); pass at least one.")
    return check_float("data_range", data_range, low=0.0, low_open=True, symbol="R",
                       fix="R is max - min of the pixel scale: 1.0 for [0, 1], 255 for bytes.")


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    .. math:: \\mathrm{PSNR} = 10 \\log_{10} \\frac{R^2}{\\mathrm{MSE}(\\hat x, x)}

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, ...)
    data_range : float
        ``R``, the span of the pixel scale.

    Returns
    -------
    torch.Tensor, shape (N,), float32 (``inf`` for a perfect prediction)

    Examples
    --------
    >>> import torch
    >>> psnr(torch.full((1, 4), 0.1), torch.zeros(1, 4), 1.0).tolist()
    [20.0]
    """
    _check_pair(pred, target, data_range)
    mse = (pred.double() - target.double()).square().flatten(1).mean(dim=1)
    return (10 * torch.log10(float(data_range) ** 2 / mse)).float()


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian window of odd ``size`` and width ``sigma``, shape (size,)."""
    size = check_int("size", size)
    sigma = check_float("sigma", sigma, low=0.0, low_open=True)
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-x.square() / (2 * sigma**2))
    return (w / w.sum()).float()


def ssim(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, *,
    window_size: int | None = None, sigma: float | None = None,
    k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity per image with a Gaussian window (Wang et al., 2004).

    .. math:: \\mathrm{SSIM} = \\operatorname{mean}_{\\text{windows}}
              \\frac{(2\\mu_x\\mu_y + c_1)(2\\sigma_{xy} + c_2)}
              {(\\mu_x^2 + \\mu_y^2 + c_1)(\\sigma_x^2 + \\sigma_y^2 + c_2)},
              \\quad c_i = (k_i R)^2

    Local statistics use a separable Gaussian window over every fully contained position
    ("valid"), per channel, then the map is averaged over positions and channels.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, C, H, W)
    data_range : float
        ``R``, the span of the pixel scale.
    window_size : int, optional
        Odd window side; default ``min(11, H, W)`` made odd (7 for 8x8 digits, 11 for 28x28).
    sigma : float, optional
        Window width; default ``1.5 * window_size / 11`` (1.5 for the standard 11 window).
    k1, k2 : float
        Stabilising constants.

    Returns
    -------
    torch.Tensor, shape (N,), float32, at most 1 (1 when ``pred == target``)

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> [round(v, 4) for v in ssim(x, x, 1.0).tolist()]
    [1.0, 1.0]
    """
    _check_pair(pred, target, data_range)
    if pred.ndim != 4:
        raise ValueError(f"SSIM needs images (N, C, H, W); got shape {tuple(pred.shape)}.")
    h, w = pred.shape[-2:]
    if window_size is None:
        window_size = min(11, h, w)
        window_size -= 1 - window_size % 2
    window_size = check_int("window_size", window_size)
    if window_size % 2 == 0 or window_size > min(h, w):
        raise ValueError(
            f"window_size must be odd and at most min(H, W) = {min(h, w)}; got {window_size}."
        )
    sigma = 1.5 * window_size / 11 if sigma is None else check_float(
        "sigma", sigma, low=0.0, low_open=True)
    k1 = check_float("k1", k1, low=0.0, low_open=True)
    k2 = check_float("k2", k2, low=0.0, low_open=True)
    c = pred.shape[1]
    g = gaussian_window(window_size, sigma).to(pred.device)
    kx = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(z, kx, groups=c), ky, groups=c)

    x, y = pred.float(), target.float()
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx.square()
    vy = blur(y * y) - my.square()
    cxy = blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx.square() + my.square() + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1)
