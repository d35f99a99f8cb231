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


CACHE_SLICES = [  # (experiment, label): one trained unit of each cache file, one test mask
    ("t3", ("t3", 0, 0.9, 0, True)),
    ("t4", ("t4", (4, 0), 0, True)),
    ("t5", ("t5", 16, 0, True)),
    ("t6", ("t6", "random", 0)),
]


@pytest.mark.parametrize(("experiment", "label"), CACHE_SLICES)
def test_a_committed_cache_unit_is_what_the_code_computes_now(experiment, label):
    # chapter 4 reads data/cache/ch4_*.json: recompute one trained unit's first test mask and
    # its gate, so a change to the model, the probes, the masks or the tree cannot leave stale
    # numbers in the book
    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import CACHE_DIR, cached_unit, chapter4_units, run_unit

    assert (CACHE_DIR / f"ch4_{experiment}.json").exists(), "run scripts/ch4_cache.py"
    (u,) = [u for u in chapter4_units(experiment) if u["label"] == label]
    stored = cached_unit(f"ch4_{experiment}", u["tree_spec"], u["cfg"], u["seed"],
                         u["test_masks"], compute=False, **u["options"])
    options = dict(u["options"], full_input=False, big_probe=0)
    new = run_unit(LatentTree.balanced(**u["tree_spec"]), u["cfg"], u["seed"],
                   u["test_masks"][:1], **options)
    assert new["gate"]["passed"] == stored["gate"]["passed"]
    assert new["gate"]["mse"] == pytest.approx(stored["gate"]["mse"], abs=0.01)
    (row,), ref = new["rows"], stored["rows"][0]
    assert row["masked"] == ref["masked"] and row["predicted"] == ref["predicted"]
    assert row["final_loss"] == pytest.approx(ref["final_loss"], rel=0.02)
    assert row["measured_dim"] == pytest.approx(ref["measured_dim"], abs=0.5)
    for v, r2 in ref["own_r2"].items():
        assert row["own_r2"][v] == pytest.approx(r2, abs=0.05), v


def test_every_cache_file_holds_exactly_the_declared_design():
    # no unit missing (the chapter would train it) and none left over from an old design
    import json

    from mae_theory.tree_mae import CACHE_DIR, chapter4_units, unit_payload

    for exp in ("t3", "t4", "t5", "t6"):
        stored = json.loads((CACHE_DIR / f"ch4_{exp}.json").read_text())["units"]
        want = [unit_payload(u["tree_spec"], u["cfg"], u["seed"], u["test_masks"],
                             **u["options"]) for u in chapter4_units(exp)]
        assert sorted(json.dumps(v["payload"], sort_keys=True) for v in stored.values()) == \
            sorted(json.dumps(p, sort_keys=True) for p in want), exp
        assert all(v["result"]["gate"] is None or v["result"]["gate"]["passed"]
                   for v in stored.values()), f"a model of {exp} failed its learning gate"


def test_surplus_split_adds_up_and_names_levels(tree):
    from mae_theory.tree_mae import node_levels, surplus_split

    own = {v: 0.5 for v in tree.nodes}
    out = surplus_split(tree, {"predicted": ["r", "a"], "own_r2": own})
    assert out["in_c"] == 2.0 and out["latent"] == 5.0 and out["leaf_noise"] == 8.0
    assert out["total"] == 15.0 and out["by_level"] == {1: 1.0, 2: 4.0, 3: 8.0}
    assert node_levels(tree)["r"] == 0 and node_levels(tree)["x1"] == 3
    with pytest.raises(TypeError, match="row must be a result dict"):
        surplus_split(tree, {"own_r2": own})


def test_a_lowest_level_latent_is_almost_always_shared(tree):
    from mae_theory.tree_mae import level_in_c_probability

    p = level_in_c_probability(tree)
    assert p[1] == p[7] == 1.0 and p[2] == p[6] == pytest.approx(24 / 28)
    assert p[4] == pytest.approx(64 / 70) and min(p.values()) > 0.85
    assert level_in_c_probability(tree, 0) == {k: 1.0 for k in range(1, 8)}
    with pytest.raises(ValueError, match="level must be a latent level 0..2"):
        level_in_c_probability(tree, 3)


def test_test_mask_design_enumerates_or_holds_out(tree):
    from mae_theory.tree_mae import all_masks, design_test_masks

    assert len(all_masks(tree, 0.25)) == 28 and len(all_masks(tree, 0.5, unit=2)) == 6
    shifted = all_masks(tree, 0.25, unit=2, shift=1)
    assert ("x1", "x8") in shifted and ("x2", "x3") in shifted and len(shifted) == 4
    drawn = random_test_masks(tree, TreeMAEConfig(mask_ratio=0.5, unit=2, shift=1), 300, seed=0)
    assert set(drawn) == set(all_masks(tree, 0.5, unit=2, shift=1))
    masks, held = design_test_masks(tree, 0.9, 8)
    assert not held and sorted(masks) == sorted(all_masks(tree, 0.9))
    masks, held = design_test_masks(tree, 0.25, 8, seed=3)
    assert held and len(set(masks)) == 8 and all(len(m) == 2 for m in masks)


def test_held_out_masks_never_train_and_random_drop_keeps_the_count(tree):
    from mae_theory.tree_mae import all_masks, mask_vector, train_tree_mae

    held = tuple(all_masks(tree, 0.25)[:20])
    cfg = TreeMAEConfig(steps=1, n_train=16, hidden_dim=4, mask_ratio=0.25, held_out=held)
    model = train_tree_mae(tree, cfg, seed=0, trained=False).model
    drawn = model.make_masking(500, 0.25, seed=0).mask
    hv = torch.stack([mask_vector(tree, m) for m in held])
    assert not (drawn[:, None, :] == hv[None]).all(-1).any()
    assert len({tuple(r.tolist()) for r in drawn}) == 8  # the 8 masks not held out
    bnd = train_tree_mae(tree, TreeMAEConfig(steps=1, n_train=16, hidden_dim=4,
                                             boundary_loss=True), seed=0, trained=False).model
    rnd = train_tree_mae(tree, TreeMAEConfig(steps=1, n_train=16, hidden_dim=4,
                                             random_drop=True), seed=0, trained=False).model
    m = bnd.make_masking(300, 0.5, seed=1).mask
    wb, wr = bnd.loss_weights(m), rnd.loss_weights(m)
    assert torch.equal(wb.sum(1), wr.sum(1)) and not torch.equal(wb, wr)
    assert ((wr > 0) <= (m > 0)).all()


@pytest.mark.parametrize(("kw", "error", "match"), [
    (dict(latent_dim=0), ValueError, "latent_dim must be an integer >= 1; got 0"),
    (dict(steps=10.0), TypeError, "steps must be an integer; got 10.0"),
    (dict(mask_ratio=1.0), ValueError, r"mask_ratio \(r\) must be a finite number"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite number"),
    (dict(n_probe=4), ValueError, "n_probe must be an integer >= 8"),
    (dict(shift=-1), ValueError, "shift must be an integer >= 0"),
    (dict(fixed_mask=["x1"]), TypeError, "fixed_mask must be None or a tuple of leaf names"),
    (dict(boundary_loss=1), TypeError, "boundary_loss must be True or False"),
    (dict(random_drop=1), TypeError, "random_drop must be True or False"),
    (dict(random_drop=True, boundary_loss=True), ValueError, "set one of them, not both"),
    (dict(held_out=("x1",)), TypeError, "held_out must hold masks as tuples of leaf names"),
    (dict(held_out="x1"), TypeError, "held_out must be a tuple of masks"),
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


def _committed(prefix):
    import json

    from mae_theory.tree_mae import CACHE_DIR

    return [(f, json.loads(f.read_text())) for f in sorted(CACHE_DIR.glob(f"{prefix}-*.json"))]


def _config(payload_cfg):
    import dataclasses

    from mae_theory.tree_mae import TreeMAEConfig

    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v

    cfg = TreeMAEConfig(**{k: tup(v) for k, v in payload_cfg.items()})
    assert set(payload_cfg) <= {f.name for f in dataclasses.fields(TreeMAEConfig)}
    return cfg


@pytest.mark.parametrize("prefix", ["tree_mae", "t2_random_masks"])
def test_every_committed_cache_file_is_found_under_its_own_key(prefix):
    # chapters look a run up by the hash of its payload: a config field added later must not
    # move the key of a run written before it (else the chapter silently recomputes it)
    import json

    from mae_theory.tree_mae import _cfg_payload, _key

    files = _committed(prefix)
    assert files, f"no cached {prefix} results"
    for path, stored in files:
        payload = dict(stored["payload"])
        payload["cfg"] = json.loads(json.dumps(_cfg_payload(_config(payload["cfg"])),
                                               default=str))
        assert payload == stored["payload"] and _key(prefix, payload).name == path.name


def test_a_committed_chapter3_cache_entry_is_what_the_code_computes_now():
    # chapter 3 loads T1/T2 from data/cache: recompute one seed of one entry and compare, so a
    # change to the model, the probes or the tree cannot leave stale numbers in the book
    from mae_theory.hierarchy import LatentTree
    from mae_theory.tree_mae import run_mask_experiment

    _, stored = _committed("tree_mae")[0]
    payload = stored["payload"]
    tree = LatentTree.balanced(**payload["tree"])
    seed = payload["seeds"][0]
    rows = run_mask_experiment(tree, _config(payload["cfg"]), [seed],
                               test_masks=payload["test_masks"],
                               n_test_masks=payload["n_test_masks"], trained=payload["trained"],
                               cache=False)
    old = [r for r in stored["rows"] if r["seed"] == seed]
    assert len(rows) == len(old) > 0
    for new, ref in zip(rows, old):
        assert new["masked"] == ref["masked"] and new["predicted_dim"] == ref["predicted_dim"]
        assert sorted(new["predicted"]) == sorted(ref["predicted"])
        assert abs(new["final_loss"] - ref["final_loss"]) < 0.02 * max(1.0, ref["final_loss"])
        assert abs(new["measured_dim"] - ref["measured_dim"]) < 0.5
