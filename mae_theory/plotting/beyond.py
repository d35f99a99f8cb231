r"""Figures of chapter 10 (beyond the two papers): one function per section.

Notation (book/notation.md): a linear MAE's predictor is $P = FE$ and its reach
$\operatorname{reach}(P)$; an HMM has initial law $\pi$, transitions $\Theta$, emissions $O$
over an alphabet $\Sigma$ of symbols $a$, and hidden states $z_t$ with $K$ values.
"""

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
    for i, p in enumerate(patch_sizes):  # exact values, no sampling: lines, not data markers
        ax.plot(ratios, reach[i], "-", color=OKABE_ITO[i % 8], label=f"p = {p}")
    ax.set_xlabel(r"mask ratio $r$")
    ax.set_ylabel(r"reach $\operatorname{reach}(P^*)$ (pixels)")
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
    ax.set_ylabel(r"parameter error (max $|O - O^*|$, $|\Theta - \Theta^*|$)")
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


def _runs(flags):
    """(start, stop) of every run of True in a 1-D boolean array."""
    runs, start = [], None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    return runs


def plot_masked_prediction(cov, visible, weights, target: int, *, ax=None):
    r"""The picture behind the linear MAE: which visible pixels predict one masked pixel.

    Masked pixels are hatched bands; the line is the covariance of every pixel with the
    ``target`` pixel, the stems are the optimal predictor's weights on the visible pixels.

    Parameters
    ----------
    cov : array, shape (n, n)
        The signal's covariance (``theory.exponential_covariance``).
    visible : array of bool, shape (n,)
        $\mathbb 1_{\vis}$, the visible pixels.
    weights : array, shape (n,)
        The predictor's row for ``target`` (zero on masked pixels).
    target : int
        The masked pixel being predicted.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> vis = np.array([1, 1, 0, 0, 1, 1], bool)
    >>> ax = plot_masked_prediction(np.eye(6), vis, np.array([0, .5, 0, 0, .5, 0]), 2)
    >>> len(ax.patches), ax.get_legend_handles_labels()[1]
    (1, ['masked pixels', 'covariance with pixel 2', 'predictor weight'])
    >>> plt.close("all")
    """
    cov, w = _np(cov), _np(weights).reshape(-1)
    vis = _np(visible).reshape(-1).astype(bool)
    n = vis.size
    if cov.shape != (n, n) or w.shape != (n,) or not 0 <= int(target) < n or vis[target]:
        raise ValueError(f"need cov (n, n), visible (n,), weights (n,) and a masked target pixel "
                         f"in [0, n); got {cov.shape}, {vis.shape}, {w.shape}, target {target}.")
    ax = _new_axes(ax, figsize=(6.0, 2.8))
    for k, (a, b) in enumerate(_runs(~vis)):
        ax.axvspan(a - 0.5, b - 0.5, facecolor=OKABE_ITO[0], alpha=0.15, hatch="///",
                   edgecolor=OKABE_ITO[0], lw=0, label="masked pixels" if k == 0 else None)
    x = range(n)
    ax.plot(x, cov[target], color="0.35", lw=1.4, label=f"covariance with pixel {target}")
    idx = [j for j in x if vis[j]]
    ax.vlines(idx, 0, w[idx], color=OKABE_ITO[4], lw=2.2, label="predictor weight")
    ax.axvline(target, color=OKABE_ITO[5], lw=1, ls=":")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_xlabel("pixel")
    ax.set_ylabel("covariance / weight")
    ax.legend(fontsize="small", loc="upper right")
    return ax


def plot_hmm_twin(true, twin, *, fig=None):
    r"""Two HMMs, one pair predictor: emissions, and the two predictors' differences.

    Left: the emission matrices $O$ and $O'$ entry by entry (they differ). Middle and right,
    on one shared scale: $|\Delta|$ of every entry of the optimal predictor of $x_2$ from $x_1$
    (zero up to rounding) and of $(x_2, x_3)$ from $x_1$ (not zero).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from mae_theory import hmm
    >>> h = hmm.random_hmm(2, 3, seed=0)
    >>> fig = plot_hmm_twin(h, h)
    >>> len(fig.axes), bool(fig.get_figwidth() <= 7.5)
    (3, True)
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from ..hmm import pairwise_conditional, triplet_conditional

    fig = fig or plt.figure(figsize=(7.4, 2.8), layout="constrained")
    a, b, c = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1.3, 1, 1)})
    o, o2 = _np(true.emission).ravel(), _np(twin.emission).ravel()
    k = np.arange(o.size)
    a.bar(k - 0.2, o, 0.4, color=OKABE_ITO[0], label="HMM")
    a.bar(k + 0.2, o2, 0.4, color=OKABE_ITO[1], hatch="//", label="twin")
    a.set_xlabel(r"entry of $O$ (symbol $a$, state $z$)")
    a.set_ylabel("probability")
    a.set_title("emissions differ")
    a.legend(fontsize="small")
    diffs = [np.abs(pairwise_conditional(twin) - pairwise_conditional(true)).ravel(),
             np.abs(triplet_conditional(twin) - triplet_conditional(true)).ravel()]
    top = max(1e-3, 1.15 * max(float(d.max()) for d in diffs))
    for ax, d, title, xl in ((b, diffs[0], "pair predictor", r"entry of $\Pr(x_2 \mid x_1)$"),
                             (c, diffs[1], "triple predictor",
                              r"entry of $\Pr(x_2, x_3 \mid x_1)$")):
        ax.bar(np.arange(d.size), d, 0.8, color=OKABE_ITO[2])
        ax.set_ylim(0, top)
        ax.set_title(f"{title}\nmax |twin - HMM| = {d.max():.1g}", fontsize="small")
        ax.set_xlabel(xl)
    b.set_ylabel(r"$|\Delta|$ (twin - HMM)")
    c.tick_params(labelleft=False)
    return fig
