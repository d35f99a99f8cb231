"""The models the book trains, one file per model:

- :mod:`~mae_theory.models.vit`: the Vision Transformer parts (sin-cos position tables,
  attention with an optional mask, pre-LN blocks);
- :mod:`~mae_theory.models.mae`: the masked autoencoder on images (ViT encoder over the visible
  patches, light decoder), with the official implementation's API and one forward path;
- :mod:`~mae_theory.models.official`: loading facebookresearch/mae checkpoints
  (:meth:`MAE.from_official <mae_theory.models.mae.MAE.from_official>`);
- :mod:`~mae_theory.models.sizes`: named sizes (``mae_digits``, ``mae_tiny_patch4``, ...);
- :mod:`~mae_theory.models.token`: the token MAE for synthetic latent trees (chapters 3-4): an
  MLP encoder over the visible tokens with a bottleneck, a decoder for the masked tokens;
- :mod:`~mae_theory.models.linear`: the linear MAE on 1-D signals (chapter 10), whose optimum
  :mod:`~mae_theory.theory` gives in closed form;
- :mod:`~mae_theory.models.umae`: U-MAE, the MAE plus a uniformity regulariser (chapter 10).
"""

from .linear import LinearMAE
from .mae import MAE
from .sizes import (
    SIZES,
    MAESize,
    mae_digits,
    mae_digits_decoder,
    mae_digits_deep,
    mae_digits_small,
    mae_digits_tiny,
    mae_micro,
    mae_mirror,
    mae_small_patch4,
    mae_smoke,
    mae_tiny_patch2,
    mae_tiny_patch4,
    mae_vit_base_patch16,
)
from .token import TokenMAE, token_masking
from .umae import UMAE, uniformity_loss
from .vit import Attention, Block, sincos_pos_embed_2d

__all__ = ["MAE", "SIZES", "UMAE", "Attention", "Block", "LinearMAE", "MAESize", "TokenMAE",
           "mae_digits", "mae_digits_decoder", "mae_digits_deep", "mae_digits_small",
           "mae_digits_tiny", "mae_micro", "mae_mirror", "mae_small_patch4", "mae_smoke",
           "mae_tiny_patch2", "mae_tiny_patch4", "mae_vit_base_patch16", "sincos_pos_embed_2d",
           "token_masking", "uniformity_loss"]
