"""Figures of images, patches, masks and reconstructions (chapter 1 onwards).

Images are expected in ``[0, 1]`` (use :meth:`mae_theory.data.ImageData.denormalize` first);
masks follow the package convention, ``1`` = masked = hidden from the encoder (the set
:math:`\\mathcal M`; the others form :math:`\\mathcal V`).

Masked patches are *marked*, not painted a pixel value: a light orange tint with hatching and a
thin orange border (:data:`MASK_TINT`, :data:`MASK_EDGE`), which no grey-scale pixel can be
mistaken for. In a reconstruction the predicted patches keep the orange border only.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .style import (
    OKABE_ITO,
    _as_batch,
    _bare,
    _grid,
    _imshow,
    _mask_pixels,
    _new_axes,
    _np,
)

MASK_TINT = "#FBE3D6"
"""Fill of a masked patch: a light orange that no grey-scale pixel takes."""
MASK_EDGE = OKABE_ITO[1]
"""Border (and hatching) colour of a masked or predicted patch: Okabe-Ito vermillion."""


def mark_masked_patches(ax, mask, shape: tuple[int, int], patch_size: int, *,
                        hide: bool = True, linewidth: float = 1.0):
    """Mark the masked patches of an image drawn in ``ax`` (pixel coordinates, as ``imshow``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes holding an ``imshow`` of an image of size ``shape``.
    mask : array-like, shape (L,)
        ``1`` for masked patches, in the row-major token order of ``patchify``.
    shape : (int, int)
        The image's ``(H, W)``.
    patch_size : int
        The patch side ``p``.
    hide : bool, default True
        ``True``: cover each masked patch with the tinted, hatched mark (the encoder's view);
        ``False``: draw only the thin border (to show which patches were predicted).
    linewidth : float, default 1.0

    Returns
    -------
    list of matplotlib.patches.Rectangle
        One per masked patch.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> fig, ax = plt.subplots()
    >>> _ = ax.imshow(np.zeros((8, 8)))
    >>> len(mark_masked_patches(ax, [1, 0, 0, 1], (8, 8), 4))
    2
    >>> plt.close(fig)
    """
    gh, gw = _grid(shape, patch_size)
    m = _np(mask).reshape(-1)
    if m.size != gh * gw:
        raise ValueError(f"mask must have L = (H/p)(W/p) = {gh * gw} entries for a "
                         f"{shape[0]} x {shape[1]} image and p={patch_size}; got {m.size}.")
    marks = []
    for k in np.flatnonzero(m > 0.5):
        i, j = divmod(int(k), gw)
        xy = (j * patch_size - 0.5, i * patch_size - 0.5)
        if hide:
            rect = Rectangle(xy, patch_size, patch_size, facecolor=MASK_TINT, edgecolor=MASK_EDGE,
                             hatch="///", linewidth=linewidth, zorder=3)
        else:
            rect = Rectangle(xy, patch_size, patch_size, facecolor="none", edgecolor=MASK_EDGE,
                             linewidth=linewidth, zorder=3)
        ax.add_patch(rect)
        marks.append(rect)
    return marks


def show_images(ax, images, *, nrow: int = 8, title: str | None = None, cmap: str = "gray",
                padding: int = 1):
    """Tile a batch of images into one axes, ``nrow`` images per row, on a white background.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        Where to draw; ``None`` makes a new figure.
    images : torch.Tensor or numpy.ndarray, shape (N, C, H, W) or (C, H, W)
        Values in [0, 1] (clipped); ``C = 1`` is drawn with ``cmap``, ``C = 3`` as RGB.
    nrow : int, default 8
        Images per row of the tiling.
    title : str, optional
    cmap : str, default "gray"
    padding : int, default 1
        White pixels between images.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, torch
    >>> ax = show_images(None, torch.rand(10, 1, 8, 8), nrow=5)
    >>> ax.images[0].get_array().shape
    (19, 46)
    >>> plt.close("all")
    """
    x = _as_batch(images)
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow (images per row) must be a positive int; got {nrow!r}.")
    n, c, h, w = x.shape
    cols, rows = min(nrow, n), -(-n // nrow)
    canvas = np.ones((c, rows * (h + padding) + padding, cols * (w + padding) + padding))
    for i in range(n):
        top, left = padding + (i // cols) * (h + padding), padding + (i % cols) * (w + padding)
        canvas[:, top:top + h, left:left + w] = x[i]
    ax = _new_axes(ax, figsize=(min(1.0 * cols, 10.0), min(1.0 * rows, 10.0)))
    _imshow(ax, canvas, cmap)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_patches(img, patch_size: int, *, mask=None, ax=None, title: str | None = None,
                 show_masked: bool = False, grid_colour: str = "0.8"):
    """One image with its patch grid drawn and the masked patches marked.

    A masked patch is covered by the book's mask mark (a light orange tint, hatching and an
    orange border; see :func:`mark_masked_patches`), so it cannot be read as a pixel value.

    Parameters
    ----------
    img : torch.Tensor or numpy.ndarray, shape (C, H, W)
        Values in [0, 1]; ``C`` is 1 or 3.
    patch_size : int
        The patch side :math:`p`; it must divide :math:`H` and :math:`W`.
    mask : array-like, shape (L,), optional
        ``1`` for masked patches (the set :math:`\\mathcal M`), in the row-major token order of
        ``patchify``.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        The axes title.
    show_masked : bool, default False
        ``True`` keeps the masked patches' pixels and only outlines them (which patches will be
        hidden); ``False`` hides them under the mark (what the encoder sees).
    grid_colour : str, default "0.8"
        Colour of the patch grid lines.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, torch
    >>> ax = plot_patches(torch.rand(1, 8, 8), 4, mask=torch.tensor([1, 0, 0, 1]), title="r = 0.5")
    >>> len(ax.images), len(ax.lines), len(ax.patches)  # image, 3 + 3 grid lines, 2 marks
    (1, 6, 2)
    >>> plt.close("all")
    """
    x = _as_batch(img, "img")
    if x.shape[0] != 1:
        raise ValueError(f"img must be one image of shape (C, H, W); got a batch of "
                         f"{x.shape[0]}. Pass img[0], or use show_images for a batch.")
    x = x[0]
    gh, gw = _grid(x.shape[1:], patch_size)
    ax = _new_axes(ax, figsize=(3.0, 3.0))
    if mask is not None and not show_masked:  # the hidden pixels do not even reach the image
        x = np.where(_mask_pixels(mask, x.shape[1:], patch_size)[None], 1.0, x)
    _imshow(ax, x)
    for k in range(gh + 1):
        ax.axhline(k * patch_size - 0.5, color=grid_colour, linewidth=0.8)
    for k in range(gw + 1):
        ax.axvline(k * patch_size - 0.5, color=grid_colour, linewidth=0.8)
    if mask is not None:
        mark_masked_patches(ax, mask, x.shape[1:], patch_size, hide=not show_masked,
                            linewidth=1.5 if show_masked else 1.0)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_reconstructions(originals, masks, reconstructions, patch_size: int, *,
                         titles=("original", "masked input", "reconstruction"),
                         error: bool = False, fig=None, row_labels: Sequence[str] | None = None,
                         outline_predicted: bool = True):
    """The reconstruction grid: one row per image; original, masked input, reconstruction.

    The masked-input column covers the masked patches :math:`\\mathcal M` with the book's mask
    mark (tint, hatching, orange border), never with a grey that could pass for pixels. The
    reconstruction column pastes the visible patches of the original over the prediction, as in
    the MAE paper, so only the masked patches show the model's work; they keep a thin orange
    border (``outline_predicted``). With ``error=True`` a fourth column shows
    ``|reconstruction - original|`` (channel mean) on one shared scale with one colour bar.

    Parameters
    ----------
    originals, reconstructions : tensor or array, shape (N, C, H, W)
        Values in [0, 1] (``ImageData.denormalize`` maps model outputs there).
    masks : tensor or array, shape (N, L)
        ``1`` = masked, as returned by ``MAE.forward`` or ``MAE.reconstruct``.
    patch_size : int
        The patch side :math:`p`.
    titles : sequence of str
        Column titles: three, or four with ``error=True`` (``"error"`` is added to three).
    error : bool, default False
        Add the error column.
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw in; a new one is at most 7.2 in wide.
    row_labels : sequence of str, optional
        One label per row (for example ``"r = 0.75"``), written left of the row.
    outline_predicted : bool, default True
        Outline the predicted (masked) patches in the reconstruction column.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt, torch
    >>> x, mask = torch.rand(2, 1, 8, 8), torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0]])
    >>> fig = plot_reconstructions(x, mask, torch.rand(2, 1, 8, 8), 4, error=True,
    ...                            row_labels=["r = 0.5", "r = 0.5"])
    >>> len(fig.axes)  # 2 rows x 4 columns + the error colour bar
    9
    >>> fig.axes[0].get_ylabel()
    'r = 0.5'
    >>> plt.close(fig)
    """
    x, rec = _as_batch(originals, "originals"), _as_batch(reconstructions, "reconstructions")
    m = _np(masks)
    if rec.shape != x.shape or m.ndim != 2 or m.shape[0] != x.shape[0]:
        raise ValueError(f"originals and reconstructions must share a shape (N, C, H, W) and "
                         f"masks be (N, L); got {x.shape}, {rec.shape} and {m.shape}.")
    titles = tuple(titles) + (("error",) if error and len(titles) == 3 else ())
    if len(titles) != 3 + error:
        raise ValueError(f"titles needs {3 + error} entries (error={error}); got {len(titles)}.")
    n, k = x.shape[0], len(titles)
    if row_labels is not None:
        row_labels = [str(t) for t in row_labels]
        if len(row_labels) != n:
            raise ValueError(f"row_labels needs one label per image ({n}); got "
                             f"{len(row_labels)}.")
    if fig is None:
        side = min(1.8, 7.2 / (k + 0.3 * (row_labels is not None)))
        fig = plt.figure(figsize=(side * (k + 0.3 * (row_labels is not None)), side * n))
    axes = fig.subplots(n, k, squeeze=False)
    pix = np.stack([_mask_pixels(m[i], x.shape[2:], patch_size) for i in range(n)])[:, None]
    pasted = np.where(pix, rec, x)
    err = np.abs(pasted - x).mean(axis=1)
    vmax = max(float(err.max()), 1e-6)
    for i in range(n):
        _imshow(axes[i, 0], x[i])
        _imshow(axes[i, 1], np.where(pix[i], 1.0, x[i]))
        mark_masked_patches(axes[i, 1], m[i], x.shape[2:], patch_size)
        _imshow(axes[i, 2], pasted[i])
        if outline_predicted:
            mark_masked_patches(axes[i, 2], m[i], x.shape[2:], patch_size, hide=False,
                                linewidth=0.8)
        if error:
            im = axes[i, 3].imshow(err[i], cmap="magma", vmin=0.0, vmax=vmax,
                                   interpolation="nearest")
            _bare(axes[i, 3])
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i])
    for j, t in enumerate(titles):
        axes[0, j].set_title(t)
    if error:
        fig.colorbar(im, ax=axes[:, 3], shrink=0.8, label="|error|")
    return fig
