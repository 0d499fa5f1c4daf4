"""Load exercise functions from the solution notebooks, the way the grader sees them: each cell alone."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from dlcourse.grading.extract import defined_names, exercise_sources
from dlcourse.nbtools import read_notebook

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def solution_sources(stem: str, names: Iterable[str]) -> dict[str, str]:
    """The source of each named exercise cell in ``solutions/<stem>.ipynb``; all must be present."""
    names = list(names)
    found = exercise_sources(read_notebook(SOLUTIONS / f"{stem}.ipynb"), names)
    assert sorted(found) == sorted(names), f"{stem}: missing exercise cells {set(names) - set(found)}"
    return found


def load_function(source: str, name: str | None = None) -> Callable:
    """Run one cell's source in a fresh namespace and return the function it defines."""
    if name is None:
        (name,) = defined_names(source)
    namespace: dict = {}
    exec(compile(source, f"<exercise {name}>", "exec"), namespace)
    return namespace[name]
