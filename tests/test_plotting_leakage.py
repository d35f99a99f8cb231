"""Leakage figures of chapters 3-4: colours from theory.node_roles, and bad input refused."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mae_theory.hierarchy import LatentTree  # noqa: E402
from mae_theory.plotting import leakage as L  # noqa: E402
from mae_theory.theory import expected_dim_curves  # noqa: E402

TREE = LatentTree.balanced(2, 2)


def teardown_function():
    plt.close("all")


def test_bars_are_coloured_by_the_role_theory_gives():
    r2 = [{v: 0.5 for v in TREE.nodes}, {v: 0.7 for v in TREE.nodes}]
    ax = L.plot_leakage_profile(TREE, r2, ["x1", "x2"], ["r"], control=r2[:1])
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    roles = dict(zip(TREE.nodes, colours))  # r in c; b and x3, x4 visible only; a masked only
    assert roles["r"] == L.IN_C.lower() and roles["b"] == roles["x3"] == L.VISIBLE_ONLY.lower()
    assert roles["a"] == roles["x1"] == L.MASKED_ONLY.lower()
    np.testing.assert_allclose([p.get_height() for p in ax.patches], 0.6)


def test_expected_dim_plot_draws_the_theory_curves():
    ratios = [0.25, 0.5, 0.75]
    ax = L.plot_expected_dim(TREE, ratios, [(1, 0), (2, 0)], n_draws=40)
    want = expected_dim_curves(TREE, ratios, [(1, 0), (2, 0)], n_draws=40)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), want[(2, 0)])
    assert L.expected_dim_curves is expected_dim_curves  # the old import path still works


def test_mask_tree_fills_c_of_m_and_hatches_masked_leaves():
    ax = L.plot_mask_tree(TREE, ["x1", "x2"], highlight=["a"], highlight_label="deepest")
    face = {v: matplotlib.colors.to_hex(c.get_facecolor()[0])
            for v, c in zip(TREE.nodes, ax.collections)}
    assert face["r"] == L.IN_C.lower()  # c(m) = {r} for this mask
    assert face["a"] == face["b"] == face["x3"] == "#ffffff"
    assert face["x1"] == matplotlib.colors.to_hex(L.MASKED_LEAF)
    assert ax.collections[TREE.nodes.index("x1")].get_hatch() == "////"
    ring = ax.collections[TREE.nodes.index("a")]
    assert matplotlib.colors.to_hex(ring.get_edgecolor()[0]) == L.HIGHLIGHT.lower()
    labels = {t.get_text(): t.get_fontsize() for t in ax.texts}
    assert "$\\rho$" in labels and min(labels.values()) >= 9  # the root is rho, >= 9 pt
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "deepest"


def test_tree_r2_labels_are_readable_and_the_colourbar_optional():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    L.plot_tree_r2(TREE, {v: 0.5 for v in TREE.nodes}, ["x1"], ["r", "a"], ax=ax,
                   colorbar=False)
    assert len(fig.axes) == 1 and min(t.get_fontsize() for t in ax.texts) >= 9


def test_theory_is_a_line_and_absent_where_silent():
    import matplotlib.lines as mlines

    th = [2.0, np.nan, np.nan]
    ax = L.plot_theory_vs_measured([2, 4, 16], th, [[2.0, 4.0, 9.0], [2.5, 4.5, 9.5]],
                                   labels=["2", "4", "16"], theory_label="Theorem 2")
    theory = [ln for ln in ax.lines if ln.get_color() == "black"]
    assert len(theory) == 1 and np.ptp(theory[0].get_xdata()) > 0  # one segment, at d = 2
    handles, names = ax.get_legend_handles_labels()
    h = handles[names.index("Theorem 2")]
    assert isinstance(h, mlines.Line2D) and h.get_marker() in ("None", None, "")
    ax = L.plot_theory_vs_measured([0.1, 0.5, 0.9], [1.0, np.nan, 3.0], [[1.0, 2.0, 3.0]])
    assert np.isnan(ax.lines[0].get_ydata()[1])  # the line breaks where the theory is silent


def test_level_profile_draws_mean_and_range_per_role_and_level():
    vis = "visible side only"
    tables = [{(0, "in c(m)"): (0.9, 1), (2, "in c(m)"): (0.2, 4), (2, vis): (0.5, 2)},
              {(0, "in c(m)"): (0.7, 1), (2, "in c(m)"): (0.4, 4), (2, vis): (0.3, 2)}]
    ax = L.plot_level_profile(tables, title="t")
    first = ax.containers[0]
    np.testing.assert_allclose(first.lines[0].get_ydata(), [0.8, 0.3])  # means over seeds
    assert [t.get_text() for t in ax.get_xticklabels()] == list(L.LEVEL_NAMES)
    assert len(ax.containers) == 2  # the masked-side role has no data and is not drawn


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: L.plot_leakage_profile(TREE, [], ["x1"], ["r"]), TypeError,
     "own_r2 must be a non-empty list of dicts"),
    (lambda: L.plot_leakage_profile(TREE, {"r": 1.0}, ["x1"], ["r"]), TypeError,
     "own_r2 must be a non-empty list of dicts"),
    (lambda: L.plot_leakage_profile(TREE, [{"r": 1.0}], ["x1"], ["r"]), ValueError,
     "own_r2 lacks R\\^2 values for nodes"),
    (lambda: L.plot_leakage_profile(TREE, [{v: np.nan for v in TREE.nodes}], ["x1"], ["r"]),
     ValueError, "own_r2 must hold finite R\\^2 values"),
    (lambda: L.plot_leakage_profile(TREE, [{v: 0.0 for v in TREE.nodes}], ["x1"], 0),
     TypeError, "predicted must be an iterable of node names"),
    (lambda: L.plot_leakage_profile(TREE, [{v: 0.0 for v in TREE.nodes}], ["q"], ["r"]),
     ValueError, "masked must hold leaves of the tree"),
    (lambda: L.plot_tree_r2(TREE, [0.5], ["x1"]), TypeError, "own_r2 must be a dict"),
    (lambda: L.plot_mask_tree(TREE, ["x1"], highlight=["q"]), ValueError,
     "highlight must hold nodes of the tree"),
    (lambda: L.plot_mask_tree(TREE, ["q"]), ValueError, "masked must hold leaves of the tree"),
    (lambda: L.plot_level_profile({(0, "in c(m)"): (1.0, 1)}), TypeError,
     "tables must be a non-empty list of dicts"),
    (lambda: L.plot_tree_r2("tree", {}, ["x1"]), TypeError, "tree must be a LatentTree"),
    (lambda: L.plot_theory_vs_measured(3, [1.0], [[1.0]]), TypeError,
     "x must be a sequence of positions"),
    (lambda: L.plot_theory_vs_measured([0.1, 0.5], [6], [[6.0, 9.0]]), ValueError,
     "theory must hold one value per x"),
    (lambda: L.plot_theory_vs_measured([0.1, 0.5], [6, 9], [6.0, 9.0]), ValueError,
     r"measured must have shape \(seeds, len\(x\)\)"),
    (lambda: L.plot_theory_vs_measured([0.1], [6], [["a"]]), TypeError,
     "theory and measured must hold numbers"),
    (lambda: L.plot_expected_dim(TREE, [0.5, 1.5], n_draws=5), ValueError,
     r"ratios\[1\] \(r\) must be a finite number"),
])
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
