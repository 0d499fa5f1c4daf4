"""The public part of an exercise as JSON: what a handout needs to run ``check()`` without the bank.

An instructor's own exercises live in a bank that students never get. ``dlcourse assign --bank``
therefore writes each such exercise's public cases into the handout's check cell, as JSON: the
inputs, the expected outputs (the public checks show them anyway), and, per case, the outputs of
the registered mistakes with their hints. The reference implementation, the hidden cases and the
mistakes' code stay with the instructor. Arrays keep their dtype, so strict kind checks still apply.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .outputs import compare_outputs
from .scoring import expected_for, mistake_outputs
from .spec import Case, Exercise

FORMAT = "dlcourse-public-1"
_ARRAY_KINDS = "biuf"


def encode_value(value: Any, where: str = "value") -> Any:
    """A JSON-ready form of an input or output: arrays (with dtype and shape), scalars, strings, lists."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: arrays of dtype {value.dtype} cannot be written into a handout")
        return {"array": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: a scalar of dtype {value.dtype} cannot be written into a handout")
        return {"scalar": value.item(), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode_value(v, where) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v, where) for v in value]}
    raise ValueError(f"{where}: a {type(value).__name__} cannot be written into a handout")


def decode_value(data: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "array" in data:
        return np.array(data["array"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    if "scalar" in data:
        return np.dtype(data["dtype"]).type(data["scalar"])
    if "tuple" in data:
        return tuple(decode_value(v) for v in data["tuple"])
    raise ValueError(f"not an encoded value: {sorted(data)}")


@dataclass(frozen=True)
class PublicCase:
    """A public case with the outputs of the mistakes that differ from the expected ones on it."""

    case: Case
    mistakes: tuple[tuple[str, tuple[np.ndarray, ...]], ...] | None = None  # None: compute them


def _case_json(exercise: Exercise, case: Case) -> dict[str, Any]:
    expected = expected_for(exercise, case)
    args = (exercise.output_names, exercise.rtol, exercise.atol, False)
    mistakes = [{"hint": hint, "outputs": [encode_value(a, hint) for a in wrong]}
                for hint, wrong in mistake_outputs(exercise, case) if not compare_outputs(expected, wrong, *args)[0]]
    inputs = {name: encode_value(value, f"{exercise.id}: input {name}") for name, value in case.inputs.items()}
    return {"label": case.label, "inputs": inputs,
            "expected": [encode_value(a, f"{exercise.id}: expected output") for a in expected],
            "mistakes": mistakes}


def wrap_json(text: str, width: int = 96) -> str:
    """Break one line of JSON into lines of at most ``width`` characters where it can (after commas outside strings)."""
    pieces, start, in_string, escaped = [], 0, False, False
    for i, ch in enumerate(text):
        if in_string:
            escaped, in_string = (not escaped and ch == "\\"), escaped or ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == ",":
            pieces.append(text[start:i + 1])
            start = i + 1
    pieces.append(text[start:])
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(piece.lstrip(" "))
        else:
            lines[-1] += piece
    return "\n".join(lines)


def export_public(exercise: Exercise) -> str:
    """The public cases of ``exercise`` as JSON text in short lines, for a handout's check cell."""
    head = {"format": FORMAT, "id": exercise.id, "output_names": list(exercise.output_names),
            "rtol": exercise.rtol, "atol": exercise.atol, "pure": bool(exercise.pure)}
    cases = [wrap_json(json.dumps(_case_json(exercise, case))) for case in exercise.public_cases]
    return wrap_json(json.dumps(head)[:-1] + ', "cases": [') + "\n" + ",\n".join(cases) + "\n]}"


def _no_reference(*args: Any) -> Any:
    raise RuntimeError("the reference of this exercise stays with the instructor")


def import_public(text: str) -> tuple[Exercise, list[PublicCase]]:
    """An :class:`Exercise` that knows only its public cases, and those cases with their mistakes."""
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"the public cases of this check cell are not valid JSON ({err}); "
                         "ask your instructor for a fresh copy of the notebook") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"the public cases of this check cell are not in the {FORMAT} format")
    cases = []
    for item in data["cases"]:
        expected = tuple(decode_value(a) for a in item["expected"])
        case = Case({k: decode_value(v) for k, v in item["inputs"].items()}, item.get("label", ""), expected)
        mistakes = tuple((m["hint"], tuple(decode_value(a) for a in m["outputs"])) for m in item.get("mistakes", []))
        cases.append(PublicCase(case, mistakes))
    exercise = Exercise(id=data["id"], reference=_no_reference, public_cases=[c.case for c in cases],
                        hidden_cases=lambda rng: [], output_names=tuple(data["output_names"]),
                        rtol=float(data["rtol"]), atol=float(data["atol"]), pure=bool(data.get("pure", True)))
    return exercise, cases
