"""Shared checks for the public boundary of every ``dlcourse`` function.

Each validator either returns the value in a canonical form (a fresh, C-contiguous NumPy array of the
requested kind; a Python int or float) or raises :class:`ValueError` with a message that names the
argument, what was expected and what came. Inside the package, code trusts what these return.

Conventions, the same everywhere:

* Booleans are never numbers: ``True`` is refused where an integer or float is expected, and a bool
  array is refused where numbers are expected (ask for ``kind="bool"`` to accept one).
* Arrays come back C-contiguous and owned (never a view of the caller's array), so a function may
  write into them, and ``reshape(-1)`` is a view, whatever layout the caller passed.
* Float arrays are finite unless ``finite=False``: NaN and infinity are reported, never swallowed.
* A torch tensor is accepted wherever an array is (it is detached and copied to the CPU).
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Sequence

import numpy as np

# kind -> (accepted NumPy dtype kinds, dtype of the returned array or None to keep it, words for messages)
_KINDS = {
    "float": ("iuf", np.float64, "real numbers (int or float)"),
    "int": ("iu", np.int64, "integers"),
    "bool": ("b", None, "booleans"),
    "any": ("biuf", None, "numbers or booleans"),
}


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}" if np.ndim(value) == 0 else f"a {type(value).__name__}"


def _shape_text(shape: Sequence[int | str | None]) -> str:
    parts = ["N" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def as_array(
    value: Any,
    name: str,
    *,
    kind: str = "float",
    ndim: int | Iterable[int] | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
    allow_empty: bool = True,
) -> np.ndarray:
    """Return ``value`` as a fresh C-contiguous array of ``kind`` ('float', 'int', 'bool' or 'any').

    ``shape`` may hold ``None`` for a free axis; ``ndim`` may be one number or several allowed ones.
    Float inputs are converted to float64, integer inputs to int64 (for kind 'int'), and integral
    floats are *not* silently truncated: kind 'int' refuses 1.5 and accepts only integer dtypes.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    accepted, target, words = _KINDS[kind]
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        value = value.detach().cpu()  # a torch tensor, without importing torch here
        try:
            value = value.numpy()
        except TypeError:  # bfloat16 and other dtypes NumPy lacks: their values fit in float32
            value = value.float().numpy()
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        raise ValueError(f"{name} must be an array of {words}, got {_describe(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists and the like
        raise ValueError(f"{name} must be an array of {words}, got a value NumPy cannot read as one ({err})") from None
    if array.dtype.kind not in accepted or array.dtype.hasobject:
        raise ValueError(f"{name} must hold {words}, got dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            dims = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must be {dims}-dimensional, got shape {array.shape}")
    if shape is not None:
        if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
            raise ValueError(f"{name} must have shape {_shape_text(shape)}, got shape {array.shape}")
    if not allow_empty and array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    out = np.array(array, dtype=target if target is not None else array.dtype, order="C", copy=True)
    if finite and out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        bad = int(np.sum(~np.isfinite(out)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite entr{'y' if bad == 1 else 'ies'}")
    return out


def as_float_array(value: Any, name: str, **kwargs: Any) -> np.ndarray:
    """:func:`as_array` with ``kind='float'``: a finite float64 array."""
    return as_array(value, name, kind="float", **kwargs)


def as_int_array(value: Any, name: str, **kwargs: Any) -> np.ndarray:
    """:func:`as_array` with ``kind='int'``: an int64 array (bool and float arrays are refused)."""
    return as_array(value, name, kind="int", **kwargs)


def as_labels(value: Any, name: str, n_classes: int, n: int | None = None) -> np.ndarray:
    """Integer class labels of shape (N,) (or ``(n,)``) with every entry in ``0 .. n_classes - 1``."""
    labels = as_int_array(value, name, shape=(n,))
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} must hold class labels in 0..{n_classes - 1}, "
                         f"got values from {labels.min()} to {labels.max()}")
    return labels


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (never a bool or a float) within ``[minimum, maximum]``; returned as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {_describe(value)}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value}")
    return value


def check_positive_int(value: Any, name: str) -> int:
    """An integer >= 1 (a width, a count, a batch size, a number of epochs)."""
    return check_int(value, name, minimum=1)


def check_float(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
) -> float:
    """A finite real number (int or float, never a bool) in the given range; returned as a Python float."""
    bounds = _range_text(minimum, maximum, strict_minimum, strict_maximum)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a finite number{bounds}, got {_describe(value)}")
    value = float(value)
    too_low = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    too_high = maximum is not None and (value >= maximum if strict_maximum else value > maximum)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0 (a learning rate, a width sigma, a step eps)."""
    return check_float(value, name, minimum=0.0, strict_minimum=True)


def check_non_negative(value: Any, name: str) -> float:
    """A finite number >= 0."""
    return check_float(value, name, minimum=0.0)


def as_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` for a seed that is None, an integer >= 0 or a Generator (used as is)."""
    if seed is not None and not isinstance(seed, np.random.Generator):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, Integral) or seed < 0:
            raise ValueError(f"{name} must be None, an integer >= 0 or a np.random.Generator, got {seed!r}")
    return np.random.default_rng(seed)


def check_bool(value: Any, name: str) -> bool:
    """A real bool (not 0/1, not a string): a flag such as ``shuffle`` or ``progress``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """One of ``choices`` (compared with ==)."""
    options = list(choices)
    if isinstance(value, (list, dict, set, np.ndarray)) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Two arrays of exactly one shape: no broadcasting between things that must pair up entry by entry."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}")


def check_axes(ax: Any, name: str = "ax", allow_none: bool = True) -> Any:
    """A matplotlib ``Axes`` (or None, when allowed): where a figure function draws."""
    from matplotlib.axes import Axes

    if not (isinstance(ax, Axes) or (allow_none and ax is None)):
        expected = "None or a matplotlib Axes" if allow_none else "a matplotlib Axes"
        raise ValueError(f"{name} must be {expected}, got {type(ax).__name__}")
    return ax


def _range_text(minimum, maximum, strict_minimum: bool = False, strict_maximum: bool = False) -> str:
    low = None if minimum is None else f"{'>' if strict_minimum else '>='} {minimum}"
    high = None if maximum is None else f"{'<' if strict_maximum else '<='} {maximum}"
    parts = [p for p in (low, high) if p]
    return (" " + " and ".join(parts)) if parts else ""


__all__ = [
    "as_array", "as_float_array", "as_int_array", "as_labels", "as_rng", "check_axes", "check_bool", "check_choice", "check_float", "check_int",
    "check_non_negative", "check_positive", "check_positive_int", "check_same_shape",
]
