"""Call an exercise function on a list of inputs: the part of grading that runs the student's code.

It knows nothing of references or expected values, so the sandboxed runner can import it alone.
Every case gets fresh copies of its inputs (a function that edits its arguments in place cannot
spoil the next case) and every failure becomes a student-facing message instead of an exception.
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


def run_case(fn: Callable[..., Any], inputs: Mapping[str, Any], output_names: Sequence[str]):
    """Return the outputs as arrays, or a :class:`CaseFailure` saying what went wrong."""
    try:
        with np.errstate(all="ignore"):
            value = fn(*call_args(inputs))
    except Exception as err:  # noqa: BLE001 - any failure of student code is feedback, not a crash
        return CaseFailure(describe_exception(err))
    try:
        return normalize_output(value, output_names)
    except OutputError as err:
        return CaseFailure(f"returned a value of the wrong kind: {err}")


def run_cases(fn: Callable[..., Any], inputs_list: Sequence[Mapping[str, Any]], output_names: Sequence[str]):
    """:func:`run_case` over every case."""
    return [run_case(fn, inputs, output_names) for inputs in inputs_list]
