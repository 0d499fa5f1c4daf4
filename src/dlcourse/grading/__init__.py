"""Exercises: the registry, public checks, hidden cases and scoring against the reference.

Student side: :func:`check`. Trusted side: :func:`score_outputs` and :func:`grade_function`.
An instructor's own exercises: a bank loaded into a :class:`Registry` (``dlcourse grade --bank``).
"""
from .checking import CheckReport, check
from .registry import BankError, Registry, all_exercises, exercises_of, get_exercise
from .scoring import ExerciseResult, grade_function, score_outputs
from .spec import Case, Exercise, Mistake

__all__ = [
    "BankError", "Case", "CheckReport", "Exercise", "ExerciseResult", "Mistake", "Registry", "all_exercises",
    "check", "exercises_of", "get_exercise", "grade_function", "score_outputs",
]
