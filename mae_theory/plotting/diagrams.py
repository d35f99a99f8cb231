"""Concept diagrams: pictures of the ideas, drawn before the numbers that test them.

Four diagrams, drawn with matplotlib patches, arrows and text in the book style, so that they
are versioned and tested like every other figure:

- :func:`plot_mae_pipeline`: the MAE of chapter 1, from the image :math:`x` to the loss on the
  masked patches :math:`\\mathcal M` only (chapter 1);
- :func:`plot_token_vs_image_mae`: the switch from chapter 1's image MAE (a ViT over patches)
  to chapter 3's token MAE (an MLP over the leaves of a tree, with a bottleneck :math:`\\hat c`);
- :func:`plot_preln_block`: a pre-LN transformer block on the residual stream :math:`X_b` (chapter
  7);
- :func:`plot_decoder_interpolation`: the decoder as an interpolation from visible tokens to a
  masked position (chapter 8).

Every function takes an optional axes (``ax=``), draws into it or into a new figure, and returns
the figure. Coordinates inside each diagram are in inches of the default figure, so text sizes
(all >= 9 pt) and box sizes keep their proportions. No figure is wider than 7.5 in.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from .images import MASK_EDGE, MASK_TINT
from .style import OKABE_ITO, use_book_style

BLUE, ORANGE, GREEN, PURPLE, YELLOW, SKY = OKABE_ITO[:6]
"""Roles: BLUE encoder / visible, ORANGE masked, GREEN decoder, PURPLE loss, SKY MLP, YELLOW LN."""
_FS = 10
"""The diagrams' text size in points (>= 9 at page width, since no figure exceeds 7.5 in)."""
_SMALL = 9


def _canvas(ax, size: tuple[float, float]):
    """A blank axes whose data units are the inches of a ``size`` figure; returns (fig, ax)."""
    use_book_style()
    if ax is None:
        fig = plt.figure(figsize=size, layout="none")
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, size[0])
    ax.set_ylim(0.0, size[1])
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax.figure, ax


def _box(ax, x, y, w, h, text, colour, *, fs=_FS, alpha=0.18, round_=0.06, dy=0.0, **kw):
    """A rounded box with lower-left corner (x, y), tinted ``colour``, text centred."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={round_}",
                                facecolor=colour, edgecolor=colour, linewidth=1.5, alpha=1.0,
                                zorder=2, **kw))
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={round_}",
                                facecolor="white", edgecolor="none", alpha=1.0 - alpha,
                                zorder=2))
    ax.text(x + w / 2, y + h / 2 + dy, text, ha="center", va="center", fontsize=fs, zorder=3)


def _arrow(ax, start, end, *, text=None, colour="0.25", lw=1.4, fs=_SMALL, offset=0.1,
           style="-|>", mutation=10, **kw):
    """An arrow from ``start`` to ``end``, with an optional label above its midpoint."""
    kw = {"shrinkA": 0, "shrinkB": 0, "zorder": 4} | kw
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=mutation,
                                 color=colour, linewidth=lw, **kw))
    if text:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx, my + offset, text, ha="center", va="bottom", fontsize=fs, zorder=5)


def _mark_masked(ax, x, y, s, *, z=3):
    """The book's mark of a masked cell: a light orange tint, hatching and an orange border."""
    ax.add_patch(Rectangle((x, y), s, s, facecolor=MASK_TINT, edgecolor=MASK_EDGE, hatch="///",
                           linewidth=1.2, zorder=z))


def _toy_image(n: int = 16) -> np.ndarray:
    """A smooth deterministic n x n 'image' in [0, 1] (a blob on a gradient)."""
    t = np.linspace(0.0, 1.0, n)
    xx, yy = np.meshgrid(t, t)
    img = 0.35 * xx + 0.65 * np.exp(-((xx - 0.45) ** 2 + (yy - 0.55) ** 2) / 0.08)
    return (img - img.min()) / (img.max() - img.min())


_MASK16 = np.array([1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
"""The diagrams' example mask on a 4 x 4 grid: 12 of L = 16 patches masked (r = 0.75)."""


def _patch_grid(ax, x0, y0, size, img, *, mask=None, gap=0.04, show="all", cmap="viridis",
                token_colour=None):
    """Draw ``img`` cut into 4 x 4 patches with gaps, lower-left corner (x0, y0).

    ``show``: "all" draws every patch's pixels; "visible" marks masked patches; "tokens" draws
    visible patches as plain ``token_colour`` squares and masked ones as mask tokens.
    Returns the lower-left corners and the side of the cells, row-major from the top.
    """
    g = 4
    s = (size - (g - 1) * gap) / g
    n = img.shape[0] // g
    corners = []
    for k in range(g * g):
        i, j = divmod(k, g)
        cx, cy = x0 + j * (s + gap), y0 + (g - 1 - i) * (s + gap)
        corners.append((cx, cy))
        masked = mask is not None and mask[k]
        if show == "tokens":
            if masked:
                _mask_token(ax, cx, cy, s)
            else:
                ax.add_patch(Rectangle((cx, cy), s, s, facecolor=token_colour,
                                       edgecolor="0.2", linewidth=0.8, zorder=3))
        elif masked and show == "visible":
            _mark_masked(ax, cx, cy, s)
        else:
            ax.imshow(img[i * n:(i + 1) * n, j * n:(j + 1) * n], cmap=cmap, vmin=0, vmax=1,
                      extent=(cx, cx + s, cy, cy + s), interpolation="nearest", zorder=2)
            if masked and show == "prediction":
                ax.add_patch(Rectangle((cx, cy), s, s, facecolor="none", edgecolor=ORANGE,
                                       linewidth=1.6, zorder=3))
    return corners, s


def _mask_token(ax, x, y, s):
    """A learned mask token: one shared grey-blue vector, drawn as a dotted square."""
    ax.add_patch(Rectangle((x, y), s, s, facecolor="0.88", edgecolor=ORANGE, linewidth=1.0,
                           linestyle=(0, (2, 1)), zorder=3))


def plot_mae_pipeline(*, ax=None):
    """The masked autoencoder, from an image to its loss, as a two-row pipeline diagram.

    Top row (data): the image :math:`x` is cut into :math:`L` patches :math:`x_l` of side :math:`p`,
    and a random fraction :math:`r` of them, the set :math:`\\mathcal M`, is masked (hatched, orange
    border); the rest, :math:`\\mathcal V`, stays visible. Bottom row (model): the encoder sees the
    visible tokens only; a shared mask token is inserted at every masked position; the decoder
    predicts every patch, and the loss :math:`\\mathcal L` counts the masked patches only.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw (its limits are set to the diagram's 7.2 x 3.5 in canvas); ``None`` makes a
        new 7.2 x 3.5 in figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_mae_pipeline()
    >>> fig.get_size_inches().tolist()
    [7.2, 3.5]
    >>> any("encoder" in t.get_text() for t in fig.axes[0].texts)
    True
    >>> plt.close(fig)
    """
    fig, ax = _canvas(ax, (7.2, 3.5))
    img = _toy_image()
    top, size = 1.95, 1.1
    # --- top row: the data side -----------------------------------------------------------
    ax.text(0.05, 3.38, "data", fontsize=_FS, fontweight="bold", va="center")
    ax.imshow(img, cmap="viridis", vmin=0, vmax=1, extent=(0.3, 0.3 + size, top, top + size),
              interpolation="bilinear", zorder=2)
    ax.text(0.3 + size / 2, top - 0.1, "image $x$ ($H \\times W$)", ha="center", va="top",
            fontsize=_FS)
    _arrow(ax, (1.55, top + size / 2), (2.35, top + size / 2), text="patchify")
    _patch_grid(ax, 2.5, top, size, img)
    ax.text(2.5 + size / 2, top - 0.1, "$L = 16$ patches $x_l$\nof side $p$", ha="center",
            va="top", fontsize=_FS)
    _arrow(ax, (3.75, top + size / 2), (4.55, top + size / 2), text="mask, ratio $r$")
    _patch_grid(ax, 4.7, top, size, img, mask=_MASK16, show="visible")
    ax.text(4.7 + size / 2, top - 0.1, "masked $\\mathcal{M}$ (hatched),\nvisible $\\mathcal{V}$",
            ha="center", va="top", fontsize=_FS)
    ax.text(5.95, top + size / 2 + 0.05, "$r = |\\mathcal{M}|/L$\n$= 12/16$", ha="left",
            va="center", fontsize=_SMALL)
    # --- bottom row: the model side --------------------------------------------------------
    ax.text(0.05, 1.32, "model", fontsize=_FS, fontweight="bold", va="center")
    y0, h = 0.12, 0.95
    vis = np.flatnonzero(~_MASK16)
    s, n = 0.2, img.shape[0] // 4
    for k, idx in enumerate(vis):  # the visible tokens, as a short column
        i, j = divmod(int(idx), 4)
        cy = y0 + h / 2 + 1.5 * (s + 0.03) - k * (s + 0.03) - s / 2 - 0.05
        ax.imshow(img[i * n:(i + 1) * n, j * n:(j + 1) * n], cmap="viridis", vmin=0, vmax=1,
                  extent=(0.35, 0.35 + s, cy, cy + s), interpolation="nearest", zorder=2)
    ax.text(0.45, y0 - 0.04, "$\\mathcal{V}$ only", ha="center", va="top", fontsize=_SMALL)
    _arrow(ax, (4.7 + size / 2, top - 0.55), (0.62, y0 + h + 0.02),
           connectionstyle="arc3,rad=0.08", colour="0.55", lw=1.0)
    _arrow(ax, (0.62, y0 + h / 2), (0.85, y0 + h / 2))
    _box(ax, 0.88, y0, 0.95, h, "encoder\n(ViT)", BLUE)
    _arrow(ax, (1.85, y0 + h / 2), (2.2, y0 + h / 2))
    _patch_grid(ax, 2.25, y0 + 0.05, 0.85, img, mask=_MASK16, show="tokens", gap=0.03,
                token_colour=SKY)
    ax.text(2.675, y0 + 0.93, "encoded $\\mathcal{V}$ + mask\ntokens at $\\mathcal{M}$",
            ha="center", va="bottom", fontsize=_SMALL)
    _arrow(ax, (3.15, y0 + h / 2), (3.55, y0 + h / 2))
    _box(ax, 3.58, y0, 0.95, h, "decoder", GREEN)
    _arrow(ax, (4.55, y0 + h / 2), (4.85, y0 + h / 2))
    blur = 0.7 * img + 0.3 * img.mean()
    _patch_grid(ax, 4.9, y0 + 0.05, 0.85, blur, mask=_MASK16, show="prediction", gap=0.03)
    ax.text(5.325, y0 + 0.92, "prediction $\\hat{x}_l$", ha="center", va="bottom",
            fontsize=_SMALL)
    _arrow(ax, (5.8, y0 + h / 2), (6.0, y0 + h / 2))
    _box(ax, 6.02, y0 + 0.1, 1.13, h - 0.2,
         "loss $\\mathcal{L}$\non $l \\in \\mathcal{M}$\nonly", PURPLE, fs=_FS)
    return fig


def _tree(ax, x0, y0, w, h, mask):
    """A binary tree of depth 3 with 8 leaves x_1..x_8 (masked leaves hatched); returns leaf xy."""
    levels = [[x0 + w / 2]]
    for depth in (1, 2, 3):
        n = 2 ** depth
        levels.append([x0 + (k + 0.5) * w / n for k in range(n)])
    ys = [y0 + h - t * h / 3 for t in range(4)]
    for depth in range(3):
        for k, px in enumerate(levels[depth]):
            for c in (2 * k, 2 * k + 1):
                ax.plot([px, levels[depth + 1][c]], [ys[depth], ys[depth + 1]], color="0.5",
                        linewidth=1.0, zorder=1)
    for depth in range(3):
        for px in levels[depth]:
            ax.add_patch(Circle((px, ys[depth]), 0.07, facecolor="white", edgecolor="0.3",
                                linewidth=1.0, zorder=2))
    ax.text(levels[0][0] + 0.12, ys[0] + 0.02, "root $\\rho$", fontsize=_SMALL, va="bottom")
    leaves = []
    for k, px in enumerate(levels[3]):
        s = 0.16
        if mask[k]:
            _mark_masked(ax, px - s / 2, ys[3] - s / 2, s)
        else:
            ax.add_patch(Rectangle((px - s / 2, ys[3] - s / 2), s, s, facecolor=SKY,
                                   edgecolor="0.2", linewidth=0.8, zorder=3))
        ax.text(px, ys[3] - 0.15, f"$x_{k + 1}$", ha="center", va="top", fontsize=_SMALL)
        leaves.append((px, ys[3]))
    return leaves


def plot_token_vs_image_mae(*, ax=None):
    """Chapter 1's image MAE beside chapter 3's token MAE: the model switch, in one picture.

    Left: the image MAE of chapters 1 and 9, a ViT whose tokens are the :math:`L` patches
    :math:`x_l` of an image; the transformer encoder sees the visible patches :math:`\\mathcal V`, a
    transformer decoder predicts the pixels of the masked patches :math:`\\mathcal M`. Right: the
    token MAE of chapters 3-4, whose tokens are the leaves :math:`x_1, \\dots, x_L` of a latent tree
    (one token of :math:`d_x` numbers each); an MLP maps the visible leaves (with their positions
    and the mask bits) to a bottleneck :math:`\\hat c` of width :math:`d`, and an MLP decoder
    predicts the masked leaves :math:`m`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` makes a new 7.2 x 3.6 in figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_token_vs_image_mae()
    >>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("MLP"))
    ['MLP decoder', 'MLP encoder']
    >>> plt.close(fig)
    """
    fig, ax = _canvas(ax, (7.2, 3.6))
    img = _toy_image()
    # --- left: the image MAE ---------------------------------------------------------------
    ax.text(1.75, 3.45, "image MAE (chapters 1, 9)", ha="center", va="center", fontsize=11,
            fontweight="bold", color=BLUE)
    _patch_grid(ax, 0.15, 1.95, 1.1, img, mask=_MASK16, show="visible")
    ax.text(0.7, 1.85, "tokens: $L$ image\npatches $x_l$ ($p \\times p$ pixels)", ha="center",
            va="top", fontsize=_SMALL)
    _arrow(ax, (1.3, 2.5), (1.55, 2.5))
    _box(ax, 1.58, 2.05, 1.0, 0.95, "ViT encoder\n(attention)\non $\\mathcal{V}$", BLUE,
         fs=_SMALL)
    _arrow(ax, (2.6, 2.5), (2.85, 2.5))
    _box(ax, 2.88, 2.05, 0.6, 0.95, "$D$-dim\ntokens", BLUE, fs=_SMALL, alpha=0.08)
    _arrow(ax, (3.18, 2.0), (3.18, 1.6))
    _box(ax, 2.35, 0.75, 1.15, 0.8, "transformer\ndecoder\n+ mask tokens", GREEN, fs=_SMALL)
    _arrow(ax, (2.35, 1.15), (2.05, 1.15))
    ax.text(1.97, 1.15, "pixels of\n$x_l$, $l \\in \\mathcal{M}$", ha="right", va="center",
            fontsize=_SMALL)
    ax.text(1.75, 0.25, "a representation: many tokens,\nno bottleneck", ha="center",
            va="center", fontsize=_SMALL, style="italic")
    # --- the switch ------------------------------------------------------------------------
    ax.plot([3.68, 3.68], [0.1, 3.55], color="0.6", linewidth=1.0, linestyle="--")
    ax.text(3.68, 1.78, "model\nswitch", ha="center", va="center", fontsize=_FS,
            fontweight="bold", color=ORANGE, zorder=6,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": ORANGE})
    # --- right: the token MAE --------------------------------------------------------------
    ax.text(5.5, 3.45, "token MAE (chapters 3, 4)", ha="center", va="center", fontsize=11,
            fontweight="bold", color=PURPLE)
    leaf_mask = [False, False, True, True, False, True, False, False]
    _tree(ax, 3.98, 1.85, 1.6, 1.3, leaf_mask)
    ax.text(4.78, 1.45, "tokens: tree leaves\n$x_1, \\dots, x_L$; masked $m$", ha="center",
            va="top", fontsize=_SMALL)
    _arrow(ax, (5.6, 2.4), (5.8, 2.4))
    _box(ax, 5.8, 1.95, 1.36, 0.9, "MLP encoder", SKY, fs=_SMALL, dy=0.25)
    ax.text(6.48, 2.3, "on visible leaves,\npositions, mask bits", ha="center", va="center",
            fontsize=_SMALL)
    _arrow(ax, (6.48, 1.93), (6.48, 1.72))
    _box(ax, 6.175, 1.25, 0.61, 0.45, "$\\hat c \\in \\mathbb{R}^d$", PURPLE, fs=_SMALL,
         alpha=0.3)
    ax.text(6.48, 1.2, "bottleneck", ha="center", va="top", fontsize=_SMALL)
    _arrow(ax, (6.48, 0.98), (6.48, 0.82))
    _box(ax, 5.8, 0.35, 1.36, 0.45, "MLP decoder", SKY, fs=_SMALL)
    _arrow(ax, (5.8, 0.575), (5.55, 0.575))
    ax.text(5.5, 0.575, "$\\hat x_l$, $l \\in m$", ha="right", va="center", fontsize=_SMALL)
    ax.text(5.45, 0.1, "a code: one vector $\\hat c$ of width $d$", ha="center", va="center",
            fontsize=_SMALL, style="italic")
    return fig


def plot_preln_block(*, ax=None):
    """A pre-LN transformer block: the residual stream :math:`X_b` and its two residual branches.

    The stream runs up a vertical line from :math:`X_b` (entering block :math:`b`) to
    :math:`X_{b+1}`. Each branch reads a LayerNorm of the stream, transforms it (attention, then the
    MLP) and adds its output back; the stream itself is never normalised, which is what chapter 7's
    bound on the relative update :math:`\\delta_b` rests on.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` makes a new 6.2 x 4.4 in figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_preln_block()
    >>> [t.get_text() for t in fig.axes[0].texts][:2]
    ['$X_b$', '$X_{b+1}$']
    >>> plt.close(fig)
    """
    fig, ax = _canvas(ax, (6.2, 4.4))
    sx = 1.0  # the residual stream's x
    ax.text(sx, 0.12, "$X_b$", ha="center", va="center", fontsize=12)
    ax.text(sx, 4.25, "$X_{b+1}$", ha="center", va="center", fontsize=12)
    _arrow(ax, (sx, 0.3), (sx, 4.07), colour=BLUE, lw=2.6, mutation=14)
    ax.text(sx - 0.15, 2.2, "residual stream", rotation=90, ha="right", va="center",
            fontsize=_FS, color=BLUE)
    for name, y, colour in (("attention", 0.75, ORANGE), ("MLP", 2.45, GREEN)):
        add_y = y + 1.2
        _arrow(ax, (sx, y), (1.45, y), colour="0.3")
        _box(ax, 1.45, y - 0.22, 0.6, 0.44, "LN", YELLOW, fs=_FS, alpha=0.35)
        _arrow(ax, (2.05, y), (2.3, y), colour="0.3")
        _box(ax, 2.3, y - 0.25, 1.05, 0.5, name, colour, fs=_FS)
        ax.plot([3.35, 3.55, 3.55], [y, y, add_y], color="0.3", linewidth=1.4, zorder=4)
        _arrow(ax, (3.55, add_y), (sx + 0.16, add_y), colour="0.3")
        ax.add_patch(Circle((sx, add_y), 0.15, facecolor="white", edgecolor="0.2",
                            linewidth=1.4, zorder=5))
        ax.text(sx, add_y - 0.01, "+", ha="center", va="center", fontsize=12, zorder=6)
        ax.add_patch(Circle((sx, y), 0.045, facecolor="0.2", edgecolor="none", zorder=5))
    ax.text(3.75, 1.35, "$X' = X_b + \\mathrm{Attn}(\\mathrm{LN}(X_b))$", fontsize=_FS,
            ha="left", va="center")
    ax.text(3.75, 3.05, "$X_{b+1} = X' + \\mathrm{MLP}(\\mathrm{LN}(X'))$", fontsize=_FS,
            ha="left", va="center")
    ax.text(2.4, 0.12, "LN only on the branches;\nthe stream is never normalised",
            ha="center", va="center", fontsize=_SMALL, style="italic")
    return fig


def plot_decoder_interpolation(*, radius: float = 2.2, ax=None):
    """The decoder as interpolation: a masked position predicted from nearby visible tokens.

    On a 6 x 6 grid of patch positions, visible tokens (blue) sit at known positions and masked ones
    are hatched. The prediction at one masked query :math:`i` is a weighted combination :math:`\\hat
    x_i = \\sum_{j \\in \\mathcal V} A_{ij} w_j` of the visible tokens; each arrow's width is
    proportional to its weight :math:`A_{ij}` (here a normalised Gaussian of the distance), and the
    circle marks the decoder's reach: tokens outside it get (almost) no weight.

    Parameters
    ----------
    radius : float, default 2.2
        The reach, in patches; the weights are ``exp(-dist^2 / (radius^2 / 2))``, set to zero
        beyond ``radius`` and normalised to sum to one.
    ax : matplotlib.axes.Axes, optional
        Where to draw; ``None`` makes a new 6.0 x 4.2 in figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_decoder_interpolation()
    >>> any(t.get_text() == "reach" for t in fig.axes[0].texts)
    True
    >>> plt.close(fig)
    """
    if not radius > 0:
        raise ValueError(f"radius (the decoder's reach, in patches) must be > 0; got {radius}.")
    fig, ax = _canvas(ax, (6.0, 4.2))
    g, step, x0, y0, s = 6, 0.6, 0.3, 0.35, 0.36
    rng = np.random.default_rng(3)
    masked = rng.random(g * g) < 0.6
    qi, qj = 2, 3
    masked[qi * g + qj] = True
    centre = lambda i, j: (x0 + j * step + s / 2, y0 + (g - 1 - i) * step + s / 2)  # noqa: E731
    for k in range(g * g):
        i, j = divmod(k, g)
        cx, cy = centre(i, j)
        if masked[k]:
            _mark_masked(ax, cx - s / 2, cy - s / 2, s, z=2)
        else:
            ax.add_patch(Rectangle((cx - s / 2, cy - s / 2), s, s, facecolor=BLUE,
                                   edgecolor="0.2", linewidth=0.8, alpha=0.8, zorder=2))
    qx, qy = centre(qi, qj)
    ax.add_patch(Rectangle((qx - s / 2, qy - s / 2), s, s, facecolor="none", edgecolor="black",
                           linewidth=2.2, zorder=6))
    ax.add_patch(Circle((qx, qy), radius * step, facecolor="none", edgecolor=PURPLE,
                        linestyle="--", linewidth=1.4, zorder=3))
    ax.text(qx + 0.72 * radius * step, qy + 0.72 * radius * step + 0.05, "reach",
            color=PURPLE, fontsize=_FS, ha="left", va="bottom", zorder=7,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    vis = [(k // g, k % g) for k in range(g * g) if not masked[k]]
    d = np.array([np.hypot(i - qi, j - qj) for i, j in vis])
    w = np.where(d <= radius, np.exp(-d ** 2 / (radius ** 2 / 2)), 0.0)
    w = w / w.sum() if w.sum() > 0 else w
    for (i, j), a in zip(vis, w):
        if a > 0.005:
            _arrow(ax, centre(i, j), (qx, qy), colour=ORANGE, lw=0.5 + 9.0 * a, mutation=8,
                   shrinkB=9)
    ax.text(x0 + g * step + 0.15, y0 + g * step - 0.1,
            "masked query $i$ (black)\n$\\hat x_i = \\sum_{j \\in \\mathcal{V}} A_{ij}\\, w_j$",
            ha="left", va="top", fontsize=_FS)
    ax.text(x0 + g * step + 0.15, y0 + g * step - 1.0,
            "arrow width $\\propto A_{ij}$", ha="left", va="top", fontsize=_SMALL)
    for y, label, kind in ((1.55, "visible ($\\mathcal{V}$)", "vis"),
                           (1.1, "masked ($\\mathcal{M}$)", "mask")):
        lx = x0 + g * step + 0.15
        if kind == "vis":
            ax.add_patch(Rectangle((lx, y), 0.25, 0.25, facecolor=BLUE, edgecolor="0.2",
                                   linewidth=0.8, alpha=0.8))
        else:
            _mark_masked(ax, lx, y, 0.25)
        ax.text(lx + 0.35, y + 0.125, label, ha="left", va="center", fontsize=_SMALL)
    ax.text(x0 + g * step / 2, 0.12, "grid of patch positions", ha="center", va="center",
            fontsize=_SMALL)
    return fig
