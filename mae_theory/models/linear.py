"""The linear masked autoencoder on 1-D signals (chapter 10).

A signal ``x`` of ``n`` pixels is cut into ``L = n/p`` patches of ``p`` pixels; a random mask
hides whole patches. The encoder :math:`E` (``d x n``) reads the signal with masked pixels set to
zero, the decoder :math:`F` (``n x d``) predicts every pixel, and the loss is the squared error
per masked pixel (:math:`\\mathcal M` the masked pixels, :math:`\\mathbb 1_{\\mathcal V}` the 0/1
vector of the visible ones):

.. math:: \\hat x = F E (\\mathbb 1_{\\mathcal V} \\odot x), \\qquad
          \\mathcal{L} = \\frac{1}{|\\mathcal M|} \\sum_{i \\in \\mathcal M} (\\hat x_i - x_i)^2 .

Only the linear predictor :math:`P = FE` (``LinearMAE.weight``) enters the loss.

Its population optimum is in :mod:`mae_theory.theory` (section 2). The model follows the training
protocol of :func:`mae_theory.train.train` (``check_inputs``, ``make_masking``, ``forward``,
``flops_per_image``), so the book trains it with the same loop as the ViT MAE.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int, check_tensor, describe
from ..masking import Masking, check_mask_ratio, masking_from_mask, random_masking
from ..runtime import DeviceLike, SeedLike, make_generator


class LinearMAE(nn.Module):
    """Linear encoder ``E`` and decoder ``F`` with a rank-``d`` bottleneck, no biases.

    Parameters
    ----------
    n_pixels : int
        ``n``, pixels per signal.
    patch_size : int
        ``p``, pixels per patch (divides ``n``).
    rank : int
        ``d``, width of the bottleneck (``1 <= d <= n``).
    fixed_mask : array of bool, shape (L,), optional
        Hide these patches in every sample instead of drawing random masks (the fixed-mask
        case of the theory); ``mask_ratio`` is then ignored.
    seed : SeedLike
        Seeds the initialisation (entries ``N(0, 1/n)``).

    Examples
    --------
    >>> model = LinearMAE(8, 2, 3, seed=0)
    >>> loss, pred, mask = model(torch.randn(5, 8), mask_ratio=0.5, seed=0)
    >>> pred.shape, mask.shape, int(mask[0].sum())
    (torch.Size([5, 8]), torch.Size([5, 4]), 2)
    """

    def __init__(self, n_pixels: int, patch_size: int, rank: int, *, fixed_mask=None,
                 seed: SeedLike = None):
        super().__init__()
        n_pixels = check_int("n_pixels", n_pixels, low=2, symbol="n")
        patch_size = check_int("patch_size", patch_size, symbol="p")
        if n_pixels % patch_size:
            raise ValueError(
                f"patch_size p={patch_size!r} must be a positive int dividing n={n_pixels}; "
                "pick a divisor of n."
            )
        rank = check_int("rank", rank, low=1, high=n_pixels, symbol="d")
        self.n_pixels, self.patch_size, self.rank = n_pixels, patch_size, rank
        self.num_patches = n_pixels // patch_size
        self.fixed_mask = None
        if fixed_mask is not None:
            fm = torch.as_tensor(fixed_mask).bool()
            if fm.shape != (self.num_patches,) or fm.all() or not fm.any():
                raise ValueError(
                    f"fixed_mask must be {self.num_patches} booleans (one per patch, L = n/p) "
                    f"with at least one masked and one visible patch; got shape "
                    f"{tuple(fm.shape)} with {int(fm.sum())} masked."
                )
            self.fixed_mask = fm
        gen = make_generator(seed)
        scale = n_pixels ** -0.5
        self.encoder = nn.Parameter(torch.randn(rank, n_pixels, generator=gen) * scale)
        self.decoder = nn.Parameter(torch.randn(n_pixels, rank, generator=gen) * scale)

    @property
    def weight(self) -> torch.Tensor:
        """The linear predictor ``P = F E``, shape (n, n)."""
        return self.decoder @ self.encoder

    def check_inputs(self, signals, *, finite: bool = True) -> torch.Tensor:
        """Validate a data set of signals ``(N, n)`` and return it as float (used by ``train``).

        ``finite`` reads the values (NaN/inf); :meth:`forward` skips it on the GPU.
        """
        check_tensor("signals", signals, ndim=2, floating=False, finite=finite,
                     shape_hint="(N, n)")
        if signals.shape[0] == 0 or signals.shape[1] != self.n_pixels:
            raise ValueError(
                f"signals of shape {tuple(signals.shape)} do not fit the model, which expects "
                f"(N >= 1, n = {self.n_pixels}). Build the LinearMAE with n_pixels="
                f"{signals.shape[1]}."
            )
        return signals.float()

    def make_masking(self, batch_size: int, mask_ratio: float = 0.75, *, unit: int = 1,
                     seed: SeedLike = None, device: DeviceLike = None) -> Masking:
        """Random patch masks (or the fixed mask), ``mask`` (N, L) with 1 on masked patches."""
        device = self.encoder.device if device is None else device
        if self.fixed_mask is not None:
            m = masking_from_mask(self.fixed_mask.float().to(device)[None])
            return Masking(*(t.expand(batch_size, -1) for t in m))
        return random_masking(batch_size, (1, self.num_patches), mask_ratio, unit=unit,
                              seed=seed, device=device)

    def forward(self, signals: torch.Tensor, mask_ratio: float = 0.75, *,
                masking: Masking | None = None, seed: SeedLike = None):
        """Mask, encode, decode, score.

        Returns
        -------
        loss : torch.Tensor, scalar
            Squared error per masked pixel.
        pred : torch.Tensor, shape (N, n)
        mask : torch.Tensor, shape (N, L)
        """
        on_cpu = not isinstance(signals, torch.Tensor) or signals.device.type == "cpu"
        x = self.check_inputs(signals, finite=on_cpu)
        if masking is None:
            if self.fixed_mask is None:
                check_mask_ratio(mask_ratio)
            masking = self.make_masking(x.shape[0], mask_ratio, seed=seed, device=x.device)
        if not isinstance(masking, Masking):
            raise TypeError(f"masking must be a mae_theory.masking.Masking; got "
                            f"{describe(masking)}. Build one with model.make_masking.")
        if masking.mask.shape != (x.shape[0], self.num_patches):
            raise ValueError(f"masking.mask must have shape (N, L) = ({x.shape[0]}, "
                             f"{self.num_patches}); got {tuple(masking.mask.shape)}.")
        pixel_mask = masking.mask.repeat_interleave(self.patch_size, dim=1)
        pred = ((x * (1 - pixel_mask)) @ self.encoder.T) @ self.decoder.T
        loss = (((pred - x) ** 2) * pixel_mask).sum() / pixel_mask.sum().clamp_min(1)
        return loss, pred, masking.mask

    def flops_per_image(self, mask_ratio: float = 0.75) -> float:
        """Multiply-add FLOPs of one forward pass: two ``n x d`` products."""
        return float(4 * self.n_pixels * self.rank)
