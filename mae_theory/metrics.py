"""Numbers that score a representation or a reconstruction.

Chapter 1 needs the masked reconstruction error and the simplest honest baseline for it.
The operator chapters (5-10) add representation metrics: linear CKA between layers, the
effective rank of a matrix or spectrum, the mean attention distance of attention maps, the share
of decoder attention that masked tokens put on visible ones; and two image-quality scores,
PSNR and a Gaussian-window SSIM that fits 8x8 digits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .masking import patchify


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error per value over masked patches, one number per image.

    .. math:: e_n = \\frac{1}{|M_n|} \\sum_{l \\in M_n} \\frac{1}{p^2 C}
              \\lVert \\hat x_{n,l} - x_{n,l} \\rVert^2

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, L, p*p*C)
    mask : torch.Tensor, shape (N, L)
        1 on masked patches.

    Returns
    -------
    torch.Tensor, shape (N,)

    Examples
    --------
    >>> masked_mse(torch.ones(1, 2, 4), torch.zeros(1, 2, 4), torch.tensor([[1., 0.]]))
    tensor([1.])
    """
    if pred.shape != target.shape or pred.shape[:2] != mask.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have shape (N, L, P) "
            f"and mask {tuple(mask.shape)} shape (N, L)."
        )
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    m = mask.float()
    return (per_patch * m).sum(dim=1) / m.sum(dim=1).clamp_min(1)


def mean_patch(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The average patch at each position over a training set, shape (L, p*p*C).

    Predicting every masked patch by this is the baseline an MAE must beat: it uses where the
    patch is, but nothing the encoder sees.

    Examples
    --------
    >>> mean_patch(torch.ones(3, 1, 4, 4), 2).shape
    torch.Size([4, 4])
    """
    if images.shape[0] == 0:
        raise ValueError("images is an empty data set; the mean patch needs at least one image.")
    return patchify(images, patch_size).float().mean(dim=0)


# --- representation metrics (chapters 5-10) --------------------------------------------------

def _check_matrix(name: str, symbol: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{name} ({symbol}) must be a 2-D tensor of features (n, d): one row per example; "
            f"got {shape}. Flatten tokens into rows or pool them first."
        )
    return x


def linear_cka(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Linear centred kernel alignment between two representations of the same examples.

    .. math:: \\mathrm{CKA}(X, Y) = \\frac{\\lVert \\tilde Y^\\top \\tilde X \\rVert_F^2}
              {\\lVert \\tilde X^\\top \\tilde X \\rVert_F \\, \\lVert \\tilde Y^\\top \\tilde Y
              \\rVert_F}

    with :math:`\\tilde X, \\tilde Y` the column-centred features (Kornblith et al., 2019).
    It lies in [0, 1], equals 1 for ``Y = X Q s + b`` (``Q`` orthogonal, ``s > 0``), and is
    near 0 for independent features when ``n`` is much larger than ``d``.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d1)
    Y : torch.Tensor, shape (n, d2)
        Row ``i`` of both describes example ``i``.

    Returns
    -------
    torch.Tensor, scalar float32
        Computed in float64 internally.

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    >>> round(linear_cka(X, 3 * X + 1).item(), 6)
    1.0
    """
    X = _check_matrix("X", "X", X)
    Y = _check_matrix("Y", "Y", Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same n examples (same number of rows); got n={X.shape[0]} "
            f"and n={Y.shape[0]}. Compute both representations on the same inputs."
        )
    if X.shape[0] < 2:
        raise ValueError(f"CKA needs at least n=2 examples to centre; got n={X.shape[0]}.")
    x = X.double() - X.double().mean(dim=0, keepdim=True)
    y = Y.double() - Y.double().mean(dim=0, keepdim=True)
    num = (y.T @ x).square().sum()
    den = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    if den == 0:
        raise ValueError("X or Y is constant over the n examples (zero variance); CKA undefined.")
    return (num / den).float()


def cka_matrix(features: list[torch.Tensor]) -> torch.Tensor:
    """Linear CKA between every pair of layers: entry ``(k, l)`` is CKA(features[k], features[l]).

    Parameters
    ----------
    features : list of torch.Tensor, each (n, d_l)
        One representation per layer, on the same ``n`` examples.

    Returns
    -------
    torch.Tensor, shape (len(features), len(features)), symmetric with unit diagonal

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    >>> cka_matrix([X, 2 * X]).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    if len(features) == 0:
        raise ValueError("features must hold at least one layer's (n, d) representation.")
    k = len(features)
    out = torch.ones(k, k)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = linear_cka(features[i], features[j])
    return out


def effective_rank(x: torch.Tensor, *, spectrum: bool = False) -> torch.Tensor:
    """Effective rank (Roy & Vetterli, 2007): exp of the entropy of normalised singular values.

    .. math:: \\mathrm{erank}(A) = \\exp\\Big(-\\sum_i p_i \\log p_i\\Big),
              \\quad p_i = \\sigma_i / \\sum_j \\sigma_j

    It equals ``k`` when ``A`` has ``k`` equal non-zero singular values and lies in
    ``[1, rank A]``.

    Parameters
    ----------
    x : torch.Tensor
        A matrix ``(m, n)`` or a batch ``(..., m, n)``; with ``spectrum=True`` the singular
        values themselves, shape ``(..., k)``, non-negative.
    spectrum : bool, keyword-only
        Read ``x`` as singular values instead of a matrix.

    Returns
    -------
    torch.Tensor, shape ``(...)``, float32

    Examples
    --------
    >>> import torch
    >>> round(effective_rank(torch.eye(4)).item(), 4)
    4.0
    >>> round(effective_rank(torch.tensor([1., 1., 0.]), spectrum=True).item(), 4)
    2.0
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor; got {type(x).__name__}.")
    if spectrum:
        if x.ndim < 1 or x.shape[-1] == 0:
            raise ValueError(
                f"spectrum sigma must have shape (..., k) with k >= 1; got {tuple(x.shape)}."
            )
        s = x.double()
        if torch.any(s < 0):
            raise ValueError("singular values sigma must be non-negative; got a negative entry. "
                             "Pass absolute values or a matrix with spectrum=False.")
    else:
        if x.ndim < 2:
            raise ValueError(
                f"x must be a matrix (m, n) or a batch (..., m, n); got shape {tuple(x.shape)}. "
                "For a 1-D list of singular values pass spectrum=True."
            )
        s = torch.linalg.svdvals(x.double())
    total = s.sum(dim=-1, keepdim=True)
    if torch.any(total == 0):
        raise ValueError("x is the zero matrix (all singular values sigma are 0): erank undefined.")
    p = s / total
    entropy = -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(dim=-1)
    return torch.exp(entropy).float()


def patch_coordinates(grid_size: tuple[int, int]) -> torch.Tensor:
    """Row and column of every patch in grid order, shape (L, 2), in patch units.

    Examples
    --------
    >>> patch_coordinates((2, 2)).tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    gh, gw = grid_size
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1).float()


def _check_attn(attn, name: str = "attn") -> torch.Tensor:
    if not isinstance(attn, torch.Tensor) or attn.ndim != 4 or attn.shape[-1] != attn.shape[-2]:
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
              \\lVert x_i - x_j \\rVert_2

    where ``x_i`` is the (row, column) of token ``i``'s patch and :math:`\\tilde A` is ``A``
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
        ids = token_ids.expand(n, -1) if token_ids.ndim == 1 else token_ids
        if ids.shape != (n, t):
            raise ValueError(f"token_ids must have shape (N, T') = ({n}, {t}); "
                             f"got {tuple(token_ids.shape)}.")
        pos = coords[ids.long()]
    dist = torch.cdist(pos, pos)  # (N, T', T')
    a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    per_query = (a * dist[:, None]).sum(dim=-1)  # (N, heads, T')
    if queries is None:
        return per_query.mean(dim=(0, 2))
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
    if mask is None:
        raise ValueError(f"masking must be a Masking (with .mask of shape (N, L)); got "
                         f"{type(masking).__name__}.")
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


# --- image quality ---------------------------------------------------------------------------

def _check_pair(pred, target, data_range) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError("pred and target must be torch tensors of images (N, ...).")
    if pred.shape != target.shape or pred.ndim < 2:
        raise ValueError(
            f"pred x_hat {tuple(pred.shape)} and target x {tuple(target.shape)} must have the "
            "same shape (N, ...) with a leading batch dimension; add one with x[None]."
        )
    if not float(data_range) > 0:
        raise ValueError(
            f"data_range R (max - min of the pixel scale) must be > 0; got {data_range}. "
            "Use 1.0 for images in [0, 1], 255 for bytes."
        )


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    .. math:: \\mathrm{PSNR} = 10 \\log_{10} \\frac{R^2}{\\mathrm{MSE}(\\hat x, x)}

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, ...)
    data_range : float
        ``R``, the span of the pixel scale.

    Returns
    -------
    torch.Tensor, shape (N,), float32 (``inf`` for a perfect prediction)

    Examples
    --------
    >>> import torch
    >>> psnr(torch.full((1, 4), 0.1), torch.zeros(1, 4), 1.0).tolist()
    [20.0]
    """
    _check_pair(pred, target, data_range)
    mse = (pred.double() - target.double()).square().flatten(1).mean(dim=1)
    return (10 * torch.log10(float(data_range) ** 2 / mse)).float()


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian window of odd ``size`` and width ``sigma``, shape (size,)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-x.square() / (2 * sigma**2))
    return (w / w.sum()).float()


def ssim(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, *,
    window_size: int | None = None, sigma: float | None = None,
    k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity per image with a Gaussian window (Wang et al., 2004).

    .. math:: \\mathrm{SSIM} = \\operatorname{mean}_{\\text{windows}}
              \\frac{(2\\mu_x\\mu_y + c_1)(2\\sigma_{xy} + c_2)}
              {(\\mu_x^2 + \\mu_y^2 + c_1)(\\sigma_x^2 + \\sigma_y^2 + c_2)},
              \\quad c_i = (k_i R)^2

    Local statistics use a separable Gaussian window over every fully contained position
    ("valid"), per channel, then the map is averaged over positions and channels.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (N, C, H, W)
    data_range : float
        ``R``, the span of the pixel scale.
    window_size : int, optional
        Odd window side; default ``min(11, H, W)`` made odd (7 for 8x8 digits, 11 for 28x28).
    sigma : float, optional
        Window width; default ``1.5 * window_size / 11`` (1.5 for the standard 11 window).
    k1, k2 : float
        Stabilising constants.

    Returns
    -------
    torch.Tensor, shape (N,), float32, at most 1 (1 when ``pred == target``)

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> [round(v, 4) for v in ssim(x, x, 1.0).tolist()]
    [1.0, 1.0]
    """
    _check_pair(pred, target, data_range)
    if pred.ndim != 4:
        raise ValueError(f"SSIM needs images (N, C, H, W); got shape {tuple(pred.shape)}.")
    h, w = pred.shape[-2:]
    if window_size is None:
        window_size = min(11, h, w)
        window_size -= 1 - window_size % 2
    if window_size < 1 or window_size % 2 == 0 or window_size > min(h, w):
        raise ValueError(
            f"window_size must be odd and at most min(H, W) = {min(h, w)}; got {window_size}."
        )
    sigma = 1.5 * window_size / 11 if sigma is None else sigma
    c = pred.shape[1]
    g = gaussian_window(window_size, sigma).to(pred.device)
    kx = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(z, kx, groups=c), ky, groups=c)

    x, y = pred.float(), target.float()
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx.square()
    vy = blur(y * y) - my.square()
    cxy = blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx.square() + my.square() + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1)
