"""Classification probes for real images (chapters 8-10).

The linear probe of MAE's protocol (BatchNorm without affine, then a linear layer) and its k-fold
cross-validated version, cosine k-NN accuracy, partial fine-tuning of the last blocks, and
reconstruction PSNR / SSIM.
"""


import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_float, check_images, check_int, check_tensor, describe
from ..runtime import DeviceLike, SeedLike, autocast, make_generator, resolve_device


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


def _check_split(train_feats, train_labels, test_feats, test_labels, *, images=False):
    """Validate a (train, test) pair of features (or images) and labels; returns labels and K.

    Features must be finite floating tensors ``(N, D)`` (images: ``(N, C, H, W)``), labels
    1-D integer tensors with one entry per row: a NaN feature would otherwise train a head
    that predicts one class and report chance accuracy as a result.
    """
    prefix = "images" if images else "feats"
    pairs = ((f"train_{prefix}", train_feats, "train_labels", train_labels),
             (f"test_{prefix}", test_feats, "test_labels", test_labels))
    for fname, feats, lname, labels in pairs:
        if images:
            check_images(fname, feats)
        else:
            check_tensor(fname, feats, ndim=2, symbol="z", shape_hint="(N, D)")
            if feats.shape[0] == 0 or feats.shape[1] == 0:
                raise ValueError(f"{fname} (z) must hold at least one row and one feature; got "
                                 f"{describe(feats)}.")
        check_tensor(lname, labels, ndim=1, floating=False, shape_hint="(N,)")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"{lname} must be a 1-D integer tensor of class indices; got "
                            f"{describe(labels)}. Convert it with labels.long().")
        if labels.shape[0] != feats.shape[0]:
            raise ValueError(f"{lname} must be a 1-D integer tensor with one label per row of "
                             f"{fname} ({feats.shape[0]}); got {describe(labels)}.")
    if train_feats.shape[1:] != test_feats.shape[1:]:
        raise ValueError(f"train_{prefix} and test_{prefix} must share their feature shape; got "
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


def _check_schedule(epochs, lr, batch_size) -> tuple[int, float, int]:
    return (check_int("epochs", epochs, low=1),
            check_float("lr", lr, low=0.0, low_open=True, symbol="peak learning rate"),
            check_int("batch_size", batch_size, low=2,
                      fix="BatchNorm needs at least 2 samples per batch."))


def _fit(forward, params, feats, labels, *, epochs, lr, batch_size, gen, dev, sgd) -> list:
    """Mini-batch training with a half-cycle cosine learning rate; mean loss per epoch."""
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
                 device: DeviceLike = None) -> ProbeResult:
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
    epochs, lr, batch_size = _check_schedule(epochs, lr, batch_size)
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


def cross_validated_probe(feats: torch.Tensor, labels: torch.Tensor, *, folds: int = 5,
                          epochs: int = 50, lr: float = 0.1, batch_size: int = 256,
                          seed: SeedLike = 0, device: DeviceLike = None) -> ProbeResult:
    """:func:`linear_probe` accuracy over ``folds``-fold cross-validation: every row is tested once.

    The rows are shuffled with ``seed`` and dealt into ``folds`` folds; each fold is scored by a
    probe trained on the others. With ``N`` rows the accuracy's binomial standard error is about
    :math:`\\sqrt{a(1-a)/N}` instead of :math:`\\sqrt{a(1-a)/N_{test}}` for one split (chapter 8
    probes all 1,797 digits rather than the 300 held out). The same ``seed`` gives the same folds
    and probe initialisations, so two feature sets probed with one seed are paired.

    Parameters
    ----------
    feats : torch.Tensor, shape (N, D)
    labels : torch.Tensor, shape (N,), integer
    folds : int, keyword-only
        Number of folds (>= 2, <= N).
    epochs, lr, batch_size, seed, device
        As in :func:`linear_probe`.

    Returns
    -------
    ProbeResult
        ``accuracy``: correct predictions over all ``N`` rows; ``train_accuracy`` and
        ``losses``: means over the folds.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(120) % 3
    >>> z = torch.randn(120, 4, generator=g) + 3.0 * torch.nn.functional.one_hot(y, 4)
    >>> cross_validated_probe(z, y, folds=4, epochs=20, device="cpu").accuracy > 0.9
    True
    """
    _check_split(feats, labels, feats, labels)
    n = feats.shape[0]
    folds = check_int("folds", folds, low=2, high=n, fix="Use 5 or 10 folds.")
    order = torch.randperm(n, generator=make_generator(seed))
    correct, train_acc, losses = 0.0, [], []
    for k in range(folds):
        test = order[k::folds]
        keep = torch.ones(n, dtype=torch.bool)
        keep[test] = False
        res = linear_probe(feats[keep], labels[keep], feats[test], labels[test], epochs=epochs,
                           lr=lr, batch_size=batch_size, seed=seed, device=device)
        correct += res.accuracy * test.numel()
        train_acc.append(res.train_accuracy)
        losses.append(res.losses)
    mean_losses = tuple(float(sum(col) / folds) for col in zip(*losses))
    return ProbeResult(accuracy=correct / n, train_accuracy=sum(train_acc) / folds,
                       losses=mean_losses, n_classes=int(labels.max()) + 1)


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
    k = check_int("k", k, low=1, high=train_feats.shape[0], symbol="neighbours",
                  fix="k counts training features (N of them).")
    temperature = check_float("temperature", temperature, low=0.0, low_open=True, symbol="tau")
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


def _check_mae(model) -> None:
    need = ("blocks", "norm", "embed_dim", "in_chans", "img_size", "reconstruct")
    if not all(hasattr(model, a) for a in need):
        raise TypeError(f"model must be an MAE (mae_theory.models); got {describe(model)}.")


@torch.no_grad()
def _tokens_before(model, images: torch.Tensor, n_frozen: int, dev, batch_size: int = 512):
    """Tokens entering encoder block ``n_frozen`` (cls first), for unmasked images."""
    out = []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size].to(dev)
        with autocast(dev):
            t = model.run_blocks(model.blocks[:n_frozen], model.embed_visible(x, None))
        out.append(t.to(torch.bfloat16 if dev.type == "cuda" else torch.float32))
    return torch.cat(out)


def partial_finetune(model, train_images: torch.Tensor, train_labels: torch.Tensor,
                     test_images: torch.Tensor, test_labels: torch.Tensor, *, blocks: int = 1,
                     epochs: int = 10, lr: float = 3e-3, batch_size: int = 128,
                     seed: SeedLike = 0, device: DeviceLike = None) -> ProbeResult:
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
    _check_mae(model)
    ytr, yte, k = _check_split(train_images, train_labels, test_images, test_labels,
                               images=True)
    check_images("train_images", train_images, channels=model.in_chans, size=model.img_size)
    epochs, lr, batch_size = _check_schedule(epochs, lr, batch_size)
    depth = len(model.blocks)
    blocks = check_int("blocks", blocks, low=1, high=depth,
                       symbol="trailing encoder blocks to tune")
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
def reconstruction_quality(model, data, mask_ratio: float = 0.75, *, paste: bool = True,
                           seed: SeedLike = 0, batch_size: int = 512,
                           device: DeviceLike = None) -> dict:
    """PSNR and SSIM of MAE reconstructions in pixel units.

    Each image is masked at ratio ``r``, reconstructed (:meth:`MAE.reconstruct`: visible
    patches pasted back, masked ones predicted), mapped back to [0, 1] pixels with
    ``data.denormalize`` and compared with the original by :func:`mae_theory.metrics.psnr` and
    :func:`mae_theory.metrics.ssim` (data range 1). With ``paste=False`` every patch is the
    decoder's prediction; at ``r = 0`` that scores the *unmasked* reconstruction (the encoder
    sees the whole image), which is defined for every model although none is trained on it.
    A ``norm_pix_loss`` model predicts normalised patches: they are mapped back with each true
    patch's mean and variance, as He et al. do to show them, so the score measures the
    patch's structure, not its brightness.

    Parameters
    ----------
    model : MAE
    data : ImageData
        Images and the statistics that undo their standardisation.
    mask_ratio : float, default 0.75
        ``r`` at test time (use one value for all models to compare them on one yardstick).
    paste : bool, default True
        Paste the visible patches back (``False``: score the decoder's output everywhere).
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
    from ..data import ImageData
    from ..image_quality import psnr, ssim

    _check_mae(model)
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be an ImageData (it carries the statistics that map images "
                        f"back to pixels); got {describe(data)}.")
    check_images("data.images", data.images, channels=model.in_chans, size=model.img_size)
    mask_ratio = check_float("mask_ratio", mask_ratio, low=0.0, high=1.0, high_open=True,
                             symbol="r")
    batch_size = check_int("batch_size", batch_size)
    if not isinstance(paste, bool):
        raise TypeError(f"paste must be True or False; got {paste!r}.")
    dev = resolve_device(device)
    model = model.to(dev).eval()
    gen = make_generator(seed)
    totals = {"psnr": 0.0, "ssim": 0.0}
    n = data.images.shape[0]
    for i in range(0, n, batch_size):
        x = data.images[i:i + batch_size].to(dev)
        with autocast(dev):
            recon, _ = model.reconstruct(x, mask_ratio, seed=gen, paste=paste)
        pred = data.denormalize(recon.float()).clamp(0, 1)
        true = data.denormalize(x).clamp(0, 1)
        totals["psnr"] += float(psnr(pred, true, data_range=1.0).sum())
        totals["ssim"] += float(ssim(pred, true, data_range=1.0).sum())
    return {"psnr": totals["psnr"] / n, "ssim": totals["ssim"] / n, "mask_ratio": mask_ratio}
