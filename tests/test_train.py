import math

import pytest
import torch

from mae_theory import training
from mae_theory.batches import augment_batch
from mae_theory.guard import LastGood
from mae_theory.results import atomic_write
from mae_theory.training import TrainConfig, lr_at, make_optimizer, train

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


def _nan_at(model, call: int):
    """Make the model's ``call``-th forward (1-based) return a NaN loss."""
    forward, calls = model.forward, [0]

    def poisoned(*args, **kwargs):
        calls[0] += 1
        loss, pred, mask = forward(*args, **kwargs)
        return (loss * float("nan") if calls[0] == call else loss), pred, mask

    model.forward = poisoned
    return model


def test_non_finite_step_leaves_the_weights_of_the_step_before(tiny_mae, images):
    before = tiny_mae()
    train(before, images, CFG, seed=5, device="cpu", stop_at=7)  # steps 1..7, all finite
    model = _nan_at(tiny_mae(), 8)
    with pytest.raises(FloatingPointError, match="at step 8; the model keeps the weights after "
                                                 "step 7"):
        train(model, images, CFG, seed=5, device="cpu")
    for p, q in zip(before.parameters(), model.parameters()):
        assert torch.equal(p, q)


def test_deferred_check_restores_the_last_checked_weights(tiny_mae, images, monkeypatch):
    # the CUDA/DDP rule, run on the CPU: losses read once per logging interval (every 3 steps)
    monkeypatch.setattr(training, "checks_every_step", lambda device, world: False)
    before = tiny_mae()
    train(before, images, CFG, seed=5, device="cpu", stop_at=6)
    model = _nan_at(tiny_mae(), 8)
    with pytest.raises(FloatingPointError, match=r"at step 8; the model keeps the weights of "
                                                 r"step 6 \(the last check\)"):
        train(model, images, CFG, seed=5, device="cpu")
    for p, q in zip(before.parameters(), model.parameters()):
        assert torch.equal(p, q)


def test_last_good_restores_weights_and_optimizer_state(tiny_mae, images):
    model = tiny_mae()
    opt = make_optimizer(model, CFG)
    guard = LastGood(model, opt, step=0)  # before the first step: AdamW has no state yet

    def step():
        opt.zero_grad()
        model(images[:8])[0].backward()
        opt.step()

    start = [p.detach().clone() for p in model.parameters()]
    step()
    guard.restore()  # back to no state at all
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), start)) and not opt.state
    step()
    guard.save(1)
    saved = [p.detach().clone() for p in model.parameters()]
    moments = [opt.state[p]["exp_avg"].clone() for p in model.parameters()]
    step()
    guard.restore()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), saved))
    assert all(torch.equal(opt.state[p]["exp_avg"], m) for p, m in zip(model.parameters(),
                                                                        moments))


def _record_saves(monkeypatch):
    steps, save = [], training.save_checkpoint

    def spy(path, cfg, state):
        steps.append(state["step"])
        save(path, cfg, state)
        if state["step"] == 4:  # keep the mid-interval checkpoint for a resume test
            path.with_name("at4.pt").write_bytes(path.read_bytes())

    monkeypatch.setattr(training, "save_checkpoint", spy)
    return steps


def test_checkpoints_follow_their_own_cadence(tiny_mae, images, tmp_path, monkeypatch):
    steps = _record_saves(monkeypatch)
    cfg = TrainConfig(steps=12, batch_size=16, log_every=3, checkpoint_every=2, warmup_steps=3,
                      lr=3e-3)
    full_model = tiny_mae()
    full = train(full_model, images, cfg, seed=4, device="cpu", checkpoint=tmp_path / "run.pt")
    assert steps == [2, 4, 6, 8, 10, 12]  # and the final one
    # a run resumed from the step-4 checkpoint (mid logging interval) matches exactly
    resumed_model = tiny_mae(seed=99)
    rest = train(resumed_model, images, cfg, seed=4, device="cpu",
                 checkpoint=tmp_path / "at4.pt")
    assert rest.losses == full.losses
    for p, q in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(p, q)


def test_stale_temporary_files_are_removed(tiny_mae, images, tmp_path):
    ckpt = tmp_path / "run.pt"
    stale = tmp_path / "run.pt.tmp12345"
    stale.write_bytes(b"half a checkpoint")
    train(tiny_mae(), images, CFG, seed=0, device="cpu", checkpoint=ckpt, stop_at=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]
    stale.write_bytes(b"half a checkpoint")  # resuming cleans up too
    train(tiny_mae(), images, CFG, seed=0, device="cpu", checkpoint=ckpt, stop_at=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, error):
    target = tmp_path / "run.pt"
    target.write_text("previous")

    def write(tmp):
        tmp.write_text("half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, write)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_lr_schedule_warms_up_then_decays_to_min():
    cfg = TrainConfig(steps=50, lr=1.0, min_lr=0.1, warmup_steps=5)
    lrs = [lr_at(s, cfg) for s in range(51)]
    assert lrs[4] == 1.0 and all(a <= b for a, b in zip(lrs[:5], lrs[1:5]))
    assert all(a >= b for a, b in zip(lrs[5:], lrs[6:]))
    assert math.isclose(lrs[50], 0.1)


def _shift(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``img`` moved so that output pixel (r, c) is input pixel (r + dy, c + dx); zero fill."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        img[..., max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def test_augmentation_flips_and_translates_within_pad():
    x = torch.arange(1.0, 2 * 36 + 1).view(2, 1, 6, 6).repeat(16, 1, 1, 1)  # distinct pixels
    pad = 2
    out = augment_batch(x, pad, seed=7)
    draws = []
    for img, res in zip(x, out):
        found = [(flip, dy, dx) for flip in (False, True) for dy in range(-pad, pad + 1)
                 for dx in range(-pad, pad + 1)
                 if torch.equal(_shift(img.flip(-1) if flip else img, dy, dx), res)]
        assert len(found) == 1  # every output is one flip-and-shift of its own input
        draws.append(found[0])
    assert {d[0] for d in draws} == {False, True}  # both flipped and unflipped images
    assert len({d[1:] for d in draws}) > 5  # and many different offsets
    assert torch.equal(out, augment_batch(x, pad, seed=7))
    assert not torch.equal(out, augment_batch(x, pad, seed=8))
    flips_only = augment_batch(x, 0, seed=7)
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(flips_only, x))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(steps=0), ValueError, r"TrainConfig.steps \(T\) must be an integer >= 1; got 0"),
    (dict(steps=1.5), TypeError, r"TrainConfig.steps \(T\) must be an integer"),
    (dict(batch_size=True), TypeError, "TrainConfig.batch_size"),
    (dict(warmup_steps=-1), ValueError, "TrainConfig.warmup_steps"),
    (dict(log_every=0), ValueError, "TrainConfig.log_every"),
    (dict(checkpoint_every=-2), ValueError, "TrainConfig.checkpoint_every"),
    (dict(pad=-1), ValueError, "TrainConfig.pad"),
    (dict(mask_unit=0), ValueError, r"TrainConfig.mask_unit \(u\)"),
    (dict(lr=float("inf")), ValueError, r"TrainConfig.lr \(eta\) must be a finite.*got inf"),
    (dict(lr=-1.0), ValueError, r"TrainConfig.lr \(eta\).*lr=1.5e-3"),
    (dict(lr="fast"), TypeError, "TrainConfig.lr"),
    (dict(min_lr=1.0), ValueError, r"TrainConfig.min_lr \(eta_min\).*between 0 and lr"),
    (dict(weight_decay=-0.1), ValueError, "TrainConfig.weight_decay.*Use 0 for no decay"),
    (dict(betas=(1.5, 0.95)), ValueError, r"TrainConfig.betas\[0\].*\[0.0, 1.0\)"),
    (dict(betas=(0.9, float("nan"))), ValueError, r"TrainConfig.betas\[1\]"),
    (dict(betas=0.9), TypeError, "betas must be a pair"),
    (dict(mask_ratio=1.0), ValueError, r"TrainConfig.mask_ratio \(r\)"),
    (dict(augment="yes"), TypeError, "TrainConfig.augment must be True or False"),
])
def test_bad_configs_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_config_fields_are_normalised():
    cfg = TrainConfig(betas=[0.9, 0.99], lr=1)
    assert cfg.betas == (0.9, 0.99) and isinstance(cfg.lr, float)


def test_bad_stop_at_is_refused(tiny_mae, images):
    with pytest.raises(ValueError, match="stop_at must be an integer >= 1; got 0"):
        train(tiny_mae(), images, CFG, device="cpu", stop_at=0)


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
def test_gpu_non_finite_loss_leaves_finite_weights(tiny_mae, images):
    model = _nan_at(tiny_mae(), 15)
    with pytest.raises(FloatingPointError, match="at step 15; the model keeps the weights of "
                                                 "step 10"):
        train(model, images, TrainConfig(steps=20, batch_size=32, log_every=5), seed=0,
              device="cuda")
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.gpu
def test_gpu_compiled_training_matches_eager_loss_scale(tiny_mae, images):
    cfg = TrainConfig(steps=30, batch_size=32, log_every=10)
    eager = train(tiny_mae(), images, cfg, seed=0, device="cuda")
    compiled = train(tiny_mae(), images, TrainConfig(**{**cfg.__dict__, "compile": True}),
                     seed=0, device="cuda")
    assert abs(compiled.losses[-1] - eager.losses[-1]) < 0.1 * eager.losses[-1]
