"""Figures of the stable-propagation chapter (7): a block's update against its weight-only bound."""

from __future__ import annotations

import numpy as np

from .style import OKABE_ITO, _new_axes, _np


def plot_update_vs_scale(scales, updates, bound: float, *, ax=None):
    """Mean per-token update of one block against the input scale, with its bound as a line.

    The x axis is logarithmic (scales span decades); the y axis is linear from 0, so the gap
    between the update and its bound reads at its true size.

    Parameters
    ----------
    scales : array (K,)
        Factors the same tokens were multiplied by before entering the block.
    updates : array (K,) or (K, M)
        The update norms :math:`\\lVert X_{b+1,i} - X_{b,i}\\rVert` at each scale (``M``
        tokens are averaged).
    bound : float
        The weight-only bound :math:`\\Gamma_b` (:func:`~mae_theory.propagation.update_bound`),
        drawn as a dashed line: the theorem predicts every update lies below it.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> ax = plot_update_vs_scale([0.1, 1.0, 10.0], np.ones((3, 4)), 2.0)
    >>> ax.get_xscale(), ax.get_yscale(), float(ax.get_ylim()[0]), len(ax.lines)
    ('log', 'linear', 0.0, 2)
    >>> plt.close("all")
    """
    s = _np(scales).ravel()
    u = _np(updates).reshape(s.size, -1)
    if not np.isfinite(bound) or bound <= 0:
        raise ValueError(f"bound Gamma_b must be a positive number; got {bound!r}.")
    ax = _new_axes(ax, figsize=(4.8, 3.0))
    ax.semilogx(s, u.mean(axis=1), "o", color=OKABE_ITO[0], label="measured mean update")
    ax.axhline(bound, ls="--", color="0.3", label=r"bound $\Gamma_b$ (theory)")
    ax.set_ylim(0.0, 1.12 * max(bound, float(u.mean(axis=1).max())))
    ax.set_xlabel(r"input scale $\|X_b\| / \sqrt{D}$")
    ax.set_ylabel(r"update $\|X_{b+1} - X_b\|$")
    ax.legend(fontsize="small")
    return ax
