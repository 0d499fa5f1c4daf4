"""Helpers for the grader tests: a small registered exercise notebook and submission builders.

The toy notebook ``98_toygrade`` has two exercises, registered for a test by :func:`register_toy`
(monkeypatching the built-in registry, :func:`registry_with`). Submissions are notebooks built the
way a student's would be: the student version of a solution notebook (``dlcourse.grading.assign``)
with an exercise cell's source replaced by a solution, a wrong version or an attack. The wrong kinds
of a right answer (:data:`CONFUSIONS`) serve the attack suite, in-process and in the sandbox.
"""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import numpy as np

from dlcourse.grading import Case, Exercise
from dlcourse.grading import registry
from dlcourse.grading.assign import make_exercise_notebook
from dlcourse.grading.records import scored_tests
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


def registry_with(monkeypatch, exercises) -> registry.Registry:
    """Make ``exercises`` part of the built-in bank for the duration of one test (ids replace, else append)."""
    try:
        base = dict(registry.builtin_registry().exercises)
    except ImportError:  # a bank module still being written elsewhere
        base = {}
    merged = {**base, **{ex.id: ex for ex in exercises}}
    patched = registry.Registry(merged, {ex_id: registry.BUILT_IN for ex_id in merged})
    monkeypatch.setattr(registry, "builtin_registry", lambda: patched)
    return patched


def register_toy(monkeypatch) -> None:
    """Make ``98_toygrade`` a registered assignment for the duration of one test."""
    registry_with(monkeypatch, TOY_EXERCISES)


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
    return {t["name"]: t["score"] for t in scored_tests(load_result(out, student))}


# ------------------------------------------------------------------ wrong kinds of the right answer

# One source for both sides: exec'd here for in-process grading, pasted into exercise cells for the sandbox.
CONFUSION_SOURCE = '''
import copy as _copy
import numpy as _np


def _confuse_one(kind, a):
    a = _np.asarray(a)
    if kind == "bool_cast":
        return a.astype(bool)
    if kind == "float_for_int":
        return a.astype(_np.float64) if a.dtype.kind in "iu" else a
    if kind == "int_for_float":
        return _np.round(a).astype(_np.int64) if a.dtype.kind == "f" and _np.all(_np.isfinite(a)) else a
    if kind == "number_for_bool":
        return a.astype(_np.int64) if a.dtype.kind == "b" else a
    if kind == "complex":
        return a.astype(_np.complex128)
    if kind == "list_of_bools":
        return a.astype(bool).tolist()
    if kind == "true_scalar":
        return True
    if kind == "nested_object":
        return [{"value": a}]
    if kind == "nan_filled":
        return _np.full(a.shape, _np.nan)
    raise KeyError(kind)


def _confuse(kind, out, n_outputs):
    if n_outputs > 1:
        return tuple(_confuse_one(kind, o) for o in out)
    return _confuse_one(kind, out)


def _scribble(args):
    """Change the first entry of every number array argument, as an in-place update would."""
    for a in args:
        if isinstance(a, _np.ndarray) and a.dtype.kind in "biuf" and a.size:
            new = {"b": not a.flat[0], "f": 0.5 if a.flat[0] != 0.5 else 0.25}.get(a.dtype.kind)
            a.flat[0] = (7 if a.flat[0] != 7 else 3) if new is None else new


def _wrong_kind(kind, honest, n_outputs):
    def wrapped(*args):
        out = _copy.deepcopy(honest(*args))
        if kind == "in_place":
            _scribble(args)
            return out
        return _confuse(kind, out, n_outputs)
    return wrapped
'''
_CONFUSION_NS: dict = {}
exec(compile(CONFUSION_SOURCE, "<grader_helpers confusions>", "exec"), _CONFUSION_NS)

# The wrong kinds; "int_for_float" (allowed: 4 for 4.0) and "in_place" (a pure task) are checked apart.
CONFUSIONS = ("bool_cast", "float_for_int", "number_for_bool", "complex", "list_of_bools", "true_scalar",
              "nested_object", "nan_filled")
# What the feedback says for each (one of these per affected case).
CONFUSION_WORDS = {
    "bool_cast": ("got booleans",), "float_for_int": ("expected integers, got floats",),
    "number_for_bool": ("expected booleans",), "complex": ("got complex numbers",),
    "list_of_bools": ("got booleans",), "true_scalar": ("got booleans", "wrong shape"),
    "nested_object": ("dtype object",), "nan_filled": ("NaN", "got floats"),
    "in_place": ("in place",),
}


def wrong_kind(kind: str, honest, n_outputs: int):
    """``honest`` with its result turned into the wrong kind ``kind`` (or, for "in_place", its inputs scribbled)."""
    return _CONFUSION_NS["_wrong_kind"](kind, honest, n_outputs)


def wrong_kind_cell(kind: str, name: str, solution: str, n_outputs: int) -> str:
    """An exercise cell whose function ``name`` returns the solution's answer as the wrong kind ``kind``."""
    honest = solution.replace(f"def {name}(", "def _honest(", 1)
    return (f"{honest}\n{CONFUSION_SOURCE}\n\ndef {name}(*args):\n"
            f"    return _wrong_kind({kind!r}, _honest, {n_outputs})(*args)\n")


def affected(kind: str, exercise, expected: tuple, inputs: dict) -> bool:
    """Whether turning this case's right answer into ``kind`` must make the case fail."""
    kinds = [np.asarray(e).dtype.kind for e in expected]
    arrays = [np.asarray(e) for e in expected]
    if kind == "bool_cast" or kind == "list_of_bools":
        return any(k != "b" for k in kinds)
    if kind == "float_for_int":
        return any(k in "iu" for k in kinds)
    if kind == "number_for_bool":
        return any(k == "b" for k in kinds)
    if kind == "complex":
        return any(k != "c" for k in kinds)
    if kind == "true_scalar":
        return any(k != "b" or a.shape != () for k, a in zip(kinds, arrays))
    if kind == "nested_object":
        return True
    if kind == "nan_filled":
        return any(a.size and (k not in "fc" or np.any(np.isfinite(a))) for k, a in zip(kinds, arrays))
    if kind == "int_for_float":  # fails only where a float answer is not a whole number
        return any(k == "f" and not (np.all(np.isfinite(a)) and np.array_equal(a, np.round(a)))
                   for k, a in zip(kinds, arrays))
    if kind == "in_place":
        return exercise.pure and any(isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.size
                                     for v in inputs.values())
    raise KeyError(kind)


# ------------------------------------------------------------------ the grader's keyring

_KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}  # (add_key, keyctl) syscall numbers


def grader_session_key(description: str, payload: bytes) -> int | None:
    """Put a key in a fresh session keyring of this (the grader's) process; its serial, or None if unsupported.

    The fresh keyring keeps the test from touching keyrings that outlive it; every process started
    afterwards inherits it, as a sandbox would the grader's real session keyring.
    """
    import ctypes
    import os

    numbers = _KEYCTL.get(os.uname().machine)
    if numbers is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(numbers[1], 1, None) < 0:  # KEYCTL_JOIN_SESSION_KEYRING, anonymous
        return None
    serial = libc.syscall(numbers[0], b"user", description.encode(), payload, len(payload), -3)
    return serial if serial > 0 else None


def revoke_key(serial: int) -> None:
    import ctypes
    import os

    ctypes.CDLL(None).syscall(_KEYCTL[os.uname().machine][1], 3, serial)  # KEYCTL_REVOKE


def hidden_tests(out: Path, student: str) -> list[dict]:
    """The scored tests (one per exercise, hidden cases) of a student's results file, in exercise order."""
    return scored_tests(load_result(out, student))
