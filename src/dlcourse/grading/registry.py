"""Find exercises by id (``"01_perceptron.perceptron_train"``) or by function name."""
from __future__ import annotations

import importlib
from functools import lru_cache

from .bank import MODULES
from .spec import Exercise


@lru_cache(maxsize=None)
def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, keyed by id, in notebook order."""
    found: dict[str, Exercise] = {}
    for notebook, module_name in MODULES.items():
        module = importlib.import_module(module_name)
        for exercise in module.EXERCISES:
            if exercise.notebook != notebook:
                raise ValueError(f"{module_name} registers {exercise.id!r}, which is not in notebook {notebook!r}")
            if exercise.id in found:
                raise ValueError(f"exercise {exercise.id!r} is registered twice")
            found[exercise.id] = exercise
    return found


def get_exercise(key: str) -> Exercise:
    """Return the exercise with this id, or with this function name when the name is unique."""
    exercises = all_exercises()
    if key in exercises:
        return exercises[key]
    matches = [ex for ex in exercises.values() if ex.name == key]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KeyError(f"no exercise named {key!r}; known exercises: {', '.join(exercises)}")
    raise KeyError(f"{key!r} names several exercises ({', '.join(m.id for m in matches)}): pass the full id")


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of one notebook (by stem), in order."""
    return [ex for ex in all_exercises().values() if ex.notebook == notebook]
