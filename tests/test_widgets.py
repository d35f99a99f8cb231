"""The explorers precompute their frames and link controls to them in the browser (jslink)."""

import ipywidgets as widgets
import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from ipywidgets.widgets.widget import _instances  # noqa: E402
from ipywidgets.widgets.widget_link import Link  # noqa: E402

from mae_theory import MAE, load_digits  # noqa: E402
from mae_theory.hierarchy import LatentTree  # noqa: E402
from mae_theory.widgets import (  # noqa: E402
    figure_png,
    frame_stack,
    patch_approximation_explorer,
    reconstruction_explorer,
    shared_dim_explorer,
    shared_latents_explorer,
)


def links_to(stack):
    """The browser-side links whose target is ``stack``'s selected_index."""
    return [w for w in _instances.values() if isinstance(w, Link)
            and w.target == (stack, "selected_index")]


def frames(stack):
    """Every frame (HTML widget) under nested Stacks, in order."""
    out = []
    for child in stack.children:
        out += frames(child) if isinstance(child, widgets.Stack) else [child]
    return out


def dot(value):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, value])
    return figure_png(fig), f"value {value}"


@pytest.fixture(autouse=True)
def no_open_figures():
    """Start every test without figures (another test in this process may have left some open),
    so ``assert not plt.get_fignums()`` sees only what the explorer itself left behind."""
    plt.close("all")
    yield
    plt.close("all")


def test_frame_stack_nests_one_level_per_control_and_links_each_stack():
    a = widgets.ToggleButtons(options=[("one", 1), ("two", 2)], value=2)
    b = widgets.SelectionSlider(options=[("x", 10), ("y", 20), ("z", 30)], value=10)
    calls = []

    def draw(u, v):
        calls.append((u, v))
        return dot(100 * u + v)

    stack = frame_stack([a, b], draw)
    assert calls == [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (2, 30)]
    assert stack.selected_index == 1 and [s.selected_index for s in stack.children] == [0, 0]
    assert [link.source for link in links_to(stack)] == [(a, "index")]
    for inner in stack.children:
        assert [link.source for link in links_to(inner)] == [(b, "index")]
    shown = frames(stack)
    assert len(shown) == 6 and len({f.value for f in shown}) == 6
    assert "value 120" in shown[1].value and "data:image/png;base64," in shown[1].value


def test_frame_stack_refuses_controls_without_an_index():
    with pytest.raises(ValueError, match="controls is empty"):
        frame_stack([], dot)
    with pytest.raises(TypeError, match="selection widget with an index.*FloatSlider"):
        frame_stack([widgets.FloatSlider()], dot)


def test_figure_png_is_a_small_palette_png():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(torch.rand(8, 8).numpy())
    png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[25] == 3  # colour type 3: palette
    assert len(png) < 15_000
    assert not plt.fignum_exists(fig.number)


def test_reconstruction_explorer_has_a_frame_per_grid_point():
    data = load_digits()
    box = reconstruction_explorer({2: MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0),
                                   4: MAE(8, 4, 1, 16, 1, 2, 16, 1, 2, seed=0)},
                                  data, mask_ratio=0.5, index=3, ratios=(0.25, 0.75),
                                  n_images=2)
    ratio, image = box.children[0].children
    assert ratio.value == 0.5 and ratio.options == (("0.25", 0.25), ("0.50", 0.5),
                                                    ("0.75", 0.75))
    assert image.value == 3 and len(image.options) == 2
    assert len(frames(box.children[2])) == 2 * 2 * 3
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="models is empty"):
        reconstruction_explorer({}, data)
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 1794\]"):
        reconstruction_explorer({2: None}, data, index=1795, n_images=3)
    with pytest.raises(TypeError, match="seed must be an integer; got None"):
        reconstruction_explorer({2: None}, data, seed=None)


def test_shared_latents_explorer_offers_the_start_mask_and_checks_names():
    tree = LatentTree.balanced(2, 2)
    box = shared_latents_explorer(tree, masked=["x4"], masks=[["x1"], ["x1", "x2"]])
    assert box.children[0].value == ("x4",)
    assert len(box.children[0].options) == 3
    assert "dim c(m)" in frames(box.children[1])[0].value
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="not leaves of the tree"):
        shared_latents_explorer(tree, masked=["y1"])
    with pytest.raises(ValueError, match="leave one visible"):
        shared_latents_explorer(tree, masks=[tree.leaves])


def test_shared_dim_explorer_frames_differ_with_r_and_refuse_bad_units():
    tree = LatentTree.balanced(2, 2)
    box = shared_dim_explorer(tree, mask_ratio=0.5, unit=2, n_draws=20, ratios=(0.25, 0.75))
    shown = frames(box.children[2])
    assert len(shown) == 2 * 2 * 3  # units (1, 2) x (aligned, shifted) x r
    assert len({f.value for f in shown}) == len(shown)
    assert not plt.get_fignums()  # an open figure would print below the explorer in a notebook
    with pytest.raises(ValueError, match="must divide the number of leaves"):
        shared_dim_explorer(tree, unit=3)
    with pytest.raises(ValueError, match="multiples of 0.05"):
        shared_dim_explorer(tree, ratios=(0.33,))


def test_patch_approximation_explorer_frames_and_order_check():
    x = torch.linspace(0, 1, 8)
    box = patch_approximation_explorer({"ramp": x[:, None] * x[None, :]}, sizes=(2, 4))
    assert len(frames(box.children[2])) == 1 * 2 * 2
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="order .k. must be 0 or 1"):
        patch_approximation_explorer({"ramp": x[:, None] * x}, order=2)
