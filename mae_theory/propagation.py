"""How a representation travels through pre-LayerNorm transformer blocks (chapter 7, Q3).

A pre-LN block ``b`` (``b = 0 .. B-1``, ``B`` the encoder depth) updates the residual stream
``X_b`` entering it (one row per token, shape ``(N, 1 + L, D)``: cls and ``L`` patches) as

.. math:: X_{b+1/2} = X_b + \\mathrm{Attn}(\\mathrm{LN}_1 X_b), \\qquad
          X_{b+1} = X_{b+1/2} + \\mathrm{MLP}(\\mathrm{LN}_2 X_{b+1/2}).

Both branches read a LayerNormed input, whose norm is at most
:math:`R = \\sqrt{D}\\lVert\\gamma\\rVert_\\infty + \\lVert\\beta\\rVert_2` whatever ``X_b`` is, so
the update of a block is bounded by a constant :math:`\\Gamma_b` of its weights alone
(:func:`update_bound`); relative updates :math:`\\delta_b = \\lVert X_{b+1} - X_b\\rVert /
\\lVert X_b\\rVert \\le \\Gamma_b / \\lVert X_b\\rVert` shrink as the stream grows. This module
measures the stream (:func:`residual_stream`), the updates (:func:`relative_updates`) and the
bound, builds per-image features for layer-by-layer CKA (:func:`pooled_features`), and
trains the supervised comparison model (:func:`train_supervised`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_float, check_int, check_tensor, describe
from .masking import Masking
from .runtime import SeedLike, make_generator


@torch.no_grad()
def residual_stream(mae, imgs: torch.Tensor, masking: Masking | None = None) -> list[torch.Tensor]:
    """The encoder's residual stream before and after every block.

    Parameters
    ----------
    mae : MAE
    imgs : torch.Tensor, shape (N, C, H, W)
    masking : Masking, optional
        Encode only the visible patches (as in training); ``None`` encodes all ``L``.

    Returns
    -------
    list of torch.Tensor, ``B + 1`` entries of shape (N, 1 + L, D), float32
        :math:`X_0` (embedded patches and cls) to :math:`X_B` (after the last of the ``B``
        blocks, before the final LayerNorm); with a ``masking``, ``1 + n_keep`` tokens.

    Examples
    --------
    >>> import torch
    >>> from mae_theory.models import mae_micro
    >>> mae = mae_micro(depth=3, seed=0)
    >>> [tuple(x.shape) for x in residual_stream(mae, torch.zeros(2, 1, 8, 8))][-1]
    (2, 17, 16)
    """
    _check_mae(mae)
    mae._check_input(imgs)
    if masking is not None:
        masking = mae.resolve_masking(imgs, masking=masking)
    states: list[torch.Tensor] = []
    mae.forward_encoder(imgs, masking, states=states)
    return [x.float() for x in states]


def _check_mae(mae) -> None:
    from .models import MAE

    if not isinstance(mae, MAE):
        raise TypeError(f"mae must be a mae_theory MAE; got {describe(mae)}. Build one with "
                        "mt.MAE(...) or a size factory such as mt.mae_digits(seed=0).")


def _check_states(states) -> None:
    if len(states) < 2 or any(s.shape != states[0].shape for s in states):
        raise ValueError(
            "states must be a list of at least two residual-stream tensors X_b of one shape "
            "(N, 1 + L, D), as returned by residual_stream."
        )


def relative_updates(states: list[torch.Tensor], *, skip_cls: bool = True) -> torch.Tensor:
    """Mean relative update per block, :math:`\\delta_b = \\operatorname{mean}_{n,i}
    \\lVert X_{b+1,i} - X_{b,i} \\rVert / \\lVert X_{b,i} \\rVert` (mean over images ``n`` and
    patch tokens ``i``).

    Returns
    -------
    torch.Tensor, shape (B,): :math:`\\delta_0, \\dots, \\delta_{B-1}`

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(1, 3, 4)
    >>> relative_updates([x, 2 * x, 3 * x], skip_cls=False).tolist()
    [1.0, 0.5]
    """
    _check_states(states)
    s = [x[:, 1:] if skip_cls else x for x in states]
    return torch.stack([((b - a).norm(dim=-1) / a.norm(dim=-1)).mean()
                        for a, b in zip(s[:-1], s[1:])])


def _layer_norm_radius(ln: nn.LayerNorm) -> float:
    return math.sqrt(ln.normalized_shape[0]) * ln.weight.abs().max().item() + ln.bias.norm().item()


@torch.no_grad()
def update_bound(block) -> float:
    """Weight-only bound :math:`\\Gamma_b` on the per-token update of one pre-LN block ``b``.

    .. math:: \\lVert X_{b+1,i} - X_{b,i} \\rVert \\le \\Gamma_b =
              \\lVert W_O \\rVert \\Big(\\sum_k (\\lVert W_V^{(k)} \\rVert R_1 +
              \\lVert b_V^{(k)} \\rVert)^2\\Big)^{1/2} + \\lVert b_O \\rVert
              + \\lVert W_2 \\rVert (\\lVert W_1 \\rVert R_2 + \\lVert b_1 \\rVert)
              + \\lVert b_2 \\rVert

    with spectral norms, heads :math:`k = 1, \\dots, n_h`, and
    :math:`R_j = \\sqrt{D}\\lVert\\gamma_j\\rVert_\\infty + \\lVert\\beta_j\\rVert` the radius of
    LayerNorm ``j``'s output (``j = 1, 2``); each head's output is a convex combination of its
    values, and :math:`|\\mathrm{GELU}(u)| \\le |u|`.

    Examples
    --------
    >>> import torch
    >>> from mae_theory.models import mae_micro
    >>> blk = mae_micro(seed=0).blocks[0]
    >>> x = 100 * torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(0))
    >>> bool(((blk(x) - x).norm(dim=-1) <= update_bound(blk)).all())
    True
    """
    from .models import Block

    if not isinstance(block, Block):
        raise TypeError(f"block must be a transformer Block (e.g. mae.blocks[0]); got "
                        f"{describe(block)}.")
    attn, mlp = block.attn, block.mlp
    d = attn.qkv.in_features
    heads = attn.num_heads
    w_v = attn.qkv.weight[2 * d:].reshape(heads, d // heads, d)
    b_v = attn.qkv.bias[2 * d:].reshape(heads, d // heads)
    r1 = _layer_norm_radius(block.norm1)
    per_head = torch.linalg.matrix_norm(w_v, ord=2) * r1 + b_v.norm(dim=-1)
    c_attn = (torch.linalg.matrix_norm(attn.proj.weight, ord=2) * per_head.square().sum().sqrt()
              + attn.proj.bias.norm())
    lin1, lin2 = mlp[0], mlp[2]
    r2 = _layer_norm_radius(block.norm2)
    c_mlp = (torch.linalg.matrix_norm(lin2.weight, ord=2)
             * (torch.linalg.matrix_norm(lin1.weight, ord=2) * r2 + lin1.bias.norm())
             + lin2.bias.norm())
    return float(c_attn + c_mlp)


def update_bounds(mae) -> torch.Tensor:
    """:func:`update_bound` of every encoder block, :math:`\\Gamma_0, \\dots, \\Gamma_{B-1}`,
    shape (B,)."""
    _check_mae(mae)
    return torch.tensor([update_bound(b) for b in mae.blocks])


def stream_norms(states: list[torch.Tensor], *, skip_cls: bool = True) -> torch.Tensor:
    """Mean token norm :math:`\\operatorname{mean}_{n,i} \\lVert X_{b,i} \\rVert` per state,
    shape (B + 1,)."""
    _check_states(states)
    return torch.stack([(x[:, 1:] if skip_cls else x).norm(dim=-1).mean() for x in states])


def predicted_relative_bound(states: list[torch.Tensor], bounds: torch.Tensor, *,
                             skip_cls: bool = True) -> torch.Tensor:
    """The bound on :math:`\\delta_b` the theorem gives: :math:`\\operatorname{mean}_{n,i}
    \\Gamma_b / \\lVert X_{b,i} \\rVert`, shape (B,)."""
    _check_states(states)
    if bounds.shape != (len(states) - 1,):
        raise ValueError(f"bounds Gamma_b must have one entry per block ({len(states) - 1}); got "
                         f"shape {tuple(bounds.shape)}.")
    s = [x[:, 1:] if skip_cls else x for x in states[:-1]]
    return torch.stack([(c / x.norm(dim=-1)).mean() for c, x in zip(bounds, s)])


def token_features(states: list[torch.Tensor], *, skip_cls: bool = True) -> list[torch.Tensor]:
    """Flatten each state to one row per patch token, (N L, D) (``N (1 + L)`` with cls): the
    input of token-level CKA."""
    return [(x[:, 1:] if skip_cls else x).reshape(-1, x.shape[-1]) for x in states]


def pooled_features(states: list[torch.Tensor], *, skip_cls: bool = True) -> list[torch.Tensor]:
    """One feature row per image for CKA: remove each token position's mean over the images,
    then mean-pool the tokens, (N, D) per state.

    .. math:: \\bar X_{b,n} = \\frac{1}{L}\\sum_{i=1}^{L}\\Big(X_{b,n,i}
              - \\frac{1}{N}\\sum_{n'=1}^{N} X_{b,n',i}\\Big)

    Token-level CKA (:func:`token_features`) treats the ``L`` tokens of an image as ``L``
    examples. Tokens at different positions differ by the position embedding, which is the same
    for every image and is carried along the residual stream, so part of what two layers "share"
    is where a token sits, not what the image shows. Removing the per-position mean deletes
    every component common to all images at a position; pooling leaves one row per image, so
    CKA compares how two layers arrange the *images*.

    Parameters
    ----------
    states : list of torch.Tensor, each (N, 1 + L, D)
        Residual-stream states :math:`X_b`, as returned by :func:`residual_stream`.
    skip_cls : bool
        Drop token 0 (the cls token) before pooling.

    Returns
    -------
    list of torch.Tensor, each (N, D), float32, with zero mean over the N images

    Notes
    -----
    Pooling and centring are both linear, so :math:`\\bar X_{b,n}` is also the mean-pooled token of
    image ``n`` minus its mean over images; linear CKA, which centres its inputs, gives the same
    value on plain mean-pooled tokens. The per-position centring is written out because it is
    the reason the measure ignores the position embedding. Used in chapter 7.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(4, 5, 3, generator=g)
    >>> shift = torch.randn(1, 5, 3, generator=g)  # one offset per position, for every image
    >>> z = pooled_features([x, x + shift])
    >>> z[0].shape, bool(torch.allclose(z[0], z[1], atol=1e-6))
    (torch.Size([4, 3]), True)
    """
    _check_states(states)
    if states[0].shape[0] < 2:
        raise ValueError(f"states must hold at least N = 2 images to remove the mean over "
                         f"images; got N = {states[0].shape[0]}.")
    out = []
    for x in states:
        t = (x[:, 1:] if skip_cls else x).float()
        out.append((t - t.mean(dim=0, keepdim=True)).mean(dim=1))
    return out


@dataclass(frozen=True)
class SupervisedConfig:
    """How to train the supervised ViT that chapter 7 compares an MAE with."""

    steps: int = 300  # optimiser steps
    batch_size: int = 64  # images per step
    lr: float = 2e-3  # AdamW learning rate (cosine decay to 0)
    weight_decay: float = 0.05  # AdamW decay

    def __post_init__(self):
        check_int("steps", self.steps)
        check_int("batch_size", self.batch_size)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("weight_decay", self.weight_decay, low=0.0)


def train_supervised(mae, images: torch.Tensor, labels: torch.Tensor,
                     config: SupervisedConfig = SupervisedConfig(), *,
                     seed: SeedLike = None) -> tuple[nn.Linear, list[float]]:
    """Train ``mae``'s encoder end-to-end with a linear head on mean-pooled tokens (CPU).

    The encoder sees every patch (no mask); the decoder is unused. ``mae`` is trained in place.

    Returns
    -------
    head : nn.Linear
        The classifier on the mean-pooled, final-normed patch tokens.
    losses : list of float
        Cross-entropy per step.

    Examples
    --------
    >>> import torch
    >>> from mae_theory.models import mae_micro
    >>> mae = mae_micro(seed=0)
    >>> x, y = torch.randn(32, 1, 8, 8), torch.arange(32) % 2
    >>> head, losses = train_supervised(mae, x, y, SupervisedConfig(steps=3), seed=0)
    >>> len(losses)
    3
    """
    _check_mae(mae)
    mae._check_input(images)
    check_tensor("labels", labels, ndim=1, floating=False, finite=False, shape_hint="(N,)")
    if labels.shape != images.shape[:1] or labels.is_floating_point() or labels.min() < 0:
        raise ValueError(f"labels must be N = {images.shape[0]} non-negative integer class "
                         f"indices, one per image; got {describe(labels)}. Pass e.g. "
                         "data.labels (a long tensor).")
    if not isinstance(config, SupervisedConfig):
        raise TypeError(f"config must be a SupervisedConfig; got {describe(config)}.")
    gen = make_generator(seed)
    k = int(labels.max()) + 1
    head = nn.Linear(mae.embed_dim, k)
    with torch.no_grad():
        nn.init.normal_(head.weight, std=0.01, generator=gen)
        nn.init.zeros_(head.bias)
    params = list(mae.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    losses = []
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = 0.5 * config.lr * (1 + math.cos(math.pi * step / config.steps))
        idx = torch.randint(0, images.shape[0], (config.batch_size,), generator=gen)
        z = mae.forward_encoder(images[idx].float(), None)[:, 1:].mean(dim=1)
        loss = F.cross_entropy(head(z), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return head, losses
