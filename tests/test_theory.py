"""Tests of mae_theory.theory.

Section 1 (shared latents c(m)): hand-worked trees, a d-separation cross-check with networkx,
the r <-> 1 - r symmetry and the closed-form values of masks aligned with subtrees; then the
helpers tree_mae and the leakage figures call, and bad input refused (trees and linear MAE; the
linear MAE's closed forms themselves are tested in test_linear_mae.py).
"""

import itertools

import networkx as nx
import numpy as np
import pytest
import torch

from mae_theory.hierarchy import LatentTree
from mae_theory.theory import (
    deepest_shared_latents,
    expected_shared_dim,
    gaussian_r2,
    leaf_units,
    shared_dim,
    shared_dim_samples,
    shared_latents,
)

# --- 1. Shared latents c(m) -------------------------------------------------------------------

SEVEN = {"r": None, "a": "r", "b": "r", "x1": "a", "x2": "a", "x3": "b", "x4": "b"}


@pytest.fixture
def seven():
    #        r (dim 2)
    #      /   \
    #     a     b      (dim 4 = 2 + noise 2)
    #    / \   / \
    #   x1 x2 x3 x4    (leaves)
    return LatentTree.from_parents(SEVEN, root_dim=2, noise_dim=2)


@pytest.mark.parametrize("masked,mixed,dim", [
    # {x1,x2}: a's leaves are all masked, b's all visible; only r sees both sides -> dim 2
    (["x1", "x2"], {"r"}, 2),
    # {x1}: a has x1 masked and x2 visible -> mixed; r too -> 2 + 2 = 4
    (["x1"], {"r", "a"}, 4),
    # {x1,x3}: both a and b are split -> r, a, b -> 2 + 2 + 2 = 6
    (["x1", "x3"], {"r", "a", "b"}, 6),
    # {x1,x2,x3}: a all masked, b split -> r, b -> 4 (the complement {x4} gives the same)
    (["x1", "x2", "x3"], {"r", "b"}, 4),
    (["x4"], {"r", "b"}, 4),
])
def test_hand_worked_seven_node_tree(seven, masked, mixed, dim):
    assert shared_latents(seven, masked) == mixed
    assert shared_dim(seven, masked) == dim
    # the same mask as a 0/1 vector, a bool tensor and a numpy array
    ind = [int(v in masked) for v in seven.leaves]
    assert shared_latents(seven, ind) == mixed
    assert shared_latents(seven, torch.tensor(ind, dtype=torch.bool)) == mixed
    assert shared_latents(seven, np.array(ind)) == mixed


def test_kong_digest_table_on_the_eight_leaf_tree():
    # balanced binary, depth 3: r; a b; aa ab ba bb; x1..x8 (pairs under aa, ab, ba, bb)
    t = LatentTree.balanced(2, 3, root_dim=2, noise_dim=2)
    cases = {  # masked -> (deepest mixed nodes, dim c)
        ("x1",): ({"aa"}, 6),                          # r, a, aa: conservative, low level
        ("x1", "x2"): ({"a"}, 4),                      # r, a
        ("x1", "x2", "x3", "x4"): ({"r"}, 2),          # aligned with a subtree: the root only
        tuple(f"x{i}" for i in range(1, 8)): ({"bb"}, 6),  # aggressive: x7, x8 siblings
        tuple(f"x{i}" for i in range(1, 6)): ({"ba"}, 6),
    }
    for masked, (deepest, dim) in cases.items():
        assert deepest_shared_latents(t, masked) == deepest, masked
        assert shared_dim(t, masked) == dim, masked


def test_deep_unbalanced_tree_with_a_leaf_beside_a_latent():
    #   r -> x1, x2, a ; a -> x3, x4     masked {x1, x3}: r and a are mixed; only a is deepest
    t = LatentTree.from_parents({"r": None, "x1": "r", "x2": "r", "a": "r", "x3": "a",
                                 "x4": "a"}, root_dim=3, noise_dim=2)
    assert shared_latents(t, ["x1", "x3"]) == {"r", "a"}
    assert deepest_shared_latents(t, ["x1", "x3"]) == {"a"}
    assert shared_dim(t, ["x1", "x3"]) == 3 + 2
    assert shared_dim(t, ["x1"]) == 3  # a's leaves are all visible: r alone


def _dag(tree):
    """The DAG of a latent tree with explicit noise nodes eps_v -> v."""
    g = nx.DiGraph()
    g.add_nodes_from(tree.nodes)
    for v in tree.nodes[1:]:
        g.add_edge(tree.parents[v], v)
        g.add_edge(f"eps_{v}", v)
    return g


def _d_separated(g, xs, ys, zs):
    test = getattr(nx, "is_d_separator", None) or nx.d_separated  # networkx >= 3.3 / older
    return test(g, set(xs), set(ys), set(zs))


def _all_masks(tree):
    leaves = tree.leaves
    for k in range(1, len(leaves)):
        yield from itertools.combinations(leaves, k)


@pytest.mark.parametrize("tree", [
    LatentTree.balanced(2, 3),
    LatentTree.balanced(3, 2),
    LatentTree.from_parents({"r": None, "x1": "r", "x2": "r", "a": "r", "x3": "a", "b": "a",
                             "x4": "b", "x5": "b"}),
], ids=["binary-depth3", "ternary-depth2", "unbalanced"])
def test_mixed_nodes_match_d_separation(tree):
    g = _dag(tree)
    for masked in _all_masks(tree):
        visible = set(tree.leaves) - set(masked)
        mixed = shared_latents(tree, masked)
        # mixed = latent ancestors of at least one masked AND one visible leaf
        anc_m = set().union(*(nx.ancestors(g, v) for v in masked))
        anc_v = set().union(*(nx.ancestors(g, v) for v in visible))
        assert mixed == (anc_m & anc_v) & set(tree.latents)
        # the mixed subtree (c with its ancestors) d-separates masked from visible leaves
        assert _d_separated(g, masked, visible, mixed)
        # ... and no deepest mixed node can be dropped: its pure-masked and pure-visible
        # children are then joined through it
        for v in deepest_shared_latents(tree, masked):
            assert not _d_separated(g, masked, visible, mixed - {v})
        # the deepest mixed nodes alone separate in the plain DAG only when they cover every
        # path; invertibility is what makes them carry their ancestors (see chapter 2)
        deepest = deepest_shared_latents(tree, masked)
        closure = deepest | {a for v in deepest for a in tree.ancestors(v)}
        assert closure == mixed


def test_deepest_alone_need_not_d_separate_without_invertibility():
    # r -> x1, x2, a -> x3, x4; masked {x1, x3}: deepest = {a}, yet x1 <- r -> x2 is open
    t = LatentTree.from_parents({"r": None, "x1": "r", "x2": "r", "a": "r", "x3": "a",
                                 "x4": "a"})
    g = _dag(t)
    assert deepest_shared_latents(t, ["x1", "x3"]) == {"a"}
    assert not _d_separated(g, {"x1", "x3"}, {"x2", "x4"}, {"a"})
    assert _d_separated(g, {"x1", "x3"}, {"x2", "x4"}, {"a", "r"})


def test_leaf_units_alignment_and_wrapping():
    t = LatentTree.balanced(2, 3)
    assert leaf_units(t, 4) == ((0, 1, 2, 3), (4, 5, 6, 7))
    assert leaf_units(t, 2, shift=1) == ((1, 2), (3, 4), (5, 6), (7, 0))
    assert leaf_units(t, 3) == ((0, 1, 2), (3, 4, 5), (6, 7))  # last unit shorter


def test_aligned_units_closed_forms():
    t = LatentTree.balanced(2, 3)
    # units of 4 = the subtrees of a and b; r = 0.5 masks one of them: c = {r}, dim 2
    assert expected_shared_dim(t, 0.5, unit=4, exact=True) == 2.0
    # units of 2 = subtrees of aa..bb; masking 2 of 4: {aa,ab} or {ba,bb} (2 of 6 masks) give
    # dim 2, the other 4 masks split both a and b: dim 6  -> (2*2 + 4*6) / 6 = 14/3
    assert expected_shared_dim(t, 0.5, unit=2, exact=True) == pytest.approx(14 / 3)
    # single leaf masked: always r, a level-1 node and a level-2 node: dim 6
    assert expected_shared_dim(t, 0.125, exact=True) == 6.0
    # Monte Carlo agrees with the enumeration
    mc = expected_shared_dim(t, 0.5, unit=2, n_draws=4000, seed=0)
    assert mc == pytest.approx(14 / 3, abs=0.15)


@pytest.mark.parametrize("unit,shift", [(1, 0), (2, 0), (2, 1), (4, 2)])
def test_ratio_symmetry(unit, shift):
    # c(m) depends only on the partition {M, V}: r and 1 - r give the same distribution
    # when U r is an integer (complementary numbers of masked units)
    t = LatentTree.balanced(2, 4)
    n_units = len(leaf_units(t, unit, shift))
    for k in range(1, n_units):
        r = k / n_units
        a = np.sort(shared_dim_samples(t, r, unit=unit, shift=shift, exact=True))
        b = np.sort(shared_dim_samples(t, 1 - r, unit=unit, shift=shift, exact=True))
        assert np.array_equal(a, b)


def test_shift_removes_the_benefit_of_alignment():
    # digest sec. 3 / T4: 16 leaves, r = 0.5: aligned units of 2 keep the lowest level out
    t = LatentTree.balanced(2, 4)
    aligned = expected_shared_dim(t, 0.5, unit=2, exact=True)
    shifted = expected_shared_dim(t, 0.5, unit=2, shift=1, exact=True)
    pixel = expected_shared_dim(t, 0.5, unit=1, exact=True)
    assert aligned < 11 < pixel < shifted + 0.5 and shifted > 20


def test_samples_are_reproducible():
    t = LatentTree.balanced(2, 3)
    a = shared_dim_samples(t, 0.75, seed=1)
    assert np.array_equal(a, shared_dim_samples(t, 0.75, seed=1)) and a.shape == (2000,)


@pytest.mark.parametrize("masked,match", [
    (["zz"], r"\['zz'\] are not leaves"),
    (["a"], r"\['a'\] are not leaves"),
    ([], "at least one and not all"),
    (["x1", "x2", "x3", "x4"], "at least one and not all"),
    ("x1", "not the single string"),
    ([1, 0, 1], "one entry per leaf"),
    ([2, 0, 0, 0], "only 0/1 values"),
])
def test_bad_masks(seven, masked, match):
    with pytest.raises(ValueError, match=match):
        shared_latents(seven, masked)


def test_bad_ratio_and_units(seven):
    with pytest.raises(ValueError, match="masks no unit"):
        expected_shared_dim(seven, 0.0)
    with pytest.raises(ValueError, match="leaves no visible token"):
        expected_shared_dim(seven, 0.9)
    with pytest.raises(ValueError, match=r"unit \(masking unit size s\) must be"):
        expected_shared_dim(seven, 0.5, unit=0)
    with pytest.raises(ValueError, match="shift"):
        expected_shared_dim(seven, 0.5, shift=4)
    with pytest.raises(ValueError, match="would enumerate"):
        expected_shared_dim(LatentTree.balanced(4, 3), 0.5, exact=True)


def _ls_r2(features, target, n_train):
    """Held-out R^2 of an ordinary least-squares fit (with intercept)."""
    f = torch.cat([features, torch.ones(len(features), 1)], dim=1).double()
    y = target.double()
    w = torch.linalg.lstsq(f[:n_train], y[:n_train]).solution
    res = y[n_train:] - f[n_train:] @ w
    tot = y[n_train:] - y[n_train:].mean(0)
    return 1 - (res**2).sum().item() / (tot**2).sum().item()


def test_gaussian_r2_matches_least_squares():
    t = LatentTree.balanced(2, 3, negative_slope=1.0, leaf_dim=10, seed=2)  # lifted 8 -> 10
    s = t.sample(30000, seed=0)
    masked = ["x1", "x2", "x3"]
    xm = torch.cat([s.values[v] for v in masked], dim=1)
    visible = [v for v in t.leaves if v not in masked]
    # hand-worked: c(m) = {r, a, ab}; x1, x2 below aa (not fixed by ab): deepest fixed
    # ancestor a (dim 4); x3 below ab (dim 6): (4 + 4 + 6) / (8 * 3) = 14/24
    assert gaussian_r2(t, masked, ["ab"]) == pytest.approx(14 / 24)
    assert gaussian_r2(t, masked, visible) == pytest.approx(14 / 24)
    for given in (["r"], ["a"], ["ab"], ["ab", *visible], visible, ["aa", "b"], ["x1"]):
        feats = torch.cat([s.values[v] for v in given], dim=1)
        assert _ls_r2(feats, xm, 25000) == pytest.approx(gaussian_r2(t, masked, given),
                                                         abs=0.02), given


def test_gaussian_r2_needs_a_linear_tree():
    with pytest.raises(ValueError, match="negative_slope=1.0"):
        gaussian_r2(LatentTree.balanced(2, 2), ["x1"], ["r"])
    with pytest.raises(ValueError, match=r"\['q'\] are not nodes"):
        gaussian_r2(LatentTree.balanced(2, 2, negative_slope=1.0), ["x1"], ["q"])


# --- helpers that tree_mae and the leakage figures build on ------------------------------------


def test_frontier_boundary_targets_and_roles(seven):
    from mae_theory.theory import ROLES, boundary_targets, frontier, node_roles

    assert frontier(seven, {"r", "a", "b"}) == {"a", "b"}
    assert frontier(seven, shared_latents(seven, ["x1"])) == deepest_shared_latents(seven, ["x1"])
    # x3's sibling x4 is visible: x3 is not a T6 target; x1, x2 have no visible sibling
    assert boundary_targets(seven, ["x1", "x2", "x3"]) == {"x1", "x2"}
    assert boundary_targets(seven, ["x1"]) == frozenset()
    roles = node_roles(seven, ["x1", "x2"])
    assert list(roles) == list(seven.nodes)  # tree order, for the bar chart
    assert roles == {"r": ROLES[0], "a": ROLES[2], "b": ROLES[1], "x1": ROLES[2],
                     "x2": ROLES[2], "x3": ROLES[1], "x4": ROLES[1]}
    # a given prediction (T6: c of the targets only) overrides c(m)
    assert node_roles(seven, ["x1", "x2", "x3"], predicted={"r"})["b"] == ROLES[2]


def test_mean_shared_dim_is_the_mean_of_shared_dim_over_the_masks():
    from mae_theory.theory import boundary_targets, mean_shared_dim, mixed_latents

    t = LatentTree.balanced(2, 3)
    masks = [[int(i in combo) for i in range(8)]
             for k in (1, 3, 6) for combo in itertools.combinations(range(8), k)]
    want = np.mean([shared_dim(t, m) for m in masks])
    assert mean_shared_dim(t, masks) == pytest.approx(want, abs=1e-12)
    assert mean_shared_dim(t, torch.tensor(masks, dtype=torch.float32)) == pytest.approx(want)
    total = 0
    for m in masks:  # the T6 rule written out
        masked = [v for v, b in zip(t.leaves, m) if b]
        targets = boundary_targets(t, masked)
        if targets:
            visible = set(t.leaves) - set(masked)
            total += sum(t.own_dim(v) for v in mixed_latents(t, targets, visible))
    assert mean_shared_dim(t, masks, boundary_loss=True) == pytest.approx(total / len(masks))


def test_expected_dim_curves_mark_impossible_ratios_nan():
    from mae_theory.theory import expected_dim_curves

    t = LatentTree.balanced(2, 2)
    curves = expected_dim_curves(t, [0.0, 0.5, 0.9], [(1, 0), (2, 0)], n_draws=50, seed=0)
    assert np.isnan(curves[(1, 0)][0]) and np.isnan(curves[(2, 0)][2])
    assert curves[(2, 0)][1] == 2.0  # one of two aligned halves: the root only
    with pytest.raises(ValueError, match=r"ratios\[1\] \(r\) must be a finite number"):
        expected_dim_curves(t, [0.5, 1.0])
    with pytest.raises(ValueError, match=r"unit \(masking unit size s\) must be an integer"):
        expected_dim_curves(t, [0.5], [(0, 0)])


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda t: shared_latents("tree", ["x1"]), TypeError, "tree must be a LatentTree"),
    (lambda t: shared_latents(t, 3), TypeError, "masked .* must be an iterable"),
    (lambda t: shared_dim(t, [1.5, 0, 0, 0]), ValueError, "are not leaves"),
    (lambda t: expected_shared_dim(t, float("nan")), ValueError, "mask ratio"),
    (lambda t: expected_shared_dim(t, 0.5, n_draws=0), ValueError,
     "n_draws must be an integer >= 1; got 0"),
    (lambda t: expected_shared_dim(t, 0.5, unit=2.0), TypeError,
     r"unit \(masking unit size s\) must be an integer; got 2.0"),
    (lambda t: shared_dim_samples(t, 0.5, seed="0"), TypeError, "seed must be an int"),
    (lambda t: leaf_units(t, 1, shift=-1), ValueError,
     r"shift \(masking unit offset\) must be an integer in \[0, 3\]"),
    (lambda t: __import__("mae_theory").theory.information_dim(t, 5), TypeError,
     "nodes must be an iterable of node names"),
    (lambda t: __import__("mae_theory").theory.frontier(t, ["q"]), ValueError,
     r"nodes must hold nodes of the tree; \['q'\] are not nodes"),
    (lambda t: __import__("mae_theory").theory.mixed_latents(t, "x1", ["x2"]), TypeError,
     "first must be an iterable of leaf names, not the single string"),
    (lambda t: __import__("mae_theory").theory.mean_shared_dim(t, [[1, 0, 0]]), ValueError,
     r"masks must be a \(D, L\) array of 0/1"),
    (lambda t: __import__("mae_theory").theory.mean_shared_dim(t, [[2, 0, 0, 0]]), ValueError,
     r"masks must be a \(D, L\) array of 0/1"),
    (lambda t: __import__("mae_theory").theory.node_roles(t, ["x1"], predicted=["zz"]),
     ValueError, "predicted must hold nodes of the tree"),
])
def test_tree_theory_refuses_bad_input(seven, call, error, match):
    with pytest.raises(error, match=match):
        call(seven)


# --- 2. The linear MAE: bad input ---------------------------------------------------------------


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda th: th.exponential_covariance(1), ValueError,
     r"n \(pixels per signal\) must be an integer >= 2; got 1"),
    (lambda th: th.exponential_covariance(8.0), TypeError, r"n \(pixels per signal\)"),
    (lambda th: th.exponential_covariance(8, nugget=-1.0), ValueError, r"nugget \(epsilon\)"),
    (lambda th: th.exponential_covariance(8, lengths=("a",)), TypeError, r"lengths \(ell\)"),
    (lambda th: th.exponential_covariance(8, lengths=(float("nan"),)), ValueError,
     r"lengths \(ell\) must be a flat sequence of finite numbers"),
    (lambda th: th.expected_masked_loss(np.zeros((8, 8)), np.full((8, 8), np.nan), 2, 0.5),
     ValueError, "Sigma must be finite"),
    (lambda th: th.expected_masked_loss(np.zeros((8, 8)), th.exponential_covariance(8), 2.0,
                                        0.5), TypeError, r"patch_size \(p\) must be an integer"),
    (lambda th: th.optimal_linear_predictor(np.eye(3)[:2], 1, 0.5), ValueError,
     r"Sigma must be a square \(n, n\) matrix"),
    (lambda th: th.optimal_linear_predictor("cov", 1, 0.5), TypeError,
     r"Sigma must be a square \(n, n\) matrix of numbers"),
    (lambda th: th.fixed_mask_optimum(th.exponential_covariance(4), np.array([0.5, 0, 0, 1])),
     TypeError, r"masked \(the masked set\) must be a boolean"),
    (lambda th: th.fixed_mask_optimum(th.exponential_covariance(4),
                                      np.array([True, False, False, False]), rank=2),
     ValueError, r"rank \(d\) must be an integer in \[1, 1\]"),
    (lambda th: th.linear_mae_optimum(th.exponential_covariance(4), 1, 0.5, 2, restarts=-1),
     ValueError, "restarts must be an integer >= 0"),
    (lambda th: th.linear_mae_optimum(th.exponential_covariance(4), 1, 0.5, 2, seed=1.5),
     TypeError, "seed must be an int"),
    (lambda th: th.subspace_angle(np.zeros((1, 3)), np.eye(3)[:1]), ValueError,
     "a has an all-zero row"),
    (lambda th: th.subspace_angle(np.eye(3), np.eye(2)), ValueError,
     "same number of columns"),
    (lambda th: th.predictor_reach(np.zeros((4, 4))), ValueError, "all zeros"),
])
def test_linear_theory_refuses_bad_input(call, error, match):
    from mae_theory import theory

    with pytest.raises(error, match=match):
        call(theory)


def test_linear_optimum_takes_a_generator_and_tensors():
    from mae_theory import theory

    cov = theory.exponential_covariance(8)
    a = theory.linear_mae_optimum(cov, 2, 0.5, 2, restarts=1, seed=torch.Generator()
                                  .manual_seed(0), iters=5)
    b = theory.linear_mae_optimum(cov, 2, 0.5, 2, restarts=1, seed=torch.Generator()
                                  .manual_seed(0), iters=5)
    assert a[2] == b[2]
    w = theory.optimal_linear_predictor(cov, 2, 0.5)
    assert theory.predictor_reach(torch.as_tensor(w)) == theory.predictor_reach(w)


# --- Shared latents in a DAG (chapter 2): the rule against a brute force ----------------------

DAG5 = {"r": (), "u": (), "a": ("r",), "b": ("r", "u"), "c": ("a", "b"), "x1": ("a",),
        "x2": ("c",), "x3": ("c",), "x4": ("b",), "x5": ("u",)}


@pytest.mark.parametrize("seed", [0, 1])
def test_dag_rule_matches_the_brute_force_on_every_mask(seed):
    # two sources, two nodes with two parents: c(m) = latents with a masked and a visible
    # descendant leaf; the brute force never uses that rule
    from mae_theory.theory.dags import dag_bruteforce

    leaves = ["x1", "x2", "x3", "x4", "x5"]
    for k in range(1, 5):
        for m in itertools.combinations(leaves, k):
            out = dag_bruteforce(DAG5, m, seed=seed)
            assert out["rule_dim"] == out["shared_dim"] == out["min_screening_dim"], m
            assert out["rule_screens"], m
            assert out["minimal_closures"] == {out["rule"]}, m


def test_dag_information_dim_is_not_the_sum_of_member_dims():
    from mae_theory.theory.dags import dag_bruteforce, dag_shared_latents

    out = dag_bruteforce(DAG5, ["x1", "x2"])
    assert out["rule"] == frozenset({"r", "u", "a", "b", "c"})
    assert out["shared_dim"] == 10 and out["nominal_dim"] == 26
    # a tree is a DAG: the rule is the tree's mixed nodes
    tree = LatentTree.balanced(2, 3)
    dag = {v: (() if p is None else (p,)) for v, p in tree.parents.items()}
    for m in (["x1"], ["x1", "x2", "x3"], ["x2", "x5", "x8"]):
        assert dag_shared_latents(dag, m) == shared_latents(tree, m)


@pytest.mark.parametrize(("parents", "masked", "error", "match"), [
    ({"r": (), "x": ("r",), "y": ("r",)}, "x", TypeError, "not the single string"),
    ({"r": (), "x": ("r",), "y": ("r",)}, ["x", "y"], ValueError, "proper subset"),
    ({"r": (), "x": "r", "y": ("r",)}, ["x"], TypeError, "Wrap a single parent"),
    ({"r": ("x",), "x": ("r",), "y": ("r",)}, ["x"], ValueError, "cycle"),
    ({"r": (), "x": ("q",)}, ["x"], ValueError, "not nodes"),
    ([], ["x"], TypeError, "non-empty mapping"),
])
def test_dag_functions_refuse_bad_input(parents, masked, error, match):
    from mae_theory.theory.dags import dag_shared_latents

    with pytest.raises(error, match=match):
        dag_shared_latents(parents, masked)
