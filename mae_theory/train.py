"""Training a masked autoencoder: one loop for the laptop CPU and the GPU.

:func:`train` runs AdamW (betas 0.9/0.95, no decay on biases, norms and tokens) with a linear
warm-up and a half-cycle cosine learning-rate schedule,

.. math:: \\eta_t = \\eta \\frac{t+1}{T_w} \\;(t < T_w), \\qquad
          \\eta_t = \\eta_{min} + \\tfrac12(\\eta - \\eta_{min})
          \\bigl(1 + \\cos \\pi \\tfrac{t - T_w}{T - T_w}\\bigr) \\;(t \\ge T_w),

on mini-batches drawn from a tensor of images held on the device.

The CPU path draws batches and masks on a seeded CPU generator, so a seed gives bit-identical
results, and a run stopped at a checkpoint and resumed ends exactly where an uninterrupted run
does. On CUDA the same loop becomes the fast path: images resident on the GPU, batches, masks and
augmentation drawn by a CUDA generator, bf16 autocast, fused AdamW, optional ``torch.compile``,
and no host synchronisation except at the logging points.

Under ``torchrun --nproc_per_node=N`` the same :func:`train` runs data-parallel
(DistributedDataParallel): see :func:`distributed_context` for how the global batch is shared.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from .masking import Masking, check_mask_ratio
from .models import MAE
from .runtime import (
    SeedLike,
    atomic_write,
    autocast,
    derive_seed,
    make_generator,
    peak_bf16_flops,
    provenance,
    resolve_device,
    show_progress,
)


@dataclass(frozen=True)
class TrainConfig:
    """How to train (CPU-sized defaults: a few hundred steps on digits in about a minute)."""

    steps: int = 300  # T, optimiser steps
    batch_size: int = 128  # N, images per step (global: shared by all DDP ranks)
    lr: float = 1.5e-3  # eta, peak learning rate
    min_lr: float = 0.0  # eta_min, end of the cosine
    warmup_steps: int = 20  # T_w, linear warm-up
    weight_decay: float = 0.05  # AdamW decay on weight matrices only
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment decay rates
    mask_ratio: float = 0.75  # r
    mask_unit: int = 1  # u, masking unit side in ViT patches
    augment: bool = False  # random horizontal flip and +-pad pixel translation
    pad: int = 2  # translation range of the augmentation, pixels
    log_every: int = 10  # history entry (and the only host sync) every this many steps
    compile: bool = False  # torch.compile the model (worth it on CUDA for long runs)
    cuda_graphs: bool = False  # with compile on CUDA: mode="reduce-overhead" (CUDA graphs)
    checkpoint_every: int = 0  # steps between checkpoints (0: only at the end / stop)

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int; got {value!r}.")
        if self.warmup_steps < 0 or self.checkpoint_every < 0 or self.pad < 0:
            raise ValueError("warmup_steps, checkpoint_every and pad must be >= 0.")
        if not (self.lr > 0 and 0 <= self.min_lr <= self.lr):
            raise ValueError(
                f"learning rates must satisfy 0 <= min_lr <= lr and lr > 0; got lr={self.lr}, "
                f"min_lr={self.min_lr}."
            )
        check_mask_ratio(self.mask_ratio)


@dataclass(frozen=True)
class TrainResult:
    """What a run leaves behind: enough to redraw its figures and to trust its numbers.

    ``history`` holds one dict per logging point: ``step``, ``loss`` (mean over the interval),
    ``lr``, ``images_per_s`` and, on GPUs whose peak is known, ``mfu``.
    """

    config: TrainConfig
    seed: int | None
    history: tuple[dict, ...]
    final_loss: float
    steps_done: int
    wall_time: float
    provenance: dict = field(default_factory=dict)

    @property
    def losses(self) -> list[float]:
        return [h["loss"] for h in self.history]


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of step ``step`` (0-based) under warm-up + cosine.

    Examples
    --------
    >>> cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10)
    >>> lr_at(0, cfg), lr_at(9, cfg), round(lr_at(55, cfg), 3), lr_at(100, cfg)
    (0.1, 1.0, 0.5, 0.0)
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (fused on CUDA)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused or None)


def compile_model(model: MAE, cfg: TrainConfig, device: torch.device):
    """The callable the loop runs: the model itself, or its ``torch.compile`` wrapper.

    Under DDP the CUDA graphs are left out (plain compile): capturing the gradient all-reduce
    in a graph has not been measured here.
    """
    if not cfg.compile:
        return model
    ddp = isinstance(model, torch.nn.parallel.DistributedDataParallel)
    graphs = cfg.cuda_graphs and device.type == "cuda" and not ddp
    return torch.compile(model, mode="reduce-overhead" if graphs else None)


def train_step(forward, optimizer: torch.optim.Optimizer, x: torch.Tensor, masking,
               device: torch.device) -> torch.Tensor:
    """One optimiser step on one batch; returns the loss as a device tensor (no host sync)."""
    with autocast(device):
        loss, _, _ = forward(x, masking=masking)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def augment_batch(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and random translation by up to ``pad`` pixels (zero fill).

    Everything is drawn on ``gen``'s device, so on the GPU this costs no host sync.
    """
    n, c, h, w = x.shape
    dev = gen.device
    flip = torch.rand(n, generator=gen, device=dev) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)
    if pad == 0:
        return x
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen, device=dev)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen, device=dev)
    rows = (dy + torch.arange(h, device=dev)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    xp = torch.gather(xp, 2, rows)
    cols = (dx + torch.arange(w, device=dev)).view(n, 1, 1, w).expand(n, c, h, w)
    return torch.gather(xp, 3, cols)


def distributed_context(device: torch.device) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)`` of this process; starts DDP from torchrun's environment.

    If ``torch.distributed`` is initialised, its rank and world size are used. Otherwise, when
    ``WORLD_SIZE > 1`` (set by ``torchrun``), the process group is initialised here: NCCL on
    CUDA (each rank on ``cuda:LOCAL_RANK``), gloo on the CPU. Else ``(0, 1, device)``.

    How the work is shared: every rank seeds the same generator with the same ``seed``, so all
    ranks draw the same global batch of ``cfg.batch_size`` indices, augmentations and masks
    each step; rank ``k`` of ``W`` keeps samples ``[k N/W, (k+1) N/W)``. Every image has the
    same number of masked patches, so the mean of the ranks' losses is the single-process loss
    on the global batch, and DDP's gradient average is its gradient: the run matches a
    one-process run with the same seed up to floating-point summation order.

    Examples
    --------
    >>> distributed_context(torch.device("cpu"))  # a plain process
    (0, 1, device(type='cpu'))
    """
    if not dist.is_available():
        return 0, 1, device
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return 0, 1, device
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.type == "cuda" and device.index is None:
        local = int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count()))
        device = torch.device("cuda", local)
    return rank, world, device


class Batches:
    """Draws (images, masking) for each step on one generator: CPU (exact) or CUDA (fast).

    With ``shard=(rank, world)`` the global batch is drawn whole and this rank's slice kept.
    """

    def __init__(self, images: torch.Tensor, model: MAE, cfg: TrainConfig,
                 gen: torch.Generator, device: torch.device, shard: tuple[int, int] = (0, 1)):
        self.images, self.model, self.cfg = images, model, cfg
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
            x = augment_batch(x, cfg.pad, self.gen)
        masking = self.model.make_masking(cfg.batch_size, cfg.mask_ratio, unit=cfg.mask_unit,
                                          seed=self.gen, device=x.device)
        if self.slice is not None:  # DDP: this rank's share of the global batch
            x, masking = x[self.slice], Masking(*(t[self.slice] for t in masking))
        return x, masking

    def state(self) -> torch.Tensor:
        return self.gen.get_state()

    def load_state(self, state: torch.Tensor) -> None:
        self.gen.set_state(state)


def train(
    model: MAE,
    images,
    cfg: TrainConfig = TrainConfig(),
    *,
    seed: SeedLike = 0,
    device=None,
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    stop_at: int | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``images`` with the masked-reconstruction loss.

    Parameters
    ----------
    model : MAE, or any model with the same training protocol
        Moved to ``device`` and trained in place. The loop needs four methods:
        ``check_inputs(x) -> x`` (validates the whole data set, returns it as float),
        ``make_masking(n, mask_ratio, *, unit, seed, device)``,
        ``forward(x, *, masking) -> (loss, pred, mask)`` and ``flops_per_image(mask_ratio)``.
    images : torch.Tensor, shape (N, C, H, W), or ImageData
        Normalised images (or, for another model, whatever its ``check_inputs`` accepts, such
        as tokens of shape (N, L, D)); held on the device for the whole run.
    cfg : TrainConfig
    seed : SeedLike
        Seeds batches, masks and augmentation (``int`` recommended: it is recorded).
    device : str or torch.device, optional
        ``"auto"``/``None``: CUDA when available.
    progress : bool, optional
        tqdm bar; ``None`` shows it only on a terminal.
    checkpoint : path, optional
        Save model, optimiser and generator state here (atomically) every
        ``cfg.checkpoint_every`` steps, when stopping and at the end; if the file exists, resume
        from it (it must have been written with the same config). Under DDP only rank 0 writes
        it, and every rank resumes from it.
    stop_at : int, optional
        Stop after this many steps in total (for training in chunks); resume later with the
        same ``checkpoint``. On the CPU the resumed run ends with exactly the weights of an
        uninterrupted one; its history matches too when ``stop_at`` is a multiple of
        ``cfg.log_every`` (history entries average over logging intervals).

    Returns
    -------
    TrainResult

    Notes
    -----
    Multi-GPU: ``torchrun --nproc_per_node=W script.py`` runs the same call on ``W`` ranks with
    DistributedDataParallel (:func:`distributed_context`); ``cfg.batch_size`` is the global
    batch and must be divisible by ``W``. Every rank returns the same history (losses averaged
    over ranks) and ends with the same weights; the progress bar and checkpoints are rank 0's.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite (the message names the step).

    Examples
    --------
    >>> mae = MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    >>> res = train(mae, torch.randn(64, 1, 8, 8), TrainConfig(steps=4, batch_size=8,
    ...             log_every=2), seed=0, device="cpu")
    >>> [h["step"] for h in res.history], res.steps_done
    ([2, 4], 4)
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig; got {type(cfg).__name__}.")
    if stop_at is not None and not (isinstance(stop_at, int) and stop_at >= 1):
        raise ValueError(f"stop_at must be a positive int or None; got {stop_at!r}.")
    rank, world, dev = distributed_context(resolve_device(device))
    if cfg.batch_size % world:
        raise ValueError(f"batch size N={cfg.batch_size} must be divisible by the number of "
                         f"DDP processes W={world}; pick a multiple of {world}.")
    seed_record = seed if isinstance(seed, int) else None
    gen = make_generator(seed)
    model.to(dev).train()
    data = model.check_inputs(getattr(images, "images", images)).to(dev)
    optimizer = make_optimizer(model, cfg)
    batches = Batches(data, model, cfg, gen, dev, shard=(rank, world))
    net = model
    if world > 1:  # buffers (positional embeddings) are constant: no per-step broadcast
        ddp = torch.nn.parallel.DistributedDataParallel
        quiet = ("forward_sync_buffers" if "forward_sync_buffers"
                 in inspect.signature(ddp).parameters else "broadcast_buffers")
        net = ddp(model, device_ids=[dev.index] if dev.type == "cuda" else None,
                  **{quiet: False})
    forward = compile_model(net, cfg, dev)

    step, history = 0, []
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        if state["config"] != dataclasses.asdict(cfg):
            raise ValueError(
                f"checkpoint {ckpt_path} was written by a run with a different TrainConfig. "
                "Delete the file to start afresh, or pass the config it was written with."
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        batches.load_state(state["generator"].cpu())
        step, history = state["step"], list(state["history"])

    def save() -> None:
        if ckpt_path is not None and rank == 0:
            state = {"config": dataclasses.asdict(cfg), "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "generator": batches.state(),
                     "step": step, "history": history, "seed": seed_record}
            atomic_write(ckpt_path, lambda tmp: torch.save(state, tmp))

    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    flops = 3 * model.flops_per_image(cfg.mask_ratio)
    peak = peak_bf16_flops(dev)
    losses = torch.zeros(cfg.log_every, device=dev)
    t_start = t_log = time.perf_counter()
    first_in_log = step
    bar = tqdm(total=end, initial=step, disable=rank > 0 or not show_progress(progress),
               desc="train", unit="step")
    while step < end:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, masking = batches()
        losses[step - first_in_log] = train_step(forward, optimizer, x, masking, dev)
        step += 1
        bar.update(1)
        if step - first_in_log == cfg.log_every or step == end:
            interval = losses[: step - first_in_log]
            if world > 1:  # the mean over ranks is the loss on the global batch
                interval = interval.clone()
                dist.all_reduce(interval)
                interval /= world
            values = interval.tolist()  # the one host sync per interval
            for k, v in enumerate(values):
                if not math.isfinite(v):
                    bar.close()
                    raise FloatingPointError(
                        f"loss became {v} at step {first_in_log + k + 1}; lower the learning "
                        "rate, check the inputs for NaN, or train in float32."
                    )
            now = time.perf_counter()
            ips = cfg.batch_size * len(values) / max(now - t_log, 1e-9)
            entry = {"step": step, "loss": sum(values) / len(values), "lr": lr,
                     "images_per_s": ips}
            if peak:
                entry["mfu"] = ips * flops / (peak * world)
            history.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.4f}")
            t_log, first_in_log = now, step
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save()
    bar.close()
    if ckpt_path is not None:
        save()
    if world > 1:
        dist.barrier()  # the final checkpoint exists before any rank returns
    model.eval()
    return TrainResult(
        config=cfg,
        seed=seed_record,
        history=tuple(history),
        final_loss=history[-1]["loss"] if history else float("nan"),
        steps_done=step,
        wall_time=time.perf_counter() - t_start,
        provenance={**provenance(dev), "world_size": world},
    )
