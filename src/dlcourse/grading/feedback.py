"""``dlcourse feedback``: one self-contained HTML page per student, made from their results file.

A page shows the score, then per exercise what passed and what failed: the hidden cases as
"k of n passed" with the grader's feedback lines and hints (which never hold a hidden expected
value), and every public case with what was given, expected and received. A results file is
read as untrusted data (:func:`read_result`): it must be one that ``dlcourse grade`` wrote
(:func:`~dlcourse.grading.records.load_graded`), every field must have the documented type, and
sizes are capped; a file that fails is skipped with a note, the others go on. Every string is
escaped where it is written (:func:`~dlcourse.grading.htmlpage.esc`).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .htmlpage import esc, mark, page, points
from .intake import student_key
from .records import atomic_write, load_graded
from .sinks import terminal_text

MAX_TESTS = 200  # tests of one results file that are read
MAX_CASES = 50  # public cases shown per exercise
MAX_LINES = 20  # feedback lines shown per exercise
MAX_TEXT = 2000  # characters of one string shown
MAX_DEPTH = 8  # nesting of a value shown
MAX_ITEMS = 64  # elements of a list shown
RUN_NOTES = {  # how an exercise's run ended (extra_data.run), for a student
    "timeout": "Timed out: your code did not finish within the time limit.",
    "memory": "Stopped: your code used more memory than allowed.",
    "crashed": "Crashed: your code ended the program or was killed before it returned.",
    "missing": "Not found: no exercise cell defines this function.",
    "not_graded": "Not graded: see the note at the top of this page.",
    "grader_error": "Grader error: the grader could not run this exercise; your instructor will re-run it.",
}
_HINT = re.compile(r"\s*\bHint: ")


@dataclass
class PublicCase:
    """One public case as shown: its label, whether it passed, its values and what went wrong."""

    label: str
    passed: bool
    given: dict[str, Any]
    expected: list[Any]
    received: list[Any] | None
    feedback: str


@dataclass
class ExerciseView:
    """One exercise of a results file: score, hidden-case counts and feedback, public cases."""

    id: str
    score: float = 0.0
    max_score: float = 0.0
    passed: int = 0
    total: int = 0
    run: str = "ran"
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)
    public: list[PublicCase] = field(default_factory=list)
    public_total: int = 0
    scored: bool = False  # a scored (hidden-case) test was found

    @property
    def full(self) -> bool:
        """Full marks on a run that ended normally."""
        return self.scored and self.score >= self.max_score and self.run == "ran"


@dataclass
class StudentResult:
    """What one results file says, checked and bounded."""

    key: str
    student: str
    assignment: str
    score: float
    max_score: float
    seconds: float
    notes: list[str]
    exercises: list[ExerciseView]
    complete: bool = True


# ----------------------------------------------------------------------------- reading

def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected text, got {type(value).__name__}")
    return value[:MAX_TEXT]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: expected a finite number, got {value!r:.40}")
    return float(value)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what}: expected a count, got {value!r:.40}")
    return value


def _public_case(raw: Any) -> PublicCase:
    if not isinstance(raw, dict) or not isinstance(raw.get("given"), dict) \
            or not isinstance(raw.get("expected"), list) or not isinstance(raw.get("received"), (list, type(None))):
        raise ValueError("a public case is not an object with given, expected and received")
    given = {_text(k, "argument name"): v for k, v in list(raw["given"].items())[:MAX_ITEMS]}
    return PublicCase(_text(raw.get("label", ""), "label"), raw.get("passed") is True, given,
                      raw["expected"][:MAX_ITEMS], raw["received"][:MAX_ITEMS] if raw["received"] is not None
                      else None, _text(raw.get("feedback", ""), "feedback"))


def _add_test(test: Any, views: dict[str, ExerciseView], notes: list[str]) -> None:
    """Fold one test of the results file into the exercise it belongs to (or a note)."""
    if not isinstance(test, dict):
        raise ValueError("a test is not an object")
    output = _text(test.get("output", ""), "output")
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    if test.get("name") == "submission" or "exercise" not in extra:
        notes += [line for line in output.split("\n") if line.strip()][:MAX_LINES]
        return
    ex_id = _text(extra["exercise"], "exercise")
    view = views.setdefault(ex_id, ExerciseView(ex_id))
    if extra.get("cases") == "public":
        details = extra.get("details")
        if not isinstance(details, list):
            raise ValueError(f"the public cases of {ex_id} have no list of details")
        view.public = [_public_case(c) for c in details[:MAX_CASES]]
        view.public_total = len(details)
        return
    view.scored = True
    view.score, view.max_score = _number(test.get("score"), "score"), _number(test.get("max_score"), "max_score")
    view.passed, view.total = _count(extra.get("passed"), "passed"), _count(extra.get("total"), "total")
    view.run = _text(extra.get("run", "ran"), "run")
    view.seconds = _number(test.get("execution_time", 0.0), "execution_time")
    view.lines = [line for line in output.split("\n")[1:] if line.strip()][:MAX_LINES]


def parse_result(data: dict[str, Any], key: str) -> StudentResult:
    """Check a loaded results file field by field; ``ValueError`` names the first field that is wrong."""
    meta = data["extra_data"]["dlcourse"]
    student = _text(meta.get("student"), "student")
    if student_key(student) != key:
        raise ValueError("its file name is not the one dlcourse grade gives this student's results")
    tests = data.get("tests")
    if not isinstance(tests, list) or len(tests) > MAX_TESTS:
        raise ValueError(f"tests: expected a list of at most {MAX_TESTS} tests")
    views: dict[str, ExerciseView] = {}
    output = _text(data.get("output", ""), "output").split("\n")
    notes = [line for line in output[1:] if line.strip()][:MAX_LINES]  # the first line is the score
    for test in tests:
        _add_test(test, views, notes)
    assignment = meta.get("assignment")
    return StudentResult(key, student, _text(assignment, "assignment") if assignment is not None else "(unknown)",
                         _number(data.get("score"), "score"), _number(data.get("max_score"), "max_score"),
                         _number(data.get("execution_time", 0.0), "execution_time"), list(dict.fromkeys(notes)),
                         list(views.values()),
                         meta.get("complete", True) is True)


def read_result(path: Path) -> StudentResult:
    """The checked content of one results file; ``ValueError`` says why it cannot be used."""
    try:
        data = load_graded(path)
    except (ArithmeticError, MemoryError):  # e.g. a 400-digit integer score: float() overflows
        data = None
    if data is None:
        raise ValueError("not a results file written by dlcourse grade (unreadable, too large, nested too "
                         "deeply, or of another tool)")
    try:
        return parse_result(data, path.stem)
    except (KeyError, TypeError, AttributeError, RecursionError, ArithmeticError) as err:
        raise ValueError(f"malformed results file ({type(err).__name__})") from None


def read_folder(folder: Path) -> tuple[list[StudentResult], list[str]]:
    """Every usable results file of a ``dlcourse grade`` output folder, and a note per file skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of results (the --out folder of dlcourse grade)")
    results, notes = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            results.append(read_result(path))
        except ValueError as err:
            notes.append(f"skipped {path.name}: {err}")
    return results, notes


# ----------------------------------------------------------------------------- values as text

def _scalar(x: Any) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.8g}"
    if x is None:
        return "None"
    if isinstance(x, str):
        return x if x in ("nan", "inf", "-inf") else repr(x[:MAX_TEXT])
    return "?"


def _nested(x: Any, depth: int = 0) -> str:
    """Nested lists of numbers as compact brackets (bounded in depth and length)."""
    if not isinstance(x, (list, dict)):
        return _scalar(x)
    if depth >= MAX_DEPTH:
        return "[...]"
    if isinstance(x, dict):
        return value_text(x, depth + 1)
    items = [_nested(v, depth + 1) for v in x[:MAX_ITEMS]]
    return "[" + ", ".join(items + (["..."] if len(x) > MAX_ITEMS else [])) + "]"


def _shape(info: dict[str, Any]) -> tuple[list[int], int]:
    shape = info.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in shape) or len(shape) > 32:
        return [], -1
    size = 1
    for n in shape:
        size *= n
    return shape, size


def value_text(value: Any, depth: int = 0) -> str:
    """One VALUE of the results (:func:`~dlcourse.grading.casedata.describe`) as compact plain text.

    Arrays read ``float64 (2, 3): [[...], [...]]``; an array shown only in part says so:
    ``float64 (100,): first 16 of 100 values (truncated): [...]``.
    """
    if not isinstance(value, dict):
        return _nested(value, depth)
    shape, size = _shape(value)
    dims = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    dtype = value.get("dtype")
    head = f"{dtype[:20] if isinstance(dtype, str) else '?'} {dims}"
    values = _nested(value.get("values"), depth)
    if value.get("truncated") is True:
        shown = len(value["values"]) if isinstance(value.get("values"), list) else 0
        return f"{head}: first {shown} of {size if size >= 0 else '?'} values (truncated): {values[:-1]}, ...]"
    return f"{head}: {values}"


# ----------------------------------------------------------------------------- the page

def feedback_html(line: str) -> str:
    """One feedback line, its hints set apart (``Hint: ...``), escaped."""
    message, *hints = _HINT.split(line)
    parts = [f'<span class="wrap">{esc(message)}</span>'] if message.strip() else []
    parts += [f'<div class="hint"><strong>Hint:</strong> <span class="wrap">{esc(h)}</span></div>' for h in hints]
    return "".join(parts)


def _case_table(case: PublicCase, index: int) -> str:
    rows = [("Given", "<br>".join(f"<code>{esc(k)}</code> = <span class=\"value\">{esc(value_text(v))}</span>"
                                  for k, v in case.given.items()) or "(no arguments)"),
            ("Expected", "<br>".join(f'<span class="value">{esc(value_text(v))}</span>' for v in case.expected)),
            ("Received", "<br>".join(f'<span class="value">{esc(value_text(v))}</span>' for v in case.received)
             if case.received is not None else "nothing: the call raised an error or the run failed")]
    if not case.passed:
        rows.append(("What went wrong", feedback_html(case.feedback)))
    body = "".join(f'<tr><th scope="row">{name}</th><td>{cell}</td></tr>' for name, cell in rows)
    label = esc(case.label or "(unnamed)")
    return (f'<table class="case"><caption>Public case {index}: <span class="wrap">{label}</span> '
            f'&mdash; {mark(case.passed)}</caption><tbody>{body}</tbody></table>')


def _exercise_section(view: ExerciseView, index: int) -> str:
    out = [f'<section aria-labelledby="ex-{index}"><h2 id="ex-{index}"><span class="wrap">{esc(view.id)}</span></h2>',
           f"<p>{mark(view.full)} &mdash; <strong>{points(view.score)} / {points(view.max_score)}</strong> points</p>"]
    if view.run in RUN_NOTES:
        out.append(f'<p class="note"><span class="warn">&#9888; {esc(RUN_NOTES[view.run])}</span></p>')
    if view.scored:
        out.append(f"<h3>Hidden cases: {view.passed} of {view.total} passed</h3>")
        out.append("<p class=\"meta\">The hidden cases are drawn when grading; their expected values are not "
                   "shown, only what went wrong.</p>")
        if view.lines:
            out.append("<ul>" + "".join(f"<li>{feedback_html(line)}</li>" for line in view.lines) + "</ul>")
    if view.public or view.public_total:
        passed = sum(c.passed for c in view.public)
        out.append(f"<h3>Public cases: {passed} of {view.public_total} passed</h3>")
        out.append("<p class=\"meta\">The cases of the notebook's self-check (they score no points).</p>")
        out += [_case_table(case, i) for i, case in enumerate(view.public, start=1)]
        if view.public_total > len(view.public):
            out.append(f"<p>{view.public_total - len(view.public)} more public cases are not shown.</p>")
    out.append("</section>")
    return "\n".join(out)


def _summary_table(result: StudentResult) -> str:
    rows = []
    for view in result.exercises:
        hidden = f"{view.passed} / {view.total}" if view.scored else "&ndash;"
        public = f"{sum(c.passed for c in view.public)} / {view.public_total}" if view.public_total else "&ndash;"
        rows.append(f'<tr><th scope="row" class="wrap">{esc(view.id)}</th><td class="num">{points(view.score)} / '
                    f'{points(view.max_score)}</td><td class="num">{hidden}</td><td class="num">{public}</td>'
                    f"<td>{mark(view.full)}</td></tr>")
    return ('<div class="scroll"><table><caption>Per exercise</caption><thead><tr><th scope="col">Exercise</th>'
            '<th scope="col" class="num">Points</th><th scope="col" class="num">Hidden cases</th>'
            '<th scope="col" class="num">Public cases</th><th scope="col">Result</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def student_page(result: StudentResult) -> str:
    """The whole feedback page of one student."""
    share = f" ({100 * result.score / result.max_score:.0f}%)" if result.max_score > 0 else ""
    body = [f'<h1>Feedback for <span class="wrap">{esc(result.student)}</span></h1>',
            f"<p>Assignment <strong>{esc(result.assignment)}</strong>: <strong>{points(result.score)} / "
            f"{points(result.max_score)}</strong> points{share}.</p>"]
    notes = list(result.notes) + ([] if result.complete else ["This result is provisional: the grader did not "
                                                              "finish, and your instructor will re-run it."])
    if notes:
        body.append('<div class="note"><h2>Notes</h2><ul>' + "".join(f'<li class="wrap">{esc(n)}</li>'
                                                                       for n in notes) + "</ul></div>")
    if result.exercises:
        body.append(_summary_table(result))
    body += [_exercise_section(view, i) for i, view in enumerate(result.exercises, start=1)]
    return page(f"Feedback: {result.student}", "\n".join(body))


def write_pages(results: list[StudentResult], folder: Path) -> list[Path]:
    """Write ``folder/<key>.html`` for every result (atomically); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for result in results:
        path = folder / f"{result.key}.html"
        atomic_write(path, student_page(result))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- the command

def _cmd_feedback(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results, notes = read_folder(out)
    for note in notes:
        print(f"WARNING: {terminal_text(note)}", file=sys.stderr)
    if not results:
        raise ValueError(f"no results files of dlcourse grade in {out} (expected <student>.json files)")
    folder = Path(args.to) if args.to else out / "feedback"
    paths = write_pages(results, folder)
    print(f"wrote {len(paths)} feedback page(s) to {terminal_text(str(folder))}; skipped {len(notes)} file(s)")
    return 0


def register(sub: Any) -> None:
    """Add ``dlcourse feedback`` to the command's subparsers."""
    cmd = sub.add_parser("feedback", help="write one self-contained HTML feedback page per graded student")
    cmd.add_argument("out", help="the --out folder of dlcourse grade (its <student>.json results)")
    cmd.add_argument("--to", default=None, help="folder for the pages (default: OUT/feedback)")
    cmd.set_defaults(func=_cmd_feedback)
