"""Benchmark: grade a class of 50 generated submissions in sandboxes and report seconds per submission.

Not a test. Run from the repository root:  .venv/bin/python benchmarks/grade_class.py [--students 50]
Submissions are built from the course's own notebooks (exercises/ handed out, solutions/ for the
answers): a third full solutions, a third untouched handouts, a third with one exercise wrong.
A run grades one assignment, so the class is split by assignment and each part graded in its own
run; the times add up.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import grader_helpers as H  # noqa: E402
from dlcourse.grading.extract import exercise_sources  # noqa: E402
from dlcourse.grading.grade import GradeOptions, grade  # noqa: E402
from dlcourse.grading.registry import exercises_of  # noqa: E402
from dlcourse.grading.sandbox import Limits  # noqa: E402
from dlcourse.nbtools import read_notebook  # noqa: E402


def course_assignments() -> list[str]:
    return sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb")
                  if (REPO / "exercises" / p.name).exists() and exercises_of(p.stem))


def make_class(folder: Path, students: int, honest_only: bool = False, only: list[str] | None = None) -> None:
    assignments = [a for a in course_assignments() if not only or a in only]
    if not assignments:
        raise SystemExit("no solutions/ + exercises/ notebook pair to build submissions from")
    for i in range(students):
        stem = assignments[i % len(assignments)]
        handout = read_notebook(REPO / "exercises" / f"{stem}.ipynb")
        exercises = exercises_of(stem)
        answers = exercise_sources(read_notebook(REPO / "solutions" / f"{stem}.ipynb"), [e.name for e in exercises])
        kind = "solution" if honest_only else ("solution", "stub", "wrong")[i % 3]
        if kind == "solution":
            nb = H.with_sources(handout, answers)
        elif kind == "stub":
            nb = handout
        else:
            first = exercises[(i // 3) % len(exercises)].name
            nb = H.with_sources(handout, {**answers, first: f"def {first}(*args):\n    return 0.0\n"})
        H.write_notebook(nb, folder / stem / f"student{i:03d}_{kind}.ipynb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--honest", action="store_true", help="every submission a full solution")
    parser.add_argument("--assignments", nargs="*", help="only these exercise notebooks (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        make_class(subs, args.students, args.honest, args.assignments)
        start = time.perf_counter()
        reports = []
        for part in sorted(subs.iterdir()):  # one run per assignment
            reports += grade([part], GradeOptions(out=out / part.name, jobs=args.jobs, assignment=part.name,
                                                  limits=Limits(wall_s=60), progress=True))
        seconds = time.perf_counter() - start
        by_kind: dict[str, list[float]] = {}
        for report in reports:
            by_kind.setdefault(report.student.rsplit("_", 1)[1], []).append(report.score / report.max_score)
    exercises = sum(len(r.results) for r in reports)
    print(f"graded {len(reports)} submissions ({exercises} sandboxed exercise runs) with {args.jobs} parallel "
          f"sandboxes in {seconds:.1f} s: {seconds / len(reports):.2f} s per submission (wall clock), "
          f"{seconds * args.jobs / exercises:.2f} core-seconds per exercise run")
    for kind, fractions in sorted(by_kind.items()):
        print(f"  {kind:8s}: {len(fractions)} submissions, mean score {100 * sum(fractions) / len(fractions):.0f}%")


if __name__ == "__main__":
    main()
