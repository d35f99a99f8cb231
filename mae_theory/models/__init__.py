"""The models the book trains, one file per model:

- :mod:`~mae_theory.models.vit`: the masked autoencoder on images (ViT encoder over the visible
  patches, light decoder), with the official implementation's API;
- :mod:`~mae_theory.models.token`: the token MAE for synthetic latent trees (chapters 3-4): an
  MLP encoder over the visible tokens with a bottleneck, a decoder for the masked tokens;
- :mod:`~mae_theory.models.linear`: the linear MAE on 1-D signals (chapter 10), whose optimum
  :mod:`~mae_theory.theory` gives in closed form;
- :mod:`~mae_theory.models.umae`: U-MAE, the MAE plus a uniformity regulariser (chapter 10).
"""

from .linear import LinearMAE
from .token import TokenMAE, token_masking
from .umae import UMAE, uniformity_loss
from .vit import MAE, Attention, Block, sincos_pos_embed_2d

__all__ = ["MAE", "Attention", "Block", "LinearMAE", "TokenMAE", "UMAE", "sincos_pos_embed_2d",
           "token_masking", "uniformity_loss"]
