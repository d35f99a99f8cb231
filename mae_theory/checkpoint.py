"""Training checkpoints: written atomically, checked against the config on resume.

A checkpoint holds everything a run needs to continue exactly where it stopped: the model and
optimiser state, the state of the generator that draws batches and masks, the step, the history
and the losses of the logging interval in progress. It is written with
:func:`~mae_theory.results.atomic_write` (temporary file, then rename), so an interrupted write
leaves the previous checkpoint intact and no temporary file behind; leftovers of a process that
was killed mid-write are removed at the next save or resume.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from .results import atomic_write, remove_stale_temps

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: str | os.PathLike, cfg, state: dict) -> None:
    """Write ``state`` (plus ``cfg`` as a dict, under ``"config"``) to ``path`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> from mae_theory.training import TrainConfig
    >>> p = Path(tempfile.mkdtemp()) / "run.pt"
    >>> save_checkpoint(p, TrainConfig(), {"step": 3})
    >>> load_checkpoint(p, TrainConfig(), "cpu")["step"]
    3
    """
    state = {**state, "config": dataclasses.asdict(cfg)}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike, cfg, device) -> dict | None:
    """The checkpoint at ``path`` (tensors on ``device``), or ``None`` if there is none yet.

    Temporary files that an interrupted save left beside ``path`` are removed.

    Raises
    ------
    ValueError
        If the checkpoint was written by a run with another config (resuming it would mix two
        recipes), or the file is not a readable checkpoint.
    """
    path = Path(path)
    remove_stale_temps(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # torch raises several kinds for a damaged file
        raise ValueError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}). "
                         "Delete the file to start afresh.") from err
    if not isinstance(state, dict) or state.get("config") != dataclasses.asdict(cfg):
        raise ValueError(
            f"checkpoint {path} was written by a run with a different TrainConfig. "
            "Delete the file to start afresh, or pass the config it was written with."
        )
    return state
