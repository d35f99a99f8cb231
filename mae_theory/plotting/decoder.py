"""Figures of the decoder chapter (8): paired differences with their intervals."""

from __future__ import annotations

import numpy as np

from .style import OKABE_ITO, _new_axes, _np


def plot_paired_differences(x, values, *, reference: int = 0, scale: float = 100.0,
                            smallest_effect: float | None = None, alpha: float = 0.05,
                            label: str = "trained MAE", color=None, ax=None,
                            xlabel: str = "setting", ylabel: str = "difference"):
    """Each setting minus the ``reference`` setting, paired by seed, with its t interval.

    Markers are the mean per-seed difference, bars its two-sided ``1 - 2 alpha`` t interval
    (90 % at ``alpha = 0.05``: the interval of the verdict boxes,
    :func:`~mae_theory.verdicts.t_interval`). The zero line marks "no difference", so a bar
    that crosses it is a difference the seeds cannot tell from none. The axis shows the
    difference itself, so a small change is drawn at its own size instead of by zooming a
    shared axis.

    Parameters
    ----------
    x : array (K,)
        The settings (e.g. decoder depths).
    values : array (S, K)
        One row per seed; column ``k`` is setting ``x[k]``.
    reference : int
        Column the others are compared with (its difference is 0 by construction and is drawn
        as a plain marker).
    scale : float
        Multiplies the differences (100: accuracy points).
    smallest_effect : float, optional
        The smallest effect a decision rule counts, in the units of ``values`` (scaled like
        them); drawn as a dotted line.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> v = np.array([[0.80, 0.82], [0.81, 0.84], [0.79, 0.82]])
    >>> ax = plot_paired_differences([1, 4], v, smallest_effect=0.01)
    >>> [round(float(y), 2) for y in ax.containers[0].lines[0].get_ydata()]
    [0.0, 2.67]
    >>> plt.close("all")
    """
    from ..verdicts import t_interval

    x, v = _np(x).ravel(), np.atleast_2d(_np(values))
    if v.shape[1] != x.size or v.shape[0] < 2:
        raise ValueError(f"values must have shape (S, K) with S >= 2 seeds and K = len(x) = "
                         f"{x.size}; got {v.shape}.")
    if not (isinstance(reference, (int, np.integer)) and 0 <= reference < x.size):
        raise ValueError(f"reference must be a column index in [0, {x.size}); got "
                         f"{reference!r}.")
    ax = _new_axes(ax, figsize=(4.0, 3.2))
    color = color or OKABE_ITO[0]
    d = scale * (v - v[:, [reference]])
    stats = np.array([t_interval(col, alpha=alpha) if k != reference else (0.0, 0.0, 0.0)
                      for k, col in enumerate(d.T)])  # (K, (mean, lo, hi))
    mean, lo, hi = stats.T
    ax.axhline(0.0, color="0.35", lw=1)
    ax.errorbar(x, mean, yerr=[mean - lo, hi - mean], fmt="o", color=color, capsize=3,
                label=f"{label}: mean, {100 * (1 - 2 * alpha):.0f} % interval")
    if smallest_effect is not None:
        ax.axhline(scale * smallest_effect, color="0.35", ls=":", lw=1,
                   label="smallest effect that counts")
    if x.size <= 12 and np.allclose(x, np.round(x)):
        ax.set_xticks(x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax
