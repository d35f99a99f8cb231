"""Shared latents c(m) of a mask in a latent tree, and their dimension (chapters 2-4).

Kong et al. (2023): an MAE trained with mask m recovers the latents that the masked and the
visible leaves share. Reading order: c(m) and its frontier, dim c(m), the exact R^2 of a
linear-Gaussian tree, the T6 boundary targets, and the role of every node for one mask (what
the leakage figures colour). Means over random masks are in :mod:`~mae_theory.theory.masks`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import describe
from ..hierarchy import LatentTree

ROLES = ("in c(m)", "visible side only", "masked side only")
"""The role of a node for a mask (:func:`node_roles`), in the leakage figures' legend order."""

# --- shared latents c(m) ---------------------------------------------------------------------
#
# In a latent tree whose every edge is invertible (mae_theory.hierarchy), a mask m splits the
# leaves into masked (m) and visible (m^c). A latent node is *mixed* when its leaves include both a
# masked and a visible one. The mixed nodes form a subtree that contains the root (a parent of a
# mixed node is mixed), and they carry all the information the two sides share:
#   c(m) = {mixed nodes},   dim c(m) = root_dim + noise_dim * (#mixed - 1),
# since a child determines its parent, so the deepest mixed nodes determine the whole subtree,
# and each non-root node adds exactly its own noise eps_v (the root rho adds d_rho). This is
# the book's reconstruction of Kong et al. (2023), Theorem 1 / Algorithm 1, for trees.


def _check_tree(tree) -> LatentTree:
    if not isinstance(tree, LatentTree):
        raise TypeError(f"tree must be a LatentTree (mae_theory.hierarchy); got "
                        f"{describe(tree)}. Build one with LatentTree.balanced(2, 3).")
    return tree


def _masked_leaves(tree: LatentTree, masked) -> frozenset[str]:
    """Validate ``masked`` (leaf names, or a 0/1 vector in leaf order) -> the masked leaves m."""
    _check_tree(tree)
    if isinstance(masked, str):
        raise ValueError(f"masked (the masked leaves M) must be an iterable of leaf names, not "
                         f"the single string {masked!r}; wrap it: [{masked!r}].")
    if isinstance(masked, (np.ndarray, torch.Tensor)):
        masked = np.asarray(masked.detach().cpu() if isinstance(masked, torch.Tensor)
                            else masked).tolist()
    try:
        items = list(masked)
    except TypeError:
        raise TypeError(f"masked (the masked leaves M) must be an iterable of leaf names or a "
                        f"0/1 vector; got {describe(masked)}.") from None
    if items and all(isinstance(b, (bool, int, np.bool_, np.integer)) for b in items):
        if len(items) != len(tree.leaves) or any(int(b) not in (0, 1) for b in items):
            raise ValueError(f"a 0/1 mask m must have one entry per leaf ({len(tree.leaves)}, "
                             f"in tree.leaves order) and only 0/1 values; got {items}.")
        items = [v for v, b in zip(tree.leaves, items) if int(b) == 1]
    bad = [v for v in items if not isinstance(v, str) or v not in tree.leaves]
    if bad:
        raise ValueError(f"masked (m) must contain leaves of the tree; {bad} are not leaves. "
                         f"The leaves are {tree.leaves}.")
    out = frozenset(items)
    if not out or len(out) == len(tree.leaves):
        raise ValueError(f"masked (m) must hold at least one and not all of the "
                         f"{len(tree.leaves)} leaves (both sides non-empty); got {len(out)}.")
    return out


def shared_latents(tree: LatentTree, masked) -> frozenset[str]:
    """The mixed latent nodes of a mask: c(m), the information masked and visible leaves share.

    Parameters
    ----------
    tree : LatentTree
    masked : iterable of str, or a 0/1 sequence of length L
        The mask m: the masked leaves (names), or an indicator in ``tree.leaves`` order
        (1 = masked).

    Returns
    -------
    frozenset of str
        Latent nodes with at least one masked and one visible leaf below them: a subtree
        containing the root. c(m) is carried by them jointly, equivalently by the deepest of
        them (:func:`deepest_shared_latents`), since a child determines its ancestors.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 2)   # root rho (named "r") -> a, b -> x1 x2 | x3 x4
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
    chapter 4 scores only some masked leaves and uses the scored ones as ``first``
    (:func:`boundary_targets`). No validation beyond the tree: the callers check their leaf sets.
    """
    first, second = _leaf_set(tree, first, "first"), _leaf_set(tree, second, "second")
    return frozenset(v for v in tree.latents
                     if tree.descendant_leaves(v) & first and tree.descendant_leaves(v) & second)


def information_dim(tree: LatentTree, nodes) -> int:
    """dim of the latents ``nodes`` jointly: d_rho (``root_dim``) for the root rho, d_eps
    (``noise_dim``) per other node (they must form a subtree containing the root, as mixed
    nodes do)."""
    return sum(tree.own_dim(v) for v in _node_set(tree, nodes, "nodes"))


def deepest_shared_latents(tree: LatentTree, masked) -> frozenset[str]:
    """The mixed nodes with no mixed child: the frontier that determines all of c(m).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> sorted(deepest_shared_latents(LatentTree.balanced(2, 2), ["x1", "x3"]))
    ['a', 'b']
    """
    return frontier(tree, shared_latents(tree, masked))


def frontier(tree: LatentTree, nodes) -> frozenset[str]:
    """The nodes of ``nodes`` with no child in ``nodes`` (the deepest ones of a subtree).

    For the mixed nodes of a split this is the set that determines all of them
    (:func:`deepest_shared_latents`).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> sorted(frontier(LatentTree.balanced(2, 2), {"r", "a"}))
    ['a']
    """
    nodes = _node_set(tree, nodes, "nodes")
    return frozenset(v for v in nodes if not any(c in nodes for c in tree.children[v]))


def shared_dim(tree: LatentTree, masked) -> int:
    """Information dimension of c(m): ``d_rho + d_eps * (#c(m) - 1)`` (root_dim, noise_dim).

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


def gaussian_r2(tree: LatentTree, masked, given) -> float:
    """Fraction of the variance of x_m (the masked leaves) that the values of the nodes
    ``given`` explain, in a linear-Gaussian tree (``negative_slope=1``: every g_v orthogonal).

    Each given node fixes its ancestors (invertibility). For a masked leaf l, let u be its
    deepest ancestor fixed that way (or l itself, if given); then x_l is an isometric image of
    (z_u, noises on the path u -> l), all independent, so E[x_l | given] explains exactly
    ``dims[u]`` of its total variance ``dims[pa(l)] + noise_dim``. Hence

        R^2(x_m | given) = sum_l dims[u_l] / sum_l (dims[pa(l)] + noise_dim).

    In particular R^2(x_m | c(m)) = R^2(x_m | c(m), x_{m^c}) = R^2(x_m | x_{m^c}): once c(m) is
    known, the visible tokens add nothing (d-separation), and they carry all of c(m).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.balanced(2, 3, negative_slope=1.0)   # leaves: 6 + 2 = 8 dims
    >>> gaussian_r2(tree, ["x1"], ["r"]), gaussian_r2(tree, ["x1"], ["aa"])
    (0.25, 0.75)
    >>> gaussian_r2(tree, ["x1"], tree.leaves[1:])   # the visible tokens: as good as c(m) = aa
    0.75
    """
    if _check_tree(tree).negative_slope != 1.0:
        raise ValueError("gaussian_r2 is exact for a linear-Gaussian tree only; got a tree "
                         f"with negative_slope={tree.negative_slope}. Build it with "
                         "negative_slope=1.0.")
    m = _masked_leaves(tree, masked)
    given = [given] if isinstance(given, str) else list(given)
    bad = [v for v in given if not isinstance(v, str) or v not in tree.parents]
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


def boundary_targets(tree: LatentTree, masked) -> frozenset[str]:
    """Masked leaves with no visible sibling: the leaves experiment T6 scores in its loss.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> sorted(boundary_targets(LatentTree.balanced(2, 2), ["x1", "x2", "x3"]))
    ['x1', 'x2']
    """
    masked = _leaf_set(tree, masked, "masked")
    return frozenset(v for v in masked if tree.descendant_leaves(tree.parents[v]) <= masked)


def _node_set(tree: LatentTree, nodes, name: str, *, pool=None, kind: str = "nodes"):
    """``nodes`` (names in ``pool``, default all nodes) as a frozenset, or raise naming it."""
    _check_tree(tree)
    pool = tree.nodes if pool is None else pool
    one = "leaf" if kind == "leaves" else "node"
    if isinstance(nodes, str):
        raise TypeError(f"{name} must be an iterable of {one} names, not the single string "
                        f"{nodes!r}; wrap it: [{nodes!r}].")
    try:
        out = frozenset(nodes)
    except TypeError:
        raise TypeError(f"{name} must be an iterable of {one} names; got "
                        f"{describe(nodes)}.") from None
    bad = [v for v in out if not isinstance(v, str) or v not in pool]
    if bad:
        raise ValueError(f"{name} must hold {kind} of the tree; {sorted(map(str, bad))} are not "
                         f"{kind}. The {kind} are {tuple(pool)}.")
    return out


def _leaf_set(tree: LatentTree, leaves, name: str) -> frozenset[str]:
    """``leaves`` (names, possibly empty or all) as a frozenset, or raise naming ``name``."""
    _check_tree(tree)
    return _node_set(tree, leaves, name, pool=tree.leaves, kind="leaves")


def node_roles(tree: LatentTree, masked, predicted=None) -> dict[str, str]:
    """The role of every node for a mask: one of :data:`ROLES`, in ``tree.nodes`` order.

    ``"in c(m)"`` for the nodes of ``predicted`` (default: :func:`shared_latents`), ``"visible
    side only"`` for the others whose leaves are all visible, ``"masked side only"`` for the
    rest. The leakage figures colour nodes by it; a visible-only node's own noise is nuisance
    the encoder could carry but, by the theory, need not.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> roles = node_roles(LatentTree.balanced(2, 2), ["x1", "x2"])
    >>> roles["r"], roles["b"], roles["a"]
    ('in c(m)', 'visible side only', 'masked side only')
    """
    masked = _leaf_set(tree, masked, "masked")
    predicted = (shared_latents(tree, masked) if predicted is None
                 else _node_set(tree, predicted, "predicted"))
    visible = frozenset(tree.leaves) - masked
    return {v: (ROLES[0] if v in predicted else
                ROLES[1] if tree.descendant_leaves(v) <= visible else ROLES[2])
            for v in tree.nodes}
