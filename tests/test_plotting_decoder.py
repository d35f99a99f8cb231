import matplotlib.pyplot as plt
import numpy as np
import pytest

from mae_theory.plotting import plot_paired_differences
from mae_theory.verdicts import t_interval


def test_paired_differences_use_the_verdict_interval():
    v = np.array([[0.80, 0.82, 0.85], [0.81, 0.84, 0.83], [0.79, 0.82, 0.86], [0.80, 0.81, 0.84]])
    ax = plot_paired_differences([1, 2, 4], v, smallest_effect=0.01)
    bars = ax.containers[0]
    mean, lo, hi = t_interval(100 * (v[:, 2] - v[:, 0]))
    assert bars.lines[0].get_ydata()[2] == pytest.approx(mean)
    seg = bars.lines[2][0].get_segments()[2]  # the error bar of x = 4
    assert seg[0][1] == pytest.approx(lo) and seg[1][1] == pytest.approx(hi)
    assert bars.lines[0].get_ydata()[0] == 0.0  # the reference
    # the axis shows the difference at its own size: zero and the smallest effect are drawn
    assert any(np.allclose(line.get_ydata(), 1.0) for line in ax.lines)
    with pytest.raises(ValueError, match="S >= 2"):
        plot_paired_differences([1, 2], np.ones((1, 2)))
    with pytest.raises(ValueError, match="reference"):
        plot_paired_differences([1, 2], np.ones((3, 2)), reference=2)
    plt.close("all")

