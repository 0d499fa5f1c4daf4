"""The ``dlcourse`` command: course maintenance and grading."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .grading.registry import Registry


def _cmd_info(args: argparse.Namespace) -> int:
    from .config import setup

    setup(seed=args.seed)
    return 0


def _load_registry(banks: list[str] | None) -> Registry:
    """The exercises to use: the built-in bank plus the ``--bank`` ones (their summary goes to stdout)."""
    from .grading.registry import Registry

    registry = Registry.load(banks or [])
    if banks:
        print(registry.summary())
    return registry


def _cmd_assign(args: argparse.Namespace) -> int:
    from .grading.assign import assign

    registry = _load_registry(args.bank) if args.bank else None
    changed = assign(args.solutions, args.exercises, check=args.check, registry=registry)
    if args.check:
        if changed:
            print("exercises/ is out of date with solutions/ for: " + ", ".join(map(str, changed)))
            print("Run `dlcourse assign` and commit the result.")
            return 1
        print("exercises/ is in sync with solutions/.")
        return 0
    print(f"wrote {len(changed)} exercise notebook(s)" + (": " + ", ".join(map(str, changed)) if changed else ""))
    return 0


def _cmd_setup_cells(args: argparse.Namespace) -> int:
    from .nbtools import check_ref, read_notebook, release_ref, repository_url, stamp_setup_cell, write_notebook

    url = repository_url(args.config)
    pyproject = Path(args.config).parent / "pyproject.toml"
    ref = check_ref(args.ref) if args.ref else release_ref(pyproject if pyproject.is_file() else None)
    stale = []
    for folder in args.folders:
        for path in sorted(Path(folder).glob("*.ipynb")):
            nb = read_notebook(path)
            if stamp_setup_cell(nb, url, ref):
                stale.append(path)
                if not args.check:
                    write_notebook(nb, path)
    if args.check and stale:
        print("setup cell out of date in: " + ", ".join(map(str, stale)) + " (run `dlcourse setup-cells`)")
        return 1
    print(f"{'checked' if args.check else 'updated'} setup cells (dlcourse at {ref}); {len(stale)} notebook(s) "
          f"{'stale' if args.check else 'changed'}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from .grading.grade import GRADEBOOK, GradeOptions, grade
    from .grading.sandbox import Limits, SandboxUnavailable
    from .grading.sinks import terminal_text

    if not 0 < args.timeout < float("inf") or args.memory_mb <= 0 or (args.jobs is not None and args.jobs <= 0):
        raise ValueError(f"--timeout, --memory-mb and --jobs must be positive (and finite), got {args.timeout:g}, "
                         f"{args.memory_mb} and {args.jobs}")
    limits = Limits(wall_s=args.timeout, memory_mb=args.memory_mb)
    options = GradeOptions(out=Path(args.out), seed=args.seed, assignment=args.assignment, jobs=args.jobs,
                           force=args.force, sandbox=not args.no_sandbox, limits=limits,
                           progress=not args.no_progress, registry=_load_registry(args.bank),
                           hidden_visibility=args.hidden_visibility)
    try:
        reports = grade(args.submissions, options)
    except SandboxUnavailable as err:
        print(f"dlcourse grade: {err}", file=sys.stderr)
        return 2
    graded = [r for r in reports if not r.skipped and r.error is None]
    skipped = [r for r in reports if r.skipped]
    failed = [r for r in reports if r.error is not None]
    for report in graded:  # ids come from file names: escape sequences and newlines are shown, not obeyed
        print(f"  {terminal_text(report.student)}: {report.score:g} / {report.max_score:g} ({report.assignment})")
    print(f"graded {len(graded)}, skipped {len(skipped)} already graded (--force regrades them), "
          f"grader errors {len(failed)}; gradebook: {Path(args.out) / GRADEBOOK}")
    for report in failed:
        print(f"  grader error on {terminal_text(str(report.path))}: {terminal_text(report.error or '')} "
              "(scored 0 for now; re-run to retry)", file=sys.stderr)
    for warning in options.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 1 if failed else 0


BANK_HELP = ("an instructor's exercise bank: a folder of Python modules or one .py file defining EXERCISES "
             "(new notebooks, or replacements of built-in exercise ids); may be repeated")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlcourse", description="dlcourse: course tools and grading")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="print the mode (fast/full) and the device")
    info.add_argument("--seed", type=int, default=0)
    info.set_defaults(func=_cmd_info)

    assign = sub.add_parser("assign", help="generate exercises/ from solutions/")
    assign.add_argument("--solutions", default="solutions")
    assign.add_argument("--exercises", default="exercises")
    assign.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date")
    assign.add_argument("--bank", action="append", metavar="PATH",
                        help=BANK_HELP + "; its exercises' public cases go into the handouts' check cells")
    assign.set_defaults(func=_cmd_assign)

    cells = sub.add_parser("setup-cells", help="stamp the install block of every notebook from _config.yml")
    cells.add_argument("folders", nargs="*", default=["notebooks", "solutions"])
    cells.add_argument("--config", default="_config.yml")
    cells.add_argument("--check", action="store_true")
    cells.add_argument("--ref", default=None, help="git tag or commit the block installs (default: the release "
                                                   "tag v<version> of pyproject.toml beside --config)")
    cells.set_defaults(func=_cmd_setup_cells)

    grade = sub.add_parser("grade", help="grade student notebooks in a sandbox; write a gradebook and "
                                         "Gradescope results")
    grade.add_argument("submissions", nargs="+", help="notebooks (file stem = student id) or folders of them")
    grade.add_argument("--out", required=True, help="folder for gradebook.csv and <student>.json")
    grade.add_argument("--seed", type=int, default=0, help="seed of the hidden cases (default 0)")
    grade.add_argument("--assignment", default=None, help="exercise notebook stem, e.g. 01_perceptron (default: "
                                                          "the one most submissions answer, by function names)")
    grade.add_argument("--jobs", type=int, default=None, help="parallel sandboxes (default: CPU count)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded in --out")
    grade.add_argument("--timeout", type=float, default=60.0, help="wall-clock seconds per exercise (default 60)")
    grade.add_argument("--memory-mb", type=int, default=2048,
                       help="address space per process (default 2048); the whole sandbox, where it gets a cgroup, "
                            "may hold 1.25 times that, files in /tmp and /dev/shm included")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code unconfined: ONLY for code you trust")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--bank", action="append", metavar="PATH", help=BANK_HELP)
    grade.add_argument("--hidden-visibility", default="visible",
                       choices=["visible", "hidden", "after_due_date", "after_published"],
                       help="Gradescope visibility of the hidden-case results (default visible; public cases are "
                            "always visible)")
    grade.set_defaults(func=_cmd_grade)
    # Each command below lives in its own module, which adds its parser with register(sub).
    # --- gradescope-bundle (grading/gradescope.py) ---
    from .grading import gradescope
    gradescope.register(sub)
    # --- feedback pages and class report (grading/feedback.py, grading/report.py) ---
    from .grading import feedback, report
    feedback.register(sub)
    report.register(sub)
    # --- LMS gradebook exports (grading/lms.py) ---
    from .grading import lms
    lms.register(sub)
    # --- check-exercises (grading/mutants.py) ---
    from .grading import mutants
    mutants.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err  # KeyError quotes its text
        print(f"dlcourse {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
