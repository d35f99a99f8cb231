import numpy as np
import pytest
import torch

from mae_theory.metrics import linear_cka
from mae_theory.models import mae_micro
from mae_theory.propagation import (
    SupervisedConfig,
    pooled_features,
    predicted_relative_bound,
    relative_updates,
    residual_stream,
    stream_norms,
    token_features,
    train_supervised,
    update_bound,
    update_bounds,
)


def _mae(seed=0):
    return mae_micro(depth=3, seed=seed)


def test_residual_stream_matches_forward_encoder():
    mae = _mae()
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    states = residual_stream(mae, x)
    assert len(states) == 4
    assert torch.allclose(mae.norm(states[-1]), mae.forward_encoder(x, None), atol=1e-6)
    masking = mae.make_masking(4, 0.75, seed=0)
    assert residual_stream(mae, x, masking)[0].shape == (4, 5, 16)


def test_update_bound_holds_for_any_input_scale_and_for_perturbed_weights():
    mae = _mae(1)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # make LayerNorm gains and biases non-trivial
        for p in mae.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    for blk in mae.blocks:
        c = update_bound(blk)
        for scale in (1e-3, 1.0, 1e3):
            x = scale * torch.randn(8, 9, 16, generator=g)
            assert ((blk(x) - x).norm(dim=-1) <= c * (1 + 1e-5)).all()
    assert update_bounds(mae).shape == (3,)


def test_relative_updates_and_predicted_bound_closed_form():
    x = torch.ones(2, 3, 4)  # token norm 2
    states = [x, 2 * x, 4 * x]
    assert relative_updates(states).tolist() == [1.0, 1.0]
    assert stream_norms(states).tolist() == [2.0, 4.0, 8.0]
    bound = predicted_relative_bound(states, torch.tensor([2.0, 2.0]))
    assert bound.tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="one entry per block"):
        predicted_relative_bound(states, torch.ones(3))
    with pytest.raises(ValueError, match="at least two"):
        relative_updates([x])


def test_token_features_and_cka_of_identical_layers():
    states = residual_stream(_mae(), torch.randn(5, 1, 8, 8, generator=torch.Generator()))
    feats = token_features(states)
    assert feats[0].shape == (5 * 16, 16)
    assert linear_cka(feats[1], feats[1]).item() == pytest.approx(1.0, abs=1e-6)


def test_pooled_features_ignore_position_offsets_and_match_pooled_cka():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 9, 6, generator=g)  # token 0 plays the cls token
    pos = 50.0 * torch.randn(1, 9, 6, generator=g)  # a large position code, same for all images
    z, z_pos = pooled_features([x, x + pos])
    assert z.shape == (40, 6)
    assert torch.allclose(z, z_pos, atol=1e-4)
    assert torch.allclose(z.mean(dim=0), torch.zeros(6), atol=1e-5)
    # closed form: centring then pooling = pooling then centring
    pooled = x[:, 1:].mean(dim=1)
    assert torch.allclose(z, pooled - pooled.mean(dim=0), atol=1e-5)
    # a position code shared by all images makes token-level CKA look continuous; pooled does not
    y = torch.randn(40, 9, 6, generator=g)  # unrelated content
    tok = linear_cka(*token_features([x + pos, y + pos])).item()
    per_image = linear_cka(*pooled_features([x + pos, y + pos])).item()
    assert tok > 0.9 and per_image < 0.5
    assert len(pooled_features([x, x, x], skip_cls=False)) == 3
    with pytest.raises(ValueError, match="at least N = 2 images"):
        pooled_features([x[:1], x[:1]])


def test_train_supervised_lowers_the_loss_and_checks_input():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.randn(64, 1, 8, 8, generator=g) + 2.0 * y.view(-1, 1, 1, 1)
    mae = _mae()
    head, losses = train_supervised(mae, x, y, SupervisedConfig(steps=60, batch_size=32), seed=0)
    assert sum(losses[-10:]) < sum(losses[:10])
    with pytest.raises(ValueError, match="labels"):
        train_supervised(mae, x, y[:3], seed=0)


@pytest.mark.parametrize(("call", "kind", "match"), [
    (lambda m: residual_stream(m, torch.full((2, 1, 8, 8), float("nan"))), ValueError,
     r"imgs must be finite"),
    (lambda m: residual_stream(m, np.zeros((2, 1, 8, 8), dtype=np.float32)), TypeError,
     r"torch.as_tensor"),
    (lambda m: residual_stream(m, torch.zeros(2, 1, 8, 8, dtype=torch.float64)), TypeError,
     r"imgs must be a torch.float32 tensor"),
    (lambda m: residual_stream(m, torch.zeros(2, 1, 8, 8), m.make_masking(3, 0.5, seed=0)),
     ValueError, r"mask must have shape \(N, L\) = \(2, 16\)"),
    (lambda m: residual_stream("model", torch.zeros(2, 1, 8, 8)), TypeError,
     r"mae must be a mae_theory MAE"),
    (lambda m: update_bound(m), TypeError, r"block must be a transformer Block"),
    (lambda m: update_bounds(m.blocks), TypeError, r"mae must be a mae_theory MAE"),
    (lambda m: train_supervised(m, torch.zeros(4, 1, 8, 8), torch.zeros(4)), ValueError,
     r"labels must be N = 4 non-negative integer class indices"),
    (lambda m: SupervisedConfig(steps=0), ValueError, r"steps must be an integer >= 1"),
    (lambda m: SupervisedConfig(lr=-1.0), ValueError, r"lr must be a finite number in \(0.0"),
])
def test_bad_inputs_are_refused(call, kind, match):
    with pytest.raises(kind, match=match):
        call(_mae())
