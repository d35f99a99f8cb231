"""Numbers that score a representation or a reconstruction.

Chapter 1 needs the masked reconstruction error and the simplest honest baseline for it;
later chapters add representation metrics (CKA, effective rank, attention distance) here.
"""

from __future__ import annotations

import torch

from .masking import patchify


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error per value over masked patches, one number per image.

    .. math:: e_n = \\frac{1}{|M_n|} \\sum_{l \\in M_n} \\frac{1}{p^2 C}
              \\lVert \\hat x_{n,l} - x_{n,l} \\rVert^2

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, L, p*p*C)
    mask : torch.Tensor, shape (N, L)
        1 on masked patches.

    Returns
    -------
    torch.Tensor, shape (N,)

    Examples
    --------
    >>> masked_mse(torch.ones(1, 2, 4), torch.zeros(1, 2, 4), torch.tensor([[1., 0.]]))
    tensor([1.])
    """
    if pred.shape != target.shape or pred.shape[:2] != mask.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have shape (N, L, P) "
            f"and mask {tuple(mask.shape)} shape (N, L)."
        )
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    m = mask.float()
    return (per_patch * m).sum(dim=1) / m.sum(dim=1).clamp_min(1)


def mean_patch(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The average patch at each position over a training set, shape (L, p*p*C).

    Predicting every masked patch by this is the baseline an MAE must beat: it uses where the
    patch is, but nothing the encoder sees.

    Examples
    --------
    >>> mean_patch(torch.ones(3, 1, 4, 4), 2).shape
    torch.Size([4, 4])
    """
    if images.shape[0] == 0:
        raise ValueError("images is an empty data set; the mean patch needs at least one image.")
    return patchify(images, patch_size).float().mean(dim=0)
