"""What a training step sees: a mini-batch of images, its augmentation and its masks.

:class:`Batches` draws, for each step, ``N`` image indices, the augmentation (:func:`augment_batch`:
a random horizontal flip, a random translation by up to ``pad`` pixels and, optionally, a random
resized crop) and the masks, all on
one generator: a CPU generator for the exact path (a seed gives bit-identical runs and masks that
do not depend on the device), or a CUDA generator for the fast path (no host round trip).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .masking import Masking
from .runtime import DeviceLike, SeedLike, derive_seed, make_generator, resolve_device

__all__ = ["Batches", "augment_batch"]


def augment_batch(x: torch.Tensor, pad: int, *, crop_scale: float = 1.0,
                  seed: SeedLike = None) -> torch.Tensor:
    """Random horizontal flip, random resized crop, and random translation by up to ``pad`` px.

    Image ``i`` is flipped with probability 1/2. With ``crop_scale`` :math:`s_0 < 1` it is then
    cropped to a random rectangle of area fraction :math:`s \\sim U[s_0, 1]` and aspect ratio
    :math:`a` log-uniform on :math:`[3/4, 4/3]` (sides clipped to the image), placed uniformly
    inside the image and resized back to ``H x W`` by bilinear interpolation: the
    random-resized-crop of He et al. (2022) for small images. Finally it is shifted by
    ``(dy_i - pad, dx_i - pad)`` pixels with ``dy_i, dx_i`` uniform on ``{0, ..., 2 pad}``:
    output pixel ``(r, c)`` is the input pixel ``(r + dy_i - pad, c + dx_i - pad)``, or zero
    outside the image. Everything is drawn on the generator's device, so with a CUDA generator
    this costs no host sync; with ``crop_scale=1`` the draws are those of the flip and shift
    alone (older runs reproduce bit for bit).

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W)
    pad : int
        Largest shift in pixels (0: no shift).
    crop_scale : float, default 1.0
        Smallest crop area fraction :math:`s_0` in (0, 1]; 1 turns the crop off.
    seed : SeedLike
        A generator is used as it is (on its device); an ``int`` seeds a CPU generator.

    Examples
    --------
    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> torch.equal(augment_batch(x, 1, seed=0), augment_batch(x, 1, seed=0))
    True
    >>> augment_batch(x, 0, crop_scale=0.5, seed=0).shape
    torch.Size([1, 1, 4, 4])
    """
    if isinstance(crop_scale, bool) or not isinstance(crop_scale, (int, float)) or not (
            0.0 < crop_scale <= 1.0):
        raise ValueError(f"crop_scale must be a number in (0, 1] (the smallest crop area "
                         f"fraction; 1 turns the crop off); got {crop_scale!r}.")
    gen = make_generator(seed)
    n, c, h, w = x.shape
    dev = gen.device
    flip = torch.rand(n, generator=gen, device=dev) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1).to(x.device), x.flip(-1), x)
    if crop_scale < 1.0:
        x = _resized_crop(x, crop_scale, gen)
    if pad == 0:
        return x
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen, device=dev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen, device=dev).to(x.device)
    rows = (dy + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    xp = torch.gather(xp, 2, rows)
    cols = (dx + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return torch.gather(xp, 3, cols)


def _resized_crop(x: torch.Tensor, crop_scale: float, gen: torch.Generator) -> torch.Tensor:
    """One random resized crop per image (see :func:`augment_batch`), by an affine grid."""
    n, dev = x.shape[0], gen.device
    area = crop_scale + (1.0 - crop_scale) * torch.rand(n, generator=gen, device=dev)
    log_a = math.log(3 / 4) + math.log(16 / 9) * torch.rand(n, generator=gen, device=dev)
    aspect = log_a.exp()
    sw, sh = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    cx = (1.0 - sw) * (2.0 * torch.rand(n, generator=gen, device=dev) - 1.0)
    cy = (1.0 - sh) * (2.0 * torch.rand(n, generator=gen, device=dev) - 1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sw, cx, sh, cy
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Batches:
    """Draws ``(images, masking)`` for each step on one generator: CPU (exact) or CUDA (fast).

    Parameters
    ----------
    images : torch.Tensor
        The whole data set, already on its device.
    model
        Supplies ``make_masking(n, mask_ratio, *, unit, seed, device)``.
    cfg : TrainConfig
        ``batch_size``, ``augment``, ``pad``, ``mask_ratio`` and ``mask_unit`` are used.
    seed : SeedLike
        The run's generator (or seed). On CUDA a CUDA generator is seeded from it with
        :func:`~mae_theory.runtime.derive_seed`.
    device : DeviceLike
    shard : (rank, world)
        Under DDP the global batch is drawn whole and this rank's slice kept.
    """

    def __init__(self, images: torch.Tensor, model, cfg, *, seed: SeedLike = None,
                 device: DeviceLike = "auto", shard: tuple[int, int] = (0, 1)):
        self.images, self.model, self.cfg = images, model, cfg
        gen, device = make_generator(seed), resolve_device(device)
        rank, world = shard
        size = cfg.batch_size // world
        self.slice = slice(rank * size, (rank + 1) * size) if world > 1 else None
        if device.type == "cuda":
            self.gen = torch.Generator(device=device)
            self.gen.manual_seed(derive_seed(gen))
        else:
            self.gen = gen

    def __call__(self) -> tuple[torch.Tensor, object]:
        cfg, dev = self.cfg, self.gen.device
        idx = torch.randint(0, self.images.shape[0], (cfg.batch_size,), generator=self.gen,
                            device=dev)
        x = self.images[idx.to(self.images.device)]
        if cfg.augment:
            x = augment_batch(x, cfg.pad, crop_scale=cfg.crop_scale, seed=self.gen)
        masking = self.model.make_masking(cfg.batch_size, cfg.mask_ratio, unit=cfg.mask_unit,
                                          seed=self.gen, device=x.device)
        if self.slice is not None:  # DDP: this rank's share of the global batch
            x, masking = x[self.slice], Masking(*(t[self.slice] for t in masking))
        return x, masking

    def state(self) -> torch.Tensor:
        """The generator state (for a checkpoint)."""
        return self.gen.get_state()

    def load_state(self, state: torch.Tensor) -> None:
        """Continue from a state returned by :meth:`state`."""
        self.gen.set_state(state)
