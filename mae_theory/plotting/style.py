"""The book's figure style and the small helpers every figure module shares.

Every plotting function takes torch tensors or numpy arrays alike, draws into an axes or figure
it is given (or a new one), returns it, and never calls ``plt.show()``: the notebook displays it.
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

PAGE_WIDTH_IN = 7.5
"""Widest figure, in inches, that the book shows at its natural size: the HTML page's text column.
A wider figure is scaled down, and its 9-pt labels with it."""
MIN_FONT_PT = 9
"""Smallest font size a figure may use, in points at page width."""

BOOK_STYLE = {
    "figure.dpi": 150, "savefig.dpi": 150, "savefig.bbox": "tight",
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
    >>> plt.rcParams["axes.spines.top"], plt.rcParams["figure.dpi"]
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
