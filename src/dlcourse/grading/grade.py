"""``dlcourse grade``: grade student notebooks in sandboxes; write a gradebook and Gradescope results.

For every submission (a notebook; its file stem is the student id) the exercise cells are found
(:func:`~dlcourse.grading.extract.exercise_sources`), each exercise runs in its own sandbox on the
hidden inputs (:mod:`~dlcourse.grading.sandbox`, :mod:`~dlcourse.grading.sandbox_entry`), and what
comes back, plain arrays, is scored here against the reference (:func:`~dlcourse.grading.scoring.score_outputs`).
Results are written as they complete, each file atomically (temporary file + ``os.replace``), so a
run that is killed leaves a consistent gradebook and a re-run resumes where it stopped.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..nbtools import cell_source, cell_tags, read_notebook
from .extract import defined_names, exercise_sources
from .registry import Registry
from .sandbox import Limits, Outcome, Sandbox
from .sandbox_entry import ResultError, decode_result, encode_inputs
from .scoring import ExerciseResult, score_outputs
from .spec import Exercise

GRADER_TAG = "dlcourse-grade-1"
GRADEBOOK = "gradebook.csv"
_GRADEKIT = ("runner.py", "outputs.py", "fixtures.py")  # the untrusted-side modules copied into the sandbox
_SIGNAL_HINTS = {
    24: "used more CPU time than allowed (SIGXCPU): look for an infinite loop or a far too slow method",
    25: "tried to write a file larger than allowed (SIGXFSZ); an exercise function should not write files",
    9: "was killed: it went over a limit (memory, CPU time or number of processes)",
    11: "crashed with a segmentation fault",
    6: "aborted (SIGABRT), often a library running out of memory or threads",
}


@dataclass
class GradeOptions:
    """What ``dlcourse grade`` was asked to do."""

    out: Path
    seed: int = 0
    assignment: str | None = None
    jobs: int | None = None
    force: bool = False
    sandbox: bool = True
    limits: Limits = field(default_factory=Limits)
    progress: bool = True
    registry: Registry | None = None  # the exercises to grade against (default: the built-in bank)


@dataclass
class SubmissionReport:
    """The outcome for one submission; ``error`` is set when the GRADER failed (nothing was written)."""

    student: str
    path: Path
    assignment: str | None
    results: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: bool = False
    error: str | None = None
    digest: str = ""

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 6)


# ----------------------------------------------------------------------------- finding submissions

def find_submissions(paths: list[str | Path]) -> list[Path]:
    """Files as given, and the ``*.ipynb`` files directly inside given folders, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"submission {path} does not exist")
    stems = Counter(p.stem for p in found)
    clashes = sorted(stem for stem, n in stems.items() if n > 1)
    if clashes:
        raise ValueError(f"several submissions share a student id (file stem): {', '.join(clashes)}")
    bad = [p.name for p in found if p.stem.startswith(".") or p.stem == ""]
    if bad:
        raise ValueError(f"a submission's file stem must name the student: {', '.join(bad)}")
    return found


def detect_assignment(nb: dict[str, Any], registry: Registry | None = None) -> str | None:
    """The exercise notebook a submission answers: the one whose exercise functions it defines most.

    Ties (or no function at all) fall back to ``metadata.dlcourse.assignment`` when present.
    """
    exercises = (registry or Registry.load()).exercises
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            names.update(defined_names(cell_source(cell)))
    counts = Counter(ex.notebook for ex in exercises.values() if ex.name in names)
    best = counts.most_common()
    meta = nb.get("metadata", {}).get("dlcourse", {}) if isinstance(nb.get("metadata"), dict) else {}
    hinted = meta.get("assignment") if isinstance(meta, dict) else None
    if best and (len(best) == 1 or best[0][1] > best[1][1]):
        return best[0][0]
    notebooks = {ex.notebook for ex in exercises.values()}
    if hinted in notebooks and (not best or counts[hinted] == best[0][1]):
        return hinted
    return None


# ----------------------------------------------------------------------------- writing results

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


def results_json(report: SubmissionReport, seed: int, digest: str, bank: str = "") -> dict[str, Any]:
    """Gradescope's ``results.json`` shape, plus what a re-run needs to know it is up to date."""
    tests = [{"name": r.exercise_id, "score": r.score, "max_score": r.max_score, "output": r.output,
              "visibility": "visible"} for r in report.results]
    lines = [f"Assignment {report.assignment or '(unknown)'}: {report.score:g} / {report.max_score:g} points."]
    lines += report.notes
    if not tests:
        tests = [{"name": "submission", "score": 0.0, "max_score": 0.0, "output": "\n".join(report.notes),
                  "visibility": "visible"}]
    return {"score": report.score, "max_score": report.max_score, "output": "\n".join(lines), "tests": tests,
            "extra_data": {"dlcourse": {"grader": GRADER_TAG, "student": report.student,
                                        "assignment": report.assignment, "seed": seed, "sha256": digest,
                                        "bank": bank}}}


def _load_graded(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = data["extra_data"]["dlcourse"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if isinstance(meta, dict) and meta.get("grader") == GRADER_TAG else None


def gradebook_csv(rows: dict[str, dict[str, Any]], registry: Registry | None = None) -> str:
    """One row per submission: submission, one column per exercise id, total, max_total."""
    order = list((registry or Registry.load()).exercises)
    seen = {ex_id for row in rows.values() for ex_id in row["scores"]}
    columns = [e for e in order if e in seen] + sorted(seen - set(order))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", *columns, "total", "max_total"])
    for student in sorted(rows):
        row = rows[student]
        writer.writerow([student, *(f"{row['scores'][c]:g}" if c in row["scores"] else "" for c in columns),
                         f"{row['total']:g}", f"{row['max_total']:g}"])
    return buffer.getvalue()


def _row(data: dict[str, Any]) -> dict[str, Any]:
    scores = {t["name"]: float(t["score"]) for t in data["tests"] if t["name"] != "submission"}
    return {"scores": scores, "total": float(data["score"]), "max_total": float(data["max_score"])}


# ----------------------------------------------------------------------------- grading

class _Run:
    """Everything shared by the submissions of one ``grade`` call: stage folder, sandbox, hidden inputs."""

    def __init__(self, options: GradeOptions, registry: Registry, secrets: list[Path]) -> None:
        self.options, self.registry = options, registry
        self.stage = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
        try:
            self.sandbox = Sandbox(enabled=options.sandbox, secrets=tuple(secrets), stage_dir=self.stage)
        except BaseException:
            self.close()
            raise
        self.lib = self.stage / "lib"
        (self.lib / "gradekit").mkdir(parents=True)
        here = Path(__file__).parent
        shutil.copy(here / "sandbox_entry.py", self.lib / "sandbox_entry.py")
        for name in _GRADEKIT:
            shutil.copy(here / name, self.lib / "gradekit" / name)
        (self.lib / "gradekit" / "__init__.py").write_text("", encoding="utf-8")
        self.inputs: dict[str, list[dict]] = {}
        self._make_readable(self.lib)

    @staticmethod
    def _make_readable(folder: Path) -> None:
        """The sandbox user (65534) reads the stage: folders 0755, files 0644 (the stage root stays 0711)."""
        for root, _dirs, files in os.walk(folder):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)

    def hidden_inputs(self, exercise: Exercise) -> list[dict]:
        if exercise.id not in self.inputs:
            inputs = exercise.draw_hidden(self.options.seed)
            folder = self.stage / "inputs" / exercise.id
            encode_inputs(inputs, folder)
            self._make_readable(self.stage / "inputs")
            self.inputs[exercise.id] = inputs
        return self.inputs[exercise.id]

    def close(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    # ------------------------------------------------------------------ one exercise
    def run_exercise(self, exercise: Exercise, source: str, folder: Path) -> ExerciseResult:
        inputs_list = self.inputs[exercise.id]
        job = folder / "job"
        job.mkdir(parents=True)
        (job / "student.py").write_text(source, encoding="utf-8")
        limits = self.options.limits
        rlimits = limits.rlimits()
        if not self.sandbox.enabled:  # unconfined, RLIMIT_NPROC would count all of the user's processes
            rlimits.pop("nproc")
        (job / "job.json").write_text(json.dumps({
            "name": exercise.name, "output_names": list(exercise.output_names), "pure": bool(exercise.pure),
            "limits": rlimits, "site_dirs": self.sandbox.site_dirs}), encoding="utf-8")
        self._make_readable(folder)
        result_file = folder / "result"
        self.sandbox.prepare_result_file(result_file)
        host = {"lib": str(self.lib), "inputs": str(self.stage / "inputs" / exercise.id), "job": str(job)}
        if self.sandbox.enabled:
            binds = {host[k]: f"/sandbox/{k}" for k in host}
            paths = ["/sandbox/lib", "/sandbox/inputs", "/sandbox/job", "/sandbox/result"]
        else:
            binds, paths = {}, [host["lib"], host["inputs"], host["job"], str(result_file)]
        argv = [self.sandbox.python, "-I", "-S", "-B", f"{paths[0]}/sandbox_entry.py", *paths]
        outcome = self.sandbox.run(argv, binds, (str(result_file), "/sandbox/result"), limits)
        received = interpret(outcome, len(inputs_list), limits)
        if isinstance(received, str):
            return ExerciseResult(exercise.id, 0.0, exercise.points, 0, len(inputs_list), [received])
        return _collapse(score_outputs(exercise, inputs_list, received))

    def _zero(self, exercise: Exercise, message: str) -> ExerciseResult:
        return ExerciseResult(exercise.id, 0.0, exercise.points, 0, len(self.inputs[exercise.id]), [message])

    # ------------------------------------------------------------------ one submission
    def grade_submission(self, report: SubmissionReport, nb: dict[str, Any] | None, index: int) -> SubmissionReport:
        exercises = self.registry.of(report.assignment) if report.assignment else []
        if nb is None:
            why = report.notes[0] if report.notes else "your submission could not be read"
            report.results = [self._zero(ex, f"not graded: {why}") for ex in exercises]
            return report
        sources = exercise_sources(nb, [ex.name for ex in exercises])
        tagged = {n for c in nb.get("cells", []) if isinstance(c, dict) and "exercise" in cell_tags(c)
                  for n in defined_names(cell_source(c))}
        for ex in exercises:
            if ex.name not in sources:
                others = sorted(tagged - {e.name for e in exercises})
                hint = f" Your exercise cells define: {', '.join(others)}." if others else ""
                report.results.append(self._zero(ex, f"no cell defines a function named `{ex.name}`.{hint} Keep the "
                                                "function name and the cell from the exercise notebook."))
                continue
            report.results.append(self.run_exercise(ex, sources[ex.name], self.stage / "subs" / str(index) / ex.name))
        shutil.rmtree(self.stage / "subs" / str(index), ignore_errors=True)
        return report


def _collapse(result: ExerciseResult) -> ExerciseResult:
    """One line instead of the same message for every case (e.g. an untouched stub)."""
    failed = result.total - result.passed
    messages = {line.partition(": ")[2] for line in result.feedback if line.startswith("case ")}
    if failed == result.total and failed > 1 and len(messages) == 1 and len(result.feedback) == min(failed, 5):
        result.feedback = [f"every case: {messages.pop()}"]
    return result


def interpret(outcome: Outcome, n_cases: int, limits: Limits) -> list[Any] | str:
    """The per-case results of a sandboxed run, or one message saying why there are none."""
    if outcome.timed_out:
        return (f"did not finish within {limits.wall_s:g} s for all hidden cases: look for an infinite loop "
                "or a far too slow method")
    if outcome.result:
        try:
            return decode_result(outcome.result, n_cases)
        except ResultError as err:
            return f"its results could not be read back ({err}); do not write to files or end the program"
    sig = outcome.signal
    if sig is not None:
        return f"your code {_SIGNAL_HINTS.get(sig, f'was killed by signal {sig}')}"
    tail = [line for line in outcome.output_tail.strip().splitlines() if line.strip()][-3:]
    last = (" Last output: " + " | ".join(tail)[-300:]) if tail else ""
    if outcome.returncode == 0:
        return "your code ended the program (os._exit or exit in a thread?) before returning a result." + last
    if outcome.result_problem:
        return f"no results came back: {outcome.result_problem}." + last
    return f"your code ended the program with exit status {outcome.returncode} before returning a result." + last


def _secrets(options: GradeOptions, registry: Registry, submissions: list[Path]) -> list[Path]:
    """Folders (and bank files) the sandbox must never see even when they lie inside a mounted folder."""
    package = Path(__file__).resolve().parents[1]
    found = [package, Path(options.out).resolve(), Path.cwd().resolve()] + [p.resolve().parent for p in submissions]
    found += list(registry.banks)  # instructor banks: trusted code, never for the sandbox's eyes
    if package.parent.name == "src":  # a source checkout: the repository holds solutions/
        found.append(package.parent.parent)
    return found


def grade(paths: list[str | Path], options: GradeOptions) -> list[SubmissionReport]:
    """Grade every submission in ``paths``; write ``out/<student>.json`` and ``out/gradebook.csv``."""
    from tqdm.auto import tqdm

    registry = options.registry or Registry.load()
    submissions = find_submissions(paths)
    if options.assignment is not None and not registry.of(options.assignment):
        raise KeyError(f"no exercises registered for assignment {options.assignment!r}; "
                       f"known: {', '.join(sorted(registry.notebooks()))}")
    if not options.sandbox:
        print("WARNING: --no-sandbox: student code runs with YOUR permissions, network and files. "
              "Use it only for code you trust.", file=sys.stderr)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {p.stem: _row(d) for p in sorted(out.glob("*.json")) if (d := _load_graded(p)) is not None}

    reports, todo = [], []
    notebooks: dict[str, dict | None] = {}
    for path in submissions:
        report = SubmissionReport(path.stem, path, options.assignment)
        try:
            data = path.read_bytes()
            notebooks[report.student] = read_notebook(path)
        except (OSError, ValueError) as err:
            notebooks[report.student] = None
            data = b""
            report.notes.append(f"Your submission is not a readable Jupyter notebook: {err}. Submit the .ipynb file.")
        report.digest = hashlib.sha256(data).hexdigest()
        if report.assignment is None and notebooks[report.student] is not None:
            report.assignment = detect_assignment(notebooks[report.student], registry)
        reports.append(report)
    common = Counter(r.assignment for r in reports if r.assignment).most_common(1)
    for report in reports:
        if report.assignment is None:
            report.assignment = common[0][0] if common else None
            if report.assignment is None:
                report.notes.append("Could not tell which assignment this notebook answers (no exercise function "
                                    "found); the instructor can pass --assignment.")
        previous = _load_graded(out / f"{report.student}.json")
        meta = previous["extra_data"]["dlcourse"] if previous else {}
        if not options.force and previous and meta.get("sha256") == report.digest \
                and meta.get("seed") == options.seed and meta.get("assignment") == report.assignment \
                and meta.get("bank", "") == registry.fingerprint:
            report.skipped = True
            rows[report.student] = _row(previous)
        else:
            todo.append(report)

    if todo:
        run = _Run(options, registry, _secrets(options, registry, submissions))
        try:
            run.sandbox.probe()
            for assignment in sorted({r.assignment for r in todo if r.assignment}):
                for exercise in registry.of(assignment):
                    run.hidden_inputs(exercise)  # drawn once, before the worker threads start
            jobs = max(1, options.jobs or os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=jobs) as pool, \
                    tqdm(total=len(todo), desc="grading", unit="submission", disable=not options.progress) as bar:
                futures = {pool.submit(run.grade_submission, r, notebooks[r.student], i): r
                           for i, r in enumerate(todo)}
                for future in as_completed(futures):
                    report = futures[future]
                    try:
                        future.result()
                    except Exception as err:  # noqa: BLE001 - a grader bug on one submission must not stop the run
                        report.error = f"{type(err).__name__}: {err}"
                        report.results = []
                    else:
                        data = results_json(report, options.seed, report.digest, registry.fingerprint)
                        atomic_write(out / f"{report.student}.json", json.dumps(data, indent=1) + "\n")
                        rows[report.student] = _row(data)
                        atomic_write(out / GRADEBOOK, gradebook_csv(rows, registry))
                    bar.update(1)
        finally:
            run.close()
    atomic_write(out / GRADEBOOK, gradebook_csv(rows, registry))
    return reports
