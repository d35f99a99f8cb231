"""Checks at the public boundary: bad input is refused with a message that says what to do.

Every public function and class of :mod:`mae_theory` validates its arguments with these helpers
before any tensor work starts, so a user sees one ``ValueError`` or ``TypeError`` that names the
parameter (and its book symbol), what was expected, what was received and how to fix it, instead
of a traceback from deep inside torch. The message shape is always::

    <name> (<symbol>) must be <expected>; got <received>. <fix>

Checks that would read values back from a GPU (finiteness) are meant for the entry of a call, not
the inside of a hot loop.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["as_float_array", "check_float", "check_images", "check_int", "check_tensor", "describe"]


def describe(value) -> str:
    """A short description of ``value`` for an error message: type, and shape/dtype if any."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__module__}.{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def _label(name: str, symbol: str | None) -> str:
    return f"{name} ({symbol})" if symbol else name


def _fail(kind: type[Exception], name: str, symbol: str | None, expected: str, got: str,
          fix: str | None) -> Exception:
    tail = f" {fix}" if fix else ""
    return kind(f"{_label(name, symbol)} must be {expected}; got {got}.{tail}")


def as_float_array(name: str, value, expected: str, *, symbol: str | None = None):
    """``value`` (numbers, a sequence, an array or a tensor) as a float numpy array, or raise.

    Only the conversion is checked here; rank, range and finiteness are the caller's to check.

    Raises
    ------
    TypeError
        ``<name> (<symbol>) must be <expected>; got <received>.`` when numpy cannot read the
        value as floats.

    Examples
    --------
    >>> as_float_array("cov", torch.eye(2), "a square matrix").dtype
    dtype('float64')
    >>> as_float_array("cov", "abc", "a square matrix")
    Traceback (most recent call last):
    ...
    TypeError: cov must be a square matrix; got 'abc'.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(TypeError, name, symbol, expected, describe(value), None) from None


def check_int(name: str, value, *, low: int | None = 1, high: int | None = None,
              symbol: str | None = None, fix: str | None = None) -> int:
    """Return ``value`` as an ``int`` in ``[low, high]``, or raise.

    Raises
    ------
    TypeError
        For anything that is not an integer (``bool`` and ``3.0`` included).
    ValueError
        For an integer outside the range.

    Examples
    --------
    >>> check_int("depth", 4)
    4
    >>> check_int("img_size", 0, symbol="H")
    Traceback (most recent call last):
    ...
    ValueError: img_size (H) must be an integer >= 1; got 0.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(TypeError, name, symbol, "an integer", describe(value),
                    fix or f"Pass a Python int, e.g. {name}={low if low is not None else 1}.")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            expected = f"an integer >= {low}"
        elif low is None:
            expected = f"an integer <= {high}"
        else:
            expected = f"an integer in [{low}, {high}]"
        raise _fail(ValueError, name, symbol, expected, repr(value), fix)
    return value


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, symbol: str | None = None,
                fix: str | None = None) -> float:
    """Return ``value`` as a finite ``float`` inside the stated interval, or raise.

    ``low_open``/``high_open`` exclude the end points.

    Examples
    --------
    >>> check_float("mask_ratio", 0.75, low=0.0, high=1.0, high_open=True, symbol="r")
    0.75
    >>> check_float("lr", float("inf"), low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number in (0.0, inf); got inf.
    """
    lo = "(" if low_open else "["
    hi = ")" if high_open or high is None else "]"
    left = "-inf" if low is None else low
    right = "inf" if high is None else high
    interval = f"{lo}{left}, {right}{hi}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(TypeError, name, symbol, f"a number in {interval}", describe(value), fix)
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise _fail(ValueError, name, symbol, f"a finite number in {interval}", repr(value), fix)
    return value


def check_tensor(name: str, value, *, ndim: int | tuple[int, ...] | None = None,
                 floating: bool = True, finite: bool = True, symbol: str | None = None,
                 shape_hint: str | None = None) -> torch.Tensor:
    """Return ``value`` if it is a torch tensor of the right rank, dtype class and finiteness.

    Parameters
    ----------
    name, symbol : str
        The parameter's name and book symbol, for the message.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    floating : bool
        Require a floating dtype (float16/bfloat16/float32/float64).
    finite : bool
        Refuse NaN and infinity (reads the tensor: call once at entry, not per step on a GPU).
    shape_hint : str, optional
        The expected shape in words, e.g. ``"(N, C, H, W)"``.

    Examples
    --------
    >>> check_tensor("feats", torch.zeros(3, 2), ndim=2).shape
    torch.Size([3, 2])
    >>> check_tensor("feats", torch.tensor([[float("nan")]]), ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: feats must be finite (no NaN or inf); got 1 non-finite value(s). ...
    """
    shape_txt = f" of shape {shape_hint}" if shape_hint else ""
    if not isinstance(value, torch.Tensor):
        fix = ("Convert it with torch.as_tensor(x, dtype=torch.float32)."
               if hasattr(value, "shape") or isinstance(value, (list, tuple)) else None)
        raise _fail(TypeError, name, symbol, f"a torch.Tensor{shape_txt}", describe(value), fix)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise _fail(ValueError, name, symbol, f"a {want} tensor{shape_txt}", describe(value),
                        None)
    if floating and not value.is_floating_point():
        raise _fail(TypeError, name, symbol, f"a floating-point tensor{shape_txt}",
                    describe(value), "Convert it with x.float() (scale uint8 pixels to [0, 1] "
                    "and standardise first).")
    if finite and value.numel() and value.is_floating_point():
        n_bad = int((~torch.isfinite(value)).sum())
        if n_bad:
            raise _fail(ValueError, name, symbol, "finite (no NaN or inf)",
                        f"{n_bad} non-finite value(s)", "Drop or repair those entries first.")
    return value


def check_images(name: str, value, *, channels: int | None = None,
                 size: tuple[int, int] | None = None, dtype: torch.dtype | None = None,
                 finite: bool = True) -> torch.Tensor:
    """Check a batch of images ``(N, C, H, W)``: a finite floating tensor of the right size.

    Parameters
    ----------
    channels : int, optional
        Required ``C``.
    size : (int, int), optional
        Required ``(H, W)``.
    dtype : torch.dtype, optional
        Required dtype exactly (a model's weights are float32; a float64 batch is refused with
        the fix rather than silently upcasting the model).

    Examples
    --------
    >>> check_images("imgs", torch.zeros(2, 1, 8, 8), channels=1, size=(8, 8)).shape
    torch.Size([2, 1, 8, 8])
    >>> check_images("imgs", torch.zeros(2, 3, 8, 8), channels=1)
    Traceback (most recent call last):
    ...
    ValueError: imgs must be images with C = 1 channel(s); got a torch.float32 tensor ...
    """
    check_tensor(name, value, ndim=4, finite=False, shape_hint="(N, C, H, W)")
    if value.shape[0] == 0:
        raise _fail(ValueError, name, None, "a non-empty batch (N >= 1)", describe(value),
                    "Load or generate some images.")
    if channels is not None and value.shape[1] != channels:
        raise _fail(ValueError, name, None, f"images with C = {channels} channel(s)",
                    describe(value),
                    f"Build the model with in_chans={value.shape[1]} or convert the images.")
    if size is not None and tuple(value.shape[-2:]) != tuple(size):
        raise _fail(ValueError, name, None, f"images of H x W = {size[0]} x {size[1]}",
                    describe(value), "Resize or crop the images, or build the model with "
                    f"img_size={tuple(value.shape[-2:])}.")
    if dtype is not None and value.dtype != dtype:
        raise _fail(TypeError, name, None, f"a {dtype} tensor", describe(value),
                    f"Convert it with x.to({dtype}).")
    if finite:
        check_tensor(name, value, finite=True)
    return value
