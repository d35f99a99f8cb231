"""Closed-form predictions that the chapters test against.

Sections, in the book's reading order:

1. Shared latents of a mask in a latent hierarchy, c(m), and their dimension (chapters 2-4,
   Kong et al. 2023).
2. The linear MAE in closed form (chapter 10).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .hierarchy import LatentTree
from .masking import n_visible
from .runtime import SeedLike, make_generator

# --- 1. Shared latents c(m) in a latent hierarchy ---------------------------------------------
#
# In a latent tree whose every edge is invertible (mae_theory.hierarchy), a mask m splits the
# leaves into masked M and visible V. A latent node is *mixed* when its leaves include both a
# masked and a visible one. The mixed nodes form a subtree that contains the root (a parent of a
# mixed node is mixed), and they carry all the information the two sides share:
#   c(m) = {mixed nodes},   dim c(m) = root_dim + noise_dim * (#mixed - 1),
# since a child determines its parent, so the deepest mixed nodes determine the whole subtree,
# and each non-root node adds exactly its own noise eps_v. This is the book's reconstruction of
# Kong et al. (2023), Theorem 1 / Algorithm 1, for trees.


def _masked_leaves(tree: LatentTree, masked) -> frozenset[str]:
    """Validate ``masked`` (leaf names, or a 0/1 vector in leaf order) -> the set M."""
    if isinstance(masked, str):
        raise ValueError(f"masked (the masked leaves M) must be an iterable of leaf names, not "
                         f"the single string {masked!r}; wrap it: [{masked!r}].")
    if isinstance(masked, (np.ndarray, torch.Tensor)):
        masked = np.asarray(masked.detach().cpu() if isinstance(masked, torch.Tensor)
                            else masked).tolist()
    items = list(masked)
    if items and all(isinstance(b, (bool, int, np.bool_, np.integer)) for b in items):
        if len(items) != len(tree.leaves) or any(int(b) not in (0, 1) for b in items):
            raise ValueError(f"a 0/1 mask m must have one entry per leaf ({len(tree.leaves)}, "
                             f"in tree.leaves order) and only 0/1 values; got {items}.")
        items = [v for v, b in zip(tree.leaves, items) if int(b) == 1]
    bad = [v for v in items if v not in tree.leaves]
    if bad:
        raise ValueError(f"masked (M) must contain leaves of the tree; {bad} are not leaves. "
                         f"The leaves are {tree.leaves}.")
    out = frozenset(items)
    if not out or len(out) == len(tree.leaves):
        raise ValueError(f"masked (M) must hold at least one and not all of the "
                         f"{len(tree.leaves)} leaves (both sides non-empty); got {len(out)}.")
    return out


def shared_latents(tree: LatentTree, masked) -> frozenset[str]:
    """The mixed latent nodes of a mask: c(m), the information masked and visible leaves share.

    Parameters
    ----------
    tree : LatentTree
    masked : iterable of str, or a 0/1 sequence of length L
        The masked leaves M (names), or an indicator in ``tree.leaves`` order (1 = masked).

    Returns
    -------
    frozenset of str
        Latent nodes with at least one masked and one visible leaf below them: a subtree
        containing the root. c(m) is carried by them jointly, equivalently by the deepest of
        them (:func:`deepest_shared_latents`), since a child determines its ancestors.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 2)   # r -> a, b -> x1 x2 | x3 x4
    >>> sorted(shared_latents(tree, ["x1", "x2"])), sorted(shared_latents(tree, ["x1"]))
    (['r'], ['a', 'r'])
    >>> sorted(shared_latents(tree, [1, 0, 1, 0]))
    ['a', 'b', 'r']
    """
    m = _masked_leaves(tree, masked)
    return mixed_latents(tree, m, frozenset(tree.leaves) - m)


def mixed_latents(tree: LatentTree, first, second) -> frozenset[str]:
    """Latent nodes with a leaf of ``first`` and a leaf of ``second`` below them.

    ``shared_latents(tree, m)`` is ``mixed_latents(tree, m, leaves - m)``; experiment T6 of
    chapter 4 scores only some masked leaves and uses the scored ones as ``first``.
    No validation: the callers check their leaf sets.
    """
    first, second = frozenset(first), frozenset(second)
    return frozenset(v for v in tree.latents
                     if tree.descendant_leaves(v) & first and tree.descendant_leaves(v) & second)


def information_dim(tree: LatentTree, nodes) -> int:
    """dim of the latents ``nodes`` jointly: ``root_dim`` for the root, ``noise_dim`` per other
    node (they must form a subtree containing the root, as mixed nodes do)."""
    return sum(tree.own_dim(v) for v in nodes)


def deepest_shared_latents(tree: LatentTree, masked) -> frozenset[str]:
    """The mixed nodes with no mixed child: the frontier that determines all of c(m).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> sorted(deepest_shared_latents(LatentTree.balanced(2, 2), ["x1", "x3"]))
    ['a', 'b']
    """
    mixed = shared_latents(tree, masked)
    return frozenset(v for v in mixed if not any(c in mixed for c in tree.children[v]))


def shared_dim(tree: LatentTree, masked) -> int:
    """Information dimension of c(m): ``root_dim + noise_dim * (#mixed nodes - 1)``.

    Why: the mixed nodes form a subtree containing the root; the deepest ones determine it
    (invertible edges), and its information is the root plus the own noise eps_v of every
    non-root mixed node, which are independent.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 2, root_dim=2, noise_dim=2)
    >>> shared_dim(tree, ["x1", "x2"]), shared_dim(tree, ["x1"]), shared_dim(tree, ["x1", "x3"])
    (2, 4, 6)
    """
    return information_dim(tree, shared_latents(tree, masked))


def leaf_units(tree: LatentTree, unit: int = 1, shift: int = 0) -> tuple[tuple[int, ...], ...]:
    """Masking units: groups of ``unit`` consecutive leaf indices (in ``tree.leaves`` order).

    Units start at leaf ``shift`` and wrap around the end (leaf order is circular), so every
    unit has ``unit`` leaves when ``unit`` divides L; otherwise the last unit is shorter.
    ``shift=0`` aligns units of ``branching**k`` leaves with subtrees of a balanced tree.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 2)
    >>> leaf_units(tree, 2), leaf_units(tree, 2, shift=1)
    (((0, 1), (2, 3)), ((1, 2), (3, 0)))
    """
    n = len(tree.leaves)
    for name, val, low in (("unit", unit, 1), ("shift", shift, 0)):
        if isinstance(val, bool) or not isinstance(val, int) or not low <= val < n + low:
            raise ValueError(f"{name} (masking unit {'size s' if name == 'unit' else 'offset'})"
                             f" must be an int in [{low}, {n + low - 1}] for L = {n} leaves; "
                             f"got {val!r}.")
    order = [(shift + i) % n for i in range(n)]
    return tuple(tuple(order[i:i + unit]) for i in range(0, n, unit))


def shared_dim_samples(tree: LatentTree, mask_ratio: float, *, unit: int = 1, shift: int = 0,
                       n_draws: int = 2000, seed: SeedLike = 0,
                       exact: bool = False) -> np.ndarray:
    """dim c(m) for random masks of ratio r over masking units; shape (n_draws,) (or all masks).

    Of the U units (:func:`leaf_units`), ``n_visible(U, r)`` stay visible (the MAE's rule,
    :func:`mae_theory.masking.n_visible`) and the rest are masked, uniformly at random.
    ``exact=True`` enumerates every such mask instead (each equally likely; refused above
    200,000 masks).
    """
    units = leaf_units(tree, unit, shift)
    n_units = len(units)
    keep = n_visible(n_units, mask_ratio)
    k = n_units - keep
    if k < 1:
        raise ValueError(f"mask ratio r={mask_ratio} masks no unit out of U={n_units} "
                         f"(U - floor(U(1-r)) = 0); raise r to at least {1 / n_units:.4f}.")
    if exact:
        total = math.comb(n_units, k)
        if total > 200_000:
            raise ValueError(f"exact=True would enumerate C({n_units}, {k}) = {total} masks; "
                             "use exact=False (random draws) for a tree this large.")
        chosen = np.array(list(itertools.combinations(range(n_units), k)), dtype=np.int64)
    else:
        if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
            raise ValueError(f"n_draws must be an int >= 1; got {n_draws!r}.")
        gen = make_generator(seed)
        chosen = torch.rand(n_draws, n_units, generator=gen).argsort(dim=1)[:, :k].numpy()
    unit_of = np.zeros((n_units, len(tree.leaves)), dtype=np.int64)
    for u, idx in enumerate(units):
        unit_of[u, list(idx)] = 1
    mask = unit_of[chosen].sum(axis=1)  # (draws, L): 1 = masked leaf
    below = np.array([[v in tree.descendant_leaves(a) for v in tree.leaves]
                      for a in tree.latents], dtype=np.int64)  # (latents, L)
    hits = mask @ below.T  # masked leaves below each latent
    mixed = (hits > 0) & (hits < below.sum(axis=1))
    weight = np.array([tree.own_dim(a) for a in tree.latents])
    return mixed.astype(np.int64) @ weight


def expected_shared_dim(tree: LatentTree, mask_ratio: float, *, unit: int = 1, shift: int = 0,
                        n_draws: int = 2000, seed: SeedLike = 0, exact: bool = False) -> float:
    """E[dim c(m)] over random masks of ratio r with masking unit ``unit`` (and ``shift``).

    A Monte-Carlo mean over ``n_draws`` masks, or the exact mean with ``exact=True``; see
    :func:`shared_dim_samples` for the masks and :func:`leaf_units` for units and shifts.
    The value depends on the mask only through the partition {M, V}, so it is symmetric under
    r <-> 1 - r whenever both ratios mask complementary numbers of units (U r an integer).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 3)
    >>> expected_shared_dim(tree, 0.5, unit=4, exact=True)   # half: one side of the root
    2.0
    >>> expected_shared_dim(tree, 0.25, exact=True) == expected_shared_dim(tree, 0.75, exact=True)
    True
    """
    return float(shared_dim_samples(tree, mask_ratio, unit=unit, shift=shift, n_draws=n_draws,
                                    seed=seed, exact=exact).mean())


def gaussian_r2(tree: LatentTree, masked, given) -> float:
    """Fraction of the variance of x_M that the values of the nodes ``given`` explain, in a
    linear-Gaussian tree (``negative_slope=1``: every g_v orthogonal).

    Each given node fixes its ancestors (invertibility). For a masked leaf l, let u be its
    deepest ancestor fixed that way (or l itself, if given); then x_l is an isometric image of
    (z_u, noises on the path u -> l), all independent, so E[x_l | given] explains exactly
    ``dims[u]`` of its total variance ``dims[pa(l)] + noise_dim``. Hence

        R^2(x_M | given) = sum_l dims[u_l] / sum_l (dims[pa(l)] + noise_dim).

    In particular R^2(x_M | c(m)) = R^2(x_M | c(m), x_V) = R^2(x_M | x_V): once c(m) is known,
    the visible tokens add nothing (d-separation), and they carry all of c(m).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 3, negative_slope=1.0)   # leaves: 6 + 2 = 8 dims
    >>> gaussian_r2(tree, ["x1"], ["r"]), gaussian_r2(tree, ["x1"], ["aa"])
    (0.25, 0.75)
    >>> gaussian_r2(tree, ["x1"], tree.leaves[1:])   # the visible tokens: as good as c(m) = aa
    0.75
    """
    if tree.negative_slope != 1.0:
        raise ValueError("gaussian_r2 is exact for a linear-Gaussian tree only; got a tree "
                         f"with negative_slope={tree.negative_slope}. Build it with "
                         "negative_slope=1.0.")
    m = _masked_leaves(tree, masked)
    given = [given] if isinstance(given, str) else list(given)
    bad = [v for v in given if v not in tree.parents]
    if bad:
        raise ValueError(f"given must name nodes of the tree; {bad} are not nodes. The nodes "
                         f"are {tree.nodes}.")
    fixed = set(given).union(*(tree.ancestors(v) for v in given))
    explained = total = 0
    for leaf in m:
        total += tree.dims[tree.parents[leaf]] + tree.noise_dim
        if leaf in fixed:
            explained += tree.dims[tree.parents[leaf]] + tree.noise_dim
            continue
        u = next((a for a in tree.ancestors(leaf) if a in fixed), None)
        explained += 0 if u is None else tree.dims[u]
    return explained / total


# --- 2. Linear MAE in closed form ------------------------------------------------------------
#
# Signals x in R^n on a ring, Gaussian with a stationary covariance Sigma; patches of p
# consecutive coordinates; a mask hides n_mask of the L = n/p patches. The linear MAE predicts
# x_hat = W (v * x) with W = D E (encoder E: k x n, decoder D: n x k) and is scored on the masked
# coordinates only. Everything below is exact except linear_mae_optimum for k < n, which
# minimises the exact expected loss by alternating least squares (no closed form is known).


def exponential_covariance(
    n: int, lengths=(1.0, 8.0), weights=None, *, nugget: float = 1e-3
) -> np.ndarray:
    """Stationary covariance on a ring of ``n`` pixels: a sum of exponential kernels.

    .. math:: \\Sigma_{ij} = \\sum_s w_s \\exp(-d(i, j)/\\ell_s) + \\epsilon \\, 1[i = j],
              \\qquad d(i, j) = \\min(|i-j|, n-|i-j|)

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
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n (pixels per signal) must be an int >= 2; got {n!r}.")
    lengths = np.atleast_1d(np.asarray(lengths, dtype=float))
    if lengths.size == 0 or np.any(lengths <= 0):
        raise ValueError(
            f"correlation lengths ell must be positive; got {lengths.tolist()}. Pass e.g. "
            "lengths=(1.0, 8.0)."
        )
    weights = np.full(lengths.size, 1.0 / lengths.size) if weights is None else np.atleast_1d(
        np.asarray(weights, dtype=float))
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
    from .masking import check_mask_ratio, n_visible

    if not isinstance(patch_size, int) or patch_size < 1 or n % patch_size:
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
    """Exact expected masked loss of a linear predictor ``x_hat = W (v * x)``, random masks.

    .. math:: \\mathcal{L}(W) = \\frac{1}{|M|}\\,\\mathbb{E}_{x, M}
              \\sum_{i \\in M} (W_{i\\cdot}(v \\odot x) - x_i)^2
              = \\frac{1}{|M|} \\sum_i \\bigl(W_i^\\top A_i W_i - 2 b_i^\\top W_i
              + P(i \\in M)\\Sigma_{ii}\\bigr)

    with ``A_i[j, l] = P(i in M, j, l in V) Sigma_jl`` and ``b_i[j] = P(i in M, j in V)
    Sigma_ij``; ``v`` is 1 on visible pixels, ``|M|`` the number of masked pixels.

    Parameters
    ----------
    w : array, shape (n, n)
        ``W = D E``.
    cov : array, shape (n, n)
        ``Sigma``.
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


def _check_square(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix; got shape {a.shape}.")
    return a


def _row_systems(cov, patch_size, mask_ratio):
    q1, q2, m, n_masked = _patch_mask_probs(cov.shape[0], patch_size, mask_ratio)
    a = q2 * cov[None]  # A_i, shape (n, n, n)
    b = q1 * cov  # b_i as rows, shape (n, n)
    return a, b, m * np.trace(cov), n_masked


def optimal_linear_predictor(cov, patch_size: int, mask_ratio: float) -> np.ndarray:
    """The full-rank (``k = n``) optimum over random masks: one normal equation per row.

    .. math:: W^*_{i\\cdot} = A_i^{+} b_i

    For a single fixed mask this reduces to the conditional mean
    :math:`\\Sigma_{MV}\\Sigma_{VV}^{-1}` (see :func:`fixed_mask_optimum`).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        ``W*``; its row ``i`` weights the pixels used to predict pixel ``i``.

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
    """Best rank-``k`` linear predictor of the masked pixels from the visible ones, one mask.

    Reduced-rank regression: with :math:`B = \\Sigma_{MV}\\Sigma_{VV}^{-1}` and ``U_k`` the
    top-``k`` eigenvectors of :math:`C = \\Sigma_{MV}\\Sigma_{VV}^{-1}\\Sigma_{VM}`, the
    decoder is ``U_k``, the encoder ``U_k^T B``, and the loss per masked pixel is
    :math:`(\\operatorname{tr}\\Sigma_{MM} - \\sum_{j \\le k}\\lambda_j(C)) / |M|`.

    Parameters
    ----------
    cov : array, shape (n, n)
    masked : array of bool, shape (n,)
        True on masked pixels (``M``).
    rank : int, optional
        ``k``; default ``|M|`` (no bottleneck: the conditional mean).

    Returns
    -------
    encoder : numpy.ndarray, shape (k, |V|)
    decoder : numpy.ndarray, shape (|M|, k)
    loss : float

    Examples
    --------
    >>> cov = exponential_covariance(4, lengths=(1.0,), weights=(1.0,), nugget=0.0)
    >>> _, _, loss = fixed_mask_optimum(cov, np.array([True, False, False, False]))
    >>> round(loss, 4)  # conditional variance of pixel 0 given pixels 1, 2, 3
    0.7476
    """
    cov = _check_square(cov, "Sigma")
    masked = np.asarray(masked, dtype=bool)
    if masked.shape != (cov.shape[0],) or masked.all() or not masked.any():
        raise ValueError(
            f"masked must be a boolean vector of length n={cov.shape[0]} with at least one "
            f"masked and one visible pixel; got shape {masked.shape}, {int(masked.sum())} masked."
        )
    n_m = int(masked.sum())
    rank = n_m if rank is None else rank
    if not isinstance(rank, int) or not 1 <= rank <= n_m:
        raise ValueError(f"rank k must be an int in [1, |M|={n_m}]; got {rank!r}.")
    s_mv, s_vv = cov[np.ix_(masked, ~masked)], cov[np.ix_(~masked, ~masked)]
    reg = np.linalg.solve(s_vv, s_mv.T).T  # Sigma_MV Sigma_VV^-1
    evals, evecs = np.linalg.eigh(reg @ s_mv.T)
    top = evecs[:, ::-1][:, :rank]
    loss = (np.trace(cov[np.ix_(masked, masked)]) - evals[::-1][:rank].sum()) / n_m
    return top.T @ reg, top, float(loss)


def linear_mae_optimum(cov, patch_size: int, mask_ratio: float, rank: int, *,
                       restarts: int = 0, seed: int = 0, iters: int = 200, tol: float = 1e-10):
    """Rank-``k`` linear MAE minimising the exact expected loss over random masks (numerically).

    Alternating least squares on :func:`expected_masked_loss`: with ``E`` fixed each decoder row
    solves ``(E A_i E^T) d_i = E b_i``; with ``D`` fixed, ``E`` solves one linear system of
    ``k n`` unknowns. Each step lowers the loss. The problem is not convex and ALS can stop at a
    local optimum, so it starts from the top-``k`` principal directions and from ``restarts``
    random subspaces (seeded by ``seed``) and returns the best: a best-found optimum, not a
    certified one. For ``k = n`` it reaches :func:`optimal_linear_predictor`.

    Returns
    -------
    encoder : numpy.ndarray, shape (k, n)
        Rows orthonormal.
    decoder : numpy.ndarray, shape (n, k)
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
    if not isinstance(rank, int) or not 1 <= rank <= n:
        raise ValueError(f"rank k must be an int in [1, n={n}]; got {rank!r}.")
    if not isinstance(restarts, int) or restarts < 0:
        raise ValueError(f"restarts must be an int >= 0; got {restarts!r}.")
    a, b, _, _ = _row_systems(cov, patch_size, mask_ratio)
    rng = np.random.default_rng(seed)
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
    """Mean distance between a predicted pixel and the pixels it uses, weighted by ``|W_ij|``.

    .. math:: \\rho(W) = \\sum_{ij} |W_{ij}|\\, d(i, j) \\Big/ \\sum_{ij} |W_{ij}|

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


def subspace_angle(a, b) -> float:
    """Largest principal angle (radians) between the row spaces of ``a`` and ``b``.

    Examples
    --------
    >>> round(subspace_angle(np.eye(3)[:2], np.eye(3)[[1, 0]]), 6)
    0.0
    """
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b need the same number of columns; got {a.shape}, {b.shape}.")
    qa, qb = np.linalg.qr(a.T)[0], np.linalg.qr(b.T)[0]
    cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.arccos(np.clip(cos.min(), -1.0, 1.0)))
