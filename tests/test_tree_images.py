"""Tests for mae_theory.tree_images: patches <-> leaves, shifted units, probing, the cache."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from mae_theory import tree_images as ti
from mae_theory.hierarchy import LatentTree
from mae_theory.masking import patchify, random_masking
from mae_theory.models import MAE
from mae_theory.theory import shared_latents

TINY = ti.TreeImageConfig(tree_depth=2, n_train=64, n_test=16, n_probe=40, n_test_masks=2,
                          steps=2, batch_size=8, embed_dim=16, enc_depth=1, dec_dim=16,
                          dec_depth=1)


def test_leaf_token_index_matches_the_rendered_images():
    tree = LatentTree.balanced(4, 3, leaf_dim=16, seed=0)
    s = tree.sample(3, seed=0)
    tokens = patchify(tree.as_images(s), 4)
    idx = ti.leaf_token_index(tree)
    assert torch.equal(tokens[:, idx], s.x)
    assert sorted(idx.tolist()) == list(range(64))


def test_aligned_units_hide_whole_sibling_blocks_and_shifted_ones_do_not():
    tree = ti.build_tree(ti.TreeImageConfig())
    aligned = random_masking(200, (8, 8), 0.5, unit=2, seed=0)
    shifted = ti.shift_masking(aligned, (8, 8), 1)
    level2 = [v for v in tree.latents if tree.level[v] == 2]
    for masking, expect_none in ((aligned, True), (shifted, False)):
        lm = ti.leaf_masks(tree, masking.mask)
        mixed = sum(len(set(level2) & shared_latents(tree, row)) for row in lm)
        assert (mixed == 0) == expect_none
    assert torch.equal(shifted.mask.sum(dim=1), aligned.mask.sum(dim=1))


def test_shift_masking_rolls_and_validates():
    m = random_masking(4, (4, 4), 0.5, unit=2, seed=1)
    assert ti.shift_masking(m, (4, 4), 0) is m
    rolled = ti.shift_masking(m, (4, 4), 1)
    expect = m.mask.reshape(4, 4, 4).roll((1, 1), dims=(1, 2)).reshape(4, 16)
    assert torch.equal(rolled.mask, expect)
    kept = torch.gather(torch.arange(16).expand(4, -1), 1, rolled.ids_keep)
    assert torch.all(torch.gather(rolled.mask, 1, kept) == 0)
    with pytest.raises(ValueError, match="grid_size"):
        ti.shift_masking(m, (2, 4), 1)
    with pytest.raises(TypeError, match="Masking"):
        ti.shift_masking(m.mask, (4, 4), 1)
    with pytest.raises(ValueError, match="shift"):
        ti.shift_masking(m, (4, 4), -1)


def test_shifted_unit_mae_is_the_mae_without_a_shift():
    a = ti.ShiftedUnitMAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    b = MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    ma, mb = a.make_masking(3, 0.5, unit=2, seed=4), b.make_masking(3, 0.5, unit=2, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(ma, mb))
    x = torch.randn(3, 1, 8, 8)
    assert torch.allclose(a(x, masking=ma)[0], b(x, masking=mb)[0])


def test_config_and_inputs_are_validated():
    with pytest.raises(ValueError, match="mask_ratio"):
        ti.TreeImageConfig(mask_ratio=1.0)
    with pytest.raises(ValueError, match="shift"):
        ti.TreeImageConfig(shift=-1)
    with pytest.raises(TypeError, match="TreeImageConfig"):
        ti.build_tree({"tree_depth": 3})
    with pytest.raises(TypeError, match="TreeImageConfig"):
        ti.train_tree_image_mae("cfg")
    with pytest.raises(ValueError, match="seed"):
        ti.train_tree_image_mae(TINY, seed=-1)
    with pytest.raises(ValueError, match="L = 16"):
        ti.leaf_masks(ti.build_tree(TINY), torch.zeros(2, 5))
    with pytest.raises(TypeError, match="LatentTree"):
        ti.leaf_token_index("tree")


def test_probe_rows_follow_the_theory_and_the_gate_runs():
    run = ti.train_tree_image_mae(TINY, seed=0)
    ctl = ti.train_tree_image_mae(TINY, seed=0, trained=False)
    g = ti.gate(run, ctl)
    assert g.n_test == TINY.n_test and g.mean_patch_mse > 0
    tree = ti.build_tree(TINY)
    rows = ti.probe_masks(run)
    assert len(rows) == TINY.n_test_masks + 1 and rows[-1]["predicted"] == []
    for row in rows[:-1]:
        assert row["predicted"] == sorted(shared_latents(tree, row["masked"]))
        assert {row["roles"][v] for v in row["predicted"]} == {"in c(m)"}
        assert set(row["own_r2"]) == set(tree.nodes)
    table = ti.level_table(tree, rows)
    assert sum(n for (_, _), (_, n) in table.items()) == len(rows) * len(tree.nodes)
    with pytest.raises(TypeError, match="TreeImageRun"):
        ti.probe_masks("run")


def test_claims_match_the_design():
    cl = ti.claims()
    assert {c.n_seeds for c in cl.values()} == {len(ti.SEEDS)}
    assert all(c.controls == ("untrained",) for c in cl.values())
    assert set(ti.design()) == {"r=0.25", "r=0.5", "r=0.75", "u=2 aligned", "u=2 shifted"}


def test_cached_runs_are_complete_gated_and_not_stale():
    """Every cached unit of the design exists; a prefix of one run reproduces its history."""
    settings = ti.design()
    for cfg in settings.values():
        for seed in ti.SEEDS:
            stored = ti.load_setting(cfg, seed)
            assert stored is not None, f"missing cache for {cfg} seed {seed}"
            assert stored["config"] == dataclasses.asdict(cfg)
            assert len(stored["trained"]) == cfg.n_test_masks + 1
    cfg = settings["r=0.5"]
    stored = json.loads(ti.setting_path(cfg, 0).read_text())
    every = stored["history"][0]["step"]
    prefix = [h for h in stored["history"] if h["step"] <= 50]
    torch.set_num_threads(1)
    run = ti.train_tree_image_mae(cfg, seed=0, stop_at=(50 // every) * every)
    got = [h["loss"] for h in run.history]
    assert len(got) == len(prefix) >= 2
    np.testing.assert_allclose(got, [h["loss"] for h in prefix], rtol=1e-4)


def test_positional_readout_keeps_every_visible_token_in_patch_order():
    run = ti.train_tree_image_mae(TINY, seed=0, trained=False)
    tree = ti.build_tree(TINY)
    x = run.images(tree, tree.sample(5, seed=3))
    mask = torch.zeros(16)
    mask[[0, 5, 9, 14]] = 1
    pos = run.features(x, mask, readout="positional")
    assert pos.shape == (5, 12 * TINY.embed_dim)
    tokens = pos.reshape(5, 12, TINY.embed_dim)
    assert torch.allclose(tokens.mean(dim=1), run.features(x, mask))
    assert run.features(x, None, readout="positional").shape == (5, 16 * TINY.embed_dim)
    with pytest.raises(ValueError, match="readout"):
        run.features(x, mask, readout="cls")
    with pytest.raises(ValueError, match="readout"):
        ti.probe_masks(run, readout="sum")
    rows = ti.probe_masks(run, readout="positional")
    assert len(rows) == TINY.n_test_masks + 1


def test_positional_claims_are_declared_for_the_design():
    cl = ti.positional_claims()
    assert {c.n_seeds for c in cl.values()} == {len(ti.SEEDS)}
    assert cl["members"].controls == cl["units"].controls == ("untrained",)
    assert cl["readout"].controls == ("mean token",)
    assert set(ti.POSITIONAL_SETTINGS) <= set(ti.design())
    assert len({c.key for c in list(cl.values()) + list(ti.claims().values())}) == 7
    cfg = ti.design()["r=0.25"]
    assert ti.positional_path(cfg, 0).name.startswith("tree_images_pos-")
    assert ti.positional_path(cfg, 0).name[-17:] == ti.setting_path(cfg, 0).name[-17:]


def test_positional_cache_is_complete_same_models_and_not_stale():
    """Every positional unit exists and was read from the cached models (same loss history,
    same masks); the untrained control's positional probe of one mask is recomputed, and a
    prefix of one retraining reproduces its history."""
    for name in ti.POSITIONAL_SETTINGS:
        cfg = ti.design()[name]
        for seed in ti.SEEDS:
            pos, old = ti.load_positional(cfg, seed), ti.load_setting(cfg, seed)
            assert pos is not None, f"missing positional cache for {name} seed {seed}"
            assert pos["readout"] == "positional"
            np.testing.assert_allclose([h["loss"] for h in pos["history"]],
                                       [h["loss"] for h in old["history"]],
                                       rtol=ti.RETRAIN_RTOL)
            for which in ("trained", "untrained", "trained_mean", "untrained_mean"):
                assert [r["masked"] for r in pos[which]] == \
                    [r["masked"] for r in old["trained"]]
            assert [r["predicted"] for r in pos["trained"]] == \
                [r["predicted"] for r in old["trained"]]
    cfg = ti.design()["r=0.25"]
    stored = ti.load_positional(cfg, 0)
    torch.set_num_threads(1)
    ctl = ti.train_tree_image_mae(cfg, seed=0, trained=False)
    mask = ctl.masks(cfg.n_test_masks, seed=ti.MASK_SEED_OFFSET + 0).mask[:1]
    row = ti.probe_masks(ctl, mask, full_input=False, readout="positional")[0]
    for v, r2 in row["own_r2"].items():
        assert r2 == pytest.approx(stored["untrained"][0]["own_r2"][v], abs=1e-4)
    every = stored["history"][0]["step"]
    run = ti.train_tree_image_mae(cfg, seed=0, stop_at=(50 // every) * every)
    got = [h["loss"] for h in run.history]
    want = [h["loss"] for h in stored["history"] if h["step"] <= (50 // every) * every]
    assert len(got) == len(want) >= 2
    np.testing.assert_allclose(got, want, rtol=1e-4)
