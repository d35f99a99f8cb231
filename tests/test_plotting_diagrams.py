"""Tests for mae_theory.plotting.diagrams: the four concept diagrams draw, carry their labels,
fit the page (<= 7.5 in wide) and keep every text at >= 9 pt."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from mae_theory import plotting as P  # noqa: E402

DIAGRAMS = {
    "plot_mae_pipeline": ["image $x$", "patchify", "encoder", "decoder", "$\\mathcal{M}$",
                          "$\\mathcal{V}$", "$x_l$", "mask, ratio $r$", "loss $\\mathcal{L}$"],
    "plot_token_vs_image_mae": ["ViT encoder", "MLP encoder", "MLP decoder", "model\nswitch",
                                "$\\hat c \\in \\mathbb{R}^d$", "bottleneck", "$x_1$",
                                "root $\\rho$"],
    "plot_preln_block": ["$X_b$", "$X_{b+1}$", "LN", "attention", "MLP", "residual stream"],
    "plot_decoder_interpolation": ["reach", "A_{ij}", "visible ($\\mathcal{V}$)",
                                   "masked ($\\mathcal{M}$)"],
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_diagram_draws_with_labels_fits_the_page_and_is_readable(name):
    fig = getattr(P, name)()
    fig.canvas.draw()  # renders every patch, arrow and mathtext label
    assert isinstance(fig, plt.Figure)
    width, height = fig.get_size_inches()
    assert width <= P.style.PAGE_WIDTH_IN and height <= 5.0
    texts = _texts(fig)
    joined = "\n".join(t.get_text() for t in texts)
    for label in DIAGRAMS[name]:
        assert label in joined, f"{name} lacks the label {label!r}"
    assert min(t.get_fontsize() for t in texts) >= P.style.MIN_FONT_PT
    assert len(fig.axes[0].patches) >= 5  # drawn with patches and arrows
    assert not fig.axes[0].axison  # a diagram, not a plot: no axes


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_diagram_draws_into_a_given_axes(name):
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    assert getattr(P, name)(ax=ax) is fig
    assert ax.patches and ax.texts


def test_decoder_interpolation_arrow_widths_follow_the_weights():
    wide = P.plot_decoder_interpolation(radius=3.0).axes[0]
    narrow = P.plot_decoder_interpolation(radius=1.0).axes[0]
    arrows = [p for p in wide.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) > len([p for p in narrow.patches
                              if type(p).__name__ == "FancyArrowPatch"])
    widths = sorted(a.get_linewidth() for a in arrows)
    assert widths[-1] > widths[0]  # nearer tokens get more weight, drawn wider
    with pytest.raises(ValueError, match="reach"):
        P.plot_decoder_interpolation(radius=0.0)
