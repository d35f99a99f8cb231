"""The Vision Transformer parts of the MAE: fixed sin-cos position tables, attention, blocks.

These are the pieces :class:`~mae_theory.models.mae.MAE` is built from, laid out as in the
official implementation (He et al., 2022, which takes its blocks from timm):

- :func:`sincos_pos_embed_2d`: the fixed 2-D sin-cos position table; the first half of the
  channels encodes the column (the ``w`` coordinate), the second half the row, exactly as the
  official ``get_2d_sincos_pos_embed``;
- :class:`Attention`: multi-head self-attention through
  :func:`torch.nn.functional.scaled_dot_product_attention` (a fused flash or memory-efficient
  kernel on the GPU), with an optional attention mask (chapter 8's local decoder);
- :class:`Block`: the pre-LayerNorm transformer block
  :math:`x \\leftarrow x + \\mathrm{Attn}(\\mathrm{LN}_1 x)`,
  :math:`x \\leftarrow x + \\mathrm{MLP}(\\mathrm{LN}_2 x)`.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_float, check_int, describe

__all__ = ["Attention", "Block", "blocks_flops", "check_vit_args", "sincos_pos_embed_1d",
           "sincos_pos_embed_2d"]


def sincos_pos_embed_1d(embed_dim: int, positions: np.ndarray) -> np.ndarray:
    """1-D sin-cos table ``[sin(pos * w_i), cos(pos * w_i)]``, shape ``(M, embed_dim)``.

    Frequencies :math:`w_i = 10000^{-i/(D/2)}`, ``i = 0 .. D/2 - 1``; ``embed_dim`` is even.

    Examples
    --------
    >>> sincos_pos_embed_1d(4, np.arange(3)).shape
    (3, 4)
    """
    omega = 1.0 / 10000 ** (np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2))
    out = np.outer(np.asarray(positions, dtype=np.float64).reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_pos_embed_2d(embed_dim: int, grid_size: tuple[int, int]) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings, shape ``(rows*cols, embed_dim)``, float32.

    Row ``l = i * cols + j`` belongs to patch ``(i, j)``. Its first ``D/2`` channels are the
    1-D table (:func:`sincos_pos_embed_1d`) of the column ``j``, the last ``D/2`` that of the row
    ``i`` -- the official MAE's order, so an official checkpoint's ``pos_embed[:, 1:]`` equals
    this table. ``embed_dim`` must be divisible by 4.

    Examples
    --------
    >>> e = sincos_pos_embed_2d(8, (2, 3))
    >>> e.shape
    torch.Size([6, 8])
    >>> [round(v, 3) for v in e[1].tolist()]   # patch (0, 1): column 1 first, then row 0
    [0.841, 0.01, 0.54, 1.0, 0.0, 0.0, 1.0, 1.0]
    """
    embed_dim = check_int("embed_dim", embed_dim, symbol="D")
    if embed_dim % 4:
        raise ValueError(
            f"embed_dim (D) must be divisible by 4 for 2-D sin-cos position embeddings "
            f"(D/2 channels per axis, split into sin and cos); got {embed_dim}."
        )
    gh, gw = (check_int("grid_size", g) for g in grid_size)
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    emb = np.concatenate([sincos_pos_embed_1d(embed_dim // 2, cols),
                          sincos_pos_embed_1d(embed_dim // 2, rows)], axis=1)
    return torch.from_numpy(emb).float()


def check_heads(name: str, dim, heads_name: str, heads) -> None:
    """Refuse a width ``dim`` that ``heads`` attention heads cannot split evenly."""
    dim = check_int(name, dim)
    heads = check_int(heads_name, heads)
    if dim % heads:
        raise ValueError(
            f"{name}={dim} must be a positive multiple of {heads_name}={heads}: each head gets "
            f"{name}/{heads_name} channels. Change one of them so that {heads_name} divides {name}."
        )


def check_vit_args(img_size, patch_size, in_chans, embed_dim, depth, num_heads,
                   decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, norm_layer,
                   norm_pix_loss):
    """Validate the MAE constructor's (official) arguments.

    Returns ``((H, W), p, C, depth, decoder_depth, mlp_ratio)``; raises ``TypeError`` or
    ``ValueError`` naming the argument. ``norm_layer`` may be ``None`` or the official
    factories' ``functools.partial(nn.LayerNorm, eps=1e-6)``, the only LayerNorm used here.
    """
    pair = (img_size, img_size) if isinstance(img_size, numbers.Integral) else img_size
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"img_size (H, W) must be an int or a pair of ints; got "
                        f"{describe(img_size)}. Pass e.g. img_size=32 or (8, 16).")
    h, w = (check_int("img_size", s, symbol="H, W") for s in pair)
    patch_size = check_int("patch_size", patch_size, symbol="p")
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"img_size (H x W) must be divisible by the patch size p={patch_size}; got "
            f"{h} x {w}. Pick a p that divides both (e.g. p=1 or a divisor of both sides)."
        )
    in_chans = check_int("in_chans", in_chans, symbol="C")
    depth = check_int("depth", depth)
    decoder_depth = check_int("decoder_depth", decoder_depth, low=0)
    check_heads("embed_dim", embed_dim, "num_heads", num_heads)
    check_heads("decoder_embed_dim", decoder_embed_dim, "decoder_num_heads", decoder_num_heads)
    mlp_ratio = check_float("mlp_ratio", mlp_ratio, low=0.0, low_open=True)
    if not isinstance(norm_pix_loss, bool):
        raise TypeError(f"norm_pix_loss must be True or False; got {describe(norm_pix_loss)}.")
    official_ln = (isinstance(norm_layer, functools.partial) and norm_layer.func is nn.LayerNorm
                   and not norm_layer.args and norm_layer.keywords == {"eps": 1e-6})
    if norm_layer is not None and not official_ln:
        raise ValueError(
            f"norm_layer must be None or functools.partial(nn.LayerNorm, eps=1e-6) (the official "
            f"MAE factories' LayerNorm, which this model always uses); got {norm_layer!r}. "
            "Leave norm_layer out."
        )
    return (h, w), patch_size, in_chans, depth, decoder_depth, mlp_ratio


def blocks_flops(n_blocks: int, n_tokens: int, width: int, mlp_ratio: float) -> float:
    """Matrix-multiply FLOPs of ``n_blocks`` blocks on ``T`` tokens of width ``D``.

    ``2 * in * out`` per linear layer per token (qkv, proj, two MLP layers) and ``4 T^2 D`` per
    attention (scores and weighted sum).

    Examples
    --------
    >>> blocks_flops(1, 1, 1, 1.0)
    16
    """
    hidden = int(width * mlp_ratio)
    per_token = 2 * (3 * width * width + width * width + 2 * width * hidden)
    return n_blocks * (n_tokens * per_token + 4 * n_tokens * n_tokens * width)


class Attention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``.

    Parameters
    ----------
    dim : int
        Token width ``D``, a multiple of ``num_heads``.
    num_heads : int
        Heads ``h``; each works on ``D/h`` channels.

    Examples
    --------
    >>> attn = Attention(8, 2)
    >>> attn(torch.zeros(1, 3, 8)).shape
    torch.Size([1, 3, 8])
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        check_heads("dim", dim, "num_heads", num_heads)
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.num_heads, d // self.num_heads)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend: ``(N, T, D) -> (N, T, D)``.

        ``attn_mask`` (T, T) bool, True = query may attend key (or an additive float mask), as
        in :func:`~torch.nn.functional.scaled_dot_product_attention`.
        """
        n, t, d = x.shape
        q, k, v = self._qkv(x)
        if attn_mask is not None:
            attn_mask = attn_mask.to(x.device)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))

    def attention_map(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Softmax attention weights, shape (N, heads, T, T), computed explicitly in float32."""
        q, k, _ = (a.float() for a in self._qkv(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if attn_mask is not None:
            attn_mask = attn_mask.to(x.device)
            if attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            else:
                scores = scores + attn_mask.float()
        return torch.softmax(scores, dim=-1)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``.

    LayerNorms use ``eps=1e-6`` and the MLP is ``Linear, GELU, Linear`` of hidden width
    ``int(dim * mlp_ratio)``, as the official MAE's timm blocks.

    Examples
    --------
    >>> Block(8, 2)(torch.zeros(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn_mask)
        return x + self.mlp(self.norm2(x))


def __getattr__(name: str):
    # MAE lived here before the ViT parts and the model were split; keep the old path working
    if name == "MAE":
        from .mae import MAE

        return MAE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
