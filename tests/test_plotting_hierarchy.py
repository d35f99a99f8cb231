"""Tests for mae_theory.plotting.hierarchy: print-quality labels, the rho root, the DAG and
check figures of chapter 2."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mae_theory.hierarchy import LatentTree  # noqa: E402
from mae_theory.plotting import hierarchy as H  # noqa: E402
from mae_theory.theory import dag_bruteforce  # noqa: E402

DAG = {"r": (), "u": (), "a": ("r",), "b": ("r", "u"), "c": ("a", "b"), "x1": ("a",),
       "x2": ("c",), "x3": ("c",), "x4": ("b",), "x5": ("u",)}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return [t for t in ax.texts if t.get_text()]


def test_plot_tree_labels_are_print_size_and_root_is_rho():
    t = LatentTree.balanced(2, 3)
    ax = H.plot_tree(t, masked=["x1", "x2", "x3", "x4"])
    labels = {t.get_text(): t.get_fontsize() for t in _texts(ax)}
    assert "ρ" in labels and "r" not in labels
    assert min(labels.values()) >= 9
    assert ax.get_title() == "c(m) = {ρ}, dim c(m) = 2"
    assert H.plot_tree(t, masked=["x1"], root_label=None).get_title().startswith("c(m) = {r,")
    # show_shared=False: the mask only, no c(m) title
    assert H.plot_tree(t, masked=["x1"], show_shared=False).get_title() == ""


def test_default_figures_fit_the_page():
    t = LatentTree.balanced(2, 3)
    fig = H.plot_shared_latents(t, [["x1"], ["x1", "x2"]], titles=["one", "two"])
    assert fig.get_figwidth() <= 7.5 and [a.get_title() for a in fig.axes] == ["one", "two"]
    fig = H.plot_child_vs_parent(t, t.sample(50, seed=0), "a")
    assert fig.get_figwidth() <= 7.5 and "rho" in fig.axes[0].get_xlabel()
    assert len(fig.axes) == 3  # two panels + one colourbar
    t4 = LatentTree.balanced(4, 2, leaf_dim=16)
    fig = H.plot_tree_images(t4, t4.sample(4, seed=0), masked=["x1"], row_label="mask")
    assert fig.get_figwidth() <= 7.5 and fig.axes[0].get_ylabel() == "mask"
    assert len(fig.axes[0].patches) == 1  # the masked patch is outlined and hatched


def test_plot_dag_marks_shared_latents():
    pos = H.dag_layout(DAG)
    assert pos["x1"][1] == pos["x5"][1] == -3.0 and pos["r"][1] == 0.0 and pos["c"][1] == -2.0
    ax = H.plot_dag(DAG, masked=["x5"])
    assert ax.get_title() == "c(m) = {u}"
    assert min(t.get_fontsize() for t in _texts(ax)) >= 9


def test_check_figures_draw_theory_as_lines():
    masks = list(itertools.combinations(["x1", "x2", "x3", "x4", "x5"], 1))
    runs = [dag_bruteforce(DAG, m, seed=0) for m in masks]
    ax = H.plot_dag_check(runs, masks)
    handles = ax.get_legend().legend_handles
    assert handles[1].get_marker() in ("None", "", None) and handles[1].get_linestyle() == "-"
    assert len(ax.collections) == 2  # rule and member sum: line collections, not markers
    ax = H.plot_r2_by_set(["a", "b"], [0.25, 0.5], np.array([[0.24, 0.5], [0.26, 0.49]]))
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_legend().legend_handles[0].get_linestyle() == "-"
