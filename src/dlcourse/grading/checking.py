"""``check(fn)``: run an exercise's public cases in the student's kernel and print a verdict per case."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .registry import get_exercise
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


def check(fn: Callable[..., Any], exercise_id: str | None = None) -> CheckReport:
    """Run the public cases of the exercise named like ``fn`` and print what passed and what did not.

    Each failed case shows what was given, what was expected, what came back and a hint for the
    common mistakes (shape, sign, off-by-one, a constant factor).
    """
    if not callable(fn):
        raise TypeError(f"check() expects your exercise function, got {type(fn).__name__}")
    exercise = get_exercise(exercise_id or fn.__name__)
    passed = 0
    cases = list(exercise.public_cases)
    print(f"Checking {exercise.id} on {len(cases)} public cases")
    for index, case in enumerate(cases, start=1):
        label = f" ({case.label})" if case.label else ""
        received = run_case(fn, case.inputs, exercise.output_names)
        ok, messages = judge_case(exercise, case, received, reveal=True)
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
