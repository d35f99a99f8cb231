"""Interactive explorers for the chapters, precomputed so they also work in the static book.

A Jupyter widget normally redraws by calling back into the kernel, and the HTML book has no
kernel: its widgets would show only their saved first frame. So every explorer here draws all
its frames when the chapter executes, over a small grid of control values, and lets the browser
pick the frame:

* each control is a selection widget (``SelectionSlider`` or ``ToggleButtons``) whose ``index``
  says which grid value is chosen;
* the frames sit in nested :class:`ipywidgets.Stack` s, one nesting level per control, and each
  Stack's ``selected_index`` is tied to its control's ``index`` by :func:`ipywidgets.jslink`,
  a link that runs in the browser (in Jupyter and in the exported page alike);
* a frame is one small ``HTML`` widget: the figure as an inline PNG (palette colours, modest
  dpi) and its caption as text.

With controls of ``n_1, ..., n_k`` values there are ``n_1 * ... * n_k`` frames, so the grids are
kept short: a chapter's saved widget state stays in the hundreds of kilobytes.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .checks import check_int

__all__ = ["figure_png", "frame_html", "frame_stack", "patch_approximation_explorer",
           "reconstruction_explorer", "shared_dim_explorer", "shared_latents_explorer"]

DPI = 100        # dots per inch of the frames: shown at natural size, 10-pt labels read at 14 px
COLOURS = 32     # palette size of the PNG frames (the figures use a few colours and greys)


def figure_png(fig, *, dpi: int = DPI, colours: int = COLOURS, close: bool = True) -> bytes:
    """Render a matplotlib figure to palette PNG bytes (and close it, unless ``close=False``).

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 1))
    >>> png = figure_png(fig)
    >>> png[:4] == b"\\x89PNG"
    True
    """
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(colors=colours)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def frame_html(png: bytes, caption: str = "", *, alt: str = "explorer frame") -> widgets.HTML:
    """One frame: the PNG inline (a ``data:`` URI, so the page needs no other file) and a caption.

    Examples
    --------
    >>> frame_html(b"\\x89PNG", "r = 0.5").value.startswith('<figure class="mae-frame"')
    True
    """
    data = base64.b64encode(png).decode("ascii")
    text = html.escape(caption).replace("\n", "<br>")
    return widgets.HTML(f'<figure class="mae-frame" style="margin:0">'
                        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
                        f'<figcaption style="font-family:monospace;font-size:0.85em">{text}'
                        f'</figcaption></figure>')


def frame_stack(controls: Sequence[widgets.Widget],
                draw: Callable[..., tuple[bytes, str]]) -> widgets.Stack:
    """Nested Stacks holding ``draw(*values)`` for every combination of the controls' values.

    Parameters
    ----------
    controls : selection widgets (``SelectionSlider``, ``ToggleButtons``, ...), outermost first
        Each one's ``index`` is linked in the browser to the Stacks of its nesting level.
    draw : callable
        ``draw(v_1, ..., v_k) -> (png_bytes, caption)``, called once per combination, in
        ``itertools.product`` order (the last control varies fastest, so a draw can reuse work
        done for the same leading values).

    Returns
    -------
    ipywidgets.Stack
        Showing the frame of the controls' current values; moving a control (in Jupyter or in
        the static HTML page) switches the frame without a kernel.

    Examples
    --------
    >>> a = widgets.ToggleButtons(options=[("one", 1), ("two", 2)])
    >>> b = widgets.SelectionSlider(options=[("x", 10), ("y", 20), ("z", 30)], value=20)
    >>> def draw(u, v):
    ...     fig, ax = plt.subplots(figsize=(1, 1))
    ...     return figure_png(fig), f"{u * v}"
    >>> stack = frame_stack([a, b], draw)
    >>> len(stack.children), len(stack.children[0].children), stack.children[0].selected_index
    (2, 3, 1)
    """
    if not controls:
        raise ValueError("controls is empty; pass at least one selection widget.")
    for c in controls:
        if not hasattr(c, "index") or not hasattr(c, "options"):
            raise TypeError(f"each control must be a selection widget with an index (e.g. "
                            f"SelectionSlider, ToggleButtons); got {type(c).__name__}.")
    values = [[v for _, v in _labelled(c.options)] for c in controls]
    frames = iter([frame_html(*draw(*combo)) for combo in itertools.product(*values)])

    def level(depth: int) -> widgets.Stack:
        control = controls[depth]
        if depth == len(controls) - 1:
            children = [next(frames) for _ in values[depth]]
        else:
            children = [level(depth + 1) for _ in values[depth]]
        stack = widgets.Stack(children, selected_index=control.index)
        widgets.jslink((control, "index"), (stack, "selected_index"))
        return stack

    return level(0)


def _labelled(options) -> list[tuple[str, object]]:
    """A selection widget's options as (label, value) pairs."""
    return [o if isinstance(o, tuple) else (str(o), o) for o in options]


def _grid_with(grid: Sequence[float], value: float) -> list[float]:
    """The sorted grid, with ``value`` added if it is not on it (the initial position)."""
    return sorted({round(float(v), 4) for v in grid} | {round(float(value), 4)})


def reconstruction_explorer(models: dict, data, *, mask_ratio: float = 0.75, index: int = 0,
                            seed: int = 0, ratios: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
                            n_images: int = 3) -> widgets.Widget:
    """Controls for the mask ratio ``r``, the patch size ``p`` and the image (chapter 1).

    Each frame shows the original, the visible patches, the reconstruction and its error, and
    the masked-patch error of the shown image.

    Parameters
    ----------
    models : dict mapping patch size p to a trained MAE
    data : ImageData
        Images to reconstruct (normalised, as the models were trained).
    mask_ratio : float
        Initial mask ratio ``r``; added to ``ratios`` if it is not on it.
    index : int
        First image shown; the image control offers images ``index, ..., index + n_images - 1``.
    seed : int
        Seeds the masks, so the same setting always shows the same mask.
    ratios : mask ratios offered by the slider.
    n_images : number of images offered.

    Examples
    --------
    >>> from mae_theory import MAE, load_digits
    >>> mae = MAE(8, 4, 1, 16, 1, 2, 16, 1, 2, seed=0)
    >>> box = reconstruction_explorer({4: mae}, load_digits(), ratios=[0.5], n_images=1)
    >>> box.children[0].children[0].value
    0.75
    """
    from .metrics import masked_mse
    from .plotting import plot_reconstructions

    if not models:
        raise ValueError("models is empty; pass {patch_size: trained MAE}.")
    n_images = check_int("n_images", n_images, low=1, high=len(data),
                         fix="Offer fewer images.")
    index = check_int("index", index, low=0, high=len(data) - n_images,
                      fix=f"Pick a first image in [0, {len(data) - n_images}].")
    seed = check_int("seed", seed, low=0, fix="Pass an int: every frame of a setting must "
                     "show the same mask.")
    grid = _grid_with(ratios, mask_ratio)
    ratio = widgets.SelectionSlider(options=[(f"{r:.2f}", r) for r in grid],
                                    value=round(float(mask_ratio), 4), description="mask ratio r")
    sizes = sorted(models)
    patch = widgets.ToggleButtons(options=sizes, value=sizes[0], description="patch size p")
    shown = list(range(index, index + n_images))
    image = widgets.SelectionSlider(options=[(str(i), i) for i in shown], value=index,
                                    description="image")

    def draw(i: int, p: int, r: float) -> tuple[bytes, str]:
        model = models[p]
        x = data.images[i : i + 1]
        try:
            recon, mask = model.reconstruct(x, r, seed=seed)
        except ValueError as err:  # e.g. a ratio that leaves no visible patch at this p
            fig = plt.figure(figsize=(7.2, 0.4))
            return figure_png(fig), str(err)
        err = masked_mse(model.patchify(recon), model.patchify(x), mask)
        fig = plt.figure(figsize=(7.2, 2.4))
        plot_reconstructions(data.denormalize(x), mask, data.denormalize(recon), p,
                             error=True, fig=fig)
        return figure_png(fig), (f"p={p}: {int(mask.sum())} of {mask.shape[1]} patches masked, "
                                 f"masked-patch MSE {err.item():.3f} (normalised units)")

    frames = frame_stack([image, patch, ratio], draw)
    return widgets.VBox([widgets.HBox([ratio, image]), patch, frames])


def patch_approximation_explorer(images: dict, sizes: Sequence[int] = (2, 4, 8, 16, 32), *,
                                 order: int = 0) -> widgets.Widget:
    """Controls for the image, the patch size ``p`` (mesh size ``h = p/H``) and the order (0 or 1).

    Each frame shows an image ``f``, its patch-wise approximation (``Pi_0 f`` or ``Pi_1 f``), the
    error ``f - Pi f`` and ``||f - Pi f||_{L2}`` (chapter 5).

    Parameters
    ----------
    images : dict mapping a name to an (H, H) image, e.g. a smooth and a rough one
    sizes : patch sizes offered by the slider (each must divide H)
    order : initial approximation order, 0 (patch mean) or 1 (plane per patch)

    Examples
    --------
    >>> import torch
    >>> box = patch_approximation_explorer({"ramp": torch.ones(8, 8)}, sizes=(2, 4))
    >>> [c.description for c in box.children[1].children]
    ['patch p', 'order']
    """
    import torch

    from .operators import patch_approximation, patch_approximation_error

    if not images:
        raise ValueError("images is empty; pass {name: (H, H) image}.")
    if order not in (0, 1):
        raise ValueError(f"order (k) must be 0 or 1; got {order!r}. Use 0 for patch means, 1 for "
                         f"planes.")
    names = list(images)
    which = widgets.ToggleButtons(options=names, value=names[0], description="image")
    size = widgets.SelectionSlider(options=list(sizes), value=sizes[len(sizes) // 2],
                                   description="patch p")
    deg = widgets.ToggleButtons(options=[0, 1], value=order, description="order")

    def draw(name: str, p: int, k: int) -> tuple[bytes, str]:
        f = torch.as_tensor(images[name], dtype=torch.float64)
        approx = patch_approximation(f, p, k)
        fig, axes = plt.subplots(1, 3, figsize=(6.4, 2.2))
        lo, hi = float(f.min()), float(f.max())
        for ax, img, title in [(axes[0], f, "f"), (axes[1], approx, f"Pi_{k} f"),
                               (axes[2], f - approx, "f - Pi f")]:
            ax.imshow(img.numpy(), cmap="gray", vmin=lo if ax is not axes[2] else None,
                      vmax=hi if ax is not axes[2] else None, interpolation="nearest")
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
        err = float(patch_approximation_error(f, p, k))
        return figure_png(fig), (f"h = p/H = {p}/{f.shape[-1]} = {p / f.shape[-1]:.4f}: "
                                 f"||f - Pi_{k} f||_L2 = {err:.4f}")

    frames = frame_stack([which, size, deg], draw)
    return widgets.VBox([which, widgets.HBox([size, deg]), frames])


def _default_masks(leaves: Sequence[str], masked: Sequence[str]) -> list[tuple[str, ...]]:
    """The start mask, then the first k leaves for every k, then every other leaf (both ways)."""
    out = [tuple(v for v in leaves if v in set(masked))]
    out += [tuple(leaves[:k]) for k in range(1, len(leaves))]
    out += [tuple(leaves[::2]), tuple(leaves[1::2])]
    return list(dict.fromkeys(m for m in out if 0 < len(m) < len(leaves)))


def shared_latents_explorer(tree, masked: Sequence[str] = ("x1",), *,
                            masks: Sequence[Sequence[str]] | None = None) -> widgets.Widget:
    """A slider over masks ``M``: draws the tree with ``c(m)`` highlighted and prints
    ``dim c(m)`` (chapter 2).

    Parameters
    ----------
    tree : mae_theory.hierarchy.LatentTree
    masked : iterable of str
        Leaves masked at the start (always one of the offered masks).
    masks : masks offered, each a list of leaf names
        Default: the start mask, the first ``k`` leaves for each ``k``, and every other leaf.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> box = shared_latents_explorer(LatentTree.balanced(2, 2), masked=["x1", "x3"])
    >>> box.children[0].value
    ('x1', 'x3')
    """
    from .plotting.hierarchy import plot_tree
    from .theory import deepest_shared_latents, shared_dim, shared_latents

    leaves = list(tree.leaves)
    offered = [tuple(m) for m in (masks or [])] or _default_masks(leaves, masked)
    start = tuple(v for v in leaves if v in set(masked))
    if start not in offered:
        offered.insert(0, start)
    for m in [tuple(masked)] + offered:
        unknown = set(m) - set(leaves)
        if unknown:
            raise ValueError(f"masked names {sorted(unknown)} are not leaves of the tree; the "
                             f"leaves are {leaves}.")
        if not m or len(set(m)) == len(leaves):
            raise ValueError(f"mask M={list(m)} must mask at least one leaf and leave one "
                             f"visible (c(m) needs both); change it.")
    choice = widgets.SelectionSlider(options=[(",".join(m), m) for m in offered], value=start,
                                     description="masked m", layout=widgets.Layout(width="80%"))

    def draw(m: tuple[str, ...]) -> tuple[bytes, str]:
        ax = plot_tree(tree, masked=list(m))
        deep = sorted(deepest_shared_latents(tree, list(m)))
        return figure_png(ax.figure, dpi=80), (  # node labels are small: a finer dpi
            f"masked m = {list(m)}\nc(m) = {sorted(shared_latents(tree, list(m)))}, determined "
            f"by its deepest nodes {deep}; dim c(m) = {shared_dim(tree, list(m))}")

    return widgets.VBox([choice, frame_stack([choice], draw)])


def shared_dim_explorer(tree, *, mask_ratio: float = 0.5, unit: int = 1, n_draws: int = 500,
                        ratios: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9)) -> widgets.Widget:
    """Controls for the masking unit ``u`` (aligned or shifted by one leaf) and the mask ratio
    ``r``: plots the predicted ``E[dim c(m)]`` against ``r`` and prints its value at the chosen
    ``r`` (chapter 4).

    Parameters
    ----------
    tree : mae_theory.hierarchy.LatentTree
    mask_ratio, unit : initial positions (``unit`` must divide the number of leaves ``L``).
    n_draws : int
        Random masks per point (:func:`mae_theory.theory.expected_shared_dim`).
    ratios : mask ratios offered by the slider (the curves use a grid of step 0.05).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> box = shared_dim_explorer(LatentTree.balanced(2, 2), n_draws=20, ratios=[0.5])
    >>> box.children[0].children[1].options
    (1, 2)
    """
    import numpy as np

    from .plotting.leakage import plot_expected_dim

    n = len(tree.leaves)
    units = [u for u in range(1, n) if n % u == 0]
    if unit not in units:
        raise ValueError(f"unit u={unit!r} must divide the number of leaves L={n}; pick one "
                         f"of {units}.")
    n_draws = check_int("n_draws", n_draws, low=1)
    curve_grid = [round(float(r), 2) for r in np.linspace(0.05, 0.95, 19)]
    grid = _grid_with(ratios, mask_ratio)
    if not set(grid) <= set(curve_grid):
        raise ValueError(f"mask ratios r must be multiples of 0.05 in [0.05, 0.95]; got "
                         f"{sorted(set(grid) - set(curve_grid))}. Round them.")
    ratio = widgets.SelectionSlider(options=[(f"{r:.2f}", r) for r in grid],
                                    value=round(float(mask_ratio), 4), description="mask ratio r")
    size = widgets.SelectionSlider(options=units, value=unit, description="unit u")
    shifted = widgets.ToggleButtons(options=[("aligned", False), ("shifted by one leaf", True)],
                                    value=False, description="units")
    figures: dict = {}

    def draw(u: int, s: bool, r: float) -> tuple[bytes, str]:
        shift = 1 if s else 0
        if (u, s) not in figures:  # one plot per setting; r only moves the marker
            settings = [(1, 0), (u, shift)] if (u, shift) != (1, 0) else [(1, 0)]
            fig, ax = plt.subplots(figsize=(5.5, 3.3))
            plot_expected_dim(tree, curve_grid, settings, marker=r, n_draws=n_draws, ax=ax)
            for old in figures.values():
                plt.close(old)
            figures.clear()
            figures[(u, s)] = fig
        fig = figures[(u, s)]
        ax = fig.axes[0]
        ax.lines[-1].set_xdata([r, r])
        val = ax.lines[-2].get_ydata()[curve_grid.index(r)]
        buf = figure_png(fig, close=False)
        text = (f"r = {r:.2f}, u = {u}{' (shifted)' if s else ''}: predicted E[dim c(m)] = "
                f"{val:.2f}" if np.isfinite(val) else
                f"r = {r:.2f}, u = {u}: no mask of units leaves both masked and visible leaves")
        return buf, text

    frames = frame_stack([size, shifted, ratio], draw)
    for fig in figures.values():
        plt.close(fig)
    return widgets.VBox([widgets.HBox([ratio, size]), shifted, frames])

