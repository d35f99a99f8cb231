"""The model zoo: named pretraining recipes, the learning gate, and ``load_pretrained``.

Chapters that analyse a *trained* MAE load it from here instead of training it inside a cell. A
recipe is frozen: architecture, data, training config and seeds. ``python -m mae_theory pretrain
NAME`` trains it on the CPU, writes a small float16 checkpoint and a provenance file per seed under
``data/zoo/NAME/``, and records the model's **learning gate**:

.. math:: e_{\\text{MAE}} \\le 0.75\\, e_{\\text{mean patch}} \\quad\\text{and}\\quad
          e_{\\text{MAE}} < e_{\\text{random init}},

where each ``e`` is the held-out masked-patch MSE at the recipe's training ratio ``r`` (same
masks for all three). A model that fails the gate never learned: :func:`load_pretrained` refuses it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checks import check_int
from .data import ImageData, load_digits
from .metrics import masked_mse
from .models import MAE
from .results import provenance, save_json
from .runtime import SeedLike
from .training import TrainConfig, train

__all__ = ["GATE_RATIO", "GateResult", "Recipe", "RECIPES", "gate_metrics", "load_pretrained",
           "pretrain", "zoo_dir"]

GATE_RATIO = 0.75
"""A trained model's held-out masked MSE must be at most this fraction of the mean patch's."""

ZOO_ROOT = Path(__file__).resolve().parent.parent / "data" / "zoo"


@dataclass(frozen=True)
class Recipe:
    """A named, frozen way to pretrain a model for the book.

    Attributes
    ----------
    name : str
    description : str
    data : str
        ``"digits"`` (the 1,797 scikit-learn digits, fixed split) or ``"fashion_mnist"``.
    arch : dict
        Keyword arguments of :class:`~mae_theory.models.MAE`.
    train : TrainConfig
        The training config; ``train.mask_ratio`` is the ratio the gate is measured at.
    n_test : int
        Held-out images (digits: split off with ``split_seed``; Fashion-MNIST: the test set's
        first ``n_test``).
    seeds : tuple of int
        The seeds the zoo holds.
    """

    name: str
    description: str
    data: str
    arch: dict
    train: TrainConfig
    n_test: int = 300
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    split_seed: int = 0

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "data": self.data,
                "arch": dict(self.arch), "train": dataclasses.asdict(self.train),
                "n_test": self.n_test, "seeds": list(self.seeds),
                "split_seed": self.split_seed}


_DIGITS_ARCH = dict(img_size=8, patch_size=2, in_chans=1, embed_dim=64, depth=4, num_heads=4,
                    decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4)
_DIGITS_TRAIN = TrainConfig(steps=1500, batch_size=128, lr=2e-3, mask_ratio=0.75, log_every=50)

RECIPES: dict[str, Recipe] = {
    r.name: r for r in [
        Recipe("digits_mae", "chapter 1's ViT MAE on 8x8 digits, p = 2, r = 0.75",
               "digits", _DIGITS_ARCH, _DIGITS_TRAIN),
    ]
}


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


def zoo_dir(name: str, root: str | Path | None = None) -> Path:
    """Where recipe ``name``'s checkpoints live (``data/zoo/NAME``)."""
    return Path(root or ZOO_ROOT) / name


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown zoo recipe {name!r}; choose one of {sorted(RECIPES)} "
                         "(python -m mae_theory pretrain --list).")
    return RECIPES[name]


def recipe_data(recipe: Recipe) -> tuple[ImageData, ImageData]:
    """The recipe's (train, test) split, identical on every call."""
    if recipe.data == "digits":
        return load_digits(pad_to=recipe.arch["img_size"]).split(recipe.n_test,
                                                                  seed=recipe.split_seed)
    if recipe.data == "fashion_mnist":
        from .data import load_fashion_mnist

        train_set, test_set = load_fashion_mnist("train"), load_fashion_mnist("test")
        return train_set, ImageData(test_set.images[: recipe.n_test],
                                    test_set.labels[: recipe.n_test], test_set.name,
                                    test_set.mean, test_set.std, test_set.classes)
    raise ValueError(f"recipe data must be 'digits' or 'fashion_mnist'; got {recipe.data!r}.")


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


def _stored(model: MAE) -> dict:
    """The float16 state dict the zoo commits (fixed sin-cos tables are rebuilt, not stored)."""
    return {k: v.half() if v.is_floating_point() else v
            for k, v in model.state_dict().items() if "pos_embed" not in k}


def _load_stored(model: MAE, state: dict) -> MAE:
    missing, unexpected = model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False)
    if unexpected or any("pos_embed" not in k for k in missing):
        raise ValueError(f"zoo checkpoint does not fit the recipe's architecture: missing "
                         f"{missing}, unexpected {unexpected}. Retrain it with pretrain --force.")
    return model


def pretrain(name: str, *, seeds=None, root: str | Path | None = None, progress=None,
             force: bool = False) -> list[dict]:
    """Train recipe ``name`` for each seed and write checkpoint + provenance (resumable).

    A seed whose files already exist is skipped unless ``force``; each finished seed is written
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
            records.append(_read_meta(meta))
            continue
        model = MAE(**recipe.arch, seed=seed)
        t0 = time.perf_counter()
        result = train(model, train_set, recipe.train, seed=seed, device="cpu",
                       progress=progress)
        wall = time.perf_counter() - t0
        state = _stored(model)
        model = _load_stored(model, state)  # score what is stored: the float16 weights
        # the control is this very model before training: same architecture, same init
        gate = gate_metrics(model, train_set.images, test_set.images, recipe.train.mask_ratio,
                            random_init=MAE(**recipe.arch, seed=seed), seed=seed)
        record = {
            "schema": 1, "recipe": recipe.to_dict(), "seed": seed, "wall_time_s": wall,
            "history": [{"step": h["step"], "loss": h["loss"]} for h in result.history],
            "gate": {**dataclasses.asdict(gate), "ratio_required": GATE_RATIO},
            "provenance": provenance(torch.device("cpu")),
        }
        tmp = ckpt.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        tmp.replace(ckpt)
        save_json(record, meta)
        records.append(record)
    return records


def _read_meta(path: Path) -> dict:
    return json.loads(path.read_text())


def load_pretrained(name: str, *, seed: int = 0, root: str | Path | None = None,
                    check_gate: bool = True) -> tuple[MAE, dict]:
    """Load a zoo model, ready to analyse, with its provenance record.

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
    if check_gate and not record["gate"]["passed"]:
        g = record["gate"]
        raise ValueError(
            f"zoo model {name!r} seed {seed} failed its learning gate (masked MSE "
            f"{g['model_mse']:.3f} vs mean patch {g['mean_patch_mse']:.3f} and random init "
            f"{g['random_init_mse']:.3f}): it never learned. Retrain with a longer recipe.")
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    return _load_stored(MAE(**recipe.arch, seed=seed), state).eval(), record
