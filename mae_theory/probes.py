"""Probes: how much of a quantity can be read off a frozen representation.

Two families, one section each (reading order):

1. **Regression probes** for synthetic hierarchies (chapters 3-4): the R^2 of each latent
   variable and noise from a representation, linear and nonlinear, on a held-out split, and the
   leakage profile over every node of a tree.
2. **Classification probes** for real images (chapter 9): the linear probe of MAE's protocol
   (BatchNorm without affine, then a linear layer), k-NN accuracy, partial fine-tuning.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .runtime import SeedLike, autocast, make_generator, resolve_device


# --- 1. Regression probes (R^2 per latent, leakage profile) -----------------------------------
@dataclass(frozen=True)
class RegressionProbeConfig:
    """How the regression probes split, regularise and subsample (CPU-sized defaults)."""

    test_fraction: float = 0.5  # share of samples held out for scoring R^2
    ridge: float = 1e-8  # lambda of the linear probe, relative to N_train (closed form)
    kernel_ridges: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # lambda grid (x N_train)
    bandwidth_scale: float = 1.0  # sigma = scale * median pairwise distance (median heuristic)
    max_train: int = 1500  # kernel ridge uses at most this many training samples


def _as_2d(name: str, value, n: int | None = None, min_n: int = 4) -> torch.Tensor:
    t = torch.as_tensor(value).detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] < min_n:
        raise ValueError(f"{name} must have shape (N,) or (N, k) with N >= {min_n} samples; got "
                         f"{tuple(t.shape)}.")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} has N={t.shape[0]} rows but the features have N={n}; pass "
                         "one row per sample for both.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean the data first.")
    return t


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
    if not 0.0 < cfg.test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1); got {cfg.test_fraction}.")
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

    def r2(self, node: str, kind: str = "noise", method: str = "nonlinear") -> float:
        """The R^2 of one row, e.g. ``profile.r2("a", "noise")``."""
        if method not in ("linear", "nonlinear"):
            raise ValueError(f"method must be 'linear' or 'nonlinear'; got {method!r}.")
        for v, k, lin, non in zip(self.nodes, self.kinds, self.linear, self.nonlinear):
            if v == node and k == kind:
                return lin if method == "linear" else non
        raise KeyError(f"no row for node {node!r} of kind {kind!r}; rows: "
                       f"{list(zip(self.nodes, self.kinds))}.")

    def as_dict(self, kind: str = "noise", method: str = "nonlinear") -> dict[str, float]:
        """``{node: R^2}`` for one kind and one probe."""
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
    for k in kinds:
        if k not in ("value", "noise"):
            raise ValueError(f"kinds must hold 'value' and/or 'noise'; got {kinds!r}.")
    if not (hasattr(sample, "values") and hasattr(sample, "noises")):
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



# --- 2. Classification probes (linear probe, k-NN, partial fine-tuning) -----------------------
@dataclass(frozen=True)
class ProbeResult:
    """A classifier trained on frozen (or partly frozen) features, scored on a test split.

    ``float(result)`` is the test accuracy, so a ``ProbeResult`` can stand where a number is
    expected.
    """

    accuracy: float  # test accuracy in [0, 1]
    train_accuracy: float  # accuracy on the training split (a gap to ``accuracy``: over-fitting)
    losses: tuple[float, ...]  # mean cross-entropy per epoch
    n_classes: int  # K, number of classes (largest label + 1)

    def __float__(self) -> float:
        return float(self.accuracy)


def _check_split(train_feats, train_labels, test_feats, test_labels, *, feat_ndim=2):
    """Validate a (train, test) pair of features and labels; returns them and K."""
    pairs = (("train_feats", train_feats, "train_labels", train_labels),
             ("test_feats", test_feats, "test_labels", test_labels))
    for fname, feats, lname, labels in pairs:
        if not torch.is_tensor(feats) or feats.ndim != feat_ndim or feats.shape[0] == 0:
            got = tuple(feats.shape) if torch.is_tensor(feats) else type(feats).__name__
            raise ValueError(f"{fname} must be a non-empty tensor with {feat_ndim} dimensions "
                             f"(N first); got {got}.")
        if (not torch.is_tensor(labels) or labels.ndim != 1 or labels.dtype.is_floating_point
                or labels.shape[0] != feats.shape[0]):
            got = tuple(labels.shape) if torch.is_tensor(labels) else type(labels).__name__
            raise ValueError(f"{lname} must be a 1-D integer tensor with one label per row of "
                             f"{fname} ({feats.shape[0]}); got {got}.")
    if train_feats.shape[1:] != test_feats.shape[1:]:
        raise ValueError(f"train_feats and test_feats must share their feature shape; got "
                         f"{tuple(train_feats.shape[1:])} and {tuple(test_feats.shape[1:])}.")
    if min(int(train_labels.min()), int(test_labels.min())) < 0:
        raise ValueError("labels must be class indices >= 0; got a negative label.")
    n_classes = int(max(int(train_labels.max()), int(test_labels.max()))) + 1
    return train_labels.long(), test_labels.long(), n_classes


def _probe_head(dim: int, n_classes: int, gen: torch.Generator) -> nn.Module:
    """BatchNorm without affine parameters, then a linear layer (MAE's linear-probe head)."""
    linear = nn.Linear(dim, n_classes)
    with torch.no_grad():
        nn.init.trunc_normal_(linear.weight, std=0.01, generator=gen)
        nn.init.zeros_(linear.bias)
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), linear)


def _fit(forward, params, feats, labels, *, epochs, lr, batch_size, gen, dev, sgd) -> list:
    """Mini-batch training with a half-cycle cosine learning rate; mean loss per epoch."""
    if not (isinstance(epochs, int) and epochs >= 1 and isinstance(batch_size, int)
            and batch_size >= 2 and lr > 0):
        raise ValueError(f"epochs must be an int >= 1, batch_size an int >= 2 and lr > 0; got "
                         f"epochs={epochs!r}, batch_size={batch_size!r}, lr={lr!r}.")
    opt = (torch.optim.SGD(params, lr=lr, momentum=0.9) if sgd
           else torch.optim.AdamW(params, lr=lr, weight_decay=0.05))
    n = feats.shape[0]
    steps_per_epoch = max(1, n // batch_size)
    total, step, losses = epochs * steps_per_epoch, 0, []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        epoch_loss = torch.zeros((), device=dev)
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size:(b + 1) * batch_size] if n >= batch_size else perm
            for group in opt.param_groups:
                group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / total))
            with autocast(dev):
                logits = forward(feats[idx.to(feats.device)].to(dev))
            loss = F.cross_entropy(logits.float(), labels[idx.to(labels.device)].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            epoch_loss += loss.detach()
            step += 1
        losses.append(float(epoch_loss) / steps_per_epoch)
    return losses


@torch.no_grad()
def _accuracy(forward, feats, labels, dev, batch_size: int = 1024) -> float:
    correct = 0
    for i in range(0, feats.shape[0], batch_size):
        with autocast(dev):
            logits = forward(feats[i:i + batch_size].to(dev))
        correct += int((logits.argmax(dim=1).cpu() == labels[i:i + batch_size].cpu()).sum())
    return correct / feats.shape[0]


def linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor,
                 test_feats: torch.Tensor, test_labels: torch.Tensor, *, epochs: int = 100,
                 lr: float = 0.1, batch_size: int = 256, seed: SeedLike = 0,
                 device=None) -> ProbeResult:
    """Linear probe of frozen features with MAE's head: BatchNorm (no affine), then linear.

    The head :math:`g(z) = W \\,\\mathrm{BN}(z) + b` is trained with cross-entropy by SGD
    (momentum 0.9, half-cycle cosine learning rate, no weight decay; He et al. use LARS at
    batch 16384, which plain SGD replaces at this scale). The BatchNorm standardises each
    feature over the training batches, so the probe is insensitive to the features' scale.

    Parameters
    ----------
    train_feats, test_feats : torch.Tensor, shape (N, D) and (M, D)
        Frozen features :math:`z`, e.g. ``MAE.features(images)``.
    train_labels, test_labels : torch.Tensor, shape (N,) and (M,), integer
        Class indices; ``K`` = largest label + 1.
    epochs, lr, batch_size : int, float, int
        Passes over the training features, peak learning rate, mini-batch size (>= 2).
    seed : SeedLike
        Seeds the head's initialisation and the shuffling (bit-identical on the CPU).
    device : str or torch.device, optional
        Where to train (``None``: CUDA when available).

    Returns
    -------
    ProbeResult
        ``accuracy`` (test), ``train_accuracy``, ``losses`` per epoch; ``float(result)`` is
        the test accuracy.

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import linear_probe
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(200) % 2
    >>> z = torch.randn(200, 5, generator=g) + 3.0 * y[:, None]
    >>> res = linear_probe(z[:150], y[:150], z[150:], y[150:], epochs=20, device="cpu")
    >>> res.accuracy > 0.9
    True
    """
    ytr, yte, k = _check_split(train_feats, train_labels, test_feats, test_labels)
    dev = resolve_device(device)
    gen = make_generator(seed)
    head = _probe_head(train_feats.shape[1], k, gen).to(dev)
    xtr, xte = train_feats.float(), test_feats.float()
    losses = _fit(head, list(head.parameters()), xtr, ytr, epochs=epochs, lr=lr,
                  batch_size=batch_size, gen=gen, dev=dev, sgd=True)
    head.eval()
    return ProbeResult(accuracy=_accuracy(head, xte, yte, dev),
                       train_accuracy=_accuracy(head, xtr, ytr, dev), losses=tuple(losses),
                       n_classes=k)


@torch.no_grad()
def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor,
                 test_feats: torch.Tensor, test_labels: torch.Tensor, *, k: int = 20,
                 temperature: float = 0.07) -> float:
    """Accuracy of a cosine-similarity weighted k-nearest-neighbour vote (InstDisc, DINO).

    Each test feature :math:`z` votes over its ``k`` most cosine-similar training features
    :math:`z_j` with weights :math:`\\exp(s_j / \\tau)`, :math:`s_j = \\cos(z, z_j)`, and takes
    the class with the largest total weight. No training, no hyperparameters but ``k`` and
    :math:`\\tau`, so it scores the geometry of the features as they are.

    Parameters
    ----------
    train_feats, test_feats : torch.Tensor, shape (N, D) and (M, D)
    train_labels, test_labels : torch.Tensor, shape (N,) and (M,), integer
    k : int, default 20
        Neighbours, ``1 <= k <= N``.
    temperature : float, default 0.07
        :math:`\\tau > 0`.

    Returns
    -------
    float
        Test accuracy in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from mae_theory.probes import knn_accuracy
    >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> knn_accuracy(z, y, torch.tensor([[1.0, 0.2], [0.2, 1.0]]), torch.tensor([0, 1]), k=2)
    1.0
    """
    ytr, yte, n_classes = _check_split(train_feats, train_labels, test_feats, test_labels)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= train_feats.shape[0]:
        raise ValueError(f"k (neighbours) must be an int with 1 <= k <= N = "
                         f"{train_feats.shape[0]}; got {k!r}.")
    if not temperature > 0:
        raise ValueError(f"temperature tau must be > 0; got {temperature!r}.")
    bank = F.normalize(train_feats.float(), dim=1)
    ytr = ytr.to(bank.device)
    correct = 0
    for i in range(0, test_feats.shape[0], 1024):
        query = F.normalize(test_feats[i:i + 1024].float().to(bank.device), dim=1)
        sims, idx = (query @ bank.T).topk(k, dim=1)
        votes = torch.zeros(query.shape[0], n_classes, device=bank.device)
        votes.scatter_add_(1, ytr[idx], (sims / temperature).exp())
        correct += int((votes.argmax(dim=1).cpu() == yte[i:i + 1024].cpu()).sum())
    return correct / test_feats.shape[0]


@torch.no_grad()
def _tokens_before(model, images: torch.Tensor, n_frozen: int, dev, batch_size: int = 512):
    """Tokens entering encoder block ``n_frozen`` (cls first), for unmasked images."""
    out = []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size].to(dev)
        with autocast(dev):
            t = model.patch_embed(model.patchify(x)) + model.pos_embed
            t = torch.cat([model.cls_token.expand(t.shape[0], -1, -1), t], dim=1)
            for blk in model.blocks[:n_frozen]:
                t = blk(t)
        out.append(t.to(torch.bfloat16 if dev.type == "cuda" else torch.float32))
    return torch.cat(out)


def partial_finetune(model, train_images: torch.Tensor, train_labels: torch.Tensor,
                     test_images: torch.Tensor, test_labels: torch.Tensor, *, blocks: int = 1,
                     epochs: int = 10, lr: float = 3e-3, batch_size: int = 128,
                     seed: SeedLike = 0, device=None) -> ProbeResult:
    """Fine-tune the last ``blocks`` encoder blocks and a probe head; the rest stays frozen.

    He et al. (2022, §4.3) show that tuning a single block lifts MAE's linear-probe accuracy a
    lot: features that are not linearly separable can still be close to it. Here the frozen
    blocks run once (their output tokens are cached), then copies of the last ``blocks``
    blocks, the final norm and the head (BatchNorm without affine, linear, on the mean of the
    patch tokens) are trained with AdamW (weight decay 0.05, half-cycle cosine learning rate).
    ``model`` itself is not modified.

    Parameters
    ----------
    model : MAE
        A (pre-)trained model; its encoder supplies the features.
    train_images, test_images : torch.Tensor, shape (N, C, H, W) and (M, C, H, W)
    train_labels, test_labels : torch.Tensor, shape (N,) and (M,), integer
    blocks : int, default 1
        Number of trailing encoder blocks to tune, ``1 <= blocks <= depth``.
    epochs, lr, batch_size, seed, device
        As in :func:`linear_probe` (here AdamW's peak learning rate).

    Returns
    -------
    ProbeResult

    Examples
    --------
    >>> import torch
    >>> from mae_theory import MAE
    >>> from mae_theory.probes import partial_finetune
    >>> mae = MAE(8, 4, 1, 16, 2, 2, 16, 1, 2, seed=0)
    >>> x, y = torch.randn(40, 1, 8, 8), torch.arange(40) % 2
    >>> res = partial_finetune(mae, x[:32], y[:32], x[32:], y[32:], epochs=2, device="cpu")
    >>> len(res.losses), 0.0 <= res.accuracy <= 1.0
    (2, True)
    """
    ytr, yte, k = _check_split(train_images, train_labels, test_images, test_labels,
                               feat_ndim=4)
    depth = len(model.blocks)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= depth:
        raise ValueError(f"blocks (trailing encoder blocks to tune) must be an int in "
                         f"[1, depth = {depth}]; got {blocks!r}.")
    dev = resolve_device(device)
    gen = make_generator(seed)
    model = model.to(dev).eval()
    tail = copy.deepcopy(nn.ModuleList([*model.blocks[depth - blocks:], model.norm])).to(dev)
    head = _probe_head(model.embed_dim, k, gen).to(dev)

    def forward(tokens):
        x = tokens.float()
        for layer in tail:
            x = layer(x)
        return head(x[:, 1:].mean(dim=1))

    cached = [_tokens_before(model, imgs.float(), depth - blocks, dev)
              for imgs in (train_images, test_images)]
    params = [*tail.parameters(), *head.parameters()]
    tail.train()
    head.train()
    losses = _fit(forward, params, cached[0], ytr, epochs=epochs, lr=lr,
                  batch_size=batch_size, gen=gen, dev=dev, sgd=False)
    tail.eval()
    head.eval()
    return ProbeResult(accuracy=_accuracy(forward, cached[1], yte, dev),
                       train_accuracy=_accuracy(forward, cached[0], ytr, dev),
                       losses=tuple(losses), n_classes=k)


@torch.no_grad()
def reconstruction_quality(model, data, mask_ratio: float = 0.75, *, seed: SeedLike = 0,
                           batch_size: int = 512, device=None) -> dict:
    """PSNR and SSIM of MAE reconstructions (visible patches pasted back) in pixel units.

    Each image is masked at ratio ``r``, reconstructed (:meth:`MAE.reconstruct`), mapped back
    to [0, 1] pixels with ``data.denormalize`` and compared with the original by
    :func:`mae_theory.metrics.psnr` and :func:`mae_theory.metrics.ssim` (data range 1).

    Parameters
    ----------
    model : MAE
    data : ImageData
        Images and the statistics that undo their standardisation.
    mask_ratio : float, default 0.75
        ``r`` at test time (use one value for all models to compare them on one yardstick).
    seed : SeedLike
        Seeds the test masks.
    batch_size : int
    device : str or torch.device, optional

    Returns
    -------
    dict
        ``{"psnr": dB, "ssim": in [-1, 1], "mask_ratio": r}``, means over the images.

    Examples
    --------
    >>> from mae_theory import MAE, synthetic_shapes
    >>> from mae_theory.probes import reconstruction_quality
    >>> q = reconstruction_quality(MAE(16, 4, 1, 16, 1, 2, 16, 1, 2, seed=0),
    ...                            synthetic_shapes(8, seed=0), 0.5, device="cpu")
    >>> sorted(q), q["psnr"] > 0
    (['mask_ratio', 'psnr', 'ssim'], True)
    """
    from .metrics import psnr, ssim

    if not hasattr(data, "denormalize"):
        raise TypeError(f"data must be an ImageData (it carries the statistics that map images "
                        f"back to pixels); got {type(data).__name__}.")
    dev = resolve_device(device)
    model = model.to(dev).eval()
    gen = make_generator(seed)
    totals = {"psnr": 0.0, "ssim": 0.0}
    n = data.images.shape[0]
    for i in range(0, n, batch_size):
        x = data.images[i:i + batch_size].to(dev)
        with autocast(dev):
            recon, _ = model.reconstruct(x, mask_ratio, seed=gen)
        pred = data.denormalize(recon.float()).clamp(0, 1)
        true = data.denormalize(x).clamp(0, 1)
        totals["psnr"] += float(psnr(pred, true, data_range=1.0).sum())
        totals["ssim"] += float(ssim(pred, true, data_range=1.0).sum())
    return {"psnr": totals["psnr"] / n, "ssim": totals["ssim"] / n, "mask_ratio": mask_ratio}
