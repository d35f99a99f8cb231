"""A two-dimensional toy of "identifiable up to an invertible map" (chapter 3).

Kong et al.'s Theorem 2 promises an encoder output :math:`\\hat c = \\phi(c)` with
:math:`\\phi` invertible (they write :math:`h`, which this book keeps for the mesh size):
nothing of the shared latents :math:`c` is lost, but its coordinates may be bent and mixed.
This module draws a 2-D latent :math:`c`, maps it once by an invertible map (a swirl) and
once by a map that is not injective (a fold), and reads :math:`c_1` back from each with the
probes of :mod:`mae_theory.probes.regression`: the kernel probe recovers :math:`c_1` from any
bijection, the linear probe only from its linear part, and neither from the fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import check_float, check_int
from ..runtime import SeedLike, make_generator
from .regression import probe_r2

__all__ = ["InvertibleToy", "fold", "invertible_map_toy", "swirl"]


def swirl(c: torch.Tensor, strength: float = 2.0) -> torch.Tensor:
    """Rotate each point of ``c`` (N, 2) by the angle ``strength * |c|``: a smooth bijection
    of the plane (radii are kept, so rotating back by the same angle inverts it).

    Examples
    --------
    >>> c = torch.tensor([[1.0, 0.0], [0.0, 0.5]])
    >>> back = swirl(swirl(c, 2.0), -2.0)
    >>> bool(torch.allclose(back, c, atol=1e-6))
    True
    """
    angle = strength * c.norm(dim=1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack([cos * c[:, 0] - sin * c[:, 1], sin * c[:, 0] + cos * c[:, 1]], dim=1)


def fold(c: torch.Tensor) -> torch.Tensor:
    """:math:`(c_1, c_2) \\mapsto (|c_1|, c_2)`: folds the plane along the :math:`c_2` axis, so
    ``c`` and its mirror image land on the same point (not injective).

    Examples
    --------
    >>> fold(torch.tensor([[-0.5, 0.25], [0.5, 0.25]])).tolist()
    [[0.5, 0.25], [0.5, 0.25]]
    """
    return torch.stack([c[:, 0].abs(), c[:, 1]], dim=1)


@dataclass(frozen=True)
class InvertibleToy:
    """Samples of a 2-D latent, two candidate representations of it, and what probes read.

    ``c`` (N, 2): the latent, uniform on the square :math:`[-1, 1]^2`; ``maps``: name ->
    (N, 2) representation, in drawing order (the latent itself, the swirl :math:`\\phi(c)`, the
    fold :math:`(|c_1|, c_2)`); ``r2``: name -> (linear, kernel) held-out :math:`R^2` of :math:`c_1`
    from that representation (:func:`~mae_theory.probes.probe_r2`).
    """

    c: torch.Tensor
    maps: dict
    r2: dict


def invertible_map_toy(n: int = 1000, *, strength: float = 3.0,
                       seed: SeedLike = 0) -> InvertibleToy:
    """Sample :math:`c`, map it by a swirl (invertible) and a fold (not), probe :math:`c_1`.

    Parameters
    ----------
    n : int
        Samples of :math:`c` (half are held out by the probes).
    strength : float
        Angle per unit radius of the swirl, in radians (0: the identity).
    seed : SeedLike
        Seeds the samples and the probes' split.

    Returns
    -------
    InvertibleToy

    Examples
    --------
    >>> toy = invertible_map_toy(400, seed=0)
    >>> list(toy.maps)
    ['latent c', 'invertible phi(c)', 'folding']
    >>> lin, ker = toy.r2["invertible phi(c)"]
    >>> ker > 0.95, lin < ker, toy.r2["folding"][1] < 0.2
    (True, True, True)
    """
    n = check_int("n", n, low=8, fix="The probes hold out half the samples.")
    strength = check_float("strength", strength)
    c = torch.rand(n, 2, generator=make_generator(seed)) * 2.0 - 1.0
    maps = {"latent c": c, "invertible phi(c)": swirl(c, strength), "folding": fold(c)}
    r2 = {name: probe_r2(z, {"c1": c[:, 0]}, seed=seed)["c1"] for name, z in maps.items()}
    return InvertibleToy(c, maps, r2)
