"""Result files: where they live, how they are written, read back, validated and summarised.

A result is one JSON object with a schema version, the configs, seeds, metrics and its
provenance (git commit, versions, device, wall time). It is written atomically
(:func:`atomic_write`: a temporary file beside the target, then a rename), so a reader never
sees half a file, and :func:`load_result` validates it on the way back in: a missing, truncated,
old or malformed file is refused with the command that regenerates it (:func:`rerun_command`).
"""

from __future__ import annotations

import json
import math
import os
import shlex
from pathlib import Path

import torch

from .runtime import device_name

__all__ = ["RESULTS_DIR", "SCHEMA_VERSION", "atomic_write", "epoch_summary", "load_result",
           "provenance", "remove_stale_temps", "rerun_command", "result_path", "save_json",
           "summarise"]

SCHEMA_VERSION = 1
RESULTS_DIR = Path(__file__).resolve().parents[1] / "data" / "results"
"""Where the book looks for committed results (``data/results/`` of the repository)."""

DEFAULT_DATASET = "fashion_mnist"
"""The data set a result file name leaves out (``NAME.json`` is on Fashion-MNIST)."""


# --- provenance and atomic writes ------------------------------------------------------------
def provenance(device: torch.device | str = "cpu") -> dict:
    """Where a result came from: package, torch and Python versions, git commit, device.

    Examples
    --------
    >>> sorted(provenance("cpu"))
    ['device', 'git_commit', 'mae_theory', 'python', 'torch']
    """
    import platform
    import subprocess

    from . import __version__

    commit = os.environ.get("MAE_THEORY_GIT_COMMIT")  # set where the tree travels without .git
    if not commit:
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                cwd=Path(__file__).resolve().parent,
            )
            commit = out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            commit = None
    if commit and not (len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)):
        commit = None
    return {
        "mae_theory": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git_commit": commit,
        "device": device_name(device),
    }


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files ``NAME.tmp*`` that an interrupted write left beside ``path``.

    One writer per target is assumed (rank 0 under DDP), so any such file is a leftover.

    Returns
    -------
    list of Path
        The files removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = [p for p in path.parent.glob(f"{path.name}.tmp*") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    A reader never sees a half-written file. Temporary files left by an earlier interrupted
    write are removed first, and if ``write`` fails (or is interrupted) its own temporary file
    is removed before the error propagates.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(target, lambda tmp: tmp.write_text("hi"))
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('hi', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_json(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON with :func:`atomic_write`."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1)))


# --- where results live, and the command that makes them -------------------------------------
def result_path(name: str, *, smoke: bool = False, dataset: str = DEFAULT_DATASET,
                out: str | os.PathLike | None = None) -> Path:
    """``DIR/NAME[_DATASET][_smoke].json``; ``DIR`` defaults to :data:`RESULTS_DIR`.

    Examples
    --------
    >>> result_path("decoder_depth", smoke=True, dataset="digits", out="results").as_posix()
    'results/decoder_depth_digits_smoke.json'
    """
    stem = name + ("" if dataset == DEFAULT_DATASET else f"_{dataset}") + ("_smoke" * smoke)
    return Path(out if out is not None else RESULTS_DIR) / f"{stem}.json"


def rerun_command(path: str | os.PathLike) -> str | None:
    """The ``python -m mae_theory run ...`` command that writes the result file ``path``.

    The file name is read back as :func:`result_path` builds it. ``None`` when the name is not
    that of a registered experiment.

    Examples
    --------
    >>> rerun_command(result_path("decoder_depth", smoke=True, dataset="digits", out="r"))
    'python -m mae_theory run decoder_depth --smoke --dataset digits --out r'
    >>> rerun_command(RESULTS_DIR / "mask_ratio_sweep.json")
    'python -m mae_theory run mask_ratio_sweep --device cuda'
    """
    from .experiments import EXPERIMENTS  # the registry imports this module

    path = Path(path)
    stem = path.stem
    smoke = stem.endswith("_smoke")
    stem = stem.removesuffix("_smoke")
    names = [n for n in EXPERIMENTS if stem == n or stem.startswith(n + "_")]
    if not names:
        return None
    name = max(names, key=len)
    dataset = stem[len(name) + 1:]
    argv = ["python", "-m", "mae_theory", "run", name, "--smoke" if smoke else "--device",
            *([] if smoke else ["cuda"]), *(["--dataset", dataset] if dataset else [])]
    if path.parent.resolve() != RESULTS_DIR:
        argv += ["--out", str(path.parent)]
    return shlex.join(argv)


# --- reading back ----------------------------------------------------------------------------
_REQUIRED = {"schema": int, "name": str, "smoke": bool, "dataset": str, "parameter": str,
             "values": list, "seeds": list, "config": dict, "paper": dict, "runs": list,
             "summary": dict, "wall_time_s": (int, float), "provenance": dict}
_RUN_REQUIRED = {"seed": int, "metrics": dict, "epochs": list, "final_loss": (int, float)}


def load_result(path: str | os.PathLike) -> dict:
    """Read and validate a result file written by :func:`~mae_theory.experiments.run_experiment`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (the message gives the command that produces it).
    ValueError
        If it is not valid JSON (corrupted or truncated), has another schema version, or lacks
        a required key or has one of the wrong type; the message says how to regenerate it.
    """
    path = Path(path)
    cmd = rerun_command(path)
    redo = (f"Regenerate it with `{cmd}` (see book/reproducing_gpu_results.md)." if cmd else
            "No registered experiment writes a file of this name; list them with "
            "`python -m mae_theory list`.")
    if not path.exists():
        raise FileNotFoundError(f"no result file {path}. {redo}")
    try:
        res = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"result file {path} is corrupted or truncated ({err}). {redo}") from err
    if not isinstance(res, dict):
        raise ValueError(f"result file {path} holds a {type(res).__name__}, not an object. "
                         f"{redo}")
    if res.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"result file {path} has schema {res.get('schema')!r}; this version "
                         f"of mae_theory reads schema {SCHEMA_VERSION}. {redo}")
    checks = [(res, _REQUIRED, "")] + [(r, _RUN_REQUIRED, f"runs[{i}].")
                                         for i, r in enumerate(res.get("runs", []))
                                         if isinstance(r, dict)]
    for obj, required, prefix in checks:
        for key, typ in required.items():
            if key not in obj or not isinstance(obj[key], typ) or (
                    typ is int and isinstance(obj[key], bool)):
                got = type(obj[key]).__name__ if key in obj else "nothing"
                raise ValueError(f"result file {path}: key {prefix}{key!r} must be "
                                 f"{getattr(typ, '__name__', typ)}; found {got}. {redo}")
    if not res["runs"] or not all(isinstance(r, dict) for r in res["runs"]):
        raise ValueError(f"result file {path} has no runs. {redo}")
    return res


# --- summaries -------------------------------------------------------------------------------
def summarise(runs: list[dict]) -> dict:
    """``{metric: {str(value): {"mean", "std", "n"}}}`` over seeds (sample std, 0 for n = 1).

    Examples
    --------
    >>> runs = [{"value": 0.5, "metrics": {"knn": 0.2}}, {"value": 0.5, "metrics": {"knn": 0.4}}]
    >>> s = summarise(runs)["knn"]["0.5"]
    >>> round(s["mean"], 6), round(s["std"], 6), s["n"]
    (0.3, 0.141421, 2)
    """
    table: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for key, v in run["metrics"].items():
            table.setdefault(key, {}).setdefault(str(run["value"]), []).append(float(v))
    out = {}
    for key, by_value in table.items():
        out[key] = {}
        for value, xs in by_value.items():
            mean = sum(xs) / len(xs)
            var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
            out[key][value] = {"mean": mean, "std": math.sqrt(var), "n": len(xs)}
    return out


def epoch_summary(history, steps_per_epoch: int) -> list[dict]:
    """Average the training history (one entry per logging interval) per epoch.

    Examples
    --------
    >>> h = [{"step": 2, "loss": 1.0, "images_per_s": 10.0}, {"step": 4, "loss": 3.0,
    ...      "images_per_s": 30.0}, {"step": 6, "loss": 5.0, "images_per_s": 50.0}]
    >>> [e["loss"] for e in epoch_summary(h, 4)]
    [2.0, 5.0]
    """
    epochs: dict[int, list[dict]] = {}
    for h in history:
        epochs.setdefault(math.ceil(h["step"] / steps_per_epoch), []).append(h)
    rows = []
    for epoch, hs in sorted(epochs.items()):
        row = {"epoch": epoch, "step": hs[-1]["step"]}
        for key in ("loss", "images_per_s", "mfu"):
            vals = [h[key] for h in hs if key in h]
            if vals:
                row[key] = sum(vals) / len(vals)
        rows.append(row)
    return rows
