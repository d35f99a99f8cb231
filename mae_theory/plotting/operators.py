"""Figures of the operator chapters (5 and 6): rates against theory, an image cut into patches
with its patch-wise approximations, attention as quadrature on the image domain, attention
spectra and effective ranks.

Notation (book): an image ``f`` of ``H x H`` pixels on ``Omega = [0, 1]^2``, patches of side
``p``, mesh size ``h = p / H``, ``G = H / p`` patches per side and ``L = G^2`` tokens;
``Pi_0 f`` the patch mean and ``Pi_1 f`` the best plane per patch; the attention kernel
``kappa(xi, xi')`` of a query point ``xi`` on key points ``xi'``; ``n_keep`` kept tokens.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..operators import patch_approximation
from .style import OKABE_ITO, _bare, _new_axes, _np


def plot_rate(x, measured, *, theory=None, slope: float | None = None, label: str = "measured",
              theory_label: str | None = None, color=None, loglog: bool = True, ax=None,
              theory_range: tuple[float, float] | None = None):
    """Measurements over seeds as markers with error bars, the theory as a line.

    Parameters
    ----------
    x : (K,) the abscissa (``h``, ``n``, ``r``...)
    measured : (S, K) one row per seed; drawn as mean +- standard deviation
    theory : (K,) optional predicted values, drawn as a line through all ``x``
    slope : optional reference power law ``c x^slope``, anchored at the geometric mean of the
        measured means (a rate prediction that says nothing about the constant)
    theory_range : optional ``(lo, hi)``: draw the theory and the slope line only for
        ``lo <= x <= hi``, where the theory predicts (a slope line is then anchored on the
        measurements inside the range)

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
    inside = np.ones(x.size, dtype=bool)
    if theory_range is not None:
        lo, hi = theory_range
        inside = (x >= lo) & (x <= hi)
        if inside.sum() < 2:
            raise ValueError(f"theory_range must contain at least two of x = {x.tolist()}; "
                             f"got {theory_range!r}.")
    if theory is not None:
        ax.plot(x[inside], _np(theory).ravel()[inside], "-", color=color, alpha=0.7,
                label=theory_label or "theory")
    if slope is not None:
        xs, ms = x[inside], mean[inside]
        c = np.exp(np.mean(np.log(ms)) - slope * np.mean(np.log(xs)))
        ax.plot(xs, c * xs**slope, "--", color=color, alpha=0.7,
                label=theory_label or f"slope {slope:g}")
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.legend()
    return ax


def plot_patch_approximations(img, sizes, *, order: int = 0, fig=None,
                              row_label: str | None = None):
    """The image and its patch-wise approximation ``Pi f`` for each patch size, in one row.

    Columns are titled with the patch side ``p`` and mesh size ``h = p / H``; ``row_label``
    names the row (on the left), so that rows drawn into sub-figures read as a labelled grid.

    Examples
    --------
    >>> import torch
    >>> fig = plot_patch_approximations(torch.rand(16, 16), [2, 8], row_label="noise")
    >>> len(fig.axes), fig.axes[0].get_ylabel()
    (3, 'noise')
    """
    f = torch.as_tensor(_np(img))
    fig = fig or plt.figure(figsize=(min(7.5, 1.9 * (len(sizes) + 1)), 2.3))
    axes = fig.subplots(1, len(sizes) + 1)
    lo, hi = float(f.min()), float(f.max())
    side = f.shape[-1]
    axes[0].imshow(f.numpy(), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    axes[0].set_title(f"f, H = {side} px")
    for ax, p in zip(axes[1:], sizes):
        ax.imshow(patch_approximation(f, int(p), order).numpy(), cmap="gray", vmin=lo, vmax=hi,
                  interpolation="nearest")
        ax.set_title(f"$\\Pi_{order} f$, p = {p}")
    for ax in axes:
        _bare(ax)
    if row_label is not None:
        axes[0].set_ylabel(row_label)
    return fig


def plot_patch_decomposition(img, patch_size: int, *, fig=None, grid_color: str = "#E69F00"):
    """An image cut into patches and what a patch-wise summary keeps and loses, in one row.

    Four panels: ``f`` with the patch boundaries drawn over it; the patch mean ``Pi_0 f``; the
    best plane per patch ``Pi_1 f`` (each titled with its relative L2 error); and the texture
    ``f - Pi_0 f`` below the patch scale, on its own diverging scale with one colour bar. The
    first three share one grey scale.

    Examples
    --------
    >>> import torch
    >>> fig = plot_patch_decomposition(torch.rand(16, 16), 4)
    >>> len(fig.axes)  # four panels and one colour bar
    5
    """
    f = torch.as_tensor(_np(img))
    p = int(patch_size)
    side = f.shape[-1]
    pi0, pi1 = patch_approximation(f, p, 0), patch_approximation(f, p, 1)
    fig = fig or plt.figure(figsize=(7.5, 2.3))
    axes = fig.subplots(1, 4)
    lo, hi = float(f.min()), float(f.max())
    norm = float((f - f.mean()).pow(2).mean().sqrt()) or 1.0
    panels = [(f, f"f cut into {side // p} x {side // p} patches"),
              (pi0, "$\\Pi_0 f$ (patch mean)"), (pi1, "$\\Pi_1 f$ (best plane)")]
    for ax, (g, title) in zip(axes, panels):
        ax.imshow(g.numpy(), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        if g is not f:
            err = float((f - g).pow(2).mean().sqrt()) / norm
            title += f"\nerror {100 * err:.0f} %"
        ax.set_title(title, fontsize="medium")
    for k in range(1, side // p):
        axes[0].axhline(k * p - 0.5, color=grid_color, lw=0.8)
        axes[0].axvline(k * p - 0.5, color=grid_color, lw=0.8)
    tex = (f - pi0).numpy()
    amp = float(np.abs(tex).max()) or 1.0
    im = axes[3].imshow(tex, cmap="RdBu_r", vmin=-amp, vmax=amp, interpolation="nearest")
    axes[3].set_title("texture $f - \\Pi_0 f$", fontsize="medium")
    for ax in axes:
        _bare(ax)
    fig.colorbar(im, ax=axes[3], shrink=0.8)
    return fig


def plot_erank_by_layer(eranks: dict, *, n_tokens: int | None = None, ax=None):
    """Effective rank per block, one curve per model family, mean +- sd over seeds.

    ``eranks`` maps a label to an array (S, blocks) (already averaged over heads and images);
    ``n_tokens`` is the number of tokens ``L`` (the largest possible effective rank).

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
        ax.axhline(n_tokens, color="grey", ls=":", label=f"L = {n_tokens} (full rank)")
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


def plot_kernel_nodes(kernel, *, grid: int | None = None, keep=None, query=None,
                      title: str | None = None, vmax: float | None = None,
                      colorbar: bool = False, boundaries: bool = True, ax=None):
    """An attention kernel ``kappa(xi, .)`` on ``Omega = [0, 1]^2`` and the nodes that sum it.

    Parameters
    ----------
    kernel : (R, R) values of ``kappa(xi, xi')`` at the centres of an ``R x R`` grid of key
        points ``xi'`` (row-major like :func:`mae_theory.domain.cell_centres`: row ``a``,
        column ``b`` is the point ``((a + 1/2)/R, (b + 1/2)/R)``), drawn with ``xi'_1`` down
        and ``xi'_2`` across, like an image
    grid : optional ``G``: draw the ``G x G`` patch boundaries and the midpoint nodes
        ``xi_j`` (the patch centres, the tokens)
    keep : optional (G*G,) booleans: the tokens kept (filled dots); the others are drawn as
        crosses, visibly masked
    query : optional ``(xi_1, xi_2)``: the query point, drawn as a star
    vmax : the top of the colour scale (share it across panels); the bottom is 0
    colorbar : add a colour bar for this panel (once per shared scale)
    boundaries : draw the patch boundaries (turn off for fine grids, where they clutter)

    Examples
    --------
    >>> import numpy as np
    >>> keep = np.arange(16) % 3 == 0
    >>> ax = plot_kernel_nodes(np.random.rand(32, 32), grid=4, keep=keep, query=(0.3, 0.6))
    >>> [line.get_label() for line in ax.lines if not line.get_label().startswith("_")][:2]
    ['kept token (node)', 'masked token']
    """
    ax = _new_axes(ax, figsize=(3.2, 3.0))
    k = _np(kernel)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"kernel must be a square (R, R) array of kappa(xi, xi') values; got "
                         f"shape {k.shape}.")
    im = ax.imshow(k, cmap="viridis", vmin=0.0, vmax=vmax, extent=(0, 1, 1, 0),
                   interpolation="nearest")
    if grid is not None:
        g = int(grid)
        for t in np.arange(1, g) / g if boundaries else ():
            ax.axhline(t, color="white", lw=0.6, alpha=0.7)
            ax.axvline(t, color="white", lw=0.6, alpha=0.7)
        c = (np.arange(g) + 0.5) / g
        rows, cols = np.meshgrid(c, c, indexing="ij")
        rows, cols = rows.ravel(), cols.ravel()
        kept = np.ones(g * g, dtype=bool) if keep is None else _np(keep).ravel() > 0.5
        if kept.size != g * g:
            raise ValueError(f"keep must have G^2 = {g * g} entries for grid G = {g}; got "
                             f"{kept.size}.")
        ax.plot(cols[kept], rows[kept], "o", color="white", mec="black", ms=4, ls="none",
                label="kept token (node)")
        if not kept.all():
            ax.plot(cols[~kept], rows[~kept], "x", color="#D55E00", ms=3.5, mew=1.0, ls="none",
                    label="masked token")
    if query is not None:
        ax.plot([query[1]], [query[0]], "*", color="#E69F00", mec="black", ms=12, ls="none",
                label="query $\\xi$")
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    ax.set_xlabel("$\\xi'_2$")
    ax.set_ylabel("$\\xi'_1$")
    if title:
        ax.set_title(title, fontsize="medium")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label="$\\kappa(\\xi, \\xi')$")
    return ax
