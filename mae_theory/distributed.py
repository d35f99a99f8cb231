"""Data-parallel training under ``torchrun``: the one place that knows ranks and world sizes.

:func:`distributed_context` starts (or joins) the process group that ``torchrun`` describes in
the environment; :func:`rank` and :func:`world_size` answer for the current process (``0`` and
``1`` in a plain process); :func:`wrap_ddp` wraps a model in DistributedDataParallel and
:func:`mean_over_ranks` averages a tensor over the ranks. :mod:`mae_theory.training` and
:mod:`mae_theory.experiments` both ask here.

How the work is shared: every rank seeds the same generator with the same ``seed``, so all ranks
draw the same global batch of ``N`` indices, augmentations and masks each step; rank ``k`` of
``W`` keeps samples ``[k N/W, (k+1) N/W)``. Every image has the same number of masked patches,
so the mean of the ranks' losses is the single-process loss on the global batch, and DDP's
gradient average is its gradient: the run matches a one-process run with the same seed up to
floating-point summation order.
"""

from __future__ import annotations

import inspect
import os

import torch
import torch.distributed as dist

__all__ = ["distributed_context", "mean_over_ranks", "rank", "world_size", "wrap_ddp"]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """Rank of this process (``0`` when not distributed).

    Examples
    --------
    >>> rank(), world_size()
    (0, 1)
    """
    return dist.get_rank() if _active() else 0


def world_size() -> int:
    """Number of data-parallel processes (``1`` when not distributed)."""
    return dist.get_world_size() if _active() else 1


def distributed_context(device: torch.device) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)`` of this process; starts DDP from torchrun's environment.

    If ``torch.distributed`` is initialised, its rank and world size are used. Otherwise, when
    ``WORLD_SIZE > 1`` (set by ``torchrun``), the process group is initialised here: NCCL on
    CUDA (each rank on ``cuda:LOCAL_RANK``), gloo on the CPU. Else ``(0, 1, device)``.

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
    r, world = dist.get_rank(), dist.get_world_size()
    if device.type == "cuda" and device.index is None:
        local = int(os.environ.get("LOCAL_RANK", r % torch.cuda.device_count()))
        device = torch.device("cuda", local)
    return r, world, device


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel, without the per-step buffer broadcast.

    The MAE's buffers (positional embeddings) are constant, so broadcasting them every step
    would only cost time.
    """
    ddp = torch.nn.parallel.DistributedDataParallel
    quiet = ("forward_sync_buffers" if "forward_sync_buffers"
             in inspect.signature(ddp).parameters else "broadcast_buffers")
    return ddp(model, device_ids=[device.index] if device.type == "cuda" else None,
               **{quiet: False})


def mean_over_ranks(x: torch.Tensor, world: int) -> torch.Tensor:
    """The mean of ``x`` over the ``world`` ranks (a copy; ``x`` itself when ``world == 1``).

    Every rank must call it (it is a collective).
    """
    if world == 1:
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x / world


def barrier(world: int) -> None:
    """Wait for every rank (nothing to wait for in a plain process)."""
    if world > 1:
        dist.barrier()
