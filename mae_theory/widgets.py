"""Interactive explorers for the chapters (ipywidgets).

Each explorer is a function returning a widget; in a notebook its state is saved with the
outputs, so the static book shows the explorer at its initial setting.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .data import ImageData
from .metrics import masked_mse
from .models import MAE
from .plotting import plot_reconstructions


def reconstruction_explorer(
    models: dict[int, MAE], data: ImageData, *, mask_ratio: float = 0.75, index: int = 0,
    seed: int = 0,
) -> widgets.Widget:
    """Sliders for the mask ratio ``r``, the patch size ``p`` and the image.

    Shows the original, the visible patches, the reconstruction and its error, and prints the
    masked-patch error of the shown image.

    Parameters
    ----------
    models : dict mapping patch size p to a trained MAE
    data : ImageData
        Images to reconstruct (normalised, as the models were trained).
    mask_ratio, index : initial slider positions.
    seed : int
        Seeds the masks, so the same setting always shows the same mask.
    """
    if not models:
        raise ValueError("models is empty; pass {patch_size: trained MAE}.")
    sizes = sorted(models)
    ratio = widgets.FloatSlider(value=mask_ratio, min=0.0, max=0.9, step=0.05,
                                description="mask ratio r", continuous_update=False)
    patch = widgets.ToggleButtons(options=sizes, value=sizes[0], description="patch size p")
    image = widgets.IntSlider(value=index, min=0, max=len(data) - 1, description="image",
                              continuous_update=False)

    def show(r: float, p: int, i: int) -> None:
        model = models[p]
        x = data.images[i : i + 1]
        try:
            recon, mask = model.reconstruct(x, r, seed=seed)
        except ValueError as err:  # e.g. a ratio that leaves no visible patch at this p
            print(err)
            return
        err = masked_mse(model.patchify(recon), model.patchify(x), mask)
        fig = plt.figure(figsize=(8, 2.4))
        plot_reconstructions(data.denormalize(x), mask, data.denormalize(recon), p,
                             error=True, fig=fig)
        plt.show()
        print(f"p={p}: {int(mask.sum())} of {mask.shape[1]} patches masked, "
              f"masked-patch MSE {err.item():.3f} (normalised units)")

    out = widgets.interactive_output(show, {"r": ratio, "p": patch, "i": image})
    return widgets.VBox([widgets.HBox([ratio, image]), patch, out])


def patch_approximation_explorer(images: dict, sizes=(2, 4, 8, 16, 32), *,
                                 order: int = 0) -> widgets.Widget:
    """Slider over the patch size ``p`` (mesh size ``h = p/n``): an image, its patch-wise
    approximation ``Pi f`` and the error ``f - Pi f``, with ``||f - Pi f||_{L2}`` printed.

    Parameters
    ----------
    images : dict mapping a name to an (n, n) image, e.g. a smooth and a rough one
    sizes : patch sizes offered by the slider (each must divide n)
    order : initial approximation order, 0 (patch mean) or 1 (plane per patch)
    """
    import torch

    from .operators import patch_approximation, patch_approximation_error

    if not images:
        raise ValueError("images is empty; pass {name: (n, n) image}.")
    names = list(images)
    which = widgets.ToggleButtons(options=names, value=names[0], description="image")
    size = widgets.SelectionSlider(options=list(sizes), value=sizes[len(sizes) // 2],
                                   description="patch p", continuous_update=False)
    deg = widgets.ToggleButtons(options=[0, 1], value=order, description="order")

    def show(name: str, p: int, k: int) -> None:
        f = torch.as_tensor(images[name], dtype=torch.float64)
        approx = patch_approximation(f, p, k)
        fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
        lo, hi = float(f.min()), float(f.max())
        for ax, img, title in [(axes[0], f, "f"), (axes[1], approx, f"Pi_{k} f"),
                               (axes[2], f - approx, "f - Pi f")]:
            ax.imshow(img.numpy(), cmap="gray", vmin=lo if ax is not axes[2] else None,
                      vmax=hi if ax is not axes[2] else None, interpolation="nearest")
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
        plt.show()
        err = float(patch_approximation_error(f, p, k))
        print(f"h = p/n = {p}/{f.shape[-1]} = {p / f.shape[-1]:.4f}: "
              f"||f - Pi_{k} f||_L2 = {err:.4f}")

    out = widgets.interactive_output(show, {"name": which, "p": size, "k": deg})
    return widgets.VBox([which, widgets.HBox([size, deg]), out])


def shared_latents_explorer(tree, masked=("x1",)) -> widgets.Widget:
    """One toggle button per leaf (pressed = masked): redraws the tree with c(m) highlighted
    and prints dim c(m) (chapter 2).

    Parameters
    ----------
    tree : mae_theory.hierarchy.LatentTree
    masked : iterable of str
        Leaves masked at the start.
    """
    from .plotting.hierarchy import plot_tree
    from .theory import deepest_shared_latents, shared_dim, shared_latents

    start = set(masked)
    unknown = start - set(tree.leaves)
    if unknown:
        raise ValueError(f"masked names {sorted(unknown)} that are not leaves of the tree; "
                         f"the leaves are {tree.leaves}.")
    buttons = [widgets.ToggleButton(value=v in start, description=v,
                                    layout=widgets.Layout(width="52px")) for v in tree.leaves]

    def show(**pressed) -> None:
        m = [v for v in tree.leaves if pressed[v]]
        if not m or len(m) == len(tree.leaves):
            print("Mask at least one leaf and leave at least one visible: c(m) needs both.")
            return
        plot_tree(tree, masked=m)
        plt.show()
        deep = sorted(deepest_shared_latents(tree, m))
        print(f"masked M = {m}\nc(m) = {sorted(shared_latents(tree, m))}, determined by its "
              f"deepest nodes {deep}; dim c(m) = {shared_dim(tree, m)}")

    out = widgets.interactive_output(show, dict(zip(tree.leaves, buttons)))
    return widgets.VBox([widgets.HBox(buttons), out])


def shared_dim_explorer(tree, *, mask_ratio: float = 0.5, unit: int = 1,
                        n_draws: int = 500) -> widgets.Widget:
    """Sliders for the mask ratio r and the masking unit u (aligned or shifted by one leaf):
    plots the predicted E[dim c(m)] against r and prints its value at the chosen r (chapter 4).

    Parameters
    ----------
    tree : mae_theory.hierarchy.LatentTree
    mask_ratio, unit : initial slider positions (``unit`` must divide the number of leaves).
    n_draws : int
        Random masks per point (:func:`mae_theory.theory.expected_shared_dim`).
    """
    import numpy as np

    from .plotting.leakage import plot_expected_dim
    from .theory import expected_shared_dim

    n = len(tree.leaves)
    units = [u for u in range(1, n) if n % u == 0]
    if unit not in units:
        raise ValueError(f"unit u={unit!r} must divide the number of leaves L={n}; pick one "
                         f"of {units}.")
    ratio = widgets.FloatSlider(value=mask_ratio, min=0.05, max=0.95, step=0.05,
                                description="mask ratio r", continuous_update=False)
    size = widgets.SelectionSlider(options=units, value=unit, description="unit u",
                                   continuous_update=False)
    shifted = widgets.Checkbox(value=False, description="shift units by one leaf")
    grid = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))

    def show(r: float, u: int, s: bool) -> None:
        shift = 1 if s else 0
        settings = [(1, 0), (u, shift)] if (u, shift) != (1, 0) else [(1, 0)]
        fig, ax = plt.subplots(figsize=(5.5, 3.3))
        plot_expected_dim(tree, grid, settings, marker=r, n_draws=n_draws, ax=ax)
        plt.show()
        try:
            val = expected_shared_dim(tree, r, unit=u, shift=shift, n_draws=n_draws)
            print(f"r = {r:.2f}, u = {u}{' (shifted)' if s else ''}: "
                  f"predicted E[dim c(m)] = {val:.2f}")
        except ValueError as err:
            print(err)

    out = widgets.interactive_output(show, {"r": ratio, "u": size, "s": shifted})
    return widgets.VBox([widgets.HBox([ratio, size]), shifted, out])
