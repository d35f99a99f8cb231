"""Images as functions on the unit square and patches as a domain decomposition (chapter 5).

An image is a function ``f`` on ``Omega = [0, 1]^2``, sampled at the centres of an ``H x H``
pixel grid (``n = H`` in code). Patches of ``p x p`` pixels are a non-overlapping domain
decomposition ``Omega = U_l Omega_l`` into ``L = G^2`` squares (``G = H / p`` per side) with
mesh size ``h = p / H`` and patch centres ``xi_l``; points of ``Omega`` are ``xi, xi'``.

Sections, in reading order: smooth and rough synthetic images with known regularity; the
patch-wise projections ``Pi_0`` (patch mean) and ``Pi_1`` (plane per patch) and their errors;
measured rates; what overlapping patches leak. The kernel view of attention built on this is
in :mod:`mae_theory.operators`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .checks import as_float_array, check_float, check_int, check_tensor, describe
from .runtime import SeedLike, make_generator

# ---------------------------------------------------------------- fields and synthetic images


def _check_points(points: torch.Tensor) -> None:
    check_tensor("points", points, ndim=2, symbol="x", shape_hint="(M, 2) in [0, 1]^2")
    if points.shape[1] != 2:
        raise ValueError(f"points (x) must be a tensor of shape (M, 2) in [0, 1]^2; got "
                         f"{describe(points)}.")


def _check_sizes(name: str, value, symbol: str) -> list[int]:
    """An int or a 1-D sequence/array of ints >= 1 (patch sizes), as a list of ints."""
    arr = np.atleast_1d(np.asarray(value, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} ({symbol}) must be an int or a 1-D sequence of ints; got "
                         f"{describe(value)}.")
    return [check_int(f"{name}[{i}]" if np.ndim(value) else name, v, symbol=symbol)
            for i, v in enumerate(arr.tolist())]


def cell_centres(m: int) -> torch.Tensor:
    """Centres ``xi_l`` of the ``G x G`` square cells of ``[0, 1]^2`` (``m = G``): (G^2, 2).

    Row-major, like patch tokens: point ``l = a * G + b`` is ``((a + 1/2) h, (b + 1/2) h)``
    with ``h = 1/G``; float64.

    Examples
    --------
    >>> cell_centres(2).tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    m = check_int("m", m, symbol="cells per side")
    t = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    return torch.cartesian_prod(t, t)


@dataclass(frozen=True)
class SineField:
    """A smooth vector field ``f(xi) = sum_k a_k sin(2 pi w_k . xi + phi_k)`` on ``[0, 1]^2``.

    Attributes: ``freqs`` (K, 2) frequencies ``w_k``; ``phases`` (K,); ``amps`` (K, d).
    Calling it on points (M, 2) gives values (M, d); :meth:`grad` gives (M, d, 2).
    """

    freqs: torch.Tensor  # (K, 2) frequencies w_k, cycles per unit length
    phases: torch.Tensor  # (K,) phases phi_k
    amps: torch.Tensor  # (K, d) amplitudes a_k

    def __post_init__(self) -> None:
        check_tensor("freqs", self.freqs, ndim=2, symbol="w_k", shape_hint="(K, 2)")
        check_tensor("phases", self.phases, ndim=1, symbol="phi_k", shape_hint="(K,)")
        check_tensor("amps", self.amps, ndim=2, symbol="a_k", shape_hint="(K, d)")
        k = self.freqs.shape[0]
        if self.freqs.shape[1] != 2 or self.phases.shape != (k,) or self.amps.shape[0] != k:
            raise ValueError(f"freqs (K, 2), phases (K,) and amps (K, d) must share K; got "
                             f"{tuple(self.freqs.shape)}, {tuple(self.phases.shape)}, "
                             f"{tuple(self.amps.shape)}.")

    def _arg(self, points: torch.Tensor) -> torch.Tensor:
        _check_points(points)
        return 2 * math.pi * points.double() @ self.freqs.T + self.phases

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sin(self._arg(points)) @ self.amps

    def grad(self, points: torch.Tensor) -> torch.Tensor:
        """The Jacobian ``(df_c / dxi_a)``, shape (M, d, 2)."""
        c = torch.cos(self._arg(points))  # (M, K)
        return 2 * math.pi * torch.einsum("mk,kc,ka->mca", c, self.amps, self.freqs)


def smooth_field(dim: int = 1, *, n_modes: int = 6, max_freq: float = 2.0,
                 seed: SeedLike = None) -> SineField:
    """A random :class:`SineField` with ``n_modes`` real frequencies in ``[-max_freq, max_freq]^2``.

    Real (not integer) frequencies keep the field non-periodic on ``[0, 1]^2``, so quadrature
    rules show their generic rates instead of the spectral accuracy of periodic integrands.

    Examples
    --------
    >>> f = smooth_field(3, seed=0)
    >>> f(cell_centres(4)).shape, f.grad(cell_centres(4)).shape
    (torch.Size([16, 3]), torch.Size([16, 3, 2]))
    """
    dim = check_int("dim", dim, symbol="d")
    n_modes = check_int("n_modes", n_modes, symbol="K")
    max_freq = check_float("max_freq", max_freq, low=0.0, low_open=True,
                           symbol="cycles per unit length")
    g = make_generator(seed)
    freqs = (2 * torch.rand(n_modes, 2, generator=g, dtype=torch.float64) - 1) * max_freq
    phases = 2 * math.pi * torch.rand(n_modes, generator=g, dtype=torch.float64)
    amps = torch.randn(n_modes, dim, generator=g, dtype=torch.float64) / math.sqrt(n_modes)
    return SineField(freqs, phases, amps)


def sample_field(field, n: int) -> torch.Tensor:
    """Sample a field at the pixel centres of an ``H x H`` grid (``n = H``): shape (d, H, H).

    Examples
    --------
    >>> sample_field(smooth_field(2, seed=0), 8).shape
    torch.Size([2, 8, 8])
    """
    n = check_int("n", n, symbol="pixels per side")
    if not callable(field):
        raise TypeError(f"field must be callable on points (M, 2), e.g. a SineField; got "
                        f"{describe(field)}.")
    values = field(cell_centres(n))  # (n*n, d)
    return values.T.reshape(-1, n, n)


def smooth_image(n: int, *, n_modes: int = 6, max_freq: float = 2.0,
                 seed: SeedLike = None) -> torch.Tensor:
    """A smooth (C-infinity) grey image, shape (H, H) (``n = H``): one :func:`smooth_field`.

    Examples
    --------
    >>> smooth_image(16, seed=0).shape
    torch.Size([16, 16])
    """
    return sample_field(smooth_field(1, n_modes=n_modes, max_freq=max_freq, seed=seed), n)[0]


def _rough_power(n: int, hurst: float) -> torch.Tensor:
    """Power ``|nu|^{-(2 theta + 2)}`` of each Fourier mode ``nu`` of an H x H periodic grid."""
    n = check_int("n", n, low=2, symbol="pixels per side")
    hurst = check_float("hurst", hurst, low=0.0, high=1.0, low_open=True, high_open=True,
                        symbol="Hoelder exponent H", fix="Use smooth_image for a smooth image.")
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    kk = torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    return torch.where(kk > 0, kk.clamp_min(1.0) ** -(2 * hurst + 2), torch.zeros_like(kk))


def rough_image(n: int, hurst: float, *, seed: SeedLike = None) -> torch.Tensor:
    """A random-phase field with roughness exponent ``theta = hurst`` (a periodic fractional
    Brownian surface), shape (H, H) with ``n = H``.

    Fourier amplitudes fall like ``|nu|^-(theta + 1)`` (power spectrum ``|nu|^-(2 theta + 2)``),
    so ``E|f(xi) - f(xi')|^2 ~ |xi - xi'|^{2 theta}`` for ``0 < theta < 1``. Scaled to expected
    variance 1.

    Examples
    --------
    >>> img = rough_image(64, 0.5, seed=0)
    >>> img.shape, 0.5 < float(img.std()) < 2
    (torch.Size([64, 64]), True)
    """
    power = _rough_power(n, hurst)
    noise = torch.randn(n, n, generator=make_generator(seed), dtype=torch.float64)
    img = torch.fft.ifft2(torch.fft.fft2(noise) * power.sqrt()).real  # white noise, coloured
    return img / torch.sqrt(power.sum() / n**2)


def rough_patch_mean_error(n: int, hurst: float, patch_size) -> np.ndarray:
    """Exact ``sqrt(E ||f - Pi_0 f||^2)`` for :func:`rough_image`, for each patch size.

    A Fourier mode ``nu`` keeps the fraction ``|D_p(nu)|^2`` of its power in the patch mean,
    ``D_p(nu) = prod_a sin(pi nu_a p / H) / (p sin(pi nu_a / H))`` (``n = H``), so
    ``E ||f - Pi_0 f||^2 = sum_nu S(nu) (1 - |D_p(nu)|^2) / sum_nu S(nu)``. As ``h = p/H -> 0``
    with ``H -> infinity`` this behaves like ``h^theta`` (``theta = hurst``).

    Examples
    --------
    >>> float(rough_patch_mean_error(16, 0.5, 1)), float(rough_patch_mean_error(16, 0.5, 16))
    (0.0, 1.0)
    """
    power = _rough_power(n, hurst)
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    out = []
    for p in _check_sizes("patch_size", patch_size, "p"):
        num, den = torch.sin(math.pi * k * p / n), p * torch.sin(math.pi * k / n)
        d = torch.where(k == 0, torch.ones_like(k), num / torch.where(k == 0, 1.0, den))
        d2 = (d[:, None] * d[None, :]) ** 2
        out.append(float(torch.sqrt((power * (1 - d2)).sum() / power.sum()).clamp_min(0)))
    return np.array(out) if np.ndim(patch_size) else np.array(out[0])


# ---------------------------------------------------------------- patch-wise approximation


def _blocks(img: torch.Tensor, p: int) -> torch.Tensor:
    """(..., H, H) -> (..., G, G, p, p) with ``G = H/p``, checking that ``p`` divides ``H``."""
    check_tensor("img", img, symbol="f", shape_hint="(..., n, n)")
    if img.ndim < 2:
        raise ValueError(f"img (f) must be a tensor of shape (..., n, n); got {describe(img)}.")
    p = check_int("patch_size", p, symbol="p")
    n1, n2 = img.shape[-2:]
    if n1 % p or n2 % p:
        raise ValueError(f"patch size p={p} must divide the image size {n1} x {n2}; "
                         "pick a divisor of both.")
    x = img.reshape(*img.shape[:-2], n1 // p, p, n2 // p, p)
    return x.transpose(-3, -2)


def _unblocks(x: torch.Tensor) -> torch.Tensor:
    x = x.transpose(-3, -2)
    return x.reshape(*x.shape[:-4], x.shape[-4] * x.shape[-3], x.shape[-2] * x.shape[-1])


def patch_approximation(img: torch.Tensor, patch_size: int, order: int = 0) -> torch.Tensor:
    """The patch-wise L2 projection ``Pi_order f``: per patch mean (0) or best plane (1).

    On each patch ``Omega_l`` the result is the least-squares fit of ``f`` by a constant
    (``order=0``, the patch mean) or by ``a + b z_1 + c z_2`` (``order=1``), the pixel
    offsets ``z = xi - xi_l`` taken from the patch centre. Because the patches do not overlap, these
    local projections add up to an orthogonal projection of the whole image.

    Parameters
    ----------
    img : torch.Tensor, shape (..., H, H)
    patch_size : int
        ``p``; must divide ``H``.
    order : {0, 1}

    Examples
    --------
    >>> f = torch.arange(16.).reshape(4, 4)
    >>> patch_approximation(f, 2)[:2, :2].tolist()
    [[2.5, 2.5], [2.5, 2.5]]
    >>> bool(torch.allclose(patch_approximation(f, 2, order=1), f))  # planes are exact
    True
    """
    order = check_int("order", order, low=0, high=1,
                      fix="Use 0 (patch mean) or 1 (plane per patch).")
    x = _blocks(img, patch_size)
    out = x.mean(dim=(-2, -1), keepdim=True).expand_as(x)
    if order == 1:
        xi = torch.arange(patch_size, dtype=x.dtype, device=x.device) - (patch_size - 1) / 2
        norm = (xi**2).sum() * patch_size
        if norm > 0:
            b = (x * xi[:, None]).sum(dim=(-2, -1), keepdim=True) / norm
            c = (x * xi[None, :]).sum(dim=(-2, -1), keepdim=True) / norm
            out = out + b * xi[:, None] + c * xi[None, :]
    return _unblocks(out)


def patch_approximation_error(img: torch.Tensor, patch_size: int, order: int = 0) -> torch.Tensor:
    """``||f - Pi_order f||_{L2(Omega)}``, one number per image, shape ``img.shape[:-2]``.

    The L2 norm on ``[0, 1]^2`` of a pixel image is the root mean square over its pixels.

    Examples
    --------
    >>> f = torch.arange(4.).reshape(2, 2)  # f - mean = -1.5, -0.5, 0.5, 1.5
    >>> round(float(patch_approximation_error(f, 2)), 4)
    1.118
    """
    diff = img - patch_approximation(img, patch_size, order)
    return diff.pow(2).mean(dim=(-2, -1)).sqrt()


def patch_mean_error_linear(grad_norm: float, patch_size, n: int):
    """Closed-form ``||f - Pi_0 f||`` for a linear image: ``|grad f| sqrt((p^2 - 1)/12) / H``.

    ``n = H``, pixels per side. To leading order in ``h = p/H`` it holds for any smooth ``f``
    with ``|grad f|`` replaced by ``||grad f||_{L2}``; for ``p >> 1`` it is
    ``h ||grad f|| / sqrt(12)``.

    Examples
    --------
    >>> f = torch.arange(8.)[:, None].expand(8, 8) / 8  # f(x) = x_1, |grad f| = 1
    >>> err = float(patch_approximation_error(f, 4))
    >>> abs(err - patch_mean_error_linear(1.0, 4, 8)) < 1e-6  # float32 image
    True
    """
    grad_norm = check_float("grad_norm", grad_norm, low=0.0, symbol="|grad f|")
    n = check_int("n", n, symbol="pixels per side")
    sizes = np.array(_check_sizes("patch_size", patch_size, "p"), dtype=float)
    if not np.ndim(patch_size):
        sizes = sizes[0]
    out = grad_norm * np.sqrt((sizes ** 2 - 1) / 12) / n
    return float(out) if np.ndim(out) == 0 else out


def _positive(name: str, value) -> np.ndarray:
    arr = as_float_array(name, value, "numbers (a sequence or an array)")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"{name} must be finite and > 0 (their logarithm is fitted); got "
                         f"{arr.tolist() if arr.size <= 8 else describe(arr)}.")
    return arr


def fit_rate(h, errors) -> np.ndarray:
    """Least-squares slope of ``log error`` against ``log h``: the measured convergence rate.

    ``errors`` has shape (K,) or (S, K) for S seeds; returns one slope per seed.

    Examples
    --------
    >>> h = np.array([0.1, 0.2, 0.4])
    >>> fit_rate(h, [3 * h**2, 5 * h**2]).round(6).tolist()
    [2.0, 2.0]
    """
    h, errors = _positive("h", h), _positive("errors", errors)
    logh = np.log(h)
    loge = np.log(np.atleast_2d(errors))
    if loge.shape[-1] != logh.size or logh.size < 2:
        raise ValueError(f"errors must have shape (K,) or (S, K) with K = len(h) = {logh.size} "
                         f">= 2; got {loge.shape}.")
    return np.polyfit(logh, loge.T, 1)[0]


def _check_overlap(patch_size, stride, mask_ratio) -> tuple[int, int, float]:
    patch_size = check_int("patch_size", patch_size, symbol="p")
    stride = check_int("stride", stride, symbol="s")
    if patch_size % stride:
        raise ValueError(f"stride s={stride} must divide the patch size p={patch_size}.")
    return patch_size, stride, check_float("mask_ratio", mask_ratio, low=0.0, high=1.0,
                                           high_open=True, symbol="r")


def overlap_leak(n_tokens: int, patch_size: int, stride: int, mask_ratio: float, *,
                 seed: SeedLike = None) -> float:
    """Fraction of a masked token's pixels still seen through overlapping visible tokens.

    Tokens are ``p x p`` windows every ``stride`` (``s``) pixels on a periodic image of
    ``G s`` pixels per side (``n_tokens = G`` tokens per side); each token is masked
    independently with probability ``r``. With ``stride = p`` (non-overlapping patches) nothing
    leaks; see :func:`overlap_leak_theory`.

    Examples
    --------
    >>> overlap_leak(8, 4, 4, 0.75, seed=0)
    0.0
    """
    n_tokens = check_int("n_tokens", n_tokens, symbol="tokens per side")
    patch_size, stride, mask_ratio = _check_overlap(patch_size, stride, mask_ratio)
    k = patch_size // stride
    masked = torch.rand(n_tokens, n_tokens, generator=make_generator(seed)) < mask_ratio
    # cell (a, b) of side `stride` is covered by tokens (a - i, b - j), 0 <= i, j < k
    seen = torch.zeros(n_tokens, n_tokens, dtype=torch.bool)
    for i in range(k):
        for j in range(k):
            seen |= ~torch.roll(masked, shifts=(i, j), dims=(0, 1))
    hits, total = 0, 0
    for i in range(k):  # each masked token's k*k cells
        for j in range(k):
            cell_seen = torch.roll(seen, shifts=(-i, -j), dims=(0, 1))
            hits += int((cell_seen & masked).sum())
            total += int(masked.sum())
    return hits / total if total else 0.0


def overlap_leak_theory(patch_size: int, stride: int, mask_ratio: float) -> float:
    """``1 - r^{(p/s)^2 - 1}``: a pixel of a masked token is hidden only if all other
    ``(p/s)^2 - 1`` tokens covering it are masked too.

    Examples
    --------
    >>> overlap_leak_theory(4, 4, 0.75), overlap_leak_theory(4, 2, 0.5)
    (0.0, 0.875)
    """
    patch_size, stride, mask_ratio = _check_overlap(patch_size, stride, mask_ratio)
    return 1.0 - mask_ratio ** ((patch_size // stride) ** 2 - 1)
