import math

import pytest
import torch

from mae_theory.train import TrainConfig, augment_batch, lr_at, train

CFG = TrainConfig(steps=12, batch_size=16, log_every=3, warmup_steps=3, lr=3e-3)


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    # smooth-ish images: neighbouring pixels correlate, so reconstruction is learnable
    base = torch.randn(64, 1, 4, 4, generator=g)
    return torch.nn.functional.interpolate(base, size=8, mode="bilinear")


def test_training_lowers_the_loss(tiny_mae, images):
    res = train(tiny_mae(), images, TrainConfig(steps=60, batch_size=32, log_every=10),
                seed=0, device="cpu")
    assert res.losses[-1] < 0.8 * res.losses[0]
    assert res.steps_done == 60 and len(res.history) == 6
    assert res.provenance["torch"] == torch.__version__


def test_same_seed_is_bit_identical_on_cpu(tiny_mae, images):
    a = train(tiny_mae(), images, CFG, seed=1, device="cpu")
    b = train(tiny_mae(), images, CFG, seed=1, device="cpu")
    c = train(tiny_mae(), images, CFG, seed=2, device="cpu")
    assert a.losses == b.losses and a.losses != c.losses


def test_stop_and_resume_ends_at_the_same_loss(tiny_mae, images, tmp_path):
    full_model = tiny_mae()
    full = train(full_model, images, CFG, seed=4, device="cpu")
    ckpt = tmp_path / "run.pt"
    resumed_model = tiny_mae()
    part = train(resumed_model, images, CFG, seed=4, device="cpu", checkpoint=ckpt, stop_at=6)
    assert part.steps_done == 6 and ckpt.exists()
    fresh_model = tiny_mae(seed=99)  # different init: everything must come from the checkpoint
    rest = train(fresh_model, images, CFG, seed=4, device="cpu", checkpoint=ckpt)
    assert rest.steps_done == 12
    assert rest.losses == full.losses
    for p, q in zip(full_model.parameters(), fresh_model.parameters()):
        assert torch.equal(p, q)


def test_checkpoint_from_another_config_is_refused(tiny_mae, images, tmp_path):
    ckpt = tmp_path / "run.pt"
    train(tiny_mae(), images, CFG, seed=0, device="cpu", checkpoint=ckpt, stop_at=3)
    other = TrainConfig(steps=12, batch_size=8, log_every=3)
    with pytest.raises(ValueError, match="different TrainConfig"):
        train(tiny_mae(), images, other, seed=0, device="cpu", checkpoint=ckpt)


def test_non_finite_loss_raises_with_step(tiny_mae, images):
    # non-finite images are refused up front (MAE.check_inputs); a broken model still diverges
    mae = tiny_mae()
    with torch.no_grad():
        mae.decoder_pred.bias.fill_(float("inf"))
    with pytest.raises(FloatingPointError, match="at step 1"):
        train(mae, images, CFG, seed=0, device="cpu")
    bad = images.clone()
    bad[0] = float("nan")
    with pytest.raises(ValueError, match="images must be finite"):
        train(tiny_mae(), bad, CFG, seed=0, device="cpu")


def test_lr_schedule_warms_up_then_decays_to_min():
    cfg = TrainConfig(steps=50, lr=1.0, min_lr=0.1, warmup_steps=5)
    lrs = [lr_at(s, cfg) for s in range(51)]
    assert lrs[4] == 1.0 and all(a <= b for a, b in zip(lrs[:5], lrs[1:5]))
    assert all(a >= b for a, b in zip(lrs[5:], lrs[6:]))
    assert math.isclose(lrs[50], 0.1)


def test_augment_keeps_shapes_and_content(images):
    g = torch.Generator().manual_seed(0)
    out = augment_batch(images[:8], 2, g)
    assert out.shape == (8, 1, 8, 8)
    flipped_only = augment_batch(images[:8], 0, torch.Generator().manual_seed(0))
    for a, b in zip(flipped_only, images[:8]):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(steps=0), "steps must be a positive int"),
    (dict(mask_ratio=1.0), "mask ratio r must lie in"),
    (dict(lr=-1.0), "learning rates"),
])
def test_bad_configs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_data_is_refused(tiny_mae):
    with pytest.raises(ValueError, match="empty data set"):
        train(tiny_mae(), torch.zeros(0, 1, 8, 8), CFG, device="cpu")
    with pytest.raises(ValueError, match="in_chans"):
        train(tiny_mae(), torch.zeros(4, 3, 8, 8), CFG, device="cpu")


@pytest.mark.gpu
def test_gpu_training_step_bf16(tiny_mae, images):
    res = train(tiny_mae(), images, TrainConfig(steps=20, batch_size=32, log_every=10,
                                               augment=True), seed=0, device="cuda")
    assert res.steps_done == 20 and all(math.isfinite(v) for v in res.losses)
    assert res.provenance["device"] == torch.cuda.get_device_name()
    assert all(h["images_per_s"] > 0 for h in res.history)


@pytest.mark.gpu
def test_gpu_compiled_training_matches_eager_loss_scale(tiny_mae, images):
    cfg = TrainConfig(steps=30, batch_size=32, log_every=10)
    eager = train(tiny_mae(), images, cfg, seed=0, device="cuda")
    compiled = train(tiny_mae(), images, TrainConfig(**{**cfg.__dict__, "compile": True}),
                     seed=0, device="cuda")
    assert abs(compiled.losses[-1] - eager.losses[-1]) < 0.1 * eager.losses[-1]
