"""Tests for chapter 10's figures: pictures before its theorems, theory drawn as lines."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mae_theory import hmm, theory  # noqa: E402
from mae_theory import plotting as P  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_masked_prediction_marks_the_masked_runs_and_the_weights():
    cov = theory.exponential_covariance(16, lengths=(1.0, 8.0))
    vis = np.ones(16, bool)
    vis[4:8] = vis[11:13] = False
    w = np.zeros(16)
    w[vis] = np.linalg.solve(cov[np.ix_(vis, vis)], cov[vis, 5])
    ax = P.plot_masked_prediction(cov, vis, w, 5)
    assert len(ax.patches) == 2  # one hatched band per masked run
    assert ax.get_legend_handles_labels()[1] == ["masked pixels", "covariance with pixel 5",
                                                 "predictor weight"]
    assert ax.figure.get_figwidth() <= 7.5
    with pytest.raises(ValueError, match="masked target"):
        P.plot_masked_prediction(cov, vis, w, 0)  # pixel 0 is visible


def test_plot_hmm_twin_shows_equal_pair_and_unequal_triple_predictors():
    true = hmm.HMM(np.array([0.5, 0.3, 0.2]),
                   np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]]),
                   np.array([[0.7, 0.1, 0.1], [0.1, 0.7, 0.1], [0.1, 0.1, 0.4],
                             [0.1, 0.1, 0.4]]))
    twin = hmm.pairwise_twin(true, np.eye(3)[[1, 2, 0]], step=0.15)
    fig = P.plot_hmm_twin(true, twin)
    emissions, pairs, triples = fig.axes
    assert fig.get_figwidth() <= 7.5 and len(emissions.patches) == 2 * 12
    assert max(p.get_height() for p in pairs.patches) < 1e-12
    assert max(p.get_height() for p in triples.patches) > 5e-3
    assert pairs.get_ylim() == triples.get_ylim()  # one shared scale


def test_plot_reach_draws_exact_values_as_lines():
    ax = P.plot_reach([0.25, 0.5], [[1.0, 1.5], [2.0, 3.0]], [1, 2])
    assert all(line.get_marker() in ("None", "", None) for line in ax.lines)
    assert "reach" in ax.get_ylabel() and "rho" not in ax.get_ylabel()
