"""Hierarchical latent variable models: latent trees with invertible generators.

The book's toy data (chapters 2-4, after Kong et al. 2023, Assumption 1). A tree of nodes; the
root rho (named ``"r"`` in :meth:`LatentTree.balanced`; never the mask ratio r) has a Gaussian
value ``z_rho``; every other node ``v`` is produced from its parent and its own
independent Gaussian noise ``eps_v`` by an invertible map,

    z_v = g_v(z_pa(v), eps_v),

so a child determines its parent (and hence all its ancestors). Invertibility forces dimensions
to grow downward: a latent child has ``dim z_v = dim z_pa(v) + noise_dim``. The observed tokens
``x`` are the leaves; a leaf maps (parent, noise) *injectively* into ``leaf_dim`` dimensions (the
same for every leaf, so that leaves can be tokens).

Reading order: :class:`Sample`, :class:`LatentTree` (validation, the generator of one edge,
sampling, inversion), then the image-shaped view of a balanced 4-ary tree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .checks import check_float, check_int, check_tensor, describe
from .runtime import DeviceLike, SeedLike, make_generator, resolve_device


@dataclass(frozen=True)
class Sample:
    """Draws from a :class:`LatentTree`: the observed tokens and every latent and noise.

    Attributes
    ----------
    x : torch.Tensor, shape (N, L, d_x), float32
        Observed tokens: the values of ``tree.leaves`` (in that order), ``d_x = leaf_dim``.
    values : dict[str, torch.Tensor]
        ``values[v]`` of shape (N, dims[v]) for every node ``v`` (latents and leaves).
    noises : dict[str, torch.Tensor]
        ``noises[v]`` = eps_v of shape (N, noise_dim) for every non-root node ``v``; the root's
        value is its own noise.
    """

    x: torch.Tensor
    values: dict
    noises: dict

    @property
    def n(self) -> int:
        """Number of draws N."""
        return self.x.shape[0]


def _leaky_moments(slope: float) -> tuple[float, float]:
    """Mean and standard deviation of leaky_relu(z, slope) for z ~ N(0, 1)."""
    mean = (1.0 - slope) / math.sqrt(2.0 * math.pi)
    var = (1.0 + slope**2) / 2.0 - mean**2
    return mean, math.sqrt(var)


def _orthogonal(k: int, gen: torch.Generator, cols: int | None = None) -> torch.Tensor:
    """A random (k, cols) matrix with orthonormal columns (square orthogonal by default)."""
    q, r = torch.linalg.qr(torch.randn(k, cols or k, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(torch.float32)


class LatentTree:
    """A latent tree with invertible generators (build with :meth:`from_parents`/:meth:`balanced`).

    Parameters
    ----------
    parents : Mapping[str, str | None]
        ``parents[v]`` is the parent of node ``v``; exactly one node (the root) maps to ``None``.
        Nodes without children are the observed leaves, in the order they first appear in
        ``parents`` within a depth-first walk (children ordered as listed): the token order.
    root_dim : int
        d_rho = dim z_rho, the root's (Gaussian) dimension.
    noise_dim : int
        d_eps = dim eps_v, the own-noise dimension of every non-root node.
    leaf_dim : int or None
        d_x, the dimension of every observed token. ``None``: the largest
        ``dim z_pa(v) + noise_dim`` over the leaves (the smallest injective choice).
    seed : SeedLike
        Draws the generator weights (orthogonal matrices).
    n_layers : int
        Leaky-ReLU layers per edge generator g_v.
    negative_slope : float
        Slope alpha in (0, 1] of the leaky ReLU; 1.0 makes every g_v linear (a Gaussian tree).
    tie_weights : bool
        Share one generator per (level, leaf or latent): siblings then look alike (images).

    Notes
    -----
    ``g_v(u) = Q_K a(... a(Q_1 u))`` on ``u = [z_pa(v), eps_v]``, with square orthogonal Q_k
    and ``a`` the leaky ReLU standardised to mean 0 and variance 1 under a standard normal
    input; for a leaf, an isometric lift ``W`` (orthonormal columns, ``d_x x k``) follows. Every
    layer is invertible and values stay O(1). :meth:`invert` undoes one edge.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> tree = LatentTree.from_parents({"r": None, "a": "r", "b": "r", "x1": "a", "x2": "a",
    ...                                 "x3": "b", "x4": "b"}, root_dim=2, noise_dim=2)
    >>> tree.leaves, tree.latents, tree.dims["a"], tree.leaf_dim
    (('x1', 'x2', 'x3', 'x4'), ('r', 'a', 'b'), 4, 6)
    >>> s = tree.sample(5, seed=0)
    >>> tuple(s.x.shape), tuple(s.values["a"].shape), tuple(s.noises["x1"].shape)
    ((5, 4, 6), (5, 4), (5, 2))
    >>> parent, noise = tree.invert("x1", s.values["x1"])
    >>> bool(torch.allclose(parent, s.values["a"], atol=1e-4))
    True
    """

    def __init__(self, parents: Mapping, root_dim: int = 2, noise_dim: int = 2,
                 leaf_dim: int | None = None, *, seed: SeedLike = 0, n_layers: int = 2,
                 negative_slope: float = 0.2, tie_weights: bool = False) -> None:
        self.parents, self.root = _check_parents(parents)
        root_dim = check_int("root_dim", root_dim, symbol="dim z_root", fix="Pass e.g. root_dim=2.")
        noise_dim = check_int("noise_dim", noise_dim, symbol="dim eps_v",
                              fix="Pass e.g. noise_dim=2.")
        n_layers = check_int("n_layers", n_layers, fix="Pass e.g. n_layers=2.")
        negative_slope = check_float("negative_slope", negative_slope, low=0.0, high=1.0,
                                     low_open=True, symbol="alpha",
                                     fix="The leaky ReLU must be invertible: use e.g. 0.2.")
        kids: dict[str, list[str]] = {v: [] for v in self.parents}
        for v, p in self.parents.items():
            if p is not None:
                kids[p].append(v)
        self.children = {v: tuple(c) for v, c in kids.items()}
        order, self.level = [self.root], {self.root: 0}
        for v in order:  # breadth first: a topological order, root first
            for c in self.children[v]:
                self.level[c] = self.level[v] + 1
                order.append(c)
        self.nodes = tuple(order)
        leaves: list[str] = []
        stack = [self.root]
        while stack:  # depth first, children in the order given: the token order
            v = stack.pop()
            if not self.children[v]:
                leaves.append(v)
            stack.extend(reversed(self.children[v]))
        self.leaves = tuple(leaves)
        self.latents = tuple(v for v in self.nodes if self.children[v])
        self.root_dim, self.noise_dim, self.n_layers = root_dim, noise_dim, n_layers
        self.negative_slope = float(negative_slope)
        dims = {self.root: root_dim}
        for v in self.nodes[1:]:
            dims[v] = dims[self.parents[v]] + noise_dim
        need = max(dims[v] for v in self.leaves)
        if leaf_dim is None:
            leaf_dim = need
        leaf_dim = check_int("leaf_dim", leaf_dim, low=need, symbol="token dimension d_x",
                             fix=f"{need} is the largest dim(parent) + noise_dim over the leaves, "
                             "so that every leaf is an injective function of (parent, noise); "
                             "pass leaf_dim=None for the smallest valid d_x.")
        for v in self.leaves:
            dims[v] = leaf_dim
        self.dims, self.leaf_dim = dims, leaf_dim
        gen = make_generator(seed)
        self._mu, self._sigma = _leaky_moments(self.negative_slope)
        self._weights: dict[str, tuple] = {}
        shared: dict[tuple, tuple] = {}
        for v in self.nodes[1:]:
            k = dims[self.parents[v]] + noise_dim
            key = (self.level[v], v in self.leaves, k)
            if tie_weights and key in shared:
                self._weights[v] = shared[key]
                continue
            qs = tuple(_orthogonal(k, gen) for _ in range(n_layers + 1))
            lift = _orthogonal(leaf_dim, gen, cols=k) if v in self.leaves else None
            self._weights[v] = shared[key] = (qs, lift)

    # --- constructors -----------------------------------------------------------------------

    @classmethod
    def from_parents(cls, parents: Mapping, *, root_dim: int = 2, noise_dim: int = 2,
                     leaf_dim: int | None = None, seed: SeedLike = 0, **kwargs) -> LatentTree:
        """A tree from its parent map ``{node: parent or None}`` (see the class docstring)."""
        return cls(parents, root_dim, noise_dim, leaf_dim, seed=seed, **kwargs)

    @classmethod
    def balanced(cls, branching: int = 2, depth: int = 3, *, root_dim: int = 2,
                 noise_dim: int = 2, leaf_dim: int | None = None, seed: SeedLike = 0,
                 **kwargs) -> LatentTree:
        """A balanced tree: ``branching**depth`` leaves at level ``depth`` (the root is level 0).

        Latents are named by their path (``"r"``, ``"a"``, ``"b"``, ``"aa"``, ...), leaves
        ``"x1"``, ``"x2"``, ... from left to right.

        Examples
        --------
        >>> t = LatentTree.balanced(2, 3)
        >>> len(t.nodes), t.leaves[:3], t.latents[:4], t.dims["aa"], t.leaf_dim
        (15, ('x1', 'x2', 'x3'), ('r', 'a', 'b', 'aa'), 6, 8)
        """
        branching = check_int("branching", branching, low=2, high=26,
                              symbol="children per latent")
        depth = check_int("depth", depth, low=1, high=12, symbol="levels below the root")
        letters = "abcdefghijklmnopqrstuvwxyz"[:branching]
        parents: dict[str, str | None] = {"r": None}
        level = [""]
        for _ in range(1, depth):
            nxt = [p + c for p in level for c in letters]
            parents.update({v: (v[:-1] or "r") for v in nxt})
            level = nxt
        for i, p in enumerate(p for p in level for _ in letters):
            parents[f"x{i + 1}"] = p or "r"
        return cls(parents, root_dim, noise_dim, leaf_dim, seed=seed, **kwargs)

    # --- structure --------------------------------------------------------------------------

    def descendant_leaves(self, node: str) -> frozenset[str]:
        """The observed leaves below ``node`` (``{node}`` itself for a leaf)."""
        self._check_node(node)
        out, stack = set(), [node]
        while stack:
            v = stack.pop()
            if not self.children[v]:
                out.add(v)
            stack.extend(self.children[v])
        return frozenset(out)

    def ancestors(self, node: str) -> tuple[str, ...]:
        """Ancestors of ``node`` from its parent up to the root."""
        self._check_node(node)
        out, p = [], self.parents[node]
        while p is not None:
            out.append(p)
            p = self.parents[p]
        return tuple(out)

    def own_dim(self, node: str) -> int:
        """Information a node adds to its parent: ``root_dim`` for the root, else noise_dim."""
        self._check_node(node)
        return self.root_dim if node == self.root else self.noise_dim

    def _check_node(self, node) -> None:
        if not isinstance(node, str) or node not in self.parents:
            raise ValueError(f"node {node!r} is not in the tree; its nodes are {self.nodes}.")

    # --- the generators g_v and their inverses --------------------------------------------

    def generate(self, node: str, parent: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z_v = g_v(z_pa(v), eps_v) for a non-root node; shapes (N, dims[pa]), (N, noise_dim)."""
        if node == self.root:
            raise ValueError("the root has no generator; its value is its own noise.")
        self._check_node(node)
        d = self.dims[self.parents[node]]
        _check_rows("parent", parent, d, f"z_pa({node})")
        _check_rows("noise", noise, self.noise_dim, f"eps_{node}")
        if parent.shape[0] != noise.shape[0]:
            raise ValueError(f"parent and noise must hold the same N rows; got "
                             f"{parent.shape[0]} and {noise.shape[0]}.")
        return self._generate(node, parent, noise)

    def _generate(self, node: str, parent: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        qs, lift = self._weights[node]
        h = torch.cat([parent, noise], dim=1).to(torch.float32) @ qs[0].T
        for q in qs[1:]:
            h = torch.nn.functional.leaky_relu(h, self.negative_slope)
            h = ((h - self._mu) / self._sigma) @ q.T
        return h if lift is None else h @ lift.T

    def invert(self, node: str, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Undo one edge: (z_pa(v), eps_v) from z_v, shape (N, dims[v]) -> the two blocks.

        For a leaf, ``value`` is projected onto the range of the lift first (exact for values
        the tree produced).
        """
        if node == self.root:
            raise ValueError("the root has no parent to recover; pick a non-root node.")
        self._check_node(node)
        _check_rows("value", value, self.dims[node], f"z_{node}")
        qs, lift = self._weights[node]
        h = value.to(torch.float32)
        if lift is not None:
            h = h @ lift
        for q in reversed(qs[1:]):
            h = (h @ q) * self._sigma + self._mu
            h = torch.where(h >= 0, h, h / self.negative_slope)
        u = h @ qs[0]
        d = self.dims[self.parents[node]]
        return u[:, :d], u[:, d:]

    # --- sampling ---------------------------------------------------------------------------

    def sample(self, n: int, *, seed: SeedLike = None, device: DeviceLike = "cpu") -> Sample:
        """Draw ``n`` samples: the root and all noises from N(0, I), then every g_v top-down.

        Drawn on the CPU (so a seed gives bit-identical values everywhere), then moved.
        """
        n = check_int("n", n, symbol="number of samples N")
        gen = make_generator(seed)
        values = {self.root: torch.randn(n, self.root_dim, generator=gen)}
        noises = {v: torch.randn(n, self.noise_dim, generator=gen) for v in self.nodes[1:]}
        for v in self.nodes[1:]:
            values[v] = self._generate(v, values[self.parents[v]], noises[v])
        dev = resolve_device(device)
        values = {v: t.to(dev) for v, t in values.items()}
        noises = {v: t.to(dev) for v, t in noises.items()}
        x = torch.stack([values[v] for v in self.leaves], dim=1)
        return Sample(x=x, values=values, noises=noises)

    # --- image-shaped view ------------------------------------------------------------------

    def leaf_grid(self) -> dict[str, tuple[int, int]]:
        """(row, col) of each leaf when a balanced 4-ary tree tiles a square (quadtree).

        Children are the top-left, top-right, bottom-left and bottom-right quarters of their
        parent's square, so every latent owns a square block of patches.
        """
        depth = {self.level[v] for v in self.leaves}
        if len(depth) != 1 or any(len(self.children[v]) != 4 for v in self.latents):
            raise ValueError("leaf_grid needs a balanced 4-ary tree (every latent has 4 "
                             "children, all leaves at one depth); build it with "
                             "LatentTree.balanced(branching=4, depth=...).")
        pos = {self.root: (0, 0)}
        for v in self.nodes[1:]:
            k, (i, j) = self.children[self.parents[v]].index(v), pos[self.parents[v]]
            pos[v] = (2 * i + k // 2, 2 * j + k % 2)
        return {v: pos[v] for v in self.leaves}

    def as_images(self, x: torch.Tensor | Sample) -> torch.Tensor:
        """Tokens (N, L, d_x) of a balanced 4-ary tree as images (N, 1, H, W), d_x = p*p patches.

        Leaf ``v`` becomes the p x p patch at ``leaf_grid()[v]``, so siblings are adjacent.

        Examples
        --------
        >>> t = LatentTree.balanced(4, 2, leaf_dim=16, tie_weights=True)
        >>> tuple(t.as_images(t.sample(3, seed=0)).shape)
        (3, 1, 16, 16)
        """
        x = x.x if isinstance(x, Sample) else x
        check_tensor("x", x, ndim=3, shape_hint="(N, L, d_x)")
        if tuple(x.shape[1:]) != (len(self.leaves), self.leaf_dim):
            raise ValueError(f"x must hold tokens (N, L, d_x) = (N, {len(self.leaves)}, "
                             f"{self.leaf_dim}) of this tree; got {describe(x)}.")
        p = math.isqrt(self.leaf_dim)
        if p * p != self.leaf_dim:
            raise ValueError(f"as_images needs leaf_dim d_x = p*p (square patches); got d_x = "
                             f"{self.leaf_dim}. Build the tree with e.g. leaf_dim=16.")
        grid = self.leaf_grid()
        side = 1 + max(r for r, _ in grid.values())
        out = x.new_zeros(x.shape[0], 1, side * p, side * p)
        for t, v in enumerate(self.leaves):
            r, c = grid[v]
            out[:, 0, r * p:(r + 1) * p, c * p:(c + 1) * p] = x[:, t].reshape(-1, p, p)
        return out

    def __repr__(self) -> str:
        return (f"LatentTree({len(self.nodes)} nodes, {len(self.leaves)} leaves, "
                f"root_dim={self.root_dim}, noise_dim={self.noise_dim}, "
                f"leaf_dim={self.leaf_dim})")


def _check_rows(name: str, value, width: int, symbol: str) -> None:
    """``value`` must be a finite floating tensor (N, width)."""
    check_tensor(name, value, ndim=2, symbol=symbol, shape_hint=f"(N, {width})")
    if value.shape[1] != width:
        raise ValueError(f"{name} ({symbol}) must have shape (N, {width}); got "
                         f"{describe(value)}.")


def _check_parents(parents) -> tuple[dict, str]:
    """Validate a parent map; return it as a dict and its root."""
    if not isinstance(parents, Mapping):
        raise TypeError(f"parents must be a mapping {{node: parent or None}}; got "
                        f"{describe(parents)}. Example: {{'r': None, 'x1': 'r', 'x2': 'r'}}.")
    if not parents:
        raise ValueError("parents must be a non-empty mapping {node: parent or None}; got "
                         f"{parents!r}. Example: {{'r': None, 'x1': 'r', 'x2': 'r'}}.")
    for v, p in parents.items():
        if not isinstance(v, str) or not (p is None or isinstance(p, str)):
            raise TypeError(f"node names must be str (parent None for the root); got "
                             f"{v!r}: {p!r}. Name nodes with strings, e.g. 'x1'.")
    roots = [v for v, p in parents.items() if p is None]
    if len(roots) != 1:
        raise ValueError(f"a latent tree needs exactly one root (a node whose parent is "
                         f"None); got {len(roots)}: {roots}. Give every other node a parent.")
    unknown = {p for p in parents.values() if p is not None and p not in parents}
    if unknown:
        raise ValueError(f"parents names parent(s) {sorted(unknown)} that are not nodes; add "
                         "them as keys (with their own parent) or fix the spelling.")
    for v in parents:  # every node must reach the root without revisiting a node
        seen, u = set(), v
        while u is not None:
            if u in seen:
                raise ValueError(f"parents has a cycle through {u!r}; a tree's parent links "
                                 "must lead every node to the root. Break the cycle.")
            seen.add(u)
            u = parents[u]
    root = roots[0]
    if not any(p == root for p in parents.values()):
        raise ValueError(f"the root {root!r} has no children, so the tree has no observed "
                         "leaf; add leaves, e.g. {'r': None, 'x1': 'r', 'x2': 'r'}.")
    return dict(parents), root
