"""Tests of mae_theory.hierarchy: structure, sampling, invertibility, validation."""

import numpy as np
import pytest
import torch

from mae_theory.hierarchy import LatentTree, Sample

SEVEN = {"r": None, "a": "r", "b": "r", "x1": "a", "x2": "a", "x3": "b", "x4": "b"}


def test_structure_of_the_seven_node_tree():
    t = LatentTree.from_parents(SEVEN, root_dim=2, noise_dim=3)
    assert t.root == "r" and t.nodes[0] == "r" and set(t.nodes) == set(SEVEN)
    assert t.leaves == ("x1", "x2", "x3", "x4") and t.latents == ("r", "a", "b")
    assert t.children["r"] == ("a", "b") and t.children["x1"] == ()
    # dims grow by noise_dim per level; leaves are (parent 5 + noise 3) = 8 dimensional
    assert (t.dims["r"], t.dims["a"], t.dims["x3"], t.leaf_dim) == (2, 5, 8, 8)
    assert t.descendant_leaves("a") == {"x1", "x2"} and t.descendant_leaves("x4") == {"x4"}
    assert t.ancestors("x3") == ("b", "r")
    pos = {v: i for i, v in enumerate(t.nodes)}
    assert all(pos[t.parents[v]] < pos[v] for v in t.nodes[1:])  # topological


def test_leaf_order_follows_the_parent_map_depth_first():
    t = LatentTree.from_parents({"r": None, "b": "r", "y": "r", "a": "b", "z": "b", "w": "a"})
    # depth first, children in the order listed: b's subtree (w under a, then z), then y
    assert t.leaves == ("w", "z", "y")
    assert t.dims["w"] == t.leaf_dim == 8  # w sits at level 3: parent a has 2 + 2 + 2 = 6


@pytest.mark.parametrize("branching,depth", [(2, 1), (2, 3), (3, 2), (4, 2)])
def test_balanced_sizes(branching, depth):
    t = LatentTree.balanced(branching, depth, root_dim=3, noise_dim=1)
    assert len(t.leaves) == branching**depth
    assert len(t.latents) == sum(branching**k for k in range(depth))
    assert t.leaf_dim == 3 + depth * 1
    assert {t.level[v] for v in t.leaves} == {depth}
    assert t.leaves[0] == "x1" and t.leaves[-1] == f"x{branching**depth}"


def test_sample_shapes_and_scale():
    t = LatentTree.balanced(2, 3)
    s = t.sample(4000, seed=0)
    assert isinstance(s, Sample) and s.n == 4000
    assert s.x.shape == (4000, 8, 8) and s.x.dtype == torch.float32
    assert set(s.values) == set(t.nodes) and set(s.noises) == set(t.nodes[1:])
    for v in t.nodes:
        assert s.values[v].shape == (4000, t.dims[v])
        assert 0.5 < s.values[v].std().item() < 1.6  # normalised layers keep values O(1)
    for i, v in enumerate(t.leaves):
        assert torch.equal(s.x[:, i], s.values[v])


def test_seeds_reproduce_bit_identically():
    a = LatentTree.balanced(2, 2, seed=3).sample(50, seed=7)
    b = LatentTree.balanced(2, 2, seed=3).sample(50, seed=7)
    c = LatentTree.balanced(2, 2, seed=3).sample(50, seed=8)
    d = LatentTree.balanced(2, 2, seed=4).sample(50, seed=7)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x) and not torch.equal(a.x, d.x)


@pytest.mark.parametrize("slope", [0.2, 1.0])
def test_every_edge_inverts(slope):
    t = LatentTree.balanced(2, 3, leaf_dim=11, negative_slope=slope)  # leaves lifted 8 -> 11
    s = t.sample(1000, seed=1)
    for v in t.nodes[1:]:
        parent, noise = t.invert(v, s.values[v])
        assert (parent - s.values[t.parents[v]]).abs().max() < 1e-4
        assert (noise - s.noises[v]).abs().max() < 1e-4


def test_generators_are_nonlinear_unless_slope_is_one():
    u = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
    for slope, linear in ((0.2, False), (1.0, True)):
        t = LatentTree.balanced(2, 2, negative_slope=slope)
        g = t.generate("a", u[:, :2], u[:, 2:])
        g2 = t.generate("a", 2 * u[:, :2], 2 * u[:, 2:])
        assert torch.allclose(g2, 2 * g, atol=1e-4) is linear


def test_tied_weights_share_generators_within_a_level():
    t = LatentTree.balanced(2, 2, tie_weights=True)
    p, e = torch.randn(3, 4), torch.randn(3, 2)
    assert torch.equal(t.generate("x1", p, e), t.generate("x3", p, e))
    assert not torch.equal(LatentTree.balanced(2, 2).generate("x1", p, e),
                           LatentTree.balanced(2, 2).generate("x3", p, e))


def test_images_place_siblings_in_one_block():
    t = LatentTree.balanced(4, 2, noise_dim=1)  # leaves: 2 + 1 + 1 = 4 = 2 x 2
    grid = t.leaf_grid()
    assert grid["x1"] == (0, 0) and grid["x2"] == (0, 1) and grid["x3"] == (1, 0)
    assert grid["x5"] == (0, 2) and grid["x16"] == (3, 3)
    s = t.sample(2, seed=0)
    img = t.as_images(s)
    assert img.shape == (2, 1, 8, 8)
    assert torch.equal(img[:, 0, 0:2, 2:4].reshape(2, 4), s.values["x2"])
    assert torch.equal(img[:, 0, 6:8, 6:8].reshape(2, 4), s.values["x16"])


@pytest.mark.parametrize("parents,match", [
    ({}, "non-empty mapping"),
    ({"r": None, "x": "q"}, "not nodes"),
    ({"r": None, "s": None, "x": "r"}, "exactly one root"),
    ({"a": "b", "b": "a"}, "exactly one root"),
    ({"r": None, "a": "b", "b": "a"}, "cycle"),
    ({"r": None}, "no children"),
])
def test_parent_map_validation(parents, match):
    with pytest.raises(ValueError, match=match):
        LatentTree.from_parents(parents)


@pytest.mark.parametrize("parents,match", [
    ({"r": None, 1: "r"}, "must be str"),
    ([("r", None)], "parents must be a mapping"),
])
def test_parent_map_types(parents, match):
    with pytest.raises(TypeError, match=match):
        LatentTree.from_parents(parents)


@pytest.mark.parametrize("kw,match", [
    (dict(root_dim=0), r"root_dim \(dim z_root\) must be an integer >= 1; got 0"),
    (dict(leaf_dim=5), r"leaf_dim \(token dimension d_x\) must be an integer >= 6; got 5"),
    (dict(negative_slope=0.0), r"negative_slope \(alpha\) must be a finite number in \(0.0, 1.0\]"),
    (dict(negative_slope=float("nan")), r"negative_slope \(alpha\)"),
    (dict(n_layers=-1), "n_layers must be an integer >= 1"),
])
def test_dimension_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        LatentTree.from_parents(SEVEN, **kw)


@pytest.mark.parametrize("kw,match", [
    (dict(noise_dim=1.5), r"noise_dim \(dim eps_v\) must be an integer; got 1.5"),
    (dict(negative_slope="0.2"), r"negative_slope \(alpha\) must be a number"),
    (dict(seed=0.5), "seed must be an int"),
])
def test_dimension_types(kw, match):
    with pytest.raises(TypeError, match=match):
        LatentTree.from_parents(SEVEN, **kw)


def test_seed_is_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        LatentTree(SEVEN, 2, 2, None, 0)


def test_other_bad_inputs():
    t = LatentTree.balanced(2, 2)
    with pytest.raises(ValueError, match=r"branching \(children per latent\) must be an"):
        LatentTree.balanced(1, 2)
    with pytest.raises(ValueError, match="not in the tree"):
        t.descendant_leaves("zz")
    with pytest.raises(ValueError, match="root has no"):
        t.invert("r", torch.zeros(1, 2))
    with pytest.raises(ValueError, match="n .number of samples N. must be"):
        t.sample(0)
    with pytest.raises(TypeError, match="n .number of samples N. must be an integer"):
        t.sample(np.float64(3.0))
    with pytest.raises(ValueError, match="not in the tree"):
        t.generate(["a"], torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"parent \(z_pa\(a\)\) must have shape \(N, 2\)"):
        t.generate("a", torch.zeros(1, 3), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"noise \(eps_a\) must be finite"):
        t.generate("a", torch.zeros(1, 2), torch.full((1, 2), float("nan")))
    with pytest.raises(TypeError, match=r"value \(z_a\) must be a torch.Tensor"):
        t.invert("a", np.zeros((1, 4)))
    with pytest.raises(ValueError, match="parent and noise must hold the same N rows"):
        t.generate("a", torch.zeros(2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="balanced 4-ary"):
        t.leaf_grid()
    with pytest.raises(ValueError, match="leaf_dim d_x = p\\*p"):
        LatentTree.balanced(4, 1, noise_dim=3).as_images(torch.zeros(1, 4, 5))
    quad = LatentTree.balanced(4, 1, leaf_dim=16)
    with pytest.raises(ValueError, match=r"x must hold tokens \(N, L, d_x\) = \(N, 4, 16\)"):
        quad.as_images(torch.zeros(1, 4, 9))


def test_tree_figures():
    import matplotlib.pyplot as plt

    from mae_theory.plotting import (
        plot_child_vs_parent,
        plot_shared_latents,
        plot_tree,
        plot_tree_images,
        tree_layout,
    )

    t = LatentTree.balanced(2, 2)
    pos = tree_layout(t)
    assert pos["x1"] == (0.0, -2.0) and pos["a"] == (0.5, -1.0) and pos["r"] == (1.5, 0.0)
    assert plot_tree(t, masked=[1, 0, 0, 1]).get_title() == "c(m) = {ρ, a, b}, dim c(m) = 6"
    assert len(plot_shared_latents(t, [["x1"], ["x1", "x2"], ["x3"]]).axes) == 4
    assert len(plot_child_vs_parent(t, t.sample(50, seed=0), "b").axes) == 3  # + colorbar
    t4 = LatentTree.balanced(4, 2, leaf_dim=16)
    fig = plot_tree_images(t4, t4.sample(3, seed=0), n=3, masked=["x1"])
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (16, 16, 4) and np.allclose(img[0, 0, :3], 0.88)
    plt.close("all")


def test_shared_latents_explorer():
    from mae_theory.widgets import shared_latents_explorer

    w = shared_latents_explorer(LatentTree.balanced(2, 2), masked=["x2"])
    assert w.children[0].value == ("x2",)  # the mask slider starts at the given mask
    with pytest.raises(ValueError, match="not leaves"):
        shared_latents_explorer(LatentTree.balanced(2, 2), masked=["a"])
