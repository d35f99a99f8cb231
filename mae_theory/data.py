"""Real and synthetic images as normalised float32 tensors, all available offline.

Every loader returns an :class:`ImageData`: images of shape ``(N, C, H, W)`` standardised per
channel, ``x = (raw - mean_c) / std_c``, where ``raw`` is the pixel value scaled to ``[0, 1]``
and ``mean_c``, ``std_c`` are stored alongside so that :meth:`ImageData.denormalize` can undo it.

The data sets: :func:`load_digits` (scikit-learn's 1,797 8x8 digits, inside its wheel),
:func:`synthetic_shapes` (rectangles, disks and crosses generated from a seed) and
Fashion-MNIST (70,000 28x28 images read from IDX files by :mod:`mae_theory.fashion_mnist`);
:func:`load_dataset` picks one by name.

Zero-padding (``pad_to``) happens in raw pixel space, before standardising, and the statistics
are those of the unpadded images: a padded border is true black and denormalises to 0.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checks import check_images, check_int, check_tensor, describe
from .runtime import SeedLike, make_generator

SHAPE_CLASSES = ("rectangle", "disk", "cross")


@dataclass(frozen=True, eq=False)
class ImageData:
    """A labelled image set, standardised per channel.

    Parameters
    ----------
    images : torch.Tensor, shape (N, C, H, W), float32
        ``(raw - mean) / std`` per channel, ``raw`` in [0, 1].
    labels : torch.Tensor, shape (N,), long
        Class indices into ``classes``.
    name : str
        Data set name, e.g. ``"digits"``.
    mean, std : tuple of float, length C
        Per-channel statistics of the raw pixels used to standardise.
    classes : tuple of str
        Class names; ``classes[labels[i]]`` names image ``i``.

    Examples
    --------
    >>> data = load_digits()
    >>> len(data), tuple(data.images.shape[1:]), data.classes[:3]
    (1797, (1, 8, 8), ('0', '1', '2'))
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        x, y = self.images, self.labels
        check_images("images", x, dtype=torch.float32)
        for field in ("mean", "std"):
            vals = getattr(self, field)
            if (not isinstance(vals, tuple)
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals)):
                raise TypeError(f"{field} must be a tuple of finite floats, one per channel; "
                                f"got {describe(vals)}.")
        c = len(self.mean)
        if not isinstance(y, torch.Tensor) or y.dtype != torch.long or y.shape != x.shape[:1]:
            raise ValueError(f"labels must be a long tensor of shape (N,) = ({x.shape[0]},); got "
                             f"{describe(y)}. Convert with torch.as_tensor(y, dtype=torch.long).")
        if c != x.shape[1] or len(self.std) != c or min(self.std) <= 0:
            raise ValueError(f"mean and std need one entry per channel (C = {x.shape[1]}), std > 0;"
                             f" got mean={self.mean}, std={self.std}.")
        if int(y.min()) < 0 or int(y.max()) >= len(self.classes):
            raise ValueError(f"labels must lie in 0..{len(self.classes) - 1} (one per class "
                             f"name); got range {int(y.min())}..{int(y.max())}.")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map standardised images ``x``, shape (N, C, H, W) or (C, H, W), back to [0, 1].

        ``raw = x * std + mean`` per channel, clipped to [0, 1] (a model's reconstruction may
        overshoot); the shape is kept.

        Examples
        --------
        >>> data = load_digits()
        >>> raw = data.denormalize(data.images[:5])
        >>> float(raw.min()) >= 0.0 and float(raw.max()) <= 1.0
        True
        """
        c = len(self.mean)
        check_tensor("x", x, ndim=(3, 4), finite=False, shape_hint=f"(N, {c}, H, W)")
        if x.shape[-3] != c:
            raise ValueError(f"x must be a tensor of shape (N, {c}, H, W) or ({c}, H, W); "
                             f"got {describe(x)}.")
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(c, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(c, 1, 1)
        return (x * std + mean).clamp(0.0, 1.0)

    def split(self, n_test: int | float, *, seed: SeedLike = None) -> tuple[ImageData, ImageData]:
        """Random train/test split; both parts keep this set's ``mean`` and ``std``.

        Parameters
        ----------
        n_test : int or float
            Number of test images (int, 1 <= n_test < N) or their fraction (float in (0, 1),
            rounded down, at least one image).
        seed : SeedLike
            Seeds the permutation.

        Returns
        -------
        train, test : ImageData

        Examples
        --------
        >>> train, test = load_digits().split(0.25, seed=0)
        >>> len(train), len(test)
        (1348, 449)
        """
        n = len(self)
        if isinstance(n_test, bool) or not isinstance(n_test, (int, float)):
            raise TypeError(f"n_test must be an int count or a float fraction; got "
                            f"{describe(n_test)}.")
        if isinstance(n_test, float):
            if not 0.0 < n_test < 1.0:
                raise ValueError(f"n_test as a fraction must lie in (0, 1); got {n_test}. "
                                 "Pass an int for a count of test images.")
            n_test = max(1, math.floor(n_test * n + 1e-9))
        if not 1 <= n_test < n:
            raise ValueError(f"n_test must leave both parts non-empty: 1 <= n_test < N = {n}; "
                             f"got {n_test}.")
        perm = torch.randperm(n, generator=make_generator(seed)).to(self.images.device)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
        return (dataclasses.replace(self, images=self.images[train_idx],
                                    labels=self.labels[train_idx]),
                dataclasses.replace(self, images=self.images[test_idx],
                                    labels=self.labels[test_idx]))


def _pad(raw: torch.Tensor, pad_to: int, native: int) -> torch.Tensor:
    """Zero-pad (N, C, s, s) images symmetrically to ``pad_to`` pixels per side."""
    pad_to = check_int("pad_to", pad_to, low=native,
                       fix=f"Use pad_to={native} (the native size) for no padding.")
    before = (pad_to - native) // 2
    after = pad_to - native - before
    return F.pad(raw, (before, after, before, after)) if pad_to > native else raw


def _standardise(raw, labels, name, mean, std, classes) -> ImageData:
    c = raw.shape[1]
    m = torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1)
    return ImageData(((raw - m) / s).contiguous(), labels, name,
                     tuple(float(v) for v in mean), tuple(float(v) for v in std), classes)


def _stats(raw: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of (N, C, H, W) raw pixels, in float64."""
    x = raw.transpose(0, 1).reshape(raw.shape[1], -1).double()
    return tuple(x.mean(dim=1).tolist()), tuple(x.std(dim=1, correction=0).tolist())


def load_digits(*, pad_to: int = 8) -> ImageData:
    """scikit-learn's handwritten digits: 1,797 images of 8x8 pixels, 10 classes.

    Raw values 0..16 are scaled to [0, 1], then standardised with the set's own mean and std.

    Parameters
    ----------
    pad_to : int, default 8
        Zero-pad symmetrically to ``pad_to x pad_to`` pixels (>= 8), e.g. 16 for patch size 4.

    Returns
    -------
    ImageData
        ``images`` of shape (1797, 1, pad_to, pad_to), labels 0..9.

    Examples
    --------
    >>> load_digits(pad_to=16).images.shape
    torch.Size([1797, 1, 16, 16])
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    raw = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    mean, std = _stats(raw)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return _standardise(_pad(raw, pad_to, 8), labels, "digits", mean, std,
                        tuple(str(d) for d in range(10)))


def synthetic_shapes(n: int, *, img_size: int = 16, seed: SeedLike = None) -> ImageData:
    """Labelled synthetic images: one rectangle, disk or cross on a smooth background.

    Each image draws a class (balanced over the set), a centre, a size (half-width between 3/16
    and 5/16 of the image side) and an intensity in [0.6, 1]; the background is a bilinear
    upsampling of a random 3x3 grid with values in [0, 0.4]. Standardised with the set's own
    statistics.

    Parameters
    ----------
    n : int
        Number of images ``N`` (>= 1).
    img_size : int, default 16
        Side of the square images (>= 8).
    seed : SeedLike
        The same seed gives bit-identical images.

    Returns
    -------
    ImageData
        One channel, ``classes = ("rectangle", "disk", "cross")``.

    Examples
    --------
    >>> a, b = synthetic_shapes(6, seed=0), synthetic_shapes(6, seed=0)
    >>> a.images.shape, torch.equal(a.images, b.images), a.classes
    (torch.Size([6, 1, 16, 16]), True, ('rectangle', 'disk', 'cross'))
    """
    n = check_int("n", n, low=1, symbol="N", fix="Ask for at least one image.")
    img_size = check_int("img_size", img_size, low=8, symbol="H = W",
                         fix="Shapes need room: use img_size >= 8.")
    gen, s = make_generator(seed), float(img_size)
    labels = (torch.arange(n) % len(SHAPE_CLASSES))[torch.randperm(n, generator=gen)]
    u = torch.rand(n, 5, generator=gen)
    half_a = s * (3 + 2 * u[:, 0]) / 16             # half-width (or radius)
    half_b = s * (3 + 2 * u[:, 1]) / 16             # second half-width for rectangles
    reach = torch.maximum(half_a, half_b)
    cy = reach + u[:, 2] * (s - 2 * reach)
    cx = reach + u[:, 3] * (s - 2 * reach)
    level = 0.6 + 0.4 * u[:, 4]
    grid = F.interpolate(0.4 * torch.rand(n, 1, 3, 3, generator=gen), size=(img_size, img_size),
                         mode="bilinear", align_corners=True)
    coords = torch.arange(img_size, dtype=torch.float32) + 0.5
    dy = (coords.view(1, -1, 1) - cy.view(-1, 1, 1)).abs()
    dx = (coords.view(1, 1, -1) - cx.view(-1, 1, 1)).abs()
    a, b = half_a.view(-1, 1, 1), half_b.view(-1, 1, 1)
    rect = (dy <= b) & (dx <= a)
    disk = dy**2 + dx**2 <= a**2
    bar = torch.clamp(a / 3, min=0.75)
    cross = ((dy <= bar) & (dx <= a)) | ((dx <= bar) & (dy <= a))
    shape = torch.stack([rect, disk, cross], dim=1)[torch.arange(n), labels].unsqueeze(1)
    raw = torch.where(shape, level.view(-1, 1, 1, 1), grid)
    mean, std = _stats(raw)
    return _standardise(raw, labels, "synthetic_shapes", mean, std, SHAPE_CLASSES)


def _load_fashion_mnist(**kw) -> ImageData:
    from .fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(**kw)


_LOADERS = {"digits": load_digits, "fashion_mnist": _load_fashion_mnist,
            "synthetic_shapes": synthetic_shapes}


def load_dataset(name: str, **kw) -> ImageData:
    """Load a data set by name: ``"digits"``, ``"fashion_mnist"`` or ``"synthetic_shapes"``.

    Parameters
    ----------
    name : str
        Data set name; ``"fashion-mnist"`` is accepted for ``"fashion_mnist"``.
    **kw
        Passed to the loader (e.g. ``pad_to=16``, or ``n=100, seed=0`` for synthetic shapes).

    Examples
    --------
    >>> load_dataset("synthetic_shapes", n=4, img_size=8, seed=1).images.shape
    torch.Size([4, 1, 8, 8])
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name (str); got {describe(name)}. Known "
                        f"names: {', '.join(sorted(_LOADERS))}.")
    key = name.replace("-", "_").lower()
    if key not in _LOADERS:
        raise ValueError(f"unknown data set name {name!r}; known names: "
                         f"{', '.join(sorted(_LOADERS))}.")
    return _LOADERS[key](**kw)


def __getattr__(name):
    # the Fashion-MNIST reader moved to mae_theory.fashion_mnist; keep data.load_fashion_mnist
    # (and its constants) working without importing it eagerly (it imports this module)
    from . import fashion_mnist

    if name in fashion_mnist.__all__:
        return getattr(fashion_mnist, name)
    raise AttributeError(f"module 'mae_theory.data' has no attribute {name!r}")
