"""What a tree MAE's full-input representation is good for (chapter 4b)."""

import json

import pytest
import torch

from mae_theory import tree_downstream as td
from mae_theory.tree_mae import TreeMAEConfig


@pytest.fixture(scope="module")
def tree():
    return td.harsh_tree(0)


def test_harsh_tree_is_harsher_than_chapter_4s_and_its_label_is_balanced(tree):
    assert (tree.n_layers, tree.negative_slope, len(tree.leaves)) == (2, 0.1, 16)
    s = tree.sample(4000, seed=0)
    y = td.root_class(tree, s)
    assert abs(float(y.float().mean()) - 0.5) < 0.03
    one = s.x[:, 0]  # one leaf reads the root class linearly only weakly
    acc = td.ridge_classifier_accuracy(one[:3000], y[:3000], one[3000:], y[3000:])
    assert 0.5 < acc < 0.8


def test_ridge_probe_is_deterministic_and_refuses_bad_labels():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(200, 4, generator=g), torch.arange(200) % 2
    a = td.ridge_classifier_accuracy(z[:150], y[:150], z[150:], y[150:])
    assert a == td.ridge_classifier_accuracy(z[:150], y[:150], z[150:], y[150:])
    with pytest.raises(ValueError, match="test_labels must be a 0/1 tensor"):
        td.ridge_classifier_accuracy(z[:150], y[:150], z[150:], y[150:] + 2)
    with pytest.raises(TypeError, match="train_feats must be a float tensor"):
        td.ridge_classifier_accuracy(y[:150], y[:150], z[150:], y[150:])


def test_bayes_split_is_ordered_and_grows_with_the_masked_subtree(tree):
    s, std = tree.sample(300, seed=1), tree.sample(4000, seed=2).x.std(dim=0)
    sib = td.bayes_error_split(tree, s, ["x1"], std, seed=0)  # sibling x2 visible
    far = td.bayes_error_split(tree, s, tree.leaves[:8], std, seed=0)  # half the tree hidden
    assert 0 < sib["leaf_noise"] <= sib["bayes"] + 0.02
    assert far["bayes"] > sib["bayes"] + 0.1  # more unknown latents above the masked leaves
    # with its sibling visible, x1's only unknown is its own noise: floor = leaf-noise part
    assert abs(sib["bayes"] - sib["leaf_noise"]) < 0.05
    with pytest.raises(ValueError, match="some but not all leaves"):
        td.bayes_error_split(tree, s, list(tree.leaves), std)
    with pytest.raises(ValueError, match="std must be the token standard deviations"):
        td.bayes_error_split(tree, s, ["x1"], std[0])


def test_cue_conflict_takes_the_upper_latents_of_a_and_the_leaf_noises_of_b(tree):
    a, b = tree.sample(50, seed=3), tree.sample(50, seed=4)
    x = td.cue_conflict_tokens(tree, a, b)
    for t, v in enumerate(tree.leaves):
        parent, noise = tree.invert(v, x[:, t])
        assert torch.allclose(parent, a.values[tree.parents[v]], atol=1e-3)
        assert torch.allclose(noise, b.noises[v], atol=1e-3)
    with pytest.raises(ValueError, match="same number of draws"):
        td.cue_conflict_tokens(tree, a, tree.sample(3, seed=0))


def test_decoder_depth_changes_only_the_decoder(tree):
    cfg = TreeMAEConfig(latent_dim=4, hidden_dim=8, n_train=32, steps=2)
    deep = td.train_downstream_mae(tree, cfg, seed=0, decoder_depth=4, trained=False)
    base = td.train_downstream_mae(tree, cfg, seed=0, trained=False)
    n_lin = sum(isinstance(m, torch.nn.Linear) for m in deep.model.decoder)
    assert n_lin == 5
    assert torch.equal(deep.model.encoder[0].weight, base.model.encoder[0].weight)
    with pytest.raises(ValueError, match="decoder_depth must be an integer >= 1"):
        td.train_downstream_mae(tree, cfg, seed=0, decoder_depth=0)


def test_design_is_fixed_and_every_unit_has_its_own_cache_file():
    units = td.downstream_units()
    assert len(units) == 90 and len({td.unit_path(u)[0] for u in units}) == 90
    assert {u["label"][0] for u in units} == {"sweep", "decoder", "units"}
    with pytest.raises(TypeError, match="unit must be one dict"):
        td.unit_path("sweep")


@pytest.mark.slow
def test_a_committed_unit_is_what_the_code_computes_now():
    # chapter 4b reads data/cache/tree_downstream-*.json: recompute the first sweep unit
    # (r = 0.1, the quickest to pass its gate) and compare the numbers the chapter uses
    unit = td.downstream_units()[0]
    path, payload = td.unit_path(unit)
    assert path.exists(), f"missing {path.name}: run python -m mae_theory.tree_downstream"
    stored = json.loads(path.read_text())
    assert stored["payload"] == json.loads(json.dumps(payload, default=str))
    new, old = td.run_unit(unit, cache=False), stored["result"]
    assert abs(new["final_loss"] - old["final_loss"]) < 0.02
    assert new["gate"]["passed"] == old["gate"]["passed"]
    for key in ("acc", "acc_untrained", "acc_raw", "r2_root", "shape_bias"):
        assert abs(new[key] - old[key]) < 0.02, key
    assert abs(new["split"][0]["bayes"] - old["split"][0]["bayes"]) < 0.02
