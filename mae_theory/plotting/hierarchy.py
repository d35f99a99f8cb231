"""Figures of latent trees (chapter 2): the tree, the shared latents c(m) of a mask, samples.

Every function draws into an axes or figure it is given (or a new one), returns it, and never
calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import MASK_GREY, OKABE_ITO, _new_axes, _np


def tree_layout(tree) -> dict[str, tuple[float, float]]:
    """(x, y) of each node: leaves evenly spaced in token order, a latent above the mean of
    its children, ``y = -level``."""
    pos = {v: (float(i), -float(tree.level[v])) for i, v in enumerate(tree.leaves)}
    for v in reversed(tree.nodes):
        if v not in pos:
            xs = [pos[c][0] for c in tree.children[v]]
            pos[v] = (float(np.mean(xs)), -float(tree.level[v]))
    return pos


def plot_tree(tree, *, masked=None, ax=None, labels: bool = True, title: str | None = None):
    """Draw a latent tree, nodes coloured by level (circles: latents, squares: leaves).

    With ``masked`` (leaf names or a 0/1 vector), the shared latents c(m) are drawn with a thick
    vermillion ring (the deepest ones filled), the other latents faded, masked leaves grey and
    visible leaves white; the title gives dim c(m).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mae_theory.hierarchy import LatentTree
    >>> ax = plot_tree(LatentTree.balanced(2, 3), masked=["x1"])
    >>> ax.get_title()
    'c(m) = {r, a, aa}, dim c(m) = 6'
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
    size = 420 if n_leaves <= 16 else 120
    for v in tree.nodes:
        x, y = pos[v]
        leaf = not tree.children[v]
        colour = OKABE_ITO[5 if leaf else tree.level[v] % 5]
        edge, lw, alpha = "black", 0.8, 1.0
        if masked is not None:
            if leaf:
                colour = str(MASK_GREY) if v in m else "white"
            elif v in mixed:
                edge, lw = OKABE_ITO[1], 3.0
                colour = OKABE_ITO[1] if v in deepest else "white"
            else:
                alpha = 0.35
        ax.scatter([x], [y], s=size, c=[colour], marker="s" if leaf else "o",
                   edgecolors=edge, linewidths=lw, alpha=alpha, zorder=2)
        if labels and n_leaves <= 32:
            dark = masked is not None and v in deepest
            ax.annotate(v, (x, y), ha="center", va="center", fontsize=7 if leaf else 8,
                        color="white" if dark else "black", zorder=3)
    if masked is not None and title is None:
        names = ", ".join(v for v in tree.nodes if v in mixed)
        title = f"c(m) = {{{names}}}, dim c(m) = {shared_dim(tree, m)}"
    if title:
        ax.set_title(title)
    ax.set_xlim(-0.7, n_leaves - 0.3)
    ax.set_ylim(-max(tree.level.values()) - 0.5, 0.5)
    ax.set_axis_off()
    return ax


def plot_shared_latents(tree, masks, *, fig=None, ncols: int = 2):
    """One tree per mask with c(m) highlighted (see :func:`plot_tree`); returns the figure."""
    masks = list(masks)
    rows = -(-len(masks) // ncols)
    fig = fig or plt.figure(figsize=(min(4.2 * ncols, 10.0), 2.3 * rows))
    axes = np.atleast_1d(fig.subplots(rows, ncols)).ravel()
    for ax, m in zip(axes, masks):
        plot_tree(tree, masked=m, ax=ax)
        ax.title.set_fontsize(10)
    for ax in axes[len(masks):]:
        ax.set_axis_off()
    return fig


def plot_child_vs_parent(tree, sample, node: str, *, fig=None):
    """Left: one coordinate of a child against its parent's, coloured by the child's noise (a
    child is a function of both). Right: the parent recovered from the child by inverting g_v
    against the true parent (every coordinate), on the diagonal."""
    parent = tree.parents[node]
    zp, zc = _np(sample.values[parent]), _np(sample.values[node])
    eps = _np(sample.noises[node])
    rec = _np(tree.invert(node, sample.values[node])[0])
    fig = fig or plt.figure(figsize=(8.0, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    sc = ax1.scatter(zp[:, 0], zc[:, 0], c=eps[:, 0], s=6, cmap="viridis")
    fig.colorbar(sc, ax=ax1, label=f"noise $\\varepsilon_{{{node}}}$, coordinate 1")
    ax1.set_xlabel(f"parent $z_{{{parent}}}$, coordinate 1")
    ax1.set_ylabel(f"child $z_{{{node}}}$, coordinate 1")
    lim = np.abs(zp).max() * 1.05
    ax2.plot([-lim, lim], [-lim, lim], color="0.5", lw=1, label="identity")
    for j in range(zp.shape[1]):
        ax2.scatter(zp[:, j], rec[:, j], s=4, label=f"coordinate {j + 1}")
    ax2.set_xlabel(f"true parent $z_{{{parent}}}$")
    ax2.set_ylabel(f"recovered from $z_{{{node}}}$")
    ax2.legend(fontsize=8, markerscale=2)
    return fig


def plot_tree_images(tree, sample, *, n: int = 4, masked=None, fig=None):
    """Leaves of a balanced 4-ary tree as image patches (``tree.as_images``), one image per draw.

    Values are scaled to [0, 1] over the shown images and drawn with viridis. Lines separate
    the blocks of the four level-1 latents. With ``masked`` (leaf names, or a 0/1 vector), the
    masked patches are painted light grey.
    """
    from ..theory import _masked_leaves

    m = _masked_leaves(tree, masked) if masked is not None else frozenset()
    imgs = _np(tree.as_images(sample.x[:n]))
    lo, hi = imgs.min(), imgs.max()
    imgs = (imgs - lo) / (hi - lo + 1e-12)
    p = int(round(np.sqrt(tree.leaf_dim)))
    grid = tree.leaf_grid()
    fig = fig or plt.figure(figsize=(2.2 * n, 2.4))
    axes = np.atleast_1d(fig.subplots(1, n))
    half = imgs.shape[-1] / 2 - 0.5
    for i, ax in enumerate(axes):
        rgb = plt.get_cmap("viridis")(imgs[i, 0])
        for v in m:
            r, c = grid[v]
            rgb[r * p:(r + 1) * p, c * p:(c + 1) * p] = (0.88, 0.88, 0.88, 1.0)
        ax.imshow(rgb, interpolation="nearest")
        ax.axhline(half, color=OKABE_ITO[1], lw=1.2)
        ax.axvline(half, color=OKABE_ITO[1], lw=1.2)
        ax.set_axis_off()
        ax.set_title(f"draw {i + 1}", fontsize=10)
    return fig
