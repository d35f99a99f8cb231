"""Patches and masks: cutting an image into tokens and choosing which tokens the encoder sees.

Notation (book, notation page): an image batch has shape ``(N, C, H, W)``; with patch size ``p``
it becomes ``L = (H/p)(W/p)`` tokens of ``p*p*C`` values each. A mask splits the tokens into the
masked set :math:`\\mathcal M` (hidden from the encoder, ``mask == 1``) and the visible set
:math:`\\mathcal V` (the book writes them ``\\mask`` and ``\\vis``; the letter ``m`` is kept for a
mask on the leaves of a latent tree).

The counting rule for random masks, pinned by a test: with mask ratio ``r`` the encoder keeps

.. math:: n_{keep} = \\lfloor L (1 - r) \\rfloor

tokens, computed exactly as the official MAE does: ``int(L * (1 - mask_ratio))`` in floating
point. Rounding in ``1 - r`` can land just below an integer, so for some pairs the count is one
less than the exact floor, e.g. ``L = 100, r = 0.9`` keeps 9, not 10 (``1 - 0.9`` is
``0.09999999999999998``); matching the official rule keeps official checkpoints and
numbers comparable. At least one token must stay visible.

A *masking unit* of ``u`` patches per side hides square groups of ``u x u`` patches together
(Kong et al.'s "patch size" of the mask, decoupled from the ViT's patch size); then the rule
above is applied to the number of units, ``U = L / u**2``: the encoder keeps
:math:`\\lfloor U (1 - r) \\rfloor` units and the other :math:`n_u` are masked.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .checks import check_int, check_tensor, describe
from .runtime import DeviceLike, SeedLike, make_generator


def _check_images(imgs: torch.Tensor, patch_size: int) -> None:
    # no finiteness or dtype check here: patchify runs inside the training step
    check_tensor("imgs", imgs, ndim=4, floating=False, finite=False, shape_hint="(N, C, H, W)")
    check_int("patch_size", patch_size, symbol="p")
    h, w = imgs.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"image size H x W = {h} x {w} is not divisible by the patch size p={patch_size}. "
            f"Crop or pad the images to a multiple of {patch_size}, or pick a p that divides both."
        )


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping patches, flattened in (row, column, channel) order.

    Parameters
    ----------
    imgs : torch.Tensor, shape (N, C, H, W)
        Any channel count ``C``; ``H`` and ``W`` divisible by ``patch_size``.
    patch_size : int
        The patch side ``p``.

    Returns
    -------
    torch.Tensor, shape (N, L, p*p*C)
        Token ``l = i * (W/p) + j`` holds patch ``(i, j)``; within it the official MAE's order.

    Examples
    --------
    >>> patchify(torch.zeros(2, 3, 8, 8), 4).shape
    torch.Size([2, 4, 48])
    """
    _check_images(imgs, patch_size)
    n, c, h, w = imgs.shape
    p = patch_size
    x = imgs.reshape(n, c, h // p, p, w // p, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(
    x: torch.Tensor, patch_size: int, in_chans: int, grid_size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Parameters
    ----------
    x : torch.Tensor, shape (N, L, p*p*C)
    patch_size : int
        The patch side ``p``.
    in_chans : int
        The channel count ``C``.
    grid_size : (int, int), optional
        Patches per column and per row; by default the grid is square, ``sqrt(L)`` per side.

    Returns
    -------
    torch.Tensor, shape (N, C, H, W)

    Examples
    --------
    >>> imgs = torch.randn(2, 1, 8, 12)
    >>> torch.equal(unpatchify(patchify(imgs, 4), 4, 1, grid_size=(2, 3)), imgs)
    True
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, L, p*p*C); got {tuple(x.shape)}.")
    n, n_tokens, dim = x.shape
    p, c = patch_size, in_chans
    if dim != p * p * c:
        raise ValueError(
            f"token width {dim} does not match p*p*C = {p}*{p}*{c} = {p * p * c}. "
            "Pass the patch_size and in_chans the tokens were made with."
        )
    if grid_size is None:
        side = math.isqrt(n_tokens)
        if side * side != n_tokens:
            raise ValueError(
                f"L={n_tokens} tokens do not form a square grid; pass grid_size=(rows, cols)."
            )
        grid_size = (side, side)
    gh, gw = grid_size
    if gh * gw != n_tokens:
        raise ValueError(f"grid_size {grid_size} holds {gh * gw} patches, not L={n_tokens}.")
    x = x.reshape(n, gh, gw, p, p, c)
    x = torch.einsum("nhwpqc->nchpwq", x)
    return x.reshape(n, c, gh * p, gw * p)


def check_mask_ratio(mask_ratio: float) -> float:
    """Return ``mask_ratio`` as a float after checking ``0 <= r < 1``.

    Examples
    --------
    >>> check_mask_ratio(0.75)
    0.75
    >>> check_mask_ratio(1.2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: mask ratio r must lie in [0, 1); got 1.2. r is the fraction of tokens hidden...
    """
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise TypeError(f"mask ratio r must be a number in [0, 1); got {describe(mask_ratio)}. "
                        "Pass a float such as mask_ratio=0.75.")
    if not 0.0 <= float(mask_ratio) < 1.0:
        raise ValueError(
            f"mask ratio r must lie in [0, 1); got {mask_ratio}. "
            "r is the fraction of tokens hidden from the encoder, e.g. 0.75."
        )
    return float(mask_ratio)


def n_visible(n_tokens: int, mask_ratio: float) -> int:
    """Number of tokens the encoder keeps: the official ``int(L * (1 - r))``.

    This is :math:`\\lfloor L (1 - r) \\rfloor` evaluated in floating point, without any guard:
    where ``L * (1 - r)`` should be an integer but rounds just below it, one token fewer is kept
    (``L = 100, r = 0.9`` keeps 9, not 10), exactly as in the official MAE.

    Parameters
    ----------
    n_tokens : int
        ``L``, the number of tokens (or masking units).
    mask_ratio : float
        ``r`` in [0, 1).

    Examples
    --------
    >>> n_visible(64, 0.75), n_visible(64, 0.9), n_visible(100, 0.9), n_visible(100, 0.71)
    (16, 6, 9, 29)
    """
    n_tokens = check_int("n_tokens", n_tokens, symbol="L")
    r = check_mask_ratio(mask_ratio)
    keep = int(n_tokens * (1 - r))
    if keep < 1:
        raise ValueError(
            f"mask ratio r={r} leaves no visible token out of L={n_tokens} "
            f"(int(L*(1-r)) = 0). Lower r to at most {1 - 1 / n_tokens:.4f}."
        )
    return keep


class Masking(NamedTuple):
    """A batch of masks in the official MAE's form.

    Attributes
    ----------
    mask : torch.Tensor, shape (N, L), float
        1 for masked tokens (the set M), 0 for visible ones.
    ids_keep : torch.Tensor, shape (N, n_keep), long
        Indices of the visible tokens, in the order the encoder sees them.
    ids_restore : torch.Tensor, shape (N, L), long
        Permutation that puts ``[visible..., masked...]`` back into image order.
    """

    mask: torch.Tensor
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor


def masking_from_noise(noise: torch.Tensor, n_keep: int) -> Masking:
    """Keep the ``n_keep`` tokens with the smallest noise (the official argsort rule).

    Works on any device; a stable sort keeps tokens with equal noise (one masking unit) together.
    """
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :n_keep]
    mask = torch.ones_like(noise)
    mask[:, :n_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return Masking(mask, ids_keep, ids_restore)


def _unit_noise(
    noise_units: torch.Tensor, grid_size: tuple[int, int], unit: int
) -> torch.Tensor:
    """Spread one noise value per unit over the unit's ``unit x unit`` patches."""
    n = noise_units.shape[0]
    gh, gw = grid_size
    x = noise_units.reshape(n, gh // unit, 1, gw // unit, 1)
    return x.expand(n, gh // unit, unit, gw // unit, unit).reshape(n, gh * gw)


def mask_noise(batch_size: int, n_units: int, *, seed: SeedLike = None,
               device: DeviceLike = None) -> torch.Tensor:
    """Uniform noise (N, n_units) whose argsort picks the masked units.

    Drawn on a CPU generator (same seed, same masks on every device) and moved to ``device``,
    or directly on a CUDA generator passed as ``seed`` (the fast path: no host sync).
    """
    if isinstance(seed, torch.Generator) and seed.device.type != "cpu":
        noise = torch.rand(batch_size, n_units, generator=seed, device=seed.device)
    else:
        noise = torch.rand(batch_size, n_units, generator=make_generator(seed))
    return noise.to(device)


def random_masking(
    batch_size: int,
    grid_size: tuple[int, int],
    mask_ratio: float,
    *,
    unit: int = 1,
    seed: SeedLike = None,
    device: DeviceLike = "cpu",
) -> Masking:
    """Draw one random mask per sample, hiding whole masking units.

    Parameters
    ----------
    batch_size : int
        ``N``, the number of masks.
    grid_size : (int, int)
        Patches per column and per row; ``L = rows * cols``.
    mask_ratio : float
        ``r`` in [0, 1): the fraction of units hidden (rule in the module docstring).
    unit : int, default 1
        Masking unit side ``u`` in patches; it must divide both grid sides.
    seed : SeedLike
        Noise is drawn on a CPU generator, then moved: a seed gives the same masks everywhere.
        A CUDA ``torch.Generator`` draws directly on the GPU (the fast training path).
    device : torch.device or str
        Where the returned tensors live.

    Returns
    -------
    Masking

    Examples
    --------
    >>> m = random_masking(2, (4, 4), 0.75, seed=0)
    >>> m.mask.sum(dim=1).tolist(), m.ids_keep.shape
    ([12.0, 12.0], torch.Size([2, 4]))
    """
    batch_size = check_int("batch_size", batch_size, symbol="N")
    gh, gw = (check_int("grid_size", g) for g in grid_size)
    if isinstance(unit, bool) or not isinstance(unit, int) or unit < 1 or gh % unit or gw % unit:
        raise ValueError(
            f"masking unit u={unit!r} must be a positive int dividing the patch grid "
            f"{gh} x {gw}; pick u among the common divisors of {gh} and {gw}."
        )
    n_units = (gh // unit) * (gw // unit)
    keep_units = n_visible(n_units, mask_ratio)
    noise = mask_noise(batch_size, n_units, seed=seed, device=device)
    if unit > 1:
        noise = _unit_noise(noise, grid_size, unit)
    return masking_from_noise(noise, keep_units * unit * unit)


def masking_from_mask(mask: torch.Tensor, n_tokens: int | None = None) -> Masking:
    """Turn fixed masks (1 or True = masked, 0 or False = visible) into a :class:`Masking`.

    Parameters
    ----------
    mask : torch.Tensor, shape (L,) or (N, L)
        Every row must hide the same number of tokens (the encoder batch is rectangular)
        and keep at least one. Only the values 0 and 1 are allowed.
    n_tokens : int, optional
        ``L`` the mask must have (a model's ``num_patches``).

    Examples
    --------
    >>> masking_from_mask(torch.tensor([1, 0, 1, 0])).ids_keep.tolist()
    [[1, 3]]
    >>> masking_from_mask(torch.tensor([2, 0, 1, 0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: mask must hold only 0 (visible) and 1 (masked); got the values [0.0, 1.0, 2.0]...
    """
    check_tensor("mask", mask, ndim=(1, 2), floating=False, finite=False,
                 shape_hint="(L,) or (N, L)")
    m = mask.float()
    if m.ndim == 1:
        m = m.unsqueeze(0)
    if n_tokens is not None and m.shape[1] != n_tokens:
        raise ValueError(f"mask must have L = {n_tokens} entries per row (one per patch); got "
                         f"{describe(mask)}. Build it on the model's grid_size.")
    if m.shape[1] == 0:
        raise ValueError(f"mask must have at least one token; got {describe(mask)}.")
    if not torch.all((m == 0) | (m == 1)):
        values = torch.unique(m).tolist()
        raise ValueError(f"mask must hold only 0 (visible) and 1 (masked); got the values "
                         f"{values[:6]}. Convert a boolean or 0/1 mask, e.g. (mask > 0).float().")
    counts = m.sum(dim=1)
    if not torch.all(counts == counts[0]):
        raise ValueError(
            "every row of mask must hide the same number of tokens; got counts "
            f"{counts.int().tolist()}. Use one mask per batch or equal-size masks."
        )
    if counts[0] >= m.shape[1]:
        raise ValueError("mask hides every token; keep at least one token visible.")
    n_keep = int(m.shape[1] - counts[0].item())
    # visible tokens first in image order, then masked ones: noise = mask + position / L
    pos = torch.arange(m.shape[1], device=m.device, dtype=torch.float32) / m.shape[1]
    return masking_from_noise(m + pos, n_keep)


def block_mask(grid_size: tuple[int, int], top: int, left: int, height: int, width: int):
    """A mask hiding one rectangle of patches.

    Returns
    -------
    torch.BoolTensor, shape (L,)
        True on the rectangle ``[top, top+height) x [left, left+width)``.

    Examples
    --------
    >>> block_mask((4, 4), 1, 1, 2, 2).reshape(4, 4).int().tolist()[1]
    [0, 1, 1, 0]
    """
    gh, gw = (check_int("grid_size", g) for g in grid_size)
    top, left = check_int("top", top, low=0), check_int("left", left, low=0)
    height, width = check_int("height", height), check_int("width", width)
    if height < 1 or width < 1 or top < 0 or left < 0 or top + height > gh or left + width > gw:
        raise ValueError(
            f"block [{top}:{top + height}, {left}:{left + width}] must be non-empty and lie "
            f"inside the {gh} x {gw} patch grid."
        )
    m = torch.zeros(gh, gw, dtype=torch.bool)
    m[top : top + height, left : left + width] = True
    return m.reshape(-1)


def grid_mask(grid_size: tuple[int, int], stride: int = 2, offset: tuple[int, int] = (0, 0)):
    """A regular mask keeping one patch in every ``stride x stride`` cell (r = 1 - 1/stride^2).

    Returns
    -------
    torch.BoolTensor, shape (L,)
        False (visible) at rows ``offset[0] + k*stride`` and columns ``offset[1] + k*stride``.

    Examples
    --------
    >>> grid_mask((4, 4)).float().mean().item()
    0.75
    """
    gh, gw = (check_int("grid_size", g) for g in grid_size)
    stride = check_int("stride", stride)
    if stride < 1 or not (0 <= offset[0] < stride and 0 <= offset[1] < stride):
        raise ValueError(f"need stride >= 1 and 0 <= offset < stride; got {stride}, {offset}.")
    m = torch.ones(gh, gw, dtype=torch.bool)
    m[offset[0] :: stride, offset[1] :: stride] = False
    return m.reshape(-1)
