"""The masked autoencoder: a ViT encoder over the visible patches and a light decoder.

The constructor, the step methods and ``forward(imgs, mask_ratio) -> (loss, pred, mask)`` follow
the official implementation (He et al., 2022; ``models_mae.py``), so readers can swap the two and
:meth:`MAE.from_official` loads an official checkpoint. The steps, in book notation:

1. cut the images into ``L`` patches of ``p*p*C`` values (:func:`~mae_theory.masking.patchify`);
2. hide a fraction ``r`` of them (the set ``M``) and embed only the visible ones (``V``), adding
   fixed 2-D sin-cos position embeddings (:meth:`MAE.embed_visible`);
3. run the encoder on ``[cls, V]`` only (:meth:`MAE.forward_encoder`; where MAE saves compute);
4. project to the decoder width, put a shared learned mask token at every masked position,
   add the decoder's position embeddings (:meth:`MAE.embed_decoder`), run the decoder and
   predict every patch (:meth:`MAE.forward_decoder`);
5. the loss is the mean squared error on masked patches only (:meth:`MAE.forward_loss`),
   :math:`\\mathcal{L} = \\frac{1}{|M|} \\sum_{l \\in M}
   \\lVert \\hat x_l - x_l \\rVert^2 / (p^2 C)`,
   with each target patch normalised to zero mean, unit variance when ``norm_pix_loss``.

Every other view of the model (attention maps, the residual stream of chapter 7, probes, the
local-attention decoder of chapter 8) calls these same methods: there is one forward path.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_images, check_tensor, describe
from ..masking import (
    Masking,
    check_mask_ratio,
    masking_from_mask,
    n_visible,
    patchify,
    random_masking,
    unpatchify,
)
from ..runtime import DeviceLike, SeedLike, make_generator
from .vit import Block, blocks_flops, check_vit_args, sincos_pos_embed_2d


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
    norm_layer : None or functools.partial(nn.LayerNorm, eps=1e-6)
        Accepted for the official factories' keyword; LayerNorm(eps=1e-6) is always used.
    norm_pix_loss : bool
        Normalise every target patch to zero mean and unit (unbiased) variance.
    seed : SeedLike, keyword-only
        Seeds the weight initialisation (xavier-uniform linears, N(0, 0.02) tokens).

    Examples
    --------
    >>> from mae_theory.models import mae_micro
    >>> mae = mae_micro(seed=0)   # MAE(img_size=8, patch_size=2, in_chans=1, embed_dim=16, ...)
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
        norm_layer=None,
        norm_pix_loss: bool = False,
        *,
        seed: SeedLike = None,
    ):
        super().__init__()
        (h, w), patch_size, in_chans, depth, decoder_depth, mlp_ratio = check_vit_args(
            img_size, patch_size, in_chans, embed_dim, depth, num_heads, decoder_embed_dim,
            decoder_depth, decoder_num_heads, mlp_ratio, norm_layer, norm_pix_loss)
        self.img_size, self.patch_size, self.in_chans = (h, w), patch_size, in_chans
        self.grid_size = (h // patch_size, w // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.embed_dim, self.mlp_ratio, self.norm_pix_loss = embed_dim, mlp_ratio, norm_pix_loss
        patch_dim = patch_size * patch_size * in_chans

        # encoder (the official Conv2d patch embedding, as a linear map on patchified pixels)
        self.patch_embed = nn.Linear(patch_dim, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.register_buffer("pos_embed", sincos_pos_embed_2d(embed_dim, self.grid_size)[None])
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        # decoder
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.register_buffer("decoder_pos_embed",
                             sincos_pos_embed_2d(decoder_embed_dim, self.grid_size)[None])
        self.decoder_blocks = nn.ModuleList(Block(decoder_embed_dim, decoder_num_heads, mlp_ratio)
                                            for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_dim)
        # optional (L+1, L+1) attention mask of every decoder block (chapter 8's local decoder)
        self.register_buffer("decoder_attn_mask", None, persistent=False)
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

    @classmethod
    def from_official(cls, state_dict: dict, **kwargs) -> MAE:
        """Build an MAE from a facebookresearch/mae checkpoint's ``model`` state dict.

        Sizes are read from the tensor shapes; heads, ``img_size`` and ``norm_pix_loss`` may be
        passed as keywords (:func:`~mae_theory.models.official.load_official`).
        """
        from .official import load_official

        return load_official(cls, state_dict, **kwargs)

    # --- helpers -----------------------------------------------------------------------------
    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` to patches ``(N, L, p*p*C)``."""
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """Patches ``(N, L, p*p*C)`` to images ``(N, C, H, W)``."""
        return unpatchify(x, self.patch_size, self.in_chans, self.grid_size)

    def _check_input(self, imgs, *, finite: bool = True) -> torch.Tensor:
        """Refuse a batch that is not a float (N, C, H, W) tensor of this model's size/dtype."""
        return check_images("imgs", imgs, channels=self.in_chans, size=self.img_size,
                            dtype=self.patch_embed.weight.dtype, finite=finite)

    def check_inputs(self, images) -> torch.Tensor:
        """Validate a whole data set for this model once and return it as float (for ``train``).

        Checks type, shape and finiteness (one read of the data); integer pixels are converted
        with ``.float()`` as before. On a GPU the training loop then skips the per-batch
        finiteness check (it passes a ready :class:`~mae_theory.masking.Masking` to
        :meth:`forward`, and reading the check back would sync every step); on the CPU it stays.
        """
        check_tensor("images", images, ndim=4, floating=False, finite=False,
                     shape_hint="(N, C, H, W) or an ImageData")
        if images.shape[0] == 0:
            raise ValueError("images is an empty data set (N = 0); load or generate some images.")
        return check_images("images", images.float(), channels=self.in_chans,
                            size=self.img_size)

    def make_masking(
        self, batch_size: int, mask_ratio: float = 0.75, *, unit: int = 1,
        seed: SeedLike = None, device: DeviceLike = None,
    ) -> Masking:
        """Random masks for this model's patch grid (:func:`~mae_theory.masking.random_masking`)."""
        device = self.pos_embed.device if device is None else device
        return random_masking(batch_size, self.grid_size, mask_ratio, unit=unit, seed=seed,
                              device=device)

    def resolve_masking(self, imgs: torch.Tensor, mask_ratio: float = 0.75, *,
                        mask: torch.Tensor | None = None, masking: Masking | None = None,
                        seed: SeedLike = None) -> Masking:
        """The :class:`Masking` of a batch: ``masking`` as given, ``mask`` converted, or drawn."""
        n = imgs.shape[0]
        if masking is None and mask is not None:
            masking = masking_from_mask(mask, self.num_patches)
            masking = Masking(*(t.to(imgs.device) for t in masking))
            if masking.mask.shape[0] == 1 and n > 1:
                masking = Masking(*(t.expand(n, -1) for t in masking))
        elif masking is None:
            masking = self.make_masking(n, check_mask_ratio(mask_ratio), seed=seed,
                                        device=imgs.device)
        if not isinstance(masking, Masking):
            raise TypeError(f"masking must be a mae_theory.masking.Masking; got "
                            f"{describe(masking)}. Build one with model.make_masking or "
                            "masking_from_mask.")
        if masking.mask.shape != (n, self.num_patches) or masking.ids_keep.shape[0] != n:
            raise ValueError(
                f"mask must have shape (N, L) = ({n}, {self.num_patches}); got "
                f"{tuple(masking.mask.shape)}. Build it for this batch and the model's grid."
            )
        return masking

    # --- the forward path --------------------------------------------------------------------
    def embed_visible(self, imgs: torch.Tensor, masking: Masking | None) -> torch.Tensor:
        """Embed patches, add positions, keep the visible ones, prepend cls: ``(N, 1+n_keep, D)``.

        ``masking=None`` keeps every patch (features for probes). The cls token gets the
        official table's cls row, which is zero.
        """
        x = self.patch_embed(self.patchify(imgs)) + self.pos_embed
        if masking is not None:
            x = torch.gather(x, 1, masking.ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        return torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)

    @staticmethod
    def run_blocks(blocks, x: torch.Tensor, *, attn_mask: torch.Tensor | None = None,
                   maps: list | None = None, states: list | None = None) -> torch.Tensor:
        """Run ``blocks`` on tokens ``x``; optionally record attention maps and residual states.

        ``maps`` receives each block's float32 attention weights (N, heads, T, T); ``states``
        receives ``x`` before the first block and after every block.
        """
        if states is not None:
            states.append(x)
        for blk in blocks:
            if maps is not None:
                maps.append(blk.attn.attention_map(blk.norm1(x), attn_mask))
            x = blk(x, attn_mask)
            if states is not None:
                states.append(x)
        return x

    def forward_encoder(self, imgs: torch.Tensor, masking: Masking | None, *,
                        maps: list | None = None, states: list | None = None) -> torch.Tensor:
        """Encode the visible patches: ``(N, 1 + n_keep, D)`` (cls first), final norm applied.

        ``masking=None`` encodes every patch; ``maps``/``states`` as in :meth:`run_blocks`.
        """
        x = self.run_blocks(self.blocks, self.embed_visible(imgs, masking), maps=maps,
                            states=states)
        return self.norm(x)

    def embed_decoder(self, latent: torch.Tensor, masking: Masking) -> torch.Tensor:
        """Decoder input ``(N, 1 + L, D_dec)``: projected tokens and mask tokens in grid order,
        plus the decoder's position table (cls row zero)."""
        x = self.decoder_embed(latent)
        n, t, d = x.shape
        mask_tokens = self.mask_token.expand(n, self.num_patches + 1 - t, d)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, masking.ids_restore.unsqueeze(-1).expand(-1, -1, d))
        return torch.cat([x[:, :1], x_ + self.decoder_pos_embed], dim=1)

    def forward_decoder(self, latent: torch.Tensor, masking: Masking, *,
                        attn_mask: torch.Tensor | None = None,
                        maps: list | None = None) -> torch.Tensor:
        """Predict every patch from the encoded visible tokens: ``(N, L, p*p*C)``.

        ``attn_mask`` (L+1, L+1), True = may attend, restricts every decoder block's attention;
        by default the model's ``decoder_attn_mask`` (None: global attention) is used.
        """
        attn_mask = self.decoder_attn_mask if attn_mask is None else attn_mask
        x = self.run_blocks(self.decoder_blocks, self.embed_decoder(latent, masking),
                            attn_mask=attn_mask, maps=maps)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

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
        imgs : torch.Tensor, shape (N, C, H, W), float32
            Checked for NaN/inf on the CPU, and on the GPU unless ``masking`` is given (the
            training loop passes its masks and validates the data set once with
            :meth:`check_inputs`, so the hot loop has no host sync).
        mask_ratio : float
            ``r`` in [0, 1) for random masks (ignored when ``mask`` or ``masking`` is given).
        mask : torch.Tensor, shape (L,) or (N, L), optional
            A fixed mask (1/True = masked), e.g. :func:`~mae_theory.masking.block_mask`.
        masking : Masking, optional
            Ready masks (the training loop draws them on the device; a test can pass the
            official ``argsort(noise)`` masks through
            :func:`~mae_theory.masking.masking_from_noise`).
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
        self._check_input(imgs, finite=masking is None or imgs.device.type == "cpu")
        masking = self.resolve_masking(imgs, mask_ratio, mask=mask, masking=masking, seed=seed)
        latent = self.forward_encoder(imgs, masking)
        pred = self.forward_decoder(latent, masking)
        loss = self.forward_loss(imgs, pred, masking.mask)
        return loss, pred, masking.mask

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
        >>> from mae_theory.models import mae_micro
        >>> mae = mae_micro(depth=2, seed=0)
        >>> maps = mae.attention_maps(torch.zeros(3, 1, 8, 8), mae.make_masking(3, 0.75, seed=0))
        >>> [tuple(a.shape) for a in maps["encoder"]], tuple(maps["decoder"][0].shape)
        ([(3, 2, 5, 5), (3, 2, 5, 5)], (3, 2, 17, 17))
        """
        self._check_input(imgs)
        out = {"encoder": [], "decoder": []}
        if masking is not None:
            masking = self.resolve_masking(imgs, masking=masking)
        latent = self.forward_encoder(imgs, masking, maps=out["encoder"])
        if masking is not None:
            self.forward_decoder(latent, masking, maps=out["decoder"])
        return out

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
        seed: SeedLike = None, paste: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruct images: visible patches pasted back, masked ones predicted.

        Returns ``(recon, mask)`` with ``recon`` of shape (N, C, H, W) in pixel units (a
        normalised-pixel prediction is mapped back with each visible-or-true patch's statistics)
        and ``mask`` (N, L). With ``paste=False`` every patch is the decoder's prediction.
        """
        _, pred, m = self(imgs, mask_ratio, mask=mask, seed=seed)
        pred = pred.float()
        patches = self.patchify(imgs).float()
        if self.norm_pix_loss:
            mean = patches.mean(dim=-1, keepdim=True)
            std = (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt()
            pred = pred * std + mean
        if not paste:
            return self.unpatchify(pred), m
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
        d, dd, ratio = self.embed_dim, self.decoder_embed.out_features, self.mlp_ratio
        flops = 2 * (t_enc - 1) * patch_dim * d + blocks_flops(len(self.blocks), t_enc, d, ratio)
        flops += 2 * t_enc * d * dd + blocks_flops(len(self.decoder_blocks), t_dec, dd, ratio)
        flops += 2 * self.num_patches * dd * patch_dim
        return float(flops)
