"""The models the book trains, one file per model:

- :mod:`~mae_theory.models.vit`: the masked autoencoder on images (ViT encoder over the visible
  patches, light decoder), with the official implementation's API.

The token MAE for synthetic hierarchies and the linear MAE join this package as their own files.
"""

from .vit import MAE, Attention, Block, sincos_pos_embed_2d

__all__ = ["MAE", "Attention", "Block", "sincos_pos_embed_2d"]
