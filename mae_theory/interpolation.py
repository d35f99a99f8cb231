"""Filling masked patches without a network, mirror images, and a local-only decoder (chapter 8).

Chapter 8 asks whether an MAE's decoder reconstructs a masked patch from its nearest visible
patches (Q5 of Cao et al.) or interpolates globally. This module supplies the yardsticks:

- :func:`nearest_visible_fill`: copy the nearest visible patch (the "local" answer);
- :func:`kernel_interpolation_fill`: Gaussian-kernel (Nadaraya-Watson) average of the visible
  patches :math:`j \\in \\vis`, weights on a masked query patch :math:`i \\in \\mask`
  :math:`\\propto \\exp(-\\lVert \\xi_i - \\xi_j\\rVert^2 / 2\\nu^2)` (patch centres
  :math:`\\xi`, bandwidth :math:`\\nu` in patches);
- :func:`mirror_images`: images symmetric about the vertical axis, whose every patch has a
  partner (:func:`mirror_partner`) that may be far away;
- :func:`restrict_decoder_attention`: make a trained or fresh MAE's decoder attend only to
  tokens within a radius (the decoder run with an attention mask);
- :func:`partner_attention`: how much attention a masked patch pays its visible mirror
  partner, against what a distance-only attention would pay it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .checks import check_float, check_int, check_tensor, describe
from .metrics import patch_coordinates
from .runtime import SeedLike, make_generator


def _check_grid(grid_size) -> tuple[int, int]:
    if not isinstance(grid_size, (tuple, list)) or len(grid_size) != 2:
        raise TypeError(f"grid_size must be a pair (rows, cols) of patches; got "
                        f"{describe(grid_size)}. Pass e.g. mae.grid_size.")
    return tuple(check_int("grid_size", g) for g in grid_size)


def _check_mask(mask, n_tokens: int) -> torch.Tensor:
    check_tensor("mask", mask, ndim=2, floating=False, finite=False, shape_hint="(N, L)")
    if mask.shape[1] != n_tokens:
        raise ValueError(f"mask must have shape (N, L) with L = {n_tokens}; got "
                         f"{describe(mask)}.")
    m = mask.float()
    if not torch.all((m == 0) | (m == 1)):
        raise ValueError("mask must hold only 0 (visible) and 1 (masked); got other values. "
                         "Convert it with (mask > 0).float().")
    return m


def _check_fill(patches, mask, grid_size) -> tuple[torch.Tensor, torch.Tensor]:
    gh, gw = _check_grid(grid_size)
    check_tensor("patches", patches, ndim=3, shape_hint="(N, L, p*p*C) from patchify")
    if patches.shape[1] != gh * gw:
        raise ValueError(f"patches must have L = {gh}*{gw} = {gh * gw} tokens for grid_size "
                         f"{tuple(grid_size)}; got {describe(patches)}.")
    m = _check_mask(mask, gh * gw)
    if mask.shape[0] != patches.shape[0]:
        raise ValueError(f"mask must have one row per image (N = {patches.shape[0]}); got "
                         f"{describe(mask)}.")
    if torch.any(m.sum(dim=1) >= m.shape[1]):
        raise ValueError("mask hides every patch of an image; keep at least one visible patch "
                         "(a non-empty visible set).")
    return patches.float(), m


def _fill(patches: torch.Tensor, m: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Masked patches := row-normalised ``weights`` (N, L, L) over visible patches."""
    w = weights * (1 - m)[:, None, :]
    w = w / w.sum(dim=-1, keepdim=True).clamp_min(1e-30)
    guess = w @ patches
    return torch.where(m[..., None] > 0, guess, patches)


def nearest_visible_fill(patches: torch.Tensor, mask: torch.Tensor,
                         grid_size: tuple[int, int]) -> torch.Tensor:
    """Predict every masked patch by the visible patch nearest to it (ties: averaged).

    Parameters
    ----------
    patches : torch.Tensor, shape (N, L, P)
    mask : torch.Tensor, shape (N, L), 1 = masked
    grid_size : (int, int)

    Returns
    -------
    torch.Tensor, shape (N, L, P): visible patches unchanged, masked ones filled

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[1.], [2.], [3.]]])
    >>> nearest_visible_fill(x, torch.tensor([[0., 1., 1.]]), (1, 3)).flatten().tolist()
    [1.0, 1.0, 1.0]
    """
    x, m = _check_fill(patches, mask, grid_size)
    d = torch.cdist(patch_coordinates(grid_size), patch_coordinates(grid_size))
    d = d.expand(x.shape[0], -1, -1) + 1e6 * m[:, None, :]  # masked keys are far away
    nearest = (d <= d.min(dim=-1, keepdim=True).values + 1e-6).float()
    return _fill(x, m, nearest)


def kernel_interpolation_fill(patches: torch.Tensor, mask: torch.Tensor,
                              grid_size: tuple[int, int], bandwidth: float = 1.0) -> torch.Tensor:
    """Gaussian-kernel interpolation of masked patches from every visible patch.

    .. math:: \\hat x_i = \\sum_{j \\in \\vis} \\frac{\\kappa(\\xi_i, \\xi_j)}
              {\\sum_{j' \\in \\vis} \\kappa(\\xi_i, \\xi_{j'})} x_j, \\quad
              \\kappa(\\xi, \\xi') = \\exp(-\\lVert \\xi - \\xi' \\rVert^2 / 2\\nu^2)

    for every masked patch :math:`i \\in \\mask`, with patch centres :math:`\\xi` in patch units
    and bandwidth :math:`\\nu` = ``bandwidth``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[0.], [5.], [2.]]])
    >>> kernel_interpolation_fill(x, torch.tensor([[0., 1., 0.]]), (1, 3)).flatten().tolist()
    [0.0, 1.0, 2.0]
    """
    bandwidth = check_float("bandwidth", bandwidth, low=0.0, low_open=True, symbol="nu",
                            fix="The bandwidth is in patches, e.g. 1.0.")
    x, m = _check_fill(patches, mask, grid_size)
    c = patch_coordinates(grid_size)
    k = torch.exp(-torch.cdist(c, c).square() / (2 * bandwidth**2))
    return _fill(x, m, k.expand(x.shape[0], -1, -1))


def mirror_partner(grid_size: tuple[int, int]) -> torch.Tensor:
    """Index of each patch's mirror image across the vertical axis, shape (L,).

    Examples
    --------
    >>> mirror_partner((2, 4)).tolist()
    [3, 2, 1, 0, 7, 6, 5, 4]
    """
    gh, gw = _check_grid(grid_size)
    idx = torch.arange(gh * gw).reshape(gh, gw)
    return idx.flip(1).reshape(-1)


def mirror_images(n: int, height: int = 8, width: int = 16, *, smoothness: float = 1.0,
                  seed: SeedLike = None) -> torch.Tensor:
    """Random images symmetric about the vertical axis: ``x[..., j] = x[..., W-1-j]``.

    The left half is white noise blurred by a Gaussian of width ``smoothness`` pixels, scaled to
    zero mean and unit variance per image; the right half is its mirror image. With a short
    correlation length, a patch is poorly predicted by its neighbours but exactly by its partner.

    Returns
    -------
    torch.Tensor, shape (n, 1, height, width), float32

    Examples
    --------
    >>> x = mirror_images(2, 4, 8, seed=0)
    >>> x.shape, torch.equal(x, x.flip(-1))
    (torch.Size([2, 1, 4, 8]), True)
    """
    n, height = check_int("n", n, symbol="N"), check_int("height", height, symbol="H")
    width = check_int("width", width, low=2, symbol="W")
    if width % 2:
        raise ValueError(f"width (W) must be even (two mirrored halves); got {width}.")
    smoothness = check_float("smoothness", smoothness, low=0.0, low_open=True,
                             fix="It is the blur width in pixels, e.g. 1.0.")
    gen = make_generator(seed)
    half = width // 2
    radius = max(1, math.ceil(3 * smoothness))
    noise = torch.randn(n, 1, height + 2 * radius, half + 2 * radius, generator=gen)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-t.square() / (2 * smoothness**2))
    g = g / g.sum()
    left = F.conv2d(F.conv2d(noise, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))
    left = left - left.mean(dim=(1, 2, 3), keepdim=True)
    left = left / left.flatten(1).std(dim=1).view(-1, 1, 1, 1)
    return torch.cat([left, left.flip(-1)], dim=-1).contiguous()


def local_attention_mask(grid_size: tuple[int, int], radius: float) -> torch.Tensor:
    """Boolean (1 + L, 1 + L) mask, True = may attend: a patch query ``i`` sees the patch keys
    ``j`` within ``radius`` (Euclidean, in patches: :math:`\\lVert \\xi_i - \\xi_j \\rVert \\le`
    ``radius``) and not cls; the cls query sees everything. This radius is the decoder's
    reach per block; ``radius = 0`` lets a patch attend only to itself.

    Examples
    --------
    >>> local_attention_mask((1, 3), 1.0).int().tolist()
    [[1, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    """
    radius = check_float("radius", radius, low=0.0,
                         fix="The radius is a Euclidean distance in patches, e.g. 1.0.")
    _check_grid(grid_size)
    c = patch_coordinates(grid_size)
    n = c.shape[0]
    allowed = torch.ones(n + 1, n + 1, dtype=torch.bool)
    allowed[1:, 0] = False
    allowed[1:, 1:] = torch.cdist(c, c) <= radius + 1e-6
    return allowed


def restrict_decoder_attention(mae, radius: float):
    """Make every decoder block of ``mae`` attend only within ``radius`` patches (in place).

    Sets the model's ``decoder_attn_mask`` to :func:`local_attention_mask`; the decoder
    (:meth:`~mae_theory.models.mae.MAE.forward_decoder`, also inside ``forward`` and
    ``attention_maps``) passes it to every decoder block's attention, so after ``k`` blocks a
    masked token has read only patches within ``k * radius``. The encoder is untouched; no
    method is replaced. ``mae.decoder_attn_mask = None`` restores global attention. Returns
    ``mae`` for chaining.

    Examples
    --------
    >>> import torch
    >>> from mae_theory import masking_from_mask
    >>> from mae_theory.models import mae_micro
    >>> mae = restrict_decoder_attention(mae_micro(seed=0), 1.0)
    >>> m = masking_from_mask(torch.tensor([1] * 8 + [0] * 8))
    >>> lat = torch.randn(1, 9, 16, generator=torch.Generator().manual_seed(0))
    >>> far = lat.clone(); far[0, -1] += 1.0   # visible patch 15, far from patch 0
    >>> a, b = mae.forward_decoder(lat, m), mae.forward_decoder(far, m)
    >>> torch.allclose(a[0, 0], b[0, 0]), torch.allclose(a[0, 15], b[0, 15])
    (True, False)
    """
    from .models import MAE

    if not isinstance(mae, MAE):
        raise TypeError(f"mae must be a mae_theory MAE; got {describe(mae)}. Build one with "
                        "mt.MAE(...) or a size factory such as mt.mae_digits_decoder(seed=0).")
    allowed = local_attention_mask(mae.grid_size, radius)
    mae.decoder_attn_mask = allowed.to(mae.pos_embed.device)
    mae.decoder_radius = float(radius)
    return mae


def error_by_partner(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                     partner: torch.Tensor, select: torch.Tensor | None = None
                     ) -> tuple[float, float]:
    """Masked-patch MSE split by whether the patch's mirror partner was visible.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, L, P)
    mask : torch.Tensor, shape (N, L), 1 = masked
    partner : torch.Tensor, shape (L,), from :func:`mirror_partner`
    select : torch.Tensor, shape (L,), bool, optional
        Count only these patches (e.g. those whose partner is far away).

    Returns
    -------
    (partner visible, partner masked) : tuple of float

    Examples
    --------
    >>> import torch
    >>> t = torch.zeros(1, 2, 1); p = torch.tensor([[[1.], [0.]]])
    >>> error_by_partner(p, t, torch.tensor([[1., 0.]]), torch.tensor([1, 0]))
    (1.0, nan)
    """
    check_tensor("pred", pred, ndim=3, shape_hint="(N, L, P)")
    check_tensor("target", target, ndim=3, shape_hint="(N, L, P)")
    if pred.shape != target.shape:
        raise ValueError(f"target must have the shape of pred {tuple(pred.shape)}; got "
                         f"{describe(target)}.")
    m = _check_mask(mask, pred.shape[1])
    check_tensor("partner", partner, ndim=1, floating=False, finite=False, shape_hint="(L,)")
    if partner.shape[0] != pred.shape[1]:
        raise ValueError(f"partner must have L = {pred.shape[1]} entries (mirror_partner); got "
                         f"{describe(partner)}.")
    err = (pred.float() - target.float()).square().mean(dim=-1)
    m = m.bool()
    partner_visible = ~m[:, partner]
    sel = m if select is None else m & select[None]
    a, b = sel & partner_visible, sel & ~partner_visible
    return tuple(float(err[s].mean()) if s.any() else float("nan") for s in (a, b))


def nearest_visible_distance(mask: torch.Tensor, grid_size: tuple[int, int]) -> float:
    """Mean distance (in patches) from a masked patch to its nearest visible patch.

    The attention distance a purely local decoder would have; compare it with
    :func:`~mae_theory.metrics.mean_attention_distance` of masked queries.

    Examples
    --------
    >>> import torch
    >>> nearest_visible_distance(torch.tensor([[1., 1., 0.]]), (1, 3))
    1.5
    """
    gh, gw = _check_grid(grid_size)
    m = _check_mask(mask, gh * gw)
    c = patch_coordinates(grid_size)
    d = torch.cdist(c, c).expand(m.shape[0], -1, -1) + 1e6 * m[:, None, :]
    nearest = d.min(dim=-1).values
    return float((nearest * m).sum() / m.sum())


def _loglinear_fill(x: torch.Tensor, y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``y`` (H, K) at sorted ``x`` (K,), with unknown columns filled by interpolating
    ``log y`` linearly in ``x`` from the known ones (constant beyond the ends)."""
    xs, logy = x[known], y[:, known].clamp_min(1e-30).log()
    hi = torch.searchsorted(xs, x).clamp(1, max(xs.numel() - 1, 1))
    lo = hi - 1 if xs.numel() > 1 else hi * 0
    span = (xs[hi] - xs[lo]).clamp_min(1e-12)
    t = ((x - xs[lo]) / span).clamp(0.0, 1.0)
    filled = (logy[:, lo] * (1 - t) + logy[:, hi] * t).exp()
    return torch.where(known[None], y, filled)


def partner_attention(attn: torch.Tensor, mask: torch.Tensor, partner: torch.Tensor,
                      grid_size: tuple[int, int], select: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention a masked query pays its visible mirror partner, and what distance alone gives.

    For a masked query :math:`i \\in \\mask` whose partner ``p(i)`` is visible, the weights are
    restricted to the visible keys and renormalised,
    :math:`\\bar A_{ij} = A_{ij} / \\sum_{j' \\in \\vis} A_{ij'}`.
    The **observed** value is :math:`\\bar A_{i\\,p(i)}`. The **distance-based** value is what
    the same decoder would give the partner if its attention depended on distance only: the
    head's mean weight :math:`g(\\lVert \\xi_i - \\xi_j \\rVert)` on visible keys ``j`` at that
    distance from the query (patch centres :math:`\\xi`, in patches), taken over every masked
    query and every visible key that is **not** its partner, renormalised over the row's
    visible keys: :math:`g(\\lVert \\xi_i - \\xi_{p(i)} \\rVert) / \\sum_{j \\in \\vis}
    g(\\lVert \\xi_i - \\xi_j \\rVert)`. Where no other key lies at the
    partner's distance (the far corners of a grid), :math:`\\log g` is interpolated linearly
    between the nearest distances that have keys. A local (distance-
    decreasing) attention gives a far partner little; a decoder that reads its partner gives
    it more than its distance profile does.

    Parameters
    ----------
    attn : torch.Tensor, shape (N, heads, 1 + L, 1 + L)
        One decoder block's map (cls first, patches in grid order).
    mask : torch.Tensor, shape (N, L), 1 = masked
    partner : torch.Tensor, shape (L,), from :func:`mirror_partner`
    grid_size : (int, int)
    select : torch.Tensor, shape (L,), bool, optional
        Count only these query patches (e.g. those whose partner is far away).

    Returns
    -------
    (observed, distance_based) : tuple of torch.Tensor, shape (heads,) each
        Means over the selected masked queries with a visible partner.

    Raises
    ------
    ValueError
        If no selected masked query has a visible partner, or no masked query has another
        visible key (the distance profile is undefined).

    Examples
    --------
    >>> import torch
    >>> uniform = torch.full((1, 1, 9, 9), 1 / 9)       # 2 x 4 grid: 8 patches and cls
    >>> mask = torch.tensor([[1., 0., 0., 0., 0., 0., 0., 0.]])  # patch 0; partner 3 visible
    >>> obs, dist = partner_attention(uniform, mask, mirror_partner((2, 4)), (2, 4))
    >>> round(obs.item(), 4), round(dist.item(), 4)      # uniform over the 7 visible keys
    (0.1429, 0.1429)
    """
    gh, gw = _check_grid(grid_size)
    n_tok = gh * gw
    check_tensor("attn", attn, ndim=4, shape_hint="(N, heads, L + 1, L + 1)")
    if attn.shape[-2:] != (n_tok + 1, n_tok + 1):
        raise ValueError(f"attn must have shape (N, heads, L + 1, L + 1) with L = {n_tok} (cls "
                         f"first, patches in grid order); got {describe(attn)}.")
    m = _check_mask(mask, n_tok)
    if m.shape[0] != attn.shape[0]:
        raise ValueError(f"mask must have one row per image (N = {attn.shape[0]}); got "
                         f"{describe(mask)}.")
    check_tensor("partner", partner, ndim=1, floating=False, finite=False, shape_hint="(L,)")
    if partner.shape[0] != n_tok:
        raise ValueError(f"partner must have L = {n_tok} entries (mirror_partner); got "
                         f"{describe(partner)}.")
    vis = 1 - m
    a = attn.float()[..., 1:, 1:] * vis[:, None, None, :]
    w = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-30)  # (N, H, L, L), rows over V
    rows = torch.arange(n_tok)
    query = m.bool() & vis[:, partner].bool()
    if select is not None:
        query = query & select[None].bool()
    if not query.any():
        raise ValueError("no selected masked query has a visible partner; use more images.")
    c = patch_coordinates(grid_size)
    dist = torch.cdist(c, c)
    levels, which = torch.unique(torch.round(dist * 1e4), return_inverse=True)
    onehot = F.one_hot(which, levels.numel()).float()  # (L, L, K): exact distance of (i, j)
    other = torch.ones(n_tok, n_tok)
    other[rows, partner] = 0.0
    pairs = m[:, :, None] * vis[:, None, :] * other  # masked query, visible non-partner key
    count = torch.einsum("nij,ijb->b", pairs, onehot)
    if not torch.any(count > 0):
        raise ValueError("no masked query has a visible key other than its partner: the "
                         "distance profile is undefined; use more images.")
    mean = torch.einsum("nhij,nij,ijb->hb", w, pairs, onehot) / count.clamp_min(1.0)
    profile = _loglinear_fill(levels / 1e4, mean, count > 0)
    g = profile[:, which]  # (H, L, L): distance-only weight of key j for query i
    denom = torch.einsum("hij,nj->nhi", g, vis)
    # a row whose visible keys all get (almost) no weight has no renormalised attention: 0
    predicted = torch.where(denom > 1e-12, g[:, rows, partner][None] / denom.clamp_min(1e-12),
                            torch.zeros(()))  # (N, H, L)
    observed = w[:, :, rows, partner]
    q = query[:, None].float()
    return (observed * q).sum(dim=(0, 2)) / q.sum(dim=(0, 2)), \
        (predicted * q).sum(dim=(0, 2)) / q.sum(dim=(0, 2))
