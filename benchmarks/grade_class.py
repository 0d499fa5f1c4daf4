"""Benchmark: grade a class of generated submissions in sandboxes; report seconds per submission and where they go.

Not a test. Run from the repository root:

    .venv/bin/python benchmarks/grade_class.py --students 200 --jobs 2 [--assignments 01_perceptron ...]

Submissions are built from the course's own notebooks (exercises/ handed out, solutions/ for the
answers): a third full solutions, a third untouched handouts, a third with one exercise wrong,
spread over the exercise notebooks in turn. A run grades one assignment, so the class is split by
assignment and each part graded in its own run; the times add up.

Two measurements:

* phases (``--repeats`` runs each, one at a time, median wall seconds and median CPU seconds of the
  children): an empty sandbox (bubblewrap + launcher + namespaces + cgroup), a sandbox that starts
  Python, one that imports NumPy, one that imports NumPy and PyTorch;
* the class: wall seconds, CPU seconds of all child processes (``getrusage(RUSAGE_CHILDREN)``) and
  of the grader itself, split into time inside ``Sandbox.run``/``Sandbox.run_batch`` (summed over
  the parallel sandboxes), the number of sandboxes started, and the grader's work outside them
  (staging, reading back, scoring).

``--json FILE`` also writes every number. The load of the machine (``os.getloadavg``) is printed
before and after: times on a shared machine are noisy, CPU seconds less so.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import grader_helpers as H  # noqa: E402
from dlcourse.grading.extract import exercise_sources  # noqa: E402
from dlcourse.grading.grade import GradeOptions, grade  # noqa: E402
from dlcourse.grading.registry import exercises_of  # noqa: E402
from dlcourse.grading.sandbox import Limits, Sandbox, share  # noqa: E402
from dlcourse.nbtools import read_notebook  # noqa: E402


def course_assignments() -> list[str]:
    return sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb")
                  if (REPO / "exercises" / p.name).exists() and exercises_of(p.stem))


def make_class(folder: Path, students: int, honest_only: bool = False, only: list[str] | None = None,
               torch: bool = False) -> None:
    """Write the class: ``torch`` adds ``import torch`` to every exercise cell (students who use PyTorch)."""
    assignments = [a for a in course_assignments() if not only or a in only]
    if not assignments:
        raise SystemExit("no solutions/ + exercises/ notebook pair to build submissions from")
    for i in range(students):
        stem = assignments[i % len(assignments)]
        handout = read_notebook(REPO / "exercises" / f"{stem}.ipynb")
        exercises = exercises_of(stem)
        answers = exercise_sources(read_notebook(REPO / "solutions" / f"{stem}.ipynb"), [e.name for e in exercises])
        if torch:
            answers = {name: "import torch\n" + source for name, source in answers.items()}
        kind = "solution" if honest_only else ("solution", "stub", "wrong")[i % 3]
        if kind == "solution":
            nb = H.with_sources(handout, answers)
        elif kind == "stub":
            nb = handout
        else:
            first = exercises[(i // 3) % len(exercises)].name
            nb = H.with_sources(handout, {**answers, first: f"def {first}(*args):\n    return 0.0\n"})
        H.write_notebook(nb, folder / stem / f"student{i:03d}_{kind}.ipynb")


_CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _join_cpuacct() -> Path | None:
    """Move this process into a cpuacct cgroup of its own (cgroup v1, root): it then counts every descendant.

    ``getrusage(RUSAGE_CHILDREN)`` misses the processes inside a sandbox (bubblewrap's PID namespace
    reaps them, not the grader), so where this cgroup can be made, it is what counts CPU seconds.
    """
    folder = _CPUACCT / f"dlcourse-bench-{os.getpid()}"
    try:
        folder.mkdir()
        (folder / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    return folder


CPUACCT = None


def _children_cpu() -> float:
    """CPU seconds of every process this one started (and of itself, where a cpuacct cgroup counts them)."""
    if CPUACCT is not None:
        return int((CPUACCT / "cpuacct.usage").read_text()) / 1e9 - _self_cpu()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- phases

PHASES = {
    "empty sandbox (bwrap + launcher + namespaces + cgroup)": ["/bin/true"],
    "sandbox + Python start": ["{python}", "-I", "-S", "-B", "-c", "pass"],
    "sandbox + Python + import numpy": ["{python}", "-I", "-S", "-B", "-c", "import sys; sys.path.extend({site!r}); "
                                        "import numpy"],
    "sandbox + Python + import numpy, torch": ["{python}", "-I", "-S", "-B", "-c", "import sys; "
                                               "sys.path.extend({site!r}); import numpy, torch"],
}


def measure_phases(repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and child-CPU seconds of each phase, run one at a time."""
    stage = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
    box = Sandbox(enabled=True, stage_dir=stage)
    found = {}
    try:
        for name, template in PHASES.items():
            argv = [part.format(python=box.python, site=box.site_dirs) for part in template]
            walls, cpus = [], []
            for i in range(repeats):
                result = stage / f"result-{len(found)}-{i}"
                share(stage, box.root_mode)
                box.prepare_result_file(result)
                cpu, start = _children_cpu(), time.perf_counter()
                outcome = box.run(argv, {}, (str(result), "/sandbox/result"), Limits(wall_s=120))
                walls.append(time.perf_counter() - start)
                cpus.append(_children_cpu() - cpu)
                if outcome.returncode != 0:
                    raise SystemExit(f"phase {name!r} failed: {outcome.output_tail[-500:]}")
            found[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}
    finally:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
    return found


# ----------------------------------------------------------------------------- the class

class _Timer:
    """Wraps the sandbox's run methods: seconds spent inside them (summed over threads) and how many ran."""

    def __init__(self) -> None:
        self.seconds, self.sandboxes, self.lock = 0.0, 0, threading.Lock()
        self.saved = {}

    def __enter__(self) -> "_Timer":
        for name in ("run", "run_batch"):
            real = getattr(Sandbox, name, None)
            if real is None:
                continue
            self.saved[name] = real
            setattr(Sandbox, name, self._wrap(real))
        return self

    def _wrap(self, real):
        def timed(box, *args, **kwargs):
            start = time.perf_counter()
            try:
                return real(box, *args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - start
                    self.sandboxes += 1
        return timed

    def __exit__(self, *exc) -> None:
        for name, real in self.saved.items():
            setattr(Sandbox, name, real)


def grade_the_class(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        make_class(subs, args.students, args.honest, args.assignments, args.torch)
        cpu_children, cpu_self = _children_cpu(), _self_cpu()
        start = time.perf_counter()
        reports = []
        with _Timer() as timer:
            for part in sorted(subs.iterdir()):  # one run per assignment
                reports += grade([part], GradeOptions(out=out / part.name, jobs=args.jobs, assignment=part.name,
                                                      limits=Limits(wall_s=60), progress=args.progress))
        seconds = time.perf_counter() - start
        by_kind: dict[str, list[float]] = {}
        for report in reports:
            by_kind.setdefault(report.student.rsplit("_", 1)[1], []).append(report.score / report.max_score)
    n = len(reports)
    runs = sum(len(r.results) for r in reports)
    statuses: dict[str, int] = {}
    for report in reports:
        for result in report.results:
            statuses[result.status] = statuses.get(result.status, 0) + 1
    exercise_s = sum(result.seconds or 0.0 for report in reports for result in report.results)
    return {"submissions": n, "exercise_runs": runs, "exercise_s_summed": exercise_s, "jobs": args.jobs,
            "wall_s": seconds,
            "wall_s_per_submission": seconds / n, "children_cpu_s": _children_cpu() - cpu_children,
            "grader_cpu_s": _self_cpu() - cpu_self, "sandboxes": timer.sandboxes,
            "sandbox_s_summed": timer.seconds, "statuses": statuses,
            "errors": sum(r.error is not None for r in reports),
            "mean_score_by_kind": {k: sum(v) / len(v) for k, v in sorted(by_kind.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--honest", action="store_true", help="every submission a full solution")
    parser.add_argument("--assignments", nargs="*", help="only these exercise notebooks (default: all)")
    parser.add_argument("--torch", action="store_true", help="every answered exercise cell imports torch")
    parser.add_argument("--repeats", type=int, default=7, help="runs of each phase (median)")
    parser.add_argument("--no-phases", action="store_true", help="skip the phase measurements")
    parser.add_argument("--no-class", action="store_true", help="skip grading the class")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args()
    global CPUACCT
    CPUACCT = _join_cpuacct()
    found: dict = {"load_before": os.getloadavg(), "cores": os.cpu_count(),
                   "cpu_counted_by": "cpuacct cgroup" if CPUACCT else "getrusage(RUSAGE_CHILDREN)"}
    print(f"load average before: {found['load_before']}, {found['cores']} cores; CPU counted by "
          f"{found['cpu_counted_by']}")
    if not args.no_phases:
        found["phases"] = measure_phases(args.repeats)
        for name, values in found["phases"].items():
            print(f"  {name:55s} {values['wall_s']:.3f} s wall, {values['cpu_s']:.3f} s CPU (median of {args.repeats})")
    if not args.no_class:
        found["class"] = c = grade_the_class(args)
        n = c["submissions"]
        outside = c["wall_s"] * args.jobs - c["sandbox_s_summed"]
        print(f"graded {n} submissions ({c['exercise_runs']} exercises, {c['sandboxes']} sandboxes started) with "
              f"{args.jobs} parallel sandboxes in {c['wall_s']:.1f} s: {c['wall_s_per_submission']:.3f} s per "
              f"submission (wall clock)")
        print(f"  CPU: {c['children_cpu_s'] / n:.3f} s per submission in child processes (sandboxes), "
              f"{c['grader_cpu_s'] / n:.3f} s in the grader")
        print(f"  inside Sandbox.run*: {c['sandbox_s_summed'] / n:.3f} sandbox-seconds per submission; outside "
              f"(staging, reading back, scoring, idle slots): {outside / n:.3f} slot-seconds per submission")
        print(f"  per-exercise seconds (results.json execution_time) summed: {c['exercise_s_summed'] / n:.3f} s per "
              "submission (one sandbox per exercise: the whole sandbox run; per submission: the exercise's child)")
        print(f"  statuses: {c['statuses']}; grader errors: {c['errors']}")
        for kind, mean in c["mean_score_by_kind"].items():
            print(f"  {kind:8s}: mean score {100 * mean:.0f}%")
    found["load_after"] = os.getloadavg()
    print(f"load average after: {found['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    if CPUACCT is not None:
        (_CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        CPUACCT.rmdir()


if __name__ == "__main__":
    main()
