"""Probes: how much of a quantity can be read off a frozen representation.

Two families, one section each (reading order):

1. **Regression probes** for synthetic hierarchies (chapters 3-4): the R^2 of each latent
   variable and noise from a representation, linear and nonlinear, on a held-out split, and the
   leakage profile over every node of a tree.
2. **Classification probes** for real images (chapter 9): the linear probe of MAE's protocol
   (BatchNorm without affine, then a linear layer), k-NN accuracy, partial fine-tuning.
"""

from __future__ import annotations

# --- 1. Regression probes (R^2 per latent, leakage profile) -----------------------------------

# --- 2. Classification probes (linear probe, k-NN, partial fine-tuning) -----------------------
