"""Checking gradients: central differences and a scale-free relative error.

Used by chapter 2's gradient check of backprop (:func:`dlcourse.mlp.gradient_check`) and by every later
chapter that checks a hand-written backward pass. Re-exported by :mod:`dlcourse.mlp`.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable

import numpy as np

from .validation import as_float_array, check_positive, check_same_shape


def _real_value(value: Any, i: int, shape: tuple[int, ...], sign: str) -> float:
    """The number f returned at x +- eps e_i: a finite real scalar (0-d arrays and tensors included)."""
    if not len(getattr(value, "shape", ())):
        number = value.item() if not isinstance(value, Real) and hasattr(value, "item") else value
        if isinstance(number, Real) and not isinstance(number, (bool, np.bool_)) and math.isfinite(number):
            return float(number)
    index = tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()
    got = f"an array of shape {tuple(value.shape)}" if len(getattr(value, "shape", ())) else repr(value)
    raise ValueError(f"f must return a finite real number; at x {sign} eps e_{index} it returned {got}")


def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central differences: g_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), one entry of x at a time.

    The error is O(eps^2) (forward differences have O(eps)). x: any shape and memory layout; returns a
    float64 array of the same shape. f receives a read-only float64 array (so it cannot change x
    behind the loop's back) and must return a finite real number; anything else raises ValueError.
    The division is by the step actually taken, (x_i + eps) - (x_i - eps): it is 2 eps up to rounding,
    but for |x_i| >> eps the rounding of x_i +- eps alone would otherwise bias g_i by up to 1 %.
    """
    if not callable(f):
        raise ValueError(f"f must be a function of x returning a number, got {type(f).__name__}")
    x = as_float_array(x, "x")  # a private C-contiguous copy: reshape(-1) below is a view, in any layout
    eps = check_positive(eps, "eps")
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    seen = x.view()
    seen.flags.writeable = False
    for i in range(flat.size):
        old = flat[i]
        flat[i] = up = old + eps
        f_plus = _real_value(f(seen), i, x.shape, "+")
        flat[i] = down = old - eps
        f_minus = _real_value(f(seen), i, x.shape, "-")
        flat[i] = old
        flat_grad[i] = (f_plus - f_minus) / (up - down)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a|, |b|), a scale-free distance between two gradients (0 when both are 0).

    a and b: finite arrays of one shape (a NaN is an error, never a match). Both are divided by the
    scale before subtracting, so the result neither overflows near 1e308 nor underflows near 1e-308.
    """
    a, b = as_float_array(a, "a", allow_empty=False), as_float_array(b, "b", allow_empty=False)
    check_same_shape(a, b, "a", "b")
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a / scale - b / scale))) if scale > 0 else 0.0
