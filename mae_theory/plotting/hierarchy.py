"""Figures of latent trees (chapter 2): the tree, the shared latents c(m) of a mask, samples,
a latent DAG, and the two checks of the chapter (R^2 by conditioning set, the DAG rule).

Every function draws into an axes or figure it is given (or a new one), returns it, and never
calls ``plt.show()``. Notation (book/notation.md): the root is drawn as rho (the package names it
``"r"`` in balanced trees), m is a mask on the leaves and c(m) its shared latents. Node labels
are at least 9 pt and no default figure is wider than 7.5 in.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from .style import MASK_GREY, OKABE_ITO, _new_axes, _np

LABEL_PT = 9
"""Smallest font size of node labels and tick labels in these figures (print quality)."""
ROOT_LABEL = "ρ"
"""How the root is labelled: the book writes it rho (never r, which is the mask ratio)."""


def _name(tree, v: str, root_label: str | None) -> str:
    """A node's label: ``root_label`` for the root (None: its package name)."""
    return root_label if (root_label is not None and v == tree.root) else v


def _luminance(colour) -> float:
    """Relative luminance (0 black, 1 white); below 0.18 white text contrasts more than black."""
    r, g, b = (c ** 2.2 for c in mcolors.to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _tex(tree, v: str, root_label: str | None = ROOT_LABEL) -> str:
    """A node's subscript for mathtext: ``\\rho`` for the root."""
    return "\\rho" if (root_label == ROOT_LABEL and v == tree.root) else v


def tree_layout(tree) -> dict[str, tuple[float, float]]:
    """(x, y) of each node: leaves evenly spaced in token order, a latent above the mean of
    its children, ``y = -level``."""
    pos = {v: (float(i), -float(tree.level[v])) for i, v in enumerate(tree.leaves)}
    for v in reversed(tree.nodes):
        if v not in pos:
            xs = [pos[c][0] for c in tree.children[v]]
            pos[v] = (float(np.mean(xs)), -float(tree.level[v]))
    return pos


def plot_tree(tree, *, masked=None, ax=None, labels: bool = True, title: str | None = None,
              root_label: str | None = ROOT_LABEL, fontsize: float = LABEL_PT,
              show_shared: bool = True):
    """Draw a latent tree, nodes coloured by level (circles: latents, squares: leaves).

    With ``masked`` (leaf names or a 0/1 vector, the mask m), masked leaves are grey with a
    hatch and visible leaves white; with ``show_shared`` the shared latents c(m) are drawn with
    a thick vermillion ring (the deepest ones filled), the other latents faded, and the title
    gives dim c(m). The root is labelled ``root_label`` (rho; None: its package name); labels
    are ``fontsize`` points (at least 9 for print).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mae_theory.hierarchy import LatentTree
    >>> ax = plot_tree(LatentTree.balanced(2, 3), masked=["x1"])
    >>> ax.get_title()
    'c(m) = {ρ, a, aa}, dim c(m) = 6'
    >>> plt.close("all")
    """
    from ..theory import _masked_leaves, deepest_shared_latents, shared_dim, shared_latents

    pos = tree_layout(tree)
    n_leaves = len(tree.leaves)
    ax = _new_axes(ax, figsize=(min(1.0 + 0.55 * n_leaves, 10.0),
                                1.0 + 0.8 * max(tree.level.values())))
    for v in tree.nodes[1:]:
        (x0, y0), (x1, y1) = pos[tree.parents[v]], pos[v]
        ax.plot([x0, x1], [y0, y1], color="0.6", lw=1.0, zorder=1)
    mixed = deepest = frozenset()
    m = frozenset()
    if masked is not None:
        m = _masked_leaves(tree, masked)
        mixed, deepest = shared_latents(tree, m), deepest_shared_latents(tree, m)
    if not show_shared:
        mixed = deepest = frozenset()
    size = 520 if n_leaves <= 16 else 120
    for v in tree.nodes:
        x, y = pos[v]
        leaf = not tree.children[v]
        colour = OKABE_ITO[5 if leaf else tree.level[v] % 5]
        edge, lw, alpha = "black", 0.8, 1.0
        hatch = None
        if masked is not None:
            if leaf:
                colour = str(MASK_GREY) if v in m else "white"
                hatch = "////" if v in m else None
            elif v in mixed:
                edge, lw = OKABE_ITO[1], 3.0
                colour = OKABE_ITO[1] if v in deepest else "white"
            elif show_shared:
                alpha = 0.35
        ax.scatter([x], [y], s=size, c=[colour], marker="s" if leaf else "o", hatch=hatch,
                   edgecolors=edge, linewidths=lw, alpha=alpha, zorder=2)
        if labels and n_leaves <= 32:
            dark = (masked is not None and v in deepest) or (
                alpha == 1.0 and _luminance(colour) < 0.18)
            ax.annotate(_name(tree, v, root_label), (x, y), ha="center", va="center",
                        fontsize=fontsize, color="white" if dark else "black", zorder=3,
                        bbox=dict(boxstyle="round,pad=0.05", fc="white", ec="none", alpha=0.8)
                        if hatch else None)
    if masked is not None and title is None and show_shared:
        names = ", ".join(_name(tree, v, root_label) for v in tree.nodes if v in mixed)
        title = f"c(m) = {{{names}}}, dim c(m) = {shared_dim(tree, m)}"
    if title:
        ax.set_title(title)
    ax.set_xlim(-0.7, n_leaves - 0.3)
    ax.set_ylim(-max(tree.level.values()) - 0.5, 0.5)
    ax.set_axis_off()
    return ax


def plot_shared_latents(tree, masks, *, fig=None, ncols: int = 2, titles=None,
                        root_label: str | None = ROOT_LABEL):
    """One tree per mask with c(m) highlighted (see :func:`plot_tree`); returns the figure.

    ``titles`` (one string per mask) replaces the default titles "c(m) = {...}, dim c(m) = k".
    """
    masks = list(masks)
    rows = -(-len(masks) // ncols)
    fig = fig or plt.figure(figsize=(min(3.7 * ncols, 7.5), 2.3 * rows))
    axes = np.atleast_1d(fig.subplots(rows, ncols)).ravel()
    for i, (ax, m) in enumerate(zip(axes, masks)):
        plot_tree(tree, masked=m, ax=ax, root_label=root_label,
                  title=None if titles is None else titles[i])
        ax.title.set_fontsize(10)
    for ax in axes[len(masks):]:
        ax.set_axis_off()
    return fig


def plot_child_vs_parent(tree, sample, node: str, *, fig=None,
                         root_label: str | None = ROOT_LABEL):
    """Left: one coordinate of a child against its parent's, coloured by the child's noise (a
    child is a function of both). Right: the parent recovered from the child by inverting g_v
    against the true parent (every coordinate), on the diagonal."""
    parent = tree.parents[node]
    zp, zc = _np(sample.values[parent]), _np(sample.values[node])
    eps = _np(sample.noises[node])
    rec = _np(tree.invert(node, sample.values[node])[0])
    pn, cn = _tex(tree, parent, root_label), _tex(tree, node, root_label)
    fig = fig or plt.figure(figsize=(7.0, 3.0))
    ax1, ax2 = fig.subplots(1, 2)
    sc = ax1.scatter(zp[:, 0], zc[:, 0], c=eps[:, 0], s=6, cmap="viridis")
    fig.colorbar(sc, ax=ax1, label=f"noise $\\varepsilon_{{{cn}}}$, coordinate 1")
    ax1.set_xlabel(f"parent $z_{{{pn}}}$, coordinate 1")
    ax1.set_ylabel(f"child $z_{{{cn}}}$, coordinate 1")
    lim = np.abs(zp).max() * 1.05
    ax2.plot([-lim, lim], [-lim, lim], color="0.5", lw=1, label="identity")
    for j in range(zp.shape[1]):
        ax2.scatter(zp[:, j], rec[:, j], s=4, label=f"coordinate {j + 1}")
    ax2.set_xlabel(f"true parent $z_{{{pn}}}$")
    ax2.set_ylabel(f"recovered from $z_{{{cn}}}$")
    ax2.legend(fontsize=LABEL_PT, markerscale=2)
    return fig


def plot_tree_images(tree, sample, *, n: int = 4, masked=None, fig=None,
                     row_label: str | None = None):
    """Leaves of a balanced 4-ary tree as image patches (``tree.as_images``), one image per draw.

    Values are scaled to [0, 1] over the shown images and drawn with viridis. Lines separate
    the blocks of the four level-1 latents. With ``masked`` (leaf names, or a 0/1 vector), the
    masked patches are painted light grey, hatched and outlined in vermillion, so they cannot be
    read as pixels. ``row_label`` names the row (e.g. the mask) on the left.
    """
    from ..theory import _masked_leaves

    m = _masked_leaves(tree, masked) if masked is not None else frozenset()
    imgs = _np(tree.as_images(sample.x[:n]))
    lo, hi = imgs.min(), imgs.max()
    imgs = (imgs - lo) / (hi - lo + 1e-12)
    p = int(round(np.sqrt(tree.leaf_dim)))
    grid = tree.leaf_grid()
    fig = fig or plt.figure(figsize=(min(1.8 * n, 7.5), 2.1))
    axes = np.atleast_1d(fig.subplots(1, n))
    half = imgs.shape[-1] / 2 - 0.5
    for i, ax in enumerate(axes):
        rgb = plt.get_cmap("viridis")(imgs[i, 0])
        for v in m:
            r, c = grid[v]
            rgb[r * p:(r + 1) * p, c * p:(c + 1) * p] = (0.88, 0.88, 0.88, 1.0)
        ax.imshow(rgb, interpolation="nearest")
        for v in m:
            r, c = grid[v]
            ax.add_patch(Rectangle((c * p - 0.5, r * p - 0.5), p, p, fill=False, hatch="///",
                                   edgecolor=OKABE_ITO[1], lw=0.8))
        ax.axhline(half, color="white", lw=1.4)
        ax.axvline(half, color="white", lw=1.4)
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(f"draw {i + 1}", fontsize=10)
    if row_label:
        axes[0].set_ylabel(row_label, fontsize=10)
    return fig


def dag_layout(parents) -> dict[str, tuple[float, float]]:
    """(x, y) of each node of a DAG ``{node: (parents, ...)}``: leaves (nodes without children)
    evenly spaced in the given order at the bottom, a latent at ``y = -`` (longest path from a
    source), above the mean of its descendant leaves (ties spread apart)."""
    parents = {v: tuple(ps or ()) for v, ps in parents.items()}
    children = {v: [c for c, ps in parents.items() if v in ps] for v in parents}
    depth: dict[str, int] = {}

    def level(v):
        if v not in depth:
            depth[v] = 1 + max((level(q) for q in parents[v]), default=-1)
        return depth[v]

    leaves = [v for v in parents if not children[v]]
    bottom = max(level(v) for v in parents)
    pos = {v: (float(i), -float(bottom)) for i, v in enumerate(leaves)}

    def below(v):
        return {v} if not children[v] else set().union(*(below(c) for c in children[v]))

    for lev in range(bottom + 1):
        row = sorted((v for v in parents if v not in pos and depth[v] == lev),
                     key=lambda v: np.mean([pos[u][0] for u in below(v)]))
        xs = [float(np.mean([pos[u][0] for u in below(v)])) for v in row]
        for j in range(1, len(xs)):  # keep at least 0.8 apart
            xs[j] = max(xs[j], xs[j - 1] + 0.8)
        pos.update({v: (x, -float(lev)) for v, x in zip(row, xs)})
    return pos


def plot_dag(parents, *, masked=None, ax=None, fontsize: float = LABEL_PT,
             title: str | None = None):
    """Draw a latent DAG ``{node: (parents, ...)}`` (sources map to ``()``), edges as arrows.

    With ``masked`` (leaf names: the mask m), masked leaves are grey and hatched, and the shared
    latents c(m) (latents with a masked and a visible leaf below them,
    :func:`~mae_theory.theory.dag_shared_latents`) get the vermillion ring of :func:`plot_tree`.

    Examples
    --------
    >>> ax = plot_dag({"r": (), "a": ("r",), "x1": ("a",), "x2": ("a", "r")}, masked=["x1"])
    >>> ax.get_title()
    'c(m) = {r, a}'
    >>> plt.close("all")
    """
    from ..theory import dag_shared_latents

    pos = dag_layout(parents)
    leaves = [v for v, (x, y) in pos.items() if not any(v in (ps or ()) for ps in
                                                          parents.values())]
    ax = _new_axes(ax, figsize=(0.9 + 0.7 * len(leaves), 0.6 + 0.8 * (1 - min(
        y for _, y in pos.values()))))
    for v, ps in parents.items():
        for q in ps or ():
            ax.annotate("", xy=pos[v], xytext=pos[q], zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color="0.45", lw=1.0,
                                        shrinkA=11, shrinkB=11))
    mixed = frozenset() if masked is None else dag_shared_latents(parents, masked)
    m = frozenset(masked or ())
    for v, (x, y) in pos.items():
        leaf = v in leaves
        colour = OKABE_ITO[5] if leaf else OKABE_ITO[int(-y) % 5]
        edge, lw, hatch = "black", 0.8, None
        if masked is not None:
            if leaf:
                colour, hatch = (str(MASK_GREY), "////") if v in m else ("white", None)
            elif v in mixed:
                colour, edge, lw = "white", OKABE_ITO[1], 3.0
        ax.scatter([x], [y], s=520, c=[colour], marker="s" if leaf else "o", hatch=hatch,
                   edgecolors=edge, linewidths=lw, zorder=2)
        ax.annotate(v, (x, y), ha="center", va="center", fontsize=fontsize, zorder=3,
                    bbox=dict(boxstyle="round,pad=0.05", fc="white", ec="none", alpha=0.8)
                    if hatch else None)
    if masked is not None and title is None:
        title = "c(m) = {" + ", ".join(v for v in parents if v in mixed) + "}"
    if title:
        ax.set_title(title)
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(y for _, y in pos.values()) - 0.5, 0.5)
    ax.set_axis_off()
    return ax


def _theory_ticks(ax, pos, values, *, half: float = 0.32, **kw):
    """Theory at categorical positions: one short horizontal line per category (a line, so it
    never reads as a data point), no line between categories (it predicts nothing there)."""
    ax.hlines(values, np.asarray(pos) - half, np.asarray(pos) + half, **kw)


def plot_r2_by_set(labels, theory, measured, *, ax=None, theory_label: str = "theory",
                   data_label: str = "measured"):
    """Held-out R^2 per conditioning set: theory as short lines, measurements (seeds x sets) as
    mean ± sd markers. Returns the axes; the y-axis spans [0, 1] (R^2 at its true size)."""
    measured = np.atleast_2d(_np(measured))
    pos = np.arange(len(labels))
    ax = _new_axes(ax, figsize=(6.5, 3.2))
    _theory_ticks(ax, pos, _np(theory), colors="0.3", lw=2.0)
    ax.errorbar(pos, measured.mean(0), yerr=measured.std(0), fmt="o", capsize=3,
                color=OKABE_ITO[0], zorder=3)
    ax.set_xticks(pos, labels, fontsize=max(LABEL_PT, 10))
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out $R^2$")
    handles = [Line2D([], [], color="0.3", lw=2.0),
               Line2D([], [], color=OKABE_ITO[0], marker="o", ls="none")]
    ax.legend(handles, [theory_label, data_label], loc="upper left")
    return ax


def plot_dag_check(runs, masks, *, ax=None):
    """The DAG rule against the brute force (chapter 2), one draw of the edges.

    ``runs``: one :func:`~mae_theory.theory.dag_bruteforce` dict per mask in ``masks``. Masks
    are sorted by the brute force's least screening dimension (dots); the rule's dimension is a
    solid line per mask, the members' dimensions summed (the reading the DAG refutes) a dashed
    one. Tick labels name the masked leaves by their numbers.
    """
    order = np.argsort([o["min_screening_dim"] for o in runs], kind="stable")
    pos = np.arange(len(runs))
    ax = _new_axes(ax, figsize=(7.5, 3.1))
    _theory_ticks(ax, pos, [runs[j]["rule_dim"] for j in order], colors="black", lw=2.0,
                  zorder=3)
    _theory_ticks(ax, pos, [runs[j]["nominal_dim"] for j in order], colors="0.55", lw=1.5,
                  linestyles="--")
    ax.plot(pos, [runs[j]["min_screening_dim"] for j in order], "o", color=OKABE_ITO[0],
            ms=5, zorder=4)
    ax.set_xticks(pos, ["+".join(v.lstrip("x") for v in masks[j]) for j in order],
                  rotation=90, fontsize=LABEL_PT)
    ax.set_xlabel("masked leaves (x...)")
    ax.set_ylabel("dimension")
    ax.set_ylim(0, None)
    handles = [Line2D([], [], color=OKABE_ITO[0], marker="o", ls="none"),
               Line2D([], [], color="black", lw=2.0), Line2D([], [], color="0.55", lw=1.5,
                                                             ls="--")]
    ax.legend(handles, ["brute force: least screening set", "rule: own dimensions summed",
                        "member dimensions summed"], loc="upper left", fontsize=LABEL_PT)
    return ax
