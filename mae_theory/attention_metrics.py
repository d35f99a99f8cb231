"""Where attention goes: mean attention distance, masked-to-visible attention and the distance
from uniform attention (ch. 6, 8).

All three read attention maps ``(N, heads, T, T)`` (one softmax row ``A_i.`` per query ``i``,
keys ``j``; ``T = 1 + L`` tokens with the class token, ``1 + n_keep`` in an encoder that sees
only the visible set), e.g. from ``MAE.attention_maps``; token positions are patch (row,
column) in grid order.
"""

from __future__ import annotations

import torch

from .checks import check_int, check_tensor, describe


def patch_coordinates(grid_size: tuple[int, int]) -> torch.Tensor:
    """Row and column of every patch in grid order, shape (L, 2), in patch units.

    Examples
    --------
    >>> patch_coordinates((2, 2)).tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    gh, gw = _check_grid(grid_size)
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1).float()


def _check_grid(grid_size) -> tuple[int, int]:
    if not isinstance(grid_size, (tuple, list)) or len(grid_size) != 2:
        raise TypeError(f"grid_size must be a pair (rows, columns) of patches; got "
                        f"{describe(grid_size)}. Use e.g. (H // p, W // p).")
    return (check_int("grid_size[0]", grid_size[0], symbol="H/p"),
            check_int("grid_size[1]", grid_size[1], symbol="W/p"))


def _check_attn(attn, name: str = "attn") -> torch.Tensor:
    check_tensor(name, attn, symbol="attention weights A", shape_hint="(N, heads, T, T)")
    if attn.ndim != 4 or attn.shape[-1] != attn.shape[-2] or attn.numel() == 0:
        shape = tuple(attn.shape) if isinstance(attn, torch.Tensor) else type(attn).__name__
        raise ValueError(
            f"{name} (attention weights A) must have shape (N, heads, T, T), one softmax row per "
            f"query; got {shape}. Pass one block's map from MAE.attention_maps."
        )
    return attn.float()


def mean_attention_distance(
    attn: torch.Tensor | list[torch.Tensor],
    grid_size: tuple[int, int],
    *,
    cls_token: bool = True,
    token_ids: torch.Tensor | None = None,
    queries: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean attention distance in patches, per head (or per layer and head for a list of maps).

    .. math:: \\bar d = \\operatorname{mean}_{n, i} \\sum_j \\tilde A_{ij}
              \\lVert \\xi_i - \\xi_j \\rVert_2

    where ``xi_i`` is the (row, column) of token ``i``'s patch and :math:`\\tilde A` is ``A``
    restricted to patch keys and renormalised (the cls token has no position). A uniform map
    gives the mean pairwise distance of the grid, an identity map gives 0.

    Parameters
    ----------
    attn : torch.Tensor (N, heads, T, T), or a list of them (one per layer)
    grid_size : (int, int)
        Patches per column and per row of the image.
    cls_token : bool, keyword-only
        Token 0 is a cls token: skipped as query and as key.
    token_ids : torch.Tensor (N, T') or (T',), optional
        Grid index of each patch token (e.g. ``masking.ids_keep`` for the encoder); by default
        the tokens are all ``L`` patches in grid order.
    queries : torch.Tensor (N, T') or (T',), bool, optional
        Average only over these query tokens (e.g. ``masking.mask.bool()`` in the decoder).

    Returns
    -------
    torch.Tensor, shape (heads,) or (layers, heads), float32

    Examples
    --------
    >>> import torch
    >>> eye = torch.eye(5).expand(1, 2, 5, 5)
    >>> mean_attention_distance(eye, (2, 2)).tolist()
    [0.0, 0.0]
    """
    if isinstance(attn, (list, tuple)):
        return torch.stack([mean_attention_distance(a, grid_size, cls_token=cls_token,
                                                    token_ids=token_ids, queries=queries)
                            for a in attn])
    a = _check_attn(attn)
    if cls_token:
        a = a[..., 1:, 1:]
    n, _, t, _ = a.shape
    coords = patch_coordinates(grid_size).to(a.device)
    if token_ids is None:
        if t != coords.shape[0]:
            raise ValueError(
                f"attn has T'={t} patch tokens but the grid {tuple(grid_size)} has "
                f"L={coords.shape[0]}; pass token_ids (e.g. masking.ids_keep) for a subset, and "
                "cls_token=False when there is no cls token."
            )
        pos = coords.expand(n, -1, -1)
    else:
        check_tensor("token_ids", token_ids, ndim=(1, 2), floating=False)
        ids = token_ids.expand(n, -1) if token_ids.ndim == 1 else token_ids
        if ids.shape != (n, t):
            raise ValueError(f"token_ids must have shape (N, T') = ({n}, {t}); "
                             f"got {tuple(token_ids.shape)}.")
        if int(ids.min()) < 0 or int(ids.max()) >= coords.shape[0]:
            raise ValueError(f"token_ids must be grid indices in [0, L = {coords.shape[0]}); got "
                             f"range {int(ids.min())}..{int(ids.max())}.")
        pos = coords[ids.long()]
    dist = torch.cdist(pos, pos)  # (N, T', T')
    a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    per_query = (a * dist[:, None]).sum(dim=-1)  # (N, heads, T')
    if queries is None:
        return per_query.mean(dim=(0, 2))
    check_tensor("queries", queries, ndim=(1, 2), floating=False)
    q = (queries.expand(n, -1) if queries.ndim == 1 else queries).to(a.device).float()
    if q.shape != (n, t):
        raise ValueError(f"queries must have shape (N, T') = ({n}, {t}); got {tuple(q.shape)}.")
    if q.sum() == 0:
        raise ValueError("queries selects no token; select at least one query.")
    return (per_query * q[:, None]).sum(dim=(0, 2)) / q.sum()


def masked_to_visible_attention(
    attn: torch.Tensor, masking, *, cls_token: bool = True
) -> torch.Tensor:
    """Share of a masked query's decoder attention that lands on visible tokens, per head.

    .. math:: s = \\operatorname{mean}_{n,\\, i \\in M} \\sum_{j \\in V} A_{ij}

    The rest of each row goes to other masked tokens and to cls. Under uniform attention the
    share is ``|V| / T``; a decoder that interpolates from the visible tokens puts more there.

    Parameters
    ----------
    attn : torch.Tensor, shape (N, heads, T, T)
        One decoder block's map; tokens in grid order (``T = L + 1`` with cls).
    masking : Masking
        Its ``mask`` (N, L) marks masked tokens with 1.
    cls_token : bool, keyword-only
        Token 0 is cls.

    Returns
    -------
    torch.Tensor, shape (N, heads), float32

    Examples
    --------
    >>> import torch
    >>> from mae_theory.masking import masking_from_mask
    >>> m = masking_from_mask(torch.tensor([1, 0, 0, 0]))
    >>> round(masked_to_visible_attention(torch.full((1, 1, 5, 5), 0.2), m).item(), 4)
    0.6
    """
    a = _check_attn(attn)
    mask = getattr(masking, "mask", None)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"masking must be a Masking (with .mask of shape (N, L)); got "
                        f"{describe(masking)}.")
    off = 1 if cls_token else 0
    n, _, t, _ = a.shape
    if mask.shape != (n, t - off):
        raise ValueError(
            f"masking.mask has shape {tuple(mask.shape)} but attn holds N={n} images with "
            f"L={t - off} patch tokens; pass the decoder's map (grid order) and its masking."
        )
    m = mask.to(a.device).float()
    if torch.any(m.sum(dim=1) == 0):
        raise ValueError("masking hides no token in some image: there is no masked query.")
    patch = a[..., off:, off:]  # (N, heads, L, L)
    to_visible = (patch * (1 - m)[:, None, None, :]).sum(dim=-1)  # (N, heads, L)
    return (to_visible * m[:, None]).sum(dim=-1) / m.sum(dim=1)[:, None]


def distance_from_uniform(attn: torch.Tensor, *, cls_token: bool = True) -> torch.Tensor:
    """Mean total-variation distance of each attention row from the uniform row, per head.

    .. math:: \\delta = \\operatorname{mean}_{n, i}\\ \\tfrac12 \\sum_j
              \\Big\\lvert \\tilde A_{ij} - \\tfrac{1}{T'} \\Big\\rvert

    where :math:`\\tilde A` is ``A`` restricted to the ``T'`` patch tokens (cls dropped as query
    and key when ``cls_token``) and renormalised. ``delta`` is the share of attention mass that
    would have to move to make a row uniform: 0 for uniform attention, ``1 - 1/T'`` for a row
    that puts everything on one token. Chapter 8 uses it to say how close attention at
    initialisation is to uniform averaging.

    Parameters
    ----------
    attn : torch.Tensor, shape (N, heads, T, T)
    cls_token : bool, keyword-only
        Token 0 is cls.

    Returns
    -------
    torch.Tensor, shape (heads,), float32

    Examples
    --------
    >>> import torch
    >>> distance_from_uniform(torch.full((1, 2, 5, 5), 0.2)).tolist()
    [0.0, 0.0]
    >>> round(distance_from_uniform(torch.eye(5).expand(1, 1, 5, 5)).item(), 4)
    0.75
    """
    a = _check_attn(attn)
    if cls_token:
        a = a[..., 1:, 1:]
    if a.shape[-1] == 0:
        raise ValueError("attn has no patch token besides cls; pass cls_token=False.")
    a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return uniform_gap(a).mean(dim=0)  # (N, heads) -> (heads,)


def uniform_gap(kernels: torch.Tensor) -> torch.Tensor:
    """Mean over rows of each row's total-variation distance from the uniform row, shape (...).

    The one formula behind :func:`distance_from_uniform` and
    :func:`~mae_theory.operators.kernel_uniform_gap`; ``kernels`` (..., T, T) is used as given
    (no check, no renormalisation), in its own dtype.
    """
    return 0.5 * (kernels - 1.0 / kernels.shape[-1]).abs().sum(dim=-1).mean(dim=-1)
