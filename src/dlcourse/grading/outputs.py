"""Turn what an exercise function returned into plain arrays, and compare them with the expected ones.

This module is imported on both sides of the grader: inside the sandbox (to convert the student's
return value into data) and outside it (to validate that data and score it). It depends on NumPy only.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

_ALLOWED_KINDS = "biuf"  # bool, signed int, unsigned int, float
MAX_ELEMENTS = 10_000_000


class OutputError(ValueError):
    """The returned value cannot be read as the expected arrays; the message is student-facing."""


def _to_array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (bool, int, float, np.generic)) or (
        isinstance(value, (list, tuple)) and len(value) < MAX_ELEMENTS
    ):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as err:
            raise OutputError(f"{name}: could not turn the returned value into a number array ({err})") from None
    else:
        raise OutputError(
            f"{name}: expected a number or a NumPy array, got an object of type {type(value).__name__}"
        )
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise OutputError(
            f"{name}: expected numbers (bool, int or float), got an array of dtype {array.dtype}"
        )
    if array.size > MAX_ELEMENTS:
        raise OutputError(f"{name}: the returned array has {array.size} elements, far more than expected")
    return np.array(array, copy=True)


def normalize_output(value: Any, output_names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Return the function's result as one array per name in ``output_names``.

    A single-output exercise accepts a bare value; a multi-output one expects a tuple (or list)
    with one entry per output, in order.
    """
    if len(output_names) == 1:
        return (_to_array(value, output_names[0]),)
    if not isinstance(value, (tuple, list)):
        raise OutputError(
            f"expected a tuple of {len(output_names)} values ({', '.join(output_names)}), "
            f"got a single {type(value).__name__}"
        )
    if len(value) != len(output_names):
        raise OutputError(
            f"expected a tuple of {len(output_names)} values ({', '.join(output_names)}), "
            f"got {len(value)} values"
        )
    return tuple(_to_array(item, name) for item, name in zip(value, output_names))


def validate_received(arrays: Sequence[Any], output_names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Check data that crossed back from the sandbox: count, type, dtype and size."""
    if not isinstance(arrays, (tuple, list)) or len(arrays) != len(output_names):
        raise OutputError(f"expected {len(output_names)} outputs ({', '.join(output_names)})")
    checked = []
    for array, name in zip(arrays, output_names):
        if type(array) is not np.ndarray:
            raise OutputError(f"{name}: not an array")
        if array.dtype.kind not in _ALLOWED_KINDS or array.dtype.hasobject:
            raise OutputError(f"{name}: expected numbers, got dtype {array.dtype}")
        if array.size > MAX_ELEMENTS:
            raise OutputError(f"{name}: far more elements than expected")
        checked.append(np.array(array, copy=True))
    return tuple(checked)


def _short(array: np.ndarray) -> str:
    text = np.array2string(np.asarray(array), precision=6, suppress_small=True, threshold=20, edgeitems=3)
    return text.replace("\n", " ")


def _shape_hint(expected: np.ndarray, received: np.ndarray) -> str:
    if received.size == expected.size:
        if received.ndim == 2 and received.T.shape == expected.shape:
            return " It looks transposed."
        return " Same number of elements: check how you reshape, flatten or squeeze."
    if received.ndim > expected.ndim:
        return " You have extra dimensions: did you forget to sum or index over an axis?"
    return " Check which axis you reduce over."


def _value_hint(expected: np.ndarray, received: np.ndarray, rtol: float, atol: float, reveal: bool = True) -> str:
    if np.allclose(received, -expected, rtol=rtol, atol=atol) and np.any(np.abs(expected) > atol):
        return " It is the negative of the expected value: check the sign."
    if expected.dtype.kind in "biu" and np.allclose(np.abs(received - expected), 1):
        return " Off by one: check where you start counting."
    flat_e, flat_r = expected.astype(float).ravel(), received.astype(float).ravel()
    mask = np.abs(flat_e) > 1e-12
    if mask.sum() >= 2:  # one number is always "off by a factor": say so only when several agree
        ratios = flat_r[mask] / flat_e[mask]
        if np.allclose(ratios, ratios[0], rtol=1e-6) and not np.isclose(ratios[0], 1.0):
            factor = f" ({ratios[0]:.4g})" if reveal else ""  # the factor would give hidden values away
            return f" Off by a constant factor{factor}: check scaling, averaging or the learning rate."
    return ""


def compare_one(
    name: str, expected: np.ndarray, received: np.ndarray, rtol: float, atol: float, reveal: bool
) -> tuple[bool, str]:
    """Compare one output; return (ok, message). ``reveal=False`` keeps expected values out of the message."""
    if received.shape != expected.shape:
        msg = f"{name}: wrong shape: got {received.shape}, expected {expected.shape}."
        return False, msg + _shape_hint(expected, received)
    if received.dtype.kind == "f" and not np.all(np.isfinite(received)):
        return False, f"{name}: contains NaN or infinity; look for a division by zero, log(0) or overflow."
    if expected.dtype.kind == "b" or received.dtype.kind == "b":
        ok = bool(np.array_equal(received.astype(bool), expected.astype(bool))) and received.dtype.kind in "biu"
    else:
        ok = bool(np.allclose(received.astype(float), expected.astype(float), rtol=rtol, atol=atol))
    if ok:
        return True, f"{name}: correct."
    if received.size:
        err = float(np.max(np.abs(received.astype(float) - expected.astype(float))))
    else:
        err = 0.0
    if reveal:
        msg = f"{name}: wrong values (largest absolute error {err:.3g})."
        msg += f" Expected {_short(expected)}, received {_short(received)}."
    else:  # hidden case: how many entries are off, never by how much (that would give the answer away)
        close = np.isclose(received.astype(float), expected.astype(float), rtol=rtol, atol=atol)
        msg = f"{name}: wrong values ({int(close.size - close.sum())} of {close.size} entries are off)."
    return False, msg + _value_hint(expected, received, rtol, atol, reveal)


def compare_outputs(
    expected: Sequence[np.ndarray],
    received: Sequence[np.ndarray],
    output_names: Sequence[str],
    rtol: float,
    atol: float,
    reveal: bool,
) -> tuple[bool, list[str]]:
    """Compare every output; return (all correct, one message per output)."""
    results = [
        compare_one(name, np.asarray(e), np.asarray(r), rtol, atol, reveal)
        for name, e, r in zip(output_names, expected, received)
    ]
    return all(ok for ok, _ in results), [msg for _, msg in results]
