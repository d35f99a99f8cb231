"""A masked autoencoder over a short sequence of tokens: the model of chapters 3 and 4.

The data are the leaves of a latent tree (:mod:`mae_theory.hierarchy`): ``L`` tokens of ``D``
values each, shape ``(N, L, D)``. A mask ``m`` hides some tokens (the set ``M``); the encoder reads
only the visible ones (``V``) and compresses them into a representation :math:`\\hat c` of
width ``d`` (the bottleneck); the decoder predicts the masked tokens from :math:`\\hat c`. In
Kong et al.'s notation

.. math:: \\hat c = E_{m^c}(x_{m^c}) \\in \\R^d, \\qquad \\hat x_m = D_m(\\hat c, \\hat s_m),
          \\qquad \\mathcal L = \\E \\lVert \\hat x_m - x_m \\rVert^2 .

Design choices, kept deliberately small so that a model trains in seconds on a CPU:

- **Encoder**: every visible token is embedded by a shared linear map plus a learned position
  embedding; masked slots are set to zero; the ``L`` slots are *concatenated* (so the position of
  every token stays explicit) together with the mask bits, and an MLP maps them to
  :math:`\\hat c \\in \\R^d`. The encoder is a function of the visible tokens and of the mask only.
- **Decoder**: an MLP from :math:`(\\hat c, m)` to all ``L`` tokens; the mask bits play the role of
  Kong et al.'s auxiliary :math:`\\hat s_m` (positions and the mask token).
- **Loss**: mean squared error on masked tokens only (optionally without the masked tokens
  that have a visible sibling: ``loss_groups``, Kong et al.'s "ignore boundary pixels").

Masks over a 1-D sequence are drawn by :func:`token_masking`: ``k = round(r U)`` of the
``U = L/u`` masking units of ``u`` consecutive tokens are hidden. Unlike the image rule
(:func:`~mae_theory.masking.n_visible`, a floor), rounding makes the count symmetric under
``r -> 1 - r``, the symmetry chapter 4 tests. A unit grid can be shifted cyclically by ``shift``
tokens, which misaligns it with the tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..checks import check_int, check_tensor, describe
from ..masking import Masking, mask_noise, masking_from_mask, masking_from_noise
from ..runtime import DeviceLike, SeedLike, make_generator


def n_masked_units(n_units: int, mask_ratio: float) -> int:
    """Number of masked units ``k = round(r U)``; at least one masked and one visible.

    Examples
    --------
    >>> [n_masked_units(8, r) for r in (0.1, 0.25, 0.5, 0.75, 0.9)]
    [1, 2, 4, 6, 7]
    """
    n_units = check_int("n_units", n_units, symbol="U")
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise TypeError(f"mask ratio r must be a number in (0, 1); got {describe(mask_ratio)}. "
                        "Pass a float such as mask_ratio=0.5.")
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask ratio r must lie in (0, 1) for token masks; got {mask_ratio}.")
    k = int(round(mask_ratio * n_units))
    if not 1 <= k <= n_units - 1:
        raise ValueError(
            f"mask ratio r={mask_ratio} hides k=round(r*U)={k} of U={n_units} masking units; "
            "at least one unit must be masked and one visible. Pick r closer to 0.5 or a "
            "smaller masking unit u."
        )
    return k


def token_masking(
    batch_size: int, n_tokens: int, mask_ratio: float, *, unit: int = 1, shift: int = 0,
    seed: SeedLike = None, device: DeviceLike = "cpu",
) -> Masking:
    """Random masks over a sequence of ``L`` tokens, hiding ``round(r U)`` whole units.

    Parameters
    ----------
    batch_size : int
        ``N``, the number of masks.
    n_tokens : int
        ``L``, tokens per sample.
    mask_ratio : float
        ``r`` in (0, 1).
    unit : int, default 1
        Masking unit ``u``: consecutive tokens hidden together; must divide ``L``.
    shift : int, default 0
        Unit ``j`` covers tokens ``(shift + j u + i) mod L``, ``i < u``: a shift of one leaf
        misaligns the units with sibling pairs of the tree.
    seed : SeedLike
        Noise is drawn on a CPU generator (a CUDA generator draws on the GPU).
    device : torch.device or str

    Returns
    -------
    Masking

    Examples
    --------
    >>> m = token_masking(2, 8, 0.5, unit=2, shift=1, seed=0)
    >>> m.mask.sum(dim=1).tolist()
    [4.0, 4.0]
    >>> bool(m.mask[0, 0] == m.mask[0, 7])  # tokens 7 and 0 form one shifted unit
    True
    """
    batch_size = check_int("batch_size", batch_size, symbol="N")
    n_tokens = check_int("n_tokens", n_tokens, symbol="L")
    shift = check_int("shift", shift, low=None)
    if isinstance(unit, bool) or not isinstance(unit, int) or unit < 1 or n_tokens % unit:
        raise ValueError(
            f"masking unit u={unit!r} must be a positive int dividing the number of tokens "
            f"L={n_tokens}; pick u among the divisors of {n_tokens}."
        )
    n_units = n_tokens // unit
    k = n_masked_units(n_units, mask_ratio)
    noise = mask_noise(batch_size, n_units, seed=seed, device=device)
    unit_of = (torch.arange(n_tokens, device=noise.device) - shift) % n_tokens // unit
    return masking_from_noise(noise[:, unit_of], (n_units - k) * unit)


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class TokenMAE(nn.Module):
    """Masked autoencoder for ``L`` tokens of width ``D`` with a bottleneck of width ``d``.

    Parameters
    ----------
    n_tokens : int
        ``L``, tokens per sample (the leaves of the tree, in token order).
    token_dim : int
        ``D``, values per token.
    latent_dim : int
        ``d``, the width of the representation :math:`\\hat c` (Theorem 2 takes ``d = dim c``).
    hidden_dim : int
        Width of the hidden layers of encoder and decoder; also the token embedding width.
    depth : int
        Hidden layers of the encoder MLP (the decoder has the same number).
    fixed_mask : torch.Tensor of shape (L,), optional
        Train with this one mask (1/True = masked) whatever the mask ratio: :meth:`make_masking`
        returns it for every sample (experiments T1 and T2).
    mask_shift : int
        Cyclic shift of the masking units of :meth:`make_masking` (experiment T4).
    loss_groups : sequence of int of length L, optional
        Sibling groups (e.g. the parent of each leaf). When given, a masked token counts in the
        loss only if no token of its group is visible (experiment T6).
    seed : SeedLike, keyword-only
        Seeds the weight initialisation.

    Examples
    --------
    >>> mae = TokenMAE(8, 4, latent_dim=2, hidden_dim=16, seed=0)
    >>> x = torch.randn(5, 8, 4)
    >>> loss, pred, mask = mae(x, 0.5, seed=0)
    >>> pred.shape, mask.sum(dim=1).tolist(), mae.features(x, mask).shape
    (torch.Size([5, 8, 4]), [4.0, 4.0, 4.0, 4.0, 4.0], torch.Size([5, 2]))
    """

    def __init__(
        self, n_tokens: int, token_dim: int, latent_dim: int = 2, hidden_dim: int = 128,
        depth: int = 2, *, fixed_mask: torch.Tensor | None = None, mask_shift: int = 0,
        loss_groups: Sequence[int] | None = None, seed: SeedLike = None,
    ):
        super().__init__()
        n_tokens = check_int("n_tokens", n_tokens, low=2, symbol="L",
                             fix="A mask needs one masked and one visible token.")
        token_dim = check_int("token_dim", token_dim, symbol="D")
        latent_dim = check_int("latent_dim", latent_dim, symbol="d")
        hidden_dim = check_int("hidden_dim", hidden_dim)
        depth = check_int("depth", depth)
        mask_shift = check_int("mask_shift", mask_shift, low=None)
        self.n_tokens, self.token_dim, self.latent_dim = n_tokens, token_dim, latent_dim
        self.hidden_dim, self.mask_shift = hidden_dim, int(mask_shift)
        self.embed = nn.Linear(token_dim, hidden_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens, hidden_dim))
        enc_in = n_tokens * hidden_dim + n_tokens
        self.encoder = _mlp([enc_in] + [hidden_dim] * depth + [latent_dim])
        self.decoder = _mlp([latent_dim + n_tokens] + [hidden_dim] * depth
                            + [n_tokens * token_dim])
        if fixed_mask is not None:
            fixed_mask = torch.as_tensor(fixed_mask).float().reshape(-1)
            if fixed_mask.shape[0] != n_tokens:
                raise ValueError(f"fixed_mask must have L={n_tokens} entries; got "
                                 f"{fixed_mask.shape[0]}.")
            masking_from_mask(fixed_mask)  # validates: 0/1 values, at least one visible token
            if fixed_mask.sum() < 1:
                raise ValueError("fixed_mask hides no token; mask at least one token.")
        self.register_buffer("fixed_mask", fixed_mask)
        if loss_groups is not None:
            groups = torch.as_tensor(list(loss_groups), dtype=torch.long)
            if groups.shape != (n_tokens,):
                raise ValueError(f"loss_groups must give one group id per token (L={n_tokens});"
                                 f" got {tuple(groups.shape)}.")
            same = (groups[:, None] == groups[None, :]).float()
        else:
            same = None
        self.register_buffer("same_group", same)
        gen = make_generator(seed)
        with torch.no_grad():
            nn.init.normal_(self.pos_embed, std=0.02, generator=gen)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight, generator=gen)
                    nn.init.zeros_(module.bias)

    # --- the training protocol of mae_theory.train ------------------------------------------
    def check_inputs(self, x, *, finite: bool = True) -> torch.Tensor:
        """Validate tokens of shape ``(N, L, D)`` and return them as float.

        ``finite`` reads the values (NaN/inf); :meth:`forward` skips it on the GPU.
        """
        check_tensor("x", x, ndim=3, floating=False, finite=finite,
                     shape_hint="(N, L, D): sample.x of a tree sample")
        if tuple(x.shape[1:]) != (self.n_tokens, self.token_dim):
            raise ValueError(
                f"tokens x have (L, D) = {tuple(x.shape[1:])} but the model was built for "
                f"(L, D) = ({self.n_tokens}, {self.token_dim}). Build TokenMAE(n_tokens, "
                "token_dim) to match the data."
            )
        if x.shape[0] == 0:
            raise ValueError("tokens x are empty (N = 0); sample some data first.")
        return x.float()

    def make_masking(
        self, batch_size: int, mask_ratio: float = 0.5, *, unit: int = 1,
        seed: SeedLike = None, device: DeviceLike = None,
    ) -> Masking:
        """The fixed mask if the model has one, else :func:`token_masking` (with ``mask_shift``)."""
        device = self.pos_embed.device if device is None else device
        if self.fixed_mask is not None:
            m = masking_from_mask(self.fixed_mask.to(device))
            return Masking(*(t.expand(batch_size, -1) for t in m))
        return token_masking(batch_size, self.n_tokens, mask_ratio, unit=unit,
                             shift=self.mask_shift, seed=seed, device=device)

    def _as_masking(self, x: torch.Tensor, mask) -> Masking | None:
        if mask is None or isinstance(mask, Masking):
            return mask
        m = masking_from_mask(torch.as_tensor(mask).to(x.device), self.n_tokens)
        if m.mask.shape[0] == 1 and x.shape[0] > 1:
            m = Masking(*(t.expand(x.shape[0], -1) for t in m))
        return m

    # --- encoder / decoder -------------------------------------------------------------------
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """:math:`\\hat c = E(x_{m^c}, m)`, shape ``(N, d)``; ``mask`` (N, L), 1 = masked, or
        None."""
        h = self.embed(x) + self.pos_embed
        if mask is None:
            mask = torch.zeros(x.shape[:2], device=x.device)
        h = h * (1.0 - mask).unsqueeze(-1).to(h.dtype)
        return self.encoder(torch.cat([h.flatten(1), mask.to(h.dtype)], dim=1))

    def decode(self, c_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict every token from :math:`(\\hat c, m)`: shape ``(N, L, D)``."""
        out = self.decoder(torch.cat([c_hat, mask.to(c_hat.dtype)], dim=1))
        return out.reshape(-1, self.n_tokens, self.token_dim)

    def loss_weights(self, mask: torch.Tensor) -> torch.Tensor:
        """Which tokens count in the loss, ``(N, L)``: masked ones (without visible siblings)."""
        if self.same_group is None:
            return mask
        visible_in_group = (1.0 - mask) @ self.same_group > 0
        return mask * (~visible_in_group).to(mask.dtype)

    def forward(
        self, x: torch.Tensor, mask_ratio: float = 0.5, *, mask: torch.Tensor | None = None,
        masking: Masking | None = None, seed: SeedLike = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask, encode, decode and score a batch.

        Parameters
        ----------
        x : torch.Tensor, shape (N, L, D)
        mask_ratio : float
            ``r`` for random masks (ignored with ``mask``, ``masking`` or a ``fixed_mask``).
        mask : torch.Tensor, shape (L,) or (N, L), optional
            A given mask, 1 = masked.
        masking : Masking, optional
            Ready masks (the training loop's).
        seed : SeedLike
            Seeds random masks.

        Returns
        -------
        loss : torch.Tensor, scalar
            Mean squared error per value over the masked tokens that count (:meth:`loss_weights`;
            zero when none counts in the batch).
        pred : torch.Tensor, shape (N, L, D)
        mask : torch.Tensor, shape (N, L)
        """
        x = self.check_inputs(x, finite=x.device.type == "cpu" if isinstance(x, torch.Tensor)
                              else True)
        masking = self._as_masking(x, mask if masking is None else masking)
        if masking is None:
            masking = self.make_masking(x.shape[0], mask_ratio, seed=seed, device=x.device)
        m = masking.mask.float()
        if m.shape != (x.shape[0], self.n_tokens):
            raise ValueError(f"mask must have shape (N, L) = ({x.shape[0]}, {self.n_tokens}); "
                             f"got {tuple(m.shape)}.")
        pred = self.decode(self.encode(x, m), m)
        w = self.loss_weights(m)
        per_token = ((pred.float() - x) ** 2).mean(dim=-1)
        loss = (per_token * w).sum() / w.sum().clamp_min(1.0)
        return loss, pred, m

    @torch.no_grad()
    def features(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """The representation :math:`\\hat c` of the visible tokens, shape ``(N, d)``.

        ``mask`` (shape (L,) or (N, L), 1 = masked, or a Masking): the encoder sees only the
        visible tokens, as in Kong et al.'s Theorem 2. ``None``: every token is visible (the
        "full-image" representation used after pre-training).
        """
        x = self.check_inputs(x)
        masking = self._as_masking(x, mask)
        m = None if masking is None else masking.mask.float()
        return self.encode(x, m).float()

    def flops_per_image(self, mask_ratio: float = 0.5) -> float:
        """Matrix-multiply FLOPs of one forward pass on one sample (``2 * in * out`` per layer)."""
        linears = [mod for mod in self.modules() if isinstance(mod, nn.Linear)]
        flops = sum(2 * m.in_features * m.out_features for m in linears)
        return float(flops + 2 * (self.n_tokens - 1) * self.token_dim * self.hidden_dim)
