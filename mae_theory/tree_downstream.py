"""What a tree MAE's representation is good for downstream (chapter 4b, "Why 0.75?").

Chapters 3 and 4 probe :math:`\\hat c = E(x_{m^c})`, the representation of the *visible* leaves
under a mask, against the shared latents :math:`c(m)`. A user deploys something else: the
encoder applied to the **full input** (no mask), read by a linear head. This module measures
that deployed representation on a *harsher* latent tree (deeper edge maps with a smaller
leaky-ReLU slope, so that no single leaf reads the root linearly) whose **root class** (the sign
of the root's first coordinate) is the downstream label. Book notation: the root is
:math:`\\rho` (``tree.root``, named ``"r"`` in code), :math:`\\operatorname{Pa}(j)` the parent of
leaf ``j``, :math:`d` the bottleneck width (``latent_dim``) and :math:`r` only the mask ratio.

Reading order: the tree and its label (:func:`harsh_tree`, :func:`root_class`), a
deterministic linear probe (:func:`ridge_classifier_accuracy`), the exact split of the masked
error (:func:`bayes_error_split`), cue-conflict inputs (:func:`cue_conflict_tokens`), training
with a chosen decoder depth (:func:`train_downstream_mae`), one cached unit of the experiment
(:func:`evaluate_unit`, :func:`run_unit`) and the design (:func:`downstream_units`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from .checks import check_int, describe
from .hierarchy import LatentTree, Sample
from .models.token import TokenMAE, token_masking
from .results import provenance, save_json
from .runtime import SeedLike, make_generator
from .training import train
from .tree_mae import (
    MODEL_SEED_OFFSET,
    TreeMAEConfig,
    TreeMAERun,
    _cfg_payload,
    _check_tree,
    _key,
    train_config,
    train_tree_mae,
)

HARSH_TREE = {"branching": 2, "depth": 4, "root_dim": 2, "noise_dim": 2, "n_layers": 2,
              "negative_slope": 0.1}
"""The harsher tree of chapter 4b (16 leaves, tokens of 10 values); ``seed`` draws its maps."""

CONFIG = TreeMAEConfig(latent_dim=16, hidden_dim=64, depth=2, n_train=20000, steps=1200,
                       batch_size=256, lr=3e-3)
"""The token MAE of chapter 4b (``mask_ratio``, ``unit``, ``shift`` set per unit)."""

RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
"""Training mask ratios r of the sweep."""

GATE_FRACTION = 0.75
"""Learning gate: held-out masked MSE at most this fraction of the training-mean predictor's."""

EVAL_SEED_OFFSET = 30_000  # held-out samples and masks of the gate and the probes: 30_000 + seed


# --- the tree and its label ------------------------------------------------------------------
def harsh_tree(seed: int = 0) -> LatentTree:
    """The harsher 16-leaf tree of chapter 4b (:data:`HARSH_TREE`), its maps drawn by ``seed``.

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> len(t.leaves), t.leaf_dim, t.n_layers, t.negative_slope
    (16, 10, 2, 0.1)
    """
    seed = check_int("seed", seed, low=0, fix="Tree draws are numbered 0, 1, ...")
    return LatentTree.balanced(**HARSH_TREE, seed=seed)


def root_class(tree: LatentTree, sample: Sample) -> torch.Tensor:
    """The downstream label: 1 where the root's first coordinate is positive, else 0, (N,).

    Balanced by construction (the root is standard normal).

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> y = root_class(t, t.sample(1000, seed=0))
    >>> y.dtype, 0.4 < float(y.float().mean()) < 0.6
    (torch.int64, True)
    """
    _check_tree(tree)
    if not isinstance(sample, Sample):
        raise TypeError(f"sample must be a Sample (tree.sample(n)); got {describe(sample)}.")
    return (sample.values[tree.root][:, 0] > 0).long()


# --- a deterministic linear probe ------------------------------------------------------------
def _ridge_fit(feats: torch.Tensor, target: torch.Tensor, ridge: float):
    mu, sd = feats.mean(0), feats.std(0).clamp_min(1e-6)
    a = torch.cat([(feats - mu) / sd, torch.ones(len(feats), 1)], dim=1).double()
    w = torch.linalg.solve(a.T @ a + ridge * len(a) * torch.eye(a.shape[1], dtype=a.dtype),
                           a.T @ target.double())

    def predict(f: torch.Tensor) -> torch.Tensor:
        return (torch.cat([(f - mu) / sd, torch.ones(len(f), 1)], dim=1).double() @ w).float()

    return predict


def _as_feats(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.ndim != 2 or not value.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of features (N, D); got "
                        f"{describe(value)}.")
    return value.float()


def ridge_classifier_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor,
                              test_feats: torch.Tensor, test_labels: torch.Tensor, *,
                              ridge: float = 1e-3) -> float:
    """Test accuracy of a linear two-class probe fitted by ridge least squares on +/-1 labels.

    Deterministic (a closed-form fit on standardised features), so a probe never differs
    between runs of the same features; a linear decision rule :math:`\\mathrm{sign}(w^\\top z+b)`.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(400) % 2
    >>> z = torch.randn(400, 3, generator=g) + 2.0 * y[:, None]
    >>> ridge_classifier_accuracy(z[:300], y[:300], z[300:], y[300:]) > 0.85
    True
    """
    ftr, fte = _as_feats("train_feats", train_feats), _as_feats("test_feats", test_feats)
    for name, y, f in (("train_labels", train_labels, ftr), ("test_labels", test_labels, fte)):
        if not isinstance(y, torch.Tensor) or y.shape != (f.shape[0],) or not set(
                y.unique().tolist()) <= {0, 1}:
            raise ValueError(f"{name} must be a 0/1 tensor with one label per feature row "
                             f"({f.shape[0]}); got {describe(y)}.")
    if ftr.shape[1] != fte.shape[1]:
        raise ValueError(f"train_feats and test_feats must have the same width; got "
                         f"{ftr.shape[1]} and {fte.shape[1]}.")
    predict = _ridge_fit(ftr, 2.0 * train_labels.float() - 1.0, float(ridge))
    return float(((predict(fte) > 0).long() == test_labels).float().mean())


# --- the masked error split exactly ----------------------------------------------------------
def _deepest_shared(tree: LatentTree, leaf: str, visible: frozenset) -> str:
    for a in tree.ancestors(leaf):
        if tree.descendant_leaves(a) & visible:
            return a
    raise ValueError("no visible leaf shares an ancestor with a masked one")  # unreachable


def _conditional_var(tree: LatentTree, start: str, leaf: str, z: torch.Tensor, n_draws: int,
                     gen: torch.Generator) -> torch.Tensor:
    """Var(x_leaf | z_start) per sample and value, by redrawing the noises below ``start``."""
    path = [leaf]
    while tree.parents[path[-1]] != start:
        path.append(tree.parents[path[-1]])
    h = z.repeat_interleave(n_draws, dim=0)
    for v in reversed(path):
        h = tree.generate(v, h, torch.randn(h.shape[0], tree.noise_dim, generator=gen))
    return h.reshape(z.shape[0], n_draws, -1).var(dim=1)  # (N, d_x)


def bayes_error_split(tree: LatentTree, sample: Sample, masked: Iterable[str], std: torch.Tensor,
                      *, n_draws: int = 32, seed: SeedLike = 0) -> dict:
    """The irreducible masked error given the visible leaves, split into latent and leaf noise.

    In an invertible tree the visible leaves fix every ancestor they have; a masked leaf ``j``
    depends on them only through :math:`v^*`, its deepest ancestor with a visible leaf below
    it, and the noises on the path from :math:`v^*` down to ``j`` are unknown and independent.
    So the best possible prediction is :math:`\\E[x_j \\mid z_{v^*}]` and its error
    :math:`\\E\\,\\mathrm{Var}(x_j \\mid z_{v^*})` splits exactly (law of total variance) into
    the **leaf-noise part**
    :math:`\\E\\,\\mathrm{Var}(x_j \\mid z_{\\operatorname{Pa}(j)})`, which no mask ratio
    can remove, and the **latent part** (the unknown latents between :math:`v^*` and ``j``).
    Any model's masked MSE is this floor plus its own excess (the cross term vanishes because
    the model sees only the visible leaves). Variances come from ``n_draws`` redraws of the noises.

    Parameters
    ----------
    tree : LatentTree
    sample : Sample
        Draws of ``tree``.
    masked : iterable of str
        Masked leaves (at least one, not all).
    std : torch.Tensor, shape (L, d_x)
        Token standardisation (errors are per standardised value, as the MAE's loss).
    n_draws, seed
        Monte Carlo redraws per sample and their seed.

    Returns
    -------
    dict
        ``bayes`` (floor) and ``leaf_noise`` (its leaf-noise part), mean squared error per
        standardised value over the masked leaves.

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> s = t.sample(200, seed=1)
    >>> std = t.sample(2000, seed=2).x.std(dim=0)
    >>> out = bayes_error_split(t, s, ["x1"], std)
    >>> 0 < out["leaf_noise"] <= out["bayes"] < 1
    True
    """
    _check_tree(tree)
    if not isinstance(sample, Sample):
        raise TypeError(f"sample must be a Sample (tree.sample(n)); got {describe(sample)}.")
    masked = frozenset(masked)
    visible = frozenset(tree.leaves) - masked
    if not masked or not visible or not masked <= set(tree.leaves):
        raise ValueError(f"masked must name some but not all leaves of the tree "
                         f"{tree.leaves}; got {sorted(masked)}.")
    if not isinstance(std, torch.Tensor) or tuple(std.shape) != (len(tree.leaves),
                                                                  tree.leaf_dim):
        raise ValueError(f"std must be the token standard deviations, shape "
                         f"({len(tree.leaves)}, {tree.leaf_dim}); got {describe(std)}.")
    n_draws = check_int("n_draws", n_draws, low=2)
    gen = make_generator(seed)
    bayes, leaf = [], []
    for i, v in enumerate(tree.leaves):
        if v not in masked:
            continue
        a, p = _deepest_shared(tree, v, visible), tree.parents[v]
        scale = std[i].float() ** 2
        bayes.append((_conditional_var(tree, a, v, sample.values[a], n_draws, gen) / scale
                      ).mean())
        leaf.append((_conditional_var(tree, p, v, sample.values[p], n_draws, gen) / scale
                     ).mean())
    return {"bayes": float(torch.stack(bayes).mean()), "leaf_noise": float(torch.stack(leaf)
                                                                             .mean())}


# --- cue conflict ----------------------------------------------------------------------------
def cue_conflict_tokens(tree: LatentTree, upper: Sample, lower: Sample) -> torch.Tensor:
    """Tokens whose leaves' parents come from ``upper`` and whose leaf noises from ``lower``.

    :math:`x'_j = g_j(z^A_{\\operatorname{Pa}(j)}, \\varepsilon^B_j)`:
    the "shape" (every latent, hence the
    root) of sample A with the "texture" (the lowest-level noises) of sample B. Because the
    tree's noises are independent of the latents, such an input is distributed exactly like
    an ordinary sample; the conflict is only in which sample each part is scored against.

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> a, b = t.sample(4, seed=0), t.sample(4, seed=1)
    >>> bool(torch.allclose(cue_conflict_tokens(t, a, a), a.x, atol=1e-5))
    True
    """
    _check_tree(tree)
    for name, s in (("upper", upper), ("lower", lower)):
        if not isinstance(s, Sample):
            raise TypeError(f"{name} must be a Sample (tree.sample(n)); got {describe(s)}.")
    if upper.n != lower.n:
        raise ValueError(f"upper and lower must hold the same number of draws; got {upper.n} "
                         f"and {lower.n}.")
    return torch.stack([tree.generate(v, upper.values[tree.parents[v]], lower.noises[v])
                        for v in tree.leaves], dim=1)


# --- training with a chosen decoder depth ----------------------------------------------------
def train_downstream_mae(tree: LatentTree, cfg: TreeMAEConfig, *, seed: int,
                         decoder_depth: int | None = None, trained: bool = True) -> TreeMAERun:
    """:func:`~mae_theory.tree_mae.train_tree_mae`, with a decoder of ``decoder_depth`` layers.

    ``decoder_depth=None`` (or ``cfg.depth``) is exactly ``train_tree_mae``; otherwise the
    same model is built and its decoder MLP replaced (``decoder_depth`` hidden layers, Xavier
    initialisation seeded from ``seed``) before training with the same loop.

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> cfg = TreeMAEConfig(latent_dim=4, hidden_dim=16, n_train=64, steps=3)
    >>> run = train_downstream_mae(t, cfg, seed=0, decoder_depth=1)
    >>> sum(isinstance(m, torch.nn.Linear) for m in run.model.decoder)
    2
    """
    _check_tree(tree)
    if not isinstance(cfg, TreeMAEConfig):
        raise TypeError(f"cfg must be a TreeMAEConfig; got {describe(cfg)}.")
    seed = check_int("seed", seed, low=0)
    if decoder_depth is None or decoder_depth == cfg.depth:
        return train_tree_mae(tree, cfg, seed=seed, trained=trained)
    decoder_depth = check_int("decoder_depth", decoder_depth, low=1,
                              fix="Pass e.g. decoder_depth=1, 2 or 4.")
    if cfg.fixed_mask is not None or cfg.boundary_loss:
        raise ValueError("train_downstream_mae takes random masks with the full loss: set "
                         "cfg.fixed_mask=None and cfg.boundary_loss=False.")
    x = tree.sample(cfg.n_train, seed=seed).x.float()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    model = TokenMAE(len(tree.leaves), tree.leaf_dim, cfg.latent_dim, cfg.hidden_dim,
                     cfg.depth, mask_shift=cfg.shift, seed=seed + MODEL_SEED_OFFSET)
    sizes = ([cfg.latent_dim + len(tree.leaves)] + [cfg.hidden_dim] * decoder_depth
             + [len(tree.leaves) * tree.leaf_dim])
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(nn.GELU())
    gen = make_generator(seed + MODEL_SEED_OFFSET + 1)
    with torch.no_grad():
        for lin in layers[::2]:
            nn.init.xavier_uniform_(lin.weight, generator=gen)
            nn.init.zeros_(lin.bias)
    model.decoder = nn.Sequential(*layers)
    loss = float("nan")
    if trained:
        loss = train(model, (x - mean) / std, train_config(cfg), seed=seed, device="cpu",
                     progress=False).final_loss
    model.eval()
    return TreeMAERun(model, cfg, seed, mean, std, loss)


# --- one unit of the experiment --------------------------------------------------------------
def _masked_mse(run: TreeMAERun, x: torch.Tensor, mask: torch.Tensor) -> float:
    with torch.no_grad():
        pred = run.model.decode(run.model.encode((x - run.mean) / run.std, mask), mask)
    err = ((pred - (x - run.mean) / run.std) ** 2).mean(dim=-1)
    return float((err * mask).sum() / mask.sum())


def _mean_mse(run: TreeMAERun, x: torch.Tensor, mask: torch.Tensor) -> float:
    err = (((x - run.mean) / run.std) ** 2).mean(dim=-1)
    return float((err * mask).sum() / mask.sum())


def evaluate_unit(tree: LatentTree, run: TreeMAERun, control: TreeMAERun, *, seed: int,
                  n_eval: int = 2000, n_probe: int = 4000, n_split: int = 200,
                  n_split_masks: int = 6, n_draws: int = 32) -> dict:
    """Everything chapter 4b reads off one trained model and its untrained twin.

    Returns a dict: ``gate`` (held-out masked MSE of the model, the untrained network and the
    training-mean predictor on ``n_eval`` fresh samples and masks drawn like the training
    masks, and ``passed``), root-class accuracy of a linear probe of the full-input
    representation (``acc``, ``acc_untrained``, ``acc_raw`` for the raw leaves), the linear
    R^2 of the root and of the leaf noises (``r2_root``, ``r2_leaf_noise``), the cue-conflict
    scores (``conflict_root_a``: R^2 of sample A's root, ``conflict_noise_b``: R^2 of sample
    B's leaf noises, ``conflict_acc_a``/``conflict_acc_b``: root-class agreement with A/B, and
    ``shape_bias`` = root / (root + noise) with negatives at 0) and, per evaluation mask, the
    exact split of the masked error (``split``: ``mse``, ``bayes``, ``leaf_noise``).
    """
    _check_tree(tree)
    for name, r in (("run", run), ("control", control)):
        if not isinstance(r, TreeMAERun):
            raise TypeError(f"{name} must be a TreeMAERun; got {describe(r)}.")
    cfg = run.config
    base = EVAL_SEED_OFFSET + seed
    ev = tree.sample(n_eval, seed=base).x.float()
    masks = token_masking(n_eval, len(tree.leaves), cfg.mask_ratio, unit=cfg.unit,
                          shift=cfg.shift, seed=base).mask
    gate = {"mse": _masked_mse(run, ev, masks), "untrained": _masked_mse(control, ev, masks),
            "mean": _mean_mse(run, ev, masks)}
    gate["passed"] = bool(gate["mse"] <= GATE_FRACTION * gate["mean"]
                          and gate["mse"] < gate["untrained"])
    s = tree.sample(n_probe, seed=base + 1)
    y, k = root_class(tree, s), (3 * n_probe) // 4
    f, f0, raw = run.features(s.x.float()), control.features(s.x.float()), s.x.flatten(1)
    out = {"gate": gate, "final_loss": run.final_loss}
    out["acc"] = ridge_classifier_accuracy(f[:k], y[:k], f[k:], y[k:])
    out["acc_untrained"] = ridge_classifier_accuracy(f0[:k], y[:k], f0[k:], y[k:])
    out["acc_raw"] = ridge_classifier_accuracy(raw[:k], y[:k], raw[k:], y[k:])
    noises = _leaf_noises(tree, s)
    out["r2_root"] = _r2(s.values[tree.root][k:], _ridge_fit(f[:k], s.values[tree.root][:k],
                                                             1e-3)(f[k:]))
    out["r2_leaf_noise"] = _r2(noises[k:], _ridge_fit(f[:k], noises[:k], 1e-3)(f[k:]))
    out.update(conflict_scores(tree, run, seed=seed, n_probe=n_probe))
    # the masked error split exactly, on a few held-out masks
    sp = tree.sample(n_split, seed=base + 4)
    split = []
    for j, row in enumerate(masks[:n_split_masks]):
        names = [v for v, bit in zip(tree.leaves, row) if bit > 0.5]
        m = row.expand(n_split, -1)
        parts = bayes_error_split(tree, sp, names, run.std, n_draws=n_draws, seed=base + 10 + j)
        split.append({"masked": names, "mse": _masked_mse(run, sp.x.float(), m),
                      "mse_untrained": _masked_mse(control, sp.x.float(), m), **parts})
    out["split"] = split
    return out


def _leaf_noises(tree: LatentTree, sample: Sample) -> torch.Tensor:
    return torch.cat([sample.noises[v] for v in tree.leaves], dim=1)


def conflict_scores(tree: LatentTree, run: TreeMAERun, *, seed: int, n_probe: int = 4000
                    ) -> dict:
    """Cue-conflict scores of one model (the fields ``conflict_*`` and ``shape_bias`` of
    :func:`evaluate_unit`): probes fitted on ordinary samples, scored on conflict inputs."""
    _check_tree(tree)
    if not isinstance(run, TreeMAERun):
        raise TypeError(f"run must be a TreeMAERun; got {describe(run)}.")
    base = EVAL_SEED_OFFSET + seed
    s = tree.sample(n_probe, seed=base + 1)
    f, y, noises = run.features(s.x.float()), root_class(tree, s), _leaf_noises(tree, s)
    a, b = tree.sample(n_probe // 4, seed=base + 2), tree.sample(n_probe // 4, seed=base + 3)
    fc = run.features(cue_conflict_tokens(tree, a, b))
    out = {"conflict_root_a": _r2(a.values[tree.root],
                                  _ridge_fit(f, s.values[tree.root], 1e-3)(fc)),
           "conflict_noise_b": _r2(_leaf_noises(tree, b), _ridge_fit(f, noises, 1e-3)(fc))}
    cls_hat = (_ridge_fit(f, 2.0 * y.float() - 1.0, 1e-3)(fc).reshape(-1) > 0).long()
    out["conflict_acc_a"] = float((cls_hat == root_class(tree, a)).float().mean())
    out["conflict_acc_b"] = float((cls_hat == root_class(tree, b)).float().mean())
    sa, sb = max(0.0, out["conflict_root_a"]), max(0.0, out["conflict_noise_b"])
    out["shape_bias"] = sa / (sa + sb) if sa + sb > 0 else float("nan")
    return out

def _r2(y: torch.Tensor, y_hat: torch.Tensor) -> float:
    """Pooled R^2 over all columns: 1 - SSE / total sum of squares about the mean."""
    y, y_hat = y.float().reshape(len(y), -1), y_hat.float().reshape(len(y), -1)
    return float(1.0 - ((y - y_hat) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


# --- the design and its cache ----------------------------------------------------------------
def downstream_units(tree_seeds: Sequence[int] = (0, 1), seeds: Sequence[int] = range(5)
                     ) -> list[dict]:
    """The units of chapter 4b, most valuable first: one trained model each.

    ``sweep`` (every r of :data:`RATIOS`, unit 1), ``decoder`` (r = 0.75, decoder depth 1 and
    4; depth 2 is the sweep's model) and ``units`` (r = 0.75, pairs of leaves aligned with
    sibling pairs or shifted by one leaf). Each unit is a dict with ``label``, ``tree_seed``,
    ``seed``, ``cfg`` and ``decoder_depth``.

    Examples
    --------
    >>> units = downstream_units()
    >>> len(units), units[0]["label"]
    (90, ('sweep', 0, 0, 0.1))
    """
    tree_seeds = [check_int("tree_seeds[]", t, low=0) for t in tree_seeds]
    seeds = [check_int("seeds[]", s, low=0) for s in seeds]
    out = []

    def add(label, t, s, decoder_depth=None, **changes):
        cfg = dataclasses.replace(CONFIG, **changes)
        out.append({"label": label, "tree_seed": t, "seed": s, "cfg": cfg,
                    "decoder_depth": decoder_depth})

    for t in tree_seeds:  # one tree draw's whole design before the next draw's
        for s in seeds:
            for r in RATIOS:
                add(("sweep", t, s, r), t, s, mask_ratio=r)
        for s in seeds:
            for depth in (1, 4):
                add(("decoder", t, s, depth), t, s, decoder_depth=depth, mask_ratio=0.75)
        for s in seeds:
            for shift in (0, 1):
                add(("units", t, s, shift), t, s, mask_ratio=0.75, unit=2, shift=shift)
    return out


def unit_path(unit: dict):
    """The cache file of one unit: ``data/cache/tree_downstream-<hash>.json``."""
    if not isinstance(unit, dict) or not {"tree_seed", "seed", "cfg"} <= set(unit):
        raise TypeError(f"unit must be one dict of downstream_units(); got {describe(unit)}.")
    payload = {"cfg": _cfg_payload(unit["cfg"]), "tree": {**HARSH_TREE,
                                                                "seed": unit["tree_seed"]},
               "seed": unit["seed"], "decoder_depth": unit.get("decoder_depth"), "schema": 1}
    return _key("tree_downstream", payload), payload


def run_unit(unit: dict, *, cache: bool = True) -> dict:
    """Train, evaluate and (``cache=True``) store one unit; a stored unit is read, not rerun."""
    path, payload = unit_path(unit)
    if cache and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("payload") == json.loads(json.dumps(payload, default=str)):
            return stored["result"]
    tree = harsh_tree(unit["tree_seed"])
    kw = {"seed": unit["seed"], "decoder_depth": unit.get("decoder_depth")}
    run = train_downstream_mae(tree, unit["cfg"], **kw)
    control = train_downstream_mae(tree, unit["cfg"], trained=False, **kw)
    result = evaluate_unit(tree, run, control, seed=unit["seed"])
    if cache:
        save_json({"payload": payload, "label": list(unit["label"]), "result": result,
                   "provenance": provenance("cpu")}, path)
    return result


def load_units(units: Sequence[dict]) -> dict:
    """``{label: result}`` for the units whose cache file exists (the chapter only reads)."""
    out = {}
    for unit in units:
        path, payload = unit_path(unit)
        if path.exists():
            stored = json.loads(path.read_text())
            if stored.get("payload") == json.loads(json.dumps(payload, default=str)):
                out[unit["label"]] = stored["result"]
    return out


def gated_pairs(results: dict, treatment: tuple, baseline: tuple, key: str = "acc", *,
                control_key: str | None = None, seeds: Sequence[int] = range(5),
                tree_seeds: Sequence[int] = (0,)) -> dict:
    """Paired values of ``key`` for two arms, over the seeds whose *both* models passed the gate.

    ``treatment`` and ``baseline`` are unit labels without the tree and seed, e.g.
    ``("sweep", 0.75)`` for ``("sweep", t, s, 0.75)``; ``key`` is a field of the unit's result
    or a function ``result -> float``. ``control_key`` also returns the same field of the
    untrained twins (e.g. ``"acc_untrained"``). The gate is applied before any comparison; a
    pair with a missing or failed model is left out and counted in ``dropped``.

    Returns
    -------
    dict
        ``treatment``, ``baseline`` (numpy arrays, one value per kept pair), ``control`` (a
        pair of arrays, or None), ``kept`` (the (tree, seed) pairs) and ``dropped``.

    Examples
    --------
    >>> res = {("sweep", 0, s, r): {"gate": {"passed": True}, "acc": r + s / 100}
    ...        for s in range(3) for r in (0.1, 0.75)}
    >>> out = gated_pairs(res, ("sweep", 0.75), ("sweep", 0.1), seeds=range(3))
    >>> (out["treatment"] - out["baseline"]).round(2).tolist(), out["dropped"]
    ([0.65, 0.65, 0.65], 0)
    """
    import numpy as np

    if not isinstance(results, dict):
        raise TypeError(f"results must be the dict of load_units(); got {describe(results)}.")
    for name, arm in (("treatment", treatment), ("baseline", baseline)):
        if not isinstance(arm, tuple) or len(arm) != 2:
            raise TypeError(f"{name} must be a (kind, setting) tuple such as ('sweep', 0.75); "
                            f"got {describe(arm)}.")

    def value(res, k):
        return float(k(res)) if callable(k) else float(res[k])

    out = {"treatment": [], "baseline": [], "ctl_t": [], "ctl_b": [], "kept": [], "dropped": 0}
    for t in tree_seeds:
        for s in seeds:
            a = results.get((treatment[0], t, s, treatment[1]))
            b = results.get((baseline[0], t, s, baseline[1]))
            if a is None or b is None or not (a["gate"]["passed"] and b["gate"]["passed"]):
                out["dropped"] += 1
                continue
            out["treatment"].append(value(a, key))
            out["baseline"].append(value(b, key))
            if control_key is not None:
                out["ctl_t"].append(value(a, control_key))
                out["ctl_b"].append(value(b, control_key))
            out["kept"].append((t, s))
    control = None
    if control_key is not None:
        control = (np.array(out["ctl_t"]), np.array(out["ctl_b"]))
    return {"treatment": np.array(out["treatment"]), "baseline": np.array(out["baseline"]),
            "control": control, "kept": out["kept"], "dropped": out["dropped"]}


def lowest_level_share(tree: LatentTree, mask_ratio: float, *, unit: int = 1, shift: int = 0,
                       n_draws: int = 500, seed: SeedLike = 0) -> float:
    """Fraction of random token masks whose shared latents c(m) hold a lowest-level latent.

    The lowest-level latents are the leaves' parents; masks are drawn as the token MAE draws
    them (:func:`~mae_theory.models.token.token_masking`). Theorem 1's c(m) holds such a
    latent whenever a masked leaf has a visible sibling.

    Examples
    --------
    >>> t = harsh_tree(0)
    >>> lowest_level_share(t, 0.5, n_draws=200) > 0.9, lowest_level_share(t, 0.5, unit=2)
    (True, 0.0)
    """
    from .theory import shared_latents

    _check_tree(tree)
    n_draws = check_int("n_draws", n_draws, low=1)
    lowest = {tree.parents[v] for v in tree.leaves}
    masks = token_masking(n_draws, len(tree.leaves), mask_ratio, unit=unit, shift=shift,
                          seed=seed).mask
    hits = 0
    for row in masks:
        c = shared_latents(tree, [v for v, b in zip(tree.leaves, row) if b > 0.5])
        hits += bool(c & lowest)
    return hits / n_draws

if __name__ == "__main__":  # pragma: no cover - the background job that fills the cache
    import sys

    torch.set_num_threads(1)
    worker, n_workers = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (0, 1)
    for i, unit in enumerate(downstream_units()):
        if i % n_workers == worker and not unit_path(unit)[0].exists():
            res = run_unit(unit)
            print(unit["label"], res["gate"], round(res["acc"], 3), flush=True,
                  file=sys.stdout if os.environ.get("QUIET") is None else sys.stderr)
