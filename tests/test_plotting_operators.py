"""Tests for mae_theory.plotting.operators: the figures of chapters 5 and 6."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mae_theory import plotting as P  # noqa: E402
from mae_theory.domain import patch_approximation  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _labels(ax):
    return [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]


def test_plot_rate_draws_theory_as_lines_only_inside_its_range():
    x = np.array([9.0, 81.0, 729.0])
    ax = P.plot_rate(x, np.ones((4, 3)) / x, slope=-1.0, theory_label="slope -1",
                     theory_range=(81, 729))
    (line,) = [ln for ln in ax.lines if ln.get_label() == "slope -1"]
    assert list(line.get_xdata()) == [81.0, 729.0]  # no theory where it predicts nothing
    assert line.get_linestyle() == "--" and line.get_marker() in ("None", "", None)
    handles, labels = ax.get_legend_handles_labels()
    assert "slope -1" in labels and "measured" in labels
    with pytest.raises(ValueError, match="theory_range"):
        P.plot_rate(x, np.ones((2, 3)), slope=1.0, theory_range=(100, 200))


def test_plot_rate_backward_compatible():
    ax = P.plot_rate([1, 2, 4], np.ones((3, 3)), theory=[1, 1, 1], theory_label="t")
    (line,) = [ln for ln in ax.lines if ln.get_label() == "t"]
    assert line.get_xdata().tolist() == [1, 2, 4]
    assert ax.get_xscale() == "log"


def test_plot_patch_approximations_labels_rows_and_columns():
    fig = P.plot_patch_approximations(torch.rand(16, 16), [2, 8], row_label="rough")
    assert fig.axes[0].get_ylabel() == "rough"
    assert [ax.get_title() for ax in fig.axes] == ["f, H = 16 px", r"$\Pi_0 f$, p = 2",
                                                   r"$\Pi_0 f$, p = 8"]
    assert fig.get_size_inches()[0] <= 7.5


def test_plot_patch_decomposition_panels_errors_and_grid():
    f = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fig = P.plot_patch_decomposition(f, 4)
    axes = fig.axes
    assert len(axes) == 5 and fig.get_size_inches()[0] <= 7.5  # 4 panels + 1 colour bar
    assert len(axes[0].lines) == 2 * (16 // 4 - 1)  # the patch boundaries
    err0 = (f - patch_approximation(f, 4)).pow(2).mean().sqrt() / f.std(unbiased=False)
    assert f"error {100 * float(err0):.0f} %" in axes[1].get_title()
    tex = axes[3].images[0].get_array()
    # matplotlib keeps the image in float32: compare at float32 precision
    assert np.allclose(tex, (f - patch_approximation(f, 4)).numpy(), atol=1e-6)
    assert axes[3].images[0].get_clim()[0] == -axes[3].images[0].get_clim()[1]  # symmetric


def test_plot_kernel_nodes_marks_kept_and_masked_tokens():
    keep = np.zeros(16, dtype=bool)
    keep[[0, 5, 10]] = True
    ax = P.plot_kernel_nodes(np.random.rand(32, 32), grid=4, keep=keep, query=(0.2, 0.7),
                             vmax=2.0, colorbar=True, title="subset")
    assert _labels(ax) == ["kept token (node)", "masked token", r"query $\xi$"]
    kept = [ln for ln in ax.lines if ln.get_label() == "kept token (node)"][0]
    masked = [ln for ln in ax.lines if ln.get_label() == "masked token"][0]
    assert len(kept.get_xdata()) == 3 and len(masked.get_xdata()) == 13
    assert masked.get_marker() == "x"  # masked tokens are marked, not greyed
    assert np.allclose(sorted(kept.get_xdata()), [0.125, 0.375, 0.625])
    assert ax.images[0].get_clim() == (0.0, 2.0)
    assert len(ax.figure.axes) == 2  # the panel and its colour bar
    ax2 = P.plot_kernel_nodes(np.ones((8, 8)), grid=2)
    assert _labels(ax2) == ["kept token (node)"] and len(ax2.lines) == 1 + 2  # one boundary each
    ax3 = P.plot_kernel_nodes(np.ones((8, 8)), grid=4, boundaries=False)
    assert len(ax3.lines) == 1  # nodes only
    with pytest.raises(ValueError, match="keep must have"):
        P.plot_kernel_nodes(np.ones((8, 8)), grid=2, keep=np.ones(3))
    with pytest.raises(ValueError, match="square"):
        P.plot_kernel_nodes(np.ones((8, 4)))


def test_plot_erank_by_layer_names_the_token_count():
    ax = P.plot_erank_by_layer({"a": np.ones((3, 2))}, n_tokens=16)
    assert "L = 16 (full rank)" in ax.get_legend_handles_labels()[1]
