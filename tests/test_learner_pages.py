"""Contracts of every learner-facing page (the authoring rules of CONTRIBUTING.md, checked).

Learner pages are the chapter notebooks, the exercise notebooks (handouts and solutions) and the prose
pages of the book. The instructor pages (``book/instructor.md``, ``book/sources.md``) may talk about
the course's source notes; learner pages cite them by author, year and title only.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlcourse import nbtools

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb"))
NOTEBOOKS = CHAPTERS + EXERCISE_NOTEBOOKS
INSTRUCTOR_PAGES = {"instructor.md", "sources.md"}
PROSE = [p for p in sorted((ROOT / "book").glob("*.md")) if p.name not in INSTRUCTOR_PAGES]

# "seed 001", "Seeds 002", "in the seeds", "the seed notes": the notes' file names, which learners never see.
NOTES_JARGON = re.compile(r"\bseeds?\s*0\d\d\b|\bin the seeds\b|\bseed (?:notes?|documents?|files?)\b",
                          re.IGNORECASE)
DROPDOWN = re.compile(r"^\s*(`{3,}|:{3,})\{dropdown\}|<details", re.MULTILINE)
QUESTION = re.compile(r"\*Think about it[.:]\*")  # the question, not a mention of the name
MAX_CODE_LINE = 100


def _ids(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _cells(path: Path, kind: str) -> list[dict]:
    return [c for c in nbtools.read_notebook(path)["cells"] if c.get("cell_type") == kind]


def _markdown(path: Path) -> str:
    return "\n\n".join(nbtools.cell_source(c) for c in _cells(path, "markdown"))


def _learner_text(path: Path) -> str:
    """Markdown cells, and the comments and strings of code cells: everything a reader sees."""
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    return "\n".join(nbtools.cell_source(c) for c in nbtools.read_notebook(path)["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS + PROSE, ids=_ids)
def test_learner_pages_never_call_the_source_notes_seeds(path):
    found = sorted({m.group(0) for m in NOTES_JARGON.finditer(_learner_text(path))})
    assert not found, f"{path.name} names the notes by file ({found}): cite author, year and title instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_think_about_it_has_a_collapsed_answer_before_the_next_question(path):
    text = _markdown(path)
    starts = [m.start() for m in QUESTION.finditer(text)]
    for number, (start, end) in enumerate(zip(starts, starts[1:] + [len(text)]), start=1):
        assert DROPDOWN.search(text, start, end), (
            f"{path.name}: 'Think about it' number {number} has no collapsed answer "
            "(a ```{dropdown} block) before the next question"
        )


def test_the_answer_check_itself_can_fail():
    unanswered = "*Think about it.* Why?\n\nMore text.\n\n*Think about it.* And?\n```{dropdown} Answer\nBecause.\n```"
    starts = [m.start() for m in QUESTION.finditer(unanswered)]
    assert DROPDOWN.search(unanswered, starts[0], starts[1]) is None
    assert DROPDOWN.search(unanswered, starts[1]) is not None
    assert not QUESTION.search("Questions marked *Think about it* are for you")
    assert NOTES_JARGON.search("As seed 001 says") and NOTES_JARGON.search("In the seeds, ...")
    assert not NOTES_JARGON.search("seed_everything(0) with a random seed 0")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_code_cells_carry_nbval_markers_as_tags_not_comments(path):
    for cell in _cells(path, "code"):
        source = nbtools.cell_source(cell)
        assert not re.search(r"^\s*#\s*NBVAL_", source, flags=re.MULTILINE), (
            f"{path.name}: a reader-facing cell carries an nbval comment; use the cell tag "
            f"'nbval-check-output' instead:\n{source[:200]}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_code_lines_fit_the_page_width(path):
    for cell in _cells(path, "code"):
        for line in nbtools.cell_source(cell).splitlines():
            assert len(line) <= MAX_CODE_LINE, f"{path.name}: a code line of {len(line)} characters:\n{line}"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids)
def test_recap_ends_with_further_reading_and_the_exercises(path):
    text = _markdown(path)
    match = re.search(r"^#+ .*(Recap|Further reading).*$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert match, f"{path.name} has no recap section"
    tail = text[match.start():]
    links = re.findall(r"https?://\S+", tail)
    assert len(links) >= 2, f"{path.name}: the recap needs further reading with links, found {links}"
    if (ROOT / "solutions" / path.name).exists():
        assert f"exercises/{path.stem}" in tail, f"{path.name}: the recap must point to exercises/{path.stem}"
