"""Throughput and model FLOPs utilisation (MFU) of a training run.

.. math:: \\mathrm{MFU} = \\frac{\\text{images/s} \\times 3 F}{W \\times P}

with :math:`F` the forward FLOPs per image (the model's ``flops_per_image``; backward costs about
twice the forward), :math:`W` the number of data-parallel GPUs and :math:`P` one GPU's dense bf16
peak (:func:`peak_bf16_flops`, from datasheets). On the CPU, or on a GPU whose peak is not in the
table, only images/s is reported.
"""

from __future__ import annotations

import time

import torch

__all__ = ["Throughput", "peak_bf16_flops"]

# Dense bf16 tensor-core peak, FLOP/s, by device name (datasheets); used for MFU.
_PEAK_BF16 = {
    "H200": 989e12,
    "H100 SXM": 989e12,
    "H100 80GB HBM3": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
}


def peak_bf16_flops(device: torch.device | str) -> float | None:
    """Dense bf16 peak of a CUDA device in FLOP/s from its name, or ``None`` when unknown/CPU.

    Examples
    --------
    >>> peak_bf16_flops("cpu") is None
    True
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    name = torch.cuda.get_device_name(dev)
    for key, value in _PEAK_BF16.items():
        if key in name:
            return value
    return None


class Throughput:
    """Images/s (and MFU where the peak is known) over each logging interval of a run.

    Parameters
    ----------
    batch_size : int
        Global images per step (``N``, all ranks together).
    flops_per_image : float
        Forward FLOPs per image ``F``; a training step costs ``3 F`` per image.
    device : torch.device
    world : int
        Data-parallel processes ``W``.
    step : int
        The step the run starts at (after a resume, the checkpoint's).

    Examples
    --------
    >>> meter = Throughput(8, 1e6, torch.device("cpu"))
    >>> entry = meter.interval(4)  # at step 4
    >>> sorted(entry), entry["images_per_s"] > 0
    (['images_per_s'], True)
    """

    def __init__(self, batch_size: int, flops_per_image: float, device: torch.device,
                 world: int = 1, step: int = 0):
        self.batch_size, self.world, self.step = batch_size, world, step
        self.flops = 3 * flops_per_image
        self.peak = peak_bf16_flops(device)
        self.start = self.last = time.perf_counter()

    def interval(self, step: int) -> dict:
        """``{"images_per_s"[, "mfu"]}`` over the steps since the previous call, now at ``step``."""
        now = time.perf_counter()
        ips = self.batch_size * (step - self.step) / max(now - self.last, 1e-9)
        self.last, self.step = now, step
        entry = {"images_per_s": ips}
        if self.peak:
            entry["mfu"] = ips * self.flops / (self.peak * self.world)
        return entry

    @property
    def elapsed(self) -> float:
        """Seconds since the meter was made."""
        return time.perf_counter() - self.start
