"""Loading facebookresearch/mae checkpoints into :class:`~mae_theory.models.mae.MAE`.

An official pretraining checkpoint (``torch.load(path)["model"]``, the state dict of
``models_mae.MaskedAutoencoderViT``) differs from this package's MAE only in names and in one
layout: the official patch embedding is a ``Conv2d`` with weight ``(D, C, p, p)``, ours is the
same linear map on patchified pixels, whose inputs come in ``(p, q, C)`` order
(:func:`~mae_theory.masking.patchify`), so the weight is permuted to ``(D, p, q, C)`` and
flattened. The MLP's ``fc1``/``fc2`` are our ``mlp.0``/``mlp.2``. The position tables
``pos_embed``/``decoder_pos_embed`` (with their zero cls row) are fixed buffers in both: they are
checked to equal ours, not copied.
"""

from __future__ import annotations

import math
import re

import torch

from ..checks import describe

__all__ = ["OFFICIAL_HEADS", "load_official", "official_key"]

OFFICIAL_HEADS = {768: 12, 1024: 16, 1280: 16}
"""Encoder heads of the official factories by width (ViT-B/16, L/16, H/14)."""
OFFICIAL_DECODER_HEADS = {512: 16}
"""Decoder heads of the official factories by width (the 512-d x 8 decoder)."""

_RENAMES = (("patch_embed.proj.", "patch_embed."), (".mlp.fc1.", ".mlp.0."),
            (".mlp.fc2.", ".mlp.2."))
_TABLES = ("pos_embed", "decoder_pos_embed")


def official_key(ours: str) -> str:
    """The official state-dict key of one of our parameter names.

    Examples
    --------
    >>> official_key("blocks.0.mlp.0.weight"), official_key("patch_embed.bias")
    ('blocks.0.mlp.fc1.weight', 'patch_embed.proj.bias')
    """
    for theirs, mine in _RENAMES:
        if ours.startswith(mine) or mine.startswith(".") and mine in ours:
            return ours.replace(mine, theirs, 1)
    return ours


def _count_blocks(keys, prefix: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
    return max(found) + 1 if found else 0


def _need(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"state_dict must be a facebookresearch/mae model state dict; it has no "
                         f"{key!r} (keys start with {sorted(state)[:5]}). Pass "
                         "torch.load(path)['model'].")
    return state[key]


def _heads(width: int, given, table: dict, name: str) -> int:
    if given is not None:
        return given
    if width not in table:
        raise ValueError(f"{name} cannot be read from the checkpoint's shapes for width {width}; "
                         f"pass {name}=... (the official factories use {table}).")
    return table[width]


def load_official(cls, state_dict: dict, *, num_heads: int | None = None,
                  decoder_num_heads: int | None = None, img_size=None,
                  norm_pix_loss: bool = False, norm_layer=None):
    """Build ``cls`` (an :class:`~mae_theory.models.mae.MAE`) holding an official checkpoint.

    Parameters
    ----------
    state_dict : dict
        ``torch.load(path)["model"]`` of a facebookresearch/mae pretraining checkpoint (a dict
        with a ``"model"`` entry is unwrapped).
    num_heads, decoder_num_heads : int, optional
        Heads cannot be read from weight shapes; by default the official factories' values for
        the checkpoint's widths (:data:`OFFICIAL_HEADS`, :data:`OFFICIAL_DECODER_HEADS`).
    img_size : int or (int, int), optional
        Default: the square grid of ``pos_embed`` times the patch size.
    norm_pix_loss : bool
        Not stored in checkpoints; the official ViT-B/L/H weights were trained with True.
    norm_layer : None or functools.partial(nn.LayerNorm, eps=1e-6)
        Passed through to the constructor's check.

    Raises
    ------
    ValueError
        Missing or unexpected keys (listed), a tensor of the wrong shape, or position tables
        that differ from the sin-cos tables this model uses.
    """
    if isinstance(state_dict, dict) and isinstance(state_dict.get("model"), dict):
        state_dict = state_dict["model"]
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict of tensors; got {describe(state_dict)}. "
                        "Pass torch.load(path, map_location='cpu')['model'].")
    conv = _need(state_dict, "patch_embed.proj.weight")
    if conv.ndim != 4 or conv.shape[2] != conv.shape[3]:
        raise ValueError(f"patch_embed.proj.weight must be a Conv2d weight (D, C, p, p); got "
                         f"{describe(conv)}.")
    dim, in_chans, p = conv.shape[0], conv.shape[1], conv.shape[2]
    n_tokens = _need(state_dict, "pos_embed").shape[1] - 1
    side = math.isqrt(n_tokens)
    if img_size is None:
        if side * side != n_tokens:
            raise ValueError(f"pos_embed holds L = {n_tokens} patches, not a square grid; pass "
                             "img_size=(H, W).")
        img_size = side * p
    dec_dim = _need(state_dict, "mask_token").shape[-1]
    hidden = _need(state_dict, "blocks.0.mlp.fc1.weight").shape[0]
    model = cls(img_size, p, in_chans, dim, _count_blocks(state_dict, "blocks"),
                _heads(dim, num_heads, OFFICIAL_HEADS, "num_heads"),
                dec_dim, _count_blocks(state_dict, "decoder_blocks"),
                _heads(dec_dim, decoder_num_heads, OFFICIAL_DECODER_HEADS, "decoder_num_heads"),
                hidden / dim, norm_layer, norm_pix_loss, seed=0)

    ours = model.state_dict()
    wanted = {official_key(k): k for k in ours if k not in _TABLES} | {t: t for t in _TABLES}
    missing = sorted(set(wanted) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(wanted))
    if missing or unexpected:
        raise ValueError(
            "state_dict does not match an official MAE of the sizes read from it "
            f"(D={dim}, p={p}, C={in_chans}, L={n_tokens}, decoder width {dec_dim}): missing "
            f"keys {missing[:8]}{' ...' if len(missing) > 8 else ''}, unexpected keys "
            f"{unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}. Pass the 'model' entry "
            "of a facebookresearch/mae pretraining checkpoint."
        )
    for table in _TABLES:
        given = state_dict[table].detach().float().cpu()
        expected = torch.cat([torch.zeros_like(ours[table][:, :1]), ours[table]], dim=1)
        if given.shape != expected.shape or not torch.allclose(given, expected, atol=1e-5):
            raise ValueError(
                f"{table} must be the official fixed 2-D sin-cos table of shape "
                f"{tuple(expected.shape)} (cls row zero); got {describe(given)} with other "
                "values (an interpolated or learned table cannot be loaded)."
            )
    new = {}
    for theirs, mine in wanted.items():
        if mine in _TABLES:
            continue
        t = state_dict[theirs].detach()
        if theirs == "patch_embed.proj.weight":
            t = t.permute(0, 2, 3, 1).reshape(dim, -1)  # (D, C, p, q) -> (D, p*q*C)
        if t.shape != ours[mine].shape:
            raise ValueError(f"{theirs} must have shape {tuple(ours[mine].shape)} for this "
                             f"model; got {describe(t)}.")
        new[mine] = t
    model.load_state_dict(new, strict=False)
    return model
