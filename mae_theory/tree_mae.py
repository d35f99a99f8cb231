"""Token MAEs on latent trees, probed against the shared latents c(m) (chapters 3 and 4).

One experiment is: sample a latent tree's leaves as tokens, train a
:class:`~mae_theory.models.token.TokenMAE` under a mask specification (one fixed mask, or random
masks with ratio ``r``, unit ``u`` and shift), then read every latent value and noise off the
encoder's representation of the *visible* tokens of a test mask with the regression probes of
:mod:`mae_theory.probes` (the leakage profile), and compare with Kong et al.'s prediction: the
representation carries exactly the mixed latents c(m).

Every prediction comes from :mod:`mae_theory.theory` (mixed latents, their dimension, the T6
boundary targets, the frontier of c(m), the mean dimension over masks); this module only adds
the experiment. Reading order: the prediction for a split of the leaves (:func:`mixed_nodes`),
the config and the run (:class:`TreeMAEConfig`, :func:`train_tree_mae`), probing
(:func:`probe_mask`, :func:`summarise_profile`), and the cached experiment drivers.

Notation (book/notation.md): the leaves :math:`x_1, \\dots, x_L` are the tokens, each of
dimension :math:`d_x`; a mask :math:`m` is given by its masked leaf names (``masked``), with
:math:`x_m` masked and :math:`x_{m^c}` visible; :math:`\\hat c \\in \\mathbb R^d` is the encoder's
representation (``latent_dim`` = :math:`d`); :math:`r` is the mask ratio and :math:`u` the
masking unit of random masks. The root :math:`\\rho` is the node named ``"r"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import check_float, check_int, describe
from .hierarchy import LatentTree
from .masking import masking_from_mask
from .models.token import TokenMAE, token_masking
from .probes import LeakageProfile, RegressionProbeConfig, leakage_profile, probe_r2
from .results import provenance, save_json
from .runtime import SeedLike, make_generator
from .theory import (
    boundary_targets,
    frontier,
    information_dim,
    mean_shared_dim,
    mixed_latents,
    node_roles,
)
from .training import TrainConfig, train

CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "cache"
"""Where cached experiment results live (``data/cache/`` of the repository)."""

# One int seed per run seeds its parts apart by fixed offsets. Not derive_seed: the committed
# cache of chapters 3-4 (data/cache/tree_mae-*.json) was computed with these offsets, and a
# test recomputes one entry, so changing them means regenerating the cache.
MODEL_SEED_OFFSET = 1000  # TokenMAE initialisation: seed + 1000
PROBE_SEED_OFFSET = 10_000  # probe samples of the tree: 10_000 + seed
MASK_SEED_OFFSET = 20_000  # random test masks: 20_000 + seed


# --- the prediction for a split of the leaves ------------------------------------------------
def mixed_nodes(tree, targets: Iterable[str], visible: Iterable[str]) -> frozenset[str]:
    """Latents whose leaves include both a target and a visible leaf (the shared latents).

    For a mask ``m`` with every masked leaf a target this is c(m) of Theorem 1 in a latent tree
    (the mixed-node rule, this book's reconstruction of Kong et al.'s Algorithm 1); leaves in
    neither set (masked but not scored, as in experiment T6) are ignored.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 3)
    >>> sorted(mixed_nodes(t, ["x1"], [v for v in t.leaves if v != "x1"]))
    ['a', 'aa', 'r']
    """
    _check_tree(tree)
    targets, visible = _names("targets", targets), _names("visible", visible)
    unknown = (targets | visible) - set(tree.leaves)
    if unknown or not targets or not visible or targets & visible:
        raise ValueError(f"targets and visible must be disjoint, non-empty sets of leaves of "
                         f"the tree {tree.leaves}; got {sorted(targets)} and {sorted(visible)}.")
    return mixed_latents(tree, targets, visible)


def _check_tree(tree) -> None:
    if not isinstance(tree, LatentTree):
        raise TypeError(f"tree must be a LatentTree (mae_theory.hierarchy); got "
                        f"{describe(tree)}.")


def _names(name: str, leaves) -> frozenset:
    if isinstance(leaves, str):
        raise TypeError(f"{name} must be an iterable of leaf names, not the single string "
                        f"{leaves!r}; wrap it: [{leaves!r}].")
    try:
        items = list(leaves)
    except TypeError:
        raise TypeError(f"{name} must be an iterable of leaf names; got "
                        f"{describe(leaves)}.") from None
    if not all(isinstance(v, str) for v in items):
        raise TypeError(f"{name} must hold leaf names (str), e.g. ['x1', 'x2']; got "
                        f"{describe(leaves)}.")
    return frozenset(items)


def mask_vector(tree, masked: Iterable[str]) -> torch.Tensor:
    """The mask over the tree's tokens (1 = masked) for a set of leaf names, shape (L,)."""
    _check_tree(tree)
    masked = set(_names("masked", masked))
    unknown = masked - set(tree.leaves)
    if unknown:
        raise ValueError(f"masked leaves {sorted(unknown)} are not leaves of the tree; its "
                         f"leaves are {tree.leaves}.")
    return torch.tensor([float(v in masked) for v in tree.leaves])


def loss_targets(tree, masked: Iterable[str], boundary_loss: bool) -> frozenset[str]:
    """Masked leaves that count in the loss: all, or (T6) those with no visible sibling
    (:func:`mae_theory.theory.boundary_targets`)."""
    _check_tree(tree)
    if not isinstance(boundary_loss, bool):
        raise TypeError(f"boundary_loss must be True or False; got {boundary_loss!r}.")
    return boundary_targets(tree, masked) if boundary_loss else _names("masked", masked)


# --- config and training ---------------------------------------------------------------------
@dataclass(frozen=True)
class TreeMAEConfig:
    """One token-MAE experiment on a latent tree (CPU-sized: a few seconds per seed)."""

    latent_dim: int = 2  # d, width of the representation c-hat
    hidden_dim: int = 64  # width of encoder and decoder MLPs
    depth: int = 2  # hidden layers of encoder and decoder
    n_train: int = 20000  # samples of the tree to train on (many: the MLP over-fits few)
    n_probe: int = 2000  # fresh samples for the probes (half held out)
    steps: int = 1000  # optimiser steps
    batch_size: int = 256  # samples per step
    lr: float = 3e-3  # peak learning rate (warm-up + cosine)
    fixed_mask: tuple[str, ...] | None = None  # masked leaves of the one training mask, or None
    mask_ratio: float = 0.5  # r of random masks (fixed_mask None)
    unit: int = 1  # u, consecutive leaves masked together
    shift: int = 0  # cyclic shift of the units (misalignment with the tree)
    boundary_loss: bool = False  # T6: no loss on masked leaves that have a visible sibling
    random_drop: bool = False  # T6 control: drop as many targets as boundary_loss, at random
    held_out: tuple[tuple[str, ...], ...] = ()  # masks (leaf names) never drawn in training

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden_dim", "depth", "steps", "batch_size", "unit"):
            check_int(name, getattr(self, name))
        check_int("n_train", self.n_train, low=2)
        check_int("n_probe", self.n_probe, low=8, fix="The probes hold out half the samples.")
        check_int("shift", self.shift, low=0)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("mask_ratio", self.mask_ratio, low=0.0, high=1.0, high_open=True, symbol="r")
        if self.fixed_mask is not None and (
                not isinstance(self.fixed_mask, tuple)
                or not all(isinstance(v, str) for v in self.fixed_mask)):
            raise TypeError(f"fixed_mask must be None or a tuple of leaf names; got "
                            f"{describe(self.fixed_mask)}.")
        if not isinstance(self.boundary_loss, bool):
            raise TypeError(f"boundary_loss must be True or False; got {self.boundary_loss!r}.")
        if not isinstance(self.random_drop, bool):
            raise TypeError(f"random_drop must be True or False; got {self.random_drop!r}.")
        if self.random_drop and self.boundary_loss:
            raise ValueError("random_drop is the control of boundary_loss: set one of them, "
                             "not both.")
        if isinstance(self.held_out, (str, bytes)) or not isinstance(self.held_out,
                                                                     (tuple, list)):
            raise TypeError(f"held_out must be a tuple of masks (tuples of leaf names); got "
                            f"{describe(self.held_out)}.")
        masks = []
        for m in self.held_out:
            if isinstance(m, (str, bytes)) or not isinstance(m, (tuple, list)) or not all(
                    isinstance(v, str) for v in m):
                raise TypeError(f"held_out must hold masks as tuples of leaf names, e.g. "
                                f"(('x1', 'x2'),); got {describe(self.held_out)}.")
            masks.append(tuple(m))
        object.__setattr__(self, "held_out", tuple(masks))


class _TreeTokenMAE(TokenMAE):
    """The token MAE with two training-only twists of the tree experiments.

    ``held_out`` (H, L): masks redrawn whenever training would draw one of them, so test masks
    stay unseen. ``random_drop``: per mask, as many masked tokens count in the loss as the
    boundary rule of ``loss_groups`` would keep, but chosen at random (the T6 control).
    """

    def __init__(self, *args, held_out=None, random_drop=False, **kw):
        super().__init__(*args, **kw)
        self.register_buffer("held_out", held_out)
        self.random_drop = random_drop
        self._drop_gen = torch.Generator().manual_seed(int(kw.get("seed") or 0) + 7)

    def make_masking(self, batch_size, mask_ratio=0.5, *, unit=1, seed=None, device=None):
        if not isinstance(seed, torch.Generator):
            seed = make_generator(seed)  # redraws below must differ
        m = super().make_masking(batch_size, mask_ratio, unit=unit, seed=seed, device=device)
        if self.held_out is None or self.fixed_mask is not None:
            return m
        mask = m.mask.clone()
        for _ in range(100):
            hit = (mask[:, None, :] == self.held_out[None].to(mask)).all(-1).any(-1)
            if not hit.any():
                return masking_from_mask(mask)
            new = super().make_masking(batch_size, mask_ratio, unit=unit, seed=seed,
                                       device=device).mask
            mask[hit] = new[hit]
        raise RuntimeError("held_out covers (almost) every mask of this ratio; hold out fewer.")

    def loss_weights(self, mask):
        w = super().loss_weights(mask)
        if not self.random_drop:
            return w
        k = w.sum(dim=1, keepdim=True)
        score = torch.rand(mask.shape, generator=self._drop_gen).to(mask) + 2.0 * mask
        rank = score.argsort(dim=1, descending=True).argsort(dim=1)
        return mask * (rank < k).to(mask.dtype)


@dataclass
class TreeMAERun:
    """A trained (or untrained) token MAE with the token standardisation it was trained with."""

    model: TokenMAE
    config: TreeMAEConfig
    seed: int
    mean: torch.Tensor  # (L, d_x) token means of the training data
    std: torch.Tensor  # (L, d_x) token standard deviations
    final_loss: float

    def features(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """c-hat of standardised tokens under ``mask`` (1 = masked; None: all visible)."""
        return self.model.features((x - self.mean) / self.std, mask)


def train_config(cfg: TreeMAEConfig) -> TrainConfig:
    """The training recipe of a token MAE: ``cfg``'s steps, batch, lr, ratio and unit; a 5 %
    warm-up, no weight decay, ten logging points."""
    return TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                       warmup_steps=max(1, cfg.steps // 20), weight_decay=0.0,
                       mask_ratio=cfg.mask_ratio, mask_unit=cfg.unit,
                       log_every=max(1, cfg.steps // 10))


def train_tree_mae(tree, cfg: TreeMAEConfig = TreeMAEConfig(), *, seed: int = 0,
                   trained: bool = True) -> TreeMAERun:
    """Sample ``cfg.n_train`` draws of ``tree`` and train a token MAE on them (CPU).

    ``trained=False`` returns the same model at initialisation (the control of T1).
    ``seed`` is an int (>= 0), not any ``SeedLike``: the data, the model
    (``MODEL_SEED_OFFSET``) and the probe samples (``PROBE_SEED_OFFSET``) are seeded from it
    with fixed offsets, which the committed cache of chapters 3-4 was computed with.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> run = train_tree_mae(t, TreeMAEConfig(steps=5, n_train=64, hidden_dim=16,
    ...                      fixed_mask=("x1", "x2")), seed=0)
    >>> tuple(run.features(t.sample(3, seed=1).x, mask_vector(t, ["x1", "x2"])).shape)
    (3, 2)
    """
    _check_tree(tree)
    if not isinstance(cfg, TreeMAEConfig):
        raise TypeError(f"cfg must be a TreeMAEConfig; got {type(cfg).__name__}.")
    seed = check_int("seed", seed, low=0, fix="The tree runs take an int seed (see above).")
    x = tree.sample(cfg.n_train, seed=seed).x.float()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    fixed = None if cfg.fixed_mask is None else mask_vector(tree, cfg.fixed_mask)
    groups = None
    if cfg.boundary_loss or cfg.random_drop:
        names = {p: i for i, p in enumerate(dict.fromkeys(tree.parents[v] for v in tree.leaves))}
        groups = [names[tree.parents[v]] for v in tree.leaves]
    held = (torch.stack([mask_vector(tree, m) for m in cfg.held_out]) if cfg.held_out
            else None)
    model = _TreeTokenMAE(len(tree.leaves), tree.leaf_dim, cfg.latent_dim, cfg.hidden_dim,
                          cfg.depth, fixed_mask=fixed, mask_shift=cfg.shift, loss_groups=groups,
                          seed=seed + MODEL_SEED_OFFSET, held_out=held,
                          random_drop=cfg.random_drop)
    loss = float("nan")
    if trained:
        res = train(model, (x - mean) / std, train_config(cfg), seed=seed, device="cpu",
                    progress=False)
        loss = res.final_loss
    model.eval()
    return TreeMAERun(model, cfg, seed, mean, std, loss)


# --- probing ---------------------------------------------------------------------------------
def probe_mask(run: TreeMAERun, tree, masked: Sequence[str], sample=None, *,
               config: RegressionProbeConfig | None = None,
               seed: SeedLike = 0) -> LeakageProfile:
    """Leakage profile of c-hat = E(visible tokens) under the fixed mask ``masked`` (leaf names).

    ``sample`` defaults to ``run.config.n_probe`` fresh draws (seeded apart from training data);
    ``seed`` seeds the probes' split.
    """
    if not isinstance(run, TreeMAERun):
        raise TypeError(f"run must be a TreeMAERun (from train_tree_mae); got {describe(run)}.")
    if sample is None:
        sample = tree.sample(run.config.n_probe, seed=PROBE_SEED_OFFSET + run.seed)
    feats = run.features(sample.x.float(), mask_vector(tree, masked))
    return leakage_profile(feats, sample, config or RegressionProbeConfig(), seed=seed)


def summarise_profile(tree, profile: LeakageProfile, masked: Iterable[str],
                      targets: Iterable[str] | None = None) -> dict:
    """Compare a leakage profile with the prediction for the mask ``masked``.

    Returns a dict with ``predicted`` (sorted c nodes), ``predicted_dim``, ``measured_dim``
    (:math:`\\sum_v d_v \\max(0, R^2(\\varepsilon_v))` over the latents, the root's value
    standing for its noise), ``r2_in_c`` (mean nonlinear R^2 of the own information of the nodes
    in c), ``r2_visible_only`` (mean over noises of latents and leaves whose leaves are all
    visible: nuisance the encoder could carry but should not), and ``r2_root_linear``.
    """
    _check_tree(tree)
    if not isinstance(profile, LeakageProfile):
        raise TypeError(f"profile must be a LeakageProfile (probe_mask); got "
                        f"{describe(profile)}.")
    masked = _names("masked", masked)
    visible = frozenset(tree.leaves) - masked
    targets = masked if targets is None else _names("targets", targets)
    c = mixed_nodes(tree, targets, visible)
    own = {v: (profile.r2(v, "value") if v == tree.root else profile.r2(v, "noise"))
           for v in tree.nodes}
    roles = node_roles(tree, masked, c)
    vis_only = [v for v in tree.nodes if v != tree.root and roles[v] == "visible side only"]
    measured = sum(tree.own_dim(v) * max(0.0, own[v]) for v in tree.latents)
    return {
        "predicted": sorted(c),
        "predicted_dim": information_dim(tree, c),
        "measured_dim": measured,
        "r2_in_c": sum(own[v] for v in c) / len(c),
        "r2_visible_only": (sum(own[v] for v in vis_only) / len(vis_only)) if vis_only
        else float("nan"),
        "r2_root_linear": profile.r2(tree.root, "value", "linear"),
        "own_r2": own,
    }


def random_test_masks(tree, cfg: TreeMAEConfig, n_masks: int, *,
                      seed: SeedLike) -> list[tuple]:
    """``n_masks`` held-out masks drawn like the training masks, as tuples of leaf names."""
    _check_tree(tree)
    n_masks = check_int("n_masks", n_masks, low=1)
    m = token_masking(n_masks, len(tree.leaves), cfg.mask_ratio, unit=cfg.unit,
                      shift=cfg.shift, seed=seed).mask
    return [tuple(v for v, b in zip(tree.leaves, row) if b > 0.5) for row in m]


# --- experiment drivers with a cache ---------------------------------------------------------
def _cfg_payload(cfg: TreeMAEConfig) -> dict:
    """The config as a cache key: fields added after a cache was written count at their default.

    ``random_drop`` and ``held_out`` came with chapter 4's redo; the chapter 3 caches were
    written before them, with the defaults, so leaving defaults out keeps their keys.
    """
    out = dataclasses.asdict(cfg)
    for name, default in (("random_drop", False), ("held_out", ())):
        if out.get(name) == default:
            out.pop(name)
    return out


def _key(name: str, payload: dict) -> Path:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return CACHE_DIR / f"{name}-{hashlib.sha256(blob).hexdigest()[:12]}.json"


def run_mask_experiment(tree, cfg: TreeMAEConfig, seeds: Sequence[int], *,
                        test_masks: Sequence[Sequence[str]] | None = None, n_test_masks: int = 4,
                        trained: bool = True, tree_spec: dict | None = None,
                        cache: bool = False) -> list[dict]:
    """Train one token MAE per seed and summarise its leakage on test masks.

    Parameters
    ----------
    tree : LatentTree
    cfg : TreeMAEConfig
    seeds : sequence of int
    test_masks : sequence of leaf-name sequences, optional
        Masks to probe; default: ``cfg.fixed_mask``, or ``n_test_masks`` random masks per seed.
    trained : bool
        False probes the untrained encoder (control).
    tree_spec : dict, optional
        How ``tree`` was built (e.g. ``{"branching": 2, "depth": 3, "seed": 0}``): with
        ``cache=True`` it keys the cache file together with the config, seeds and masks.
    cache : bool
        Load ``data/cache/tree_mae-<hash>.json`` if present, else compute and write it
        (atomically, with provenance).

    Returns
    -------
    list of dict
        One :func:`summarise_profile` dict per (seed, test mask), plus ``seed``, ``masked``
        and ``final_loss``.
    """
    _check_tree(tree)
    if not isinstance(cfg, TreeMAEConfig):
        raise TypeError(f"cfg must be a TreeMAEConfig; got {describe(cfg)}.")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(f"seeds must be a non-empty sequence of int seeds, e.g. [0, 1, 2]; got "
                        f"{describe(seeds)}.")
    seeds = [check_int(f"seeds[{i}]", s, low=0) for i, s in enumerate(seeds)]
    n_test_masks = check_int("n_test_masks", n_test_masks)
    if test_masks is not None:
        for m in test_masks:
            mask_vector(tree, m)  # each a set of leaf names
    payload = {"cfg": _cfg_payload(cfg), "seeds": list(seeds), "trained": trained,
               "test_masks": None if test_masks is None else [list(m) for m in test_masks],
               "n_test_masks": n_test_masks, "tree": tree_spec, "schema": 1}
    path = _key("tree_mae", payload)
    if cache and tree_spec is not None and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("payload") == json.loads(json.dumps(payload, default=str)):
            return stored["rows"]
    rows = []
    for seed in seeds:
        run = train_tree_mae(tree, cfg, seed=seed, trained=trained)
        if test_masks is not None:
            masks = [tuple(m) for m in test_masks]
        elif cfg.fixed_mask is not None:
            masks = [cfg.fixed_mask]
        else:
            masks = random_test_masks(tree, cfg, n_test_masks, seed=MASK_SEED_OFFSET + seed)
        sample = tree.sample(cfg.n_probe, seed=PROBE_SEED_OFFSET + seed)
        for masked in masks:
            targets = loss_targets(tree, masked, cfg.boundary_loss)
            if not targets:
                continue
            feats = run.features(sample.x.float(), mask_vector(tree, masked))
            prof = leakage_profile(feats, sample, seed=seed)
            row = summarise_profile(tree, prof, masked, targets)
            deepest = sorted(frontier(tree, row["predicted"]))
            c_true = torch.cat([sample.values[v] for v in deepest], dim=1)
            row["r2_chat_from_c"] = probe_r2(c_true, {"c_hat": feats}, seed=seed)["c_hat"][1]
            row.update(seed=seed, masked=list(masked), final_loss=run.final_loss)
            rows.append(row)
    if cache and tree_spec is not None:
        save_json({"payload": payload, "rows": rows, "provenance": provenance("cpu")}, path)
    return rows


# --- chapter 4: gated units, surplus, full input, cached one unit at a time -------------------
GATE_SEED_OFFSET = 30_000  # held-out samples and masks of the learning gate: 30_000 + seed
GATE_RATIO = 0.85  # a trained model must reach <= 85 % of the mean predictor's masked MSE
# (not 75 %: with the fixed mask x1..x4 only the root is shared, and it explains about a quarter
# of a hidden leaf's variance, so even a perfect model sits near 0.76 of the mean's MSE)


@torch.no_grad()
def learning_gate(run: TreeMAERun, tree, *, n: int = 2000) -> dict:
    """The learning gate of a trained tree MAE on ``n`` fresh samples and training-like masks.

    Compares the masked MSE (over the tokens that count in the model's loss, standardised
    units) with predicting the training mean (0 after standardisation) and with the same
    architecture at its initialisation; ``passed`` when the MSE is at most ``GATE_RATIO`` of
    the mean predictor's and below the untrained model's.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> run = train_tree_mae(t, TreeMAEConfig(steps=5, n_train=64, hidden_dim=8), seed=0)
    >>> sorted(learning_gate(run, t, n=32))
    ['mean_mse', 'mse', 'passed', 'untrained_mse']
    """
    if not isinstance(run, TreeMAERun):
        raise TypeError(f"run must be a TreeMAERun (from train_tree_mae); got {describe(run)}.")
    _check_tree(tree)
    n = check_int("n", n, low=2)
    cfg = run.config
    x = (tree.sample(n, seed=GATE_SEED_OFFSET + run.seed).x.float() - run.mean) / run.std
    masking = run.model.make_masking(n, cfg.mask_ratio, unit=cfg.unit,
                                     seed=GATE_SEED_OFFSET + run.seed)
    mse = float(run.model(x, masking=masking)[0])
    w = run.model.loss_weights(masking.mask.float())
    mean_mse = float(((x**2).mean(-1) * w).sum() / w.sum().clamp_min(1.0))
    init = train_tree_mae(tree, dataclasses.replace(cfg, n_train=2), seed=run.seed,
                          trained=False).model
    init.random_drop = False  # the untrained model is scored on the same weights w
    pred = init.decode(init.encode(x, masking.mask.float()), masking.mask.float())
    untrained = float((((pred - x) ** 2).mean(-1) * w).sum() / w.sum().clamp_min(1.0))
    return {"mse": mse, "mean_mse": mean_mse, "untrained_mse": untrained,
            "passed": bool(mse <= GATE_RATIO * mean_mse and mse < untrained)}


def node_levels(tree) -> dict[str, int]:
    """Level of every node: 0 for the root, 1 for its children, ... (leaves deepest)."""
    _check_tree(tree)
    return {v: len(tree.ancestors(v)) for v in tree.nodes}


def surplus_split(tree, row: dict) -> dict:
    """Split a test mask's measured dimension into c(m), latent surplus and leaf-noise surplus.

    Each node contributes :math:`d_v \\max(0, R^2_v)` of its own information (``row['own_r2']``
    from :func:`summarise_profile`). Returns ``in_c`` (nodes of c(m)), ``latent`` (latents
    outside c(m)), ``leaf_noise`` (the leaves' own noises), ``total`` (all three),
    ``by_level`` (``{level: surplus}``, latents outside c(m) and leaves) and ``nodes``
    (``{node: surplus contribution}``, largest first).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> own = {v: 0.0 for v in t.nodes} | {"r": 1.0, "x4": 0.5}
    >>> out = surplus_split(t, {"predicted": ["r"], "own_r2": own})
    >>> out["in_c"], out["latent"], out["leaf_noise"], out["by_level"]
    (2.0, 0.0, 1.0, {1: 0.0, 2: 1.0})
    """
    _check_tree(tree)
    if not isinstance(row, dict) or "predicted" not in row or "own_r2" not in row:
        raise TypeError("row must be a result dict with 'predicted' and 'own_r2' (from "
                        f"summarise_profile); got {describe(row)}.")
    c, own, level = set(row["predicted"]), row["own_r2"], node_levels(tree)
    part = {v: tree.own_dim(v) * max(0.0, float(own[v])) for v in tree.nodes}
    outside = [v for v in tree.nodes if v not in c and v != tree.root]
    by_level = {}
    for v in outside:
        by_level[level[v]] = by_level.get(level[v], 0.0) + part[v]
    in_c = sum(part[v] for v in c)
    latent = sum(part[v] for v in outside if v in tree.latents)
    leaf = sum(part[v] for v in tree.leaves)
    nodes = dict(sorted(((v, part[v]) for v in outside), key=lambda kv: -kv[1]))
    return {"in_c": in_c, "latent": latent, "leaf_noise": leaf, "total": in_c + latent + leaf,
            "by_level": dict(sorted(by_level.items())), "nodes": nodes}


def split_means(tree, rows: Sequence[dict]) -> dict:
    """Means over test masks (rows of one model) of :func:`surplus_split`'s parts, plus
    ``predicted`` (mean dim c(m)) and ``latent_dim`` (the previous edition's measured
    dimension: latents only)."""
    if isinstance(rows, (str, bytes, dict)) or not isinstance(rows, Sequence) or not rows:
        raise TypeError(f"rows must be a non-empty list of result rows (run_unit(...)['rows']);"
                        f" got {describe(rows)}.")
    parts = [surplus_split(tree, r) for r in rows]
    out = {k: sum(p[k] for p in parts) / len(parts)
           for k in ("in_c", "latent", "leaf_noise", "total")}
    out["predicted"] = sum(r["predicted_dim"] for r in rows) / len(rows)
    out["latent_dim"] = sum(r["measured_dim"] for r in rows) / len(rows)
    return out


def level_means(tree, own_r2: dict) -> dict[int, float]:
    """Mean own-information R^2 per level (0 = root, deepest = the leaves' noises).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 1)
    >>> level_means(t, {"r": 0.9, "x1": 0.2, "x2": 0.4})
    {0: 0.9, 1: 0.30000000000000004}
    """
    _check_tree(tree)
    if not isinstance(own_r2, dict) or set(own_r2) != set(tree.nodes):
        raise TypeError("own_r2 must map every node of the tree to its R^2 (a row's or a full"
                        f"-input result's 'own_r2'); got {describe(own_r2)}.")
    levels, out = node_levels(tree), {}
    for v, lv in levels.items():
        out.setdefault(lv, []).append(float(own_r2[v]))
    return {lv: sum(x) / len(x) for lv, x in sorted(out.items())}


def surplus_members(tree, rows: Sequence[dict]) -> list[dict]:
    """Who makes up the surplus over c(m): the nodes outside c(m) grouped by level, kind
    (latent or leaf noise) and side of the mask (:func:`mae_theory.theory.node_roles`), with
    their mean contribution :math:`d_v \\max(0, R^2)` per test mask and mean R^2, largest
    first."""
    if isinstance(rows, (str, bytes, dict)) or not isinstance(rows, Sequence) or not rows:
        raise TypeError(f"rows must be a non-empty list of result rows; got {describe(rows)}.")
    levels, groups = node_levels(tree), {}
    for row in rows:
        roles = node_roles(tree, row["masked"], row["predicted"])
        for v in tree.nodes:
            if v in row["predicted"] or v == tree.root:
                continue
            key = (levels[v], "leaf noise" if v in tree.leaves else "latent", roles[v])
            r2 = float(row["own_r2"][v])
            g = groups.setdefault(key, [0.0, 0.0, 0])
            g[0] += tree.own_dim(v) * max(0.0, r2)
            g[1] += r2
            g[2] += 1
    out = [{"level": k[0], "kind": k[1], "side": k[2], "dim_per_mask": g[0] / len(rows),
            "mean_r2": g[1] / g[2]} for k, g in groups.items()]
    return sorted(out, key=lambda d: -d["dim_per_mask"])


def level_in_c_probability(tree, level: int | None = None) -> dict[int, float]:
    """For each number n of masked leaves, the share of all n-leaf masks whose c(m) holds a
    latent of ``level`` (default: the deepest latent level). Exhaustive: small trees only.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> p = level_in_c_probability(LatentTree.balanced(2, 3))
    >>> round(p[1], 3), round(p[2], 3), round(p[4], 3)
    (1.0, 0.857, 0.914)
    """
    import itertools

    from .theory import shared_latents

    _check_tree(tree)
    levels = node_levels(tree)
    deepest = max(levels[v] for v in tree.latents)
    level = deepest if level is None else check_int("level", level, low=0)
    if level > deepest:
        raise ValueError(f"level must be a latent level 0..{deepest}; got {level}.")
    if len(tree.leaves) > 16:
        raise ValueError(f"the tree has {len(tree.leaves)} leaves; this exhaustive count "
                         "takes at most 16 (2^16 masks).")
    out = {}
    for k in range(1, len(tree.leaves)):
        hits = total = 0
        for masked in itertools.combinations(tree.leaves, k):
            total += 1
            hits += any(levels[v] == level for v in shared_latents(tree, masked))
        out[k] = hits / total
    return out


def all_masks(tree, mask_ratio: float, *, unit: int = 1, shift: int = 0) -> list[tuple]:
    """Every mask :func:`~mae_theory.models.token.token_masking` can draw at this ratio and
    unit, as tuples of leaf names."""
    import itertools

    _check_tree(tree)
    n_units = len(tree.leaves) // unit
    k = int(token_masking(1, len(tree.leaves), mask_ratio, unit=unit, shift=shift,
                          seed=0).mask.sum().item()) // unit
    unit_of = [((i - shift) % len(tree.leaves)) // unit for i in range(len(tree.leaves))]
    return [tuple(v for v, u in zip(tree.leaves, unit_of) if u in chosen)
            for chosen in itertools.combinations(range(n_units), k)]


def design_test_masks(tree, mask_ratio: float, n_masks: int, *, unit: int = 1, shift: int = 0,
                      seed: int = 0, enumerate_up_to: int | None = None
                      ) -> tuple[list[tuple], bool]:
    """Test masks for one ratio and unit: all of them when at most ``enumerate_up_to``
    (default ``n_masks``) exist (then training sees them too), else ``n_masks`` distinct ones
    drawn at random, to be held out of training (``TreeMAEConfig.held_out``). Returns
    ``(masks, held_out)``.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 3)
    >>> masks, held = design_test_masks(t, 0.1, 8)
    >>> len(masks), held
    (8, False)
    >>> masks, held = design_test_masks(t, 0.5, 8)
    >>> len(set(masks)), held
    (8, True)
    """
    n_masks = check_int("n_masks", n_masks)
    limit = n_masks if enumerate_up_to is None else check_int("enumerate_up_to",
                                                              enumerate_up_to)
    masks = all_masks(tree, mask_ratio, unit=unit, shift=shift)
    if len(masks) <= limit:
        return masks, False
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    pick = torch.randperm(len(masks), generator=gen)[:n_masks].tolist()
    return [masks[i] for i in sorted(pick)], True


def run_unit(tree, cfg: TreeMAEConfig, seed: int, test_masks: Sequence[Sequence[str]], *,
             trained: bool = True, full_input: bool = False, big_probe: int = 0,
             big_masks: int | None = None, chat_from_c: bool = False) -> dict:
    """One model (one seed) of chapter 4: train (or not), gate, probe the test masks.

    Returns ``{"rows": [...], "gate": {...} or None, "full": {...} or None}``: one
    :func:`summarise_profile` row per test mask with a loss target (plus ``masked``; with
    ``chat_from_c`` the R^2 of c-hat from c, ``r2_chat_from_c``; with ``big_probe`` > 0, on the
    first ``big_masks`` test masks (default all), the nonlinear and linear R^2 of the nodes of
    c(m) from ``big_probe`` fresh samples, ``r2_in_c_big`` and ``r2_in_c_big_linear``, of its
    deepest level, ``r2_deep_big``, and the same from the usual probe, ``r2_deep``); the
    learning gate of a trained model; with
    ``full_input`` the own-information R^2 of every node from the unmasked input.
    """
    _check_tree(tree)
    seed = check_int("seed", seed, low=0)
    run = train_tree_mae(tree, cfg, seed=seed, trained=trained)
    sample = tree.sample(cfg.n_probe, seed=PROBE_SEED_OFFSET + seed)
    big = (tree.sample(check_int("big_probe", big_probe, low=8), seed=PROBE_SEED_OFFSET + 500
                       + seed) if big_probe else None)
    levels = node_levels(tree)
    rows = []
    n_big = len(test_masks) if big_masks is None else check_int("big_masks", big_masks)
    for i, masked in enumerate([tuple(m) for m in test_masks]):
        targets = loss_targets(tree, masked, cfg.boundary_loss)
        if not targets:
            continue
        feats = run.features(sample.x.float(), mask_vector(tree, masked))
        row = summarise_profile(tree, leakage_profile(feats, sample, seed=seed), masked, targets)
        if chat_from_c:
            deepest = sorted(frontier(tree, row["predicted"]))
            c_true = torch.cat([sample.values[v] for v in deepest], dim=1)
            row["r2_chat_from_c"] = probe_r2(c_true, {"c_hat": feats}, seed=seed)["c_hat"][1]
        if big is not None and i < n_big:
            fb = run.features(big.x.float(), mask_vector(tree, masked))
            c = row["predicted"]
            own = {v: (big.values[v] if v == tree.root else big.noises[v]) for v in c}
            sc = probe_r2(fb, own, RegressionProbeConfig(max_train=big_probe), seed=seed)
            low = max(levels[v] for v in c)
            row["r2_in_c_big"] = sum(sc[v][1] for v in c) / len(c)
            row["r2_in_c_big_linear"] = sum(sc[v][0] for v in c) / len(c)
            row["r2_deep_big"] = (sum(sc[v][1] for v in c if levels[v] == low)
                                  / sum(levels[v] == low for v in c))
            row["r2_deep"] = (sum(row["own_r2"][v] for v in c if levels[v] == low)
                              / sum(levels[v] == low for v in c))
        row.update(seed=seed, masked=list(masked), final_loss=run.final_loss)
        rows.append(row)
    full = None
    if full_input:
        prof = leakage_profile(run.features(sample.x.float(), None), sample, seed=seed)
        full = {"own_r2": {v: (prof.r2(v, "value") if v == tree.root else prof.r2(v, "noise"))
                           for v in tree.nodes},
                "r2_root_linear": prof.r2(tree.root, "value", "linear")}
    return {"rows": rows, "gate": learning_gate(run, tree) if trained else None, "full": full}


def unit_payload(tree_spec: dict, cfg: TreeMAEConfig, seed: int, test_masks, **options) -> dict:
    """What keys one cached unit: tree, config, seed, test masks and :func:`run_unit`'s
    options."""
    if not isinstance(tree_spec, dict):
        raise TypeError(f"tree_spec must be the dict of LatentTree.balanced's arguments; got "
                        f"{describe(tree_spec)}.")
    return json.loads(json.dumps({
        "tree": tree_spec, "cfg": dataclasses.asdict(cfg), "seed": seed,
        "test_masks": [list(m) for m in test_masks], "options": options, "schema": 2},
        sort_keys=True, default=str))


def cached_unit(name: str, tree_spec: dict, cfg: TreeMAEConfig, seed: int, test_masks, *,
                compute: bool = True, **options) -> dict:
    """:func:`run_unit` through the cache file ``data/cache/NAME.json`` (one entry per unit).

    A unit found in the file is returned as stored; otherwise it is computed (unless
    ``compute=False``: then KeyError) and written into the file at once, atomically, with its
    provenance, so a background script can fill the file one unit at a time and resume.
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a file stem such as 'ch4_t3'; got {name!r}.")
    payload = unit_payload(tree_spec, cfg, seed, test_masks, **options)
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{name}.json"
    if path.exists():
        units = json.loads(path.read_text())["units"]
        if key in units and units[key]["payload"] == payload:
            return units[key]["result"]
    if not compute:
        raise KeyError(f"unit {key} of {path.name} is not cached; run scripts/ch4_cache.py.")
    from .hierarchy import LatentTree

    result = run_unit(LatentTree.balanced(**tree_spec), cfg, seed, test_masks, **options)
    with _locked(path):  # several background workers may fill one file
        store = json.loads(path.read_text()) if path.exists() else {"units": {}}
        store["units"][key] = {"payload": payload, "result": result,
                               "provenance": provenance("cpu")}
        save_json(store, path)
    return result


class _locked:
    def __init__(self, path: Path):
        import tempfile

        self.lock = Path(tempfile.gettempdir()) / f"mae_theory-{path.name}.lock"

    def __enter__(self):
        import fcntl

        self.file = open(self.lock, "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        self.file.close()


CH4_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
CH4_UNITS = ((1, 0), (2, 0), (2, 1), (4, 0))
CH4_WIDTHS = (2, 4, 16)
CH4_SEEDS = (0, 1, 2, 3, 4)
CH4_TREE_SEEDS = (0, 1)
CH4_T4_SEEDS = (0, 1, 2)  # 16 leaves cost twice the time: T4 keeps the previous 3 seeds


def chapter4_units(experiment: str) -> list[dict]:
    """The declared design of chapter 4's experiment ``"t3"``, ``"t4"``, ``"t5"`` or ``"t6"``:
    one dict per cached unit (``label``, ``tree_spec``, ``cfg``, ``seed``, ``test_masks``,
    ``options``) for :func:`cached_unit`; the chapter and ``scripts/ch4_cache.py`` share it.

    T3: 2 trees x 5 seeds x 5 ratios, trained and untrained; all 8 masks at r = 0.1 and 0.9
    (seen in training: no other mask exists), 4 held-out masks elsewhere, those of r > 0.5 the
    complements of those of 1 - r (the untrained control: the first 4). T4: 16 leaves,
    r = 0.5, 4 units x 3 seeds, 4 held-out masks (all 6 for aligned quadruples), recovery also
    from 4,000 probe samples on 2 masks at u = 1 and shifted u = 2; untrained control at
    u = 4. T5: the fixed mask
    x1..x4 at widths 2, 4, 16 x 5 seeds, trained and untrained. T6: boundary loss and its
    random-drop control at r = 0.5 on T3's first tree and its r = 0.5 test masks.
    """
    spec8 = dict(branching=2, depth=3, root_dim=2, noise_dim=2, seed=0, n_layers=1,
                 negative_slope=0.5)
    units = []

    def add(label, spec, cfg, seed, masks, **options):
        units.append(dict(label=label, tree_spec=spec, cfg=cfg, seed=seed,
                          test_masks=[tuple(m) for m in masks], options=options))

    if experiment in ("t3", "t6"):
        from .hierarchy import LatentTree

        for ts in CH4_TREE_SEEDS:
            spec = dict(spec8, seed=ts)
            tree = LatentTree.balanced(**spec)
            design = {}
            for r in CH4_RATIOS:
                if r <= 0.5:
                    design[r] = design_test_masks(tree, r, 4, seed=100 * ts + int(100 * r),
                                                  enumerate_up_to=8)
                else:
                    low, held = design[round(1 - r, 2)]
                    design[r] = ([tuple(v for v in tree.leaves if v not in m) for m in low],
                                 held)
            for r in CH4_RATIOS:
                masks, held = design[r]
                cfg = TreeMAEConfig(latent_dim=14, mask_ratio=r,
                                    held_out=tuple(masks) if held else ())
                for seed in CH4_SEEDS:
                    if experiment == "t3":
                        add(("t3", ts, r, seed, True), spec, cfg, seed, masks, trained=True,
                            full_input=True)
                        # the untrained control: 4 masks, the full input once (same net at
                        # every r)
                        add(("t3", ts, r, seed, False), spec, cfg, seed, masks[:4],
                            trained=False, full_input=r == 0.5)
                    elif ts == 0 and r == 0.5:
                        for rule in ("boundary", "random"):
                            c6 = dataclasses.replace(cfg, boundary_loss=rule == "boundary",
                                                     random_drop=rule == "random")
                            add(("t6", rule, seed), spec, c6, seed, masks, trained=True,
                                full_input=False)
    elif experiment == "t4":
        from .hierarchy import LatentTree

        spec = dict(spec8, depth=4)
        tree = LatentTree.balanced(**spec)
        for unit, shift in CH4_UNITS:
            masks, held = design_test_masks(tree, 0.5, 4, unit=unit, shift=shift,
                                            seed=10 * unit + shift, enumerate_up_to=8)
            cfg = TreeMAEConfig(latent_dim=30, mask_ratio=0.5, unit=unit, shift=shift,
                                held_out=tuple(masks) if held else ())
            big = 4000 if (unit, shift) in ((1, 0), (2, 1)) else 0
            for seed in CH4_T4_SEEDS:
                add(("t4", (unit, shift), seed, True), spec, cfg, seed, masks, trained=True,
                    full_input=False, big_probe=big, big_masks=2)
                if (unit, shift) == (4, 0):
                    add(("t4", (unit, shift), seed, False), spec, cfg, seed, masks,
                        trained=False, full_input=False)
    elif experiment == "t5":
        half = ("x1", "x2", "x3", "x4")
        for d in CH4_WIDTHS:
            cfg = TreeMAEConfig(latent_dim=d, fixed_mask=half, steps=600)
            for seed in CH4_SEEDS:
                for trained in (True, False):
                    add(("t5", d, seed, trained), spec8, cfg, seed, [half], trained=trained,
                        full_input=False, chat_from_c=True)
    else:
        raise ValueError(f"experiment must be 't3', 't4', 't5' or 't6'; got {experiment!r}.")
    return units


def load_chapter4(experiment: str, *, compute: bool = True) -> dict:
    """Every unit of :func:`chapter4_units` from ``data/cache/ch4_EXPERIMENT.json``
    (``{label: result}``); missing units are computed and cached (slow) unless ``compute``
    is False."""
    units = chapter4_units(experiment)
    path = CACHE_DIR / f"ch4_{experiment}.json"
    stored = json.loads(path.read_text())["units"] if path.exists() else {}
    by_payload = {json.dumps(v["payload"], sort_keys=True): v["result"] for v in stored.values()}
    out = {}
    for u in units:
        payload = unit_payload(u["tree_spec"], u["cfg"], u["seed"], u["test_masks"],
                               **u["options"])
        hit = by_payload.get(json.dumps(payload, sort_keys=True))
        out[u["label"]] = hit if hit is not None else cached_unit(
            f"ch4_{experiment}", u["tree_spec"], u["cfg"], u["seed"], u["test_masks"],
            compute=compute, **u["options"])
    return out


def expected_dim_token_masks(tree, mask_ratio: float, *, unit: int = 1, shift: int = 0,
                             boundary_loss: bool = False, n_draws: int = 2000,
                             seed: SeedLike = 0) -> float:
    """Mean predicted dim c over the masks the token MAE trains with (:func:`token_masking`).

    Same as :func:`mae_theory.theory.expected_shared_dim` except for the masked count,
    ``round(r U)`` units here (symmetric in r <-> 1 - r) against the image rule there; the
    masks come from :func:`~mae_theory.models.token.token_masking` and the mean from
    :func:`mae_theory.theory.mean_shared_dim` (with ``boundary_loss`` the shared latents are
    those of the loss targets and the visible leaves; masks without a target count as 0).

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 3)
    >>> expected_dim_token_masks(t, 0.5, unit=4), expected_dim_token_masks(t, 0.9)
    (2.0, 6.0)
    """
    _check_tree(tree)
    n_draws = check_int("n_draws", n_draws, low=1)
    masks = token_masking(n_draws, len(tree.leaves), mask_ratio, unit=unit, shift=shift,
                          seed=seed).mask
    return mean_shared_dim(tree, masks, boundary_loss=boundary_loss)


def seed_means(rows: Sequence[dict], key: str) -> dict[int, float]:
    """Average ``row[key]`` over the test masks of each seed: ``{seed: mean}``."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not all(
            isinstance(r, dict) and "seed" in r for r in rows):
        raise TypeError(f"rows must be a sequence of result dicts with a 'seed' (from "
                        f"run_mask_experiment); got {describe(rows)}.")
    missing = [i for i, r in enumerate(rows) if key not in r] if isinstance(key, str) else [0]
    if missing:
        raise ValueError(f"key must name a field of every row; {key!r} is missing from row "
                         f"{missing[0]} (fields: {sorted(rows[missing[0]])[:12]}).")
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row["seed"], []).append(row[key])
    return {s: sum(v) / len(v) for s, v in out.items()}


# --- Theorem 2 under random masks ------------------------------------------------------------
#
# Kong et al.'s Theorem 2 is per mask: a bottleneck of exactly dim c(m). A token MAE trained with
# random masks has one width d for every mask. The experiment T2b of chapter 3 restores the
# theorem's condition mask by mask: the encoder has d = max_m dim c(m) outputs, and under mask m
# every coordinate beyond dim c(m) is set to zero (:class:`CutBottleneckMAE`), so the
# representation of each mask has exactly dim c(m) free coordinates. The same model without the
# cut (the wide bottleneck) is the contrast, and the cut model at initialisation the control.
# Masks are drawn from a fixed training list, so held-out test masks were never seen.

T2B_MODELS = ("cut", "wide", "untrained")
"""The three models of experiment T2b, in the order :func:`run_theorem2_random_masks` runs them."""

# The design of T2b, fixed before its run (scripts/t2b_random_masks.py computes the cache, the
# chapter reads it): chapter 3's tree and a second draw of it, 5 seeds each, d = 14 (the largest
# dim c(m) of a mask hiding 4 of the 8 leaves), 1000 steps; 10 of the 70 such masks held out.
T2B_TREES = tuple(dict(branching=2, depth=3, root_dim=2, noise_dim=2, seed=s, n_layers=1,
                       negative_slope=0.5) for s in (0, 1))
T2B_SEEDS = (0, 1, 2, 3, 4)
T2B_CONFIG = TreeMAEConfig(latent_dim=14, steps=1000)
T2B_N_MASKED, T2B_N_HELDOUT = 4, 10


class CutBottleneckMAE(TokenMAE):
    """A :class:`~mae_theory.models.token.TokenMAE` whose :math:`\\hat c` under mask ``m`` keeps
    only its first ``dim c(m)`` coordinates (the rest are zero), and whose training masks are
    drawn from a given list.

    Parameters
    ----------
    tree : LatentTree
        Gives the tokens (its leaves) and dim c(m) of every mask
        (:func:`mae_theory.theory.mixed_latents`, :func:`~mae_theory.theory.information_dim`).
    latent_dim : int
        ``d``, at least the largest dim c(m) over the training masks.
    hidden_dim, depth : int
        As for :class:`~mae_theory.models.token.TokenMAE`.
    train_masks : torch.Tensor, shape (K, L)
        The masks training draws from, uniformly (1 = masked, ``tree.leaves`` order); every row
        must hide the same number of leaves.
    cut : bool
        False gives the wide contrast: the same model and masks, no cut.
    seed : int
        Seeds the initialisation.

    Notes
    -----
    A mask with no masked leaf (the full input, ``mask=None``) keeps all ``d`` coordinates: the
    cut is defined only where c(m) is.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> masks = torch.tensor([[1., 1., 0., 0.], [1., 0., 1., 0.]])
    >>> mae = CutBottleneckMAE(t, 6, 16, 1, train_masks=masks, seed=0)
    >>> mae.shared_dims(masks).tolist()          # dim c(m): {r} and {r, a, b}
    [2, 6]
    >>> (mae.features(t.sample(3, seed=0).x, masks[0]) != 0).sum(dim=1).tolist()
    [2, 2, 2]
    """

    def __init__(self, tree, latent_dim: int, hidden_dim: int = 64, depth: int = 2, *,
                 train_masks: torch.Tensor, cut: bool = True, seed: int = 0):
        _check_tree(tree)
        if not isinstance(cut, bool):
            raise TypeError(f"cut must be True or False; got {cut!r}.")
        super().__init__(len(tree.leaves), tree.leaf_dim, latent_dim, hidden_dim, depth,
                         seed=seed)
        masks = _mask_rows(tree, train_masks, "train_masks")
        if len(set(masks.sum(dim=1).tolist())) != 1:
            raise ValueError("train_masks must all hide the same number of leaves (the encoder "
                             "batch is rectangular); got counts "
                             f"{sorted(set(masks.sum(dim=1).int().tolist()))}.")
        self.cut = cut
        below = torch.tensor([[float(v in tree.descendant_leaves(a)) for v in tree.leaves]
                              for a in tree.latents])
        self.register_buffer("below", below)  # (latents, L): leaf under latent
        self.register_buffer("own", torch.tensor([float(tree.own_dim(a))
                                                  for a in tree.latents]))
        self.register_buffer("train_masks", masks)
        largest = int(self.shared_dims(masks).max())
        if latent_dim < largest:
            raise ValueError(f"latent_dim d={latent_dim} is below the largest dim c(m) = "
                             f"{largest} over train_masks; pass latent_dim >= {largest}.")

    def shared_dims(self, mask: torch.Tensor) -> torch.Tensor:
        """dim c(m) of each row of ``mask`` (N, L), 1 = masked; 0 where no leaf is masked."""
        m = mask.to(self.below.dtype)
        mixed = ((m @ self.below.T) > 0) & (((1.0 - m) @ self.below.T) > 0)
        return (mixed.to(self.own.dtype) @ self.own).round().long()

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """:math:`\\hat c`, with coordinates ``>= dim c(m)`` set to zero when ``cut``."""
        c_hat = super().encode(x, mask)
        if not self.cut or mask is None:
            return c_hat
        dims = self.shared_dims(mask)
        keep = torch.arange(self.latent_dim, device=c_hat.device) < dims[:, None]
        keep |= (dims == 0)[:, None]  # no masked leaf: the full input keeps every coordinate
        return c_hat * keep.to(c_hat.dtype)

    def make_masking(self, batch_size: int, mask_ratio: float = 0.5, *, unit: int = 1,
                     seed: SeedLike = None, device=None):
        """``batch_size`` rows of ``train_masks``, drawn uniformly (ratio and unit unused)."""
        gen = make_generator(seed)
        idx = torch.randint(len(self.train_masks), (batch_size,),
                            generator=gen if gen.device.type == "cpu" else None)
        device = self.pos_embed.device if device is None else device
        return masking_from_mask(self.train_masks[idx.to(self.train_masks.device)].to(device))


def _mask_rows(tree, masks, name: str) -> torch.Tensor:
    """``masks`` as a float (K, L) tensor of 0/1 with both sides non-empty, or raise."""
    m = torch.as_tensor(masks).float() if not isinstance(masks, torch.Tensor) else masks.float()
    n = len(tree.leaves)
    if (m.ndim != 2 or m.shape[0] < 1 or m.shape[1] != n
            or not bool(((m == 0) | (m == 1)).all())):
        raise ValueError(f"{name} must be a (K, L) array of 0/1 with K >= 1 and L = {n} (one "
                         f"column per leaf, 1 = masked); got {describe(m)}.")
    counts = m.sum(dim=1)
    if bool(((counts == 0) | (counts == n)).any()):
        raise ValueError(f"every row of {name} must mask at least one and not all {n} leaves.")
    return m


def split_masks(tree, n_masked: int, n_heldout: int, *, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """All masks hiding ``n_masked`` leaves, split into training masks and ``n_heldout`` held-out
    ones (a seeded random choice), each (K, L) with 1 = masked.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> train_m, test_m = split_masks(LatentTree.balanced(2, 3), 4, 10)
    >>> len(train_m), len(test_m), bool((train_m[:, None] == test_m[None]).all(-1).any())
    (60, 10, False)
    """
    _check_tree(tree)
    n = len(tree.leaves)
    n_masked = check_int("n_masked", n_masked, low=1, high=n - 1,
                         fix="Both sides of a mask must be non-empty.")
    rows = [[float(i in c) for i in range(n)]
            for c in itertools.combinations(range(n), n_masked)]
    n_heldout = check_int("n_heldout", n_heldout, low=1, high=len(rows) - 1,
                          fix=f"There are {len(rows)} masks; keep at least one for training.")
    perm = torch.randperm(len(rows), generator=make_generator(check_int("seed", seed, low=0)))
    all_m = torch.tensor(rows)
    return all_m[perm[n_heldout:].sort().values], all_m[perm[:n_heldout].sort().values]


def masked_mse(model: TokenMAE, x: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean squared error on the masked tokens of standardised ``x``, averaged over ``masks``
    (each applied to every sample); predicting the training mean scores about 1.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(2, 2)
    >>> masks = torch.tensor([[1., 1., 0., 0.], [1., 0., 1., 0.]])
    >>> mae = CutBottleneckMAE(t, 6, 16, 1, train_masks=masks, seed=0)
    >>> x = torch.zeros(4, 4, t.leaf_dim)
    >>> masked_mse(mae, x, masks) >= 0.0
    True
    """
    with torch.no_grad():
        errs = [float(model(x, mask=m)[0]) for m in masks]
    return sum(errs) / len(errs)


def run_theorem2_random_masks(tree, cfg: TreeMAEConfig, seed: int, *, train_masks,
                              heldout_masks, models: Sequence[str] = T2B_MODELS,
                              tree_spec: dict | None = None, cache: bool = False) -> list[dict]:
    """Experiment T2b for one tree and one seed: the cut, wide and untrained models, probed on
    every held-out mask.

    Parameters
    ----------
    tree : LatentTree
    cfg : TreeMAEConfig
        Width ``latent_dim`` (>= the largest dim c(m)), ``hidden_dim``, ``depth``, ``steps``,
        ``batch_size``, ``lr``, ``n_train``, ``n_probe``; mask fields are unused.
    seed : int
        Seeds data, initialisation (``MODEL_SEED_OFFSET``), probe samples
        (``PROBE_SEED_OFFSET``) and the gate's samples (``MASK_SEED_OFFSET``).
    train_masks, heldout_masks : (K, L) 0/1 arrays
        Masks to train with and to test on (:func:`split_masks`).
    models : sequence of str
        Which of :data:`T2B_MODELS` to run (all by default; the staleness test reruns one).
        Only the full set is cached.
    tree_spec : dict, optional
        How ``tree`` was built (``LatentTree.balanced`` keywords); with ``cache=True`` it keys
        ``data/cache/t2_random_masks-<hash>.json``.
    cache : bool
        Load the cached rows if present, else compute and write them.

    Returns
    -------
    list of dict
        One row per (model in :data:`T2B_MODELS`, held-out mask): :func:`summarise_profile`'s
        fields plus ``model``, ``seed``, ``masked``, ``final_loss``, ``masked_mse`` (the
        model's mean masked error on fresh draws under the held-out masks) and ``mean_mse``
        (predicting the training mean, on the same draws).
    """
    _check_tree(tree)
    if not isinstance(cfg, TreeMAEConfig):
        raise TypeError(f"cfg must be a TreeMAEConfig; got {describe(cfg)}.")
    seed = check_int("seed", seed, low=0)
    train_m = _mask_rows(tree, train_masks, "train_masks")
    test_m = _mask_rows(tree, heldout_masks, "heldout_masks")
    if isinstance(models, str) or not set(models) <= set(T2B_MODELS) or not models:
        raise ValueError(f"models must be a non-empty subset of {T2B_MODELS}; got {models!r}.")
    cache = cache and tuple(models) == T2B_MODELS
    payload = {"cfg": _cfg_payload(cfg), "seed": seed, "tree": tree_spec,
               "train_masks": train_m.int().tolist(), "heldout_masks": test_m.int().tolist(),
               "schema": 1}
    path = _key("t2_random_masks", payload)
    if cache and tree_spec is not None and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("payload") == json.loads(json.dumps(payload, default=str)):
            return stored["rows"]
    x = tree.sample(cfg.n_train, seed=seed).x.float()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    probe = tree.sample(cfg.n_probe, seed=PROBE_SEED_OFFSET + seed)
    gate_x = (tree.sample(2000, seed=MASK_SEED_OFFSET + seed).x.float() - mean) / std
    mean_mse = masked_mse_of_mean(gate_x, test_m)
    tcfg = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                       warmup_steps=max(1, cfg.steps // 20), weight_decay=0.0,
                       mask_ratio=0.5, log_every=max(1, cfg.steps // 10))
    rows = []
    for name in (v for v in T2B_MODELS if v in models):
        model = CutBottleneckMAE(tree, cfg.latent_dim, cfg.hidden_dim, cfg.depth,
                                 train_masks=train_m, cut=name != "wide",
                                 seed=seed + MODEL_SEED_OFFSET)
        loss = float("nan")
        if name != "untrained":
            loss = train(model, (x - mean) / std, tcfg, seed=seed, device="cpu",
                         progress=False).final_loss
        model.eval()
        run = TreeMAERun(model, cfg, seed, mean, std, loss)
        err = masked_mse(model, gate_x, test_m)
        for m in test_m:
            masked = tuple(v for v, b in zip(tree.leaves, m.tolist()) if b > 0.5)
            feats = run.features(probe.x.float(), m)
            prof = leakage_profile(feats, probe, seed=seed)
            row = summarise_profile(tree, prof, masked)
            row.update(model=name, seed=seed, masked=list(masked), final_loss=loss,
                       masked_mse=err, mean_mse=mean_mse)
            rows.append(row)
    if cache and tree_spec is not None:
        save_json({"payload": payload, "rows": rows, "provenance": provenance("cpu")}, path)
    return rows


def masked_mse_of_mean(x: torch.Tensor, masks: torch.Tensor) -> float:
    """The trivial predictor's masked error: predicting 0 (the training mean) for standardised
    ``x`` (N, L, d_x), averaged over ``masks`` (K, L) like :func:`masked_mse`.

    Examples
    --------
    >>> x = torch.ones(3, 2, 4)
    >>> x[:, 1] = 2.0                                   # token 1 has squared value 4
    >>> masked_mse_of_mean(x, torch.tensor([[1., 0.], [0., 1.]]))   # (1 + 4) / 2
    2.5
    """
    per_token = (x ** 2).mean(dim=(0, 2))  # (L,)
    return float(sum(float((per_token * m).sum() / m.sum()) for m in masks.float()) / len(masks))
