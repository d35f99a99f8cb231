"""Regression probes (section 1 of mae_theory.probes): R^2 against closed forms."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mae_theory.probes import (
    LeakageProfile,
    RegressionProbeConfig,
    kernel_r2,
    leakage_profile,
    linear_r2,
    probe_r2,
    r2_score,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_r2_score_hand_worked():
    y = torch.tensor([[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]])
    pred = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    # column 0 exact (1); column 1: SSE 2, SST 8 -> 0.75; mean 0.875
    assert r2_score(y, pred) == pytest.approx(0.875)


def test_linear_probe_is_exact_on_a_linear_map():
    z = torch.randn(300, 3, generator=_gen())
    y = z @ torch.randn(3, 2, generator=_gen(1)) + 4.0
    assert linear_r2(z, y) == pytest.approx(1.0, abs=1e-6)


def test_nonlinear_probe_recovers_an_invertible_nonlinear_map():
    z = torch.randn(1200, 2, generator=_gen())
    h = torch.nn.functional.leaky_relu(z @ torch.tensor([[1.0, 0.5], [-0.4, 1.0]]), 0.3)
    feats = torch.cat([h, torch.tanh(h[:, :1]) * h[:, 1:]], dim=1)  # injective in z
    assert kernel_r2(feats, z) > 0.95
    # a quadratic target is invisible to the linear probe and clear to the kernel probe
    lin, non = probe_r2(z, {"sq": z[:, 0] ** 2})["sq"]
    assert lin < 0.05 and non > 0.95


def test_independent_noise_is_not_recoverable():
    z, eps = torch.randn(1000, 3, generator=_gen()), torch.randn(1000, 2, generator=_gen(1))
    lin, non = probe_r2(z, {"eps": eps})["eps"]
    assert abs(lin) < 0.05 and abs(non) < 0.05


def test_probes_are_seeded():
    z = torch.randn(200, 2, generator=_gen())
    y = torch.sin(z[:, 0]) + 0.3 * torch.randn(200, generator=_gen(2))
    assert probe_r2(z, {"y": y}, seed=3) == probe_r2(z, {"y": y}, seed=3)
    assert probe_r2(z, {"y": y}, seed=3) != probe_r2(z, {"y": y}, seed=4)


def test_leakage_profile_rows_and_lookup():
    g = _gen()
    r, ea, eb = (torch.randn(600, 2, generator=g) for _ in range(3))
    a = torch.cat([r, ea], dim=1)
    s = SimpleNamespace(values={"r": r, "a": a}, noises={"a": ea, "b": eb})
    prof = leakage_profile(a, s)
    assert isinstance(prof, LeakageProfile)
    assert list(zip(prof.nodes, prof.kinds)) == [("r", "value"), ("a", "value"), ("a", "noise"),
                                                ("b", "noise")]
    assert prof.r2("r", "value", "linear") == pytest.approx(1.0, abs=1e-6)
    assert prof.r2("a") > 0.95 and abs(prof.r2("b")) < 0.05
    assert set(prof.as_dict("noise")) == {"a", "b"}
    with pytest.raises(KeyError, match="no row for node 'c'"):
        prof.r2("c")


def test_input_validation_messages():
    z = torch.randn(50, 2)
    with pytest.raises(ValueError, match=r"features must have shape \(N,\) or \(N, k\)"):
        probe_r2(torch.randn(5, 2, 2), {"y": torch.randn(5)})
    with pytest.raises(ValueError, match="has N=40 rows but the features have N=50"):
        probe_r2(z, {"y": torch.randn(40)})
    with pytest.raises(ValueError, match=r"targets\['y'\] must be finite"):
        probe_r2(z, {"y": torch.full((50,), float("nan"))})
    with pytest.raises(ValueError, match=r"features must be finite .* got 2 non-finite"):
        probe_r2(torch.cat([z[:49], torch.full((1, 2), float("inf"))]), {"y": z[:, 0]})
    with pytest.raises(TypeError, match="features must be a torch.Tensor or numpy array"):
        probe_r2(z.tolist(), {"y": z[:, 0]})
    with pytest.raises(TypeError, match="features must be a torch.Tensor or numpy array"):
        probe_r2(np.array(["a"] * 50), {"y": z[:, 0]})
    with pytest.raises(ValueError, match="has no columns"):
        probe_r2(torch.zeros(50, 0), {"y": z[:, 0]})
    with pytest.raises(TypeError, match="config must be a RegressionProbeConfig"):
        probe_r2(z, {"y": z[:, 0]}, {"ridge": 0.1})
    with pytest.raises(ValueError, match="kernel_ridges must be a non-empty tuple"):
        RegressionProbeConfig(kernel_ridges=())
    with pytest.raises(ValueError, match="max_train must be an integer >= 2"):
        RegressionProbeConfig(max_train=0)
    with pytest.raises(ValueError, match=r"ridge \(lambda\) must be a finite number"):
        RegressionProbeConfig(ridge=-1.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        probe_r2(z, {})
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number in \(0.0, 1.0\)"):
        probe_r2(z, {"y": z[:, 0]}, RegressionProbeConfig(test_fraction=1.0))
    with pytest.raises(ValueError, match="constant in every dimension"):
        r2_score(torch.ones(6), torch.zeros(6))
    with pytest.raises(TypeError, match="dicts .values and .noises"):
        leakage_profile(z, {"values": {}})
    with pytest.raises(ValueError, match="kinds must hold"):
        leakage_profile(z, SimpleNamespace(values={}, noises={}), kinds=("latent",))


def test_numpy_features_give_the_same_numbers_as_tensors():
    z = torch.randn(80, 2, generator=_gen(5))
    y = z[:, 0] - z[:, 1] ** 2
    assert probe_r2(z.numpy(), {"y": y.numpy()}) == probe_r2(z, {"y": y})


def test_profile_lookup_refuses_unknown_kind_and_method():
    prof = LeakageProfile(("a",), ("noise",), (0.1,), (0.2,))
    with pytest.raises(ValueError, match="kind must be 'value' or 'noise'"):
        prof.r2("a", "latent")
    with pytest.raises(ValueError, match="method 'linear' or 'nonlinear'"):
        prof.as_dict("noise", "kernel")
    with pytest.raises(ValueError, match="must be tuples of one length"):
        LeakageProfile(("a", "b"), ("noise",), (0.1,), (0.2,))
