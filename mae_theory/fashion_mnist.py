"""Fashion-MNIST from IDX files, offline first (chapter 9).

:func:`read_idx` reads the MNIST file format (plain or gzip); :func:`load_fashion_mnist` finds
the four files (``root``, ``$MAE_THEORY_DATA``, then ``/usr/share/datasets/fashion-mnist/``,
where ``apt-get install dataset-fashion-mnist`` puts them; torchvision's downloader only when
asked) and returns an :class:`~mae_theory.data.ImageData` standardised with the train split's
statistics.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from pathlib import Path

import numpy as np
import torch

from .data import ImageData, _pad, _standardise

__all__ = ["FASHION_MNIST_CLASSES", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
           "FASHION_MNIST_SYSTEM_DIRS", "load_fashion_mnist", "read_idx"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
"""Train-split statistics of Fashion-MNIST in [0, 1], used when the train images are absent."""
FASHION_MNIST_SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
"""Where Debian's ``dataset-fashion-mnist`` package installs the four ``*-ubyte.gz`` files."""
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


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
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or path-like); got "
                        f"{type(path).__name__}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist (or is not a file); check the "
                                "path, or let load_fashion_mnist find the files.")
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
    if not isinstance(split, str) or split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False; got {download!r}.")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder (str or path) holding the IDX files; got "
                        f"{type(root).__name__}.")
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
