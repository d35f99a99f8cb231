"""Figures of chapters 3-4: leakage profiles over a latent tree, and theory-vs-measurement plots.

A *leakage profile* is the R^2 with which each node's own information (the root's value, every
other node's noise) can be read off a representation. The figures mark which nodes the theory
puts into the shared latents c(m) of a mask m. Every prediction drawn here (node roles,
expected dimensions) is computed by :mod:`mae_theory.theory`; this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..theory import ROLES, expected_dim_curves, node_roles
from .style import OKABE_ITO, _new_axes

IN_C, VISIBLE_ONLY, MASKED_ONLY = OKABE_ITO[0], OKABE_ITO[1], "#BBBBBB"

HIGHLIGHT = OKABE_ITO[4]
"""Ring colour of the nodes a figure singles out (e.g. the deepest shared ancestor)."""
MASKED_LEAF = "0.25"
"""Fill of a masked leaf in the tree diagrams (dark, hatched: never mistaken for a value)."""

__all__ = ["expected_dim_curves", "plot_expected_dim", "plot_leakage_profile", "plot_level_profile",
           "plot_mask_tree", "plot_theory_vs_measured", "plot_tree_r2", "theory_segments"]


def _check_r2_rows(name: str, rows, nodes) -> np.ndarray:
    """One row of finite R^2 values per seed, one column per node, or raise naming ``name``."""
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence) or not rows:
        raise TypeError(f"{name} must be a non-empty list of dicts {{node: R^2}}, one per seed; "
                        f"got {type(rows).__name__}.")
    missing = sorted({v for d in rows for v in nodes if v not in d})
    if missing:
        raise ValueError(f"{name} lacks R^2 values for nodes {missing}; every dict needs all "
                         f"nodes {list(nodes)}.")
    vals = np.array([[d[v] for v in nodes] for d in rows], dtype=float)
    if not np.isfinite(vals).all():
        raise ValueError(f"{name} must hold finite R^2 values; got NaN or inf.")
    return vals


def plot_leakage_profile(tree, own_r2: Sequence[Mapping[str, float]], masked: Sequence[str],
                         predicted: Sequence[str], *, control: Sequence[Mapping] | None = None,
                         ax=None, title: str | None = None, fontsize: float = 9):
    """Bars of nonlinear R^2 per node (mean over seeds, error bar = min..max), coloured by role.

    ``fontsize`` sets the node names (the root is :math:`\\rho`) and the legend, in points.

    Parameters
    ----------
    tree : LatentTree
    own_r2 : list of dict node -> R^2
        One dict per seed (``summarise_profile(...)["own_r2"]``).
    masked : leaf names of the mask; predicted : the nodes of c(m).
    control : list of dict, optional
        The same for a control encoder (drawn as open circles).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> r2 = [{v: 0.5 for v in t.nodes}]
    >>> ax = plot_leakage_profile(t, r2, ["x1", "x2"], ["r"])
    >>> len(ax.patches) == len(t.nodes)
    True
    """
    roles = node_roles(tree, masked, predicted)
    nodes = list(tree.nodes)
    vals = _check_r2_rows("own_r2", own_r2, nodes)
    cvals = None if not control else _check_r2_rows("control", control, nodes)
    ax = _new_axes(ax, figsize=(7.5, 3.2))
    colours = dict(zip(ROLES, (IN_C, VISIBLE_ONLY, MASKED_ONLY)))
    mean = vals.mean(axis=0)
    err = np.stack([mean - vals.min(axis=0), vals.max(axis=0) - mean])
    xs = np.arange(len(nodes))
    ax.bar(xs, mean, yerr=err, color=[colours[roles[v]] for v in nodes], capsize=2,
           error_kw={"elinewidth": 1})
    if cvals is not None:
        ax.plot(xs, cvals.mean(axis=0), "o", mfc="none", color="black", label="untrained encoder")
    from matplotlib.patches import Patch

    handles = [Patch(color=col, label=role) for role, col in colours.items()]
    handles += ax.get_legend_handles_labels()[0]
    labels = [(r"$\rho$" if v == tree.root else v) + ("*" if v in masked else "") for v in nodes]
    ax.set_xticks(xs, labels, rotation=0, fontsize=fontsize)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel(r"$R^2$ of own information")
    ax.axhline(0, color="black", lw=0.6)
    ax.legend(handles=handles, loc="upper right", fontsize=fontsize, ncols=2)
    if title:
        ax.set_title(title)
    return ax


def _tree_layout(tree) -> dict[str, tuple[float, float]]:
    """Leaves evenly spaced on the bottom row, every latent above the mean of its children."""
    pos = {v: (float(i), 0.0) for i, v in enumerate(tree.leaves)}
    for v in reversed(tree.nodes):
        if v not in pos:
            kids = tree.children[v]
            pos[v] = (float(np.mean([pos[c][0] for c in kids])), 0.0)
    depth = max(tree.level.values())
    return {v: (x, float(depth - tree.level[v])) for v, (x, _) in pos.items()}


def _node_label(tree, v: str) -> str:
    """The book's name of a node: the root is $\\rho$ (the package calls it ``r``)."""
    return r"$\rho$" if v == tree.root else v


def _draw_edges(ax, tree, pos) -> None:
    for v, p in tree.parents.items():
        if p is not None:
            ax.plot([pos[v][0], pos[p][0]], [pos[v][1], pos[p][1]], color="0.6", lw=1, zorder=1)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def plot_tree_r2(tree, own_r2: Mapping[str, float], masked: Sequence[str],
                 predicted: Sequence[str] = (), *, ax=None, title: str | None = None,
                 colorbar: bool = True):
    """The tree drawn with each node coloured by R^2 (viridis); masked leaves boxed, c(m) ringed.

    Node labels are 9 pt (the root is labelled $\\rho$). ``colorbar=False`` leaves out the
    colourbar, so that a grid of trees can share one (the scale is always 0..1 viridis:
    ``plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, 1))``).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> ax = plot_tree_r2(t, {v: 1.0 for v in t.nodes}, ["x1"], ["r", "a"])
    >>> ax.get_title()
    ''
    """
    import matplotlib.pyplot as plt

    node_roles(tree, masked, predicted)  # validates the tree and the masked leaves
    if not isinstance(own_r2, Mapping):
        raise TypeError(f"own_r2 must be a dict {{node: R^2}}; got {type(own_r2).__name__}.")
    ax = _new_axes(ax, figsize=(5.0, 3.0))
    pos = _tree_layout(tree)
    _draw_edges(ax, tree, pos)
    cmap = plt.get_cmap("viridis")
    for v in tree.nodes:
        x, y = pos[v]
        r2 = float(np.clip(own_r2.get(v, np.nan), 0, 1))
        ax.scatter([x], [y], s=330, color=cmap(r2), zorder=2,
                   edgecolors=IN_C if v in predicted else "none", linewidths=2.5,
                   marker="s" if v in masked else "o")
        ax.annotate(_node_label(tree, v), (x, y), ha="center", va="center", fontsize=9,
                    color="white" if r2 < 0.6 else "black", zorder=3)
    if colorbar:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
        ax.figure.colorbar(sm, ax=ax, label=r"$R^2$", shrink=0.8)
    _bare(ax)
    if title:
        ax.set_title(title)
    return ax


def plot_mask_tree(tree, masked: Sequence[str], *, highlight: Sequence[str] = (),
                   highlight_label: str = "highlighted", legend: bool = True, ax=None,
                   title: str | None = None):
    """A concept picture of one mask on a tree: which latents are shared, c(m).

    Masked leaves are dark squares hatched in white, visible leaves white squares; the latents of
    c(m) = :func:`~mae_theory.theory.shared_latents` (a masked *and* a visible leaf below them)
    are filled blue, the other latents white. ``highlight`` nodes get a thick orange ring.
    Every node is labelled (9 pt; the root is $\\rho$).

    Parameters
    ----------
    tree : LatentTree
    masked : leaf names of the mask m (at least one, not all)
    highlight : nodes to ring, e.g. the deepest shared ancestor of a masked leaf
    highlight_label : their legend entry
    legend : draw the legend (turn off for all but one panel of a row)

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> ax = plot_mask_tree(t, ["x1", "x2"], highlight=["a"])
    >>> len(ax.collections)  # one marker per node
    7
    """
    from matplotlib.lines import Line2D

    roles = node_roles(tree, masked)  # validates the tree and the mask
    masked = frozenset(masked)
    highlight = frozenset(highlight)
    unknown = sorted(highlight - set(tree.nodes))
    if unknown:
        raise ValueError(f"highlight must hold nodes of the tree; {unknown} are not nodes.")
    ax = _new_axes(ax, figsize=(4.0, 2.6))
    pos = _tree_layout(tree)
    _draw_edges(ax, tree, pos)
    leaves = set(tree.leaves)
    size = 330 if max(len(v) for v in tree.nodes) <= 2 else 520  # room for 3-letter names
    for v in tree.nodes:
        x, y = pos[v]
        leaf, hidden = v in leaves, v in masked
        face = (MASKED_LEAF if hidden else "white") if leaf else (
            IN_C if roles[v] == ROLES[0] else "white")
        ax.scatter([x], [y], s=size, marker="s" if leaf else "o", color=face, zorder=2,
                   hatch="////" if hidden else None,
                   edgecolors=HIGHLIGHT if v in highlight else ("white" if hidden else "0.3"),
                   linewidths=3.0 if v in highlight else 1.0)  # white hatch on a masked leaf
        dark = hidden or (not leaf and roles[v] == ROLES[0])
        ax.annotate(_node_label(tree, v), (x, y), ha="center", va="center", fontsize=9,
                    color="white" if dark else "black", zorder=3,
                    bbox={"boxstyle": "round,pad=0.1", "fc": MASKED_LEAF, "ec": "none"}
                    if hidden else None)
    if legend:
        style = {"ls": "none", "ms": 10, "markeredgecolor": "0.3"}
        handles = [Line2D([], [], marker="o", color=IN_C, label="in $c(m)$", **style),
                   Line2D([], [], marker="o", color="white", label="latent not in $c(m)$",
                          **style),
                   Line2D([], [], marker="s", color=MASKED_LEAF, label="masked leaf", **style),
                   Line2D([], [], marker="s", color="white", label="visible leaf", **style)]
        if highlight:
            handles.append(Line2D([], [], marker="o", color="white", markeredgewidth=3,
                                  label=highlight_label,
                                  **{**style, "markeredgecolor": HIGHLIGHT}))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    ax.set_ylim(-0.5, max(y for _, y in pos.values()) + 0.5)
    _bare(ax)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def theory_segments(ax, xs, values, *, label: str | None = "theory", half_width: float = 0.3,
                    color: str = "black"):
    """Draw a prediction at categorical positions as short horizontal line segments.

    Only the finite values are drawn (NaN: the theory is silent there); the legend handle is a
    line, so the theory never reads as a data point. Returns the drawn lines.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> lines = theory_segments(ax, [0, 1, 2], [1.0, float("nan"), 3.0])
    >>> len(lines)
    2
    """
    lines = []
    for x, y in zip(np.asarray(xs, dtype=float), np.asarray(values, dtype=float)):
        if np.isfinite(y):
            lines += ax.plot([x - half_width, x + half_width], [y, y], "-", color=color,
                             lw=2.0, label=label if not lines else None, zorder=3)
    return lines


def plot_theory_vs_measured(x, theory, measured, *, labels: Sequence[str] | None = None,
                            xlabel: str = "", ylabel: str = "", theory_label: str = "theory",
                            measured_label: str = "measured (mean, min..max over seeds)",
                            ax=None):
    """Theory as a line, measurements as markers with min..max error bars over seeds.

    With ``labels`` the x are categories and the theory is a short horizontal segment at each
    (:func:`theory_segments`). A NaN in ``theory`` means the theory predicts nothing there:
    nothing is drawn at that x. The theory's legend handle is always a line.

    Parameters
    ----------
    x : sequence of float (positions; with ``labels`` drawn as categories)
    theory : sequence of float, one per x (NaN where the theory is silent)
    measured : 2-D array (seeds, len(x))

    Examples
    --------
    >>> ax = plot_theory_vs_measured([0.1, 0.5], [6, 10], [[6.2, 9.8], [5.9, 10.1]])
    >>> len(ax.lines) >= 2
    True
    """
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"x must be a sequence of positions; got {type(x).__name__}.")
    try:
        m = np.asarray(measured, dtype=float)
        th = np.asarray(theory, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("theory and measured must hold numbers (a sequence and a (seeds, "
                        "len(x)) array).") from None
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] != len(x):
        raise ValueError(f"measured must have shape (seeds, len(x)) = (S, {len(x)}); got "
                         f"{m.shape}.")
    if th.shape != (len(x),):
        raise ValueError(f"theory must hold one value per x (len {len(x)}); got shape "
                         f"{th.shape}.")
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"labels must name each x (len {len(x)}); got {len(labels)}.")
    ax = _new_axes(ax, figsize=(5.5, 3.5))
    xs = np.arange(len(x)) if labels is not None else np.asarray(x, dtype=float)
    mean = m.mean(axis=0)
    if labels is not None:
        theory_segments(ax, xs, th, label=theory_label)
    else:  # NaN breaks the line: nothing is drawn where the theory is silent
        ax.plot(xs, th, "-", color="black", lw=1.5, label=theory_label)
    ax.errorbar(xs, mean, yerr=[mean - m.min(axis=0), m.max(axis=0) - mean], fmt="o",
                color=OKABE_ITO[1], capsize=3, label=measured_label)
    if labels is not None:
        ax.set_xticks(xs, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


def plot_expected_dim(tree, ratios: Sequence[float] = tuple(np.linspace(0.05, 0.95, 19)),
                      settings: Sequence[tuple[int, int]] = ((1, 0), (2, 0), (2, 1), (4, 0)),
                      *, marker: float | None = None, n_draws: int = 1000, ax=None):
    """Predicted E[dim c(m)] against the mask ratio r, one line per masking unit (u, shift).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> ax = plot_expected_dim(LatentTree.balanced(2, 3), [0.25, 0.5, 0.75], n_draws=50)
    >>> len(ax.lines)
    4
    """
    ax = _new_axes(ax, figsize=(5.5, 3.5))
    curves = expected_dim_curves(tree, ratios, settings, n_draws=n_draws)
    for k, ((unit, shift), vals) in enumerate(curves.items()):
        label = f"u = {unit}" + (f", shifted by {shift}" if shift else
                                 (", aligned" if unit > 1 else ""))
        ax.plot(ratios, vals, marker="o", ms=3, color=OKABE_ITO[k % len(OKABE_ITO)],
                ls="--" if shift else "-", label=label)
    if marker is not None:
        ax.axvline(marker, color="0.5", lw=1)
    ax.set_xlabel("mask ratio $r$")
    ax.set_ylabel(r"predicted $\mathbb{E}\,\dim c(m)$")
    ax.legend(fontsize=8)
    return ax


LEVEL_NAMES = ("root", "level 1", "level 2", "leaves")


def plot_level_profile(tables: Sequence[Mapping], *, roles: Sequence[str] = ROLES,
                       level_names: Sequence[str] = LEVEL_NAMES, ax=None,
                       title: str | None = None):
    """Own-information R^2 by tree level and node role: mean over seeds, bars min..max.

    Parameters
    ----------
    tables : list of dict, one per seed
        ``{(level, role): (mean R^2, n nodes)}``, e.g. ``tree_images.summary(...)["levels"]``.
        A (level, role) pair is drawn only if every seed has it.
    roles : the roles to draw, one marker and colour each
    level_names : tick labels for levels 0, 1, ...

    Examples
    --------
    >>> t = [{(0, "in c(m)"): (0.9, 1), (1, "in c(m)"): (0.5, 4)},
    ...      {(0, "in c(m)"): (0.8, 1), (1, "in c(m)"): (0.4, 4)}]
    >>> ax = plot_level_profile(t)
    >>> len(ax.containers)  # one errorbar series per role that has data
    1
    """
    if isinstance(tables, Mapping) or not isinstance(tables, Sequence) or not tables or not all(
            isinstance(t, Mapping) for t in tables):
        raise TypeError(f"tables must be a non-empty list of dicts {{(level, role): (R^2, n)}}, "
                        f"one per seed; got {type(tables).__name__}.")
    ax = _new_axes(ax, figsize=(4.0, 3.2))
    markers = "os^v"
    for k, role in enumerate(roles):
        levels = [lev for lev in range(len(level_names)) if all((lev, role) in t for t in tables)]
        if not levels:
            continue
        v = np.array([[t[(lev, role)][0] for lev in levels] for t in tables], dtype=float)
        x, m = np.array(levels) + 0.12 * (k - 1), v.mean(axis=0)
        ax.errorbar(x, m, yerr=[m - v.min(0), v.max(0) - m], fmt=markers[k % 4], capsize=3,
                    color=OKABE_ITO[k + 1], label=role)
    ax.set_xticks(range(len(level_names)), level_names)
    ax.axhline(0, color="0.6", lw=0.6)
    if title:
        ax.set_title(title)
    return ax
