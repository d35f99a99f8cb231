"""dim c(m) over random masks: masking units, Monte-Carlo and exact means (chapters 3-4).

A mask of ratio r over masking units of ``unit`` consecutive leaves hides whole units; its
shared latents c(m) come from :mod:`~mae_theory.theory.trees`. Here: the units
(:func:`leaf_units`), dim c(m) of random masks under the MAE's visible-count rule
(:func:`shared_dim_samples`, :func:`expected_shared_dim`, :func:`expected_dim_curves`), and the
mean over given masks, e.g. the token MAE's (:func:`mean_shared_dim`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from ..checks import check_float, check_int, describe
from ..hierarchy import LatentTree
from ..masking import n_visible
from ..runtime import SeedLike, make_generator
from .trees import _check_tree


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
    n = len(_check_tree(tree).leaves)
    unit = check_int("unit", unit, low=1, high=n, symbol="masking unit size s",
                     fix=f"A unit groups at most the L = {n} leaves.")
    shift = check_int("shift", shift, low=0, high=n - 1, symbol="masking unit offset",
                      fix=f"Shifts wrap around the L = {n} leaves.")
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
        n_draws = check_int("n_draws", n_draws, low=1)
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


def mean_shared_dim(tree: LatentTree, masks, *, boundary_loss: bool = False) -> float:
    """Mean of dim c over given masks, shape (D, L) with 1 = masked (``tree.leaves`` order).

    Each mask's shared latents are the mixed nodes of (targets, visible leaves): the targets
    are the masked leaves, or with ``boundary_loss`` only :func:`boundary_targets`; a mask
    without any target counts as dimension 0.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 2)
    >>> mean_shared_dim(tree, [[1, 1, 0, 0], [1, 0, 0, 0]])   # (2 + 4) / 2
    3.0
    """
    _check_tree(tree)
    m = np.asarray(masks.detach().cpu() if isinstance(masks, torch.Tensor) else masks)
    n_leaves = len(tree.leaves)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] != n_leaves or not np.isin(m, (0, 1)).all():
        raise ValueError(f"masks must be a (D, L) array of 0/1 with D >= 1 and L = {n_leaves} "
                         f"(one column per leaf, in tree.leaves order); got {describe(m)}.")
    masked = m > 0.5
    if boundary_loss:
        siblings = np.array([[u in tree.descendant_leaves(tree.parents[v]) for u in tree.leaves]
                             for v in tree.leaves])  # (L, L): u is a sibling of v (or v)
        # a target: masked, and every sibling masked too
        targets = masked & ~((~masked).astype(np.int64) @ siblings.T.astype(np.int64) > 0)
    else:
        targets = masked
    below = np.array([[v in tree.descendant_leaves(a) for v in tree.leaves]
                      for a in tree.latents], dtype=np.int64)  # (latents, L)
    mixed = ((targets.astype(np.int64) @ below.T) > 0) & (((~masked).astype(np.int64)
                                                          @ below.T) > 0)
    weight = np.array([tree.own_dim(a) for a in tree.latents], dtype=np.int64)
    return int((mixed.astype(np.int64) @ weight).sum()) / m.shape[0]


def expected_dim_curves(tree: LatentTree, ratios,
                        settings=((1, 0), (2, 0), (2, 1), (4, 0)), *, n_draws: int = 2000,
                        seed: SeedLike = 0) -> dict:
    """E[dim c(m)] per (unit, shift) setting over ``ratios`` (NaN where no mask exists).

    Each value is :func:`expected_shared_dim` (the MAE's visible-count rule) with the same
    ``seed``; a ratio that leaves no visible or no masked unit gives NaN.

    Returns
    -------
    dict mapping ``(unit, shift)`` to a numpy array of ``len(ratios)`` values

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> curves = expected_dim_curves(LatentTree.balanced(2, 2), [0.5], [(2, 0)], n_draws=10)
    >>> curves[(2, 0)].tolist()
    [2.0]
    """
    _check_tree(tree)
    n_draws = check_int("n_draws", n_draws, low=1)
    ratios = [check_float(f"ratios[{i}]", r, low=0.0, high=1.0, high_open=True, symbol="r")
              for i, r in enumerate(ratios)]
    out = {}
    for unit, shift in settings:
        leaf_units(tree, unit, shift)  # a bad setting is an error, not a NaN curve
        vals = []
        for r in ratios:
            try:
                vals.append(expected_shared_dim(tree, r, unit=unit, shift=shift,
                                                n_draws=n_draws, seed=seed))
            except ValueError:  # inputs are valid: this r leaves no visible or no masked unit
                vals.append(float("nan"))
        out[(unit, shift)] = np.array(vals)
    return out
