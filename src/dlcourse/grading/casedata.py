"""The public cases of a graded run, as bounded JSON: what was given, expected and received.

The grader runs every exercise on its public cases (those the handout's self-check shows, expected
values included) as well as its hidden ones. The public cases score nothing; their details go into
the results so that feedback can show a learner exactly where a public case went wrong. Hidden
cases never come here: their expected values stay with the grader.

Every value is described by :func:`describe`: small arrays in full, large ones by shape, dtype and
their first elements, so that a student returning a 10-million-element array cannot bloat a
results file. What a student returned is data (numbers) by the time it arrives here; strings in it
(messages) are still untrusted text and are escaped where they are written (HTML, CSV, terminal).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .outputs import OutputError, validate_received
from .scoring import expected_for, judge_case
from .spec import Case, Exercise

MAX_SHOWN = 64  # elements of an array shown in full; larger arrays show their first PREVIEW
PREVIEW = 16
MAX_TEXT = 400


def _number(x: Any) -> Any:
    """A JSON-safe scalar: NaN and infinities as strings (JSON has none)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, complex) or isinstance(x, np.complexfloating):
        return f"{complex(x)!r}"
    value = float(x)
    return repr(value) if not math.isfinite(value) else value


def describe(value: Any) -> Any:
    """A bounded, JSON-safe description of an input or output value.

    Arrays give ``{"shape", "dtype", "values"}`` (``values`` nested like the array when it has at most
    ``MAX_SHOWN`` elements, else the first ``PREVIEW`` of the flattened array and ``"truncated": true``).
    """
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None or isinstance(value, (bool, int, float, complex, np.generic)):
        return _number(value) if value is not None else None
    if isinstance(value, (list, tuple)) and not all(isinstance(v, (int, float, bool, np.generic)) for v in value):
        return [describe(v) for v in list(value)[:PREVIEW]]
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return f"<{type(value).__name__}>"
    if array.dtype.kind not in "biufc":
        return f"<array of dtype {array.dtype}>"
    info: dict[str, Any] = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.size <= MAX_SHOWN:
        info["values"] = np.vectorize(_number, otypes=[object])(array).tolist() if array.size else []
    else:
        info["values"] = [_number(x) for x in array.ravel()[:PREVIEW]]
        info["truncated"] = True
    return info


def public_details(exercise: Exercise, received_list: Sequence[Any]) -> list[dict[str, Any]]:
    """Judge the public cases; return, per case, label, passed, given, expected, received, feedback.

    ``received_list[i]`` is what came back for ``exercise.public_cases[i]``: a tuple of arrays, or a
    message string (the case raised, or the whole run failed). Expected values are shown: the
    handout's self-check shows them too.
    """
    cases: Sequence[Case] = exercise.public_cases
    if len(received_list) != len(cases):
        raise ValueError(f"got {len(received_list)} results for {len(cases)} public cases")
    details = []
    for case, received in zip(cases, received_list):
        ok, messages = judge_case(exercise, case, received, reveal=True)
        try:
            got: Any = [describe(a) for a in validate_received(received, exercise.output_names)] \
                if not isinstance(received, str) else None
        except OutputError:
            got = [describe(a) for a in received] if isinstance(received, (list, tuple)) else None
        details.append({
            "label": str(case.label)[:MAX_TEXT],
            "passed": bool(ok),
            "given": {str(k): describe(v) for k, v in case.inputs.items()},
            "expected": [describe(a) for a in expected_for(exercise, case)],
            "received": got,
            "feedback": " ".join(messages)[:2 * MAX_TEXT] if not ok else "",
        })
    return details
