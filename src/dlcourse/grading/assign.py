"""Generate student notebooks (``exercises/``) from the solution notebooks (``solutions/``).

In a cell tagged ``exercise`` the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become one
``raise NotImplementedError(...)`` at the marker's indentation; signature, docstring and hints stay.
Cells tagged ``solution-only`` are dropped; every output and execution count is cleared.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..nbtools import cell_source, cell_tags, dumps_notebook, read_notebook, set_cell_source

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: write your code here, then run the check cell below.")'


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace each marked solution span of ``source`` by a ``NotImplementedError`` stub."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: nested {BEGIN}")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def make_exercise_notebook(solution: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """The student version of a solution notebook."""
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb["cells"]):
        tags = cell_tags(cell)
        if "solution-only" in tags:
            continue
        cell.get("metadata", {}).pop("execution", None)  # nbclient's timings differ on every run
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            if "exercise" in tags:
                source = cell_source(cell)
                if BEGIN not in source:
                    raise ValueError(f"{name}, cell {index}: tagged 'exercise' but has no {BEGIN} marker")
                set_cell_source(cell, strip_solution(source, f"{name}, cell {index}"))
        cells.append(cell)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def assign(solutions: str | Path = "solutions", exercises: str | Path = "exercises", check: bool = False) -> list[Path]:
    """Write ``exercises/`` from ``solutions/``; return the files that were (or, with ``check``, would be) changed."""
    solutions, exercises = Path(solutions), Path(exercises)
    if not solutions.is_dir():
        raise FileNotFoundError(f"solutions folder {solutions} does not exist")
    changed = []
    for path in sorted(solutions.glob("*.ipynb")):
        text = dumps_notebook(make_exercise_notebook(read_notebook(path), path.name))
        target = exercises / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                exercises.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    expected = {p.name for p in solutions.glob("*.ipynb")}
    for stale in sorted(exercises.glob("*.ipynb")):
        if stale.name not in expected:
            changed.append(stale)
            if not check:
                stale.unlink()
    return changed
