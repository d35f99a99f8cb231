"""The masked autoencoder: a ViT encoder over the visible patches and a light decoder.

The constructor and ``forward(imgs, mask_ratio) -> (loss, pred, mask)`` follow the official MAE
implementation (He et al., 2022), so readers can swap the two. The steps, in book notation:

1. cut the images into ``L`` patches of ``p*p*C`` values (:func:`~mae_theory.masking.patchify`);
2. hide a fraction ``r`` of them (the set ``M``) and embed only the visible ones (``V``), adding
   fixed 2-D sin-cos position embeddings;
3. run the encoder on ``[cls, V]`` only (this is where MAE saves its compute);
4. project to the decoder width, put a shared learned mask token at every masked position,
   add the decoder's position embeddings, run the decoder, predict every patch;
5. the loss is the mean squared error on masked patches only,
   :math:`\\mathcal{L} = \\frac{1}{|M|} \\sum_{l \\in M}
   \\lVert \\hat x_l - x_l \\rVert^2 / (p^2 C)`,
   with each target patch normalised to zero mean, unit variance when ``norm_pix_loss``.

Attention is :func:`torch.nn.functional.scaled_dot_product_attention`, which picks a fused kernel
(flash or memory-efficient) on the GPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..masking import (
    Masking,
    check_mask_ratio,
    masking_from_mask,
    n_visible,
    patchify,
    random_masking,
    unpatchify,
)
from ..runtime import SeedLike, make_generator


def sincos_pos_embed_2d(embed_dim: int, grid_size: tuple[int, int]) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings, shape ``(rows*cols, embed_dim)``.

    Half the channels encode the row, half the column; each half is ``[sin, cos]`` at
    frequencies ``10000^{-2i/(D/2)}``. ``embed_dim`` must be divisible by 4.

    Examples
    --------
    >>> sincos_pos_embed_2d(8, (2, 2)).shape
    torch.Size([4, 8])
    """
    if embed_dim % 4:
        raise ValueError(
            f"embed_dim D={embed_dim} must be divisible by 4 for 2-D sin-cos position "
            "embeddings (D/2 channels per axis, split into sin and cos)."
        )
    gh, gw = grid_size
    rows, cols = np.meshgrid(np.arange(gh, dtype=np.float64), np.arange(gw, dtype=np.float64),
                             indexing="ij")
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)

    def one_axis(pos: np.ndarray) -> np.ndarray:
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb = np.concatenate([one_axis(rows), one_axis(cols)], axis=1)
    return torch.from_numpy(emb).float()


class Attention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention weights, shape (N, heads, T, T), computed explicitly in float32."""
        n, t, d = x.shape
        qkv = self.qkv(x).float().reshape(n, t, 3, self.num_heads, d // self.num_heads)
        q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _check_width(name: str, dim: int, heads_name: str, heads: int) -> None:
    if dim < 1 or heads < 1 or dim % heads:
        raise ValueError(
            f"{name}={dim} must be a positive multiple of {heads_name}={heads}: each head gets "
            f"{name}/{heads_name} channels. Change one of them so that {heads_name} divides {name}."
        )


class MAE(nn.Module):
    """Masked autoencoder with a Vision Transformer encoder (He et al., 2022).

    Parameters
    ----------
    img_size : int or (int, int)
        Image side(s) ``H``, ``W``; divisible by ``patch_size``.
    patch_size : int
        ViT patch side ``p``; ``L = (H/p)(W/p)`` tokens.
    in_chans : int
        Channels ``C``.
    embed_dim, depth, num_heads : int
        Encoder width ``D`` (divisible by 4 and by ``num_heads``), blocks, heads.
    decoder_embed_dim, decoder_depth, decoder_num_heads : int
        Decoder width, blocks (0 allowed: a linear decoder), heads.
    mlp_ratio : float
        MLP hidden width over block width.
    norm_pix_loss : bool
        Normalise every target patch to zero mean and unit (unbiased) variance.
    seed : SeedLike, keyword-only
        Seeds the weight initialisation (xavier-uniform linears, N(0, 0.02) tokens).

    Examples
    --------
    >>> mae = MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    >>> loss, pred, mask = mae(torch.randn(3, 1, 8, 8), mask_ratio=0.75, seed=0)
    >>> pred.shape, mask.shape, int(mask[0].sum())
    (torch.Size([3, 16, 4]), torch.Size([3, 16]), 12)
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 32,
        patch_size: int = 4,
        in_chans: int = 3,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        decoder_embed_dim: int = 128,
        decoder_depth: int = 4,
        decoder_num_heads: int = 4,
        mlp_ratio: float = 4.0,
        norm_pix_loss: bool = False,
        *,
        seed: SeedLike = None,
    ):
        super().__init__()
        h, w = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"image size H x W = {h} x {w} is not divisible by the patch size "
                f"p={patch_size}. Pick a p that divides both (e.g. {math.gcd(h, w)})."
            )
        if in_chans < 1:
            raise ValueError(f"in_chans C must be >= 1; got {in_chans}.")
        if depth < 1:
            raise ValueError(f"encoder depth must be >= 1; got {depth}.")
        if decoder_depth < 0:
            raise ValueError(f"decoder_depth must be >= 0; got {decoder_depth}.")
        _check_width("embed_dim", embed_dim, "num_heads", num_heads)
        _check_width("decoder_embed_dim", decoder_embed_dim, "decoder_num_heads",
                     decoder_num_heads)
        self.img_size = (h, w)
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.grid_size = (h // patch_size, w // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.embed_dim = embed_dim
        self.mlp_ratio = mlp_ratio
        self.norm_pix_loss = norm_pix_loss
        patch_dim = patch_size * patch_size * in_chans

        # encoder
        self.patch_embed = nn.Linear(patch_dim, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed_2d(embed_dim, self.grid_size)[None])
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        # decoder
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.register_buffer(
            "decoder_pos_embed", sincos_pos_embed_2d(decoder_embed_dim, self.grid_size)[None]
        )
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio) for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_dim)
        self._init_weights(make_generator(seed))

    def _init_weights(self, gen: torch.Generator) -> None:
        with torch.no_grad():
            nn.init.normal_(self.cls_token, std=0.02, generator=gen)
            nn.init.normal_(self.mask_token, std=0.02, generator=gen)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight, generator=gen)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, nn.LayerNorm):
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)

    # --- helpers -----------------------------------------------------------------------------
    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` to patches ``(N, L, p*p*C)``."""
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """Patches ``(N, L, p*p*C)`` to images ``(N, C, H, W)``."""
        return unpatchify(x, self.patch_size, self.in_chans, self.grid_size)

    def _check_input(self, imgs: torch.Tensor) -> None:
        if not isinstance(imgs, torch.Tensor) or imgs.ndim != 4:
            raise ValueError("imgs must be a tensor of shape (N, C, H, W).")
        if imgs.shape[1] != self.in_chans:
            raise ValueError(
                f"imgs have C={imgs.shape[1]} channels but the model was built with "
                f"in_chans={self.in_chans}. Build the MAE with in_chans={imgs.shape[1]} or "
                "convert the images."
            )
        if tuple(imgs.shape[-2:]) != self.img_size:
            raise ValueError(
                f"imgs are {tuple(imgs.shape[-2:])} pixels but the model expects "
                f"img_size={self.img_size}. Resize or crop the images."
            )

    def check_inputs(self, images) -> torch.Tensor:
        """Validate a whole data set for this model and return it as float (used by ``train``)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError(
                "images must be a tensor of shape (N, C, H, W) or an ImageData; got "
                f"{type(images).__name__}{tuple(getattr(images, 'shape', ()))}."
            )
        if images.shape[0] == 0:
            raise ValueError("images is an empty data set (N = 0); load or generate some images.")
        if images.shape[1] != self.in_chans or tuple(images.shape[-2:]) != self.img_size:
            raise ValueError(
                f"images of shape {tuple(images.shape[1:])} do not fit the model, which expects "
                f"(C, H, W) = ({self.in_chans}, {self.img_size[0]}, {self.img_size[1]}). "
                "Build the MAE with matching img_size and in_chans."
            )
        return images.float()

    def make_masking(
        self, batch_size: int, mask_ratio: float = 0.75, *, unit: int = 1,
        seed: SeedLike = None, device: torch.device | str | None = None,
    ) -> Masking:
        """Random masks for this model's patch grid (:func:`~mae_theory.masking.random_masking`)."""
        device = self.pos_embed.device if device is None else device
        return random_masking(batch_size, self.grid_size, mask_ratio, unit=unit, seed=seed,
                              device=device)

    # --- encoder / decoder -------------------------------------------------------------------
    def forward_encoder(
        self, imgs: torch.Tensor, masking: Masking | None
    ) -> torch.Tensor:
        """Encode the visible patches: returns ``(N, 1 + n_keep, D)`` (cls first).

        ``masking=None`` encodes every patch (features for probes).
        """
        patches = self.patchify(imgs)
        x = self.patch_embed(patches) + self.pos_embed
        if masking is not None:
            idx = masking.ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1])
            x = torch.gather(x, 1, idx)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_decoder(self, latent: torch.Tensor, masking: Masking) -> torch.Tensor:
        """Predict every patch from the encoded visible tokens: ``(N, L, p*p*C)``."""
        x = self.decoder_embed(latent)
        n, t, d = x.shape
        mask_tokens = self.mask_token.expand(n, self.num_patches + 1 - t, d)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, masking.ids_restore.unsqueeze(-1).expand(-1, -1, d))
        x = torch.cat([x[:, :1], x_ + self.decoder_pos_embed], dim=1)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    @torch.no_grad()
    def attention_maps(
        self, imgs: torch.Tensor, masking: Masking | None = None
    ) -> dict[str, list[torch.Tensor]]:
        """Softmax attention weights of every block, for the operator chapters.

        Returns ``{"encoder": [A_1, ...], "decoder": [...]}`` with one float32 tensor per block,
        shape (N, heads, T, T), rows summing to one. Token 0 is cls; encoder tokens follow in
        ``masking.ids_keep`` order (all L patches when ``masking`` is None); decoder tokens are
        the L patches in grid order (the decoder is run only when a masking is given).

        Examples
        --------
        >>> mae = MAE(8, 2, 1, 16, 2, 2, 16, 1, 2, seed=0)
        >>> maps = mae.attention_maps(torch.zeros(3, 1, 8, 8), mae.make_masking(3, 0.75, seed=0))
        >>> [tuple(a.shape) for a in maps["encoder"]], tuple(maps["decoder"][0].shape)
        ([(3, 2, 5, 5), (3, 2, 5, 5)], (3, 2, 17, 17))
        """
        def run(blocks, x):
            maps = []
            for blk in blocks:
                maps.append(blk.attn.attention_map(blk.norm1(x)))
                x = blk(x)
            return maps, x

        patches = self.patchify(imgs)
        x = self.patch_embed(patches) + self.pos_embed
        if masking is not None:
            idx = masking.ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1])
            x = torch.gather(x, 1, idx)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        enc, x = run(self.blocks, x)
        out = {"encoder": enc, "decoder": []}
        if masking is not None:
            x = self.decoder_embed(self.norm(x))
            n, t, d = x.shape
            mask_tokens = self.mask_token.expand(n, self.num_patches + 1 - t, d)
            x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
            x_ = torch.gather(x_, 1, masking.ids_restore.unsqueeze(-1).expand(-1, -1, d))
            x = torch.cat([x[:, :1], x_ + self.decoder_pos_embed], dim=1)
            out["decoder"], _ = run(self.decoder_blocks, x)
        return out

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """The regression target per patch, ``(N, L, p*p*C)``: pixels, or normalised pixels."""
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def forward_loss(
        self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean squared error per patch, averaged over masked patches only."""
        per_patch = ((pred.float() - self.target(imgs).float()) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()

    def forward(
        self,
        imgs: torch.Tensor,
        mask_ratio: float = 0.75,
        *,
        mask: torch.Tensor | None = None,
        masking: Masking | None = None,
        seed: SeedLike = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask, encode, decode and score a batch.

        Parameters
        ----------
        imgs : torch.Tensor, shape (N, C, H, W)
        mask_ratio : float
            ``r`` in [0, 1) for random masks (ignored when ``mask`` or ``masking`` is given).
        mask : torch.Tensor, shape (L,) or (N, L), optional
            A fixed mask (1/True = masked), e.g. :func:`~mae_theory.masking.block_mask`.
        masking : Masking, optional
            Ready masks (the training loop draws them on the device).
        seed : SeedLike
            Seeds the random masks.

        Returns
        -------
        loss : torch.Tensor, scalar
            Mean squared error over masked patches.
        pred : torch.Tensor, shape (N, L, p*p*C)
            Predicted patches (in normalised units when ``norm_pix_loss``).
        mask : torch.Tensor, shape (N, L)
            1 where the patch was masked.
        """
        self._check_input(imgs)
        if masking is None:
            if mask is not None:
                masking = masking_from_mask(mask.to(imgs.device))
                if masking.mask.shape[0] == 1 and imgs.shape[0] > 1:
                    masking = Masking(*(t.expand(imgs.shape[0], -1) for t in masking))
            else:
                check_mask_ratio(mask_ratio)
                masking = self.make_masking(imgs.shape[0], mask_ratio, seed=seed,
                                            device=imgs.device)
        if masking.mask.shape != (imgs.shape[0], self.num_patches):
            raise ValueError(
                f"mask must have shape (N, L) = ({imgs.shape[0]}, {self.num_patches}); "
                f"got {tuple(masking.mask.shape)}."
            )
        latent = self.forward_encoder(imgs, masking)
        pred = self.forward_decoder(latent, masking)
        loss = self.forward_loss(imgs, pred, masking.mask)
        return loss, pred, masking.mask

    @torch.no_grad()
    def features(self, imgs: torch.Tensor, pool: str = "mean") -> torch.Tensor:
        """Encoder features of unmasked images, for probes.

        Parameters
        ----------
        imgs : torch.Tensor, shape (N, C, H, W)
        pool : {"mean", "cls", "tokens"}
            Average of the patch tokens ``(N, D)``, the cls token ``(N, D)``, or every patch
            token ``(N, L, D)``.
        """
        if pool not in ("mean", "cls", "tokens"):
            raise ValueError(f"pool must be 'mean', 'cls' or 'tokens'; got {pool!r}.")
        self._check_input(imgs)
        x = self.forward_encoder(imgs, None).float()
        if pool == "cls":
            return x[:, 0]
        return x[:, 1:].mean(dim=1) if pool == "mean" else x[:, 1:]

    @torch.no_grad()
    def reconstruct(
        self, imgs: torch.Tensor, mask_ratio: float = 0.75, *, mask: torch.Tensor | None = None,
        seed: SeedLike = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruct images: visible patches pasted back, masked ones predicted.

        Returns ``(recon, mask)`` with ``recon`` of shape (N, C, H, W) in pixel units (a
        normalised-pixel prediction is mapped back with each visible-or-true patch's statistics)
        and ``mask`` (N, L).
        """
        _, pred, m = self(imgs, mask_ratio, mask=mask, seed=seed)
        pred = pred.float()
        patches = self.patchify(imgs).float()
        if self.norm_pix_loss:
            mean = patches.mean(dim=-1, keepdim=True)
            std = (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt()
            pred = pred * std + mean
        m3 = m.unsqueeze(-1)
        return self.unpatchify(patches * (1 - m3) + pred * m3), m

    def flops_per_image(self, mask_ratio: float = 0.75) -> float:
        """Matrix-multiply FLOPs of one forward pass on one image (x3 for forward + backward).

        Counts ``2 * in * out`` per linear layer per token and ``4 * T^2 * D`` per attention
        layer (scores and weighted sum); ignores norms, softmax and GELU.
        """
        t_enc = n_visible(self.num_patches, mask_ratio) + 1
        t_dec = self.num_patches + 1
        patch_dim = self.patch_embed.in_features
        d, dd = self.embed_dim, self.decoder_embed.out_features

        def blocks(n_blocks: int, t: int, width: int) -> float:
            hidden = int(width * self.mlp_ratio)
            per_token = 2 * (3 * width * width + width * width + 2 * width * hidden)
            return n_blocks * (t * per_token + 4 * t * t * width)

        flops = 2 * (t_enc - 1) * patch_dim * d + blocks(len(self.blocks), t_enc, d)
        flops += 2 * t_enc * d * dd + blocks(len(self.decoder_blocks), t_dec, dd)
        flops += 2 * self.num_patches * dd * patch_dim
        return float(flops)
