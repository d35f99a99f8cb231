"""Token MAEs on latent trees: the prediction for a split, and one end-to-end recovery."""

import itertools

import pytest
import torch

from mae_theory.hierarchy import LatentTree
from mae_theory.theory import shared_dim, shared_latents
from mae_theory.tree_mae import (
    TreeMAEConfig,
    information_dim,
    loss_targets,
    mask_vector,
    mixed_nodes,
    random_test_masks,
    run_mask_experiment,
)


@pytest.fixture(scope="module")
def tree():
    return LatentTree.balanced(2, 3, seed=0, n_layers=1, negative_slope=0.5)


def test_mixed_nodes_match_the_theory_module_on_every_mask(tree):
    leaves = tree.leaves
    for k in range(1, len(leaves)):
        for masked in itertools.combinations(leaves, k):
            visible = [v for v in leaves if v not in masked]
            c = mixed_nodes(tree, masked, visible)
            assert c == shared_latents(tree, masked)
            assert information_dim(tree, c) == shared_dim(tree, masked)


def test_boundary_targets_and_their_shared_latents(tree):
    masked = ("x1", "x2", "x3")  # x3's sibling x4 is visible: no loss on x3
    assert loss_targets(tree, masked, True) == {"x1", "x2"}
    assert loss_targets(tree, masked, False) == set(masked)
    visible = [v for v in tree.leaves if v not in masked]
    assert mixed_nodes(tree, {"x1", "x2"}, visible) == {"r", "a"}  # ab no longer shared


def test_mask_vector_and_errors(tree):
    assert mask_vector(tree, ["x1", "x8"]).tolist() == [1, 0, 0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="are not leaves of the tree"):
        mask_vector(tree, ["a"])
    with pytest.raises(ValueError, match="disjoint, non-empty"):
        mixed_nodes(tree, [], ["x1"])


def test_random_test_masks_follow_the_config(tree):
    masks = random_test_masks(tree, TreeMAEConfig(mask_ratio=0.25, unit=2), 5, seed=0)
    for m in masks:
        assert len(m) == 2 and tree.leaves.index(m[0]) % 2 == 0  # one aligned pair


def test_trained_encoder_recovers_c_and_excludes_visible_nuisance(tree):
    """T1 in small: mask x1..x4, bottleneck d = dim c = 2 -> c-hat carries the root only."""
    cfg = TreeMAEConfig(latent_dim=2, fixed_mask=("x1", "x2", "x3", "x4"), steps=500,
                        n_train=8000, n_probe=1200)
    torch.manual_seed(0)  # irrelevant: everything is seeded explicitly
    (row,) = run_mask_experiment(tree, cfg, [0])
    assert row["predicted"] == ["r"] and row["predicted_dim"] == 2
    assert row["r2_in_c"] > 0.9
    assert row["r2_visible_only"] < 0.05
    (ctrl,) = run_mask_experiment(tree, cfg, [0], trained=False)
    assert ctrl["r2_in_c"] < 0.6


def test_shared_dim_explorer_builds_and_checks_the_unit(tree):
    from mae_theory.widgets import shared_dim_explorer

    shared_dim_explorer(tree, unit=2, n_draws=20)  # builds without error
    with pytest.raises(ValueError, match="must divide the number of leaves"):
        shared_dim_explorer(tree, unit=3)


def test_a_committed_cache_entry_is_what_the_code_computes_now():
    # the chapters load T3/T4/T6 from data/cache: recompute one seed of one entry and compare,
    # so a change to the model, the probes or the tree cannot leave stale numbers in the book
    import dataclasses
    import json

    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import CACHE_DIR, TreeMAEConfig, run_mask_experiment

    files = sorted(CACHE_DIR.glob("tree_mae-*.json"))
    assert files, f"no cached tree_mae results under {CACHE_DIR}"
    stored = json.loads(files[0].read_text())
    payload = stored["payload"]
    fields = {f.name for f in dataclasses.fields(TreeMAEConfig)}
    cfg_kw = {k: tuple(v) if isinstance(v, list) else v for k, v in payload["cfg"].items()}
    assert set(cfg_kw) == fields
    cfg = TreeMAEConfig(**cfg_kw)
    tree = LatentTree.balanced(**payload["tree"])
    seed = payload["seeds"][0]
    test_masks = payload["test_masks"]
    rows = run_mask_experiment(tree, cfg, [seed], test_masks=test_masks,
                               n_test_masks=payload["n_test_masks"],
                               trained=payload["trained"])
    old = [r for r in stored["rows"] if r["seed"] == seed]
    assert len(rows) == len(old) > 0
    for new, ref in zip(rows, old):
        assert new["masked"] == ref["masked"]
        assert sorted(new["predicted"]) == sorted(ref["predicted"])
        assert new["predicted_dim"] == ref["predicted_dim"]
        assert abs(new["final_loss"] - ref["final_loss"]) < 0.02 * max(1.0, ref["final_loss"])
        assert abs(new["measured_dim"] - ref["measured_dim"]) < 0.5
        assert abs(new["r2_in_c"] - ref["r2_in_c"]) < 0.02


@pytest.mark.parametrize(("kw", "error", "match"), [
    (dict(latent_dim=0), ValueError, "latent_dim must be an integer >= 1; got 0"),
    (dict(steps=10.0), TypeError, "steps must be an integer; got 10.0"),
    (dict(mask_ratio=1.0), ValueError, r"mask_ratio \(r\) must be a finite number"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite number"),
    (dict(n_probe=4), ValueError, "n_probe must be an integer >= 8"),
    (dict(shift=-1), ValueError, "shift must be an integer >= 0"),
    (dict(fixed_mask=["x1"]), TypeError, "fixed_mask must be None or a tuple of leaf names"),
    (dict(boundary_loss=1), TypeError, "boundary_loss must be True or False"),
])
def test_config_refuses_bad_values(kw, error, match):
    with pytest.raises(error, match=match):
        TreeMAEConfig(**kw)


def test_runners_refuse_bad_input(tree):
    from mae_theory.probes import LeakageProfile
    from mae_theory.tree_mae import seed_means, summarise_profile, train_tree_mae

    cfg = TreeMAEConfig(steps=1, n_train=16, n_probe=16, hidden_dim=4)
    with pytest.raises(TypeError, match="tree must be a LatentTree"):
        train_tree_mae("tree", cfg)
    with pytest.raises(TypeError, match="seed must be an integer"):
        train_tree_mae(tree, cfg, seed=torch.Generator())
    with pytest.raises(ValueError, match=r"seeds\[1\] must be an integer >= 0; got -1"):
        run_mask_experiment(tree, cfg, [0, -1])
    with pytest.raises(TypeError, match="seeds must be a non-empty sequence"):
        run_mask_experiment(tree, cfg, 3)
    with pytest.raises(ValueError, match="are not leaves of the tree"):
        run_mask_experiment(tree, cfg, [0], test_masks=[["x1", "zz"]])
    with pytest.raises(TypeError, match="masked must hold leaf names"):
        mask_vector(tree, [1, 0])
    with pytest.raises(TypeError, match="profile must be a LeakageProfile"):
        summarise_profile(tree, {"r": 1.0}, ["x1"])
    prof = LeakageProfile(("r",), ("value",), (1.0,), (1.0,))
    with pytest.raises(TypeError, match="masked must be an iterable of leaf names, not the"):
        summarise_profile(tree, prof, "x1")
    rows = [{"seed": 0, "r2": 0.5}, {"seed": 0, "r2": 0.7}, {"seed": 1, "r2": 0.1}]
    assert seed_means(rows, "r2") == pytest.approx({0: 0.6, 1: 0.1})
    with pytest.raises(ValueError, match="'dim' is missing from row 0"):
        seed_means(rows, "dim")
    with pytest.raises(TypeError, match="rows must be a sequence of result dicts"):
        seed_means({"seed": 0}, "seed")



# --- Theorem 2 under random masks (chapter 3, T2b) ---------------------------------------------

def test_cut_bottleneck_keeps_exactly_dim_c_coordinates():
    from mae_theory.hierarchy import LatentTree
    from mae_theory.theory import shared_dim
    from mae_theory.tree_mae import CutBottleneckMAE, split_masks

    t = LatentTree.balanced(2, 3)
    train_m, test_m = split_masks(t, 4, 10, seed=0)
    assert len(train_m) == 60 and not (train_m[:, None] == test_m[None]).all(-1).any()
    mae = CutBottleneckMAE(t, 14, 16, 1, train_masks=train_m, seed=0)
    x = t.sample(5, seed=0).x
    for m in test_m:
        names = [v for v, b in zip(t.leaves, m.tolist()) if b]
        nonzero = (mae.features(x, m) != 0).sum(dim=1)
        assert (nonzero <= shared_dim(t, names)).all()
        assert int(mae.shared_dims(m[None])[0]) == shared_dim(t, names)
    assert (mae.features(x) != 0).sum(dim=1).min() > 10  # the full input is not cut
    wide = CutBottleneckMAE(t, 14, 16, 1, train_masks=train_m, cut=False, seed=0)
    assert (wide.features(x, test_m[0]) != 0).sum(dim=1).min() > 10
    drawn = mae.make_masking(200, seed=0).mask  # training draws only the training masks
    assert (drawn[:, None] == train_m[None]).all(-1).any(1).all()


def test_cut_bottleneck_refuses_bad_input():
    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import CutBottleneckMAE, split_masks

    t = LatentTree.balanced(2, 2)
    with pytest.raises(ValueError, match="below the largest dim c"):
        CutBottleneckMAE(t, 2, train_masks=[[1, 0, 1, 0]])
    with pytest.raises(ValueError, match="same number of leaves"):
        CutBottleneckMAE(t, 6, train_masks=[[1, 0, 1, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"\(K, L\) array of 0/1"):
        CutBottleneckMAE(t, 6, train_masks=[[1, 0, 1]])
    with pytest.raises(ValueError, match="at least one and not all"):
        CutBottleneckMAE(t, 6, train_masks=[[1, 1, 1, 1]])
    with pytest.raises(TypeError, match="cut must be True or False"):
        CutBottleneckMAE(t, 6, train_masks=[[1, 0, 1, 0]], cut=1)
    with pytest.raises(ValueError, match="n_heldout must be an integer"):
        split_masks(t, 2, 6)


def test_committed_t2b_cache_is_what_the_code_computes_now():
    # chapter 3 reads T2b from data/cache/t2_random_masks-*.json: retrain the cut model of one
    # unit and compare its gate and probes with the committed numbers
    import json

    import torch

    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import CACHE_DIR, TreeMAEConfig, run_theorem2_random_masks

    files = sorted(CACHE_DIR.glob("t2_random_masks-*.json"))
    assert files, f"no cached T2b results under {CACHE_DIR}"
    stored = json.loads(files[0].read_text())
    p = stored["payload"]
    cfg = TreeMAEConfig(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in p["cfg"].items()})
    rows = run_theorem2_random_masks(
        LatentTree.balanced(**p["tree"]), cfg, p["seed"],
        train_masks=torch.tensor(p["train_masks"]), heldout_masks=torch.tensor(p["heldout_masks"]),
        models=("cut",))
    old = [r for r in stored["rows"] if r["model"] == "cut"]
    assert len(rows) == len(old) == len(p["heldout_masks"])
    for new, ref in zip(rows, old):
        assert new["masked"] == ref["masked"] and new["predicted"] == ref["predicted"]
        assert abs(new["masked_mse"] - ref["masked_mse"]) < 0.02
        assert abs(new["r2_in_c"] - ref["r2_in_c"]) < 0.02
        assert abs(new["r2_visible_only"] - ref["r2_visible_only"]) < 0.02


def test_t2b_runner_refuses_bad_input():
    import torch

    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import TreeMAEConfig, run_theorem2_random_masks, split_masks

    t = LatentTree.balanced(2, 2)
    train_m, test_m = split_masks(t, 2, 2)
    cfg = TreeMAEConfig(latent_dim=6, steps=2, n_train=16, hidden_dim=8, n_probe=16)
    with pytest.raises(ValueError, match="models must be a non-empty subset"):
        run_theorem2_random_masks(t, cfg, 0, train_masks=train_m, heldout_masks=test_m,
                                  models=("deep",))
    with pytest.raises(TypeError, match="cfg must be a TreeMAEConfig"):
        run_theorem2_random_masks(t, {}, 0, train_masks=train_m, heldout_masks=test_m)
    with pytest.raises(ValueError, match="heldout_masks must be a"):
        run_theorem2_random_masks(t, cfg, 0, train_masks=train_m,
                                  heldout_masks=torch.ones(2, 3))
    rows = run_theorem2_random_masks(t, cfg, 0, train_masks=train_m, heldout_masks=test_m,
                                     models=("untrained",))
    assert [r["model"] for r in rows] == ["untrained"] * len(test_m)
    assert all(abs(r["mean_mse"] - rows[0]["mean_mse"]) < 1e-12 for r in rows)
