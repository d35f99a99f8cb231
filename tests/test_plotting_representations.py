import matplotlib.pyplot as plt
import numpy as np
import pytest

from mae_theory.plotting import plot_cka_matrices, plot_grouped_bars, plot_seed_curves


def test_seed_curves_draw_mean_and_spread():
    ax = plot_seed_curves([1, 2, 3], {"a": np.array([[1.0, 2, 3], [3.0, 2, 1]])})
    # errorbar: the mean line holds the per-x means
    ys = ax.lines[0].get_ydata()
    assert np.allclose(ys, [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="points per seed"):
        plot_seed_curves([1, 2], {"a": np.ones((3, 3))})
    plt.close("all")


def test_grouped_bars_and_cka_panels():
    ax = plot_grouped_bars(["u"], {"a": np.array([[1.0], [3.0]])})
    assert ax.patches[0].get_height() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="one per category"):
        plot_grouped_bars(["u", "v"], {"a": np.ones((2, 3))})
    fig = plot_cka_matrices({"m": np.eye(2)}, labels=["x0", "x1"])
    assert fig.axes[0].get_title() == "m"
    with pytest.raises(ValueError, match="at least one model"):
        plot_cka_matrices({})
    plt.close("all")


def test_invertible_toy_has_three_panels_and_one_colourbar():
    from mae_theory.plotting import plot_invertible_toy
    from mae_theory.probes import invertible_map_toy

    fig = plot_invertible_toy(invertible_map_toy(100, seed=0))
    assert len(fig.axes) == 4  # three panels + one colourbar
    assert fig.get_size_inches()[0] <= 7.5
    with pytest.raises(TypeError, match="InvertibleToy"):
        plot_invertible_toy({"c": 1})
    plt.close("all")


def test_r2_by_dim_draws_unit_means_with_a_band():
    from mae_theory.plotting import plot_r2_by_dim

    rows = [dict(model=m, predicted_dim=d, tree=0, seed=s, a=v + 0.1 * s)
            for m, v in (("cut", 0.8), ("wide", 0.2)) for d in (2, 6) for s in (0, 1)]
    fig = plot_r2_by_dim(rows, models=["cut", "wide"], keys={"a": "A"})
    ax = fig.axes[0]
    assert ax.lines[0].get_ydata() == pytest.approx([0.85, 0.85])
    assert len(ax.collections) == 2  # one band per model
    assert fig.get_size_inches()[0] <= 7.5
    with pytest.raises(ValueError, match="lack the fields"):
        plot_r2_by_dim([dict(model="cut")], models=["cut"], keys={"a": "A"})
    plt.close("all")


def test_tree_r2_panels_share_one_colourbar_and_readable_labels():
    # fig-ch3-t2: one colourbar, labels >= 9 pt, root as rho
    from mae_theory.hierarchy import LatentTree
    from mae_theory.plotting import plot_tree_r2, plot_tree_r2_panels

    t = LatentTree.balanced(2, 2)
    r2 = {v: 0.5 for v in t.nodes}
    fig = plot_tree_r2_panels(t, {k: (r2, ["x1"], ["r"]) for k in "ABC"})
    assert len(fig.axes) == 4  # three panels, ONE colourbar
    assert fig.get_size_inches()[0] <= 7.5
    labels = [a for a in fig.axes[0].texts]
    assert min(a.get_fontsize() for a in labels) >= 9
    assert r"$\rho$" in {a.get_text() for a in labels}
    with pytest.raises(TypeError, match="panels must be"):
        plot_tree_r2_panels(t, {})
    # plot_tree_r2 keeps its own colourbar by default
    ax = plot_tree_r2(t, r2, ["x1"], ["r"])
    assert len(ax.figure.axes) == 2
    plt.close("all")


def test_leakage_profile_prints_at_9_pt_with_the_root_as_rho():
    # chapter 3's fig-ch3-t1 (plotting.leakage.plot_leakage_profile)
    from mae_theory.hierarchy import LatentTree
    from mae_theory.plotting import plot_leakage_profile

    t = LatentTree.balanced(2, 2)
    ax = plot_leakage_profile(t, [{v: 0.5 for v in t.nodes}], ["x1"], ["r"])
    ticks = ax.get_xticklabels()
    assert ticks[0].get_text() == r"$\rho$" and min(x.get_fontsize() for x in ticks) >= 9
    plt.close("all")


def test_cka_panels_fit_a_page():
    fig = plot_cka_matrices({k: np.eye(7) for k in "abc"}, axis_label="state $b$")
    assert fig.get_size_inches()[0] <= 7.5
    assert fig.axes[0].get_xlabel() == "state $b$"
    assert len(fig.axes) == 4  # three panels, one shared colourbar
    plt.close("all")
