"""Regression probes for synthetic hierarchies (chapters 3-4).

The R^2 of each latent variable and noise from a frozen representation, linear (closed-form
ridge) and nonlinear (RBF kernel ridge), on a held-out split, and the leakage profile over every
node of a latent tree.
"""


import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_float, check_int, check_tensor, describe
from ..runtime import SeedLike, make_generator


@dataclass(frozen=True)
class RegressionProbeConfig:
    """How the regression probes split, regularise and subsample (CPU-sized defaults)."""

    test_fraction: float = 0.5  # share of samples held out for scoring R^2
    ridge: float = 1e-8  # lambda of the linear probe, relative to N_train (closed form)
    kernel_ridges: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # lambda grid (x N_train)
    bandwidth_scale: float = 1.0  # sigma = scale * median pairwise distance (median heuristic)
    max_train: int = 1500  # kernel ridge uses at most this many training samples

    def __post_init__(self) -> None:
        check_float("test_fraction", self.test_fraction, low=0.0, high=1.0, low_open=True,
                    high_open=True)
        check_float("ridge", self.ridge, low=0.0, symbol="lambda")
        if (not isinstance(self.kernel_ridges, tuple) or not self.kernel_ridges
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                           and math.isfinite(v) and v > 0 for v in self.kernel_ridges)):
            raise ValueError(f"kernel_ridges must be a non-empty tuple of finite numbers > 0; "
                             f"got {self.kernel_ridges!r}.")
        check_float("bandwidth_scale", self.bandwidth_scale, low=0.0, low_open=True)
        check_int("max_train", self.max_train, low=2)


def _as_2d(name: str, value, n: int | None = None, min_n: int = 4) -> torch.Tensor:
    """A tensor or numpy array of numbers, shape (N,) or (N, k), as float64 (N, k) on the CPU."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor) or value.is_complex():
        raise TypeError(f"{name} must be a torch.Tensor or numpy array of numbers, shape (N,) "
                        f"or (N, k); got {describe(value)}.")
    t = value.detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] < min_n:
        raise ValueError(f"{name} must have shape (N,) or (N, k) with N >= {min_n} samples; got "
                         f"{tuple(t.shape)}.")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {tuple(t.shape)}); pass at least one.")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} has N={t.shape[0]} rows but the features have N={n}; pass "
                         "one row per sample for both.")
    return check_tensor(name, t)


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination, averaged over the target's dimensions.

    :math:`R^2 = \\frac1k \\sum_j \\bigl(1 - \\sum_i (y_{ij} - \\hat y_{ij})^2 /
    \\sum_i (y_{ij} - \\bar y_j)^2\\bigr)`; 1 is perfect, 0 is the mean's score, below 0 is
    worse than the mean. Constant target dimensions are skipped.

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import r2_score
    >>> y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> r2_score(y, y), r2_score(y, torch.full((4,), 2.5))
    (1.0, 0.0)
    """
    yt, yp = _as_2d("y_true", y_true, min_n=2), _as_2d("y_pred", y_pred, min_n=2)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {tuple(yt.shape)} "
                         f"and {tuple(yp.shape)}.")
    sst = ((yt - yt.mean(dim=0)) ** 2).sum(dim=0)
    sse = ((yt - yp) ** 2).sum(dim=0)
    keep = sst > 1e-12 * yt.shape[0]
    if not keep.any():
        raise ValueError("y_true is constant in every dimension; R^2 is undefined.")
    return float((1.0 - sse[keep] / sst[keep]).mean())


def _split(n: int, cfg: RegressionProbeConfig, seed: SeedLike):
    if not isinstance(cfg, RegressionProbeConfig):
        raise TypeError(f"config must be a RegressionProbeConfig; got {describe(cfg)}.")
    perm = torch.randperm(n, generator=make_generator(seed))
    n_test = max(2, int(round(cfg.test_fraction * n)))
    if n - n_test < 2:
        raise ValueError(f"N={n} samples leave fewer than 2 for training; use more samples.")
    return perm[n_test:], perm[:n_test]


def _standardise(train: torch.Tensor, test: torch.Tensor):
    mean, std = train.mean(dim=0), train.std(dim=0).clamp_min(1e-12)
    return (train - mean) / std, (test - mean) / std


def _linear_predict(ftr, ytr, fte, ridge: float) -> torch.Tensor:
    ftr, fte = _standardise(ftr, fte)
    ymean = ytr.mean(dim=0)
    gram = ftr.T @ ftr + ridge * ftr.shape[0] * torch.eye(ftr.shape[1], dtype=ftr.dtype)
    w = torch.linalg.solve(gram, ftr.T @ (ytr - ymean))
    return fte @ w + ymean


def _kernel_predict(ftr, ytr, fte, cfg: RegressionProbeConfig, splits) -> torch.Tensor:
    """RBF kernel ridge; lambda picked per column block by exact leave-one-out error."""
    ftr, fte = _standardise(ftr, fte)
    sq = torch.cdist(ftr[:500], ftr[:500]).pow(2)
    med = sq[sq > 0].median() if (sq > 0).any() else torch.tensor(1.0, dtype=ftr.dtype)
    gamma = 1.0 / (2.0 * cfg.bandwidth_scale**2 * med)
    k_train = torch.exp(-gamma * torch.cdist(ftr, ftr).pow(2))
    k_test = torch.exp(-gamma * torch.cdist(fte, ftr).pow(2))
    evals, evecs = torch.linalg.eigh(k_train)
    evals = evals.clamp_min(0.0)
    ymean = ytr.mean(dim=0)
    proj = evecs.T @ (ytr - ymean)
    n = ftr.shape[0]
    best = [(math.inf, None)] * len(splits)
    for lam in cfg.kernel_ridges:
        shrink = evals / (evals + lam * n)
        fitted = evecs @ (shrink[:, None] * proj)
        h_diag = (evecs.pow(2) * shrink).sum(dim=1)
        loo = ((ytr - ymean - fitted) / (1.0 - h_diag)[:, None].clamp_min(1e-9)).pow(2)
        for j, (a, b) in enumerate(splits):
            err = float(loo[:, a:b].sum())
            if err < best[j][0]:
                best[j] = (err, lam)
    pred = torch.empty(fte.shape[0], ytr.shape[1], dtype=ftr.dtype)
    for (a, b), (_, lam) in zip(splits, best):
        alpha = evecs @ (proj[:, a:b] / (evals + lam * n)[:, None])
        pred[:, a:b] = k_test @ alpha + ymean[a:b]
    return pred


def probe_r2(features, targets: dict, config: RegressionProbeConfig = RegressionProbeConfig(),
             *, seed: SeedLike = 0) -> dict[str, tuple[float, float]]:
    """Held-out R^2 of each target from the features, linear and nonlinear.

    The samples are split once (``config.test_fraction`` held out). The **linear** probe is ridge
    regression in closed form on standardised features; the **nonlinear** probe is kernel ridge
    regression with an RBF kernel :math:`k(z, z') = \\exp(-\\lVert z - z'\\rVert^2 / 2\\sigma^2)`,
    :math:`\\sigma` the median pairwise distance (median heuristic), its penalty chosen per
    target by exact leave-one-out error on the training split.

    Parameters
    ----------
    features : tensor or array, shape (N, d)
        The representation :math:`\\hat c` of N samples.
    targets : dict mapping a name to a tensor or array of shape (N,) or (N, k)
        Quantities to read off, e.g. latent values :math:`z_v` and noises :math:`\\varepsilon_v`.
    config : RegressionProbeConfig
    seed : SeedLike
        Seeds the split and the kernel-ridge subsample.

    Returns
    -------
    dict mapping each name to ``(linear R^2, nonlinear R^2)``

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import probe_r2
    >>> z = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))
    >>> out = probe_r2(z, {"sum": z.sum(1), "square": z[:, 0] ** 2}, seed=0)
    >>> round(out["sum"][0], 3), out["square"][0] < 0.1, out["square"][1] > 0.95
    (1.0, True, True)
    """
    feats = _as_2d("features", features)
    n = feats.shape[0]
    if not isinstance(targets, dict) or not targets:
        raise ValueError("targets must be a non-empty dict {name: tensor of shape (N,) or "
                         f"(N, k)}}; got {type(targets).__name__}.")
    ys = {name: _as_2d(f"targets[{name!r}]", y, n) for name, y in targets.items()}
    tr, te = _split(n, config, seed)
    splits, start = [], 0
    for y in ys.values():
        splits.append((start, start + y.shape[1]))
        start += y.shape[1]
    y_all = torch.cat(list(ys.values()), dim=1)
    lin = _linear_predict(feats[tr], y_all[tr], feats[te], config.ridge)
    tr_k = tr[: config.max_train]
    ker = _kernel_predict(feats[tr_k], y_all[tr_k], feats[te], config, splits)
    out = {}
    for name, (a, b) in zip(ys, splits):
        out[name] = (r2_score(y_all[te, a:b], lin[:, a:b]), r2_score(y_all[te, a:b], ker[:, a:b]))
    return out


def linear_r2(features, target, config: RegressionProbeConfig = RegressionProbeConfig(), *,
              seed: SeedLike = 0) -> float:
    """Held-out R^2 of a ridge regression from features to target (see :func:`probe_r2`).

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import linear_r2
    >>> z = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    >>> round(linear_r2(z, z @ torch.tensor([1.0, -2.0, 0.5])), 4)
    1.0
    """
    return probe_r2(features, {"y": target}, config, seed=seed)["y"][0]


def kernel_r2(features, target, config: RegressionProbeConfig = RegressionProbeConfig(), *,
              seed: SeedLike = 0) -> float:
    """Held-out R^2 of RBF kernel ridge regression from features to target (:func:`probe_r2`).

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import kernel_r2
    >>> z = torch.rand(400, 1, generator=torch.Generator().manual_seed(0)) * 4 - 2
    >>> kernel_r2(z, torch.sin(3 * z)) > 0.95
    True
    """
    return probe_r2(features, {"y": target}, config, seed=seed)["y"][1]


@dataclass(frozen=True)
class LeakageProfile:
    """R^2 of every latent value and every noise of a tree sample from one representation.

    Rows are parallel tuples; ``kind`` is ``"value"`` (the node's value :math:`z_v`) or
    ``"noise"`` (its own noise :math:`\\varepsilon_v`).
    """

    nodes: tuple[str, ...]
    kinds: tuple[str, ...]
    linear: tuple[float, ...]  # held-out R^2 of the ridge probe
    nonlinear: tuple[float, ...]  # held-out R^2 of the kernel-ridge probe

    def __post_init__(self) -> None:
        rows = (self.nodes, self.kinds, self.linear, self.nonlinear)
        if not all(isinstance(r, tuple) for r in rows) or len({len(r) for r in rows}) != 1:
            raise ValueError("nodes, kinds, linear and nonlinear must be tuples of one length "
                             f"(one entry per row); got lengths {[len(r) for r in rows]}.")

    def r2(self, node: str, kind: str = "noise", method: str = "nonlinear") -> float:
        """The R^2 of one row, e.g. ``profile.r2("a", "noise")``."""
        if kind not in ("value", "noise"):
            raise ValueError(f"kind must be 'value' or 'noise'; got {kind!r}.")
        if method not in ("linear", "nonlinear"):
            raise ValueError(f"method must be 'linear' or 'nonlinear'; got {method!r}.")
        for v, k, lin, non in zip(self.nodes, self.kinds, self.linear, self.nonlinear):
            if v == node and k == kind:
                return lin if method == "linear" else non
        raise KeyError(f"no row for node {node!r} of kind {kind!r}; rows: "
                       f"{list(zip(self.nodes, self.kinds))}.")

    def as_dict(self, kind: str = "noise", method: str = "nonlinear") -> dict[str, float]:
        """``{node: R^2}`` for one kind and one probe."""
        if kind not in ("value", "noise") or method not in ("linear", "nonlinear"):
            raise ValueError(f"kind must be 'value' or 'noise' and method 'linear' or "
                             f"'nonlinear'; got kind={kind!r}, method={method!r}.")
        vals = self.linear if method == "linear" else self.nonlinear
        return {v: r for v, k, r in zip(self.nodes, self.kinds, vals) if k == kind}


def leakage_profile(features, sample, config: RegressionProbeConfig = RegressionProbeConfig(),
                    *, kinds: tuple[str, ...] = ("value", "noise"),
                    seed: SeedLike = 0) -> LeakageProfile:
    """Probe every latent value and every noise of a tree sample from a representation.

    Parameters
    ----------
    features : tensor, shape (N, d)
        :math:`\\hat c` for the N samples of ``sample`` (same order).
    sample : object with dicts ``values`` (node -> (N, dim)) and ``noises`` (node -> (N, d_eps))
        A tree sample (:meth:`mae_theory.hierarchy.LatentTree.sample`).
    config : RegressionProbeConfig
    kinds : tuple of {"value", "noise"}
        Which rows to probe.
    seed : SeedLike
        Seeds the split.

    Returns
    -------
    LeakageProfile

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from mae_theory.probes import leakage_profile
    >>> g = torch.Generator().manual_seed(0)
    >>> eps_a, eps_b = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
    >>> s = SimpleNamespace(values={}, noises={"a": eps_a, "b": eps_b})
    >>> prof = leakage_profile(torch.tanh(eps_a), s, kinds=("noise",))
    >>> prof.r2("a") > 0.9, abs(prof.r2("b")) < 0.1
    (True, True)
    """
    if isinstance(kinds, str) or not isinstance(kinds, (tuple, list)) or not kinds:
        raise ValueError(f"kinds must hold 'value' and/or 'noise'; got {kinds!r}.")
    for k in kinds:
        if k not in ("value", "noise"):
            raise ValueError(f"kinds must hold 'value' and/or 'noise'; got {kinds!r}.")
    if not (isinstance(getattr(sample, "values", None), dict)
            and isinstance(getattr(sample, "noises", None), dict)):
        raise TypeError("sample must have dicts .values and .noises (a tree sample); got "
                        f"{type(sample).__name__}.")
    targets, rows = {}, []
    for kind, table in (("value", sample.values), ("noise", sample.noises)):
        if kind in kinds:
            for node, y in table.items():
                targets[f"{kind}:{node}"] = y
                rows.append((node, kind))
    scores = probe_r2(features, targets, config, seed=seed)
    lin = tuple(scores[f"{k}:{v}"][0] for v, k in rows)
    non = tuple(scores[f"{k}:{v}"][1] for v, k in rows)
    return LeakageProfile(tuple(v for v, _ in rows), tuple(k for _, k in rows), lin, non)
