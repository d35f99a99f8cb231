"""Principal subspaces of images: where the pixel variance is, and what it is worth.

Balestriero & LeCun (2024) argue that a reconstruction loss spends its capacity on the
directions of largest pixel variance, while what a classifier needs may sit in directions of small
variance. The tools here split the pixel space by principal components (PCA) of the pixel
covariance :math:`Q` of images with :math:`n = CHW` pixels,

.. math:: Q = \\sum_{j=1}^{n} s_j\\, y_j y_j^\\top, \\quad s_1 \\ge \\dots \\ge s_n, \\qquad
          \\text{share}(\\mathcal S) = \\sum_{j \\in \\mathcal S} s_j \\Big/ \\sum_j s_j,

and project images onto a chosen set :math:`\\mathcal S` of components (``dims``). (``n`` is
``PCA.dim``; the book keeps :math:`D` for the encoder width.)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch

from .checks import check_float, check_tensor, describe


@dataclass(frozen=True)
class PCA:
    """Principal components of a data set.

    Attributes
    ----------
    mean : torch.Tensor, shape (n,)
    components : torch.Tensor, shape (n, n)
        Row ``j`` is the unit direction ``y_j``, sorted by decreasing variance.
    variances : torch.Tensor, shape (n,)
        ``s_j``, the variance along ``y_j``.
    """

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor

    @property
    def dim(self) -> int:
        return self.mean.shape[0]


def fit_pca(x: torch.Tensor) -> PCA:
    """Principal components of ``x`` (flattened per sample), in float64.

    Parameters
    ----------
    x : torch.Tensor, shape (N, ...)
        ``N >= 2`` samples; trailing dimensions are flattened to ``n`` pixels.

    Examples
    --------
    >>> pca = fit_pca(torch.tensor([[1., 0.], [-1., 0.], [0., 0.1], [0., -0.1]]))
    >>> [round(v, 4) for v in pca.variances.tolist()]
    [0.6667, 0.0067]
    """
    check_tensor("x", x, shape_hint="(N, ...)")
    if x.ndim < 2 or x.shape[0] < 2 or x[0].numel() == 0:
        raise ValueError(f"x must be a tensor of N >= 2 samples, shape (N, ...); got "
                         f"{describe(x)}.")
    flat = x.reshape(x.shape[0], -1).double()
    mean = flat.mean(dim=0)
    cov = (flat - mean).T @ (flat - mean) / (flat.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)
    return PCA(mean, evecs[:, order].T.contiguous(), evals[order].clamp_min(0))


def _check_pca(pca) -> PCA:
    if not isinstance(pca, PCA):
        raise TypeError(f"pca must be a PCA from fit_pca; got {describe(pca)}.")
    if not float(pca.variances.sum()) > 0:
        raise ValueError("the data have zero variance (every sample is the same): variance "
                         "shares are undefined. Fit the PCA on varied samples.")
    return pca


def _check_dims(pca: PCA, dims) -> torch.Tensor:
    _check_pca(pca)
    if isinstance(dims, torch.Tensor):
        items = dims.reshape(-1).tolist() if not dims.is_floating_point() else [dims]
    else:
        try:
            items = list(dims) if not isinstance(dims, (str, bytes)) else [dims]
        except TypeError:
            items = [dims]
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise TypeError(f"dims S must be integer component indices (a sequence, range or "
                        f"integer tensor); got {describe(dims)}.")
    idx = torch.as_tensor([int(v) for v in items], dtype=torch.long).reshape(-1)
    if idx.numel() == 0 or idx.min() < 0 or idx.max() >= pca.dim or idx.unique().numel() != \
            idx.numel():
        raise ValueError(
            f"dims S must be distinct component indices in [0, D={pca.dim}); got "
            f"{idx.tolist()[:8]}{'...' if idx.numel() > 8 else ''}."
        )
    return idx


def variance_share(pca: PCA, dims) -> float:
    """Fraction of the total pixel variance along the components ``dims``.

    Examples
    --------
    >>> pca = fit_pca(torch.tensor([[1., 0.], [-1., 0.], [0., 1.], [0., -1.]]))
    >>> variance_share(pca, [0])
    0.5
    """
    idx = _check_dims(pca, dims)
    return float(pca.variances[idx].sum() / pca.variances.sum())


def top_dims(pca: PCA, share: float) -> torch.Tensor:
    """The fewest leading components whose variance share reaches ``share`` (in (0, 1]).

    Examples
    --------
    >>> pca = fit_pca(torch.randn(100, 5, generator=torch.Generator().manual_seed(0)))
    >>> top_dims(pca, 1.0).tolist()
    [0, 1, 2, 3, 4]
    """
    share = check_float("share", share, low=0.0, high=1.0, low_open=True)
    _check_pca(pca)
    cum = torch.cumsum(pca.variances, 0) / pca.variances.sum()
    k = int(torch.searchsorted(cum, torch.tensor(share, dtype=cum.dtype) - 1e-12)) + 1
    return torch.arange(min(k, pca.dim))


def bottom_dims(pca: PCA, share: float) -> torch.Tensor:
    """The fewest trailing (smallest-variance) components whose share reaches ``share``.

    Examples
    --------
    >>> pca = fit_pca(torch.randn(100, 5, generator=torch.Generator().manual_seed(0)))
    >>> bottom_dims(pca, 1e-9).tolist()
    [4]
    """
    share = check_float("share", share, low=0.0, high=1.0, low_open=True)
    _check_pca(pca)
    cum = torch.cumsum(pca.variances.flip(0), 0) / pca.variances.sum()
    k = int(torch.searchsorted(cum, torch.tensor(share, dtype=cum.dtype) - 1e-12)) + 1
    return torch.arange(pca.dim - min(k, pca.dim), pca.dim)


def project(x: torch.Tensor, pca: PCA, dims, *, coordinates: bool = False) -> torch.Tensor:
    """Project samples onto the span of the components ``dims``.

    .. math:: P_S x = \\bar x + U_S U_S^\\top (x - \\bar x)

    Parameters
    ----------
    x : torch.Tensor, shape (N, ...)
    pca : PCA
    dims : sequence of int
        The set ``S``.
    coordinates : bool
        Return the coordinates :math:`U_S^\\top (x - \\bar x)`, shape (N, ``len(dims)``),
        instead of the projected samples (shape of ``x``).

    Examples
    --------
    >>> x = torch.tensor([[1., 0.], [-1., 0.], [0., 0.1], [0., -0.1]])
    >>> project(x, fit_pca(x), [0]).abs().sum(dim=0).tolist()
    [2.0, 0.0]
    """
    idx = _check_dims(pca, dims)
    check_tensor("x", x, shape_hint=f"(N, ...) with D={pca.dim} values per sample")
    if x.ndim < 1 or x.shape[0] == 0 or x[0].numel() != pca.dim:
        raise ValueError(
            f"x must be a tensor of samples with D={pca.dim} values each; got shape "
            f"{tuple(getattr(x, 'shape', ()))}."
        )
    flat = x.reshape(x.shape[0], -1).double() - pca.mean
    basis = pca.components[idx]
    coords = flat @ basis.T
    if coordinates:
        return coords.to(x.dtype)
    return (coords @ basis + pca.mean).reshape(x.shape).to(x.dtype)
