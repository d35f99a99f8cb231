"""Named experiments on real images: pretrain an MAE per setting, then probe and score it.

Three sweeps of chapter 9, each a registered :class:`Experiment`:

- ``mask_ratio_sweep``: masking ratio :math:`r \\in \\{0.1, 0.25, 0.5, 0.75, 0.9\\}` (Kong et
  al. 2023, Table 1: an inverted U of linear-probe accuracy peaking at 0.75);
- ``masking_unit``: ViT patch 2, masking units of 2, 4 and 8 pixels at :math:`r = 0.75`;
- ``decoder_depth``: 1, 2, 4 and 8 decoder blocks (He et al. 2022, Table 1a).

A run (:func:`run_experiment`) pretrains one MAE per (setting, seed) with
:func:`~mae_theory.training.train` on the training split, then measures on the test split: the
linear probe and k-NN accuracy of the frozen encoder, partial fine-tuning of its last block, and
the PSNR/SSIM of its reconstructions (``mae_theory.probes``). The result is one JSON file with a
schema version, the configs, seeds, per-epoch history (loss, images/s, MFU), metrics, and
provenance (git commit, versions, device, wall time), written atomically; reading, validating
and summarising result files is :mod:`mae_theory.results`' job (:func:`load_result`,
:func:`result_path` are re-exported here). The full size runs on a GPU
(``python -m mae_theory run NAME --device cuda``); ``smoke=True`` shrinks every experiment to
digits-sized runs that take seconds on a CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checks import check_int
from .data import ImageData, load_dataset, load_digits
from .distributed import rank, world_size
from .models import MAE
from .probes import knn_accuracy, linear_probe, partial_finetune, reconstruction_quality
from .results import (  # noqa: F401  (result_path, load_result, ...: reachable from here too)
    RESULTS_DIR,
    SCHEMA_VERSION,
    epoch_summary,
    load_result,
    provenance,
    result_path,
    save_json,
    summarise,
)
from .runtime import DeviceLike, autocast, resolve_device
from .training import TrainConfig, train
from .verdicts import Claim, Equivalence, PairedTest, Verdict, judge, t_interval

DATASETS = ("fashion_mnist", "cifar10", "digits", "synthetic_shapes")
"""The data sets an experiment can run on (``--dataset`` of the command line)."""

TINY4 = dict(img_size=32, patch_size=4, in_chans=1, embed_dim=192, depth=12, num_heads=3,
             decoder_embed_dim=128, decoder_depth=4, decoder_num_heads=4)
"""ViT-Tiny/4 at 32 px with a 128-d x 4 decoder: the benchmarked configuration."""


@dataclass(frozen=True)
class Experiment:
    """A named sweep: one swept setting, a model, a training recipe and the evaluations."""

    name: str  # registry key, also the result file's stem
    description: str  # one line for ``python -m mae_theory list``
    parameter: str  # swept setting: "mask_ratio", "mask_unit_px" or "decoder_depth"
    values: tuple  # the settings, in plot order
    model: dict = field(default_factory=lambda: dict(TINY4))  # MAE(**model) before the sweep
    train: TrainConfig = TrainConfig()  # recipe; ``steps`` is overridden by ``epochs``
    epochs: int = 100  # passes over the training split per pretraining run
    seeds: tuple[int, ...] = (0, 1, 2)  # one pretraining run per seed and setting
    dataset: str = "fashion_mnist"  # "fashion_mnist", "cifar10", "digits", "synthetic_shapes"
    probe_epochs: int = 90  # linear-probe epochs (MAE's protocol: 90)
    probe_batch: int = 1024  # linear-probe and partial fine-tuning batch size
    finetune_epochs: int = 10  # partial fine-tuning of the last encoder block (0: skip)
    knn_k: int = 20  # neighbours of the k-NN vote
    test_mask_ratio: float = 0.75  # r at which every model's reconstructions are scored
    paper: dict = field(default_factory=dict)  # reference numbers the chapter plots
    tier: str = "gpu"  # "gpu": one run of everything; "cpu": resumable units, with controls
    probe_train: int = 0  # training images for probes and fine-tuning (0: the whole split)
    gate_margin: float = 0.10  # learning gate: masked loss this far below the mean patch's


def _gpu_train() -> TrainConfig:
    """The benchmarked GPU recipe (``steps`` and warm-up are set per run from the epochs)."""
    return TrainConfig(batch_size=1024, lr=1.5e-4 * 1024 / 256, augment=True, log_every=50,
                       compile=True, cuda_graphs=True, warmup_steps=0, steps=1)


_KONG = "Kong et al. 2023, Table 1: ViT-B/16 on ImageNet-1K, linear probe top-1 %"
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment(
        "mask_ratio_sweep", "linear probe, k-NN and PSNR/SSIM over the masking ratio r",
        "mask_ratio", (0.1, 0.25, 0.5, 0.75, 0.9), train=_gpu_train(),
        paper={"source": _KONG, "metric": "linear_probe",
               "values": {"0.1": 47.45, "0.25": 53.58, "0.5": 60.07, "0.75": 67.41,
                          "0.9": 62.97}}),
    Experiment(
        "masking_unit", "ViT patch 2, masking units of 2, 4 and 8 px at r = 0.75",
        "mask_unit_px", (2, 4, 8), model={**TINY4, "patch_size": 2}, train=_gpu_train(),
        epochs=50,
        paper={"source": _KONG + " (ViT/8, masking patch 8/16/32 px on 224 px images)",
               "metric": "linear_probe", "values": {"2": 62.57, "4": 68.96, "8": 73.31}}),
    Experiment(
        "decoder_depth", "decoder blocks 1, 2, 4, 8 at r = 0.75",
        "decoder_depth", (1, 2, 4, 8), train=_gpu_train(),
        paper={"source": "He et al. 2022, Table 1a: ViT-L/16 on ImageNet-1K, linear probe %",
               "metric": "linear_probe",
               "values": {"1": 65.5, "2": 70.0, "4": 71.9, "8": 73.5}}),
)}


# --- the CPU tier: Fashion-MNIST at 28 px (padded to 32), two single-thread processes --------
CPU_MODEL = dict(img_size=32, patch_size=4, in_chans=1, embed_dim=64, depth=4, num_heads=4,
                 decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4, norm_pix_loss=True)
"""The CPU tier's MAE: p = 4 on 28 px images padded to 32 (an 8 x 8 grid, so masking units of 2
and 4 patches tile it), D = 64 x 4 blocks, decoder 64 x 2, normalised-pixel targets."""

CPU_EPOCHS = 5
"""Pretraining epochs per CPU-tier run, fixed before the runs from the pilot (see chapter 9)."""

CPU_SEEDS = (0, 1, 2)
"""Seeds of every CPU-tier setting (paired across settings), fixed before the runs."""


def _cpu_train() -> TrainConfig:
    """The CPU recipe: batch 256, peak lr 1.5e-3, flip + random resized crop (area >= 0.35)."""
    return TrainConfig(batch_size=256, lr=1.5e-3, warmup_steps=0, augment=True, pad=0,
                       crop_scale=0.35, log_every=50, steps=1)


def _cpu(name: str, description: str, parameter: str, values: tuple, gpu: str,
         model: dict | None = None) -> Experiment:
    """The CPU-tier twin of the GPU experiment ``gpu`` (its paper numbers, smaller everything)."""
    return Experiment(name, description, parameter, values, model=dict(model or CPU_MODEL),
                      train=_cpu_train(), epochs=CPU_EPOCHS, seeds=CPU_SEEDS,
                      probe_epochs=30, probe_batch=256, finetune_epochs=5, knn_k=20,
                      paper=EXPERIMENTS[gpu].paper, tier="cpu", probe_train=20_000)


EXPERIMENTS.update({e.name: e for e in (
    _cpu("mask_ratio_sweep_cpu", "CPU tier: the masking ratio r on Fashion-MNIST (28 px)",
         "mask_ratio", (0.1, 0.25, 0.5, 0.75, 0.9), "mask_ratio_sweep"),
    _cpu("masking_unit_cpu", "CPU tier: masking units of 4 and 8 px (1 and 2 patches), r = 0.75",
         "mask_unit_px", (4, 8), "masking_unit"),
    _cpu("decoder_depth_cpu", "CPU tier: decoder blocks 1, 2, 4 at r = 0.75",
         "decoder_depth", (1, 2, 4), "decoder_depth"),
)})


def get_experiment(name: str, *, smoke: bool = False) -> Experiment:
    """The registered experiment ``name``, or its CPU smoke-size version.

    The smoke size keeps the swept values and the evaluations but pretrains a 2-block ViT on
    scikit-learn's digits padded to 16 px (patch 4; patch 2 for ``masking_unit``) for 2
    epochs, with one seed: it checks that everything runs, not what the full size finds.

    Examples
    --------
    >>> get_experiment("mask_ratio_sweep", smoke=True).values
    (0.1, 0.25, 0.5, 0.75, 0.9)
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; registered: {', '.join(EXPERIMENTS)}. "
                         "List them with `python -m mae_theory list`.")
    exp = EXPERIMENTS[name]
    if not smoke:
        return exp
    model = dict(img_size=16, patch_size=2 if exp.model["patch_size"] == 2 else 4, in_chans=1,
                 embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
                 decoder_num_heads=2)
    cfg = TrainConfig(batch_size=64, lr=2e-3, warmup_steps=5, log_every=7, steps=1)
    return dataclasses.replace(exp, model=model, train=cfg, epochs=2, seeds=(0,),
                               dataset="digits", probe_epochs=10, probe_batch=64,
                               finetune_epochs=5)


def load_splits(exp: Experiment) -> tuple[ImageData, ImageData]:
    """(train, test) for an experiment: the official splits, or digits split 3:1 (seed 0)."""
    side = exp.model["img_size"]
    if exp.dataset == "fashion_mnist":
        return (load_dataset("fashion_mnist", split="train", pad_to=side),
                load_dataset("fashion_mnist", split="test", pad_to=side))
    if exp.dataset == "cifar10":
        return _cifar10("train"), _cifar10("test")
    if exp.dataset == "digits":
        return load_digits(pad_to=side).split(0.25, seed=0)
    return load_dataset(exp.dataset, n=1200, img_size=side, seed=0).split(0.25, seed=0)


def _cifar10(split: str) -> ImageData:
    """CIFAR-10 through torchvision (downloads ~170 MB to ``$MAE_THEORY_DATA`` or ``./data``)."""
    try:
        from torchvision.datasets import CIFAR10
    except ImportError as err:
        raise ValueError("dataset 'cifar10' needs torchvision (pip install torchvision) and "
                         "the network for the first download.") from err
    root = os.environ.get("MAE_THEORY_DATA", "data")
    ds = CIFAR10(root, train=split == "train", download=True)
    raw = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255.0)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    x = (raw - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return ImageData(x, torch.tensor(ds.targets), "cifar10", mean, std, tuple(ds.classes))


def variant(exp: Experiment, value, n_train: int) -> tuple[dict, TrainConfig]:
    """The MAE arguments and training config of one setting of the sweep."""
    model, cfg = dict(exp.model), exp.train
    if exp.parameter == "mask_ratio":
        cfg = dataclasses.replace(cfg, mask_ratio=float(value))
    elif exp.parameter == "mask_unit_px":
        if value % model["patch_size"]:
            raise ValueError(f"masking unit {value} px is not a multiple of the ViT patch "
                             f"p={model['patch_size']}.")
        cfg = dataclasses.replace(cfg, mask_unit=int(value) // model["patch_size"])
    elif exp.parameter == "decoder_depth":
        model["decoder_depth"] = int(value)
    else:
        raise ValueError(f"unknown swept parameter {exp.parameter!r}.")
    steps = max(1, exp.epochs * n_train // cfg.batch_size)
    warmup = cfg.warmup_steps or steps // 10
    return model, dataclasses.replace(cfg, steps=steps, warmup_steps=min(warmup, steps))


@torch.no_grad()
def encode(model: MAE, images: torch.Tensor, *, device: DeviceLike = "auto",
           batch_size: int = 1024) -> torch.Tensor:
    """Frozen encoder features (mean of the patch tokens), shape (N, D), on the CPU."""
    device, out = resolve_device(device), []
    for i in range(0, images.shape[0], batch_size):
        with autocast(device):
            out.append(model.features(images[i:i + batch_size].to(device)).float().cpu())
    return torch.cat(out)


def probe_subset(exp: Experiment, train_set: ImageData) -> ImageData:
    """The training images the probes and fine-tuning see: ``exp.probe_train`` of them, fixed.

    A fixed draw (seed 0) of the training split, the same for every setting and seed, so the
    readouts of two models differ only by the models; the whole split when ``probe_train`` is 0
    or at least its size.
    """
    n = len(train_set)
    if not exp.probe_train or exp.probe_train >= n:
        return train_set
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:exp.probe_train]
    return dataclasses.replace(train_set, images=train_set.images[idx],
                               labels=train_set.labels[idx])


def readouts(model: MAE, exp: Experiment, probe_set: ImageData, test_set: ImageData, *,
             seed: int, device) -> dict:
    """Linear probe, k-NN and (if ``exp.finetune_epochs``) one-block fine-tuning accuracies.

    The features are the mean of the encoder's patch tokens on unmasked images
    (:meth:`MAE.features`), as in the book's other probes; He et al. probe the class token.
    """
    ftr = encode(model, probe_set.images, device=device)
    fte = encode(model, test_set.images, device=device)
    probe = linear_probe(ftr, probe_set.labels, fte, test_set.labels, epochs=exp.probe_epochs,
                         batch_size=exp.probe_batch, seed=seed, device=device)
    out = {"linear_probe": probe.accuracy, "linear_probe_train": probe.train_accuracy,
           "knn": knn_accuracy(ftr, probe_set.labels, fte, test_set.labels, k=exp.knn_k)}
    if exp.finetune_epochs:
        out["partial_ft"] = partial_finetune(
            model, probe_set.images, probe_set.labels, test_set.images, test_set.labels,
            epochs=exp.finetune_epochs, batch_size=exp.probe_batch, seed=seed,
            device=device).accuracy
    return out


def learning_gate(model: MAE, init: MAE, train_set: ImageData, test_set: ImageData,
                  mask_ratio: float, margin: float, *, seed: int, n: int = 2000) -> dict:
    """The learning gate of one run: held-out masked loss vs the mean patch and the random init.

    Scored in the model's own target space (normalised patches for ``norm_pix_loss``) on the
    first ``n`` test images, one set of masks for all three predictors. The run passes if its
    loss is at least ``margin`` (a fraction) below the mean patch's and below its untrained
    init's. The CPU tier uses ``margin = 0.10``, not the zoo's 0.25: normalised targets remove
    each patch's brightness and contrast, the part of the signal a mean patch gets most wrong.
    """
    from .zoo import gate_metrics  # the zoo's scoring, on this run's own margin

    cpu = torch.device("cpu")
    g = gate_metrics(model.to(cpu), train_set.images[:n], test_set.images[:n], mask_ratio,
                     random_init=init.to(cpu), seed=seed)
    passed = g.model_mse <= (1.0 - margin) * g.mean_patch_mse and g.model_mse < g.random_init_mse
    return {"mask_ratio": g.mask_ratio, "model": g.model_mse, "mean_patch": g.mean_patch_mse,
            "random_init": g.random_init_mse, "margin": margin, "passed": bool(passed)}


def run_one(exp: Experiment, value, splits, *, seed: int, device: DeviceLike = "auto",
            progress: bool | None = None) -> dict:
    """Pretrain one MAE at one setting and seed, then evaluate it on the test split.

    The one recorded ``seed`` seeds each random component of the run on its own generator:
    the MAE's initialisation, pretraining (batches, masks, augmentation), the linear probe,
    partial fine-tuning and the reconstruction masks. The run records its learning gate
    (:func:`learning_gate`); the readouts come from :func:`readouts` on
    :func:`probe_subset`; reconstructions are scored at the common test ratio, at the model's
    own ratio, and unmasked (the decoder's output with nothing hidden).
    """
    train_set, test_set = splits
    model_kw, cfg = variant(exp, value, len(train_set))
    model_kw["in_chans"] = train_set.images.shape[1]
    model = MAE(**model_kw, seed=seed)
    t0 = time.perf_counter()
    res = train(model, train_set, cfg, seed=seed, device=device, progress=progress)
    t_train = time.perf_counter() - t0
    dev = next(model.parameters()).device
    metrics = readouts(model, exp, probe_subset(exp, train_set), test_set, seed=seed,
                       device=dev)
    for key, r, paste in (("", exp.test_mask_ratio, True), ("_own_ratio", cfg.mask_ratio, True),
                          ("_unmasked", 0.0, False)):
        q = reconstruction_quality(model, test_set, r, paste=paste, seed=seed, device=dev)
        metrics["psnr" + key], metrics["ssim" + key] = q["psnr"], q["ssim"]
    gate = learning_gate(model, MAE(**model_kw, seed=seed), train_set, test_set,
                         cfg.mask_ratio, exp.gate_margin, seed=seed)
    model.to(dev)
    steps_per_epoch = max(1, len(train_set) // cfg.batch_size)
    return {"value": value, "seed": seed, "model": model_kw, "train": dataclasses.asdict(cfg),
            "final_loss": res.final_loss, "train_wall_time_s": t_train,
            "wall_time_s": time.perf_counter() - t0, "gate": gate,
            "epochs": epoch_summary(res.history, steps_per_epoch),
            "history": [{"step": h["step"], "loss": h["loss"]} for h in res.history],
            "metrics": metrics}


def run_controls(exp: Experiment, splits, *, seed: int, device: DeviceLike = "auto") -> dict:
    """The controls of one seed: the untrained encoder and the raw pixels, read out alike.

    The untrained encoder is the network every setting's run starts from (its encoder does not
    depend on the swept setting); the raw pixels are the flattened standardised images (linear
    probe and k-NN; there is nothing to fine-tune).
    """
    train_set, test_set = splits
    model_kw = {**exp.model, "in_chans": train_set.images.shape[1]}
    t0 = time.perf_counter()
    dev = resolve_device(device)
    probe_set = probe_subset(exp, train_set)
    init = readouts(MAE(**model_kw, seed=seed).to(dev), exp, probe_set, test_set, seed=seed,
                    device=dev)
    xtr, xte = probe_set.images.flatten(1), test_set.images.flatten(1)
    pix = linear_probe(xtr, probe_set.labels, xte, test_set.labels, epochs=exp.probe_epochs,
                       batch_size=exp.probe_batch, seed=seed, device=dev)
    metrics = {**{f"init_{k}": v for k, v in init.items()},
               "pixels_linear_probe": pix.accuracy,
               "pixels_knn": knn_accuracy(xtr, probe_set.labels, xte, test_set.labels,
                                          k=exp.knn_k)}
    return {"seed": seed, "metrics": metrics, "wall_time_s": time.perf_counter() - t0}


# --- resumable units (the CPU tier) ------------------------------------------------------------
def unit_path(exp: Experiment, value, seed: int, *, out: str | os.PathLike | None = None,
              control: bool = False) -> Path:
    """Where one (setting, seed) run of a resumable experiment is saved the moment it finishes.

    The name holds what makes the run: its model, training config, readouts and seed (a hash),
    so the same run shared by two sweeps (r = 0.75 with unit 1 and decoder depth 2) is computed
    once, and a changed recipe is recomputed, never mixed in.

    Examples
    --------
    >>> exp = get_experiment("mask_ratio_sweep_cpu")
    >>> unit_path(exp, 0.75, 0, out="r").parent.as_posix()
    'r/units'
    """
    n_train = 60_000 if exp.dataset == "fashion_mnist" else 0
    model_kw, cfg = (dict(exp.model), None) if control else variant(exp, value, n_train)
    readout = {k: getattr(exp, k) for k in ("dataset", "probe_epochs", "probe_batch",
                                           "finetune_epochs", "knn_k", "probe_train")}
    recipe = {"model": model_kw, "readout": readout, "seed": seed}
    if control:
        stem = f"control_s{seed}"
    else:
        recipe.update(train=dataclasses.asdict(cfg), test_mask_ratio=exp.test_mask_ratio,
                      gate_margin=exp.gate_margin)
        stem = (f"r{cfg.mask_ratio:g}_u{cfg.mask_unit}_d{model_kw['decoder_depth']}"
                f"_s{seed}")
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    root = Path(out if out is not None else RESULTS_DIR) / "units"
    return root / f"{exp.dataset}_{stem}_{digest}.json"


def _claim(path: Path) -> bool:
    """Claim a unit for this process (a lock file beside it); False if another live one has it."""
    lock = path.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(lock.read_text() or 0)
            os.kill(pid, 0)
            return False  # its owner is alive
        except (ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
            lock.unlink(missing_ok=True)  # left by a dead process: take it over
            return _claim(path)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def _unit(path: Path, compute) -> dict | None:
    """The saved unit at ``path``; else compute and save it; None if another process has it."""
    if path.exists():
        return json.loads(path.read_text())
    if not _claim(path):
        return None
    try:
        if path.exists():
            return json.loads(path.read_text())
        print(f"computing {path.name} (pid {os.getpid()})", flush=True)
        record = {**compute(), "provenance": provenance(), "unit": path.name}
        save_json(record, path)
        print(f"saved {path.name} ({record['wall_time_s']:.0f} s)", flush=True)
        return record
    finally:
        path.with_suffix(".lock").unlink(missing_ok=True)


def _run_units(exp: Experiment, splits, *, device, out, progress) -> tuple[list, list] | None:
    """Every (setting, seed) run and every seed's controls, computed or read back; None while
    some are still being computed by another process.

    A process that computed a unit looks once more before it gives up, so whichever of two
    processes finishes the sweep's last unit also sees the other's and returns the whole sweep.
    """
    while True:
        runs, controls, pending, computed = [], [], 0, 0
        for seed in exp.seeds:  # seed-major: a sitting that stops early leaves whole seeds
            units = [(None, unit_path(exp, None, seed, out=out, control=True),
                      lambda s=seed: run_controls(exp, splits, seed=s, device=device))]
            units += [(value, unit_path(exp, value, seed, out=out),
                       lambda v=value, s=seed: run_one(exp, v, splits, seed=s, device=device,
                                                       progress=progress))
                      for value in exp.values]
            for value, path, compute in units:
                existed = path.exists()
                rec = _unit(path, compute)
                pending += rec is None
                computed += rec is not None and not existed
                if value is None:
                    controls.append(rec)
                else:
                    runs.append(None if rec is None else {**rec, "value": value})
        if not pending:
            return runs, controls
        if not computed:
            return None


def configure(name: str, *, smoke: bool = False, seeds=None,
              dataset: str | None = None) -> Experiment:
    """The experiment ``name`` with its seeds and data set overridden, every argument checked.

    Raises
    ------
    ValueError, TypeError
        For an unknown name or data set, or a seed that is not a non-negative int.

    Examples
    --------
    >>> configure("decoder_depth", smoke=True, seeds=[3, 4]).seeds
    (3, 4)
    >>> configure("decoder_depth", dataset="imagenet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'imagenet'; known: fashion_mnist, cifar10, digits, ...
    """
    exp = get_experiment(name, smoke=smoke)
    if seeds is not None:
        if isinstance(seeds, (int, str)) or not hasattr(seeds, "__iter__"):
            raise TypeError(f"seeds must be a sequence of ints; got {seeds!r}. Use e.g. "
                            "seeds=[0, 1, 2] (--seeds 0 1 2 on the command line).")
        seeds = tuple(check_int("seed", s, low=0, fix="Seeds are non-negative ints.")
                      for s in seeds)
        if not seeds:
            raise ValueError("seeds must hold at least one seed; got none.")
        exp = dataclasses.replace(exp, seeds=seeds)
    if dataset is not None:
        if dataset not in DATASETS:
            raise ValueError(f"unknown data set {dataset!r}; known: {', '.join(DATASETS)}.")
        exp = dataclasses.replace(exp, dataset=dataset)
    return exp


def run_experiment(name: str, *, smoke: bool = False, seeds=None, dataset: str | None = None,
                   device: DeviceLike = "auto", out: str | os.PathLike | None = None,
                   progress: bool | None = None) -> dict:
    """Run a named experiment over its settings and seeds; write and return its result.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    smoke : bool
        Run the CPU smoke size (:func:`get_experiment`); the file gets a ``_smoke`` suffix.
    seeds : sequence of int, optional
        Override the experiment's seeds.
    dataset : str, optional
        Override the data set (e.g. ``"cifar10"``; the file name records it).
    device : DeviceLike
        ``"auto"``/``None``: CUDA when available. Under ``torchrun`` pretraining is
        data-parallel.
    out : path, optional
        Folder for the JSON (default :data:`RESULTS_DIR`); ``""`` skips writing.
    progress : bool, optional
        tqdm bars of the pretraining runs.

    Returns
    -------
    dict
        The result (see :func:`load_result` for its keys).

    Examples
    --------
    A smoke run takes seconds per setting on a CPU (``tests/test_experiments.py`` runs each);
    its file name says what it is:

    >>> result_path("decoder_depth", smoke=True, dataset="digits", out="results").as_posix()
    'results/decoder_depth_digits_smoke.json'
    """
    exp = configure(name, smoke=smoke, seeds=seeds, dataset=dataset)
    dev = resolve_device(device)
    t0 = time.perf_counter()
    splits = load_splits(exp)
    controls = []
    if exp.tier == "cpu" and not smoke and out != "":
        done = _run_units(exp, splits, device=dev, out=out, progress=progress)
        if done is None:
            return {"name": exp.name, "pending": True}
        runs, controls = done
    elif exp.tier == "cpu":  # smoke size or nothing written: everything in memory
        runs = [run_one(exp, v, splits, seed=s, device=dev, progress=progress)
                for s in exp.seeds for v in exp.values]
        controls = [run_controls(exp, splits, seed=s, device=dev) for s in exp.seeds]
    else:
        runs = [run_one(exp, v, splits, seed=s, device=dev, progress=progress)
                for v in exp.values for s in exp.seeds]
    config = dataclasses.asdict(exp)
    result = {"schema": SCHEMA_VERSION, "kind": "mae_theory.experiment", "name": exp.name,
              "smoke": smoke, "dataset": exp.dataset, "parameter": exp.parameter,
              "values": list(exp.values), "seeds": list(exp.seeds),
              "config": {k: v for k, v in config.items() if k != "paper"},
              "paper": exp.paper, "runs": runs, "controls": controls,
              "summary": summarise(runs), "wall_time_s": time.perf_counter() - t0,
              "provenance": {**provenance(dev), "world_size": world_size()}}
    if controls:  # the sum of the runs' own times, wherever they ran
        result["wall_time_s"] = sum(u["wall_time_s"] for u in runs + controls)
    if out != "" and rank() == 0:
        save_json(result, result_path(name, smoke=smoke, dataset=exp.dataset, out=out))
    return result


# Measured anchor for the estimates (benchmarks/results_h100_fashion.json, one H100, torch 2.11):
# ViT-Tiny/4 at r = 0.75, batch 1024, compile + CUDA graphs: 85,858 images/s steady; 58.8 s wall
# for 1,757 steps, of which 1757 * 1024 / 85858 = 21.0 s steady, so about 38 s of compilation
# and warm-up per run.
H100_REFERENCE = {"images_per_s": 85858.0, "model": TINY4, "mask_ratio": 0.75,
                  "overhead_s": 37.8, "eval_s": 30.0}


def estimate_gpu_seconds(name: str) -> dict:
    """Estimated wall time of a full-size experiment on one H100 (an estimate, not a measure).

    Scales the measured ViT-Tiny/4 throughput by model FLOPs per image (constant MFU), adds the
    measured compile/warm-up overhead per run and a guessed 30 s of evaluation per run.

    Returns
    -------
    dict
        ``{"total_s", "runs", "per_value_s": {str(value): seconds per run}}``.

    Examples
    --------
    >>> est = estimate_gpu_seconds("decoder_depth")
    >>> est["runs"], est["per_value_s"]["1"] < est["per_value_s"]["8"]
    (12, True)
    """
    exp = get_experiment(name)
    ref = H100_REFERENCE
    ref_flops = MAE(**ref["model"]).flops_per_image(ref["mask_ratio"])
    n_train = 60_000 if exp.dataset == "fashion_mnist" else 50_000
    per_value = {}
    for value in exp.values:
        model_kw, cfg = variant(exp, value, n_train)
        flops = MAE(**model_kw).flops_per_image(cfg.mask_ratio)
        ips = ref["images_per_s"] * ref_flops / flops
        per_value[str(value)] = (cfg.steps * cfg.batch_size / ips + ref["overhead_s"]
                                 + ref["eval_s"])
    runs = len(exp.values) * len(exp.seeds)
    return {"total_s": sum(per_value.values()) * len(exp.seeds), "runs": runs,
            "per_value_s": per_value}


def compare(result: dict, metric: str, better, worse, *, claim: Claim | None = None,
            alpha: float = 0.05) -> Verdict:
    """Judge "``metric`` is higher at setting ``better`` than at ``worse``" by the verdicts module.

    The runs are paired by seed (the same seeds train every setting), and the difference
    ``better - worse`` per seed goes through ``claim``'s rule -- by default a one-sided paired
    t-test at level ``alpha`` (:class:`~mae_theory.verdicts.PairedTest`), declared from the
    experiment's registered seeds before looking at any value. A smoke-size result is always
    ``"inconclusive"``: it checks the pipeline, not the claim.

    Returns
    -------
    Verdict
        ``.word`` (confirmed / not confirmed / inconclusive), ``.effect`` (mean difference),
        ``.interval``, ``.n``, ``.detectable`` and ``.reason``.

    Examples
    --------
    >>> runs = [{"value": v, "seed": s, "metrics": {"knn": base + 0.01 * s}}
    ...         for v, base in ((0.75, 0.80), (0.1, 0.70)) for s in range(4)]
    >>> res = {"name": "mask_ratio", "smoke": False, "seeds": [0, 1, 2, 3], "runs": runs}
    >>> v = compare(res, "knn", 0.75, 0.1)
    >>> v.word, round(v.effect, 3), v.n
    ('confirmed', 0.1, 4)
    """
    by = {}
    for run in result["runs"]:
        by[(str(run["value"]), run["seed"])] = float(run["metrics"][metric])
    seeds = [s for s in result["seeds"] if (str(better), s) in by and (str(worse), s) in by]
    if len(seeds) < 2:
        raise ValueError(f"compare needs >= 2 seeds with both settings {better} and {worse}; "
                         f"got {len(seeds)}. Run the experiment with more seeds.")
    if claim is None:
        claim = Claim(f"{result['name']}-{metric}-{better}-vs-{worse}", "9", "other",
                      f"{metric} is higher at {better} than at {worse}",
                      f"{metric}({better}) > {metric}({worse})", f"{metric}, paired by seed",
                      PairedTest(alpha=alpha), n_seeds=len(seeds))
    verdict = judge(claim, [by[str(better), s] for s in seeds],
                    [by[str(worse), s] for s in seeds])
    if result.get("smoke"):
        verdict = dataclasses.replace(verdict, word="inconclusive",
                                      reason="a smoke-size run checks the pipeline, not the "
                                             "claim")
    return verdict


def per_seed(result: dict, metric: str, value, *, controls: bool = False) -> dict[int, float]:
    """``{seed: metric}`` of one setting (or, with ``controls=True``, of the seed's controls).

    Examples
    --------
    >>> res = {"runs": [{"value": 0.5, "seed": 1, "metrics": {"knn": 0.7}}],
    ...        "controls": [{"seed": 1, "metrics": {"pixels_knn": 0.8}}]}
    >>> per_seed(res, "knn", 0.5), per_seed(res, "pixels_knn", None, controls=True)
    ({1: 0.7}, {1: 0.8})
    """
    if controls:
        return {c["seed"]: float(c["metrics"][metric]) for c in result.get("controls", [])
                if metric in c["metrics"]}
    return {r["seed"]: float(r["metrics"][metric]) for r in result["runs"]
            if str(r["value"]) == str(value) and metric in r["metrics"]}


def paired_differences(result: dict, metric: str, reference) -> dict[str, dict]:
    """Each setting's ``metric`` minus the ``reference`` setting's, paired by seed.

    Returns ``{str(value): {"mean", "lo", "hi", "n"}}`` with the 90 % t interval of the
    per-seed differences (the interval of the verdict boxes,
    :func:`~mae_theory.verdicts.t_interval`); the reference itself is 0.

    Examples
    --------
    >>> runs = [{"value": v, "seed": s, "metrics": {"knn": base + 0.01 * s}}
    ...         for v, base in ((0.75, 0.80), (0.1, 0.70)) for s in range(3)]
    >>> d = paired_differences({"values": [0.1, 0.75], "runs": runs}, "knn", 0.75)
    >>> round(d["0.1"]["mean"], 3), d["0.1"]["n"], d["0.75"]["mean"]
    (-0.1, 3, 0.0)
    """
    ref = per_seed(result, metric, reference)
    if not ref:
        raise ValueError(f"reference setting {reference!r} has no {metric!r} runs; settings: "
                         f"{result.get('values')}.")
    out = {}
    for value in result["values"]:
        mine = per_seed(result, metric, value)
        seeds = sorted(set(mine) & set(ref))
        if not seeds:
            continue
        mean, lo, hi = t_interval([mine[s] - ref[s] for s in seeds])
        out[str(value)] = {"mean": mean, "lo": lo, "hi": hi, "n": len(seeds)}
    return out


# --- the CPU tier's claims, declared before its runs --------------------------------------------
@dataclass(frozen=True)
class SweepClaim:
    """A declared claim on a CPU-tier sweep: ``metric`` at ``better`` against ``worse``.

    ``worse`` may name a control instead of a setting (``"init"``: the untrained encoder,
    ``"pixels"``: the raw pixels), read from the same seed's controls with
    ``control_metric`` (default: ``metric``).
    """

    experiment: str
    metric: str
    better: object
    worse: object
    claim: Claim
    control_metric: str = ""


def _sweep_claim(key, experiment, metric, better, worse, source, statement, prediction,
                 rule=None, control_metric="") -> SweepClaim:
    # a predicted *difference* between settings is also judged on the untrained encoder, where
    # the readouts exist: its weights do not depend on the setting, so it must show none (an
    # equivalence claim has no such control: the untrained encoder is trivially flat)
    readout = metric in ("linear_probe", "knn", "partial_ft") and rule is None
    control = ("untrained encoder",) if readout and worse not in ("init", "pixels") else ()
    stat = f"{metric} (accuracy or score), setting {better} minus {worse}, paired by seed"
    return SweepClaim(experiment, metric, better, worse, Claim(
        key, "9", source, statement, prediction, stat, rule or PairedTest(alpha=0.05),
        n_seeds=len(CPU_SEEDS), controls=control), control_metric)


CPU_CLAIMS: dict[str, SweepClaim] = {c.claim.key: c for c in (
    _sweep_claim("ch9-ratio-075-beats-010", "mask_ratio_sweep_cpu", "linear_probe", 0.75, 0.1,
                 "Kong", "A masking ratio of 0.75 gives a better linear probe than 0.1.",
                 "probe(0.75) > probe(0.1): the rising side of Kong et al.'s inverted U "
                 "(+20.0 points on ImageNet)"),
    _sweep_claim("ch9-ratio-075-beats-090", "mask_ratio_sweep_cpu", "linear_probe", 0.75, 0.9,
                 "Kong", "A masking ratio of 0.75 gives a better linear probe than 0.9.",
                 "probe(0.75) > probe(0.9): the falling side of the inverted U (+4.4 points)"),
    _sweep_claim("ch9-mae-beats-untrained", "mask_ratio_sweep_cpu", "linear_probe", 0.75, "init",
                 "this book", "Pretraining at r = 0.75 gives a better linear probe than the "
                 "untrained encoder it started from.", "probe(MAE) > probe(untrained)"),
    _sweep_claim("ch9-mae-beats-pixels", "mask_ratio_sweep_cpu", "linear_probe", 0.75,
                 "pixels", "He", "The MAE's linear probe at r = 0.75 beats a linear probe on "
                 "the raw pixels.", "probe(MAE) > probe(pixels)"),
    _sweep_claim("ch9-finetune-beats-pixels", "mask_ratio_sweep_cpu", "partial_ft", 0.75,
                 "pixels", "He", "Fine-tuning one block of the MAE beats a linear probe on the "
                 "raw pixels.", "partial fine-tuning(MAE) > probe(pixels)",
                 control_metric="linear_probe"),
    _sweep_claim("ch9-ssim-075-beats-010", "mask_ratio_sweep_cpu", "ssim_unmasked", 0.75, 0.1,
                 "Kong", "Unmasked reconstructions are structurally closer (SSIM) after "
                 "pretraining at 0.75 than at 0.1.", "SSIM(0.75) > SSIM(0.1), Kong et al. Fig. 5"),
    _sweep_claim("ch9-psnr-090-beats-075", "mask_ratio_sweep_cpu", "psnr_unmasked", 0.9, 0.75,
                 "Kong", "Unmasked reconstructions are closer in pixels (PSNR) after "
                 "pretraining at 0.9 than at 0.75.", "PSNR(0.9) > PSNR(0.75), Kong et al. Fig. 5"),
    _sweep_claim("ch9-unit-8-beats-4", "masking_unit_cpu", "linear_probe", 8, 4, "Kong",
                 "Masking units of 8 pixels (2 x 2 patches) give a better linear probe than "
                 "units of one 4-pixel patch, at r = 0.75.",
                 "probe(8 px) > probe(4 px): Kong et al.'s larger masking patches (+6.4 "
                 "points from 8 to 16 px on ImageNet)"),
    _sweep_claim("ch9-decoder-4-beats-1", "decoder_depth_cpu", "linear_probe", 4, 1, "He",
                 "Four decoder blocks give a better linear probe than one.",
                 "probe(4) > probe(1): He et al. Table 1a (+6.4 points on ImageNet)"),
    _sweep_claim("ch9-decoder-finetune-flat", "decoder_depth_cpu", "partial_ft", 4, 1, "He",
                 "Decoder depth hardly moves fine-tuning: 4 and 1 blocks are within 1 point.",
                 "|fine-tune(4) - fine-tune(1)| < 0.01 (He et al. Table 1a: 84.8 vs 84.9 %)",
                 rule=Equivalence(margin=0.01)),
)}
"""The CPU tier's claims, with rules and seeds fixed here before any of its runs finished."""


def judge_cpu(result: dict, key: str) -> Verdict:
    """Judge the declared CPU-tier claim ``key`` on a result of its experiment.

    Per seed, the claim's ``better`` setting is paired with its ``worse`` setting (or the same
    seed's control). A run that failed its learning gate cannot count: if any does, the verdict
    is "inconclusive" and says how many. A smoke-size result is always "inconclusive".
    """
    if key not in CPU_CLAIMS:
        raise ValueError(f"unknown CPU-tier claim {key!r}; declared: {', '.join(CPU_CLAIMS)}.")
    sc = CPU_CLAIMS[key]
    if result.get("name") != sc.experiment:
        raise ValueError(f"claim {key!r} is about {sc.experiment}; got a result of "
                         f"{result.get('name')!r}.")
    seeds = list(result["seeds"])
    treat = per_seed(result, sc.metric, sc.better)
    controls = {}
    if sc.worse in ("init", "pixels"):
        base = per_seed(result, f"{sc.worse}_{sc.control_metric or sc.metric}", None,
                        controls=True)
    else:
        base = per_seed(result, sc.metric, sc.worse)
    if sc.claim.controls:
        init = per_seed(result, f"init_{sc.metric}", None, controls=True)
        controls["untrained encoder"] = ([init[s] for s in seeds], [init[s] for s in seeds])
    if result.get("smoke") or len(seeds) != sc.claim.n_seeds:
        claim = dataclasses.replace(sc.claim, n_seeds=max(2, len(seeds)))
        v = judge(claim, [treat[s] for s in seeds], [base[s] for s in seeds],
                  controls=controls) if len(seeds) >= 2 else None
        reason = ("a smoke-size run checks the pipeline, not the claim" if result.get("smoke")
                  else f"the claim was declared for {sc.claim.n_seeds} seeds; got {len(seeds)}")
        if v is None:
            return Verdict(sc.claim, "inconclusive", treat[seeds[0]] - base[seeds[0]],
                           (treat[seeds[0]] - base[seeds[0]],) * 2, 1, None, reason, {})
        return dataclasses.replace(v, claim=sc.claim, word="inconclusive", reason=reason)
    v = judge(sc.claim, [treat[s] for s in seeds], [base[s] for s in seeds], controls=controls)
    settings = {str(sc.better)} | ({str(sc.worse)} if sc.worse not in ("init", "pixels") else set())
    failed = [r for r in result["runs"] if str(r["value"]) in settings
              and not r.get("gate", {}).get("passed", True)]
    if failed:
        v = dataclasses.replace(v, word="inconclusive", reason=(
            f"{len(failed)} of the compared runs failed the learning gate, so they do not count"))
    return v


CPU_TIER = ("mask_ratio_sweep_cpu", "masking_unit_cpu", "decoder_depth_cpu")
"""The CPU tier's experiments, in the chapter's order."""


def summary_table(result: dict, metrics=("linear_probe", "knn", "partial_ft", "ssim_own_ratio",
                                         "psnr_own_ratio")) -> list[dict]:
    """One row per setting: each metric's mean over seeds and its 90 % t interval.

    Returns ``[{"value": v, "n": seeds, METRIC: (mean, lo, hi), ...}]``; the controls (mean
    over seeds of the untrained encoder and the raw pixels) are rows ``"untrained"`` and
    ``"pixels"`` where the result has them.

    Examples
    --------
    >>> runs = [{"value": 1, "seed": s, "metrics": {"knn": 0.5 + 0.1 * s}} for s in range(3)]
    >>> row = summary_table({"values": [1], "runs": runs}, ("knn",))[0]
    >>> row["value"], row["n"], [round(x, 2) for x in row["knn"]]
    (1, 3, [0.6, 0.43, 0.77])
    """
    rows = []
    for value in result["values"]:
        row = {"value": value, "n": 0}
        for metric in metrics:
            vals = list(per_seed(result, metric, value).values())
            if vals:
                row[metric], row["n"] = t_interval(vals), len(vals)
        rows.append(row)
    for name in ("init", "pixels"):
        row = {"value": "untrained" if name == "init" else name, "n": 0}
        for metric in metrics:
            vals = list(per_seed(result, f"{name}_{metric}", None, controls=True).values())
            if vals:
                row[metric], row["n"] = t_interval(vals), len(vals)
        if row["n"]:
            rows.append(row)
    return rows


def paper_table(result: dict, reference, metric: str = "linear_probe") -> list[dict]:
    """The paper's numbers beside ours: each setting's value and difference from ``reference``.

    Returns ``[{"value", "paper", "paper_diff", "ours": (mean, lo, hi), "ours_diff": (mean,
    lo, hi)}]`` in accuracy points (the paper's are percentages; ours are scaled by 100), with
    ``None`` where the paper has no number for a setting.

    Examples
    --------
    >>> runs = [{"value": v, "seed": s, "metrics": {"linear_probe": b}}
    ...         for v, b in ((0.1, 0.7), (0.75, 0.8)) for s in range(2)]
    >>> res = {"values": [0.1, 0.75], "runs": runs,
    ...        "paper": {"metric": "linear_probe", "values": {"0.1": 47.45, "0.75": 67.41}}}
    >>> row = paper_table(res, 0.75)[0]
    >>> row["paper_diff"], [round(x, 1) for x in row["ours_diff"]]
    (-19.96, [-10.0, -10.0, -10.0])
    """
    paper = (result.get("paper") or {}).get("values", {})
    diffs = paired_differences(result, metric, reference)
    ref_paper = paper.get(str(reference))
    rows = []
    for value in result["values"]:
        vals = [100 * x for x in per_seed(result, metric, value).values()]
        d = diffs.get(str(value))
        p = paper.get(str(value))
        rows.append({"value": value, "paper": p,
                     "paper_diff": (round(p - ref_paper, 2) if p is not None
                                    and ref_paper is not None else None),
                     "ours": t_interval(vals) if vals else None,
                     "ours_diff": (100 * d["mean"], 100 * d["lo"], 100 * d["hi"]) if d else None})
    return rows


def committed_or_smoke(name: str, *, seeds=(0, 1, 2), device: DeviceLike = "cpu") -> dict:
    """The committed full-size result ``data/results/NAME.json``, or else a smoke-size run.

    The chapter calls this: with the GPU result in the repository it only reads the file;
    without it, it runs the smoke size (seconds on a CPU, nothing written) and marks the result
    ``smoke=True``, so every verdict says that it cannot judge.
    """
    path = result_path(name)
    if path.exists():
        return load_result(path)
    return run_experiment(name, smoke=True, seeds=seeds, device=device, out="", progress=False)
