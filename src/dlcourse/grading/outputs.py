"""Turn what an exercise function returned into plain arrays, and compare them with the expected ones.

This module is imported on both sides of the grader: inside the sandbox (to convert the student's
return value into data) and outside it (to validate that data and score it). It depends on NumPy only.

Comparison is strict: the received value's kind (bool, integer, float, complex), shape and
finiteness must fit the expected value before any tolerance is applied. An integer may stand for a
float (4 for 4.0); a float never stands for an integer, a boolean never for a number (nor a number
for a boolean), complex only where complex is expected, NaN or infinity only where the expected
value has it. Integers and booleans must match exactly; floats within ``rtol`` and ``atol``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

_ALLOWED_KINDS = "biufc"  # bool, signed int, unsigned int, float, complex (refused later unless expected)
MAX_ELEMENTS = 10_000_000
KINDS = {"b": "bool", "i": "integer", "u": "integer", "f": "float", "c": "complex"}
_PLURAL = {"bool": "booleans (True/False)", "integer": "integers", "float": "floats", "complex": "complex numbers"}
_ADVICE = {
    ("float", "bool"): "a comparison such as `x > 0` gives booleans: return the numbers the task asks for",
    ("integer", "bool"): "a comparison gives booleans: return the count or index itself, an int",
    ("complex", "bool"): "a comparison gives booleans: return the numbers the task asks for",
    ("integer", "float"): "a count or an index is an int: return e.g. `int(n)`, not a float such as 4.0",
    ("bool", "integer"): "return the result of the comparison itself (True/False), not 0/1",
    ("bool", "float"): "return the result of the comparison itself (True/False)",
    ("float", "complex"): "a square root, log or power of a negative number made complex values",
    ("integer", "complex"): "a square root, log or power of a negative number made complex values",
}


class OutputError(ValueError):
    """The returned value cannot be read as the expected arrays; the message is student-facing."""


def kind_of(array: np.ndarray) -> str:
    """``"bool"``, ``"integer"``, ``"float"`` or ``"complex"`` (``"other"`` for anything else)."""
    return KINDS.get(np.asarray(array).dtype.kind, "other")


def _has_bool(value: Any) -> bool:
    """Whether a (nested) list or tuple holds a boolean anywhere: NumPy would silently make it 0 or 1."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_bool(item) for item in value)
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", None) == "b" or str(dtype) == "torch.bool"


def _to_array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        try:
            value = value.detach().cpu().numpy()
        except Exception as err:  # noqa: BLE001 - e.g. a bfloat16 tensor NumPy cannot hold
            raise OutputError(f"{name}: could not turn the returned tensor into a NumPy array ({err})") from None
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (bool, int, float, complex, np.generic)) or (
        isinstance(value, (list, tuple)) and len(value) < MAX_ELEMENTS
    ):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as err:
            raise OutputError(f"{name}: could not turn the returned value into a number array ({err})") from None
        if array.dtype.kind != "b" and isinstance(value, (list, tuple)) and _has_bool(value):
            raise OutputError(f"{name}: the returned list mixes booleans (True/False) with numbers; "
                              "return numbers only")
    else:
        raise OutputError(
            f"{name}: expected a number or a NumPy array, got an object of type {type(value).__name__}"
        )
    if array.dtype.kind not in _ALLOWED_KINDS or array.dtype.hasobject:
        raise OutputError(
            f"{name}: expected numbers (an int, a float or a NumPy array of them), got an array of dtype {array.dtype}"
        )
    if array.size > MAX_ELEMENTS:
        raise OutputError(f"{name}: the returned array has {array.size} elements, far more than expected")
    return np.array(array, copy=True)


def normalize_output(value: Any, output_names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Return the function's result as one array per name in ``output_names``.

    A single-output exercise accepts a bare value; a multi-output one expects a tuple (or list)
    with one entry per output, in order. Each array keeps the kind it came with (a ``True`` stays a
    boolean), so that :func:`compare_one` can refuse the wrong kind.
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


def kind_problem(name: str, expected: np.ndarray, received: np.ndarray) -> str | None:
    """A student-facing message when ``received`` is of a kind that may not stand for ``expected``."""
    want, got = kind_of(expected), kind_of(received)
    if want == got or (want == "float" and got == "integer") or (want == "complex" and got in ("integer", "float")):
        return None
    advice = _ADVICE.get((want, got))
    message = f"{name}: expected {_PLURAL.get(want, want)}, got {_PLURAL.get(got, got)}"
    return message + (f"; {advice}." if advice else ".")


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
    if kind_of(expected) not in ("integer", "float"):
        return ""
    flat_e, flat_r = expected.astype(float).ravel(), received.astype(float).ravel()
    finite = np.isfinite(flat_e)
    flat_e, flat_r = flat_e[finite], flat_r[finite]
    if flat_e.size and np.allclose(flat_r, -flat_e, rtol=rtol, atol=atol) and np.any(np.abs(flat_e) > atol):
        return " It is the negative of the expected value: check the sign."
    if kind_of(expected) == "integer" and flat_e.size and np.all(np.abs(flat_r - flat_e) == 1):
        return " Off by one: check where you start counting."
    mask = np.abs(flat_e) > 1e-12
    if mask.sum() >= 2:  # one number is always "off by a factor": say so only when several agree
        ratios = flat_r[mask] / flat_e[mask]
        if np.allclose(ratios, ratios[0], rtol=1e-6) and not np.isclose(ratios[0], 1.0):
            factor = f" ({ratios[0]:.4g})" if reveal else ""  # the factor would give hidden values away
            return f" Off by a constant factor{factor}: check scaling, averaging or the learning rate."
    return ""


def _close(expected: np.ndarray, received: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Entry-wise agreement: exact for booleans and integers, within tolerance (NaN = NaN) for floats."""
    if kind_of(expected) in ("bool", "integer"):
        return np.asarray(received == expected)
    return np.isclose(received, expected, rtol=rtol, atol=atol, equal_nan=True)


def compare_one(
    name: str, expected: np.ndarray, received: np.ndarray, rtol: float, atol: float, reveal: bool
) -> tuple[bool, str]:
    """Compare one output; return (ok, message). ``reveal=False`` keeps expected values out of the message.

    Kind, then shape, then finiteness are checked before any tolerance; see the module docstring.
    """
    problem = kind_problem(name, expected, received)
    if problem:
        return False, problem
    if received.shape != expected.shape:
        msg = f"{name}: wrong shape: got {received.shape}, expected {expected.shape}."
        return False, msg + _shape_hint(expected, received)
    if kind_of(received) in ("float", "complex"):
        should_be_finite = np.isfinite(expected) if kind_of(expected) in ("float", "complex") else True
        if not np.all(np.isfinite(received) | ~should_be_finite):
            return False, (f"{name}: contains NaN or infinity where a finite number is expected; "
                           "look for a division by zero, log(0) or overflow.")
    with np.errstate(all="ignore"):
        close = _close(expected, received, rtol, atol)
    if bool(np.all(close)):
        return True, f"{name}: correct."
    if reveal:
        with np.errstate(all="ignore"):
            diff = np.abs(received.astype(complex) - expected.astype(complex))[~close]
        err = float(np.max(np.where(np.isfinite(diff), diff, np.inf))) if diff.size else 0.0
        msg = f"{name}: wrong values (largest absolute error {err:.3g})."
        msg += f" Expected {_short(expected)}, received {_short(received)}."
    else:  # hidden case: how many entries are off, never by how much (that would give the answer away)
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
