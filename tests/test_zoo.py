import dataclasses

import pytest
import torch

from mae_theory import zoo
from mae_theory.training import TrainConfig


@pytest.fixture
def micro_recipe(monkeypatch):
    recipe = zoo.Recipe(
        "micro", "test recipe", "digits",
        dict(img_size=8, patch_size=2, in_chans=1, embed_dim=16, depth=1, num_heads=2,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
        TrainConfig(steps=6, batch_size=32, log_every=3), n_test=100, seeds=(0,))
    monkeypatch.setitem(zoo.RECIPES, "micro", recipe)
    return recipe


def test_gate_needs_a_quarter_below_the_mean_patch_and_below_random_init():
    assert zoo.GateResult(0.75, 0.30, 0.50, 1.0, 10).passed
    assert not zoo.GateResult(0.75, 0.40, 0.50, 1.0, 10).passed  # only 20 % below
    assert not zoo.GateResult(0.75, 0.30, 0.50, 0.29, 10).passed  # random init is better
    assert "FAILED" in zoo.GateResult(0.75, 0.40, 0.50, 1.0, 10).line()


def test_pretrain_writes_checkpoint_and_provenance_and_load_refuses_a_failed_gate(
        micro_recipe, tmp_path):
    (record,) = zoo.pretrain("micro", root=tmp_path, progress=False)
    files = sorted(p.name for p in (tmp_path / "micro").iterdir())
    assert files == ["seed0.json", "seed0.pt"]
    assert record["recipe"]["name"] == "micro" and record["seed"] == 0
    assert [h["step"] for h in record["history"]] == [3, 6]
    for key in ("git_commit", "torch"):
        assert key in str(record["provenance"])
    assert record["gate"]["passed"] is False  # 6 steps learn nothing
    with pytest.raises(ValueError, match="failed its gate"):
        zoo.load_pretrained("micro", seed=0, root=tmp_path)
    model, rec = zoo.load_pretrained("micro", seed=0, root=tmp_path, check_gate=False)
    train_set, test_set = zoo.recipe_data(micro_recipe)
    again = zoo.gate_metrics(model, train_set.images, test_set.images, 0.75,
                             random_init=zoo.MAE(**micro_recipe.arch, seed=0), seed=0)
    assert again.model_mse == pytest.approx(rec["gate"]["model_mse"], rel=1e-6)
    # a second call resumes: nothing is retrained
    mtime = (tmp_path / "micro" / "seed0.pt").stat().st_mtime_ns
    zoo.pretrain("micro", root=tmp_path, progress=False)
    assert (tmp_path / "micro" / "seed0.pt").stat().st_mtime_ns == mtime


def test_stored_weights_are_float16_without_the_fixed_tables(micro_recipe, tmp_path):
    zoo.pretrain("micro", root=tmp_path, progress=False)
    state = torch.load(tmp_path / "micro" / "seed0.pt", weights_only=True)
    assert not any("pos_embed" in k for k in state)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}


def test_bad_names_and_missing_models_say_what_to_run(micro_recipe, tmp_path):
    with pytest.raises(ValueError, match="unknown zoo recipe 'nope'"):
        zoo.load_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="python -m mae_theory pretrain micro --seeds 3"):
        zoo.load_pretrained("micro", seed=3, root=tmp_path)
    with pytest.raises(TypeError, match="seed must be an integer"):
        zoo.load_pretrained("micro", seed=1.5, root=tmp_path)
    assert dataclasses.is_dataclass(micro_recipe)


def test_the_suggested_pretrain_command_parses(micro_recipe):
    from mae_theory.__main__ import build_parser

    args = build_parser().parse_args(["pretrain", "micro", "--seeds", "3"])
    assert (args.command, args.name, args.seeds) == ("pretrain", "micro", [3])
