"""The 2-D toy of "identifiable up to an invertible map" (chapter 3)."""

import pytest
import torch

from mae_theory.probes import fold, invertible_map_toy, swirl


def test_swirl_is_a_bijection_and_fold_is_not():
    c = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.allclose(swirl(swirl(c, 3.0), -3.0), c, atol=1e-5)
    assert torch.allclose(swirl(c, 3.0).norm(dim=1), c.norm(dim=1), atol=1e-5)
    mirror = c * torch.tensor([-1.0, 1.0])
    assert torch.equal(fold(c), fold(mirror))


def test_probes_read_c1_from_the_bijection_only():
    toy = invertible_map_toy(600, seed=1)
    lin, ker = toy.r2["invertible phi(c)"]
    assert ker > 0.95 and lin < 0.9  # all of c_1 is there, but not linearly
    assert toy.r2["latent c"][0] > 0.99
    assert abs(toy.r2["folding"][1]) < 0.1  # the sign of c_1 is gone
    assert invertible_map_toy(600, seed=1).r2 == toy.r2  # seeded


def test_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        invertible_map_toy(2)
    with pytest.raises(ValueError, match="strength"):
        invertible_map_toy(100, strength=float("nan"))
