"""The operator view of patches and attention (chapters 5 and 6, after Cao et al.).

An image is a function ``f`` on the unit square ``Omega = [0, 1]^2``, sampled at the centres of
an ``n x n`` pixel grid. Patches of ``p x p`` pixels are a non-overlapping domain decomposition
``Omega = U_i Omega_i`` with mesh size ``h = p / n`` and patch centres ``x_i``.

Softmax attention is read as a normalised kernel integral operator,

.. math:: (\\mathcal{K}v)(x) = \\frac{\\int_\\Omega \\kappa(x, y) v(y) dy}
          {\\int_\\Omega \\kappa(x, y) dy}, \\quad
          \\kappa(x, y) = \\exp(q(x) \\cdot k(y) / \\sqrt{d}),

and token attention as its quadrature on the patch centres (the midpoint rule); attention over
a random visible subset is a Monte-Carlo (Nystrom-type) estimate of the same operator.

Sections, in reading order: fields and synthetic images; patch-wise approximation; the kernel
operator and its quadratures; attention kernels of a trained MAE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .metrics import effective_rank
from .runtime import SeedLike, make_generator

# ---------------------------------------------------------------- fields and synthetic images


def _check_int(name: str, symbol: str, value, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} ({symbol}) must be an int >= {low}; got {value!r}.")


def _check_points(points: torch.Tensor) -> None:
    if not isinstance(points, torch.Tensor) or points.ndim != 2 or points.shape[1] != 2:
        got = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points x must be a tensor of shape (M, 2) in [0, 1]^2; got {got}.")


def cell_centres(m: int) -> torch.Tensor:
    """Centres of the ``m x m`` square cells of ``[0, 1]^2``, shape (m*m, 2), float64.

    Row-major, like patch tokens: point ``l = i * m + j`` is ``((i + 1/2) h, (j + 1/2) h)``
    with ``h = 1/m``.

    Examples
    --------
    >>> cell_centres(2).tolist()
    [[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]]
    """
    _check_int("m", "cells per side", m)
    t = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    return torch.cartesian_prod(t, t)


@dataclass(frozen=True)
class SineField:
    """A smooth vector field ``f(x) = sum_k a_k sin(2 pi w_k . x + phi_k)`` on ``[0, 1]^2``.

    Attributes: ``freqs`` (K, 2) frequencies ``w_k``; ``phases`` (K,); ``amps`` (K, d).
    Calling it on points (M, 2) gives values (M, d); :meth:`grad` gives (M, d, 2).
    """

    freqs: torch.Tensor  # (K, 2) frequencies w_k, cycles per unit length
    phases: torch.Tensor  # (K,) phases phi_k
    amps: torch.Tensor  # (K, d) amplitudes a_k

    def _arg(self, points: torch.Tensor) -> torch.Tensor:
        _check_points(points)
        return 2 * math.pi * points.double() @ self.freqs.T + self.phases

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sin(self._arg(points)) @ self.amps

    def grad(self, points: torch.Tensor) -> torch.Tensor:
        """The Jacobian ``(df_c / dx_a)``, shape (M, d, 2)."""
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
    _check_int("dim", "d", dim)
    _check_int("n_modes", "K", n_modes)
    if not max_freq > 0:
        raise ValueError(f"max_freq must be > 0 (cycles per unit length); got {max_freq!r}.")
    g = make_generator(seed)
    freqs = (2 * torch.rand(n_modes, 2, generator=g, dtype=torch.float64) - 1) * max_freq
    phases = 2 * math.pi * torch.rand(n_modes, generator=g, dtype=torch.float64)
    amps = torch.randn(n_modes, dim, generator=g, dtype=torch.float64) / math.sqrt(n_modes)
    return SineField(freqs, phases, amps)


def sample_field(field, n: int) -> torch.Tensor:
    """Sample a field at the pixel centres of an ``n x n`` grid: shape (d, n, n).

    Examples
    --------
    >>> sample_field(smooth_field(2, seed=0), 8).shape
    torch.Size([2, 8, 8])
    """
    _check_int("n", "pixels per side", n)
    values = field(cell_centres(n))  # (n*n, d)
    return values.T.reshape(-1, n, n)


def smooth_image(n: int, *, n_modes: int = 6, max_freq: float = 2.0,
                 seed: SeedLike = None) -> torch.Tensor:
    """A smooth (C-infinity) grey image, shape (n, n): one :func:`smooth_field` sampled.

    Examples
    --------
    >>> smooth_image(16, seed=0).shape
    torch.Size([16, 16])
    """
    return sample_field(smooth_field(1, n_modes=n_modes, max_freq=max_freq, seed=seed), n)[0]


def _rough_power(n: int, hurst: float) -> torch.Tensor:
    """Power ``|k|^{-(2H + 2)}`` of each Fourier mode of an n x n periodic grid, 0 at k = 0."""
    _check_int("n", "pixels per side", n, low=2)
    if not 0 < hurst < 1:
        raise ValueError(f"hurst (Hoelder exponent H) must lie in (0, 1); got {hurst!r}. "
                         "Use smooth_image for a smooth image.")
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    kk = torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    return torch.where(kk > 0, kk.clamp_min(1.0) ** -(2 * hurst + 2), torch.zeros_like(kk))


def rough_image(n: int, hurst: float, *, seed: SeedLike = None) -> torch.Tensor:
    """A random-phase field with Hoelder exponent ``H`` (a periodic fractional Brownian surface).

    Fourier amplitudes fall like ``|k|^-(H + 1)`` (power spectrum ``|k|^-(2H + 2)``), so
    ``E|f(x) - f(y)|^2 ~ |x - y|^{2H}`` for ``0 < H < 1``. Scaled to expected variance 1.

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

    A Fourier mode ``k`` keeps the fraction ``|D_p(k)|^2`` of its power in the patch mean,
    ``D_p(k) = prod_a sin(pi k_a p / n) / (p sin(pi k_a / n))``, so
    ``E ||f - Pi_0 f||^2 = sum_k S(k) (1 - |D_p(k)|^2) / sum_k S(k)``. As ``h = p/n -> 0`` with
    ``n -> infinity`` this behaves like ``h^H``.

    Examples
    --------
    >>> float(rough_patch_mean_error(16, 0.5, 1)), float(rough_patch_mean_error(16, 0.5, 16))
    (0.0, 1.0)
    """
    power = _rough_power(n, hurst)
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    out = []
    for p in np.atleast_1d(patch_size).tolist():
        _check_int("patch_size", "p", int(p))
        num, den = torch.sin(math.pi * k * p / n), p * torch.sin(math.pi * k / n)
        d = torch.where(k == 0, torch.ones_like(k), num / torch.where(k == 0, 1.0, den))
        d2 = (d[:, None] * d[None, :]) ** 2
        out.append(float(torch.sqrt((power * (1 - d2)).sum() / power.sum()).clamp_min(0)))
    return np.array(out) if np.ndim(patch_size) else np.array(out[0])


# ---------------------------------------------------------------- patch-wise approximation


def _blocks(img: torch.Tensor, p: int) -> torch.Tensor:
    """(..., n, n) -> (..., n/p, n/p, p, p), checking that ``p`` divides ``n``."""
    if not isinstance(img, torch.Tensor) or img.ndim < 2:
        raise ValueError("img f must be a tensor of shape (..., n, n).")
    _check_int("patch_size", "p", p)
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

    On each patch ``Omega_i`` the result is the least-squares fit of ``f`` by a constant
    (``order=0``, the patch mean) or by ``a + b xi_1 + c xi_2`` (``order=1``), the pixel
    offsets ``xi`` taken from the patch centre. Because the patches do not overlap, these
    local projections add up to an orthogonal projection of the whole image.

    Parameters
    ----------
    img : torch.Tensor, shape (..., n, n)
    patch_size : int
        ``p``; must divide ``n``.
    order : {0, 1}

    Examples
    --------
    >>> f = torch.arange(16.).reshape(4, 4)
    >>> patch_approximation(f, 2)[:2, :2].tolist()
    [[2.5, 2.5], [2.5, 2.5]]
    >>> bool(torch.allclose(patch_approximation(f, 2, order=1), f))  # planes are exact
    True
    """
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (patch mean) or 1 (plane per patch); got {order!r}.")
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
    """Closed-form ``||f - Pi_0 f||`` for a linear image: ``|grad f| sqrt((p^2 - 1)/12) / n``.

    To leading order in ``h = p/n`` it holds for any smooth ``f`` with ``|grad f|`` replaced by
    ``||grad f||_{L2}``; for ``p >> 1`` it is ``h ||grad f|| / sqrt(12)``.

    Examples
    --------
    >>> f = torch.arange(8.)[:, None].expand(8, 8) / 8  # f(x) = x_1, |grad f| = 1
    >>> err = float(patch_approximation_error(f, 4))
    >>> abs(err - patch_mean_error_linear(1.0, 4, 8)) < 1e-6  # float32 image
    True
    """
    out = grad_norm * np.sqrt((np.asarray(patch_size, dtype=float) ** 2 - 1) / 12) / n
    return float(out) if np.ndim(out) == 0 else out


def fit_rate(h, errors) -> np.ndarray:
    """Least-squares slope of ``log error`` against ``log h``: the measured convergence rate.

    ``errors`` has shape (K,) or (S, K) for S seeds; returns one slope per seed.

    Examples
    --------
    >>> h = np.array([0.1, 0.2, 0.4])
    >>> fit_rate(h, [3 * h**2, 5 * h**2]).round(6).tolist()
    [2.0, 2.0]
    """
    logh = np.log(np.asarray(h, dtype=float))
    loge = np.log(np.atleast_2d(np.asarray(errors, dtype=float)))
    if loge.shape[-1] != logh.size or logh.size < 2:
        raise ValueError(f"errors must have shape (K,) or (S, K) with K = len(h) = {logh.size} "
                         f">= 2; got {loge.shape}.")
    return np.polyfit(logh, loge.T, 1)[0]


def overlap_leak(n_tokens: int, patch_size: int, stride: int, mask_ratio: float, *,
                 seed: SeedLike = None) -> float:
    """Fraction of a masked token's pixels still seen through overlapping visible tokens.

    Tokens are ``p x p`` windows every ``stride`` pixels on a periodic image of
    ``n_tokens * stride`` pixels per side; each token is masked independently with probability
    ``r``. With ``stride = p`` (non-overlapping patches) nothing leaks; see
    :func:`overlap_leak_theory`.

    Examples
    --------
    >>> overlap_leak(8, 4, 4, 0.75, seed=0)
    0.0
    """
    for name, v in [("n_tokens", n_tokens), ("patch_size", patch_size), ("stride", stride)]:
        _check_int(name, {"patch_size": "p"}.get(name, name), v)
    if patch_size % stride:
        raise ValueError(f"stride s={stride} must divide the patch size p={patch_size}.")
    if not 0 <= mask_ratio < 1:
        raise ValueError(f"mask ratio r must lie in [0, 1); got {mask_ratio!r}.")
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
    return 1.0 - mask_ratio ** ((patch_size // stride) ** 2 - 1)


# ---------------------------------------------------------------- the kernel integral operator


def midpoint_nodes(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint rule on the ``m x m`` patches: nodes ``x_i`` (m*m, 2), weights ``h^2`` (m*m,).

    Examples
    --------
    >>> x, w = midpoint_nodes(4)
    >>> x.shape, float(w.sum())
    (torch.Size([16, 2]), 1.0)
    """
    x = cell_centres(m)
    return x, torch.full((m * m,), 1.0 / m**2, dtype=torch.float64)


def gauss_legendre_nodes(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor-product Gauss-Legendre rule with ``m x m`` nodes on ``[0, 1]^2`` (the reference).

    Exact for polynomials of degree ``2m - 1`` in each variable.

    Examples
    --------
    >>> x, w = gauss_legendre_nodes(3)
    >>> round(float((w * x[:, 0] ** 4).sum()), 12)  # int_0^1 x^4 dx
    0.2
    """
    _check_int("m", "nodes per side", m)
    t, w = np.polynomial.legendre.leggauss(m)
    t, w = torch.tensor((t + 1) / 2), torch.tensor(w / 2)
    return torch.cartesian_prod(t, t), torch.outer(w, w).reshape(-1)


def kernel_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised kernel quadrature ``sum_j w_j kappa_ij v_j / sum_j w_j kappa_ij``.

    With ``kappa_ij = exp(q_i . k_j / sqrt(d))``. With equal weights (``None``) this is exactly
    softmax attention ``softmax(Q K^T / sqrt(d)) V``: the weights cancel in the ratio.

    Parameters
    ----------
    queries : (M, d) ``q(x_i)``; keys : (J, d) ``k(y_j)``; values : (J, d_v) ``v(y_j)``
    weights : (J,) positive quadrature weights ``w_j``, or None

    Returns
    -------
    torch.Tensor, shape (M, d_v)

    Examples
    --------
    >>> q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    >>> a = torch.softmax(q @ k.T / 2, dim=-1) @ v
    >>> bool(torch.allclose(kernel_attention(q, k, v, torch.full((5,), 0.2)), a))
    True
    """
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(f"queries (M, d) and keys (J, d) need the same width d; got "
                         f"{tuple(queries.shape)} and {tuple(keys.shape)}.")
    if values.ndim != 2 or values.shape[0] != keys.shape[0]:
        raise ValueError(f"values must have shape (J, d_v) with J = {keys.shape[0]} keys; got "
                         f"{tuple(values.shape)}.")
    logits = queries @ keys.T / math.sqrt(queries.shape[1])
    if weights is not None:
        if weights.shape != (keys.shape[0],) or not bool((weights > 0).all()):
            raise ValueError(f"weights w must be positive with shape ({keys.shape[0]},); got "
                             f"shape {tuple(weights.shape)}.")
        logits = logits + torch.log(weights.to(logits.dtype))
    return torch.softmax(logits, dim=-1) @ values


def integral_attention(x: torch.Tensor, q, k, v, nodes: torch.Tensor,
                       weights: torch.Tensor) -> torch.Tensor:
    """``(K v)(x)`` for feature fields ``q, k, v`` (callables (M, 2) -> (M, d)) by a quadrature.

    Examples
    --------
    >>> q, k, v = (smooth_field(4, seed=s) for s in range(3))
    >>> x = cell_centres(2)
    >>> exact = integral_attention(x, q, k, v, *gauss_legendre_nodes(24))
    >>> coarse = integral_attention(x, q, k, v, *midpoint_nodes(32))
    >>> float((coarse - exact).abs().max()) < 1e-3
    True
    """
    _check_points(x)
    return kernel_attention(q(x), k(nodes), v(nodes), weights)


@dataclass(frozen=True)
class PatchConstant:
    """The field ``f`` frozen on each of ``m x m`` patches at its value at the patch centre.

    ``PatchConstant(f, m)(y) = f(x_i)`` for ``y`` in patch ``Omega_i``: the latent field of a
    patch embedding, constant on every patch.
    """

    field: object  # the field f: a callable (M, 2) -> (M, d)
    m: int  # patches per side, h = 1/m

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        _check_points(points)
        idx = (points.double() * self.m).floor().clamp(0, self.m - 1)
        return self.field((idx + 0.5) / self.m)


def subset_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                     n_visible: int, *, n_draws: int = 1, seed: SeedLike = None) -> torch.Tensor:
    """Attention over ``n`` random tokens (without replacement): the Monte-Carlo estimate.

    Returns (n_draws, M, d_v). Each draw keeps ``n`` of the ``J`` keys, as an MAE encoder keeps
    its visible tokens, and renormalises the softmax over them.

    Examples
    --------
    >>> q, k, v = torch.randn(3, 4), torch.randn(6, 4), torch.randn(6, 2)
    >>> full = subset_attention(q, k, v, 6, seed=0)[0]  # n = J: no error
    >>> bool(torch.allclose(full, kernel_attention(q, k, v)))
    True
    """
    n_keys = keys.shape[0]
    _check_int("n_visible", "|V|", n_visible)
    if n_visible > n_keys:
        raise ValueError(f"n_visible |V| must be at most the number of tokens J = {n_keys}; "
                         f"got {n_visible}.")
    g = make_generator(seed)
    out = []
    for _ in range(n_draws):
        keep = torch.randperm(n_keys, generator=g)[:n_visible]
        out.append(kernel_attention(queries, keys[keep], values[keep]))
    return torch.stack(out)


def subset_attention_error_theory(queries: torch.Tensor, keys: torch.Tensor,
                                  values: torch.Tensor, n_visible) -> np.ndarray:
    """Predicted RMS error of :func:`subset_attention` (delta method, finite population).

    .. math:: \\mathrm{RMS}^2 = \\frac{J - n}{(J - 1) n}\\,
              \\overline{\\tfrac{1}{J} \\sum_j w_{ij}^2 (v_j - (Kv)_i)^2 / \\bar w_i^2}

    with ``w_ij = kappa(x_i, y_j)``: the error falls like ``n^{-1/2}`` while ``n << J``.

    Examples
    --------
    >>> q, k, v = torch.randn(3, 4), torch.randn(6, 4), torch.randn(6, 2)
    >>> float(subset_attention_error_theory(q, k, v, 6))
    0.0
    """
    w = torch.softmax(queries @ keys.T / math.sqrt(queries.shape[1]), dim=-1)  # w / sum w
    n_keys = keys.shape[0]
    target = w @ values  # (M, d_v)
    resid = values[None, :, :] - target[:, None, :]  # (M, J, d_v)
    sigma2 = ((n_keys * w[..., None]) ** 2 * resid**2).mean(dim=1)  # (M, d_v)
    n = np.asarray(n_visible, dtype=float)
    return np.sqrt(float(sigma2.mean()) * (n_keys - n) / ((n_keys - 1) * n))


# ---------------------------------------------------------------- kernels of a trained MAE


def attention_kernels(model, imgs: torch.Tensor, *, masking=None, part: str = "encoder",
                      drop_cls: bool = True) -> torch.Tensor:
    """Softmax attention matrices of every block, shape (blocks, N, heads, T, T), float32.

    From :meth:`MAE.attention_maps`. With ``drop_cls`` the class token's row and column are
    removed and each row renormalised: the kernel restricted to patch tokens.

    Examples
    --------
    >>> from mae_theory import MAE
    >>> mae = MAE(8, 2, 1, 16, 2, 2, 16, 1, 2, seed=0)
    >>> attention_kernels(mae, torch.zeros(3, 1, 8, 8)).shape
    torch.Size([2, 3, 2, 16, 16])
    """
    if part not in ("encoder", "decoder"):
        raise ValueError(f"part must be 'encoder' or 'decoder'; got {part!r}.")
    if part == "decoder" and masking is None:
        raise ValueError("part='decoder' needs a masking (the decoder runs only on a mask); "
                         "pass masking=model.make_masking(N, r, seed=...).")
    with torch.no_grad():
        maps = torch.stack(model.attention_maps(imgs, masking)[part])
    if drop_cls:
        maps = maps[..., 1:, 1:]
        maps = maps / maps.sum(dim=-1, keepdim=True)
    return maps


def kernel_spectrum(kernels: torch.Tensor) -> torch.Tensor:
    """Singular values of each (T, T) kernel, descending, shape (..., T), float64.

    Examples
    --------
    >>> kernel_spectrum(torch.full((4, 4), 0.25)).round(decimals=6).tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    if kernels.ndim < 2:
        raise ValueError(f"kernels must have shape (..., T, T); got {tuple(kernels.shape)}.")
    return torch.linalg.svdvals(kernels.double())


def attention_effective_rank(model, imgs: torch.Tensor, *, masking=None, part: str = "encoder",
                             drop_cls: bool = True) -> torch.Tensor:
    """Effective rank of every block's and head's kernel, mean over images: (blocks, heads).

    Uses :func:`mae_theory.metrics.effective_rank` on every (T, T) kernel.

    Examples
    --------
    >>> from mae_theory import MAE
    >>> mae = MAE(8, 2, 1, 16, 2, 2, 16, 1, 2, seed=0)
    >>> attention_effective_rank(mae, torch.randn(3, 1, 8, 8)).shape
    torch.Size([2, 2])
    """
    kernels = attention_kernels(model, imgs, masking=masking, part=part, drop_cls=drop_cls)
    return effective_rank(kernels.double()).mean(dim=1)
