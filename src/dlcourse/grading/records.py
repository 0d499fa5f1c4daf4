"""What ``dlcourse grade`` writes: Gradescope results, the gradebook, each file atomically.

Untrusted text is neutralised at each sink (:mod:`~dlcourse.grading.sinks`): control characters in
every ``output``, formulas in the gradebook's ``submission`` cells. A result file is trusted back
only when it is a plain file of bounded size that this grader wrote (its ``GRADER_TAG``).
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .registry import Registry
from .sinks import csv_cell, feedback_text

if TYPE_CHECKING:
    from .grade import SubmissionReport
    from .scoring import ExerciseResult

GRADER_TAG = "dlcourse-grade-2"  # 2: public-case tests, status, execution_time
GRADEBOOK = "gradebook.csv"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's per-test values


def _public_test(result: "ExerciseResult") -> dict[str, Any]:
    """The score-less test that shows one exercise's public cases (always visible: the handout shows them)."""
    passed, total = result.public_passed, len(result.public)
    lines = [f"{passed}/{total} public cases passed (the cases of the notebook's self-check; they score no points)."]
    for case in result.public:
        if not case["passed"]:
            lines.append(f"public case {case['label'] or '(unnamed)'}: {case['feedback']}")
    return {"name": f"{result.exercise_id} (public cases)", "score": 0.0, "max_score": 0.0,
            "status": "passed" if passed == total else "failed", "visibility": "visible",
            "output": feedback_text("\n".join(lines)),
            "extra_data": {"exercise": result.exercise_id, "cases": "public", "passed": passed, "total": total,
                           "details": result.public}}


def _hidden_test(result: "ExerciseResult", visibility: str) -> dict[str, Any]:
    """The scored test of one exercise: its hidden cases."""
    return {"name": result.exercise_id, "score": result.score, "max_score": result.max_score,
            "status": "passed" if result.score >= result.max_score else "failed",
            "visibility": visibility, "execution_time": result.seconds, "output": feedback_text(result.output),
            "extra_data": {"exercise": result.exercise_id, "cases": "hidden", "passed": result.passed,
                           "total": result.total, "run": result.status}}


def results_json(report: "SubmissionReport", seed: int, digest: str, bank: str = "", complete: bool = True,
                 hidden_visibility: str = "visible") -> dict[str, Any]:
    """Gradescope's ``results.json`` shape, plus what a re-run needs to know it is up to date.

    Per exercise, a score-less, always visible test with the public cases (given, expected and
    received values in its ``extra_data``) when the exercise has any, then the scored test of the
    hidden cases, with ``hidden_visibility``. ``output`` texts have their control characters escaped
    (newlines kept); ``extra_data`` keeps the exact student id. ``complete=False`` marks a result the
    grader could not finish (regraded next run).
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}")
    tests = []
    for r in report.results:
        if r.public:
            tests.append(_public_test(r))
        tests.append(_hidden_test(r, hidden_visibility))
    lines = [f"Assignment {report.assignment or '(unknown)'}: {report.score:g} / {report.max_score:g} points."]
    lines += report.notes
    if not tests:
        tests = [{"name": "submission", "score": 0.0, "max_score": 0.0, "status": "failed",
                  "output": feedback_text("\n".join(report.notes)), "visibility": "visible"}]
    return {"score": report.score, "max_score": report.max_score, "output": feedback_text("\n".join(lines)),
            "execution_time": round(sum(r.seconds for r in report.results), 3),
            "tests": tests,
            "extra_data": {"dlcourse": {"grader": GRADER_TAG, "student": report.student, "file": f"{report.key}.json",
                                        "assignment": report.assignment, "seed": seed, "sha256": digest,
                                        "bank": bank, "complete": complete}}}


def load_graded(path: Path) -> dict[str, Any] | None:
    """A result file this grader wrote, or ``None`` (missing, unreadable, forged or of another tool)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > (8 << 20):
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = data["extra_data"]["dlcourse"]
        row_of(data)
    except (OSError, ValueError, KeyError, TypeError, RecursionError, ArithmeticError):  # e.g. a 400-digit score
        return None
    return data if isinstance(meta, dict) and meta.get("grader") == GRADER_TAG else None


def gradebook_csv(rows: dict[str, dict[str, Any]], registry: Registry | None = None) -> str:
    """One row per submission: submission, one column per exercise id, total, max_total.

    The submission cell is made safe for spreadsheets (:func:`~dlcourse.grading.sinks.csv_cell`).
    """
    order = list((registry or Registry.load()).exercises)
    seen = {ex_id for row in rows.values() for ex_id in row["scores"]}
    columns = [e for e in order if e in seen] + sorted(seen - set(order))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: a CR or LF inside a cell is then quoted
    writer.writerow(["submission", *columns, "total", "max_total"])
    for student in sorted(rows):
        row = rows[student]
        writer.writerow([csv_cell(student), *(f"{row['scores'][c]:g}" if c in row["scores"] else "" for c in columns),
                         f"{row['total']:g}", f"{row['max_total']:g}"])
    return buffer.getvalue()


def scored_tests(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The tests of a results file that carry an exercise's score (not its public cases, not "submission")."""
    return [t for t in data["tests"] if t["name"] != "submission"
            and (t.get("extra_data") or {}).get("cases", "hidden") == "hidden"]


def row_of(data: dict[str, Any]) -> dict[str, Any]:
    scores = {t["name"]: float(t["score"]) for t in scored_tests(data)}
    return {"scores": scores, "total": float(data["score"]), "max_total": float(data["max_score"])}
