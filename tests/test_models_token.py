"""TokenMAE: the token masks, the training protocol of train(), and what the encoder sees."""

import pytest
import torch

from mae_theory import TrainConfig, train
from mae_theory.models.token import TokenMAE, n_masked_units, token_masking


def _tiny(**kw):
    return TokenMAE(8, 4, latent_dim=kw.pop("latent_dim", 3), hidden_dim=16, seed=0, **kw)


@pytest.mark.parametrize("r, k", [(0.1, 1), (0.25, 2), (0.5, 4), (0.75, 6), (0.9, 7)])
def test_masked_count_is_round_r_u_and_symmetric(r, k):
    assert n_masked_units(8, r) == k
    assert n_masked_units(8, r) + n_masked_units(8, round(1 - r, 10)) == 8


def test_token_masking_units_and_shift():
    m = token_masking(50, 8, 0.5, unit=2, shift=0, seed=0).mask
    assert torch.equal(m[:, 0::2], m[:, 1::2])  # aligned units: pairs (0,1), (2,3), ...
    s = token_masking(50, 8, 0.5, unit=2, shift=1, seed=0).mask
    assert torch.equal(s[:, 1:7:2], s[:, 2:8:2])  # shifted units: (1,2), (3,4), (5,6)
    assert torch.equal(s[:, 7], s[:, 0])  # the wrapped unit (7, 0)
    assert torch.all(s.sum(1) == 4)


def test_token_masking_is_seeded_and_uniform():
    a = token_masking(4000, 8, 0.25, seed=1).mask
    assert torch.equal(a, token_masking(4000, 8, 0.25, seed=1).mask)
    assert torch.allclose(a.mean(0), torch.full((8,), 0.25), atol=0.03)


def test_token_masking_errors():
    with pytest.raises(ValueError, match="masking unit u=3"):
        token_masking(2, 8, 0.5, unit=3)
    with pytest.raises(ValueError, match="at least one unit must be masked"):
        token_masking(2, 8, 0.05)
    with pytest.raises(ValueError, match=r"mask ratio r must lie in \(0, 1\)"):
        token_masking(2, 8, 1.0)


def test_forward_shapes_and_masked_only_loss():
    mae = _tiny()
    x = torch.randn(5, 8, 4)
    mask = torch.tensor([1, 1, 0, 0, 1, 0, 0, 0])
    loss, pred, m = mae(x, mask=mask)
    assert pred.shape == (5, 8, 4) and torch.equal(m[0], mask.float())
    expected = ((pred - x) ** 2).mean(-1)[:, mask.bool()].mean()
    assert torch.allclose(loss, expected)
    y = x.clone()
    y[:, ~mask.bool()] += 5.0  # visible targets change: the loss on the old pred does not
    assert torch.allclose(((pred - y) ** 2).mean(-1)[:, mask.bool()].mean(), loss)


def test_encoder_sees_only_visible_tokens():
    mae = _tiny()
    x = torch.randn(3, 8, 4)
    mask = torch.tensor([1, 0, 0, 0, 0, 0, 0, 1])
    y = x.clone()
    y[:, 0] += 3.0
    y[:, 7] -= 2.0
    assert torch.equal(mae.features(x, mask), mae.features(y, mask))
    z = x.clone()
    z[:, 3] += 1.0  # a visible token changes the representation
    assert not torch.allclose(mae.features(x, mask), mae.features(z, mask))


def test_loss_groups_drop_masked_tokens_with_visible_siblings():
    mae = _tiny(loss_groups=[0, 0, 1, 1, 2, 2, 3, 3])
    mask = torch.tensor([[1.0, 0, 1, 1, 1, 1, 0, 0]])
    assert mae.loss_weights(mask).tolist() == [[0.0, 0, 1, 1, 1, 1, 0, 0]]


def test_fixed_mask_trains_with_train_and_lowers_the_loss():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(512, 2, generator=g)
    x = torch.stack([z @ torch.randn(2, 4, generator=g) for _ in range(8)], dim=1)
    mask = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    mae = TokenMAE(8, 4, latent_dim=2, hidden_dim=32, fixed_mask=mask, seed=0)
    before = mae(x, mask=mask)[0].item()
    res = train(mae, x, TrainConfig(steps=150, batch_size=64, lr=3e-3, log_every=50), seed=0,
                device="cpu", progress=False)
    assert torch.equal(mae.make_masking(3, 0.9).mask, mask.float().expand(3, -1))
    assert res.final_loss < 0.2 * before


def test_train_is_bit_reproducible_with_random_masks():
    x = torch.randn(64, 8, 4, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(steps=6, batch_size=16, log_every=3, mask_ratio=0.5)
    a, b = _tiny(), _tiny()
    train(a, x, cfg, seed=0, device="cpu", progress=False)
    train(b, x, cfg, seed=0, device="cpu", progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_input_validation_messages():
    mae = _tiny()
    with pytest.raises(ValueError, match=r"x must be a 3-D tensor of shape \(N, L, D\)"):
        mae.check_inputs(torch.randn(4, 32))
    with pytest.raises(ValueError, match="built for"):
        mae.check_inputs(torch.randn(4, 7, 4))
    with pytest.raises(TypeError, match=r"torch.as_tensor"):
        mae(torch.randn(4, 8, 4).numpy())
    with pytest.raises(ValueError, match=r"x must be finite"):
        mae(torch.full((4, 8, 4), float("nan")))
    with pytest.raises(ValueError, match=r"only 0 \(visible\) and 1 \(masked\)"):
        mae(torch.randn(4, 8, 4), mask=torch.tensor([2.0, 0, 0, 0, 1, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"mask must have L = 8 entries"):
        mae(torch.randn(4, 8, 4), mask=torch.tensor([1.0, 0]))
    with pytest.raises(ValueError, match=r"mask ratio r must lie in \(0, 1\)"):
        mae(torch.randn(4, 8, 4), mask_ratio=1.0)
    with pytest.raises(ValueError, match=r"latent_dim \(d\) must be an integer >= 1"):
        TokenMAE(8, 4, latent_dim=0)
    with pytest.raises(TypeError, match=r"hidden_dim must be an integer"):
        TokenMAE(8, 4, hidden_dim=16.0)
    with pytest.raises(ValueError, match=r"n_tokens \(L\) must be an integer >= 2"):
        TokenMAE(1, 4)
    with pytest.raises(ValueError, match="fixed_mask must have L=8"):
        TokenMAE(8, 4, fixed_mask=torch.ones(5))
    with pytest.raises(ValueError, match="one group id per token"):
        TokenMAE(8, 4, loss_groups=[0, 1])


def test_flops_grow_with_width():
    assert _tiny().flops_per_image() < TokenMAE(8, 4, hidden_dim=64).flops_per_image()
