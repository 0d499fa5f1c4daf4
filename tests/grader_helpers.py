"""Helpers for the grader tests: a small registered exercise notebook and submission builders.

The toy notebook ``98_toygrade`` has two exercises, registered for a test by :func:`register_toy`
(monkeypatching the registry). Submissions are notebooks built the way a student's would be: the
student version of a solution notebook (``dlcourse.grading.assign``) with an exercise cell's source
replaced by a solution, a wrong version or an attack.
"""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import numpy as np

from dlcourse.grading import Case, Exercise
from dlcourse.grading import grade as grade_module
from dlcourse.grading import registry
from dlcourse.grading.assign import make_exercise_notebook
from dlcourse.nbtools import cell_source, cell_tags, dumps_notebook, set_cell_source

TOY = "98_toygrade"


def affine_ref(x, w, b):
    return np.asarray(x, dtype=float) @ np.asarray(w, dtype=float) + b


def argmax_rows_ref(X):
    X = np.asarray(X, dtype=float)
    idx = np.argmax(X, axis=1)
    return idx.astype(np.int64), X[np.arange(len(X)), idx]


def _affine_hidden(rng):
    cases = []
    for i, (n, d) in enumerate([(3, 2), (5, 4), (1, 3), (6, 1), (4, 4), (2, 5)]):
        b = 0.0 if i < 2 else float(rng.normal())  # two cases where forgetting b is still right
        cases.append({"x": rng.normal(size=(n, d)), "w": rng.normal(size=d), "b": b})
    return cases


def _argmax_hidden(rng):
    return [{"X": rng.normal(size=(n, d))} for n, d in [(3, 4), (5, 2), (1, 6), (7, 3)]]


TOY_EXERCISES = [
    Exercise(id=f"{TOY}.affine", reference=affine_ref,
             public_cases=[Case({"x": np.eye(2), "w": np.array([1.0, 2.0]), "b": 0.5}, "identity")],
             hidden_cases=_affine_hidden, output_names=("y",), points=2.0),
    Exercise(id=f"{TOY}.argmax_rows", reference=argmax_rows_ref,
             public_cases=[Case({"X": np.array([[1.0, 3.0], [2.0, 0.0]])}, "2 x 2")],
             hidden_cases=_argmax_hidden, output_names=("idx", "values")),
]

SOLUTIONS = {
    "affine": '''
        import numpy as np

        def affine(x, w, b):
            """y = x w + b for a batch x of shape (n, d)."""
            ### BEGIN SOLUTION
            return np.asarray(x) @ np.asarray(w) + b
            ### END SOLUTION
        ''',
    "argmax_rows": '''
        import numpy as np

        def argmax_rows(X):
            """Index and value of the largest entry of every row."""
            ### BEGIN SOLUTION
            idx = np.argmax(X, axis=1)
            return idx, X[np.arange(len(X)), idx]
            ### END SOLUTION
        ''',
}

WRONG = {  # plausible mistakes: partial credit
    "affine": '''
        import numpy as np

        def affine(x, w, b):
            return np.asarray(x) @ np.asarray(w)  # forgot the bias
        ''',
    "argmax_rows": '''
        import numpy as np

        def argmax_rows(X):
            idx = np.argmax(X, axis=1)
            return idx + (len(X) > 4), X.max(axis=1)  # off by one on big batches
        ''',
}


def register_toy(monkeypatch) -> None:
    """Make ``98_toygrade`` a registered assignment for the duration of one test."""
    try:
        base = dict(registry.all_exercises())
    except ImportError:  # a bank module still being written elsewhere
        base = {}
    merged = {**base, **{ex.id: ex for ex in TOY_EXERCISES}}
    monkeypatch.setattr(registry, "all_exercises", lambda: merged)
    monkeypatch.setattr(grade_module, "all_exercises", lambda: merged)


def code_cell(source: str, tags: list[str] | None = None) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags or []}, "outputs": []}
    set_cell_source(cell, textwrap.dedent(source).strip() + "\n")
    return cell


def markdown_cell(text: str) -> dict:
    cell = {"cell_type": "markdown", "metadata": {}}
    set_cell_source(cell, text)
    return cell


def toy_solution_notebook() -> dict:
    cells = [code_cell("# SETUP\nimport numpy as np\nfrom dlcourse.grading import check")]
    for name, source in SOLUTIONS.items():
        cells += [markdown_cell(f"## Exercise: `{name}`"), code_cell(source, ["exercise"]),
                  code_cell(f"check({name})", ["check"])]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "nbformat": 4, "nbformat_minor": 5}


def student_notebook(solution_nb: dict) -> dict:
    """What ``dlcourse assign`` hands out."""
    return make_exercise_notebook(solution_nb)


def exercise_cell_sources(nb: dict) -> dict[str, str]:
    from dlcourse.grading.extract import defined_names

    return {name: cell_source(c) for c in nb["cells"] if "exercise" in cell_tags(c)
            for name in defined_names(cell_source(c))}


def with_sources(student_nb: dict, replacements: dict[str, str]) -> dict:
    """A copy of the student notebook with the named exercise cells' sources replaced."""
    from dlcourse.grading.extract import defined_names

    nb = copy.deepcopy(student_nb)
    done = set()
    for cell in nb["cells"]:
        if "exercise" not in cell_tags(cell):
            continue
        stub_names = set(defined_names(cell_source(cell)))
        for name, source in replacements.items():
            if name in stub_names:
                set_cell_source(cell, textwrap.dedent(source).strip() + "\n")
                done.add(name)
    missing = set(replacements) - done
    if missing:
        raise KeyError(f"no exercise cell for {sorted(missing)}")
    return nb


def write_notebook(nb: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_notebook(nb), encoding="utf-8")
    return path


def load_result(out: Path, student: str) -> dict:
    return json.loads((out / f"{student}.json").read_text(encoding="utf-8"))


def scores_of(out: Path, student: str) -> dict[str, float]:
    return {t["name"]: t["score"] for t in load_result(out, student)["tests"]}
