"""U-MAE: the masked autoencoder plus a uniformity regulariser (Zhang, Wang & Wang, 2022).

Zhang et al. show that MAE's reconstruction loss implicitly *aligns* the features of different
masked views of an image, like a contrastive loss without negatives, and that alignment alone
lets the features collapse onto a few directions (*dimensional collapse*). U-MAE adds a term that
spreads the L2-normalised features of a batch apart:

.. math:: \\mathcal{L}_{U\\text{-}MAE} = \\mathcal{L}_{MAE}
          + \\lambda \\, \\frac{1}{N^2} \\sum_{a, b} \\bigl(z_a^\\top z_b / \\tau\\bigr)^2,
          \\qquad z_a = \\frac{f(x_{a,V})}{\\lVert f(x_{a,V}) \\rVert},

with ``f`` the mean-pooled encoder output on the visible patches, ``tau = 0.1`` and
``lambda = 0.01`` as in the authors' code. :class:`UMAE` is a drop-in :class:`~mae_theory.MAE`:
:func:`~mae_theory.train` trains it unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import check_float, check_tensor, describe
from .mae import MAE


def uniformity_loss(features: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean squared cosine similarity of a batch, divided by ``tau^2``.

    .. math:: \\frac{1}{N^2} \\sum_{a, b} (z_a^\\top z_b / \\tau)^2

    It is smallest when the normalised features are spread over many orthogonal directions
    (``1 / (N tau^2)`` for ``N <= D`` orthonormal features) and largest, ``1 / tau^2``, when
    they all point the same way.

    Parameters
    ----------
    features : torch.Tensor, shape (N, D)
    temperature : float
        ``tau > 0``.

    Returns
    -------
    torch.Tensor, scalar

    Examples
    --------
    >>> float(uniformity_loss(torch.eye(4), temperature=1.0))
    0.25
    """
    check_tensor("features", features, ndim=2, finite=False, shape_hint="(N, D)")
    if features.shape[0] < 1:
        raise ValueError(f"features must hold N >= 1 rows; got {describe(features)}.")
    check_float("temperature", temperature, low=0.0, low_open=True, symbol="tau",
                fix="The paper uses 0.1.")
    z = F.normalize(features.float(), dim=-1)
    return ((z @ z.T) / temperature).pow(2).mean()


class UMAE(MAE):
    """An :class:`~mae_theory.MAE` whose loss adds ``lambda`` times :func:`uniformity_loss`.

    Takes the MAE's arguments plus, keyword-only, ``uniformity_weight`` (``lambda >= 0``,
    default 0.01; 0 gives back the MAE's loss exactly) and ``temperature`` (``tau``, 0.1).
    The regulariser acts on the mean of the encoder's visible patch tokens.

    Examples
    --------
    >>> from mae_theory.models import SIZES
    >>> umae = SIZES["mae_micro"].build(UMAE, seed=0, uniformity_weight=0.5)
    >>> mae = SIZES["mae_micro"].build(seed=0)
    >>> x = torch.randn(4, 1, 8, 8)
    >>> bool(umae(x, seed=0)[0] > mae(x, seed=0)[0])
    True
    """

    def __init__(self, *args, uniformity_weight: float = 0.01, temperature: float = 0.1,
                 **kwargs):
        check_float("uniformity_weight", uniformity_weight, low=0.0, symbol="lambda",
                    fix="The paper uses 0.01.")
        check_float("temperature", temperature, low=0.0, low_open=True, symbol="tau",
                    fix="The paper uses 0.1.")
        super().__init__(*args, **kwargs)
        self.uniformity_weight = float(uniformity_weight)
        self.temperature = float(temperature)
        self._latent: torch.Tensor | None = None

    def forward_encoder(self, imgs, masking, **kwargs):
        latent = super().forward_encoder(imgs, masking, **kwargs)
        self._latent = latent
        return latent

    def forward(self, imgs, mask_ratio: float = 0.75, **kwargs):
        """As :meth:`MAE.forward`, with ``lambda * uniformity`` added to the loss."""
        loss, pred, mask = super().forward(imgs, mask_ratio, **kwargs)
        latent, self._latent = self._latent, None
        if self.uniformity_weight > 0:
            pooled = latent[:, 1:].mean(dim=1)
            loss = loss + self.uniformity_weight * uniformity_loss(pooled, self.temperature)
        return loss, pred, mask
