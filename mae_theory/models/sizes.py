"""Named MAE sizes: the book's CPU models, the benchmarked ViT sizes and the official ViT-B/16.

Each factory is ``name(**overrides) -> MAE``, like the official ``mae_vit_base_patch16``: it fixes
an architecture and passes keywords through to :class:`~mae_theory.models.mae.MAE` (``seed=``,
``norm_pix_loss=``, or any size to change, such as ``in_chans`` or ``decoder_depth``).
:data:`SIZES` holds the same architectures as frozen :class:`MAESize` records.

====================  ====  ==  =  ===  =====  =====  ====  ======  ======  =================
name                  img   p   C  D    depth  heads  D'    depth'  heads'  used by
====================  ====  ==  =  ===  =====  =====  ====  ======  ======  =================
mae_micro             8     2   1  16   1      2      16    1       2       tests, doctests
mae_smoke             16    4   1  32   2      2      32    1       2       smoke runs
mae_digits            8     2   1  64   4      4      64    2       4       chapter 1
mae_digits_small      8     2   1  32   4      4      32    2       4       chapter 6
mae_digits_deep       8     2   1  64   6      4      32    1       4       chapter 7
mae_digits_decoder    8     2   1  32   3      4      32    2       4       chapter 8
mae_digits_tiny       8     2   1  32   2      2      32    1       2       chapter 10
mae_mirror            8x16  2   1  32   2      4      32    2       4       chapter 8 mirrors
mae_tiny_patch4       32    4   3  192  12     3      128   4       4       benchmarks, GPU
mae_tiny_patch2       32    2   3  192  12     3      128   4       4       benchmarks
mae_small_patch4      32    4   3  384  12     6      256   4       8       benchmarks
mae_vit_base_patch16  224   16  3  768  12     12     512   8       16      official ViT-B/16
====================  ====  ==  =  ===  =====  =====  ====  ======  ======  =================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .mae import MAE

__all__ = ["SIZES", "MAESize", "mae_digits", "mae_digits_decoder", "mae_digits_deep",
           "mae_digits_small", "mae_digits_tiny", "mae_micro", "mae_mirror", "mae_small_patch4",
           "mae_smoke", "mae_tiny_patch2", "mae_tiny_patch4", "mae_vit_base_patch16"]


@dataclass(frozen=True)
class MAESize:
    """One MAE architecture (the constructor's size arguments, official names)."""

    img_size: int | tuple[int, int]  # H (= W) or (H, W), pixels
    patch_size: int  # p
    in_chans: int  # C
    embed_dim: int  # D, encoder width
    depth: int  # encoder blocks
    num_heads: int  # encoder heads
    decoder_embed_dim: int  # decoder width
    decoder_depth: int  # decoder blocks
    decoder_num_heads: int  # decoder heads
    mlp_ratio: float = 4.0  # MLP hidden width / block width

    def build(self, model_cls: type[MAE] = MAE, **overrides) -> MAE:
        """``model_cls(**fields, **overrides)``; overrides replace fields or add ``seed=`` etc.

        ``model_cls`` may be an MAE subclass such as :class:`~mae_theory.models.umae.UMAE`.

        Examples
        --------
        >>> SIZES["mae_micro"].build(seed=0).num_patches
        16
        """
        fields = {f.name for f in dataclasses.fields(self)}
        size = dataclasses.replace(self, **{k: v for k, v in overrides.items() if k in fields})
        rest = {k: v for k, v in overrides.items() if k not in fields}
        return model_cls(**dataclasses.asdict(size), **rest)


SIZES: dict[str, MAESize] = {
    "mae_micro": MAESize(8, 2, 1, 16, 1, 2, 16, 1, 2),
    "mae_smoke": MAESize(16, 4, 1, 32, 2, 2, 32, 1, 2),
    "mae_digits": MAESize(8, 2, 1, 64, 4, 4, 64, 2, 4),
    "mae_digits_small": MAESize(8, 2, 1, 32, 4, 4, 32, 2, 4),
    "mae_digits_deep": MAESize(8, 2, 1, 64, 6, 4, 32, 1, 4),
    "mae_digits_decoder": MAESize(8, 2, 1, 32, 3, 4, 32, 2, 4),
    "mae_digits_tiny": MAESize(8, 2, 1, 32, 2, 2, 32, 1, 2),
    "mae_mirror": MAESize((8, 16), 2, 1, 32, 2, 4, 32, 2, 4),
    "mae_tiny_patch4": MAESize(32, 4, 3, 192, 12, 3, 128, 4, 4),
    "mae_tiny_patch2": MAESize(32, 2, 3, 192, 12, 3, 128, 4, 4),
    "mae_small_patch4": MAESize(32, 4, 3, 384, 12, 6, 256, 4, 8),
    "mae_vit_base_patch16": MAESize(224, 16, 3, 768, 12, 12, 512, 8, 16),
}
"""Every named size, by factory name (table in the module docstring)."""


def mae_micro(**overrides) -> MAE:
    """The smallest MAE (8 px, p=2, D=16, one block each side): tests and doctests.

    Examples
    --------
    >>> mae_micro(seed=0).grid_size
    (4, 4)
    """
    return SIZES["mae_micro"].build(**overrides)


def mae_smoke(**overrides) -> MAE:
    """16 px, p=4, D=32 x 2 blocks, decoder 32 x 1: smoke runs of the experiments, probe tests."""
    return SIZES["mae_smoke"].build(**overrides)


def mae_digits(**overrides) -> MAE:
    """Chapter 1's digits MAE: 8 px, p=2, D=64 x 4 blocks (4 heads), decoder 64 x 2."""
    return SIZES["mae_digits"].build(**overrides)


def mae_digits_small(**overrides) -> MAE:
    """Chapter 6's digits MAE: 8 px, p=2, D=32 x 4 blocks (4 heads), decoder 32 x 2."""
    return SIZES["mae_digits_small"].build(**overrides)


def mae_digits_deep(**overrides) -> MAE:
    """Chapter 7's digits MAE: 8 px, p=2, D=64 x 6 blocks (4 heads), decoder 32 x 1."""
    return SIZES["mae_digits_deep"].build(**overrides)


def mae_digits_decoder(**overrides) -> MAE:
    """Chapter 8's digits MAE: 8 px, p=2, D=32 x 3 blocks, decoder 32 x ``decoder_depth`` (2)."""
    return SIZES["mae_digits_decoder"].build(**overrides)


def mae_digits_tiny(**overrides) -> MAE:
    """Chapter 10's digits size (U-MAE): 8 px, p=2, D=32 x 2 blocks (2 heads), decoder 32 x 1.

    For the U-MAE: ``SIZES["mae_digits_tiny"].build(UMAE, uniformity_weight=..., seed=...)``.
    """
    return SIZES["mae_digits_tiny"].build(**overrides)


def mae_mirror(**overrides) -> MAE:
    """Chapter 8's mirror-image MAE: 8 x 16 px, p=2, D=32 x 2 blocks, decoder 32 x 2."""
    return SIZES["mae_mirror"].build(**overrides)


def mae_tiny_patch4(**overrides) -> MAE:
    """ViT-Tiny/4 at 32 px with a 128-d x 4 decoder (the benchmarked size; C=3 by default)."""
    return SIZES["mae_tiny_patch4"].build(**overrides)


def mae_tiny_patch2(**overrides) -> MAE:
    """ViT-Tiny/2 at 32 px with a 128-d x 4 decoder (benchmarks)."""
    return SIZES["mae_tiny_patch2"].build(**overrides)


def mae_small_patch4(**overrides) -> MAE:
    """ViT-Small/4 at 32 px with a 256-d x 4 decoder (benchmarks)."""
    return SIZES["mae_small_patch4"].build(**overrides)


def mae_vit_base_patch16(**overrides) -> MAE:
    """The official ``mae_vit_base_patch16``: ViT-B/16 at 224 px, decoder 512-d x 8 (16 heads).

    Examples
    --------
    >>> SIZES["mae_vit_base_patch16"].embed_dim   # the factory itself builds 112M weights
    768
    """
    return SIZES["mae_vit_base_patch16"].build(**overrides)
