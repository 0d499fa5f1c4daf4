"""``dlcourse check-exercises``: prove that an exercise bank grades what it claims to.

For each exercise: (1) the solution (its cell in ``solutions/<notebook>.ipynb``) scores full marks on
the hidden cases of ``seeds`` seeds and on the public cases; (2) the stub of the handout (the cell with
its solution span replaced by ``raise NotImplementedError``, as ``dlcourse assign`` writes it) scores
zero; (3) every mutant of the solution (:mod:`~dlcourse.grading.mutation`) is graded on the hidden
cases of seed 0 and is *killed* when it scores below full marks, raises or runs past the time limit.

A mutant that gets full marks and returns exactly the solution's outputs on every public case and on
the hidden cases of all ``seeds`` seeds is reported as *likely equivalent* (a rewrite that computes
the same thing, e.g. ``x.T`` of a symmetric matrix or a bound check that valid inputs never reach) and
is left out of the kill rate; any other full-marks mutant *survived*: a mistake the hidden cases miss.

Isolation: mutants are the solution's own, trusted code, run in this process (or in worker
processes, ``jobs``), each with its cwd in a fresh temporary folder, so that a file it writes lands
there and not in the repository. Each call runs under ``signal.setitimer``: a mutant that runs past
its time limit gets an exception at its next bytecode and is killed ("timed out"). A mutant stuck in
one long C call is interrupted only when that call returns.
"""
from __future__ import annotations

import os
import sys
import warnings
import signal
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..nbtools import read_notebook
from .assign import BEGIN, strip_solution
from .extract import exercise_sources
from .mutation import Mutant, make_mutants
from .registry import Registry
from .runner import CaseFailure, run_cases
from .scoring import grade_function, score_outputs
from .spec import Exercise

# The built-in bank's CI threshold, per notebook (measured rates and the reasoning: book/instructor.md).
MIN_KILL_RATE = 0.95
DEFAULT_SEEDS = 5
MIN_TIMEOUT_S = 2.0  # a mutant gets max(this, TIMEOUT_FACTOR x the solution's time on seed 0)
TIMEOUT_FACTOR = 20.0


class MutantTimeout(BaseException):
    """Raised in a mutant that ran past its limit; a BaseException, so the runner's `except Exception` lets it pass."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`MutantTimeout` in the code of the ``with`` block after ``seconds`` (main thread only)."""
    def expire(signum, frame):  # noqa: ARG001 - the signal handler's signature
        raise MutantTimeout(f"ran past {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def scratch_cwd() -> Iterator[Path]:
    """Run the block with a fresh temporary folder as the working directory (removed afterwards)."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="dlcourse-mutants-") as folder:
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(before)


def load_function(source: str, name: str) -> Callable[..., Any]:
    """Run one cell's source in a fresh namespace and return the function ``name`` it defines."""
    namespace: dict[str, Any] = {"__name__": f"dlcourse_mutant_{name}"}
    exec(compile(source, f"<exercise {name}>", "exec"), namespace)  # noqa: S102 - the bank's own solution code
    fn = namespace.get(name)
    if not callable(fn):
        raise ValueError(f"the cell does not define a function {name!r}")
    return fn


# ----------------------------------------------------------------------------- results

@dataclass
class MutantResult:
    """What one mutant did: ``status`` is "killed", "survived" or "equivalent"; ``how`` says why."""

    operator: str
    line: int
    code_line: str
    before: str
    after: str
    status: str
    how: str

    def describe(self) -> str:
        return Mutant(self.operator, self.line, self.code_line, self.before, self.after, "").describe()


@dataclass
class ExerciseCheck:
    """The check of one exercise: the solution's and the stub's verdicts and every mutant's result."""

    exercise_id: str
    solution_ok: bool
    stub_ok: bool
    problems: list[str] = field(default_factory=list)
    mutants: list[MutantResult] = field(default_factory=list)
    sampled_from: int = 0  # how many distinct mutants there were before sampling (0: not sampled)
    seconds: float = 0.0

    @property
    def notebook(self) -> str:
        return self.exercise_id.partition(".")[0]

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def ok(self) -> bool:
        return self.solution_ok and self.stub_ok


def kill_rate(checks: Sequence[ExerciseCheck]) -> float:
    """Killed / (made - likely equivalent) over ``checks``; 1.0 when no mutant counts."""
    killed = sum(c.count("killed") for c in checks)
    counted = killed + sum(c.count("survived") for c in checks)
    return killed / counted if counted else 1.0


# ----------------------------------------------------------------------------- one exercise

def _outputs_equal(a: Any, b: Any) -> bool:
    """Exactly the same results: the same failure text, or arrays of equal shape, dtype and values."""
    if isinstance(a, CaseFailure) or isinstance(b, CaseFailure):
        return isinstance(a, CaseFailure) and isinstance(b, CaseFailure) and str(a) == str(b)
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype and
                                    np.array_equal(x, y, equal_nan=x.dtype.kind in "fc") for x, y in zip(a, b))


def _outputs_close(a: Any, b: Any) -> bool:
    """Equal up to rounding: within a relative 1e-9 of the larger magnitude (the same failures for failures)."""
    if isinstance(a, CaseFailure) or isinstance(b, CaseFailure):
        return _outputs_equal(a, b)
    return len(a) == len(b) and all(x.shape == y.shape and np.allclose(
        x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(x), initial=1.0)),
        equal_nan=True) for x, y in zip(a, b))


def _all_inputs(exercise: Exercise, seeds: int) -> list[dict]:
    return [dict(c.inputs) for c in exercise.public_cases] + [c for s in range(seeds) for c in exercise.draw_hidden(s)]


def _judge_mutant(exercise: Exercise, mutant: Mutant, reference_outputs: list, inputs: list[dict],
                  limit: float) -> MutantResult:
    def result(status: str, how: str) -> MutantResult:
        return MutantResult(mutant.operator, mutant.line, mutant.code_line, mutant.before, mutant.after, status, how)
    try:
        with time_limit(limit):
            fn = load_function(mutant.source, exercise.name)
            graded = grade_function(exercise, fn, seed=0)
            if graded.score < graded.max_score:
                return result("killed", f"{graded.passed}/{graded.total} hidden cases passed")
            outputs = run_cases(fn, inputs, exercise.output_names, pure=exercise.pure)
    except MutantTimeout:
        return result("killed", f"timed out after {limit:g} s")
    except Exception as err:  # noqa: BLE001 - a mutant that does not even load is a caught mistake
        return result("killed", f"raised {type(err).__name__}")
    if all(_outputs_equal(a, b) for a, b in zip(reference_outputs, outputs)):
        return result("equivalent", "full marks, and outputs identical to the solution's on every case")
    if all(_outputs_close(a, b) for a, b in zip(reference_outputs, outputs)):
        return result("survived", "full marks; outputs differ from the solution's by rounding only (1e-9): "
                                  "the same in exact arithmetic, or a mistake only extreme inputs show")
    return result("survived", "full marks on the hidden cases (seed 0)")


def _check_solution(exercise: Exercise, fn: Callable, seeds: int) -> list[str]:
    problems = []
    for seed in range(seeds):
        graded = grade_function(exercise, fn, seed=seed)
        if graded.score < graded.max_score:
            problems.append(f"the solution scores {graded.score:g}/{graded.max_score:g} on the hidden cases of "
                            f"seed {seed}: {' '.join(graded.feedback)[:300]}")
    cases = list(exercise.public_cases)
    if cases:  # Case objects keep their pinned expected values
        public = score_outputs(exercise, cases, run_cases(fn, [c.inputs for c in cases], exercise.output_names,
                                                          pure=exercise.pure))
        if public.passed < public.total:
            problems.append(f"the solution passes {public.passed}/{public.total} public cases: "
                            f"{' '.join(public.feedback)[:300]}")
    return problems


def _check_stub(exercise: Exercise, source: str) -> list[str]:
    if not any(line.strip() == BEGIN for line in source.splitlines()):
        return [f"the solution cell has no {BEGIN} span, so the handout would hold the answer"]
    stub_source = strip_solution(source, where=exercise.id)
    graded = grade_function(exercise, load_function(stub_source, exercise.name), seed=0)
    if graded.score != 0 or graded.passed:
        return [f"the stub scores {graded.score:g}/{graded.max_score:g}: some hidden case passes without any code"]
    return []


def _sample(mutants: list[Mutant], limit: int | None, exercise_id: str) -> list[Mutant]:
    """At most ``limit`` mutants, drawn with a seed fixed per exercise (the same ones every run)."""
    if limit is None or len(mutants) <= limit:
        return mutants
    rng = np.random.default_rng(zlib.crc32(exercise_id.encode()))
    return [mutants[i] for i in sorted(rng.choice(len(mutants), size=limit, replace=False))]


def check_exercise(exercise: Exercise, source: str, seeds: int = DEFAULT_SEEDS, max_mutants: int | None = None,
                   min_timeout: float = MIN_TIMEOUT_S) -> ExerciseCheck:
    """Check one exercise given its solution cell ``source`` (see the module docstring)."""
    start = time.perf_counter()
    with scratch_cwd(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mutant's overflow or empty-slice warnings are not news
        fn = load_function(source, exercise.name)
        solution_start = time.perf_counter()
        problems = _check_solution(exercise, fn, seeds)
        limit = max(min_timeout, TIMEOUT_FACTOR * (time.perf_counter() - solution_start) / max(seeds, 1))
        solution_ok = not problems
        stub_problems = _check_stub(exercise, source)
        check = ExerciseCheck(exercise.id, solution_ok, not stub_problems, problems + stub_problems)
        if solution_ok:
            mutants = make_mutants(source, exercise.name)
            chosen = _sample(mutants, max_mutants, exercise.id)
            check.sampled_from = len(mutants) if len(chosen) < len(mutants) else 0
            inputs = _all_inputs(exercise, seeds)
            reference = run_cases(fn, inputs, exercise.output_names, pure=exercise.pure)
            check.mutants = [_judge_mutant(exercise, m, reference, inputs, limit) for m in chosen]
    check.seconds = round(time.perf_counter() - start, 3)
    return check


# ----------------------------------------------------------------------------- a whole bank

def solution_cells(registry: Registry, solutions: Path, exercise_ids: Sequence[str]) -> dict[str, str]:
    """The solution cell of each exercise, from ``solutions/<notebook>.ipynb``; a missing one is a ValueError."""
    cells: dict[str, str] = {}
    for notebook in dict.fromkeys(registry.exercises[i].notebook for i in exercise_ids):
        path = solutions / f"{notebook}.ipynb"
        if not path.is_file():
            raise ValueError(f"no solution notebook {path} for the exercises of {notebook!r}")
        wanted = [registry.exercises[i] for i in exercise_ids if registry.exercises[i].notebook == notebook]
        found = exercise_sources(read_notebook(path), [ex.name for ex in wanted])
        missing = [ex.name for ex in wanted if ex.name not in found]
        if missing:
            raise ValueError(f"{path} has no exercise cell defining {', '.join(missing)}")
        cells.update({ex.id: found[ex.name] for ex in wanted})
    return cells


_WORKER_REGISTRY: Registry | None = None  # set before the pool forks: workers inherit it


def _check_in_worker(task: tuple[str, str, int, int | None, float]) -> ExerciseCheck:
    exercise_id, source, seeds, max_mutants, min_timeout = task
    assert _WORKER_REGISTRY is not None
    return check_exercise(_WORKER_REGISTRY.exercises[exercise_id], source, seeds, max_mutants, min_timeout)


def check_bank(registry: Registry, solutions: str | Path, exercise_ids: Sequence[str], seeds: int = DEFAULT_SEEDS,
               max_mutants: int | None = None, jobs: int = 1, min_timeout: float = MIN_TIMEOUT_S,
               progress: Callable[[ExerciseCheck], None] | None = None) -> list[ExerciseCheck]:
    """Check each exercise of ``exercise_ids`` against its cell in ``solutions``, in order.

    ``jobs`` > 1 checks exercises in that many forked worker processes.
    """
    global _WORKER_REGISTRY
    if seeds < 1 or jobs < 1 or (max_mutants is not None and max_mutants < 1) or not min_timeout > 0:
        raise ValueError(f"seeds, jobs, max mutants and the time limit must be positive, got {seeds}, {jobs}, "
                         f"{max_mutants} and {min_timeout}")
    cells = solution_cells(registry, Path(solutions), exercise_ids)
    tasks = [(i, cells[i], seeds, max_mutants, min_timeout) for i in exercise_ids]
    _WORKER_REGISTRY = registry
    if jobs == 1:
        return [_report_progress(_check_in_worker(task), progress) for task in tasks]
    longest_first = sorted(range(len(tasks)), key=lambda k: -len(tasks[k][1]))  # big cells start first
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        futures = {k: pool.submit(_check_in_worker, tasks[k]) for k in longest_first}
        return [_report_progress(futures[k].result(), progress) for k in range(len(tasks))]


def _report_progress(check: ExerciseCheck, progress: Callable[[ExerciseCheck], None] | None) -> ExerciseCheck:
    if progress:
        progress(check)
    return check


def report_dict(checks: Sequence[ExerciseCheck], threshold: float) -> dict[str, Any]:
    """The JSON report: per exercise, per notebook and overall counts and rates, and every mutant."""
    notebooks: dict[str, list[ExerciseCheck]] = {}
    for check in checks:
        notebooks.setdefault(check.notebook, []).append(check)

    def counts(group: Sequence[ExerciseCheck]) -> dict[str, Any]:
        return {"made": sum(len(c.mutants) for c in group), "killed": sum(c.count("killed") for c in group),
                "survived": sum(c.count("survived") for c in group),
                "likely_equivalent": sum(c.count("equivalent") for c in group),
                "kill_rate": round(kill_rate(group), 4)}
    return {
        "threshold": threshold,
        "overall": counts(checks),
        "notebooks": {nb: {**counts(group), "passes_threshold": kill_rate(group) >= threshold}
                      for nb, group in notebooks.items()},
        "exercises": [{**asdict(c), **counts([c])} for c in checks],
    }


# ----------------------------------------------------------------------------- the command

def print_report(checks: Sequence[ExerciseCheck], threshold: float, write: Callable[[str], None] = print) -> None:
    """The human-readable report: per exercise and per notebook, then every survivor with its line."""
    report = report_dict(checks, threshold)
    for check in checks:
        mark = "ok" if check.ok else "FAILED"
        sampled = f" (sampled from {check.sampled_from})" if check.sampled_from else ""
        write(f"  {check.exercise_id}: solution/stub {mark}; {len(check.mutants)} mutants{sampled}, "
              f"{check.count('killed')} killed, {check.count('survived')} survived, "
              f"{check.count('equivalent')} likely equivalent; kill rate {kill_rate([check]):.1%}")
        for problem in check.problems:
            write(f"      PROBLEM: {problem}")
    write("per notebook:")
    for notebook, counts in report["notebooks"].items():
        flag = "" if counts["passes_threshold"] else f"  BELOW {threshold:.0%}"
        write(f"  {notebook}: {counts['made']} mutants, {counts['killed']} killed, {counts['survived']} survived, "
              f"{counts['likely_equivalent']} likely equivalent; kill rate {counts['kill_rate']:.1%}{flag}")
    overall = report["overall"]
    write(f"overall: {overall['made']} mutants, kill rate {overall['kill_rate']:.1%} (threshold {threshold:.0%})")
    for status, title in (("survived", "Survivors (a mistake the hidden cases do not catch: add a case)"),
                          ("equivalent", "Likely equivalent (identical outputs on every public and hidden case)")):
        rows = [(c.exercise_id, m) for c in checks for m in c.mutants if m.status == status]
        if rows:
            write(f"{title}:")
            for exercise_id, mutant in rows:
                write(f"  {exercise_id} {mutant.describe()}")
                write(f"      {mutant.code_line}")


def _cmd_check_exercises(args) -> int:
    import json

    from .sinks import terminal_text

    if not 0.0 <= args.min_kill_rate <= 1.0:
        raise ValueError(f"--min-kill-rate must be between 0 and 1, got {args.min_kill_rate:g}")
    registry = Registry.load(args.bank or [])
    ids = [i for i in registry.exercises if registry.is_external(i) == bool(args.bank)]
    if args.notebook:
        unknown = sorted(set(args.notebook) - {registry.exercises[i].notebook for i in ids})
        if unknown:
            raise ValueError(f"no exercises for notebook(s) {', '.join(unknown)}; known: "
                             f"{', '.join(dict.fromkeys(registry.exercises[i].notebook for i in ids))}")
        ids = [i for i in ids if registry.exercises[i].notebook in args.notebook]
    checks = check_bank(registry, args.solutions, ids, seeds=args.seeds, max_mutants=args.max_mutants,
                        jobs=args.jobs, min_timeout=args.timeout)
    print_report(checks, args.min_kill_rate, write=lambda text: print(terminal_text(text)))
    report = report_dict(checks, args.min_kill_rate)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    failed = [c.exercise_id for c in checks if not c.ok]
    below = [nb for nb, counts in report["notebooks"].items() if not counts["passes_threshold"]]
    if failed:
        print(f"solution or stub check failed for: {', '.join(failed)}", file=sys.stderr)
    if below:
        print(f"kill rate below {args.min_kill_rate:g} for: {', '.join(below)}", file=sys.stderr)
    return 1 if failed or below else 0


def register(sub) -> None:
    """Add ``dlcourse check-exercises`` to the command's subparsers."""
    from ..cli import BANK_HELP

    cmd = sub.add_parser("check-exercises", help="prove each exercise's solution gets full marks, its stub zero, "
                                                 "and report the plausible mistakes its hidden cases miss")
    cmd.add_argument("--solutions", default="solutions", help="folder of the solution notebooks (default solutions)")
    cmd.add_argument("--bank", action="append", metavar="PATH",
                     help=BANK_HELP + "; with --bank only the bank's exercises are checked")
    cmd.add_argument("--notebook", action="append", metavar="STEM", help="check only this notebook (repeatable)")
    cmd.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=f"hidden-case seeds (default {DEFAULT_SEEDS})")
    cmd.add_argument("--min-kill-rate", type=float, default=MIN_KILL_RATE,
                     help=f"fail when a notebook's kill rate is below this (default {MIN_KILL_RATE})")
    cmd.add_argument("--max-mutants", type=int, default=None, help="sample at most this many mutants per exercise")
    cmd.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    cmd.add_argument("--timeout", type=float, default=MIN_TIMEOUT_S,
                     help=f"least seconds per mutant (default {MIN_TIMEOUT_S:g}; the limit is the larger of this "
                          f"and {TIMEOUT_FACTOR:g} x the solution's time)")
    cmd.add_argument("--json", metavar="OUT", help="also write the report as JSON here")
    cmd.set_defaults(func=_cmd_check_exercises)
