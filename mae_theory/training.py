"""Training a masked autoencoder: one loop for the laptop CPU and the GPU.

:func:`train` runs AdamW (betas 0.9/0.95, no decay on biases, norms and tokens) with a linear
warm-up and a half-cycle cosine learning-rate schedule,

.. math:: \\eta_t = \\eta \\frac{t+1}{T_w} \\;(t < T_w), \\qquad
          \\eta_t = \\eta_{min} + \\tfrac12(\\eta - \\eta_{min})
          \\bigl(1 + \\cos \\pi \\tfrac{t - T_w}{T - T_w}\\bigr) \\;(t \\ge T_w),

on mini-batches drawn from a tensor of images held on the device (:mod:`~mae_theory.batches`).

The CPU path draws batches and masks on a seeded CPU generator, so a seed gives bit-identical
results, and a run stopped at a checkpoint (:mod:`~mae_theory.checkpoint`) and resumed ends
exactly where an uninterrupted run does. On CUDA the same loop becomes the fast path: images
resident on the GPU, batches, masks and augmentation drawn by a CUDA generator, bf16 autocast,
fused AdamW, optional ``torch.compile``, and no host synchronisation except at the logging
points (:mod:`~mae_theory.throughput` turns those into images/s and MFU). Under ``torchrun`` the
same :func:`train` runs data-parallel (:mod:`~mae_theory.distributed`).

A non-finite loss stops the run with :class:`FloatingPointError`, and the model keeps finite
weights. In a single CPU process every loss is checked before its update is applied (reading a
CPU scalar costs nothing), so the model holds the weights of the step before. Elsewhere (CUDA,
DDP) checking every step would cost a host sync per step: there the losses are checked at each
logging point (the one sync the loop already has), and :class:`~mae_theory.guard.LastGood`
keeps a device-side copy of the weights and optimiser state of the last checked point, restored
before the error is raised (:mod:`~mae_theory.guard`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .batches import Batches, augment_batch
from .checkpoint import load_checkpoint, save_checkpoint
from .checks import check_float, check_int
from .distributed import barrier, distributed_context, wrap_ddp
from .guard import Interval, LastGood, checks_every_step, non_finite
from .results import provenance
from .runtime import (
    DeviceLike,
    SeedLike,
    autocast,
    make_generator,
    resolve_device,
    show_progress,
)
from .throughput import Throughput

__all__ = ["TrainConfig", "TrainResult", "augment_batch", "compile_model", "lr_at",
           "make_optimizer", "train", "train_step"]

# field: (low, high, symbol) for ints; the float fields are checked one by one below
_INTS = {"steps": (1, "T"), "batch_size": (1, "N"), "warmup_steps": (0, "T_w"),
         "mask_unit": (1, "u"), "pad": (0, None), "log_every": (1, None),
         "checkpoint_every": (0, None)}
_BOOLS = ("augment", "compile", "cuda_graphs")


@dataclass(frozen=True)
class TrainConfig:
    """How to train (CPU-sized defaults: a few hundred steps on digits in about a minute).

    Every field is validated on construction (:class:`ValueError`/:class:`TypeError` naming the
    field and the fix).

    Examples
    --------
    >>> TrainConfig(lr=float("inf"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: TrainConfig.lr (eta) must be a finite number in (0.0, inf); got inf. Use a ...
    """

    steps: int = 300  # T, optimiser steps
    batch_size: int = 128  # N, images per step (global: shared by all DDP ranks)
    lr: float = 1.5e-3  # eta, peak learning rate
    min_lr: float = 0.0  # eta_min, end of the cosine
    warmup_steps: int = 20  # T_w, linear warm-up (may exceed T: the run ends warming up)
    weight_decay: float = 0.05  # AdamW decay on weight matrices only
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment decay rates
    mask_ratio: float = 0.75  # r
    mask_unit: int = 1  # u, masking unit side in ViT patches
    augment: bool = False  # random flip, resized crop (crop_scale < 1) and +-pad shift
    pad: int = 2  # translation range of the augmentation, pixels
    crop_scale: float = 1.0  # s_0, smallest random-resized-crop area fraction (1: no crop)
    log_every: int = 10  # history entry (and the only host sync) every this many steps
    compile: bool = False  # torch.compile the model (worth it on CUDA for long runs)
    cuda_graphs: bool = False  # with compile on CUDA: mode="reduce-overhead" (CUDA graphs)
    checkpoint_every: int = 0  # steps between checkpoints (0: only at the end / stop)

    def __post_init__(self):
        def fix(name: str, value) -> None:
            object.__setattr__(self, name, value)

        for name, (low, symbol) in _INTS.items():
            fix(name, check_int(f"TrainConfig.{name}", getattr(self, name), low=low,
                                symbol=symbol))
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"TrainConfig.{name} must be True or False; got "
                                f"{getattr(self, name)!r}.")
        fix("lr", check_float("TrainConfig.lr", self.lr, low=0.0, low_open=True, symbol="eta",
                              fix="Use a small positive peak learning rate, e.g. lr=1.5e-3."))
        fix("min_lr", check_float("TrainConfig.min_lr", self.min_lr, low=0.0, high=self.lr,
                                  symbol="eta_min", fix="It must lie between 0 and lr."))
        fix("weight_decay", check_float(
            "TrainConfig.weight_decay", self.weight_decay, low=0.0,
            fix="Use 0 for no decay, or a small positive value such as 0.05."))
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"TrainConfig.betas must be a pair (beta1, beta2); got {betas!r}. "
                            "Use e.g. betas=(0.9, 0.95).")
        fix("betas", tuple(check_float(f"TrainConfig.betas[{i}]", b, low=0.0, high=1.0,
                                       high_open=True, fix="Use e.g. betas=(0.9, 0.95).")
                           for i, b in enumerate(betas)))
        fix("crop_scale", check_float(
            "TrainConfig.crop_scale", self.crop_scale, low=0.0, low_open=True, high=1.0,
            symbol="s_0", fix="Use e.g. crop_scale=0.35 (area fraction), or 1.0 for no crop."))
        fix("mask_ratio", check_float("TrainConfig.mask_ratio", self.mask_ratio, low=0.0,
                                      high=1.0, high_open=True, symbol="r",
                                      fix="Use e.g. mask_ratio=0.75."))


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


def compile_model(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
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
               device: torch.device, *, step: int | None = None) -> torch.Tensor:
    """One optimiser step on one batch; returns the loss as a device tensor.

    With ``step`` given, the loss is read back and checked *before* the update: a non-finite
    loss raises :class:`FloatingPointError` naming ``step`` and leaves weights and optimiser
    untouched (a host sync: the CPU path). Without it there is no host sync.
    """
    with autocast(device):
        loss, _, _ = forward(x, masking=masking)
    if step is not None and not math.isfinite(value := loss.item()):
        raise non_finite(value, step, f"the weights after step {step - 1}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train(model, images, cfg: TrainConfig = TrainConfig(), *, seed: SeedLike = None,
          device: DeviceLike = "auto", progress: bool | None = None,
          checkpoint: str | os.PathLike | None = None, stop_at: int | None = None
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
        Normalised images (or whatever the model's ``check_inputs`` accepts, such as tokens of
        shape (N, L, D)); held on the device for the whole run.
    cfg : TrainConfig
    seed : SeedLike
        Seeds batches, masks and augmentation (``int`` recommended: it is recorded).
    device : DeviceLike
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
        ``cfg.log_every``.

    Returns
    -------
    TrainResult

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names the step, and the model keeps
        finite weights (see the module notes for which ones).

    Notes
    -----
    Multi-GPU: ``torchrun --nproc_per_node=W script.py`` runs the same call on ``W`` ranks;
    ``cfg.batch_size`` is the global batch and must be divisible by ``W``. Every rank returns
    the same history (losses averaged over ranks) and ends with the same weights.

    Examples
    --------
    >>> from mae_theory import MAE
    >>> mae = MAE(8, 2, 1, 16, 1, 2, 16, 1, 2, seed=0)
    >>> res = train(mae, torch.randn(64, 1, 8, 8), TrainConfig(steps=4, batch_size=8,
    ...             log_every=2), seed=0, device="cpu")
    >>> [h["step"] for h in res.history], res.steps_done
    ([2, 4], 4)
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig; got {type(cfg).__name__}.")
    if stop_at is not None:
        stop_at = check_int("stop_at", stop_at, fix="Pass a step count, or None to run all.")
    rank, world, dev = distributed_context(resolve_device(device))
    if cfg.batch_size % world:
        raise ValueError(f"batch size N={cfg.batch_size} must be divisible by the number of "
                         f"DDP processes W={world}; pick a multiple of {world}.")
    seed_record = seed if isinstance(seed, int) else None
    model.to(dev).train()
    data = model.check_inputs(getattr(images, "images", images)).to(dev)
    optimizer = make_optimizer(model, cfg)
    batches = Batches(data, model, cfg, seed=make_generator(seed), device=dev,
                      shard=(rank, world))
    forward = compile_model(wrap_ddp(model, dev) if world > 1 else model, cfg, dev)
    eager = checks_every_step(dev, world)  # else: at each logging point, with LastGood

    step, history = 0, []
    ckpt = Path(checkpoint) if checkpoint is not None else None
    state = load_checkpoint(ckpt, cfg, dev) if ckpt is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        batches.load_state(state["generator"].cpu())
        step, history = state["step"], list(state["history"])
    interval = Interval(cfg.log_every, dev, world,
                        None if eager else LastGood(model, optimizer, step))
    interval.load(state.get("pending", []) if state is not None else [])

    def save(values: list[float]) -> None:
        if rank == 0:
            save_checkpoint(ckpt, cfg, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": batches.state(), "step": step, "history": history,
                "pending": values, "seed": seed_record})

    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    meter = Throughput(cfg.batch_size, model.flops_per_image(cfg.mask_ratio), dev, world, step)
    with tqdm(total=end, initial=step, disable=rank > 0 or not show_progress(progress),
              desc="train", unit="step") as bar:
        while step < end:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, masking = batches()
            interval.add(train_step(forward, optimizer, x, masking, dev,
                                    step=step + 1 if eager else None))
            step += 1
            bar.update(1)
            log_now = interval.n == cfg.log_every or step == end
            save_now = (ckpt is not None and cfg.checkpoint_every > 0 and step < end
                        and step % cfg.checkpoint_every == 0)
            values = interval.read(step) if log_now or save_now else []
            if log_now:
                history.append({"step": step, "loss": sum(values) / len(values), "lr": lr,
                                **meter.interval(step)})
                bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
                interval.n, values = 0, []
            if save_now:
                save(values)
    if ckpt is not None:
        save([])
    barrier(world)  # the final checkpoint exists before any rank returns
    model.eval()
    return TrainResult(config=cfg, seed=seed_record, history=tuple(history),
                       final_loss=history[-1]["loss"] if history else float("nan"),
                       steps_done=step, wall_time=meter.elapsed,
                       provenance={**provenance(dev), "world_size": world})
