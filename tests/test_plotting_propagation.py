import matplotlib.pyplot as plt
import numpy as np
import pytest

from mae_theory.plotting import plot_update_vs_scale


def test_update_vs_scale_draws_bound_as_a_line():
    ax = plot_update_vs_scale([0.1, 1.0, 10.0], np.array([[1.0, 3.0], [2.0, 2.0], [2.5, 2.5]]),
                                3.0)
    markers, bound = ax.lines
    assert np.allclose(markers.get_ydata(), [2.0, 2.0, 2.5])
    assert markers.get_linestyle() == "None"  # data: markers only
    assert bound.get_linestyle() == "--" and np.allclose(bound.get_ydata(), 3.0)
    assert "theory" in ax.get_legend_handles_labels()[1][1]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0.0  # true scale
    with pytest.raises(ValueError, match="Gamma_b"):
        plot_update_vs_scale([1.0], [1.0], 0.0)
    plt.close("all")
