"""The model zoo: named pretraining recipes, the learning gate, and ``load_pretrained``.

Chapters that analyse a *trained* model load it from here instead of training it inside a cell.
A recipe is frozen: architecture, data, objective, training config and seeds. ``python -m
mae_theory pretrain NAME`` trains it on the CPU, writes a small float16 checkpoint and a
provenance file per seed under ``data/zoo/NAME/``, and records the model's **learning gate**.
For an MAE the gate is

.. math:: e_{\\text{MAE}} \\le 0.75\\, e_{\\text{mean patch}} \\quad\\text{and}\\quad
          e_{\\text{MAE}} < e_{\\text{random init}},

where each ``e`` is the held-out masked-patch MSE at the recipe's training ratio ``r`` (same
masks for all three). A supervised baseline must reach its recipe's stated held-out accuracy.
A model that fails its gate never learned: :func:`load_pretrained` refuses it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checks import check_int
from .data import ImageData, load_digits
from .metrics import masked_mse
from .models import MAE
from .models.umae import UMAE
from .results import provenance, save_json
from .runtime import SeedLike
from .training import TrainConfig, train

__all__ = ["GATE_RATIO", "AccuracyGate", "GateResult", "Recipe", "RECIPES", "accuracy",
           "gate_line", "gate_metrics", "load_pretrained", "pretrain", "recipe_data", "zoo_dir"]

GATE_RATIO = 0.75
"""A trained model's held-out masked MSE must be at most this fraction of the mean patch's."""

ZOO_ROOT = Path(__file__).resolve().parent.parent / "data" / "zoo"
DATA = ("digits", "fashion_mnist", "mirror")
MODELS = {"MAE": MAE, "UMAE": UMAE}


@dataclass(frozen=True)
class Recipe:
    """A named, frozen way to pretrain a model for the book.

    Attributes
    ----------
    name : str
    description : str
    data : str
        ``"digits"`` (the 1,797 scikit-learn digits, fixed split), ``"fashion_mnist"`` (28 px)
        or ``"mirror"`` (chapter 8's mirror-symmetric images, one fixed draw).
    arch : dict
        Keyword arguments of the model class.
    train : TrainConfig or propagation.SupervisedConfig
        The training config. For an MAE, ``train.mask_ratio`` is the ratio the gate uses.
    n_test : int
        Held-out images (digits: split off with ``split_seed``; Fashion-MNIST: the test set's
        first ``n_test``; mirror: the last ``n_test`` of the draw).
    seeds : tuple of int
        The seeds the zoo holds (model init, batches and masks).
    model : str
        ``"MAE"`` or ``"UMAE"`` (with ``model_kwargs``, e.g. ``uniformity_weight``).
    decoder_reach : float, optional
        Restrict decoder attention to this many patches
        (:func:`~mae_theory.interpolation.restrict_decoder_attention`).
    objective : str
        ``"mae"`` (masked reconstruction) or ``"supervised"`` (encoder + linear head on
        mean-pooled tokens, cross-entropy; gated by ``min_accuracy``).
    """

    name: str
    description: str
    data: str
    arch: dict
    train: object
    n_test: int = 300
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    split_seed: int = 0
    model: str = "MAE"
    model_kwargs: dict = field(default_factory=dict)
    decoder_reach: float | None = None
    objective: str = "mae"
    min_accuracy: float | None = None

    def __post_init__(self):
        if self.data not in DATA:
            raise ValueError(f"Recipe.data must be one of {DATA}; got {self.data!r}.")
        if self.model not in MODELS:
            raise ValueError(f"Recipe.model must be one of {sorted(MODELS)}; got "
                             f"{self.model!r}.")
        if self.objective not in ("mae", "supervised"):
            raise ValueError(f"Recipe.objective must be 'mae' or 'supervised'; got "
                             f"{self.objective!r}.")
        if self.objective == "supervised" and self.min_accuracy is None:
            raise ValueError("a supervised recipe needs min_accuracy: the held-out accuracy it "
                             "must reach to count as trained.")

    def build(self, *, seed: SeedLike = 0) -> MAE:
        """A fresh, untrained model of this recipe (the random-init control)."""
        net = MODELS[self.model](**self.arch, **self.model_kwargs, seed=seed)
        if self.decoder_reach is not None:
            from .interpolation import restrict_decoder_attention

            restrict_decoder_attention(net, self.decoder_reach)
        return net

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "data": self.data,
                "arch": dict(self.arch), "train": dataclasses.asdict(self.train),
                "n_test": self.n_test, "seeds": list(self.seeds),
                "split_seed": self.split_seed, "model": self.model,
                "model_kwargs": dict(self.model_kwargs), "decoder_reach": self.decoder_reach,
                "objective": self.objective, "min_accuracy": self.min_accuracy}


def _size(name: str, **overrides) -> dict:
    from .models.sizes import SIZES

    s = SIZES[name]
    arch = dict(img_size=s.img_size, patch_size=s.patch_size, in_chans=s.in_chans,
                embed_dim=s.embed_dim, depth=s.depth, num_heads=s.num_heads,
                decoder_embed_dim=s.decoder_embed_dim, decoder_depth=s.decoder_depth,
                decoder_num_heads=s.decoder_num_heads)
    return {**arch, **overrides}


def _recipes() -> list[Recipe]:
    from .propagation import SupervisedConfig

    def cfg(steps, ratio=0.75, batch=128, **kw):
        return TrainConfig(steps=steps, batch_size=batch, lr=2e-3, mask_ratio=ratio,
                           log_every=50, **kw)

    digits = _size("mae_digits")
    deep = _size("mae_digits_deep")
    dec = _size("mae_digits_decoder")
    tiny = _size("mae_digits_tiny")
    mirror = _size("mae_mirror")
    fashion = dict(img_size=28, patch_size=4, in_chans=1, embed_dim=64, depth=4, num_heads=4,
                   decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4)
    return [
        Recipe("digits_mae", "chapter 1's ViT MAE on 8x8 digits, p = 2, r = 0.75",
               "digits", digits, cfg(1500)),
        Recipe("digits_mae_r025", "chapter 1's ViT MAE trained at r = 0.25",
               "digits", digits, cfg(1500, 0.25)),
        Recipe("digits_deep_mae", "chapter 7's 6-block MAE (D = 64, decoder 32 x 1), r = 0.75",
               "digits", deep, cfg(2000)),
        Recipe("digits_deep_supervised", "chapter 7's 6-block ViT trained with labels "
               "(linear head on mean-pooled tokens)", "digits", deep,
               SupervisedConfig(steps=600, batch_size=64, lr=2e-3), objective="supervised",
               min_accuracy=0.9),
        *[Recipe(f"digits_decoder_d{d}", f"chapter 8's MAE (D = 32, 3 blocks) with a "
                 f"{d}-block decoder", "digits", {**dec, "decoder_depth": d}, cfg(2000))
          for d in (1, 2, 4)],
        Recipe("mirror_global", "chapter 8's MAE on mirror-symmetric 8x16 images, global "
               "decoder", "mirror", mirror, cfg(1500), n_test=500),
        Recipe("mirror_local", "chapter 8's mirror MAE with decoder attention within 1.5 "
               "patches", "mirror", mirror, cfg(1500), n_test=500, decoder_reach=1.5),
        Recipe("digits_tiny_mae", "chapter 10's tiny MAE (D = 32, 2 blocks), r = 0.75",
               "digits", tiny, cfg(2000)),
        Recipe("digits_tiny_umae", "chapter 10's tiny U-MAE, the paper's uniformity weight "
               "0.01", "digits", tiny, cfg(2000), model="UMAE",
               model_kwargs={"uniformity_weight": 0.01}),
        Recipe("fashion_mae", "a ViT MAE on 28 px Fashion-MNIST (p = 4, D = 64, 4 blocks, "
               "pixel loss, flip/translate), about 4 epochs", "fashion_mnist", fashion,
               TrainConfig(steps=1000, batch_size=256, lr=2e-3, warmup_steps=50,
                           mask_ratio=0.75, augment=True, log_every=50),
               n_test=1000, seeds=(0, 1)),
    ]


RECIPES: dict[str, Recipe] = {r.name: r for r in _recipes()}


@dataclass(frozen=True)
class GateResult:
    """Held-out masked MSE of a model, the mean patch and a random-init twin, and the verdict."""

    mask_ratio: float
    model_mse: float
    mean_patch_mse: float
    random_init_mse: float
    n_test: int
    passed: bool = field(init=False)

    def __post_init__(self):
        ok = (self.model_mse <= GATE_RATIO * self.mean_patch_mse
              and self.model_mse < self.random_init_mse)
        object.__setattr__(self, "passed", bool(ok))

    def line(self) -> str:
        """One line for a chapter: the gate numbers and whether they pass."""
        drop = 1 - self.model_mse / self.mean_patch_mse
        return (f"learning gate {'passed' if self.passed else 'FAILED'}: held-out masked MSE "
                f"at r = {self.mask_ratio:g} is {self.model_mse:.3f} vs mean patch "
                f"{self.mean_patch_mse:.3f} ({100 * drop:.0f} % lower; needs >= "
                f"{100 * (1 - GATE_RATIO):.0f} %) and random init {self.random_init_mse:.3f} "
                f"(n = {self.n_test} images)")


@dataclass(frozen=True)
class AccuracyGate:
    """A supervised baseline's held-out accuracy against the accuracy its recipe requires."""

    accuracy: float
    required: float
    random_init_accuracy: float
    n_test: int
    passed: bool = field(init=False)

    def __post_init__(self):
        ok = self.accuracy >= self.required and self.accuracy > self.random_init_accuracy
        object.__setattr__(self, "passed", bool(ok))

    def line(self) -> str:
        return (f"training gate {'passed' if self.passed else 'FAILED'}: held-out accuracy "
                f"{self.accuracy:.3f} (needs >= {self.required:g}; untrained network with its "
                f"untrained head {self.random_init_accuracy:.3f}, n = {self.n_test} images)")


def gate_line(record: dict) -> str:
    """The one-line gate summary of a zoo provenance record."""
    g = {k: v for k, v in record["gate"].items() if k not in ("passed", "ratio_required")}
    cls = AccuracyGate if "accuracy" in g else GateResult
    return cls(**g).line()


def zoo_dir(name: str, root: str | Path | None = None) -> Path:
    """Where recipe ``name``'s checkpoints live (``data/zoo/NAME``)."""
    return Path(root or ZOO_ROOT) / name


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown zoo recipe {name!r}; choose one of {sorted(RECIPES)} "
                         "(python -m mae_theory list).")
    return RECIPES[name]


def recipe_data(recipe: Recipe) -> tuple[ImageData, ImageData]:
    """The recipe's (train, test) split, identical on every call."""
    if recipe.data == "digits":
        return load_digits(pad_to=recipe.arch["img_size"]).split(recipe.n_test,
                                                                  seed=recipe.split_seed)
    if recipe.data == "mirror":
        from .interpolation import mirror_images

        h, w = recipe.arch["img_size"]
        imgs = mirror_images(3000, h, w, smoothness=1.0, seed=recipe.split_seed)
        labels = torch.zeros(len(imgs), dtype=torch.long)
        meta = ("mirror", (0.0,), (1.0,), ("mirror image",))
        return (ImageData(imgs[:-recipe.n_test], labels[:-recipe.n_test], *meta),
                ImageData(imgs[-recipe.n_test:], labels[-recipe.n_test:], *meta))
    from .fashion_mnist import load_fashion_mnist

    train_set, test_set = load_fashion_mnist("train"), load_fashion_mnist("test")
    return train_set, ImageData(test_set.images[: recipe.n_test],
                                test_set.labels[: recipe.n_test], test_set.name,
                                test_set.mean, test_set.std, test_set.classes)


@torch.no_grad()
def gate_metrics(model: MAE, train_images: torch.Tensor, test_images: torch.Tensor,
                 mask_ratio: float, *, random_init: MAE, seed: SeedLike = 0) -> GateResult:
    """Score ``model``, the mean patch and ``random_init`` on the same held-out masks.

    The mean patch predicts each position's average *target* over the training images (pixels,
    or normalised pixels when the model uses ``norm_pix_loss``).
    """
    model.eval()
    random_init.eval()
    masking = model.make_masking(test_images.shape[0], mask_ratio, seed=seed, device="cpu")
    target = model.target(test_images)
    mean = model.target(train_images).mean(dim=0, keepdim=True).expand_as(target)

    def err(net: MAE) -> float:
        _, pred, _ = net(test_images, masking=masking)
        return float(masked_mse(pred, target, masking.mask).mean())

    return GateResult(float(mask_ratio), err(model),
                      float(masked_mse(mean, target, masking.mask).mean()), err(random_init),
                      int(test_images.shape[0]))


@torch.no_grad()
def accuracy(model: MAE, head: nn.Module, data: ImageData) -> float:
    """Held-out accuracy of a supervised ``model`` + ``head`` (mean-pooled tokens)."""
    model.eval()
    pred = head(model.features(data.images)).argmax(dim=1)
    return float((pred == data.labels).float().mean())


def _stored(model: MAE, head: nn.Module | None = None) -> dict:
    """The float16 state dict the zoo commits (fixed sin-cos tables are rebuilt, not stored)."""
    state = {k: v for k, v in model.state_dict().items() if "pos_embed" not in k}
    if head is not None:
        state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _load_stored(model: MAE, state: dict) -> tuple[MAE, nn.Linear | None]:
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    head_state = {k[5:]: state.pop(k) for k in list(state) if k.startswith("head.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any("pos_embed" not in k for k in missing):
        raise ValueError(f"zoo checkpoint does not fit the recipe's architecture: missing "
                         f"{missing}, unexpected {unexpected}. Retrain it with pretrain --force.")
    head = None
    if head_state:
        head = nn.Linear(head_state["weight"].shape[1], head_state["weight"].shape[0])
        head.load_state_dict(head_state)
        head.eval()
    return model, head


def _history(values) -> list[dict]:
    return [{"step": h["step"], "loss": h["loss"]} for h in values]


def _train_one(recipe: Recipe, seed: int, train_set: ImageData, test_set: ImageData,
               progress) -> tuple[dict, dict]:
    """Train one seed; returns (stored state, the record's training part and gate)."""
    model = recipe.build(seed=seed)
    t0 = time.perf_counter()
    if recipe.objective == "supervised":
        from .propagation import train_supervised

        head, losses = train_supervised(model, train_set.images, train_set.labels,
                                        recipe.train, seed=seed)
        wall = time.perf_counter() - t0
        state = _stored(model, head)
        model, head = _load_stored(recipe.build(seed=seed), state)
        fresh = recipe.build(seed=seed)
        fresh_head = nn.Linear(fresh.embed_dim, head.out_features)
        torch.nn.init.zeros_(fresh_head.bias)
        gate = AccuracyGate(accuracy(model, head, test_set), float(recipe.min_accuracy),
                            accuracy(fresh, fresh_head, test_set), len(test_set.images))
        history = [{"step": i + 1, "loss": float(v)} for i, v in enumerate(losses)
                   if (i + 1) % 50 == 0 or i == 0]
        return state, {"wall_time_s": wall, "history": history,
                       "gate": dataclasses.asdict(gate)}
    result = train(model, train_set, recipe.train, seed=seed, device="cpu", progress=progress)
    wall = time.perf_counter() - t0
    state = _stored(model)
    model, _ = _load_stored(recipe.build(seed=seed), state)  # score what is stored: float16
    # the control is this very model before training: same architecture, same init
    gate = gate_metrics(model, train_set.images, test_set.images, recipe.train.mask_ratio,
                        random_init=recipe.build(seed=seed), seed=seed)
    return state, {"wall_time_s": wall, "history": _history(result.history),
                   "gate": {**dataclasses.asdict(gate), "ratio_required": GATE_RATIO}}


def pretrain(name: str, *, seeds=None, root: str | Path | None = None, progress=None,
             force: bool = False) -> list[dict]:
    """Train recipe ``name`` for each seed and write checkpoint + provenance (resumable).

    A seed whose files already exist for this very recipe is skipped unless ``force`` (a seed
    trained with an older version of the recipe is retrained); each finished seed is written
    the moment it finishes (atomically), so an interrupted run resumes where it stopped.

    Returns
    -------
    list of dict
        The provenance record of each seed.
    """
    recipe = _recipe(name)
    seeds = recipe.seeds if seeds is None else tuple(check_int("seed", s, low=0) for s in seeds)
    out = zoo_dir(name, root)
    out.mkdir(parents=True, exist_ok=True)
    train_set, test_set = recipe_data(recipe)
    records = []
    for seed in seeds:
        ckpt, meta = out / f"seed{seed}.pt", out / f"seed{seed}.json"
        if ckpt.exists() and meta.exists() and not force:
            record = _read_meta(meta)
            if not _stale(record, recipe):
                records.append(record)
                continue
        state, part = _train_one(recipe, seed, train_set, test_set, progress)
        record = {"schema": 2, "recipe": recipe.to_dict(), "seed": seed, **part,
                  "provenance": provenance(torch.device("cpu"))}
        tmp = ckpt.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        tmp.replace(ckpt)
        save_json(record, meta)
        records.append(record)
    return records


def _read_meta(path: Path) -> dict:
    return json.loads(path.read_text())


def _stale(record: dict, recipe: Recipe) -> bool:
    """Was the checkpoint of this provenance ``record`` trained with another ``recipe``?

    A training field added to :class:`~mae_theory.training.TrainConfig` after the record was
    written counts as its default value (the run could not have used anything else).
    """
    recorded = json.loads(json.dumps(record["recipe"]))
    current = json.loads(json.dumps(recipe.to_dict()))
    defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig())))
    old, new = recorded.get("train"), current.get("train")
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key not in old and key in defaults and value == defaults[key]:
                old[key] = value
    return recorded != current


def load_pretrained(name: str, *, seed: int = 0, root: str | Path | None = None,
                    check_gate: bool = True) -> tuple[MAE, dict]:
    """Load a zoo model, ready to analyse, with its provenance record.

    A supervised recipe's model carries its trained classifier as ``model.head``.

    Raises
    ------
    FileNotFoundError
        If the checkpoint is absent (the message gives the ``pretrain`` command).
    ValueError
        If the model failed its learning gate (it never learned: do not analyse it).
    """
    recipe = _recipe(name)
    seed = check_int("seed", seed, low=0)
    ckpt, meta = zoo_dir(name, root) / f"seed{seed}.pt", zoo_dir(name, root) / f"seed{seed}.json"
    if not (ckpt.exists() and meta.exists()):
        raise FileNotFoundError(
            f"zoo model {name!r} seed {seed} is not in {zoo_dir(name, root)}; train it with "
            f"`python -m mae_theory pretrain {name} --seeds {seed}`.")
    record = _read_meta(meta)
    if _stale(record, recipe):
        raise ValueError(f"zoo model {name!r} seed {seed} was trained with another recipe than "
                         "the package's: it is stale. Retrain it with `python -m mae_theory "
                         f"pretrain {name} --seeds {seed} --force`.")
    if check_gate and not record["gate"]["passed"]:
        raise ValueError(f"zoo model {name!r} seed {seed} failed its gate ({gate_line(record)})"
                         ": it never learned. Retrain with a longer recipe.")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model, head = _load_stored(recipe.build(seed=seed), state)
    if head is not None:
        model.head = head
    return model.eval(), record
