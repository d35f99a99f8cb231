"""The operator view of attention (chapter 6, after Cao et al.).

On the image domain ``Omega = [0, 1]^2`` (see :mod:`mae_theory.domain` for images and patches),
softmax attention is read as a normalised kernel integral operator,

.. math:: (\\mathcal{K}w)(\\xi) = \\frac{\\int_\\Omega \\kappa(\\xi, \\xi') w(\\xi') d\\xi'}
          {\\int_\\Omega \\kappa(\\xi, \\xi') d\\xi'}, \\quad
          \\kappa(\\xi, \\xi') = \\exp(q(\\xi) \\cdot k(\\xi') / \\sqrt{d_h}),

and token attention as its quadrature on the patch centres (the midpoint rule on the
``G x G`` grid, nodes ``xi_j``, weights ``omega_j``); attention over a random subset of
``n_keep`` tokens is a Monte-Carlo (Nystrom-type) estimate of the same operator.

Notation (book): points ``xi, xi'`` of ``Omega``; query, key and value fields ``q, k, w``
(``v`` in code) of head width ``d_h``; ``G`` patches per side, ``L = G^2`` tokens; in code
``m`` is ``G``, ``J`` the number of keys and ``n_visible`` is ``n_keep``.

Sections, in reading order: the kernel operator and its quadratures; attention kernels of a
trained MAE. The names of :mod:`mae_theory.domain` are re-exported here, so chapters can use
one namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .attention_metrics import uniform_gap
from .checks import check_images, check_int, check_tensor, describe
from .domain import (
    SineField,
    _check_points,
    cell_centres,
    fit_rate,
    overlap_leak,
    overlap_leak_theory,
    patch_approximation,
    patch_approximation_error,
    patch_mean_error_linear,
    rough_image,
    rough_patch_mean_error,
    sample_field,
    smooth_field,
    smooth_image,
)
from .metrics import effective_rank
from .runtime import SeedLike, make_generator

__all__ = [
    "PatchConstant",
    "SineField",
    "attention_effective_rank",
    "attention_kernels",
    "cell_centres",
    "fit_rate",
    "gauss_legendre_nodes",
    "integral_attention",
    "kernel_attention",
    "kernel_spectrum",
    "kernel_uniform_gap",
    "midpoint_nodes",
    "masked_error_split",
    "overlap_leak",
    "overlap_leak_theory",
    "patch_approximation",
    "patch_approximation_error",
    "patch_mean_error_linear",
    "rough_image",
    "rough_patch_mean_error",
    "sample_field",
    "smooth_field",
    "smooth_image",
    "subset_attention",
    "subset_attention_error_theory",
]

# ---------------------------------------------------------------- the kernel integral operator


def midpoint_nodes(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint rule on the ``G x G`` patches (``m = G``): nodes ``xi_j`` (G^2, 2), weights
    ``omega_j = h^2`` (G^2,).

    Examples
    --------
    >>> x, w = midpoint_nodes(4)
    >>> x.shape, float(w.sum())
    (torch.Size([16, 2]), 1.0)
    """
    x = cell_centres(m)
    return x, torch.full((m * m,), 1.0 / m**2, dtype=torch.float64)


def gauss_legendre_nodes(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor-product Gauss-Legendre rule with ``G x G`` nodes ``xi_j`` and weights
    ``omega_j`` on ``[0, 1]^2`` (``m = G``; the reference).

    Exact for polynomials of degree ``2G - 1`` in each variable.

    Examples
    --------
    >>> x, w = gauss_legendre_nodes(3)
    >>> round(float((w * x[:, 0] ** 4).sum()), 12)  # int_0^1 x^4 dx
    0.2
    """
    m = check_int("m", m, symbol="nodes per side")
    t, w = np.polynomial.legendre.leggauss(m)
    t, w = torch.tensor((t + 1) / 2), torch.tensor(w / 2)
    return torch.cartesian_prod(t, t), torch.outer(w, w).reshape(-1)


def _check_qkv(queries, keys, values) -> None:
    """Queries (M, d), keys (J, d), values (J, d_v): finite floating tensors that fit."""
    check_tensor("queries", queries, ndim=2, symbol="q", shape_hint="(M, d)")
    check_tensor("keys", keys, ndim=2, symbol="k", shape_hint="(J, d)")
    check_tensor("values", values, ndim=2, symbol="v", shape_hint="(J, d_v)")
    if queries.shape[1] != keys.shape[1] or queries.shape[1] == 0:
        raise ValueError(f"queries (M, d) and keys (J, d) need the same width d >= 1; got "
                         f"{tuple(queries.shape)} and {tuple(keys.shape)}.")
    if keys.shape[0] == 0 or values.shape[0] != keys.shape[0]:
        raise ValueError(f"values must have shape (J, d_v) with J = {keys.shape[0]} >= 1 keys; "
                         f"got {tuple(values.shape)}.")


def kernel_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised kernel quadrature ``sum_j omega_j kappa_ij w_j / sum_j omega_j kappa_ij``.

    With ``kappa_ij = exp(q_i . k_j / sqrt(d_h))``. With equal weights (``None``) this is
    exactly softmax attention ``softmax(Q K^T / sqrt(d_h)) V``: the weights cancel.

    Parameters
    ----------
    queries : (M, d_h) ``q(xi_i)``; keys : (J, d_h) ``k(xi_j)``; values : (J, d_v) ``w(xi_j)``
    weights : (J,) positive quadrature weights ``omega_j``, or None

    Returns
    -------
    torch.Tensor, shape (M, d_v)

    Examples
    --------
    >>> q, k, v = (torch.randn(n, c, dtype=torch.float64) for n, c in [(3, 4), (5, 4), (5, 2)])
    >>> a = torch.softmax(q @ k.T / 2, dim=-1) @ v
    >>> bool(torch.allclose(kernel_attention(q, k, v, torch.full((5,), 0.2)), a))
    True
    """
    _check_qkv(queries, keys, values)
    logits = queries @ keys.T / math.sqrt(queries.shape[1])
    if weights is not None:
        check_tensor("weights", weights, ndim=1, symbol="w", shape_hint="(J,)")
        if weights.shape != (keys.shape[0],) or not bool((weights > 0).all()):
            raise ValueError(f"weights w must be positive with shape ({keys.shape[0]},); got "
                             f"shape {tuple(weights.shape)}.")
        logits = logits + torch.log(weights.to(logits.dtype))
    return torch.softmax(logits, dim=-1) @ values


def integral_attention(x: torch.Tensor, q, k, v, nodes: torch.Tensor,
                       weights: torch.Tensor) -> torch.Tensor:
    """``(K w)(xi)`` at points ``x`` (= ``xi``) for fields ``q, k, v`` (``v`` is the value field
    ``w``; callables (M, 2) -> (M, d)) by a quadrature with ``nodes`` ``xi_j``, ``weights``
    ``omega_j``.

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
    _check_points(nodes)
    for name, f in (("q", q), ("k", k), ("v", v)):
        if not callable(f):
            raise TypeError(f"{name} must be a feature field, a callable (M, 2) -> (M, d) such "
                            f"as smooth_field(4); got {describe(f)}.")
    return kernel_attention(q(x), k(nodes), v(nodes), weights)


@dataclass(frozen=True)
class PatchConstant:
    """The field ``f`` frozen on each of ``G x G`` patches (``m = G``) at its patch-centre value.

    ``PatchConstant(f, G)(xi') = f(xi_l)`` for ``xi'`` in patch ``Omega_l``: the latent field of
    a patch embedding, constant on every patch.
    """

    field: object  # the field f: a callable (M, 2) -> (M, d)
    m: int  # G, patches per side, h = 1/G

    def __post_init__(self) -> None:
        if not callable(self.field):
            raise TypeError(f"field must be a callable (M, 2) -> (M, d); got "
                            f"{describe(self.field)}.")
        check_int("m", self.m, symbol="patches per side")

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        _check_points(points)
        idx = (points.double() * self.m).floor().clamp(0, self.m - 1)
        return self.field((idx + 0.5) / self.m)


def subset_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                     n_visible: int, *, n_draws: int = 1, seed: SeedLike = None) -> torch.Tensor:
    """Attention over ``n_keep`` random tokens (without replacement): the Monte-Carlo estimate.

    Returns (n_draws, M, d_v). Each draw keeps ``n_keep = n_visible`` of the ``J`` keys, as an
    MAE encoder keeps its visible set, and renormalises the softmax over them.

    Examples
    --------
    >>> q, k, v = torch.randn(3, 4), torch.randn(6, 4), torch.randn(6, 2)
    >>> full = subset_attention(q, k, v, 6, seed=0)[0]  # n = J: no error
    >>> bool(torch.allclose(full, kernel_attention(q, k, v)))
    True
    """
    _check_qkv(queries, keys, values)
    n_keys = keys.shape[0]
    n_visible = check_int("n_visible", n_visible, high=n_keys, symbol="|V|",
                          fix=f"|V| counts kept tokens, at most J = {n_keys}.")
    n_draws = check_int("n_draws", n_draws)
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
              \\overline{\\tfrac{1}{J} \\sum_j \\kappa_{ij}^2 (w_j - o_i)^2 / \\bar\\kappa_i^2}

    with ``n = n_keep``, ``kappa_ij = kappa(xi_i, xi_j)`` and ``o_i`` the full-token output of
    query ``i``: the error falls like ``n_keep^{-1/2}`` while ``n_keep << J``.

    Examples
    --------
    >>> q, k, v = torch.randn(3, 4), torch.randn(6, 4), torch.randn(6, 2)
    >>> float(subset_attention_error_theory(q, k, v, 6))
    0.0
    """
    _check_qkv(queries, keys, values)
    n_keys = keys.shape[0]
    for i, n in enumerate(np.atleast_1d(np.asarray(n_visible, dtype=object)).tolist()):
        check_int("n_visible" if not np.ndim(n_visible) else f"n_visible[{i}]", n,
                  high=n_keys, symbol="|V|")
    w = torch.softmax(queries @ keys.T / math.sqrt(queries.shape[1]), dim=-1)  # w / sum w
    target = w @ values  # (M, d_v)
    resid = values[None, :, :] - target[:, None, :]  # (M, J, d_v)
    sigma2 = ((n_keys * w[..., None]) ** 2 * resid**2).mean(dim=1)  # (M, d_v)
    n = np.asarray(n_visible, dtype=float)
    return np.sqrt(float(sigma2.mean()) * (n_keys - n) / ((n_keys - 1) * n))


# ---------------------------------------------------------------- kernels of a trained MAE


def attention_kernels(model, imgs: torch.Tensor, *, masking=None, part: str = "encoder",
                      drop_cls: bool = True) -> torch.Tensor:
    """Softmax attention matrices ``A_ij`` of every block, shape (blocks, N, heads, T, T),
    float32; ``T = 1 + L`` tokens, or ``L`` with ``drop_cls``.

    From :meth:`MAE.attention_maps`. With ``drop_cls`` the class token's row and column are
    removed and each row renormalised: the kernel restricted to patch tokens.

    Examples
    --------
    >>> from mae_theory import MAE
    >>> mae = MAE(8, 2, 1, 16, 2, 2, 16, 1, 2, seed=0)
    >>> attention_kernels(mae, torch.zeros(3, 1, 8, 8)).shape
    torch.Size([2, 3, 2, 16, 16])
    """
    if not hasattr(model, "attention_maps"):
        raise TypeError(f"model must be an MAE (with attention_maps); got {describe(model)}.")
    check_images("imgs", imgs)
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
    """Singular values of each (T, T) kernel (``T = L`` tokens), descending, (..., T), float64.

    Examples
    --------
    >>> kernel_spectrum(torch.full((4, 4), 0.25)).round(decimals=6).tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    check_tensor("kernels", kernels, shape_hint="(..., T, T)")
    if kernels.ndim < 2 or kernels.shape[-1] != kernels.shape[-2] or kernels.numel() == 0:
        raise ValueError(f"kernels must have shape (..., T, T) with T >= 1; got "
                         f"{describe(kernels)}.")
    return torch.linalg.svdvals(kernels.double())


def kernel_uniform_gap(kernels: torch.Tensor) -> torch.Tensor:
    """How far each kernel is from uniform averaging: the mean total-variation distance of its
    rows from the uniform row, shape (...), float64.

    .. math:: \\delta(A) = \\frac1T \\sum_i \\tfrac12 \\sum_j \\big|A_{ij} - \\tfrac1T\\big|

    the share of attention mass that would have to move to make every row uniform: 0 for
    ``A = 11^T / T``, ``1 - 1/T`` for a permutation. Unlike the effective rank, which counts
    even small singular values, it is small when the kernel is close to uniform averaging.

    Examples
    --------
    >>> kernel_uniform_gap(torch.full((4, 4), 0.25)).item()
    0.0
    >>> kernel_uniform_gap(torch.eye(4)).item()
    0.75
    """
    check_tensor("kernels", kernels, shape_hint="(..., T, T)")
    if kernels.ndim < 2 or kernels.shape[-1] != kernels.shape[-2] or kernels.numel() == 0:
        raise ValueError(f"kernels must have shape (..., T, T) with T >= 1; got "
                         f"{describe(kernels)}.")
    return uniform_gap(kernels.double())


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


# ------------------------------------------------------- what a masked patch's error is made of


def masked_error_split(pred: torch.Tensor, target: torch.Tensor,
                       mask: torch.Tensor) -> tuple[float, float]:
    """Split the squared error on masked patches into its patch-mean and sub-patch parts.

    For a patch with target ``t`` and prediction ``y`` (each ``P = p^2 C`` values), the error splits
    orthogonally, as :math:`\\Pi_0` splits a function (chapter 5):

    .. math:: \\lVert t - y \\rVert^2 = P\\,(\\bar t - \\bar y)^2
              + \\lVert (t - \\bar t) - (y - \\bar y) \\rVert^2 .

    The first part is what a wrong patch *mean* costs, the second what wrong texture inside
    the patch costs.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, L, P)
        Predicted and true patches (``MAE.forward``'s ``pred`` and ``MAE.target``).
    mask : torch.Tensor, shape (N, L)
        1/True where the patch was masked; only those patches count.

    Returns
    -------
    coarse, detail : float
        The two parts, summed over masked patches (``coarse + detail`` is the total error).

    Examples
    --------
    >>> t = torch.tensor([[[1.0, 3.0], [0.0, 0.0]]])          # N = 1, L = 2, P = 2
    >>> y = torch.tensor([[[0.0, 0.0], [5.0, 5.0]]])
    >>> masked_error_split(y, t, torch.tensor([[1, 0]]))    # mean 2 vs 0; detail (-1, 1)
    (8.0, 2.0)
    """
    check_tensor("pred", pred, ndim=3, shape_hint="(N, L, P)")
    check_tensor("target", target, ndim=3, shape_hint="(N, L, P)")
    if pred.shape != target.shape or tuple(mask.shape) != tuple(pred.shape[:2]):
        raise ValueError(f"pred and target must share a shape (N, L, P) and mask must be "
                         f"(N, L); got pred {describe(pred)}, target {describe(target)}, "
                         f"mask {describe(mask)}.")
    m = mask.bool()
    t, y = target.double()[m], pred.double()[m]          # (n_masked, P)
    gap = t.mean(dim=-1) - y.mean(dim=-1)                 # (n_masked,)
    coarse = t.shape[-1] * gap.pow(2).sum()
    detail = ((t - y) - gap.unsqueeze(-1)).pow(2).sum()
    return float(coarse), float(detail)
