"""The instructor guide's overview: every command it lists exists and parses, and every command is listed."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from dlcourse.cli import build_parser

GUIDE = Path(__file__).resolve().parents[1] / "book" / "instructor.md"


def _overview_commands() -> list[list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## The whole cycle, command by command\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_every_overview_command_parses_with_the_real_command_line():
    commands = _overview_commands()
    assert len(commands) >= 7
    parser = build_parser()
    for argv in commands:
        assert argv[0] == "dlcourse", argv
        args = parser.parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown command or option
        assert args.command == argv[1]


def test_every_instructor_command_of_the_cli_is_in_the_overview():
    listed = {argv[1] for argv in _overview_commands()}
    instructor = {"assign", "grade", "feedback", "report", "export-grades", "gradescope-bundle", "check-exercises"}
    choices = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001 - the parser's own list
    assert instructor <= choices, instructor - choices
    assert instructor <= listed, instructor - listed
