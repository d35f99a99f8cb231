"""Figures of representations across layers and of measurements over seeds (chapters 1, 5-8, 10)."""

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
