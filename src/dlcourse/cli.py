"""The ``dlcourse`` command: course maintenance and grading."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_info(args: argparse.Namespace) -> int:
    from .config import setup

    setup(seed=args.seed)
    return 0


def _cmd_assign(args: argparse.Namespace) -> int:
    from .grading.assign import assign

    changed = assign(args.solutions, args.exercises, check=args.check)
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
    from .nbtools import read_notebook, repository_url, stamp_setup_cell, write_notebook

    url = repository_url(args.config)
    stale = []
    for folder in args.folders:
        for path in sorted(Path(folder).glob("*.ipynb")):
            nb = read_notebook(path)
            if stamp_setup_cell(nb, url):
                stale.append(path)
                if not args.check:
                    write_notebook(nb, path)
    if args.check and stale:
        print("setup cell out of date in: " + ", ".join(map(str, stale)) + " (run `dlcourse setup-cells`)")
        return 1
    print(f"{'checked' if args.check else 'updated'} setup cells; {len(stale)} notebook(s) {'stale' if args.check else 'changed'}")
    return 0


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
    assign.set_defaults(func=_cmd_assign)

    cells = sub.add_parser("setup-cells", help="stamp the install block of every notebook from _config.yml")
    cells.add_argument("folders", nargs="*", default=["notebooks", "solutions"])
    cells.add_argument("--config", default="_config.yml")
    cells.add_argument("--check", action="store_true")
    cells.set_defaults(func=_cmd_setup_cells)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"dlcourse {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
