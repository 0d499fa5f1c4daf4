"""Score outputs against the reference: the trusted side of grading.

:func:`score_outputs` is what the sandboxed grader calls with the data that came back from the
student's run; :func:`grade_function` runs a function in this process and scores it (for tests and
for trusted use).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .outputs import OutputError, compare_outputs, normalize_output, validate_received
from .runner import CaseFailure, call_args, run_cases
from .spec import Case, Exercise

if TYPE_CHECKING:
    from .registry import Registry

MAX_FEEDBACK_LINES = 5
# How an exercise's run ended: it ran (whatever it scored), ran past the time limit, ran out of memory,
# crashed (a signal or an early exit), had no function of that name, was not graded (the submission
# could not be read or answers another assignment), or hit a grader error.
STATUSES = ("ran", "timeout", "memory", "crashed", "missing", "not_graded", "grader_error")


@dataclass
class ExerciseResult:
    """Score and student-facing feedback for one exercise."""

    exercise_id: str
    score: float
    max_score: float
    passed: int
    total: int
    feedback: list[str] = field(default_factory=list)
    # Filled by the sandboxed grader (``dlcourse grade``), not by in-process grading:
    status: str = "ran"  # see STATUSES
    seconds: float = 0.0  # wall-clock seconds of this exercise's sandboxed run
    public: list[dict] = field(default_factory=list)  # per public case: label, given, expected, received, feedback

    @property
    def public_passed(self) -> int:
        return sum(1 for case in self.public if case.get("passed"))

    @property
    def output(self) -> str:
        head = f"{self.passed}/{self.total} hidden cases passed."
        return "\n".join([head, *self.feedback])


def expected_for(exercise: Exercise, case: Case | dict) -> tuple[np.ndarray, ...]:
    """The expected outputs of one case: pinned by hand, or from the reference implementation."""
    if isinstance(case, Case):
        if case.expected is not None:
            return normalize_output(case.expected if len(exercise.output_names) > 1 else case.expected[0],
                                    exercise.output_names)
        inputs = case.inputs
    else:
        inputs = case
    return normalize_output(exercise.reference(*call_args(inputs)), exercise.output_names)


def mistake_outputs(exercise: Exercise, case: Case | dict) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """What each registered mistake returns on this case, with its hint (mistakes that fail are left out)."""
    inputs = case.inputs if isinstance(case, Case) else case
    found = []
    for mistake in exercise.mistakes:
        try:
            with np.errstate(all="ignore"):
                found.append((mistake.hint, normalize_output(mistake.compute(*call_args(inputs)),
                                                             exercise.output_names)))
        except Exception:  # noqa: BLE001 - a mistake that does not apply to this case gives no hint
            continue
    return found


def _matching_hints(exercise: Exercise, expected: tuple[np.ndarray, ...], received: tuple[np.ndarray, ...],
                    mistakes: Sequence[tuple[str, Sequence[np.ndarray]]]) -> list[str]:
    """The hints of the mistakes whose output the received one matches (under the exercise's tolerance)."""
    hints = []
    for hint, wrong in mistakes:
        args = (exercise.output_names, exercise.rtol, exercise.atol, False)
        if compare_outputs(wrong, received, *args)[0] and not compare_outputs(expected, wrong, *args)[0]:
            if hint not in hints:
                hints.append(hint)
    return hints


def judge_case(exercise: Exercise, case: Case | dict, received: Any, reveal: bool,
               mistakes: Sequence[tuple[str, Sequence[np.ndarray]]] | None = None) -> tuple[bool, list[str]]:
    """Whether one case's result is right, and what is wrong with it (the failed outputs only).

    ``received`` is a tuple of arrays (validated here) or a :class:`CaseFailure` message; with
    ``reveal=False`` the messages keep the expected values to themselves. A wrong result that matches
    a registered :class:`~dlcourse.grading.spec.Mistake` gets that mistake's hint as a last message.
    ``mistakes`` gives the mistakes' outputs precomputed (``(hint, arrays)`` pairs, as exported public
    cases carry them); by default they are computed from ``exercise.mistakes``.
    """
    if isinstance(received, str):
        return False, [str(received)]
    try:
        arrays = validate_received(received, exercise.output_names)
    except OutputError as err:
        return False, [f"returned a value of the wrong kind: {err}"]
    expected = expected_for(exercise, case)
    ok, messages = compare_outputs(expected, arrays, exercise.output_names,
                                   exercise.rtol, exercise.atol, reveal=reveal)
    messages = [m for m in messages if not m.endswith("correct.")]
    if not ok:
        known = mistake_outputs(exercise, case) if mistakes is None else mistakes
        messages += [f"Hint: {hint}" for hint in _matching_hints(exercise, expected, arrays, known)]
    return ok, messages


def score_outputs(exercise: Exercise, inputs_list: Sequence[dict], received_list: Sequence[Any]) -> ExerciseResult:
    """Score what the student's function returned on the hidden inputs.

    ``received_list[i]`` is a tuple of arrays (validated here) or a :class:`CaseFailure` message.
    Feedback names what was wrong without revealing expected values.
    """
    if len(received_list) != len(inputs_list):
        raise ValueError(f"got {len(received_list)} results for {len(inputs_list)} hidden cases")
    passed, feedback = 0, []
    for index, (inputs, received) in enumerate(zip(inputs_list, received_list), start=1):
        ok, messages = judge_case(exercise, inputs, received, reveal=False)
        if ok:
            passed += 1
        elif len(feedback) < MAX_FEEDBACK_LINES:
            feedback.append(f"case {index}: " + " ".join(messages))
    total = len(inputs_list)
    score = exercise.points * passed / total if total else 0.0
    if passed == total:
        feedback.append("All hidden cases correct.")
    return ExerciseResult(exercise.id, round(score, 6), exercise.points, passed, total, feedback)


def grade_function(exercise: Exercise | str, fn: Callable[..., Any], seed: int = 0,
                   registry: "Registry | None" = None) -> ExerciseResult:
    """Run ``fn`` on the exercise's hidden cases for ``seed`` in this process and score it (trusted use only).

    A string names the exercise in ``registry`` (default: the built-in bank).
    """
    from .registry import Registry

    if isinstance(exercise, str):
        exercise = (registry or Registry.load()).get(exercise)
    inputs_list = exercise.draw_hidden(seed)
    received = run_cases(fn, inputs_list, exercise.output_names, pure=exercise.pure)
    return score_outputs(exercise, inputs_list, received)


__all__ = ["CaseFailure", "ExerciseResult", "expected_for", "grade_function", "judge_case", "mistake_outputs",
           "score_outputs"]
