"""mae_theory: the package behind *Understanding Masked Autoencoders*.

Each module is one concept of the book; the flat API below is what the chapters call.
"""

__version__ = "0.1.0"

from .masking import (  # noqa: E402
    Masking,
    block_mask,
    grid_mask,
    masking_from_mask,
    n_visible,
    patchify,
    random_masking,
    unpatchify,
)
from .models import MAE, sincos_pos_embed_2d  # noqa: E402
from .runtime import (  # noqa: E402
    SeedLike,
    autocast,
    make_generator,
    provenance,
    resolve_device,
)

__all__ = [
    "MAE",
    "Masking",
    "SeedLike",
    "autocast",
    "block_mask",
    "grid_mask",
    "make_generator",
    "masking_from_mask",
    "n_visible",
    "patchify",
    "provenance",
    "random_masking",
    "resolve_device",
    "sincos_pos_embed_2d",
    "unpatchify",
]
