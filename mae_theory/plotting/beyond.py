"""Figures of chapter 10 (beyond the two papers): one function per section."""

from __future__ import annotations

from .style import OKABE_ITO, _new_axes, _np


def _mean_std(values):
    v = _np(values)
    if v.ndim == 1:
        return v, None
    return v.mean(axis=0), v.std(axis=0)


def plot_reach(ratios, reach, patch_sizes, *, ax=None):
    """Reach of the optimal linear predictor against ``r``, one line per patch size ``p``.

    Parameters
    ----------
    ratios : sequence of float, length R
    reach : array, shape (P, R)
        :func:`~mae_theory.theory.predictor_reach` of the optimum at each (p, r).
    patch_sizes : sequence of int, length P

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> ax = plot_reach([0.25, 0.5], [[1.0, 1.5], [2.0, 3.0]], [1, 2])
    >>> len(ax.lines)
    2
    >>> plt.close("all")
    """
    reach = _np(reach)
    if reach.shape != (len(patch_sizes), len(ratios)):
        raise ValueError(
            f"reach must have shape (P, R) = ({len(patch_sizes)}, {len(ratios)}); got "
            f"{reach.shape}."
        )
    ax = _new_axes(ax)
    for i, p in enumerate(patch_sizes):
        ax.plot(ratios, reach[i], "-o", color=OKABE_ITO[i % 8], label=f"p = {p}")
    ax.set_xlabel(r"mask ratio $r$")
    ax.set_ylabel(r"reach $\rho(W^*)$ (pixels)")
    ax.legend(title="patch size")
    return ax


def plot_erank_vs_ratio(ratios, curves: dict, *, ax=None, ylabel="effective rank"):
    """Measurements against ``r``: one marker series per model, mean +- std over seeds.

    ``curves`` maps a label to an array of shape (seeds, R).

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> ax = plot_erank_vs_ratio([0.25, 0.75], {"MAE": np.ones((3, 2))})
    >>> len(ax.containers)
    1
    >>> plt.close("all")
    """
    ax = _new_axes(ax)
    for i, (label, values) in enumerate(curves.items()):
        mean, std = _mean_std(values)
        if mean.shape != (len(ratios),):
            raise ValueError(f"curve {label!r} must have R={len(ratios)} columns.")
        ax.errorbar(ratios, mean, yerr=std, fmt="o-", capsize=3, color=OKABE_ITO[i % 8],
                    label=label)
    ax.set_xlabel(r"mask ratio $r$")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def plot_fit_scatter(fits: dict, *, ax=None):
    """Parameter error against log-likelihood gap to the best fit, one colour per task.

    ``fits`` maps a task label to a list of ``(log_likelihood, parameter_error)`` pairs (one
    per EM restart).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> ax = plot_fit_scatter({"pairs": [(-1.0, 0.2), (-1.1, 0.5)]})
    >>> len(ax.collections)
    1
    >>> plt.close("all")
    """
    ax = _new_axes(ax)
    for i, (label, rows) in enumerate(fits.items()):
        rows = _np(rows)
        gap = rows[:, 0].max() - rows[:, 0]
        ax.scatter(gap + 1e-6, rows[:, 1], color=OKABE_ITO[i % 8], label=label, s=30)
    ax.set_xscale("log")
    ax.set_xlabel("log-likelihood gap to the best restart (+1e-6)")
    ax.set_ylabel("parameter error (max |O - O*|, |T - T*|)")
    ax.legend()
    return ax


def plot_subspace_accuracy(curves: dict, *, ax=None):
    """Probe accuracy against the pixel-variance share of a PCA subspace.

    ``curves`` maps a label to ``(shares, accuracies)`` with accuracies of shape (seeds, K).

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> ax = plot_subspace_accuracy({"top": ([0.2, 0.9], np.ones((3, 2)))})
    >>> len(ax.containers)
    1
    >>> plt.close("all")
    """
    ax = _new_axes(ax)
    for i, (label, (shares, acc)) in enumerate(curves.items()):
        mean, std = _mean_std(acc)
        ax.errorbar(_np(shares), mean, yerr=std, fmt="o-", capsize=3,
                    color=OKABE_ITO[i % 8], label=label)
    ax.set_xlabel("share of pixel variance in the subspace")
    ax.set_ylabel("linear-probe test accuracy")
    ax.set_xlim(0, 1)
    ax.legend()
    return ax
