"""Keeping a run finite: a non-finite loss stops training and leaves finite weights behind.

Two ways, chosen by :func:`~mae_theory.training.train`:

- exact (one CPU process): every loss is read before its update is applied
  (:func:`~mae_theory.training.train_step` with ``step=``); reading a CPU scalar costs nothing,
  so a NaN at step ``k`` leaves the weights and optimiser state after step ``k - 1``;
- deferred (CUDA, DDP): reading every loss would add a host sync per step, so the losses of a
  logging interval stay on the device (:class:`Interval`) and are checked when the interval is
  read, the one sync the loop already has. :class:`LastGood` keeps a device-side copy of the
  weights and AdamW state at the last successful check; on a non-finite loss it is restored, so
  the model holds the weights of the last logging point (or checkpoint) before the bad step.
  The cost: one more copy of the parameters and both AdamW moments in device memory, and one
  batched device-to-device copy per logging interval.
"""

from __future__ import annotations

import math

import torch

from .distributed import mean_over_ranks

__all__ = ["Interval", "LastGood", "checks_every_step", "non_finite"]


def checks_every_step(device: torch.device, world: int) -> bool:
    """Whether each loss is read and checked before its update: in one CPU process only.

    Examples
    --------
    >>> checks_every_step(torch.device("cpu"), 1), checks_every_step(torch.device("cpu"), 2)
    (True, False)
    """
    return device.type == "cpu" and world == 1


def non_finite(value: float, step: int, kept: str) -> FloatingPointError:
    """The error for a non-finite loss ``value`` at ``step``; ``kept`` names the weights left.

    Examples
    --------
    >>> str(non_finite(float("nan"), 8, "the weights after step 7"))[:43]
    'loss became nan at step 8; the model keeps '
    """
    return FloatingPointError(
        f"loss became {value} at step {step}; the model keeps {kept}. Lower the learning rate, "
        "check the inputs for NaN, or train in float32.")


class LastGood:
    """A device-side copy of the weights and optimiser state at the last checked step.

    :meth:`save` refreshes it (one batched device copy, no host sync); :meth:`restore` puts it
    back. It costs one more copy of the parameters and of AdamW's two moments.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int = 0):
        self.model, self.optimizer = model, optimizer
        self.copies: list[torch.Tensor] = []
        self.step = step
        self.save(step)

    def _live(self) -> list[torch.Tensor]:
        params = list(self.model.parameters())
        state = [v for p in params for _, v in sorted(self.optimizer.state.get(p, {}).items())
                 if isinstance(v, torch.Tensor)]
        return [p.detach() for p in params] + state

    def save(self, step: int) -> None:
        live = self._live()
        if len(live) != len(self.copies):  # first call, or AdamW made its state since
            self.copies = [t.clone() for t in live]
        else:
            torch._foreach_copy_(self.copies, live)
        self.step = step

    @torch.no_grad()
    def restore(self) -> None:
        live = self._live()
        if len(live) != len(self.copies):  # saved before AdamW's first step: no state then
            self.optimizer.state.clear()
            live = self._live()
        torch._foreach_copy_(live, self.copies)


class Interval:
    """The losses of the logging interval in progress, kept on the device until read.

    :meth:`read` is the one host sync of an interval: it averages over DDP ranks, checks that
    every loss is finite and then refreshes the :class:`LastGood` copy (or, on a non-finite
    loss, restores it and raises :class:`FloatingPointError` naming the step).
    """

    def __init__(self, size: int, device: torch.device, world: int, guard: LastGood | None):
        self.losses, self.n = torch.zeros(size, device=device), 0
        self.world, self.guard = world, guard

    def add(self, loss: torch.Tensor) -> None:
        self.losses[self.n] = loss
        self.n += 1

    def load(self, values: list[float]) -> None:
        """Continue an interval that a checkpoint saved half-way."""
        self.n = len(values)
        self.losses[:self.n] = torch.tensor(values, dtype=self.losses.dtype)

    def read(self, step: int) -> list[float]:
        values = mean_over_ranks(self.losses[:self.n], self.world).tolist()
        for k, v in enumerate(values):
            if not math.isfinite(v):
                bad = step - self.n + k + 1
                if self.guard is None:  # unreachable: the eager path checks every loss
                    raise non_finite(v, bad, "its current weights")
                self.guard.restore()
                raise non_finite(v, bad, f"the weights of step {self.guard.step} (the last "
                                          "check)")
        if self.guard is not None:
            self.guard.save(step)
        return values
