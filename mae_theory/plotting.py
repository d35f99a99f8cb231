"""The book's figure style and one function per recurring figure.

Every function takes torch tensors or numpy arrays alike, draws into an axes or figure it is
given (or a new one), returns it, and never calls ``plt.show()``: the notebook displays it.
Images are expected in ``[0, 1]`` (use :meth:`mae_theory.data.ImageData.denormalize` first);
masks follow the package convention, ``1`` = masked = hidden from the encoder.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000")
"""The Okabe-Ito palette: distinguishable under the common forms of colour blindness."""
MASK_GREY = 0.5
"""Grey level painted over masked patches."""

BOOK_STYLE = {
    "figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
    "figure.figsize": (6.0, 4.0), "figure.constrained_layout.use": True,
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "lines.linewidth": 1.8, "lines.markersize": 6, "image.cmap": "viridis",
}


def use_book_style() -> None:
    """Set matplotlib's rcParams to the book's style (idempotent: calling twice is harmless).

    Examples
    --------
    >>> use_book_style()
    >>> plt.rcParams["axes.spines.top"], plt.rcParams["savefig.dpi"]
    (False, 150.0)
    """
    mpl.rcParams.update(BOOK_STYLE)


def _np(x) -> np.ndarray:
    """A float numpy copy of a tensor or array-like."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float64)


def _as_batch(images, name: str = "images") -> np.ndarray:
    """(N, C, H, W) or (C, H, W) -> (N, C, H, W) with C in {1, 3}, clipped to [0, 1]."""
    x = _np(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, C, H, W) or (C, H, W) with C = 1 or 3 "
                         f"and N >= 1; got {x.shape}. Move channels first (permute) if needed.")
    return np.clip(x, 0.0, 1.0)


def _to_hwc(img: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) for one channel, (H, W, 3) for three."""
    return img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))


def _imshow(ax, img: np.ndarray, cmap: str = "gray") -> None:
    """Show one (C, H, W) image in [0, 1] without ticks or frame."""
    ax.imshow(_to_hwc(img), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _bare(ax)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def _new_axes(ax, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _grid(shape: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Patches per column and per row, checking that ``p`` divides ``H`` and ``W``."""
    h, w = shape
    if (isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1
            or h % patch_size or w % patch_size):
        raise ValueError(f"patch size p={patch_size!r} must be a positive int dividing the "
                         f"image size H x W = {h} x {w}; pick a divisor of both.")
    return h // patch_size, w // patch_size


def _mask_pixels(mask, shape: tuple[int, int], patch_size: int) -> np.ndarray:
    """A (L,) patch mask (1 = masked) -> an (H, W) boolean pixel mask."""
    gh, gw = _grid(shape, patch_size)
    m = _np(mask).reshape(-1)
    if m.size != gh * gw:
        raise ValueError(f"mask must have L = (H/p)(W/p) = {gh * gw} entries for a "
                         f"{shape[0]} x {shape[1]} image and p={patch_size}; got {m.size}.")
    return np.kron(m.reshape(gh, gw) > 0.5, np.ones((patch_size, patch_size), dtype=bool))


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


def plot_loss_curve(history, *, ax=None, label: str | None = None, show_lr: bool = False):
    """Training loss against step on a log scale (and the learning rate on a twin axis).

    Parameters
    ----------
    history : list of dict
        One dict per logged step with keys ``"step"`` and ``"loss"`` (``"lr"`` optional), as in
        ``TrainResult.history``.
    ax : matplotlib.axes.Axes, optional
        Draw into it (several curves on one axes: call again with ``label=``).
    label : str, optional
        Legend entry for this curve.
    show_lr : bool, default False
        Also draw ``"lr"`` (dashed, right axis).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> hist = [{"step": s, "loss": 1.0 / (s + 1), "lr": 1e-3} for s in range(10)]
    >>> ax = plot_loss_curve(hist, label="digits")
    >>> ax.get_yscale(), len(ax.lines)
    ('log', 1)
    >>> plt.close("all")
    """
    if len(history) == 0:
        raise ValueError("history is empty; it needs dicts with keys 'step' and 'loss'.")
    keys = ("step", "loss", "lr") if show_lr else ("step", "loss")
    missing = sorted({k for row in history for k in keys if k not in row})
    if missing:
        raise ValueError(f"every history entry needs the keys {keys}; missing {missing}.")
    step = [float(row["step"]) for row in history]
    ax = _new_axes(ax)
    ax.plot(step, [float(row["loss"]) for row in history], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if show_lr:
        twin = ax.twinx()
        twin.plot(step, [float(row["lr"]) for row in history], color="0.4", linestyle="--")
        twin.set_ylabel("learning rate")
    if label is not None:
        ax.legend()
    return ax


def plot_ratio_sweep(ratios, values, *, baseline: float | None = None, ax=None,
                     ylabel: str = "value", xlabel: str = r"mask ratio $r$",
                     label: str | None = None, baseline_label: str = "baseline"):
    """A measurement against the mask ratio: markers, mean +- std over seeds when 2-D.

    Parameters
    ----------
    ratios : array-like, shape (R,)
        The mask ratios ``r`` (or any swept parameter; set ``xlabel``).
    values : array-like, shape (R,) or (S, R)
        One value per ratio, or one row per seed; rows give error bars of one standard
        deviation (``ddof=1``) around the mean.
    baseline : float, optional
        Drawn as a dashed horizontal line (e.g. a probe on raw pixels).
    ax : matplotlib.axes.Axes, optional
    ylabel, xlabel, label, baseline_label : str

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> vals = np.array([[0.80, 0.85, 0.83], [0.82, 0.86, 0.81]])
    >>> ax = plot_ratio_sweep([0.5, 0.75, 0.9], vals, baseline=0.78, ylabel="accuracy")
    >>> len(ax.containers), ax.get_legend_handles_labels()[1]  # one error-bar set
    (1, ['baseline'])
    >>> plt.close("all")
    """
    r, v = _np(ratios).reshape(-1), _np(values)
    if v.ndim not in (1, 2) or v.shape[-1] != r.size or r.size == 0:
        raise ValueError(f"values must have shape (R,) or (S, R) with R = len(ratios) = "
                         f"{r.size} >= 1; got {v.shape}. Put seeds on the first axis.")
    spread = v.std(axis=0, ddof=1) if v.ndim == 2 and v.shape[0] > 1 else None
    mean = v.mean(axis=0) if v.ndim == 2 else v
    ax = _new_axes(ax)
    ax.errorbar(r, mean, yerr=spread, fmt="o", capsize=3, label=label)
    if baseline is not None:
        ax.axhline(float(baseline), color="0.3", linestyle="--", linewidth=1.2,
                   label=baseline_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if label is not None or baseline is not None:
        ax.legend()
    return ax
