"""Figures of images, patches, masks and reconstructions (chapter 1 onwards).

Images are expected in ``[0, 1]`` (use :meth:`mae_theory.data.ImageData.denormalize` first);
masks follow the package convention, ``1`` = masked = hidden from the encoder.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import (
    MASK_GREY,
    _as_batch,
    _bare,
    _grid,
    _imshow,
    _mask_pixels,
    _new_axes,
    _np,
)


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


def plot_patches(img, patch_size: int, *, mask=None, ax=None):
    """One image with its patch grid drawn and the masked patches painted grey.

    Parameters
    ----------
    img : torch.Tensor or numpy.ndarray, shape (C, H, W)
        Values in [0, 1]; ``C`` is 1 or 3.
    patch_size : int
        The patch side ``p``; it must divide ``H`` and ``W``.
    mask : array-like, shape (L,), optional
        ``1`` for masked patches (the set M), in the row-major token order of ``patchify``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, torch
    >>> ax = plot_patches(torch.rand(1, 8, 8), 4, mask=torch.tensor([1, 0, 0, 1]))
    >>> len(ax.images), len(ax.lines)
    (1, 6)
    >>> plt.close("all")
    """
    x = _as_batch(img, "img")
    if x.shape[0] != 1:
        raise ValueError(f"img must be one image of shape (C, H, W); got a batch of "
                         f"{x.shape[0]}. Pass img[0], or use show_images for a batch.")
    x = x[0]
    gh, gw = _grid(x.shape[1:], patch_size)
    if mask is not None:
        x = np.where(_mask_pixels(mask, x.shape[1:], patch_size)[None], MASK_GREY, x)
    ax = _new_axes(ax, figsize=(3.0, 3.0))
    _imshow(ax, x)
    for k in range(gh + 1):
        ax.axhline(k * patch_size - 0.5, color="0.8", linewidth=0.8)
    for k in range(gw + 1):
        ax.axvline(k * patch_size - 0.5, color="0.8", linewidth=0.8)
    return ax


def plot_reconstructions(originals, masks, reconstructions, patch_size: int, *,
                         titles=("original", "visible", "reconstruction"), error: bool = False,
                         fig=None):
    """The reconstruction grid: one row per image; original, visible patches, reconstruction.

    The reconstruction column pastes the visible patches of the original over the prediction,
    as in the MAE paper, so only the masked patches show the model's work. With ``error=True``
    a fourth column shows ``|reconstruction - original|`` (channel mean) on a shared scale.

    Parameters
    ----------
    originals, reconstructions : tensor or array, shape (N, C, H, W)
        Values in [0, 1] (``ImageData.denormalize`` maps model outputs there).
    masks : tensor or array, shape (N, L)
        ``1`` = masked, as returned by ``MAE.forward`` or ``MAE.reconstruct``.
    patch_size : int
        The patch side ``p``.
    titles : sequence of str
        Column titles: three, or four with ``error=True`` (``"error"`` is added to three).
    error : bool, default False
        Add the error column.
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw in.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt, torch
    >>> x, mask = torch.rand(2, 1, 8, 8), torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0]])
    >>> fig = plot_reconstructions(x, mask, torch.rand(2, 1, 8, 8), 4, error=True)
    >>> len(fig.axes)  # 2 rows x 4 columns + the error colour bar
    9
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
    fig = plt.figure(figsize=(1.8 * k, 1.8 * n)) if fig is None else fig
    axes = fig.subplots(n, k, squeeze=False)
    pix = np.stack([_mask_pixels(m[i], x.shape[2:], patch_size) for i in range(n)])[:, None]
    pasted = np.where(pix, rec, x)
    err = np.abs(pasted - x).mean(axis=1)
    vmax = max(float(err.max()), 1e-6)
    for i in range(n):
        _imshow(axes[i, 0], x[i])
        _imshow(axes[i, 1], np.where(pix[i], MASK_GREY, x[i]))
        _imshow(axes[i, 2], pasted[i])
        if error:
            im = axes[i, 3].imshow(err[i], cmap="magma", vmin=0.0, vmax=vmax,
                                   interpolation="nearest")
            _bare(axes[i, 3])
    for j, t in enumerate(titles):
        axes[0, j].set_title(t)
    if error:
        fig.colorbar(im, ax=axes[:, 3], shrink=0.8)
    return fig
