"""Tests for mae_theory.plotting: every function returns the right matplotlib object."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mae_theory import plotting as P  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_use_book_style_is_idempotent():
    P.use_book_style()
    first = dict(plt.rcParams)
    P.use_book_style()
    assert dict(plt.rcParams) == first
    assert not plt.rcParams["axes.spines.top"] and not plt.rcParams["axes.spines.right"]
    assert plt.rcParams["figure.dpi"] >= 150 and plt.rcParams["savefig.dpi"] >= 150
    colours = [c["color"] for c in plt.rcParams["axes.prop_cycle"]]
    assert colours[:2] == ["#0072B2", "#D55E00"]


def test_book_style_prints_at_150_dpi_with_readable_labels_at_page_width():
    from matplotlib.font_manager import FontProperties

    style = P.style.BOOK_STYLE
    # inline figures are drawn at figure.dpi, saved ones at savefig.dpi
    assert style["figure.dpi"] >= 150 and style["savefig.dpi"] >= 150
    assert style["figure.figsize"][0] <= P.style.PAGE_WIDTH_IN
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize",
                "xtick.labelsize", "ytick.labelsize"):
        size = FontProperties(size=style[key]).get_size_in_points()
        assert size >= P.style.MIN_FONT_PT, f"{key} = {size} pt is below {P.style.MIN_FONT_PT} pt"


def test_show_images_tiles_gray_and_rgb():
    ax = P.show_images(None, torch.rand(10, 1, 8, 8), nrow=4, title="ten")
    assert ax.images[0].get_array().shape == (3 * 9 + 1, 4 * 9 + 1)  # 3 rows x 4 columns
    assert ax.get_title() == "ten"
    fig, ax2 = plt.subplots()
    assert P.show_images(ax2, np.random.rand(3, 3, 5, 5), nrow=8) is ax2
    assert ax2.images[0].get_array().shape == (7, 19, 3)  # RGB, one row of three
    assert P.show_images(None, torch.rand(1, 6, 6)).images[0].get_array().shape == (8, 8)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        P.show_images(None, torch.rand(2, 2, 8, 8))
    with pytest.raises(ValueError, match="nrow"):
        P.show_images(None, torch.rand(2, 1, 8, 8), nrow=0)


def _marks(ax, hidden: bool):
    """The mask marks in ``ax``: tinted and hatched (hidden) or border-only (predicted)."""
    from matplotlib.colors import to_hex
    from matplotlib.patches import Rectangle

    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert all(to_hex(p.get_edgecolor()) == P.MASK_EDGE.lower() for p in rects)
    if hidden:
        return [p for p in rects if p.get_hatch() and to_hex(p.get_facecolor()) ==
                P.MASK_TINT.lower()]
    return [p for p in rects if not p.get_hatch() and p.get_facecolor()[3] == 0.0]


def test_plot_patches_marks_masked_patches_and_draws_grid():
    img = torch.rand(1, 8, 8)
    ax = P.plot_patches(img, 2, mask=torch.tensor([1.0] + [0.0] * 15), title="r = 1/16")
    shown = np.asarray(ax.images[0].get_array())
    assert np.all(shown[:2, :2] == 1.0)  # the hidden pixels never reach the image
    np.testing.assert_allclose(shown[2:, :], img[0, 2:].numpy(), atol=1e-7)
    marks = _marks(ax, hidden=True)
    assert len(marks) == 1 and marks[0].get_xy() == (-0.5, -0.5) and marks[0].get_width() == 2
    assert len(ax.lines) == 2 * (4 + 1) and ax.get_title() == "r = 1/16"
    # show_masked keeps the pixels and outlines the patch instead
    ax = P.plot_patches(img, 2, mask=torch.tensor([0.0] * 15 + [1.0]), show_masked=True)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), img[0].numpy(), atol=1e-7)
    marks = _marks(ax, hidden=False)
    assert len(marks) == 1 and marks[0].get_xy() == (5.5, 5.5)
    assert len(P.plot_patches(np.random.rand(3, 8, 8), 4).images) == 1  # RGB, no mask
    with pytest.raises(ValueError, match=r"mask must have L = \(H/p\)\(W/p\) = 16"):
        P.plot_patches(img, 2, mask=torch.zeros(4))
    with pytest.raises(ValueError, match="patch size p=3"):
        P.plot_patches(img, 3)
    with pytest.raises(ValueError, match="one image"):
        P.plot_patches(torch.rand(2, 1, 8, 8), 2)


def test_mark_masked_patches_are_not_a_grey_level():
    from matplotlib.colors import to_rgb

    tint = to_rgb(P.MASK_TINT)
    assert max(tint) - min(tint) > 0.1  # coloured: no grey-scale pixel takes it
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((4, 8)))
    marks = P.mark_masked_patches(ax, [0, 1], (4, 8), 4)
    assert len(marks) == 1 and marks[0].get_xy() == (3.5, -0.5)
    with pytest.raises(ValueError, match="L = "):
        P.mark_masked_patches(ax, [0, 1, 1], (4, 8), 4)


def test_plot_reconstructions_grid_labels_marks_and_pasting():
    x, rec = torch.rand(3, 1, 8, 8), torch.zeros(3, 1, 8, 8)
    masks = torch.zeros(3, 4)
    masks[:, 0] = 1  # top-left 4x4 patch masked
    fig = P.plot_reconstructions(x, masks, rec, 4, row_labels=["r = 0.25"] * 3)
    assert len(fig.axes) == 9 and fig.get_size_inches()[0] <= P.style.PAGE_WIDTH_IN
    assert [a.get_title() for a in fig.axes[:3]] == ["original", "masked input",
                                                      "reconstruction"]
    assert [fig.axes[3 * i].get_ylabel() for i in range(3)] == ["r = 0.25"] * 3
    pasted = np.asarray(fig.axes[2].images[0].get_array())
    assert np.all(pasted[:4, :4] == 0.0)  # the prediction, where masked
    np.testing.assert_allclose(pasted[4:], x[0, 0, 4:].numpy(), rtol=0, atol=1e-7)
    masked_input = np.asarray(fig.axes[1].images[0].get_array())
    assert np.all(masked_input[:4, :4] == 1.0)  # hidden, and covered by the mark
    assert len(_marks(fig.axes[1], hidden=True)) == 1
    assert len(_marks(fig.axes[2], hidden=False)) == 1  # the predicted patch, outlined
    fig = P.plot_reconstructions(x.numpy(), masks.numpy(), rec.numpy(), 4, error=True,
                                 outline_predicted=False, titles=("a", "b", "c"))
    assert len(fig.axes) == 12 + 1  # + one colour bar for the shared error scale
    assert fig.axes[3].get_title() == "error" and fig.axes[0].get_title() == "a"
    assert not fig.axes[2].patches and fig.get_size_inches()[0] <= P.style.PAGE_WIDTH_IN
    with pytest.raises(ValueError, match="share a shape"):
        P.plot_reconstructions(x, masks, rec[:2], 4)
    with pytest.raises(ValueError, match="titles needs 3 entries"):
        P.plot_reconstructions(x, masks, rec, 4, titles=("a", "b"))
    with pytest.raises(ValueError, match="row_labels needs one label per image"):
        P.plot_reconstructions(x, masks, rec, 4, row_labels=["r = 0.5"])


def test_plot_loss_curve():
    hist = [{"step": s, "loss": 2.0 / (s + 1), "lr": 1e-3} for s in range(20)]
    ax = P.plot_loss_curve(hist, label="run 1")
    assert ax.get_yscale() == "log" and len(ax.lines) == 1
    assert len(ax.lines[0].get_xdata()) == 20 and ax.get_legend() is not None
    assert P.plot_loss_curve(hist[:5], ax=ax) is ax and len(ax.lines) == 2
    ax = P.plot_loss_curve(hist, show_lr=True)
    loss_ax, lr_ax = ax.figure.axes  # the learning rate has its own panel, below
    assert loss_ax is ax and lr_ax.get_position().y1 <= ax.get_position().y0
    assert lr_ax.get_ylim()[0] == 0.0 and len(lr_ax.lines) == 1
    _, (a, b) = plt.subplots(1, 2)
    assert P.plot_loss_curve(hist, ax=a, show_lr=True, lr_ax=b) is a and len(b.lines) == 1
    with pytest.raises(ValueError, match="no twin axes"):
        P.plot_loss_curve(hist, ax=a, show_lr=True)
    with pytest.raises(ValueError, match="history is empty"):
        P.plot_loss_curve([])
    with pytest.raises(ValueError, match=r"missing \['loss'\]"):
        P.plot_loss_curve([{"step": 0}])


def test_no_plotting_function_makes_twin_axes():
    import inspect

    for name in P.__all__:
        fn = getattr(P, name)
        if callable(fn) and not isinstance(fn, type):
            src = inspect.getsource(inspect.getmodule(fn))
            assert "twinx" not in src and "twiny" not in src, inspect.getmodule(fn).__name__


def test_plot_ratio_sweep_seeds_and_baseline():
    ratios = [0.25, 0.5, 0.75, 0.9]
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 5.0, 4.0]])
    ax = P.plot_ratio_sweep(ratios, values, baseline=2.5, ylabel="acc")
    (bars,) = ax.containers
    np.testing.assert_allclose(bars.lines[0].get_ydata(), [2.0, 2.0, 4.0, 4.0])
    assert bars.has_yerr and ax.get_ylabel() == "acc"
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == 2.5
    ax = P.plot_ratio_sweep(np.array(ratios), np.arange(4.0))
    assert not ax.containers[0].has_yerr and ax.get_legend() is None
    with pytest.raises(ValueError, match=r"values must have shape \(R,\) or \(S, R\)"):
        P.plot_ratio_sweep(ratios, np.zeros((2, 3)))


def _sweep_result():
    runs = [{"value": v, "seed": s, "metrics": {"knn": b + 0.01 * s, "linear_probe": b}}
            for v, b in ((0.1, 0.78), (0.75, 0.80)) for s in range(3)]
    summary = {m: {str(v): {"mean": b, "std": 0.01} for v, b in ((0.1, 0.78), (0.75, 0.80))}
               for m in ("knn", "linear_probe")}
    summary["psnr"] = {"0.1": {"mean": 14.9, "std": 0.1}, "0.75": {"mean": 14.2, "std": 0.1}}
    return {"values": [0.1, 0.75], "parameter": "mask_ratio", "seeds": [0, 1, 2], "runs": runs,
            "summary": summary, "controls": [{"seed": 0, "metrics": {"pixels_knn": 0.83}}]}


def test_sweep_axes_are_true_size_and_figures_fit_the_page():
    res = _sweep_result()
    ax = P.plot_sweep(res, "knn")
    assert ax.get_ylim() == (0.0, 1.0)  # a 2-point change may not fill the axis
    assert P.plot_sweep(res, "knn", true_size=False).get_ylim()[0] > 0.5
    fig = P.plot_psnr_ssim({**res, "summary": {"psnr": res["summary"]["psnr"],
                                               "ssim": res["summary"]["knn"]}})
    assert fig.axes[0].get_ylim()[0] == 0.0 and fig.axes[1].get_ylim() == (0.0, 1.0)
    fig = P.plot_sweep_panels(res, ("linear_probe", "knn", "psnr"))
    assert fig.get_figwidth() <= 7.5 and len(fig.axes) == 3
    assert [a.get_legend() is not None for a in fig.axes] == [True, False, False]
    ax = P.plot_differences(res, 0.75, ("knn", "linear_probe"))
    assert len(ax.containers) == 2 and ax.get_ylim()[0] <= 0.0 <= ax.get_ylim()[1]


def test_readout_toys_separate_a_direction_from_neighbours():
    halves, sectors = (P.readout_toy(k, 200, seed=0) for k in ("halves", "sectors"))
    z, y = sectors
    assert z.shape == (200, 2) and set(y.tolist()) == {0, 1}
    # sectors: opposite points share a class, so no direction through the centre separates them
    angle = torch.atan2(z[:, 1], z[:, 0]) % (2 * torch.pi)
    assert torch.equal(y, (angle // (torch.pi / 2)).long() % 2)
    fig = P.plot_readout_geometry({"halves": halves, "sectors": sectors},
                                  {"sectors": {"linear probe": 0.5, "k-NN": 0.98}})
    assert len(fig.axes) == 2 and "k-NN: 98 %" in fig.axes[1].get_title()
    assert fig.get_figwidth() <= 7.5
    with pytest.raises(ValueError, match="kind must be"):
        P.readout_toy("rings")
