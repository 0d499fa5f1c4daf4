"""``dlcourse grade``: grade student notebooks in sandboxes; write a gradebook and Gradescope results.

A run grades ONE assignment: ``--assignment``, or the one most submissions answer (decided once for
the whole class from the function names the notebooks define, never from a notebook's own
metadata); a notebook that answers another one is reported and scored zero. Every submission
(a notebook; its file stem is the student id) is read once, as untrusted input
(:mod:`~dlcourse.grading.intake`); the exercise cells are found
(:func:`~dlcourse.grading.extract.exercise_sources`), and the submission's exercises run on the
hidden inputs in ONE sandbox of its own (:mod:`~dlcourse.grading.sandbox`, :mod:`~dlcourse.grading.batch`),
each in a fresh child process of a supervisor that never runs student code and cleans up between
exercises (:mod:`~dlcourse.grading.supervisor`, :mod:`~dlcourse.grading.sandbox_entry`); what
comes back, plain arrays, is scored here against the reference (:func:`~dlcourse.grading.scoring.score_outputs`).
Whatever goes wrong with one submission becomes that submission's zero with a note; the others go on.
Results are written as they complete, each file atomically (temporary file + ``os.replace``), so a
run that is killed leaves a consistent gradebook and a re-run resumes where it stopped. The
gradebook holds the submissions of this run only. Untrusted text is neutralised where it is
written (:mod:`~dlcourse.grading.sinks`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..nbtools import cell_source, cell_tags
from .extract import defined_names, exercise_sources
from .intake import find_submissions, parse_notebook, student_key
from .records import (GRADEBOOK, GRADER_TAG, VISIBILITIES, atomic_write, gradebook_csv,  # noqa: F401 - re-exported
                      load_graded, results_json, row_of, scored_tests)
from .registry import Registry
from .batch import COUNTERS
from .sandbox import Limits, Outcome, Sandbox, share
from .sandbox_entry import ResultError, decode_result, encode_inputs
from .casedata import public_details
from .scoring import ExerciseResult, score_outputs
from .spec import Exercise

RETRIES, RETRY_PAUSE_S = 2, 0.5  # tries after an internal error on one exercise, and the pause (x1, x2)
_GRADEKIT = ("runner.py", "outputs.py", "fixtures.py")  # the untrusted-side modules copied into the sandbox
_TORCH = re.compile(r"^\s*(?:import|from)\s[^\n#]*\btorch\b", re.MULTILINE)  # the sandbox then imports it once
SUPERVISOR_MB, TORCH_MB = 64, 320  # added to a sandbox's memory limit: what its supervisor holds (24, 218 MB measured)
_LINKS = {"/sandbox/result": "/proc/self/fd/3", "/sandbox/inputs": "/proc/self/fd/4", "/sandbox/job": "/proc/self/fd/5"}
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
    hidden_visibility: str = "visible"  # Gradescope visibility of the hidden-case tests (records.VISIBILITIES)
    warnings: list[str] = field(default_factory=list)  # filled by grade(): what the instructor must know


@dataclass
class SubmissionReport:
    """The outcome for one submission; ``error`` is set when the GRADER failed on it (it then scores 0 for now)."""

    student: str
    path: Path
    assignment: str | None
    results: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: bool = False
    error: str | None = None
    digest: str = ""

    @property
    def key(self) -> str:
        """The stem of its output file (:func:`~dlcourse.grading.intake.student_key`)."""
        return student_key(self.student)

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 6)


# ----------------------------------------------------------------------------- which assignment

def detect_assignment(nb: dict[str, Any], registry: Registry | None = None) -> str | None:
    """The exercise notebook a submission answers: the one whose exercise functions it defines most.

    ``None`` when it defines none, or as many of two notebooks. A notebook's metadata is never read:
    a student could name any assignment there.
    """
    exercises = (registry or Registry.load()).exercises
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            names.update(defined_names(cell_source(cell)))
    best = Counter(ex.notebook for ex in exercises.values() if ex.name in names).most_common(2)
    if best and (len(best) == 1 or best[0][1] > best[1][1]):
        return best[0][0]
    return None


def class_assignment(detected: list[str | None], given: str | None = None) -> str | None:
    """The one assignment of a run: ``given``, or the one most submissions answer (a tie is refused)."""
    if given is not None:
        return given
    counts = Counter(d for d in detected if d).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        tied = ", ".join(f"{name} ({n})" for name, n in counts if n == counts[0][1])
        raise ValueError(f"the submissions answer several assignments equally often: {tied}; pass --assignment")
    return counts[0][0] if counts else None


# ----------------------------------------------------------------------------- grading

class _Run:
    """Everything shared by the submissions of one ``grade`` call: stage folder, sandbox, hidden inputs.

    One sandbox per submission (never two submissions in one): the cost of starting a sandbox and
    importing NumPy is paid once per submission instead of once per exercise (benchmarks/grade_class.md).
    """

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
        for name in ("sandbox_entry.py", "supervisor.py"):
            shutil.copy(here / name, self.lib / name)
        for name in _GRADEKIT:
            shutil.copy(here / name, self.lib / "gradekit" / name)
        (self.lib / "gradekit" / "__init__.py").write_text("", encoding="utf-8")
        self.inputs: dict[str, list[dict]] = {}
        self._make_readable(self.lib)

    def _make_readable(self, folder: Path) -> None:
        """The sandbox user, and no other local user, reads the stage (:func:`~dlcourse.grading.sandbox.share`)."""
        share(folder, self.sandbox.root_mode)

    def case_inputs(self, exercise: Exercise) -> list[dict]:
        """The inputs one run of ``exercise`` gets: its public cases, then its hidden ones (drawn once)."""
        if exercise.id not in self.inputs:
            inputs = [dict(case.inputs) for case in exercise.public_cases] + exercise.draw_hidden(self.options.seed)
            folder = self.stage / "inputs" / exercise.id
            encode_inputs(inputs, folder)
            self._make_readable(self.stage / "inputs")
            self.inputs[exercise.id] = inputs
        return self.inputs[exercise.id]

    def close(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    # ------------------------------------------------------------------ one submission's sandbox
    def stage_batch(self, items: list[tuple[Exercise, str]], folder: Path) -> tuple[list[str], list[Path]]:
        """Write a submission's jobs (``folder/<k>/job``: the cell, job.json), batch.json and empty result files.

        Return the modules the sandbox imports before forking (``torch`` when a cell names it) and
        the host paths of the result files.
        """
        rlimits = self.options.limits.rlimits()
        if not self.sandbox.enabled:  # unconfined, RLIMIT_NPROC would count all of the user's processes
            rlimits.pop("nproc")
        inside = "/sandbox/jobs" if self.sandbox.enabled else str(folder)
        inputs = "/sandbox/inputs-all" if self.sandbox.enabled else str(self.stage / "inputs")
        jobs = []
        for k, (exercise, source) in enumerate(items):
            job = folder / str(k) / "job"
            job.mkdir(parents=True)
            (job / "student.py").write_text(source, encoding="utf-8", errors="surrogatepass")
            spec = {"name": exercise.name, "output_names": list(exercise.output_names), "pure": bool(exercise.pure)}
            (job / "job.json").write_text(json.dumps(spec), encoding="utf-8")
            jobs.append({"inputs": f"{inputs}/{exercise.id}", "job": f"{inside}/{k}/job"})
        preimport = ["torch"] if any(_TORCH.search(source) for _, source in items) else []
        limits = self.options.limits
        (folder / "batch.json").write_text(json.dumps({
            "jobs": jobs, "limits": rlimits, "site_dirs": self.sandbox.site_dirs, "wall_s": limits.wall_s,
            "tail_bytes": limits.output_tail_kb << 10, "counters": COUNTERS, "preimport": preimport,
            "confined": self.sandbox.enabled}), encoding="utf-8")
        for parent in reversed(folder.relative_to(self.stage).parents[:-1]):
            self._make_readable_dir_only(self.stage / parent)
        self._make_readable(folder)
        result_files = [folder / str(k) / "result" for k in range(len(items))]
        for path in result_files:
            self.sandbox.prepare_result_file(path)
        return preimport, result_files

    def _make_readable_dir_only(self, folder: Path) -> None:
        if self.sandbox.root_mode:
            os.chown(folder, 0, 65534)
        os.chmod(folder, 0o750 if self.sandbox.root_mode else 0o700)

    def run_exercises(self, items: list[tuple[Exercise, str]], folder: Path) -> list[ExerciseResult]:
        """Grade one submission's exercises in ONE sandbox; any the sandbox did not reach run in a fresh one.

        The sandbox never holds another submission's code. Each exercise runs in its own child process
        with its own limits (:mod:`~dlcourse.grading.supervisor`), so its outcome is its own.
        """
        results: dict[int, ExerciseResult] = {}
        pending = list(range(len(items)))
        while pending:
            run_folder = folder / f"run{len(items) - len(pending)}"
            outcomes = self._run_batch([items[k] for k in pending], run_folder)
            for k, outcome in zip(pending, outcomes):
                if outcome is not None:
                    results[k] = self._result(items[k][0], outcome)
            pending = [k for k, outcome in zip(pending, outcomes) if outcome is None]
        return [results[k] for k in range(len(items))]

    def _run_batch(self, items: list[tuple[Exercise, str]], folder: Path) -> list[Outcome | None]:
        preimport, result_files = self.stage_batch(items, folder)
        if self.sandbox.enabled:
            binds = {str(self.lib): "/sandbox/lib", str(self.stage / "inputs"): "/sandbox/inputs-all",
                     str(folder): "/sandbox/jobs"}
            entry = ["/sandbox/lib/sandbox_entry.py", "/sandbox/lib", "/sandbox/jobs/batch.json"]
        else:
            binds, entry = {}, [str(self.lib / "sandbox_entry.py"), str(self.lib), str(folder / "batch.json")]
        extra_mb = SUPERVISOR_MB + (TORCH_MB if preimport else 0)
        return self.sandbox.run_batch([self.sandbox.python, "-I", "-S", "-B", *entry], binds,
                                      [str(p) for p in result_files], self.options.limits,
                                      links=_LINKS if self.sandbox.enabled else None, extra_mb=extra_mb)

    def _result(self, exercise: Exercise, outcome: Outcome) -> ExerciseResult:
        """Score one exercise's outcome (its public cases first, then the hidden ones)."""
        inputs_list = self.inputs[exercise.id]
        limits = self.options.limits
        received = interpret(outcome, len(inputs_list), limits)
        n_public = len(exercise.public_cases)
        if isinstance(received, str):
            status = status_of(outcome)  # a result file that came back unreadable counts as a crash
            result = self._zero(exercise, received, "crashed" if status == "ran" else status)
            result.public = public_details(exercise, [received] * n_public)
        else:
            result = _collapse(score_outputs(exercise, inputs_list[n_public:], received[n_public:]))
            result.public = public_details(exercise, received[:n_public])
        result.seconds = round(outcome.seconds, 3)
        return result

    def _zero(self, exercise: Exercise, message: str, status: str = "ran") -> ExerciseResult:
        total = len(self.inputs[exercise.id]) - len(exercise.public_cases)
        return ExerciseResult(exercise.id, 0.0, exercise.points, 0, total, [message], status=status)

    # ------------------------------------------------------------------ one submission
    def grade_submission(self, report: SubmissionReport, nb: dict[str, Any] | None, index: int) -> SubmissionReport:
        """Grade the exercises of ``report.assignment``; ``nb=None`` scores each zero with the first note as why."""
        exercises = self.registry.of(report.assignment) if report.assignment else []
        if nb is None:
            why = report.notes[0] if report.notes else "your submission could not be read"
            report.results = [self._zero(ex, f"not graded: {why}", "not_graded") for ex in exercises]
            return report
        sources = exercise_sources(nb, [ex.name for ex in exercises])
        tagged = {n for c in nb.get("cells", []) if isinstance(c, dict) and "exercise" in cell_tags(c)
                  for n in defined_names(cell_source(c))}
        done: dict[str, ExerciseResult] = {}
        for ex in exercises:
            if ex.name not in sources:
                others = sorted(tagged - {e.name for e in exercises})
                hint = f" Your exercise cells define: {', '.join(others)}." if others else ""
                done[ex.id] = self._zero(ex, f"no cell defines a function named `{ex.name}`.{hint} Keep the "
                                         "function name and the cell from the exercise notebook.", "missing")
        items = [(ex, sources[ex.name]) for ex in exercises if ex.id not in done]
        folder = self.stage / "subs" / str(index)
        for attempt in range(RETRIES + 1 if items else 0):  # a host hiccup (fork, memory, disk) gets more tries
            try:
                shutil.rmtree(folder, ignore_errors=True)
                done.update((ex.id, result) for (ex, _), result in zip(items, self.run_exercises(items, folder)))
                break
            except Exception as err:  # noqa: BLE001 - a grader failure on one submission must not stop the others
                if attempt < RETRIES:
                    time.sleep(RETRY_PAUSE_S * (attempt + 1))
                else:
                    report.error = f"{type(err).__name__}: {err}"
                    done.update((ex.id, self._zero(ex, "the grader could not run this exercise (an internal error); "
                                                   "your instructor has been told and will re-run it",
                                                   "grader_error")) for ex, _ in items)
        report.results = [done[ex.id] for ex in exercises]
        shutil.rmtree(self.stage / "subs" / str(index), ignore_errors=True)
        return report


def _collapse(result: ExerciseResult) -> ExerciseResult:
    """One line instead of the same message for every case (e.g. an untouched stub)."""
    failed = result.total - result.passed
    messages = {line.partition(": ")[2] for line in result.feedback if line.startswith("case ")}
    if failed == result.total and failed > 1 and len(messages) == 1 and len(result.feedback) == min(failed, 5):
        result.feedback = [f"every case: {messages.pop()}"]
    return result


def status_of(outcome: Outcome) -> str:
    """How a sandboxed run ended, as one of :data:`~dlcourse.grading.scoring.STATUSES` (for reports)."""
    if outcome.timed_out:
        return "timeout"
    if outcome.result:
        return "ran"
    if outcome.memory_exceeded:
        return "memory"
    return "crashed"


def interpret(outcome: Outcome, n_cases: int, limits: Limits) -> list[Any] | str:
    """The per-case results of a sandboxed run, or one message saying why there are none."""
    memory = (f"your code used more memory than allowed ({limits.sandbox_memory_mb} MB for the whole run, counting "
              "files written to /tmp or /dev/shm) and a process of it was stopped")
    if outcome.timed_out:
        return (f"did not finish within {limits.wall_s:g} s for all hidden cases: look for an infinite loop "
                "or a far too slow method" + (f"; also, {memory}" if outcome.memory_exceeded else ""))
    if outcome.result:
        try:
            return decode_result(outcome.result, n_cases)
        except ResultError as err:
            return f"its results could not be read back ({err}); do not write to files or end the program"
    if outcome.memory_exceeded:
        return memory
    sig = outcome.signal
    if outcome.pids_exhausted and sig is not None:
        return "your code started more processes or threads than allowed and was stopped"
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


def _intake(paths: list[str | Path], options: GradeOptions, registry: Registry
            ) -> tuple[list[SubmissionReport], dict[str, dict | None]]:
    """Read and parse every submission, decide the run's assignment, and note what does not fit it."""
    reports, notebooks, detected = [], {}, {}
    for sub in find_submissions(paths):
        report = SubmissionReport(sub.student, sub.path, None, digest=sub.digest)
        nb = None
        if sub.problem:
            report.notes.append(f"Your submission was not read: {sub.problem}. Submit the .ipynb file itself.")
        else:
            parsed = parse_notebook(sub.data or b"")
            nb, report.notes = parsed.notebook, parsed.notes
        notebooks[sub.student], detected[sub.student] = nb, detect_assignment(nb, registry) if nb else None
        reports.append(report)
    assignment = class_assignment(list(detected.values()), options.assignment)
    for report in reports:
        report.assignment = assignment
        own = detected[report.student]
        if assignment is None and notebooks[report.student] is not None:
            report.notes.insert(0, "Could not tell which assignment this notebook answers (no exercise function "
                                   "found); the instructor can pass --assignment.")
        elif own is not None and own != assignment:
            report.notes.insert(0, f"This notebook answers {own}, but this run grades {assignment}: it was not "
                                   "graded. Submit the notebook of this assignment.")
            notebooks[report.student] = None
    return reports, notebooks


def _up_to_date(previous: dict[str, Any] | None, report: SubmissionReport, options: GradeOptions,
                registry: Registry) -> bool:
    meta = previous["extra_data"]["dlcourse"] if previous else {}
    return bool(previous) and not options.force and meta.get("student") == report.student \
        and meta.get("sha256") == report.digest and meta.get("seed") == options.seed \
        and meta.get("assignment") == report.assignment and meta.get("bank", "") == registry.fingerprint \
        and meta.get("complete", True) is True \
        and all(t.get("visibility") == options.hidden_visibility for t in scored_tests(previous))


def grade(paths: list[str | Path], options: GradeOptions) -> list[SubmissionReport]:
    """Grade every submission in ``paths``; write ``out/<student key>.json`` and ``out/gradebook.csv``.

    The gradebook lists exactly the submissions of this run (those already graded keep their result).
    """
    from tqdm.auto import tqdm

    registry = options.registry or Registry.load()
    if options.hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, "
                         f"got {options.hidden_visibility!r}")
    if options.assignment is not None and not registry.of(options.assignment):
        raise KeyError(f"no exercises registered for assignment {options.assignment!r}; "
                       f"known: {', '.join(sorted(registry.notebooks()))}")
    reports, notebooks = _intake(paths, options, registry)
    if not options.sandbox:
        print("WARNING: --no-sandbox: student code runs with YOUR permissions, network and files. "
              "Use it only for code you trust.", file=sys.stderr)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for report in reports:
        previous = load_graded(out / f"{report.key}.json")
        if _up_to_date(previous, report, options, registry):
            report.skipped = True
            rows[report.student] = row_of(previous)
        else:
            todo.append(report)

    def record(report: SubmissionReport) -> None:
        data = results_json(report, options.seed, report.digest, registry.fingerprint, complete=report.error is None,
                            hidden_visibility=options.hidden_visibility)
        atomic_write(out / f"{report.key}.json", json.dumps(data, indent=1) + "\n")
        rows[report.student] = row_of(data)
        atomic_write(out / GRADEBOOK, gradebook_csv(rows, registry))

    if todo:
        run = _Run(options, registry, _secrets(options, registry, [r.path for r in reports]))
        try:
            for warning in run.sandbox.warnings:
                options.warnings.append(warning)
                print(f"WARNING: {warning}", file=sys.stderr)
            run.sandbox.probe()
            for exercise in registry.of(todo[0].assignment) if todo[0].assignment else []:
                run.case_inputs(exercise)  # drawn once, before the worker threads start
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
                        report.results = [run._zero(ex, "the grader could not grade this exercise (an internal "
                                                        "error); your instructor has been told and will re-run it",
                                                    "grader_error") for ex in registry.of(report.assignment or "")]
                    record(report)
                    bar.update(1)
        finally:
            run.close()
    atomic_write(out / GRADEBOOK, gradebook_csv(rows, registry))
    return reports
