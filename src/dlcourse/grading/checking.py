"""``check(fn)``: run an exercise's public cases in the student's kernel and print a verdict per case."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .public import PublicCase, import_public
from .registry import Registry
from .runner import run_case
from .scoring import judge_case


@dataclass
class CheckReport:
    """How many public cases passed; prints as a one-line summary."""

    exercise_id: str
    passed: int
    total: int

    @property
    def all_passed(self) -> bool:
        return self.passed == self.total

    def __repr__(self) -> str:
        return f"CheckReport({self.exercise_id}: {self.passed}/{self.total} public cases passed)"


def _describe_inputs(inputs: dict) -> str:
    parts = []
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            text = np.array2string(value, precision=4, threshold=12, edgeitems=2).replace("\n", "")
            parts.append(f"{name}={text} (shape {value.shape})" if value.size > 12 else f"{name}={text}")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _lookup(registry: Registry, key: str, prefer_bank: bool):
    """The exercise ``key`` names; with ``prefer_bank``, a function name of the instructor's bank wins.

    A check cell that names a bank (``check(f, bank=...)``) means that bank's ``f``, even when a
    built-in notebook has a function of the same name.
    """
    if prefer_bank:
        mine = [ex for ex_id, ex in registry.exercises.items() if registry.is_external(ex_id) and ex.name == key]
        if len(mine) == 1:
            return mine[0]
    return registry.get(key)


def check(fn: Callable[..., Any], exercise_id: str | None = None, *, bank: str | Path | None = None,
          public: str | None = None) -> CheckReport:
    """Run the public cases of the exercise named like ``fn`` and print what passed and what did not.

    Each failed case shows what was given, what was expected, what came back and a hint for the
    common mistakes (a wrong kind of value, shape, sign, off-by-one, a constant factor, and the
    mistakes the exercise registers). The exercise comes from the built-in bank, from an instructor
    bank at ``bank`` (a folder or a ``.py`` file), or, in a handout made by ``dlcourse assign --bank``,
    from ``public``: the exercise's public cases as JSON, written into the check cell.
    """
    if not callable(fn):
        raise TypeError(f"check() expects your exercise function, got {type(fn).__name__}")
    if public is not None:
        exercise, cases = import_public(public)
    else:
        exercise = _lookup(Registry.load([bank] if bank is not None else []), exercise_id or fn.__name__,
                           prefer_bank=bank is not None and exercise_id is None)
        cases = [PublicCase(case, None) for case in exercise.public_cases]
    passed = 0
    print(f"Checking {exercise.id} on {len(cases)} public cases")
    for index, item in enumerate(cases, start=1):
        case = item.case
        label = f" ({case.label})" if case.label else ""
        received = run_case(fn, case.inputs, exercise.output_names, pure=exercise.pure)
        ok, messages = judge_case(exercise, case, received, reveal=True, mistakes=item.mistakes)
        if ok:
            passed += 1
            print(f"  [PASS] case {index}{label}")
        else:
            print(f"  [FAIL] case {index}{label}")
            print(f"         given: {_describe_inputs(dict(case.inputs))}")
            for message in messages:
                print(f"         {message}")
    verdict = "all public cases pass" if passed == len(cases) else "some cases fail; see the hints above"
    print(f"{passed}/{len(cases)} passed: {verdict}.")
    return CheckReport(exercise.id, passed, len(cases))
