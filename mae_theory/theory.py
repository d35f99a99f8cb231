"""Closed-form predictions that the chapters test against.

Sections, in the book's reading order:

1. Shared latents of a mask in a latent hierarchy, c(m), and their dimension (chapters 2-4,
   Kong et al. 2023).
2. The linear MAE in closed form (chapter 10).
"""

from __future__ import annotations

# --- 1. Shared latents c(m) in a latent hierarchy ---------------------------------------------

# --- 2. Linear MAE in closed form ------------------------------------------------------------
