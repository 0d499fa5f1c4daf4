"""Exercises: the registry, public checks, hidden cases and scoring against the reference.

Student side: :func:`check`. Trusted side: :func:`score_outputs` and :func:`grade_function`.
"""
from .checking import CheckReport, check
from .registry import all_exercises, exercises_of, get_exercise
from .scoring import ExerciseResult, grade_function, score_outputs
from .spec import Case, Exercise

__all__ = [
    "Case", "CheckReport", "Exercise", "ExerciseResult", "all_exercises", "check", "exercises_of",
    "get_exercise", "grade_function", "score_outputs",
]
