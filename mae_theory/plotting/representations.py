"""Figures of representations and of measurements over seeds (chapters 1, 3, 5-8, 10)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import OKABE_ITO, _new_axes, _np


def plot_cka_matrices(matrices: dict, *, title: str = "linear CKA", labels=None,
                      axis_label: str = "layer"):
    """Heat maps of layer-by-layer CKA, one panel per model, one shared colour scale [0, 1].

    The figure is at most 7.5 in wide (three panels and the colourbar fit a printed page).

    Parameters
    ----------
    matrices : dict of str -> array (K, K)
        Model name to its CKA matrix (mean over seeds).
    labels : list of str, optional
        Tick labels of the layers (default ``0 .. K-1``).
    axis_label : str
        Label of both axes (e.g. ``"residual-stream state $b$"``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = plot_cka_matrices({"a": np.eye(3), "b": np.ones((3, 3))})
    >>> len(fig.axes)
    3
    >>> plt.close("all")
    """
    if not matrices:
        raise ValueError("matrices must map at least one model name to a (K, K) CKA matrix.")
    fig, axes = plt.subplots(1, len(matrices), squeeze=False, constrained_layout=True,
                             figsize=(min(2.25 * len(matrices) + 0.9, 7.5), 2.8))
    im = None
    for ax, (name, m) in zip(axes[0], matrices.items()):
        m = _np(m)
        im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
        k = m.shape[0]
        ticks = list(range(k))
        ax.set_xticks(ticks, labels if labels is not None else ticks)
        ax.set_yticks(ticks, labels if labels is not None else ticks)
        ax.set_xlabel(axis_label)
        ax.set_title(name)
        ax.grid(False)
    axes[0, 0].set_ylabel(axis_label)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.85, label=title)
    return fig


def plot_seed_curves(x, series: dict, *, theory: dict | None = None, ax=None,
                     xlabel: str = "layer", ylabel: str = "value", logy: bool = False):
    """Measurements as markers with mean +- std over seeds; theory as lines of the same colour.

    Parameters
    ----------
    x : array (K,)
    series : dict of str -> array (seeds, K)
    theory : dict of str -> array (K,) or (seeds, K), optional
        Drawn as a dashed line (mean over seeds) for the series of the same name.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> ax = plot_seed_curves([1, 2], {"a": np.ones((3, 2))}, theory={"a": np.ones(2)})
    >>> len(ax.lines) >= 2
    True
    >>> plt.close("all")
    """
    ax = _new_axes(ax, figsize=(5.0, 3.2))
    x = _np(x)
    for i, (name, values) in enumerate(series.items()):
        v = np.atleast_2d(_np(values))
        if v.shape[1] != x.size:
            raise ValueError(f"series {name!r} has {v.shape[1]} points per seed but x has "
                             f"{x.size}.")
        color = OKABE_ITO[i % len(OKABE_ITO)]
        ax.errorbar(x, v.mean(0), yerr=v.std(0), fmt="o", color=color, capsize=3, label=name)
        if theory is not None and name in theory:
            t = np.atleast_2d(_np(theory[name])).mean(0)
            ax.plot(x, t, "--", color=color, label=f"{name}: bound")
    if logy:
        ax.set_yscale("log")
    if x.size <= 12 and np.allclose(x, np.round(x)):
        ax.set_xticks(x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax


def plot_grouped_bars(categories, series: dict, *, ax=None, ylabel: str = "value"):
    """Bars of mean +- std over seeds: one group per category, one bar per series.

    Parameters
    ----------
    categories : list of str, length K
    series : dict of str -> array (seeds, K)

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> ax = plot_grouped_bars(["u", "v"], {"a": np.ones((3, 2)), "b": np.zeros((3, 2))})
    >>> len(ax.patches)
    4
    >>> plt.close("all")
    """
    ax = _new_axes(ax, figsize=(6.0, 3.2))
    k, n = len(categories), len(series)
    width = 0.8 / max(n, 1)
    pos = np.arange(k)
    for i, (name, values) in enumerate(series.items()):
        v = np.atleast_2d(_np(values))
        if v.shape[1] != k:
            raise ValueError(f"series {name!r} has {v.shape[1]} values per seed; expected one "
                             f"per category ({k}).")
        ax.bar(pos + (i - (n - 1) / 2) * width, v.mean(0), width, yerr=v.std(0), capsize=3,
               color=OKABE_ITO[i % len(OKABE_ITO)], label=name)
    ax.set_xticks(pos, list(categories))
    ax.set_ylabel(ylabel)
    ax.set_ylim(top=ax.get_ylim()[1] * (1.15 + 0.1 * ((n + 1) // 2)))  # room for the legend
    ax.legend(fontsize="small", ncol=2, loc="upper center")
    return ax


# --- chapter 3: identifiability up to an invertible map, fig-ch3-t2, T2b ----------------------
def plot_invertible_toy(toy, *, axes=None):
    """Three scatter panels of :func:`~mae_theory.probes.invertible_map_toy`: the latent
    :math:`c`, an invertible :math:`\\phi(c)` and the fold :math:`(|c_1|, c_2)`, every point
    coloured by its :math:`c_1`, one shared colourbar; each panel states the held-out
    :math:`R^2` of :math:`c_1`.

    Parameters
    ----------
    toy : InvertibleToy
    axes : sequence of three Axes, optional
        Drawn into (their figure gets the colourbar); default a new 7.5 x 2.9 in figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from mae_theory.probes import invertible_map_toy
    >>> fig = plot_invertible_toy(invertible_map_toy(200, seed=0))
    >>> len(fig.axes)                       # three panels and one colourbar
    4
    >>> plt.close("all")
    """
    from ..probes.invertible import InvertibleToy

    if not isinstance(toy, InvertibleToy):
        raise TypeError(f"toy must be an InvertibleToy (from invertible_map_toy); got "
                        f"{type(toy).__name__}.")
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9), constrained_layout=True)
    elif len(axes) != len(toy.maps):
        raise ValueError(f"axes must hold {len(toy.maps)} axes, one per map; got {len(axes)}.")
    fig = axes[0].figure
    c1 = _np(toy.c[:, 0])
    order = np.random.default_rng(0).permutation(c1.size)  # no colour is always drawn on top
    titles = {"latent c": "latent $c$", "invertible phi(c)": r"invertible: $\hat c = \phi(c)$",
              "folding": r"folding: $\hat c = (|c_1|, c_2)$"}
    sc = None
    for i, (ax, (name, z)) in enumerate(zip(axes, toy.maps.items())):
        z = _np(z)
        sc = ax.scatter(z[order, 0], z[order, 1], c=c1[order], cmap="PuOr", vmin=-1, vmax=1,
                        s=7, linewidths=0)
        lin, ker = toy.r2[name]
        ax.set_title(titles.get(name, name), fontsize=11)
        ax.text(0.5, -0.2, f"$R^2$ of $c_1$: linear {lin:.2f}\nkernel {ker:.2f}",
                transform=ax.transAxes, ha="center", va="top", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        sub = "c" if i == 0 else r"\hat c"
        ax.set_xlabel(f"${sub}_1$", labelpad=1)
        ax.set_ylabel(f"${sub}_2$", labelpad=1)
    fig.colorbar(sc, ax=list(axes), shrink=0.8, label="colour = $c_1$")
    return fig


def plot_r2_by_dim(rows, *, models, keys: dict, unit_key=("tree", "seed")):
    """Mean held-out R^2 against dim c(m) of the test mask, one panel per measured quantity,
    one line per model, with the spread (min..max) over units as a band.

    Parameters
    ----------
    rows : list of dict
        Result rows with ``model``, ``predicted_dim`` and the fields named in ``keys``
        (:func:`mae_theory.tree_mae.run_theorem2_random_masks`).
    models : sequence of str
        Which models to draw, in legend order.
    keys : dict of str -> str
        Row field to panel title, e.g. ``{"r2_in_c": "members of c(m)"}``.
    unit_key : tuple of str
        Row fields that name one independent unit (a tree and a seed): each unit is first
        averaged over its masks of the same dim c(m); the band spans the units.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [dict(model=m, predicted_dim=d, tree=0, seed=s, a=v)
    ...         for m, v in (("cut", 1.0), ("wide", 0.5)) for d in (2, 6) for s in (0, 1)]
    >>> fig = plot_r2_by_dim(rows, models=["cut", "wide"], keys={"a": "A"})
    >>> [float(y) for y in fig.axes[0].lines[0].get_ydata()]
    [1.0, 1.0]
    >>> plt.close("all")
    """
    if not rows or not isinstance(rows, (list, tuple)):
        raise TypeError("rows must be a non-empty list of result dicts.")
    if not keys or not isinstance(keys, dict):
        raise TypeError("keys must be a non-empty dict {row field: panel title}.")
    missing = {k for k in ("model", "predicted_dim", *keys, *unit_key) if k not in rows[0]}
    if missing:
        raise ValueError(f"rows lack the fields {sorted(missing)}; each row needs model, "
                         f"predicted_dim, {sorted(keys)} and {list(unit_key)}.")
    dims = sorted({r["predicted_dim"] for r in rows})
    units = sorted({tuple(r[k] for k in unit_key) for r in rows})
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 0.6, 3.0),
                             sharey=True, squeeze=False, constrained_layout=True)
    styles = [("o", "-"), ("s", "--"), ("^", ":")]
    for ax, (key, title) in zip(axes[0], keys.items()):
        for i, model in enumerate(models):
            per_unit = np.array([[np.mean([r[key] for r in rows if r["model"] == model
                                           and r["predicted_dim"] == d
                                           and tuple(r[k] for k in unit_key) == u])
                                  for d in dims] for u in units])
            colour = OKABE_ITO[i % len(OKABE_ITO)] if i < 2 else "0.45"
            marker, ls = styles[i % len(styles)]
            ax.fill_between(dims, per_unit.min(0), per_unit.max(0), color=colour, alpha=0.18,
                            linewidth=0)
            ax.plot(dims, per_unit.mean(0), marker=marker, ls=ls, color=colour, label=model)
        ax.set_title(title)
        ax.set_xlabel(r"$\dim c(m)$ of the held-out mask")
        ax.set_xticks(dims)
    axes[0, 0].set_ylabel("held-out $R^2$ (mean, band: min..max)")
    axes[0, 0].set_ylim(-0.05, 1.05)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), title="encoder", ncols=len(models),
               loc="outside lower center")
    return fig


def plot_tree_r2_panels(tree, panels, *, width: float = 7.5, row_height: float = 1.75,
                        label_size: float = 10, node_size: float = 420):
    """Several :func:`~mae_theory.plotting.plot_tree_r2` trees stacked in rows, with ONE
    colourbar for the shared R^2 scale, ``label_size``-pt node labels, the root labelled
    :math:`\\rho`, and a legend of the marks (chapter 3, fig-ch3-t2).

    Parameters
    ----------
    tree : LatentTree
    panels : dict of str -> (own_r2, masked, predicted)
        Panel title to the arguments of ``plot_tree_r2``.
    width, row_height : float
        Figure width and the height of one row, in inches.
    label_size, node_size : float
        Node labels in points (9 or more for print) and node markers in points squared.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> r2 = {v: 0.5 for v in t.nodes}
    >>> fig = plot_tree_r2_panels(t, {"A": (r2, ["x1"], ["r"]), "B": (r2, ["x4"], ["r"])})
    >>> len(fig.axes)                       # two panels, one colourbar
    3
    >>> plt.close("all")
    """
    from matplotlib.lines import Line2D

    from .leakage import IN_C, plot_tree_r2

    if not isinstance(panels, dict) or not panels:
        raise TypeError("panels must be a non-empty dict {title: (own_r2, masked, predicted)}; "
                        f"got {type(panels).__name__}.")
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, row_height * len(panels) + 0.4),
                             squeeze=False, constrained_layout=True)
    for ax, (title, (own_r2, masked, predicted)) in zip(axes[:, 0], panels.items()):
        plot_tree_r2(tree, own_r2, masked, predicted, ax=ax, colorbar=False)
        for text in ax.texts:  # the print sizes, whatever plot_tree_r2's defaults are
            text.set_fontsize(label_size)
            if text.get_text() == tree.root:
                text.set_text(r"$\rho$")
        for marks in ax.collections:
            marks.set_sizes([node_size])
        ax.set_title(title, loc="left", fontsize=11)
        ax.margins(x=0.04, y=0.2)
    sm = plt.cm.ScalarMappable(cmap=plt.get_cmap("viridis"), norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=list(axes[:, 0]), shrink=0.7, label=r"mean $R^2$ of own information")
    handles = [Line2D([], [], ls="none", marker="o", ms=10, mfc="white", mec=IN_C, mew=2.5,
                      label="predicted member of $c(m)$"),
               Line2D([], [], ls="none", marker="s", ms=10, mfc="0.7", mec="none",
                      label="masked leaf"),
               Line2D([], [], ls="none", marker="o", ms=10, mfc="0.7", mec="none",
                      label="visible leaf or latent")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9)
    return fig
