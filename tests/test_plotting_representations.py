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


def test_cka_panels_fit_a_page():
    fig = plot_cka_matrices({k: np.eye(7) for k in "abc"}, axis_label="state $b$")
    assert fig.get_size_inches()[0] <= 7.5
    assert fig.axes[0].get_xlabel() == "state $b$"
    assert len(fig.axes) == 4  # three panels, one shared colourbar
    plt.close("all")
