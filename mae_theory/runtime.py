"""Devices, precision and random numbers: the only place the package decides any of them.

Every random function in :mod:`mae_theory` takes a keyword-only ``seed=`` of type
:data:`SeedLike` and resolves it here with :func:`make_generator`; nothing touches torch's
global random state. Random numbers are drawn on a CPU generator and then moved, so the same seed
gives the same data and masks on a laptop and on a GPU.

Mixed precision is one context manager, :func:`autocast`: bfloat16 on CUDA, nothing on the CPU.
Weights stay in float32 and no gradient scaler is needed.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch

SeedLike = int | torch.Generator | None
"""A seed: an ``int``, a ready ``torch.Generator`` (used as it is), or ``None`` (fresh entropy)."""

DeviceLike = str | torch.device | None
"""A device: ``"auto"``/``None`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda:1"``..."""


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn a device request into a :class:`torch.device`.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` or ``None`` picks CUDA when it is available and the CPU otherwise.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If CUDA is asked for on a machine without it, or the string is not a device.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA but torch.cuda.is_available() is False on this "
            "machine. Use device='cpu' or 'auto', or install a CUDA build of torch."
        )
    return dev


def make_generator(seed: SeedLike = None) -> torch.Generator:
    """Resolve a :data:`SeedLike` into a CPU :class:`torch.Generator`.

    Parameters
    ----------
    seed : int, torch.Generator or None
        An ``int`` seeds a new generator; a generator is returned unchanged (so a caller can
        thread one generator through several draws); ``None`` seeds from fresh entropy.

    Returns
    -------
    torch.Generator

    Examples
    --------
    >>> g = make_generator(0)
    >>> torch.rand(2, generator=g).tolist() == torch.rand(2, generator=make_generator(0)).tolist()
    True
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        gen = torch.Generator()
        gen.seed()
        return gen
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(
            f"seed must be an int, a torch.Generator or None; got {type(seed).__name__}."
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}.")
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def derive_seed(gen: torch.Generator) -> int:
    """Draw a fresh integer seed from ``gen`` (for seeding a sub-component reproducibly)."""
    return int(torch.randint(0, 2**62, (1,), generator=gen).item())


def autocast(device: torch.device | str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA (when supported), a no-op elsewhere.

    Examples
    --------
    >>> with autocast("cpu"):
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def show_progress(progress: bool | None) -> bool:
    """Whether to draw a tqdm bar: ``True``/``False`` as asked; ``None`` means "when on a TTY"."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("MAE_THEORY_PROGRESS") == "0":
        return False
    return sys.stderr.isatty()


def device_name(device: torch.device | str) -> str:
    """A human-readable name: the GPU model on CUDA, the processor architecture on CPU."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    import platform

    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


# Moved: provenance and atomic writes to mae_theory.results, the bf16 peak to
# mae_theory.throughput. The old names still resolve here (imported on first use: those
# modules import this one).
_MOVED = {"atomic_write": "results", "provenance": "results", "save_json": "results",
          "peak_bf16_flops": "throughput"}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f".{_MOVED[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
