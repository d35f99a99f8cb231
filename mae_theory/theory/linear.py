"""The linear MAE in closed form (chapter 10).

Signals x in R^n on a ring, Gaussian with a stationary covariance Q (``cov``); patches of p
consecutive coordinates; a mask hides n_mask of the L = n/p patches (the masked pixels are
:math:`\\mathcal M`, the visible ones :math:`\\mathcal V`, with 0/1 indicator
:math:`\\mathbb 1_{\\mathcal V}`). The linear MAE predicts
:math:`\\hat x = P (\\mathbb 1_{\\mathcal V} \\odot x)` with the linear predictor P = F E (encoder
E: d x n, decoder F: n x d) and is scored on the masked coordinates only. Everything here is
exact except :func:`linear_mae_optimum` for d < n, which minimises the exact expected loss by
alternating least squares (no closed form is known).
"""

from __future__ import annotations

import numpy as np

from ..checks import as_float_array, check_float, check_int, describe
from ..masking import check_mask_ratio, n_visible
from ..runtime import SeedLike, derive_seed, make_generator


def exponential_covariance(
    n: int, lengths=(1.0, 8.0), weights=None, *, nugget: float = 1e-3
) -> np.ndarray:
    """Stationary covariance on a ring of ``n`` pixels: a sum of exponential kernels.

    .. math:: Q_{ij} = \\sum_s w_s \\exp(-\\operatorname{dist}(i, j)/\\ell_s)
              + \\epsilon \\, 1[i = j], \\qquad \\operatorname{dist}(i, j) = \\min(|i-j|, n-|i-j|)

    Parameters
    ----------
    n : int
        Number of pixels ``n``.
    lengths : sequence of float
        Correlation lengths ``ell_s`` (pixels), each > 0.
    weights : sequence of float, optional
        Variances ``w_s`` of the components (default: equal, summing to 1).
    nugget : float
        ``epsilon``, independent pixel noise (keeps every conditional variance positive).

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Examples
    --------
    >>> cov = exponential_covariance(8, lengths=(2.0,), weights=(1.0,), nugget=0.0)
    >>> round(float(cov[0, 1]), 4), round(float(cov[0, 7]), 4)
    (0.6065, 0.6065)
    """
    n = check_int("n", n, low=2, symbol="pixels per signal")
    nugget = check_float("nugget", nugget, low=0.0, symbol="epsilon")
    lengths = _as_floats("lengths", lengths, "ell")
    if lengths.size == 0 or np.any(lengths <= 0):
        raise ValueError(
            f"correlation lengths ell must be positive; got {lengths.tolist()}. Pass e.g. "
            "lengths=(1.0, 8.0)."
        )
    weights = np.full(lengths.size, 1.0 / lengths.size) if weights is None else _as_floats(
        "weights", weights, "w")
    if weights.shape != lengths.shape or np.any(weights < 0):
        raise ValueError(
            f"weights w must be {lengths.size} non-negative numbers, one per length; got "
            f"{weights.tolist()}."
        )
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    d = np.minimum(d, n - d)
    cov = sum(w * np.exp(-d / ell) for w, ell in zip(weights, lengths))
    return cov + nugget * np.eye(n)


def _patch_mask_probs(n: int, patch_size: int, mask_ratio: float):
    """Mask statistics of random patch masks: q1[i, j] = P(i masked, j visible) and
    q2[i, j, l] = P(i masked, j and l visible), for coordinates i, j, l."""
    patch_size = check_int("patch_size", patch_size, symbol="p")
    if n % patch_size:
        raise ValueError(
            f"patch size p={patch_size!r} must be a positive int dividing n={n}; pick a "
            "divisor of n."
        )
    check_mask_ratio(mask_ratio)
    n_patch = n // patch_size
    n_mask = n_patch - n_visible(n_patch, mask_ratio)
    if n_mask == 0:
        raise ValueError(
            f"mask ratio r={mask_ratio} hides no patch of L={n_patch}; the masked loss is "
            "undefined. Use a larger r or smaller patches."
        )
    pa = np.arange(n) // patch_size
    m, vis = n_mask / n_patch, (n_patch - n_mask)
    p_mv = m * vis / (n_patch - 1)
    p_mvv = p_mv * (vis - 1) / (n_patch - 2) if n_patch > 2 else 0.0
    same_ij = pa[:, None] == pa[None, :]
    q1 = np.where(same_ij, 0.0, p_mv)
    s_ij = same_ij[:, :, None]
    s_il = same_ij[:, None, :]
    s_jl = same_ij[None, :, :]
    q2 = np.where(s_ij | s_il, 0.0, np.where(s_jl, p_mv, p_mvv))
    return q1, q2, m, n_mask * patch_size


def expected_masked_loss(w, cov, patch_size: int, mask_ratio: float) -> float:
    """Exact expected masked loss of a linear predictor ``x_hat = P (1_vis * x)``, random masks.

    .. math:: \\mathcal{L}(P) = \\frac{1}{|\\mathcal M|}\\,\\mathbb{E}_{x, \\mathcal M}
              \\sum_{i \\in \\mathcal M} (P_{i\\cdot}(\\mathbb 1_{\\mathcal V} \\odot x) - x_i)^2
              = \\frac{1}{|\\mathcal M|} \\sum_i \\bigl(P_i^\\top \\mathcal A_i P_i
              - 2 \\mathbf b_i^\\top P_i + \\Pr(i \\in \\mathcal M) Q_{ii}\\bigr)

    with ``A_i[j, l] = Pr(i masked, j and l visible) Q_jl`` and ``b_i[j] = Pr(i masked, j
    visible) Q_ij``; ``|M|`` is the number of masked pixels.

    Parameters
    ----------
    w : array, shape (n, n)
        The linear predictor ``P = F E``.
    cov : array, shape (n, n)
        The covariance ``Q``.
    patch_size, mask_ratio : int, float
        ``p`` and ``r``.

    Returns
    -------
    float
        Mean squared error per masked pixel.

    Examples
    --------
    >>> cov = exponential_covariance(8, lengths=(2.0,), weights=(1.0,))
    >>> round(expected_masked_loss(np.zeros((8, 8)), cov, 2, 0.5), 4)  # predicting 0
    1.001
    """
    w, cov = _check_square(w, "W"), _check_square(cov, "Sigma")
    n = cov.shape[0]
    if w.shape != cov.shape:
        raise ValueError(f"W {w.shape} and Sigma {cov.shape} must both be (n, n).")
    q1, q2, m, n_masked = _patch_mask_probs(n, patch_size, mask_ratio)
    quad = np.einsum("ij,il,ijl,jl->", w, w, q2, cov)
    lin = np.einsum("ij,ij,ij->", w, q1, cov)
    return float((quad - 2 * lin + m * np.trace(cov)) / n_masked)


def _as_floats(name: str, value, symbol: str) -> np.ndarray:
    """``value`` as a finite 1-D float array (a number or a sequence of numbers), or raise."""
    arr = np.atleast_1d(as_float_array(name, value, "a number or a sequence of numbers",
                                       symbol=symbol))
    if arr.ndim != 1 or not np.isfinite(arr).all():
        raise ValueError(f"{name} ({symbol}) must be a flat sequence of finite numbers; got "
                         f"{arr.tolist()}.")
    return arr


def _check_square(a, name: str) -> np.ndarray:
    """``a`` as a finite square float matrix (array or tensor), or raise naming ``name``."""
    a = as_float_array(name, a, "a square (n, n) matrix of numbers")
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 2:
        raise ValueError(f"{name} must be a square (n, n) matrix with n >= 2; got shape "
                         f"{a.shape}. Pass the full matrix, e.g. exponential_covariance(n).")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf); got "
                         f"{int((~np.isfinite(a)).sum())} non-finite entries.")
    return a


def _row_systems(cov, patch_size, mask_ratio):
    q1, q2, m, n_masked = _patch_mask_probs(cov.shape[0], patch_size, mask_ratio)
    a = q2 * cov[None]  # A_i, shape (n, n, n)
    b = q1 * cov  # b_i as rows, shape (n, n)
    return a, b, m * np.trace(cov), n_masked


def optimal_linear_predictor(cov, patch_size: int, mask_ratio: float) -> np.ndarray:
    """The full-rank (``d = n``) optimum over random masks: one normal equation per row.

    .. math:: P^*_{i\\cdot} = \\mathcal A_i^{+} \\mathbf b_i

    For a single fixed mask this reduces to the conditional mean
    :math:`Q_{\\mathcal M\\mathcal V}Q_{\\mathcal V\\mathcal V}^{-1}` (:func:`fixed_mask_optimum`).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        ``P*``; its row ``i`` weights the pixels used to predict pixel ``i``.

    Examples
    --------
    >>> cov = exponential_covariance(8)
    >>> w = optimal_linear_predictor(cov, 2, 0.5)
    >>> expected_masked_loss(w, cov, 2, 0.5) < expected_masked_loss(0 * w, cov, 2, 0.5)
    True
    """
    cov = _check_square(cov, "Sigma")
    a, b, _, _ = _row_systems(cov, patch_size, mask_ratio)
    return np.stack([np.linalg.pinv(a[i], rcond=1e-12) @ b[i] for i in range(cov.shape[0])])


def fixed_mask_optimum(cov, masked, rank: int | None = None):
    """Best rank-``d`` linear predictor of the masked pixels from the visible ones, one mask.

    Reduced-rank regression: with the conditional mean
    :math:`P_{\\mathrm{cm}} = Q_{\\mathcal M\\mathcal V}Q_{\\mathcal V\\mathcal V}^{-1}` and
    ``Y_d`` the top-``d`` eigenvectors of
    :math:`\\Psi = P_{\\mathrm{cm}} Q_{\\mathcal V\\mathcal M}`, the decoder is ``Y_d``,
    the encoder ``Y_d^T P_cm``, and the loss per masked pixel is
    :math:`(\\operatorname{tr}Q_{\\mathcal M\\mathcal M} - \\sum_{j \\le d}\\sigma_j(\\Psi))
    / |\\mathcal M|`.

    Parameters
    ----------
    cov : array, shape (n, n)
    masked : array of bool, shape (n,)
        True on masked pixels (the set ``M``).
    rank : int, optional
        ``d``; default ``|M|`` (no bottleneck: the conditional mean).

    Returns
    -------
    encoder : numpy.ndarray, shape (d, |V|)
    decoder : numpy.ndarray, shape (|M|, d)
    loss : float

    Examples
    --------
    >>> cov = exponential_covariance(4, lengths=(1.0,), weights=(1.0,), nugget=0.0)
    >>> _, _, loss = fixed_mask_optimum(cov, np.array([True, False, False, False]))
    >>> round(loss, 4)  # conditional variance of pixel 0 given pixels 1, 2, 3
    0.7476
    """
    cov = _check_square(cov, "Sigma")
    masked = np.asarray(masked.detach().cpu() if hasattr(masked, "detach") else masked)
    if masked.dtype != bool and not (np.issubdtype(masked.dtype, np.integer)
                                     and np.isin(masked, (0, 1)).all()):
        raise TypeError(f"masked (the masked set) must be a boolean (or 0/1) vector; "
                        f"got {describe(masked)}.")
    masked = masked.astype(bool)
    if masked.shape != (cov.shape[0],) or masked.all() or not masked.any():
        raise ValueError(
            f"masked must be a boolean vector of length n={cov.shape[0]} with at least one "
            f"masked and one visible pixel; got shape {masked.shape}, {int(masked.sum())} masked."
        )
    n_m = int(masked.sum())
    rank = n_m if rank is None else check_int("rank", rank, low=1, high=n_m, symbol="d")
    s_mv, s_vv = cov[np.ix_(masked, ~masked)], cov[np.ix_(~masked, ~masked)]
    reg = np.linalg.solve(s_vv, s_mv.T).T  # Sigma_MV Sigma_VV^-1
    evals, evecs = np.linalg.eigh(reg @ s_mv.T)
    top = evecs[:, ::-1][:, :rank]
    loss = (np.trace(cov[np.ix_(masked, masked)]) - evals[::-1][:rank].sum()) / n_m
    return top.T @ reg, top, float(loss)


def linear_mae_optimum(cov, patch_size: int, mask_ratio: float, rank: int, *,
                       restarts: int = 0, seed: SeedLike = 0, iters: int = 200,
                       tol: float = 1e-10):
    """Rank-``d`` linear MAE minimising the exact expected loss over random masks (numerically).

    Alternating least squares on :func:`expected_masked_loss`: with ``E`` fixed each decoder row
    ``f_i`` solves ``(E A_i E^T) f_i = E b_i``; with ``F`` fixed, ``E`` solves one linear system
    of ``d n`` unknowns. Each step lowers the loss. The problem is not convex and ALS can stop at
    a local optimum, so it starts from the top-``d`` principal directions and from ``restarts``
    random subspaces (seeded by ``seed``: an int seeds numpy's generator directly, a
    ``torch.Generator`` through :func:`~mae_theory.runtime.derive_seed`) and returns the best:
    a best-found optimum, not a certified one. For ``d = n`` it reaches
    :func:`optimal_linear_predictor`.

    Returns
    -------
    encoder : numpy.ndarray, shape (d, n)
        Rows orthonormal.
    decoder : numpy.ndarray, shape (n, d)
    loss : float

    Examples
    --------
    >>> cov = exponential_covariance(8)
    >>> e, d, loss = linear_mae_optimum(cov, 2, 0.5, rank=8)
    >>> w = optimal_linear_predictor(cov, 2, 0.5)
    >>> abs(loss - expected_masked_loss(w, cov, 2, 0.5)) < 1e-6
    True
    """
    cov = _check_square(cov, "Sigma")
    n = cov.shape[0]
    rank = check_int("rank", rank, low=1, high=n, symbol="d")
    restarts = check_int("restarts", restarts, low=0)
    iters = check_int("iters", iters, low=1)
    tol = check_float("tol", tol, low=0.0)
    a, b, _, _ = _row_systems(cov, patch_size, mask_ratio)
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        rng = np.random.default_rng(seed)
    else:  # a generator or None (make_generator refuses anything else)
        rng = np.random.default_rng(derive_seed(make_generator(seed)))
    starts = [np.linalg.eigh(cov)[1][:, ::-1][:, :rank].T.copy()]
    starts += [np.linalg.qr(rng.standard_normal((n, rank)))[0].T for _ in range(restarts)]
    best = None
    for enc in starts:
        last = np.inf
        for _ in range(iters):
            eae = np.einsum("aj,ijl,bl->iab", enc, a, enc, optimize=True)
            eb = b @ enc.T
            dec = np.stack([np.linalg.lstsq(eae[i], eb[i], rcond=None)[0] for i in range(n)])
            h = np.einsum("ia,ib,ijl->ajbl", dec, dec, a).reshape(rank * n, rank * n)
            g = np.einsum("ia,ij->aj", dec, b).reshape(-1)
            enc = np.linalg.lstsq(h, g, rcond=None)[0].reshape(rank, n)
            q, r_ = np.linalg.qr(enc.T)
            enc, dec = q.T, dec @ r_.T
            loss = expected_masked_loss(dec @ enc, cov, patch_size, mask_ratio)
            if last - loss < tol:
                break
            last = loss
        if best is None or loss < best[2]:
            best = (enc, dec, float(loss))
    return best


def predictor_reach(w, *, periodic: bool = True) -> float:
    """Mean distance between a predicted pixel and the pixels it uses, weighted by ``|P_ij|``.

    .. math:: \\operatorname{reach}(P) = \\sum_{ij} |P_{ij}|\\, \\operatorname{dist}(i, j)
              \\Big/ \\sum_{ij} |P_{ij}|

    A short reach means the predictor interpolates from neighbours (short-range
    correlations); a long one means it relies on distant pixels.

    Examples
    --------
    >>> predictor_reach(np.eye(4, k=1))  # every pixel read from its right neighbour
    1.0
    """
    w = np.abs(_check_square(w, "W"))
    n = w.shape[0]
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :]).astype(float)
    if periodic:
        d = np.minimum(d, n - d)
    total = w.sum()
    if total == 0:
        raise ValueError("W is all zeros; its reach is undefined.")
    return float((w * d).sum() / total)


def _as_rows(name: str, value) -> np.ndarray:
    arr = np.atleast_2d(as_float_array(name, value, "a (k, n) matrix of numbers"))
    if arr.ndim != 2 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty, finite (k, n) matrix; got shape "
                         f"{arr.shape}.")
    if not np.abs(arr).sum(axis=1).all():
        raise ValueError(f"{name} has an all-zero row; its row space has no direction there. "
                         "Pass linearly independent rows.")
    return arr


def subspace_angle(a, b) -> float:
    """Largest principal angle (radians) between the row spaces of ``a`` and ``b``.

    Examples
    --------
    >>> round(subspace_angle(np.eye(3)[:2], np.eye(3)[[1, 0]]), 6)
    0.0
    """
    a, b = _as_rows("a", a), _as_rows("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b need the same number of columns; got {a.shape}, {b.shape}.")
    qa, qb = np.linalg.qr(a.T)[0], np.linalg.qr(b.T)[0]
    cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.arccos(np.clip(cos.min(), -1.0, 1.0)))
