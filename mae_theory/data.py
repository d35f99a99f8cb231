"""Real and synthetic images as normalised float32 tensors, all available offline.

Every loader returns an :class:`ImageData`: images of shape ``(N, C, H, W)`` standardised per
channel, ``x = (raw - mean_c) / std_c``, where ``raw`` is the pixel value scaled to ``[0, 1]``
and ``mean_c``, ``std_c`` are stored alongside so that :meth:`ImageData.denormalize` can undo it.

The data sets: :func:`load_digits` (scikit-learn's 1,797 8x8 digits, inside its wheel),
:func:`load_fashion_mnist` (70,000 28x28 images from four IDX files, which
``apt-get install dataset-fashion-mnist`` puts in ``/usr/share/datasets/fashion-mnist/``) and
:func:`synthetic_shapes` (rectangles, disks and crosses generated from a seed).

Zero-padding (``pad_to``) happens in raw pixel space, before standardising, and the statistics
are those of the unpadded images: a padded border is true black and denormalises to 0.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .runtime import SeedLike, make_generator

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
"""Train-split statistics of Fashion-MNIST in [0, 1], used when the train images are absent."""
FASHION_MNIST_SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
"""Where Debian's ``dataset-fashion-mnist`` package installs the four ``*-ubyte.gz`` files."""
SHAPE_CLASSES = ("rectangle", "disk", "cross")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _describe(t) -> str:
    return f"{t.dtype} of shape {tuple(t.shape)}" if torch.is_tensor(t) else type(t).__name__


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
        x, y, c = self.images, self.labels, len(self.mean)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.dtype != torch.float32:
            raise ValueError(f"images must be a float32 tensor of shape (N, C, H, W); got "
                             f"{_describe(x)}. Convert with torch.as_tensor(x).float().")
        if x.shape[0] < 1:
            raise ValueError(f"images is empty (N = 0) in data set {self.name!r}; "
                             "an ImageData needs at least one image.")
        if not isinstance(y, torch.Tensor) or y.dtype != torch.long or y.shape != x.shape[:1]:
            raise ValueError(f"labels must be a long tensor of shape (N,) = ({x.shape[0]},); got "
                             f"{_describe(y)}. Convert with torch.as_tensor(y, dtype=torch.long).")
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
        if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4) or x.shape[-3] != c:
            raise ValueError(f"x must be a tensor of shape (N, {c}, H, W) or ({c}, H, W); "
                             f"got {_describe(x)}.")
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
            raise ValueError(f"n_test must be an int count or a float fraction; got {n_test!r}.")
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
    if isinstance(pad_to, bool) or not isinstance(pad_to, int) or pad_to < native:
        raise ValueError(f"pad_to must be an int >= the native image size {native}; got "
                         f"{pad_to!r}. Use pad_to={native} for no padding.")
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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed, into a numpy array.

    Layout: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions ``d``,
    then ``d`` big-endian uint32 sizes and the data in C order. A wrong magic number, or a file
    shorter or longer than its header says, raises a ``ValueError`` naming the file.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
    >>> _ = f.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(f).tolist()
    [7, 8, 9]
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            buf = fh.read()
    except (EOFError, OSError) as err:  # truncated or corrupt gzip stream
        raise ValueError(f"IDX file {path} could not be decompressed ({err}); the file is "
                         "truncated or corrupt. Download it again.") from err
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise ValueError(f"IDX file {path} has a wrong magic number {buf[:4].hex()!r}; expected "
                         "00 00 <type code> <ndim> (e.g. 00000803 for images). Is it an IDX "
                         "file?")
    ndim, dtype = buf[3], np.dtype(_IDX_DTYPES[buf[2]])
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(f"IDX file {path} is truncated inside its header ({len(buf)} bytes).")
    dims = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(buf) != expected:
        raise ValueError(f"IDX file {path} holds {len(buf)} bytes but its header {dims} needs "
                         f"{expected}; the file is truncated or corrupt. Download it again.")
    return np.frombuffer(buf, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _candidate_dirs(root) -> list[Path]:
    """Directories searched for the IDX files, in order."""
    bases = [Path(root)] if root is not None else []
    if os.environ.get("MAE_THEORY_DATA"):
        bases.append(Path(os.environ["MAE_THEORY_DATA"]))
    dirs = [d for b in bases for d in (b, b / "fashion-mnist", b / "FashionMNIST" / "raw")]
    return dirs + list(FASHION_MNIST_SYSTEM_DIRS)


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _locate(split: str, root, download: bool) -> tuple[Path, Path, Path]:
    """Find ``(images, labels, directory)`` for ``split``, downloading only if asked."""
    dirs = _candidate_dirs(root)
    for d in dirs:
        found = [_find(d, stem) for stem in _FILES[split]]
        if all(found):
            return found[0], found[1], d
    note = ""
    if download:
        try:
            from torchvision.datasets import FashionMNIST
        except ImportError:
            note = "\ndownload=True needs torchvision, which is not installed."
        else:
            target = Path(root or os.environ.get("MAE_THEORY_DATA")
                          or Path.home() / ".cache" / "mae_theory")
            FashionMNIST(str(target), train=split == "train", download=True)
            return _locate(split, target, download=False)
    tried = "\n".join(f"  {d}" for d in dirs)
    raise FileNotFoundError(
        f"Fashion-MNIST files {' + '.join(_FILES[split])} (optionally .gz) not found in:\n{tried}"
        f"{note}\nTo get them: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put "
        "the four IDX files in a folder and set MAE_THEORY_DATA to it (or pass root=), or call "
        "load_fashion_mnist(download=True) on a machine that is online and has torchvision.")


def _byte_stats(pixels: np.ndarray) -> tuple[float, float]:
    """Mean and std of uint8 pixels scaled to [0, 1], exactly, through a histogram."""
    counts = torch.from_numpy(pixels).reshape(-1).bincount(minlength=256).double().numpy()
    values = np.arange(256) / 255.0
    mean = float(counts @ values / counts.sum())
    return mean, float(np.sqrt(counts @ (values - mean) ** 2 / counts.sum()))


@functools.lru_cache(maxsize=4)
def _train_stats(path: str, mtime_ns: int, size: int) -> tuple[float, float]:
    """Train-split statistics, cached per file version (loading "test" needs them)."""
    return _byte_stats(_read_images(Path(path)))


def _read_images(path: Path) -> np.ndarray:
    images = read_idx(path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"IDX file {path} should hold uint8 images (N, H, W); got "
                         f"{images.dtype} of shape {images.shape}. Is it a labels file?")
    if images.shape[0] == 0:
        raise ValueError(f"IDX file {path} is empty (0 images); replace it with the full file.")
    return images


def load_fashion_mnist(split: str = "train", *, root: str | os.PathLike | None = None,
                       download: bool = False, pad_to: int = 28) -> ImageData:
    """Fashion-MNIST: 60,000 train / 10,000 test 28x28 grayscale images, 10 classes.

    Search order for the four IDX files (plain or ``.gz``): ``root``; ``$MAE_THEORY_DATA``
    (and its ``fashion-mnist/`` and ``FashionMNIST/raw/`` subfolders);
    ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``); then, only
    with ``download=True``, torchvision's downloader. Both splits are standardised with the
    train split's statistics (computed when the train images are present, else 0.2860/0.3530).

    Parameters
    ----------
    split : {"train", "test"}
    root : str or path-like, optional
        A folder holding the IDX files (searched first).
    download : bool, default False
        Download through torchvision when nothing is found (needs the network).
    pad_to : int, default 28
        Zero-pad symmetrically to ``pad_to`` pixels per side (>= 28); 32 suits patch 4 or 8.

    Returns
    -------
    ImageData

    Raises
    ------
    FileNotFoundError
        If the files are nowhere to be found; the message lists the folders tried.

    Examples
    --------
    >>> try:
    ...     data = load_fashion_mnist("test")
    ... except FileNotFoundError as err:
    ...     print("dataset-fashion-mnist" in str(err))
    ... else:
    ...     print(data.images.shape[1:] == (1, 28, 28))
    True
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    img_path, lbl_path, directory = _locate(split, root, download)
    images, labels = _read_images(img_path), read_idx(lbl_path)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels file {lbl_path} has shape {labels.shape} but the images file "
                         f"{img_path} holds {images.shape[0]} images; the pair does not match.")
    if split == "train":
        mean, std = _byte_stats(images)
    elif (train_path := _find(directory, _FILES["train"][0])) is not None:
        stat = train_path.stat()
        mean, std = _train_stats(str(train_path), stat.st_mtime_ns, stat.st_size)
    else:
        mean, std = FASHION_MNIST_MEAN, FASHION_MNIST_STD
    raw = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
    return _standardise(_pad(raw, pad_to, images.shape[1]),
                        torch.from_numpy(labels.astype(np.int64)), "fashion_mnist",
                        (mean,), (std,), FASHION_MNIST_CLASSES)


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
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (number of images N) must be an int >= 1; got {n!r}, which gives "
                         "an empty data set.")
    if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 8:
        raise ValueError(f"img_size must be an int >= 8 (shapes need room); got {img_size!r}.")
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


_LOADERS = {"digits": load_digits, "fashion_mnist": load_fashion_mnist,
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
    key = name.replace("-", "_").lower() if isinstance(name, str) else name
    if key not in _LOADERS:
        raise ValueError(f"unknown data set name {name!r}; known names: "
                         f"{', '.join(sorted(_LOADERS))}.")
    return _LOADERS[key](**kw)
