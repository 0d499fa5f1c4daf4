"""Load exercise functions from the solution notebooks, the way the grader sees them: each cell alone.

Also: run a whole notebook in a fresh kernel, read the cells of a given tag, and compare what a
registered mistake computes with the wrong version a learner writes.
"""
from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from dlcourse.grading.extract import defined_names, exercise_sources
from dlcourse.grading.runner import call_args
from dlcourse.grading.spec import Exercise, Mistake
from dlcourse.nbtools import cell_source, cell_tags, read_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


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


def renamed(fn: Callable, name: str) -> Callable:
    """A copy of ``fn`` called ``name``, so that ``check(fn)`` finds the exercise of that name."""
    return types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)


def tagged_sources(stem: str, tag: str) -> list[str]:
    """The sources of the cells of ``solutions/<stem>.ipynb`` tagged ``tag``, in order."""
    cells = read_notebook(SOLUTIONS / f"{stem}.ipynb")["cells"]
    return [cell_source(c) for c in cells if tag in cell_tags(c)]


def find_mistake(exercise: Exercise, hint_part: str) -> Mistake:
    """The registered mistake whose hint contains ``hint_part`` (exactly one must)."""
    found = [m for m in exercise.mistakes if hint_part in m.hint]
    assert len(found) == 1, f"{exercise.id}: {len(found)} mistakes have a hint containing {hint_part!r}"
    return found[0]


def _outcome(fn: Callable, inputs: dict) -> Any:
    """What ``fn`` returns on fresh copies of ``inputs`` (as a tuple of arrays), or the exception type."""
    try:
        with np.errstate(all="ignore"):
            value = fn(*call_args(inputs))
    except Exception as err:  # noqa: BLE001 - a raising wrong version is an outcome too
        return type(err)
    return tuple(np.asarray(v) for v in (value if isinstance(value, tuple) else (value,)))


def assert_same_outcome(mistake_fn: Callable, wrong_fn: Callable, inputs: dict, rtol: float, atol: float) -> None:
    """The mistake's ``compute`` and the learner-style wrong version agree on these inputs."""
    expected, got = _outcome(wrong_fn, inputs), _outcome(mistake_fn, inputs)
    if isinstance(expected, type) or isinstance(got, type):
        assert isinstance(expected, type) and isinstance(got, type), f"one raised, one did not: {expected}, {got}"
        return
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        np.testing.assert_allclose(g.astype(float), e.astype(float), rtol=max(rtol, 1e-9), atol=max(atol, 1e-12),
                                   equal_nan=True)


def execute_notebook(path: Path, timeout: int = 300) -> dict:
    """Run a notebook top to bottom in a fresh kernel (CPU mode), errors recorded in its outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, "DLCOURSE_MODE": "fast"})
    return nb


def error_outputs(nb: dict) -> list[str]:
    """One line per error output or traceback printed on stderr, naming the cell."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("name") == "stderr" and "Traceback" in "".join(output.get("text", "")):
                problems.append(f"cell {index}: traceback on stderr")
    return problems


def printed_text(nb: dict, tag: str) -> str:
    """Everything the cells tagged ``tag`` printed."""
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if tag in cell_tags(c) for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")
