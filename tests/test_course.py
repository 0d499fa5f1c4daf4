"""Course-wide contracts: exercises/ generated from solutions/, setup cells, exercise registry, table of contents."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlcourse import nbtools
from dlcourse.grading import exercises_of, grade_function
from dlcourse.grading.assign import assign, strip_solution
from dlcourse.grading.bank import MODULES
from dlcourse.grading.extract import defined_names
from exercise_helpers import load_function

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ALL_NOTEBOOKS = NOTEBOOKS + SOLUTIONS + sorted((ROOT / "exercises").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    return [c for c in nbtools.read_notebook(path)["cells"] if c.get("cell_type") == "code"]


def _exercise_cells(path: Path) -> list[dict]:
    return [c for c in _code_cells(path) if "exercise" in nbtools.cell_tags(c)]


def test_there_are_chapters_and_exercise_notebooks():
    assert len(NOTEBOOKS) >= 3 and len(SOLUTIONS) >= 2


def test_exercises_are_generated_from_solutions():
    stale = assign(ROOT / "solutions", ROOT / "exercises", check=True)
    assert stale == [], f"run `dlcourse assign` and commit: out of date {stale}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_first_code_cell_installs_when_missing_and_reports_the_mode(path):
    url = nbtools.repository_url(ROOT / "_config.yml")
    release = nbtools.release_ref(ROOT / "pyproject.toml")  # committed notebooks install the release tag
    cells = _code_cells(path)
    first = nbtools.cell_source(cells[0])
    assert first.startswith(nbtools.setup_block(url, release)), "run `dlcourse setup-cells` (then `dlcourse assign`)"
    assert "dlcourse.setup(" in first or "seed_everything(" in first
    for cell in cells[1:]:
        assert not re.search(r"^\s*[%!]\s*pip\b", nbtools.cell_source(cell), flags=re.MULTILINE), \
            "only the first cell may install packages"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_exercise_cell_is_registered_and_followed_by_its_check(path):
    assert path.stem in MODULES, f"add {path.stem} to dlcourse.grading.bank.MODULES"
    cells = nbtools.read_notebook(path)["cells"]
    names = []
    for index, cell in enumerate(cells):
        if "exercise" not in nbtools.cell_tags(cell):
            continue
        defined = defined_names(nbtools.cell_source(cell))
        assert len(defined) == 1, f"cell {index} must define exactly one top-level function, got {defined}"
        names.append(defined[0])
        follower = cells[index + 1] if index + 1 < len(cells) else {}
        assert "check" in nbtools.cell_tags(follower), f"cell {index} ({defined[0]}) needs a check cell after it"
        assert f"check({defined[0]})" in nbtools.cell_source(follower)
    assert names == [ex.name for ex in exercises_of(path.stem)]
    assert len(names) >= 3


EXERCISE_CELLS = [
    pytest.param(path.stem, nbtools.cell_source(cell), id=f"{path.stem}.{defined_names(nbtools.cell_source(cell))[0]}")
    for path in SOLUTIONS for cell in _exercise_cells(path)
]


def _define(source: str):
    (name,) = defined_names(source)
    return name, load_function(source, name)  # the cell alone, as the grader runs it


@pytest.mark.parametrize("notebook, source", EXERCISE_CELLS)
def test_solution_scores_full_marks_and_stub_scores_zero(notebook, source):
    name, solution = _define(source)
    for seed in (0, 1):
        result = grade_function(f"{notebook}.{name}", solution, seed=seed)
        assert result.score == result.max_score, result.output
    _, stub = _define(strip_solution(source))
    assert grade_function(f"{notebook}.{name}", stub, seed=0).score == 0.0


def test_table_of_contents_lists_every_notebook():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS + sorted((ROOT / "exercises").glob("*.ipynb")):
        assert f"{path.parent.name}/{path.stem}" in toc, f"{path} is missing from _toc.yml"
