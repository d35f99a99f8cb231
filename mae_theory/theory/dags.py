"""Shared latents c(m) beyond trees: a DAG of latents, checked by brute force (chapter 2).

Kong et al.'s Assumption 1 allows any directed acyclic graph of latents above the observed
leaves, each node an invertible function of its parents and its own noise,
``z_v = g_v(z_Pa(v), eps_v)``. Then a leaf determines every ancestor and every ancestor's noise,
so what the masked leaves M and the visible leaves V share is the noise of the latents that lie
above both sides:

    c(m) = {latent v : v has a masked and a visible descendant leaf},

with information dimension ``sum of own dims over c(m)`` -- the tree's mixed-node rule, read
with descendants in the DAG (:func:`dag_shared_latents`). The rule is checked here without using
it: on a linear-Gaussian DAG with random invertible edges (:func:`linear_gaussian_dag`), the
dimension of what two sides share is a rank identity, and a brute force over every set of
latents finds the screening-off sets and the least information any of them carries
(:func:`dag_bruteforce`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from ..checks import check_int, describe
from ..runtime import SeedLike, make_generator


def _check_dag(parents) -> tuple[dict, tuple, tuple, dict]:
    """Validate ``{node: (parents, ...)}``; return it, the topological order, the leaves and
    the children map."""
    if not isinstance(parents, Mapping) or not parents:
        raise TypeError(f"parents must be a non-empty mapping {{node: tuple of parents}}; got "
                        f"{describe(parents)}. Example: {{'r': (), 'x1': ('r',), "
                        "'x2': ('r',)}}.")
    dag = {}
    for v, ps in parents.items():
        if not isinstance(v, str) or isinstance(ps, str) or not all(
                isinstance(p, str) for p in ps):
            raise TypeError(f"parents must map node names (str) to tuples of parent names; got "
                            f"{v!r}: {ps!r}. Wrap a single parent: ('r',).")
        dag[v] = tuple(ps)
    unknown = {p for ps in dag.values() for p in ps} - set(dag)
    if unknown:
        raise ValueError(f"parents names {sorted(unknown)} that are not nodes; add them as keys.")
    order, done = [], set()
    while len(order) < len(dag):
        ready = [v for v in dag if v not in done and set(dag[v]) <= done]
        if not ready:
            raise ValueError("parents has a cycle; a DAG's parent links must lead every node to "
                             "a source.")
        order += ready
        done |= set(ready)
    children = {v: tuple(c for c in dag if v in dag[c]) for v in dag}
    leaves = tuple(v for v in order if not children[v])
    if any(not dag[v] for v in leaves):
        raise ValueError("every leaf (observed node) needs a latent parent; "
                         f"{[v for v in leaves if not dag[v]]} have none.")
    return dag, tuple(order), leaves, children


def _descendant_leaves(dag, children, node) -> frozenset:
    out, stack = set(), [node]
    while stack:
        v = stack.pop()
        if not children[v]:
            out.add(v)
        stack.extend(children[v])
    return frozenset(out)


def _split(leaves, masked) -> frozenset:
    if isinstance(masked, str):
        raise TypeError(f"masked must be an iterable of leaf names, not the single string "
                        f"{masked!r}; wrap it: [{masked!r}].")
    m = frozenset(masked)
    if not m <= set(leaves) or not m or m == set(leaves):
        raise ValueError(f"masked must be a non-empty proper subset of the leaves {leaves}; "
                         f"got {sorted(map(str, m))}.")
    return m


def dag_shared_latents(parents: Mapping, masked) -> frozenset[str]:
    """Latents of a DAG with both a masked and a visible descendant leaf: c(m).

    Parameters
    ----------
    parents : mapping of str to tuple of str
        ``{node: (its parents, ...)}``; sources map to ``()``; nodes without children are the
        observed leaves.
    masked : iterable of str
        The masked leaves M (a non-empty proper subset of the leaves).

    Examples
    --------
    >>> dag = {"r": (), "u": (), "a": ("r",), "b": ("r", "u"), "x1": ("a",),
    ...        "x2": ("a", "b"), "x3": ("b",), "x4": ("u",)}
    >>> sorted(dag_shared_latents(dag, ["x1"])), sorted(dag_shared_latents(dag, ["x4"]))
    (['a', 'r'], ['u'])
    """
    dag, order, leaves, children = _check_dag(parents)
    m = _split(leaves, masked)
    v = frozenset(leaves) - m
    return frozenset(u for u in order if children[u]
                     and _descendant_leaves(dag, children, u) & m
                     and _descendant_leaves(dag, children, u) & v)


def linear_gaussian_dag(parents: Mapping, own_dim: int = 2, *,
                        seed: SeedLike = 0) -> tuple[dict, dict]:
    """Random invertible linear edges: every node as a linear map of all the noises.

    ``z_v = W_v [z_Pa(v); eps_v]`` with ``W_v`` a square Gaussian matrix (invertible with
    probability one), so ``dim z_v = sum of dim z_p over parents + own_dim``; a source is its
    own noise. With ``eps`` the stacked noises of all nodes (N(0, I), in topological order),
    ``z_v = A[v] @ eps``.

    Returns
    -------
    A : dict of node -> ndarray (dim z_v, own_dim * #nodes)
    own : dict of node -> slice of ``eps`` holding the node's own noise

    Examples
    --------
    >>> A, own = linear_gaussian_dag({"r": (), "a": ("r",), "b": ("r",), "x": ("a", "b")})
    >>> [A[v].shape for v in ("r", "a", "x")], int(np.linalg.matrix_rank(A["x"]))
    ([(2, 8), (4, 8), (10, 8)], 8)
    """
    dag, order, _, _ = _check_dag(parents)
    own_dim = check_int("own_dim", own_dim, fix="Pass e.g. own_dim=2.")
    gen = make_generator(seed)
    rng = np.random.default_rng(int(gen.initial_seed()))
    total = own_dim * len(order)
    own = {v: slice(i * own_dim, (i + 1) * own_dim) for i, v in enumerate(order)}
    A = {}
    for v in order:
        e = np.zeros((own_dim, total))
        e[:, own[v]] = np.eye(own_dim)
        inp = np.vstack([A[p] for p in dag[v]] + [e])
        A[v] = rng.standard_normal((inp.shape[0], inp.shape[0])) @ inp if dag[v] else e
    return A, own


def _rank(a: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(a, tol=1e-8 * max(1.0, float(np.abs(a).max()))))


def dag_bruteforce(parents: Mapping, masked, own_dim: int = 2, *, seed: SeedLike = 0) -> dict:
    """Check :func:`dag_shared_latents` on a random linear-Gaussian DAG, by brute force.

    With ``x_M = A_M eps`` and ``x_V = A_V eps`` (:func:`linear_gaussian_dag`):

    - ``shared_dim``: the dimension of the information both sides carry, the dimension of the
      intersection of the row spaces of ``A_M`` and ``A_V``:
      ``rank A_M + rank A_V - rank [A_M; A_V]`` (the number of unit canonical correlations);
    - ``screening``: every set S of latents whose values make ``x_M`` and ``x_V`` conditionally
      independent (conditional cross-covariance zero), by enumeration;
    - ``min_screening_dim``: the least information dimension (``rank A_S``) among them, and
      ``minimal``: the screening sets that attain it, and ``minimal_closures``: the set of
      their ancestral closures (the rule predicts exactly one, itself).

    Returns
    -------
    dict
        The above plus ``rule`` (:func:`dag_shared_latents`), ``rule_dim`` (``own_dim`` times
        its size), ``rule_screens`` (whether the rule's set screens off) and ``nominal_dim``
        (the sum of ``dim z_v`` over the rule's set, which over-counts shared ancestors).

    Examples
    --------
    >>> dag = {"r": (), "u": (), "a": ("r",), "b": ("r", "u"), "x1": ("a",),
    ...        "x2": ("a", "b"), "x3": ("b",), "x4": ("u",)}
    >>> out = dag_bruteforce(dag, ["x1", "x3"])
    >>> sorted(out["rule"]), out["rule_dim"], out["shared_dim"], out["min_screening_dim"]
    (['a', 'b', 'r', 'u'], 8, 8, 8)
    """
    dag, order, leaves, children = _check_dag(parents)
    m = _split(leaves, masked)
    A, _ = linear_gaussian_dag(dag, own_dim, seed=seed)
    a_m = np.vstack([A[v] for v in leaves if v in m])
    a_v = np.vstack([A[v] for v in leaves if v not in m])
    shared = _rank(a_m) + _rank(a_v) - _rank(np.vstack([a_m, a_v]))
    latents = [v for v in order if children[v]]

    def screens(s) -> bool:
        if not s:
            cross = a_m @ a_v.T
        else:
            a_s = np.vstack([A[v] for v in s])
            proj = a_s.T @ np.linalg.pinv(a_s @ a_s.T) @ a_s  # onto the row space of A_S
            cross = a_m @ (np.eye(a_s.shape[1]) - proj) @ a_v.T
        scale = float(np.abs(a_m).max() * np.abs(a_v).max() * a_m.shape[1])
        return float(np.abs(cross).max()) <= 1e-8 * scale

    screening = [frozenset(s) for k in range(len(latents) + 1)
                 for s in itertools.combinations(latents, k) if screens(s)]
    dims = {s: (_rank(np.vstack([A[v] for v in s])) if s else 0) for s in screening}
    least = min(dims.values())
    rule = dag_shared_latents(dag, m)

    def closure(s) -> frozenset:  # s and all its ancestors
        out, stack = set(s), list(s)
        while stack:
            for p in dag[stack.pop()]:
                if p not in out:
                    out.add(p)
                    stack.append(p)
        return frozenset(out)

    minimal = [s for s in screening if dims[s] == least]
    return {"rule": rule, "rule_dim": own_dim * len(rule), "rule_screens": screens(rule),
            "nominal_dim": sum(A[v].shape[0] for v in rule), "shared_dim": shared,
            "screening": screening, "min_screening_dim": least,
            "minimal": minimal, "minimal_closures": {closure(s) for s in minimal}}
