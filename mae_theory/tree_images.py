"""A ViT MAE on pixels whose latents are known: quadtree images of a latent tree (chapter 4c).

A balanced 4-ary latent tree with ``leaf_dim = p*p`` is rendered as an image by
:meth:`~mae_theory.hierarchy.LatentTree.as_images`: every leaf is one ``p x p`` patch and the
four children of a latent fill a ``2 x 2`` block, so every latent owns a square of patches.
With the ViT patch equal to one leaf, a real :class:`~mae_theory.models.MAE` trained on these
images sees exactly the tokens of chapters 3-4, but as pixels, with 2-D position embeddings and
the standard random masking. Every latent value and noise of the tree is known, so the
encoder's representation of the visible patches of a mask can be probed latent by latent and
compared with the shared latents c(m) that :mod:`mae_theory.theory` predicts for that mask.
Book notation: :math:`p` the patch side, :math:`L` the number of patches (leaves), :math:`D`
the encoder width (``embed_dim``), :math:`r` the mask ratio, :math:`u` the masking unit (``u x u``
patches), :math:`\\rho` the root (``"r"`` in code), :math:`n_{\\text{keep}}` the visible patches.

Reading order: the map from patches to leaves (:func:`leaf_token_index`,
:func:`leaf_masks`), masks whose units are shifted off the quadtree (:func:`shift_masking`,
:class:`ShiftedUnitMAE`), the config and one run (:class:`TreeImageConfig`,
:func:`train_tree_image_mae`, its learning gate), probing (:func:`probe_masks`,
:func:`level_table`), the cached driver (:func:`run_setting`) and the pre-registered claims
(:func:`claims`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from .checks import check_float, check_int, describe
from .hierarchy import LatentTree
from .masking import Masking, masking_from_mask, random_masking
from .metrics import masked_mse
from .models import MAE
from .probes import leakage_profile
from .results import provenance, save_json
from .runtime import SeedLike
from .theory import information_dim, mean_shared_dim, node_roles, shared_latents
from .training import TrainConfig, train
from .verdicts import Claim, Equivalence, PairedTest
from .zoo import GateResult

__all__ = ["CACHE_DIR", "ShiftedUnitMAE", "TreeImageConfig", "TreeImageRun", "build_tree",
           "claims", "design", "expected_dim", "gate", "leaf_masks", "leaf_token_index",
           "level_table", "load_positional", "load_setting", "positional_claims",
           "positional_path", "probe_masks", "run_positional", "run_setting", "setting_path",
           "shift_masking", "summary", "train_tree_image_mae"]

CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "cache"
"""Where the cached runs live (``data/cache/tree_images-<hash>.json``)."""

# one int seed per run; its parts are seeded apart by fixed offsets (the cache depends on them)
MODEL_SEED_OFFSET = 1000  # MAE initialisation
PROBE_SEED_OFFSET = 10_000  # fresh tree samples for the probes
TEST_SEED_OFFSET = 30_000  # held-out images of the learning gate
MASK_SEED_OFFSET = 20_000  # test masks (and the gate's masks)
SCHEMA = 1
READOUTS = ("mean", "positional")
"""The two readouts of the encoder's visible tokens: their mean, or all of them in patch order."""


def _check_readout(readout) -> None:
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}.")


# --- patches and leaves ----------------------------------------------------------------------
def _check_tree(tree) -> None:
    if not isinstance(tree, LatentTree):
        raise TypeError(f"tree must be a LatentTree (mae_theory.hierarchy); got "
                        f"{describe(tree)}.")


def leaf_token_index(tree) -> torch.Tensor:
    """Token index (row-major patch order of :func:`~mae_theory.masking.patchify`) of every leaf.

    Entry ``k`` is the patch that shows ``tree.leaves[k]`` in :meth:`LatentTree.as_images`.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> leaf_token_index(LatentTree.balanced(4, 2, leaf_dim=16)).tolist()[:8]
    [0, 1, 4, 5, 2, 3, 6, 7]
    """
    _check_tree(tree)
    grid = tree.leaf_grid()
    side = 1 + max(r for r, _ in grid.values())
    return torch.tensor([grid[v][0] * side + grid[v][1] for v in tree.leaves])


def leaf_masks(tree, mask: torch.Tensor) -> np.ndarray:
    """Patch masks (N, L) of the image (1 = masked) as leaf masks in ``tree.leaves`` order.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(4, 2, leaf_dim=16)
    >>> m = torch.zeros(1, 16); m[0, [0, 1, 4, 5]] = 1    # the top-left 2 x 2 block
    >>> leaf_masks(t, m)[0, :6].tolist()                   # = the first four siblings
    [1, 1, 1, 1, 0, 0]
    """
    idx = leaf_token_index(tree)
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2 or mask.shape[1] != len(idx):
        raise ValueError(f"mask must be a tensor (N, L) with L = {len(idx)} patches; got "
                         f"{describe(mask)}.")
    return (mask[:, idx] > 0.5).long().numpy()


# --- masking units shifted off the quadtree --------------------------------------------------
def shift_masking(masking: Masking, grid_size: tuple[int, int], shift: int) -> Masking:
    """Roll every mask of ``masking`` by ``shift`` patches down and right (cyclically).

    Applied to masks drawn in ``u x u`` units aligned with the grid, this gives units that
    straddle the quadtree's blocks (a unit rolled past the last row or column wraps around to
    the first). The masked count is unchanged, so the batch stays rectangular.

    Parameters
    ----------
    masking : Masking
        Masks of shape (N, L), ``L = rows * cols``.
    grid_size : (int, int)
        Patches per column and per row.
    shift : int
        Rows and columns to roll by (0 returns ``masking`` itself).

    Examples
    --------
    >>> from mae_theory.masking import random_masking
    >>> m = random_masking(1, (4, 4), 0.75, unit=2, seed=0)
    >>> m.mask.reshape(4, 4).int().tolist()
    [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    >>> shift_masking(m, (4, 4), 1).mask.reshape(4, 4).int().tolist()  # wraps to row 0
    [[1, 0, 0, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 0, 0, 1]]
    """
    if not isinstance(masking, Masking):
        raise TypeError(f"masking must be a mae_theory.masking.Masking; got "
                        f"{describe(masking)}.")
    gh, gw = (check_int("grid_size", g) for g in grid_size)
    shift = check_int("shift", shift, low=0, fix="Roll by a non-negative number of patches.")
    if masking.mask.shape[1] != gh * gw:
        raise ValueError(f"masking holds L = {masking.mask.shape[1]} patches per mask but "
                         f"grid_size {grid_size} has {gh * gw}; pass the model's grid_size.")
    if shift == 0:
        return masking
    m = masking.mask.reshape(-1, gh, gw).roll((shift, shift), dims=(1, 2)).reshape(-1, gh * gw)
    out = masking_from_mask(m.cpu())
    return Masking(*(t.to(masking.mask.device) for t in out))


class ShiftedUnitMAE(MAE):
    """:class:`~mae_theory.models.MAE` whose random masks are rolled by ``mask_shift`` patches.

    Identical to the MAE (same parameters, same forward path); only :meth:`make_masking`, which
    the training loop calls for every batch, rolls the masks (:func:`shift_masking`). With
    ``mask_shift=0`` it is the MAE.

    Examples
    --------
    >>> mae = ShiftedUnitMAE(8, 2, 1, 16, 1, 2, 16, 1, 2, mask_shift=1, seed=0)
    >>> mae.make_masking(2, 0.5, unit=2, seed=0).mask.sum(dim=1).tolist()
    [8.0, 8.0]
    """

    def __init__(self, *args, mask_shift: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_shift = check_int("mask_shift", mask_shift, low=0)

    def make_masking(self, batch_size: int, mask_ratio: float = 0.75, *, unit: int = 1,
                     seed: SeedLike = None, device=None) -> Masking:
        device = self.pos_embed.device if device is None else device
        m = random_masking(batch_size, self.grid_size, mask_ratio, unit=unit, seed=seed,
                           device="cpu")
        m = shift_masking(m, self.grid_size, self.mask_shift)
        return Masking(*(t.to(device) for t in m))


# --- config and one run ----------------------------------------------------------------------
@dataclass(frozen=True)
class TreeImageConfig:
    """One ViT-MAE run on quadtree images (CPU-sized: about 75 CPU seconds per seed).

    The tree is ``LatentTree.balanced(4, tree_depth, leaf_dim=patch**2, ...)``: 64 leaves at
    depth 3, shown as an 8 x 8 grid of ``patch x patch`` patches.
    """

    tree_depth: int = 3  # levels below the root; 4**depth leaves (patches)
    patch: int = 4  # p: patch side; leaf_dim = p*p (>= 8 for depth 3)
    tree_seed: int = 0  # generator weights of the tree
    embed_dim: int = 64  # D of the encoder
    enc_depth: int = 2  # encoder blocks
    num_heads: int = 4
    dec_dim: int = 64
    dec_depth: int = 2
    n_train: int = 20000  # training images (fresh tree samples)
    n_test: int = 1000  # held-out images for the learning gate
    n_probe: int = 2000  # fresh samples for the probes (half held out by the probe)
    n_test_masks: int = 4  # held-out masks probed per seed
    steps: int = 200  # a 300-step pilot (r = 0.75) plateaued after about 170 steps
    batch_size: int = 128
    lr: float = 2e-3
    mask_ratio: float = 0.5  # r
    unit: int = 1  # u: masking unit side in patches (2: one 2 x 2 block of siblings)
    shift: int = 0  # roll the units by this many patches (off the quadtree)

    def __post_init__(self) -> None:
        for name in ("tree_depth", "patch", "embed_dim", "enc_depth", "num_heads", "dec_dim",
                     "dec_depth", "n_train", "n_test", "n_test_masks", "steps", "batch_size",
                     "unit"):
            check_int(name, getattr(self, name))
        check_int("n_probe", self.n_probe, low=8, fix="The probes hold out half the samples.")
        check_int("tree_seed", self.tree_seed, low=0)
        check_int("shift", self.shift, low=0)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("mask_ratio", self.mask_ratio, low=0.0, high=1.0, high_open=True,
                    symbol="r")


def build_tree(cfg: TreeImageConfig) -> LatentTree:
    """The latent tree of a config (4-ary, ``leaf_dim = patch**2``, tied weights per level).

    Examples
    --------
    >>> build_tree(TreeImageConfig(tree_depth=2))
    LatentTree(21 nodes, 16 leaves, root_dim=2, noise_dim=2, leaf_dim=16)
    """
    if not isinstance(cfg, TreeImageConfig):
        raise TypeError(f"cfg must be a TreeImageConfig; got {describe(cfg)}.")
    return LatentTree.balanced(4, cfg.tree_depth, root_dim=2, noise_dim=2,
                               leaf_dim=cfg.patch ** 2, seed=cfg.tree_seed, n_layers=1,
                               negative_slope=0.5, tie_weights=True)


@dataclass
class TreeImageRun:
    """A trained (or untrained) MAE on a tree's images, with its pixel standardisation."""

    model: ShiftedUnitMAE
    config: TreeImageConfig
    seed: int
    mean: torch.Tensor  # (1, 1, H, W) pixel means of the training images
    std: torch.Tensor  # (1, 1, H, W) pixel standard deviations
    history: list
    wall_time: float

    def images(self, tree: LatentTree, sample) -> torch.Tensor:
        """Standardised images of a tree sample."""
        return (tree.as_images(sample) - self.mean) / self.std

    def masks(self, n: int, *, seed: int) -> Masking:
        """``n`` masks drawn as in training (ratio, unit, shift), on a seeded CPU generator."""
        c = self.config
        return self.model.make_masking(n, c.mask_ratio, unit=c.unit, seed=seed, device="cpu")

    @torch.no_grad()
    def features(self, images: torch.Tensor, mask: torch.Tensor | None, *,
                 readout: str = "mean") -> torch.Tensor:
        """The encoder's output tokens over the visible patches of ``mask`` (1 = masked,
        shape (L,)); ``None`` encodes the full image.

        ``readout="mean"`` averages them (width D); ``"positional"`` concatenates them in
        patch order (width ``n_visible * D``), so which patch a feature came from is kept.
        """
        _check_readout(readout)
        masking = None
        if mask is not None:
            masking = masking_from_mask(mask.reshape(1, -1))  # ids_keep in patch order
            masking = Masking(*(t.expand(images.shape[0], -1) for t in masking))
        tokens = self.model.forward_encoder(images, masking)[:, 1:]
        return tokens.mean(dim=1) if readout == "mean" else tokens.flatten(1)


def _model(cfg: TreeImageConfig, seed: int) -> ShiftedUnitMAE:
    side = 2 ** cfg.tree_depth * cfg.patch
    return ShiftedUnitMAE(side, cfg.patch, 1, cfg.embed_dim, cfg.enc_depth, cfg.num_heads,
                          cfg.dec_dim, cfg.dec_depth, cfg.num_heads, mask_shift=cfg.shift,
                          seed=seed + MODEL_SEED_OFFSET)


def train_tree_image_mae(cfg: TreeImageConfig, *, seed: int = 0, trained: bool = True,
                         stop_at: int | None = None) -> TreeImageRun:
    """Sample ``cfg.n_train`` images of the tree and train a ViT MAE on them (CPU, one thread
    is enough).

    ``trained=False`` returns the same network at its initialisation (the control).
    ``stop_at`` ends training early (the staleness test reruns a prefix of a cached run).

    Examples
    --------
    >>> cfg = TreeImageConfig(tree_depth=2, n_train=64, steps=2, batch_size=8, embed_dim=16,
    ...                       enc_depth=1, dec_dim=16, dec_depth=1)
    >>> run = train_tree_image_mae(cfg, seed=0)
    >>> tuple(run.features(run.images(build_tree(cfg), build_tree(cfg).sample(3, seed=1)),
    ...                    None).shape)
    (3, 16)
    """
    if not isinstance(cfg, TreeImageConfig):
        raise TypeError(f"cfg must be a TreeImageConfig; got {describe(cfg)}.")
    seed = check_int("seed", seed, low=0, fix="The runs take an int seed (>= 0).")
    tree = build_tree(cfg)
    imgs = tree.as_images(tree.sample(cfg.n_train, seed=seed))
    mean, std = imgs.mean(dim=0, keepdim=True), imgs.std(dim=0, keepdim=True).clamp_min(1e-6)
    model = _model(cfg, seed)
    history, wall = [], 0.0
    if trained:
        tcfg = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                           warmup_steps=max(1, cfg.steps // 20), mask_ratio=cfg.mask_ratio,
                           mask_unit=cfg.unit, log_every=max(1, cfg.steps // 24))
        res = train(model, (imgs - mean) / std, tcfg, seed=seed, device="cpu", progress=False,
                    stop_at=stop_at)
        history, wall = [{"step": h["step"], "loss": h["loss"]} for h in res.history], \
            res.wall_time
    model.eval()
    return TreeImageRun(model, cfg, seed, mean, std, history, wall)


@torch.no_grad()
def gate(run: TreeImageRun, control: TreeImageRun) -> GateResult:
    """The zoo's learning gate on held-out images, at the run's own masks (ratio, unit, shift).

    Held-out masked MSE of ``run``, of the mean patch (the training mean of the standardised
    pixels: zero) and of ``control`` (the same network untrained), on the same masks.
    """
    for name, r in (("run", run), ("control", control)):
        if not isinstance(r, TreeImageRun):
            raise TypeError(f"{name} must be a TreeImageRun; got {describe(r)}.")
    cfg, tree = run.config, build_tree(run.config)
    x = run.images(tree, tree.sample(cfg.n_test, seed=TEST_SEED_OFFSET + run.seed))
    masking = run.masks(cfg.n_test, seed=MASK_SEED_OFFSET + run.seed)
    target = run.model.target(x)

    def err(model) -> float:
        _, pred, _ = model(x, masking=masking)
        return float(masked_mse(pred, target, masking.mask).mean())

    mean_patch = float(masked_mse(torch.zeros_like(target), target, masking.mask).mean())
    return GateResult(cfg.mask_ratio, err(run.model), mean_patch, err(control.model),
                      cfg.n_test)


def expected_dim(cfg: TreeImageConfig, *, n_draws: int = 2000, seed: SeedLike = 0) -> float:
    """Predicted E[dim c(m)] over the masks the run trains with (ratio, unit, shift).

    The masks come from :func:`~mae_theory.masking.random_masking` on the patch grid (rolled
    by :func:`shift_masking`), mapped to leaves; the mean is
    :func:`mae_theory.theory.mean_shared_dim`.

    Examples
    --------
    >>> expected_dim(TreeImageConfig(mask_ratio=0.5, unit=4), n_draws=50)  # two quadrants: root
    2.0
    """
    if not isinstance(cfg, TreeImageConfig):
        raise TypeError(f"cfg must be a TreeImageConfig; got {describe(cfg)}.")
    n_draws = check_int("n_draws", n_draws, low=1)
    tree = build_tree(cfg)
    side = 2 ** cfg.tree_depth
    m = random_masking(n_draws, (side, side), cfg.mask_ratio, unit=cfg.unit, seed=seed)
    m = shift_masking(m, (side, side), cfg.shift)
    return mean_shared_dim(tree, leaf_masks(tree, m.mask))


# --- probing ---------------------------------------------------------------------------------
def _row(tree: LatentTree, profile, leaf_mask) -> dict:
    """Own R^2 of every node (root: its value; others: their noise) with role and level."""
    own = {v: (profile.r2(v, "value") if v == tree.root else profile.r2(v, "noise"))
           for v in tree.nodes}
    own_lin = {v: (profile.r2(v, "value", "linear") if v == tree.root
                   else profile.r2(v, "noise", "linear")) for v in tree.nodes}
    if leaf_mask is None:  # the full image: every node is on the visible side
        roles = {v: "full input" for v in tree.nodes}
        c, masked = [], []
    else:
        masked = [v for v, b in zip(tree.leaves, leaf_mask) if b]
        c = sorted(shared_latents(tree, masked))
        roles = node_roles(tree, masked, c)
    measured = sum(tree.own_dim(v) * max(0.0, own[v]) for v in tree.latents)
    return {"masked": masked, "predicted": c,
            "predicted_dim": information_dim(tree, c) if c else 0,
            "measured_dim": measured, "own_r2": own, "own_r2_linear": own_lin, "roles": roles}


def probe_masks(run: TreeImageRun, masks: torch.Tensor | None = None, *,
                full_input: bool = True, readout: str = "mean") -> list[dict]:
    """Leakage profile of the visible-patch representation under each test mask.

    Parameters
    ----------
    run : TreeImageRun
    masks : tensor (K, L), optional
        Patch masks (1 = masked); default ``run.config.n_test_masks`` masks drawn as in
        training (seeded by the run's seed).
    full_input : bool
        Also probe the representation of the full image (no mask), as the last row.
    readout : {"mean", "positional"}
        The representation (:meth:`TreeImageRun.features`): the mean visible token, or the
        visible tokens concatenated in patch order.

    Returns
    -------
    list of dict
        Per mask: ``masked`` (leaf names), ``predicted`` (c(m), sorted), ``predicted_dim``,
        ``measured_dim`` (:math:`\\sum_v d_v \\max(0, R^2_v)` over latents), ``own_r2`` and
        ``own_r2_linear`` (node -> R^2 of its own information: the root's value, every other
        node's noise), ``roles`` (node -> "in c(m)", "visible side only", "masked side only",
        or "full input").
    """
    if not isinstance(run, TreeImageRun):
        raise TypeError(f"run must be a TreeImageRun; got {describe(run)}.")
    _check_readout(readout)
    cfg, tree = run.config, build_tree(run.config)
    sample = tree.sample(cfg.n_probe, seed=PROBE_SEED_OFFSET + run.seed)
    x = run.images(tree, sample)
    if masks is None:
        masks = run.masks(cfg.n_test_masks, seed=MASK_SEED_OFFSET + run.seed).mask
    lm = leaf_masks(tree, masks)
    # own information only: the root's value and every noise (not the 16-d leaf values)
    own = SimpleNamespace(values={tree.root: sample.values[tree.root]}, noises=sample.noises)
    rows = []
    for mask, leaf_mask in zip(masks, lm):
        prof = leakage_profile(run.features(x, mask, readout=readout), own, seed=run.seed)
        rows.append(_row(tree, prof, leaf_mask))
    if full_input:
        feats = run.features(x, None, readout=readout)
        rows.append(_row(tree, leakage_profile(feats, own, seed=run.seed), None))
    return rows


def level_table(tree: LatentTree, rows: list[dict], *, linear: bool = False) -> dict:
    """Mean own R^2 by (level, role) over ``rows`` (from :func:`probe_masks`).

    Returns ``{(level, role): (mean R^2, count)}``; level 0 is the root, the leaves are level
    ``tree_depth``.

    Examples
    --------
    >>> from mae_theory.hierarchy import LatentTree
    >>> t = LatentTree.balanced(4, 1, leaf_dim=16)
    >>> row = {"own_r2": {v: 1.0 if v == "r" else 0.0 for v in t.nodes},
    ...        "roles": {v: "in c(m)" if v == "r" else "masked side only" for v in t.nodes}}
    >>> level_table(t, [row])
    {(0, 'in c(m)'): (1.0, 1), (1, 'masked side only'): (0.0, 4)}
    """
    _check_tree(tree)
    key = "own_r2_linear" if linear else "own_r2"
    acc: dict = {}
    for row in rows:
        for v, role in row["roles"].items():
            acc.setdefault((tree.level[v], role), []).append(row[key][v])
    return {k: (float(np.mean(v)), len(v)) for k, v in sorted(acc.items())}


def summary(stored: dict, which: str = "trained") -> dict:
    """One seed's numbers from a cached result (:func:`run_setting`) for the chapter.

    Returns ``predicted_dim`` and ``measured_dim`` (means over the test masks), ``levels``
    (:func:`level_table` over the test masks) and ``full`` (the full-input row's table).

    Examples
    --------
    >>> tree = build_tree(TreeImageConfig(tree_depth=1))
    >>> row = {"predicted_dim": 2, "measured_dim": 1.5, "own_r2": dict.fromkeys(tree.nodes, 0.5),
    ...        "roles": dict.fromkeys(tree.nodes, "in c(m)")}
    >>> full = dict(row, roles=dict.fromkeys(tree.nodes, "full input"))
    >>> s = summary({"config": {"tree_depth": 1}, "trained": [row, full]})
    >>> s["measured_dim"], s["full"][(0, "full input")]
    (1.5, (0.5, 1))
    """
    if which not in ("trained", "untrained", "trained_mean", "untrained_mean"):
        raise ValueError(f"which must be 'trained' or 'untrained' (or, in a positional file "
                         f"of run_positional, 'trained_mean' or 'untrained_mean'); got "
                         f"{which!r}.")
    if not isinstance(stored, dict) or which not in stored or "config" not in stored:
        raise TypeError(f"stored must be a cached result of run_setting (a dict with 'config' "
                        f"and {which!r}); got {describe(stored)}.")
    tree = build_tree(TreeImageConfig(**stored["config"]))
    rows, full = stored[which][:-1], stored[which][-1]
    return {"predicted_dim": float(np.mean([r["predicted_dim"] for r in rows])),
            "measured_dim": float(np.mean([r["measured_dim"] for r in rows])),
            "levels": level_table(tree, rows), "full": level_table(tree, [full])}


# --- the cached driver -----------------------------------------------------------------------
def setting_path(cfg: TreeImageConfig, seed: int) -> Path:
    """Cache file of one (config, seed): ``data/cache/tree_images-<hash>.json``."""
    blob = json.dumps({"cfg": dataclasses.asdict(cfg), "seed": seed, "schema": SCHEMA},
                      sort_keys=True).encode()
    return CACHE_DIR / f"tree_images-{hashlib.sha256(blob).hexdigest()[:12]}.json"


def run_setting(cfg: TreeImageConfig, seed: int, *, write: bool = True) -> dict:
    """Train one seed, gate it, probe it and its untrained twin; cache the result.

    Returns (and with ``write`` saves atomically, with provenance) a dict with ``config``,
    ``seed``, ``history``, ``gate`` (the :class:`~mae_theory.zoo.GateResult` fields),
    ``trained`` and ``untrained`` (the :func:`probe_masks` rows, the full-input row last) and
    ``cpu_seconds``.
    """
    t0 = time.process_time()
    run = train_tree_image_mae(cfg, seed=seed)
    control = train_tree_image_mae(cfg, seed=seed, trained=False)
    out = {**_record(cfg, seed, run, control),
           "trained": probe_masks(run), "untrained": probe_masks(control)}
    out["cpu_seconds"] = time.process_time() - t0
    out["train_wall_seconds"] = run.wall_time
    if write:
        save_json({**out, "provenance": provenance("cpu")}, setting_path(cfg, seed))
    return out


def _record(cfg: TreeImageConfig, seed: int, run: TreeImageRun, control: TreeImageRun) -> dict:
    """What every cached file of (cfg, seed) starts with: config, seed, schema, the trained
    run's loss history and its learning gate against ``control``."""
    return {"config": dataclasses.asdict(cfg), "seed": seed, "schema": SCHEMA,
            "history": run.history, "gate": dataclasses.asdict(gate(run, control))}


def load_setting(cfg: TreeImageConfig, seed: int, *, compute: bool = False) -> dict | None:
    """The cached result of (cfg, seed), or None when missing (``compute=True``: run it)."""
    stored = _read_cached(setting_path(cfg, seed), cfg, seed)
    return run_setting(cfg, seed) if stored is None and compute else stored


def _read_cached(path: Path, cfg: TreeImageConfig, seed: int) -> dict | None:
    """The JSON at ``path`` if it was written for exactly (cfg, seed), else None."""
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("config") == dataclasses.asdict(cfg) and stored.get("seed") == seed:
            return stored
    return None


# --- the second readout: visible tokens in patch order ----------------------------------------
RETRAIN_RTOL = 1e-4  # a retrained model must reproduce the cached final loss to this


def positional_path(cfg: TreeImageConfig, seed: int) -> Path:
    """Cache file of the positional readout of one (config, seed):
    ``data/cache/tree_images_pos-<hash>.json`` (the hash of :func:`setting_path`)."""
    path = setting_path(cfg, seed)
    return path.with_name(path.name.replace("tree_images-", "tree_images_pos-"))


def run_positional(cfg: TreeImageConfig, seed: int, *, write: bool = True) -> dict:
    """Retrain the cached run of (cfg, seed), check it is the same model, probe both readouts.

    The weights of :func:`run_setting` were not kept, so the run is trained again with the
    same recipe and seed; its loss history must match the cached one (final loss within
    ``RETRAIN_RTOL`` relative), or this raises. The result (saved atomically, with
    provenance, by ``write``) holds ``trained`` and ``untrained``: the :func:`probe_masks` rows
    of the visible tokens concatenated in patch order, and ``trained_mean`` and
    ``untrained_mean``: the mean-token rows of the same retrained models (a check against the
    cached ones), with ``history``, ``gate``, ``cached_final_loss`` and ``cpu_seconds``.
    """
    old = load_setting(cfg, seed)
    if old is None:
        raise ValueError(f"no cached run for {cfg} seed {seed}; run_setting(cfg, {seed}) "
                         "first (python -m mae_theory.tree_images).")
    t0 = time.process_time()
    run = train_tree_image_mae(cfg, seed=seed)
    want, got = old["history"][-1]["loss"], run.history[-1]["loss"]
    if abs(got - want) > RETRAIN_RTOL * abs(want):
        raise RuntimeError(f"retrained final loss {got:.6g} differs from the cached {want:.6g} "
                           f"by more than {RETRAIN_RTOL:g} relative: not the same model.")
    control = train_tree_image_mae(cfg, seed=seed, trained=False)
    out = {**_record(cfg, seed, run, control), "readout": "positional",
           "cached_final_loss": want}
    for which, r in (("trained", run), ("untrained", control)):
        out[which] = probe_masks(r, readout="positional")
        out[f"{which}_mean"] = probe_masks(r, readout="mean")
    out["cpu_seconds"] = time.process_time() - t0
    if write:
        save_json({**out, "provenance": provenance("cpu")}, positional_path(cfg, seed))
    return out


def load_positional(cfg: TreeImageConfig, seed: int, *, compute: bool = False) -> dict | None:
    """The cached positional readout of (cfg, seed), or None (``compute=True``: run it)."""
    stored = _read_cached(positional_path(cfg, seed), cfg, seed)
    return run_positional(cfg, seed) if stored is None and compute else stored


# --- the pre-registered design ---------------------------------------------------------------
SEEDS = (0, 1, 2)
RATIOS = (0.25, 0.5, 0.75)
UNITS = ((1, 0), (2, 0), (2, 1))  # (unit, shift) at r = 0.5: single patches, aligned, shifted


def design() -> dict:
    """The chapter's settings: ``{name: TreeImageConfig}`` (ratio sweep, then units at 0.5)."""
    out = {f"r={r:g}": TreeImageConfig(mask_ratio=r) for r in RATIOS}
    out["u=2 aligned"] = TreeImageConfig(mask_ratio=0.5, unit=2)
    out["u=2 shifted"] = TreeImageConfig(mask_ratio=0.5, unit=2, shift=1)
    return out


def claims() -> dict[str, Claim]:
    """The chapter's claims, declared (committed) before the runs of :func:`design`."""
    n = len(SEEDS)
    return {
        "members": Claim(
            key="ch4c-level2-members", chapter="4c", source="Kong",
            statement="On pixels, a level-2 latent that is shared by masked and visible patches "
                      "(in c(m)) is read off the visible-patch representation better than a "
                      "level-2 latent whose patches are all visible.",
            prediction="mean R^2 of level-2 members of c(m) minus that of fully visible "
                       "level-2 latents > 0 (Theorem 2: the representation is c(m), nothing "
                       "else); an untrained ViT, which sees the fully visible latents best, "
                       "should not show it",
            statistic="difference of mean nonlinear R^2 of the level-2 latents' own noises, "
                      "r = 0.25 model, 4 held-out masks per seed",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("untrained",)),
        "units": Claim(
            key="ch4c-units", chapter="4c", source="Kong",
            statement="Masking units aligned with the quadtree's 2x2 blocks shrink what the "
                      "encoder carries; the same units shifted by one patch, and single "
                      "patches, do not.",
            prediction="measured dim (u=1) and (u=2 shifted) both above (u=2 aligned) at "
                       "r = 0.5 (predicted E dim c(m) in the chapter)",
            statistic="the smaller of the two measured-dimension gaps, per seed",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("untrained",)),
        "peak": Claim(
            key="ch4c-ratio-peak", chapter="4c", source="Kong",
            statement="The measured dimension of the visible-patch representation is largest "
                      "at r = 0.5, where c(m) is largest.",
            prediction="measured dim(0.5) minus the mean of measured dim(0.25) and (0.75) > 0",
            statistic="that difference, per seed (each model probed at its own masks)",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("untrained",)),
        "symmetry": Claim(
            key="ch4c-ratio-symmetry", chapter="4c", source="Kong",
            statement="What the encoder carries is symmetric under r <-> 1 - r, as c(m) is.",
            prediction="|measured dim(0.25) - measured dim(0.75)| < 2 (one node's noise)",
            statistic="measured dim(0.25) minus measured dim(0.75), per seed",
            rule=Equivalence(margin=2.0), n_seeds=n, controls=("untrained",)),
    }


POSITIONAL_SETTINGS = ("r=0.25", "r=0.5", "u=2 aligned", "u=2 shifted")
"""The settings re-probed with the positional readout (those its claims use)."""


def positional_claims() -> dict[str, Claim]:
    """Claims on the positional readout, declared (committed) before :func:`run_positional`.

    The statistics are those of :func:`claims`, read from the visible tokens concatenated in
    patch order instead of their mean; ``readout`` tests the chapter's earlier explanation that
    the mean token hid what training put into the per-patch tokens.
    """
    n = len(SEEDS)
    return {
        "members": Claim(
            key="ch4c-pos-level2-members", chapter="4c", source="Kong",
            statement="Read from the visible tokens in patch order, a level-2 latent in c(m) is "
                      "recovered better than a level-2 latent whose patches are all visible.",
            prediction="mean R^2 of level-2 members of c(m) minus that of fully visible "
                       "level-2 latents > 0 (Theorem 2); the untrained ViT should not show it",
            statistic="difference of mean nonlinear R^2 of the level-2 latents' own noises "
                      "from the concatenated visible tokens, r = 0.25 model, 4 held-out masks "
                      "per seed",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("untrained",)),
        "units": Claim(
            key="ch4c-pos-units", chapter="4c", source="Kong",
            statement="Read from the visible tokens in patch order, masking units aligned with "
                      "the quadtree's 2x2 blocks shrink what the encoder carries; shifted units "
                      "and single patches do not.",
            prediction="measured dim (u=1) and (u=2 shifted) both above (u=2 aligned) at "
                       "r = 0.5",
            statistic="the smaller of the two measured-dimension gaps (concatenated visible "
                      "tokens), per seed",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("untrained",)),
        "readout": Claim(
            key="ch4c-pos-readout", chapter="4c", source="this book",
            statement="Training puts level-2 information of c(m) into the per-patch tokens, "
                      "where the positional readout sees it and the mean token does not.",
            prediction="level-2 members' R^2, trained minus untrained, > 0 from the "
                       "concatenated tokens; the same difference from the mean token should "
                       "not pass the rule",
            statistic="mean nonlinear R^2 of level-2 members of c(m), trained minus untrained "
                      "ViT of the same seed, r = 0.25, 4 held-out masks per seed",
            rule=PairedTest(alpha=0.05, direction="greater"), n_seeds=n,
            controls=("mean token",)),
    }


def _main() -> None:  # python -m mae_theory.tree_images: compute the missing cache files
    torch.set_num_threads(1)
    import sys

    args = sys.argv[1:]  # optional "positional", seeds and setting names to restrict to
    positional = "positional" in args
    args = [a for a in args if a != "positional"]
    seeds = [int(a) for a in args if a.isdigit()] or list(SEEDS)
    names = [a for a in args if not a.isdigit()]
    if positional:  # setting-major: the r = 0.25 seeds (members claim) first
        settings = design()
        for name in names or POSITIONAL_SETTINGS:
            cfg = settings[name]
            for seed in seeds:
                if load_positional(cfg, seed) is None:
                    out = run_positional(cfg, seed)
                    print(f"{name} seed {seed}: positional done, final loss "
                          f"{out['history'][-1]['loss']:.6f} (cached "
                          f"{out['cached_final_loss']:.6f}); {out['cpu_seconds']:.0f} CPU s",
                          flush=True)
        return
    for seed in seeds:
        for name, cfg in design().items():
            if names and name not in names:
                continue
            if load_setting(cfg, seed) is None:
                out = run_setting(cfg, seed)
                g = GateResult(**{k: v for k, v in out["gate"].items() if k != "passed"})
                print(f"{name} seed {seed}: {g.line()}; {out['cpu_seconds']:.0f} CPU s",
                      flush=True)


if __name__ == "__main__":
    _main()
