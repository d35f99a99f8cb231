"""Figures of the operator chapters (5 and 6): rates against theory, patch approximations,
attention spectra and effective ranks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..operators import patch_approximation
from .style import OKABE_ITO, _bare, _new_axes, _np


def plot_rate(x, measured, *, theory=None, slope: float | None = None, label: str = "measured",
              theory_label: str | None = None, color=None, loglog: bool = True, ax=None):
    """Measurements over seeds as markers with error bars, the theory as a line.

    Parameters
    ----------
    x : (K,) the abscissa (``h``, ``n``, ``r``...)
    measured : (S, K) one row per seed; drawn as mean +- standard deviation
    theory : (K,) optional predicted values, drawn as a line through all ``x``
    slope : optional reference power law ``c x^slope``, anchored at the geometric mean of the
        measured means (a rate prediction that says nothing about the constant)

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_rate([1, 2, 4], np.ones((3, 3)), slope=0.0)
    >>> len(ax.lines) >= 2
    True
    """
    ax = _new_axes(ax)
    x, m = _np(x).ravel(), np.atleast_2d(_np(measured))
    if m.shape[-1] != x.size:
        raise ValueError(f"measured must have shape (S, K) with K = len(x) = {x.size}; "
                         f"got {m.shape}.")
    mean, std = m.mean(axis=0), m.std(axis=0)
    bars = ax.errorbar(x, mean, yerr=std, fmt="o", color=color, capsize=3, label=label)
    color = bars[0].get_color()
    if theory is not None:
        ax.plot(x, _np(theory).ravel(), "-", color=color, alpha=0.7,
                label=theory_label or "theory")
    if slope is not None:
        c = np.exp(np.mean(np.log(mean)) - slope * np.mean(np.log(x)))
        ax.plot(x, c * x**slope, "--", color=color, alpha=0.7,
                label=theory_label or f"slope {slope:g}")
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.legend()
    return ax


def plot_patch_approximations(img, sizes, *, order: int = 0, fig=None):
    """The image and its patch-wise approximation ``Pi f`` for each patch size, in one row.

    Examples
    --------
    >>> import torch
    >>> fig = plot_patch_approximations(torch.rand(16, 16), [2, 8])
    >>> len(fig.axes)
    3
    """
    f = torch.as_tensor(_np(img))
    fig = fig or plt.figure(figsize=(2.2 * (len(sizes) + 1), 2.5))
    axes = fig.subplots(1, len(sizes) + 1)
    lo, hi = float(f.min()), float(f.max())
    axes[0].imshow(f.numpy(), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    axes[0].set_title(f"f ({f.shape[-1]} px)")
    for ax, p in zip(axes[1:], sizes):
        ax.imshow(patch_approximation(f, int(p), order).numpy(), cmap="gray", vmin=lo, vmax=hi,
                  interpolation="nearest")
        ax.set_title(f"$\\Pi_{order} f$, h = {p}/{f.shape[-1]}")
    for ax in axes:
        _bare(ax)
    return fig


def plot_erank_by_layer(eranks: dict, *, n_tokens: int | None = None, ax=None):
    """Effective rank per block, one curve per model family, mean +- sd over seeds.

    ``eranks`` maps a label to an array (S, blocks) (already averaged over heads and images).

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_erank_by_layer({"a": np.ones((3, 2))}, n_tokens=16)
    >>> ax.get_xlabel()
    'encoder block'
    """
    ax = _new_axes(ax)
    for i, (label, values) in enumerate(eranks.items()):
        v = np.atleast_2d(_np(values))
        blocks = np.arange(1, v.shape[1] + 1)
        ax.errorbar(blocks, v.mean(0), yerr=v.std(0), fmt="o-", capsize=3, label=label,
                    color=OKABE_ITO[i % len(OKABE_ITO)])
        ax.set_xticks(blocks)
    if n_tokens is not None:
        ax.axhline(n_tokens, color="grey", ls=":", label=f"T = {n_tokens} (full rank)")
    ax.axhline(1, color="grey", ls="--", lw=1, label="1 (uniform averaging)")
    ax.set_xlabel("encoder block")
    ax.set_ylabel("effective rank of the attention kernel")
    ax.legend()
    return ax


def plot_spectra(spectra: dict, *, ax=None):
    """Normalised singular values ``sigma_i / sigma_1`` of attention kernels, one curve each.

    ``spectra`` maps a label to an array (T,) of descending singular values.

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_spectra({"a": np.array([2.0, 1.0, 0.5])})
    >>> ax.get_yscale()
    'log'
    """
    ax = _new_axes(ax)
    for label, s in spectra.items():
        s = _np(s).ravel()
        ax.plot(np.arange(1, s.size + 1), s / s[0], "o-", ms=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("index i")
    ax.set_ylabel(r"$\sigma_i / \sigma_1$")
    ax.legend()
    return ax
