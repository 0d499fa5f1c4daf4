"""Call an exercise function on a list of inputs: the part of grading that runs the student's code.

It knows nothing of references or expected values, so the sandboxed runner can import it alone.
Every case gets fresh copies of its inputs (a function that edits its arguments in place cannot
spoil the next case) and every failure becomes a student-facing message instead of an exception.
For an exercise whose task says not to modify the arguments (``pure``), a call that changed an
array argument in place fails its case, whatever it returned.
"""
from __future__ import annotations

import copy
import traceback
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .fixtures import resolve
from .outputs import OutputError, normalize_output

NOT_IMPLEMENTED = "not implemented yet: replace the `raise NotImplementedError(...)` line with your code"


class CaseFailure(str):
    """A student-facing message for a case whose call failed (an exception or an unreadable result)."""


def call_args(inputs: Mapping[str, Any]) -> list[Any]:
    """Fresh positional arguments for one call, with fixture names turned into functions."""
    return [resolve(copy.deepcopy(value)) for value in inputs.values()]


def describe_exception(err: BaseException) -> str:
    if isinstance(err, NotImplementedError):
        return NOT_IMPLEMENTED
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"raised {type(err).__name__}{where}: {err}"


def modified_argument(inputs: Mapping[str, Any], args: Sequence[Any]) -> str | None:
    """The name of the first array argument that a call changed in place (values, shape or dtype), if any."""
    for (name, original), arg in zip(inputs.items(), args):
        if not isinstance(original, np.ndarray):
            continue
        if (not isinstance(arg, np.ndarray) or arg.shape != original.shape or arg.dtype != original.dtype
                or arg.tobytes() != original.tobytes()):
            return name
    return None


def run_case(fn: Callable[..., Any], inputs: Mapping[str, Any], output_names: Sequence[str], pure: bool = False):
    """Return the outputs as arrays, or a :class:`CaseFailure` saying what went wrong.

    With ``pure``, a call that modified one of its array arguments in place fails.
    """
    try:
        args = call_args(inputs)
        with np.errstate(all="ignore"):
            value = fn(*args)
    except Exception as err:  # noqa: BLE001 - any failure of student code is feedback, not a crash
        return CaseFailure(describe_exception(err))
    changed = modified_argument(inputs, args) if pure else None
    if changed is not None:
        return CaseFailure(f"modified its argument `{changed}` in place; the task asks you to return a new "
                           f"array (work on a copy, e.g. `{changed} = {changed}.copy()`)")
    try:
        return normalize_output(value, output_names)
    except OutputError as err:
        return CaseFailure(f"returned a value of the wrong kind: {err}")


def run_cases(fn: Callable[..., Any], inputs_list: Sequence[Mapping[str, Any]], output_names: Sequence[str],
              pure: bool = False):
    """:func:`run_case` over every case."""
    return [run_case(fn, inputs, output_names, pure) for inputs in inputs_list]
