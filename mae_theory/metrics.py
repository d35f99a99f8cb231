"""Numbers that score a reconstruction or a representation.

Chapter 1 needs the masked reconstruction error and the simplest honest baseline for it.
The operator chapters (5-10) add representation metrics: linear CKA between layers and the
effective rank of a matrix or spectrum. Two neighbours hold the other scores and are
re-exported here: :mod:`~mae_theory.attention_metrics` (mean attention distance, masked-to-
visible attention) and :mod:`~mae_theory.image_quality` (PSNR, SSIM).
"""

from __future__ import annotations

import torch

from .attention_metrics import (
    masked_to_visible_attention,
    mean_attention_distance,
    patch_coordinates,
)
from .checks import check_images, check_int, check_tensor, describe
from .image_quality import gaussian_window, psnr, ssim
from .masking import patchify

__all__ = ["cka_matrix", "effective_rank", "gaussian_window", "linear_cka",
           "masked_mse", "masked_to_visible_attention", "mean_attention_distance",
           "mean_patch", "patch_coordinates", "psnr", "ssim"]


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error per value over masked patches, one number per image.

    .. math:: e_n = \\frac{1}{|M_n|} \\sum_{l \\in M_n} \\frac{1}{p^2 C}
              \\lVert \\hat x_{n,l} - x_{n,l} \\rVert^2

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, L, p*p*C)
    mask : torch.Tensor, shape (N, L)
        1 on masked patches.

    Returns
    -------
    torch.Tensor, shape (N,)

    Examples
    --------
    >>> masked_mse(torch.ones(1, 2, 4), torch.zeros(1, 2, 4), torch.tensor([[1., 0.]]))
    tensor([1.])
    """
    check_tensor("pred", pred, ndim=3, symbol="x_hat", shape_hint="(N, L, p*p*C)")
    check_tensor("target", target, ndim=3, symbol="x", shape_hint="(N, L, p*p*C)")
    check_tensor("mask", mask, ndim=2, floating=False, symbol="m", shape_hint="(N, L)")
    if pred.shape != target.shape or pred.shape[:2] != mask.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have shape (N, L, P) "
            f"and mask {tuple(mask.shape)} shape (N, L)."
        )
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    m = mask.float()
    return (per_patch * m).sum(dim=1) / m.sum(dim=1).clamp_min(1)


def mean_patch(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The average patch at each position over a training set, shape (L, p*p*C).

    Predicting every masked patch by this is the baseline an MAE must beat: it uses where the
    patch is, but nothing the encoder sees.

    Examples
    --------
    >>> mean_patch(torch.ones(3, 1, 4, 4), 2).shape
    torch.Size([4, 4])
    """
    check_images("images", images)
    patch_size = check_int("patch_size", patch_size, symbol="p")
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(f"patch_size (p) must divide the image size H x W = {h} x {w}; got "
                         f"{patch_size}. Pick a divisor or pad the images (pad_to=).")
    return patchify(images, patch_size).float().mean(dim=0)


# --- representation metrics (chapters 5-10) --------------------------------------------------

def linear_cka(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Linear centred kernel alignment between two representations of the same examples.

    .. math:: \\mathrm{CKA}(X, Y) = \\frac{\\lVert \\tilde Y^\\top \\tilde X \\rVert_F^2}
              {\\lVert \\tilde X^\\top \\tilde X \\rVert_F \\, \\lVert \\tilde Y^\\top \\tilde Y
              \\rVert_F}

    with :math:`\\tilde X, \\tilde Y` the column-centred features (Kornblith et al., 2019).
    It lies in [0, 1], equals 1 for ``Y = X Q s + b`` (``Q`` orthogonal, ``s > 0``), and is
    near 0 for independent features when ``n`` is much larger than ``d``.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d1)
    Y : torch.Tensor, shape (n, d2)
        Row ``i`` of both describes example ``i``.

    Returns
    -------
    torch.Tensor, scalar float32
        Computed in float64 internally.

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    >>> round(linear_cka(X, 3 * X + 1).item(), 6)
    1.0
    """
    X = check_tensor("X", X, ndim=2, shape_hint="(n, d1): one row per example")
    Y = check_tensor("Y", Y, ndim=2, shape_hint="(n, d2): one row per example")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same n examples (same number of rows); got n={X.shape[0]} "
            f"and n={Y.shape[0]}. Compute both representations on the same inputs."
        )
    if X.shape[0] < 2:
        raise ValueError(f"CKA needs at least n=2 examples to centre; got n={X.shape[0]}.")
    x = X.double() - X.double().mean(dim=0, keepdim=True)
    y = Y.double() - Y.double().mean(dim=0, keepdim=True)
    num = (y.T @ x).square().sum()
    den = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    if den == 0:
        raise ValueError("X or Y is constant over the n examples (zero variance); CKA undefined.")
    return (num / den).float()


def cka_matrix(features: list[torch.Tensor]) -> torch.Tensor:
    """Linear CKA between every pair of layers: entry ``(k, l)`` is CKA(features[k], features[l]).

    Parameters
    ----------
    features : list of torch.Tensor, each (n, d_l)
        One representation per layer, on the same ``n`` examples.

    Returns
    -------
    torch.Tensor, shape (len(features), len(features)), symmetric with unit diagonal

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    >>> cka_matrix([X, 2 * X]).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    if isinstance(features, torch.Tensor) or not isinstance(features, (list, tuple)):
        raise TypeError(f"features must be a list of (n, d) tensors, one per layer; got "
                        f"{describe(features)}.")
    if len(features) == 0:
        raise ValueError("features must hold at least one layer's (n, d) representation.")
    for i, f in enumerate(features):
        check_tensor(f"features[{i}]", f, ndim=2, shape_hint="(n, d)")
    k = len(features)
    out = torch.ones(k, k)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = linear_cka(features[i], features[j])
    return out


def effective_rank(x: torch.Tensor, *, spectrum: bool = False) -> torch.Tensor:
    """Effective rank (Roy & Vetterli, 2007): exp of the entropy of normalised singular values.

    .. math:: \\mathrm{erank}(A) = \\exp\\Big(-\\sum_i p_i \\log p_i\\Big),
              \\quad p_i = \\sigma_i / \\sum_j \\sigma_j

    It equals ``k`` when ``A`` has ``k`` equal non-zero singular values and lies in
    ``[1, rank A]``.

    Parameters
    ----------
    x : torch.Tensor
        A matrix ``(m, n)`` or a batch ``(..., m, n)``; with ``spectrum=True`` the singular
        values themselves, shape ``(..., k)``, non-negative.
    spectrum : bool, keyword-only
        Read ``x`` as singular values instead of a matrix.

    Returns
    -------
    torch.Tensor, shape ``(...)``, float32

    Examples
    --------
    >>> import torch
    >>> round(effective_rank(torch.eye(4)).item(), 4)
    4.0
    >>> round(effective_rank(torch.tensor([1., 1., 0.]), spectrum=True).item(), 4)
    2.0
    """
    check_tensor("x", x, symbol="sigma" if spectrum else "A")
    if spectrum:
        if x.ndim < 1 or x.shape[-1] == 0:
            raise ValueError(
                f"spectrum sigma must have shape (..., k) with k >= 1; got {tuple(x.shape)}."
            )
        s = x.double()
        if torch.any(s < 0):
            raise ValueError("singular values sigma must be non-negative; got a negative entry. "
                             "Pass absolute values or a matrix with spectrum=False.")
    else:
        if x.ndim < 2:
            raise ValueError(
                f"x must be a matrix (m, n) or a batch (..., m, n); got shape {tuple(x.shape)}. "
                "For a 1-D list of singular values pass spectrum=True."
            )
        s = torch.linalg.svdvals(x.double())
    total = s.sum(dim=-1, keepdim=True)
    if torch.any(total == 0):
        raise ValueError("x is the zero matrix (all singular values sigma are 0): erank undefined.")
    p = s / total
    entropy = -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(dim=-1)
    return torch.exp(entropy).float()
