"""Gradebook files that Canvas and Moodle import: one row per roster student, one column per assignment.

``dlcourse grade`` writes one ``gradebook.csv`` per assignment, keyed by submission (the notebook's
file stem). :func:`export` joins one or more of them to a roster CSV that maps each submission to
the student's LMS identity, and writes the file the LMS imports. What the LMSs read, from their
documentation and their own import code:

Canvas (Grades > Import; the importer is ``app/models/gradebook_importer.rb`` in instructure/canvas-lms):

* the header must begin ``Student, ID``; ``SIS User ID, SIS Login ID`` may follow, and the last
  student column must be ``Section``; every later column is an assignment (``Student, ID, SIS User
  ID, SIS Login ID, Section`` is what Canvas's own export writes, and what we write);
* a student is found by ``ID`` (Canvas's numeric user id), else ``SIS User ID``, else ``SIS Login
  ID``, and only then by name; so the roster must give at least one of the three ids;
* an assignment column named ``Title (123)`` updates assignment 123; any other name updates the
  assignment with that exact title or, when there is none, creates a new assignment;
* a row whose first cell contains ``Points Possible`` gives the assignments' points (we write it
  second, as Canvas's export does); columns whose name contains ``Current Score``, ``Final Grade``
  and the like are read-only totals and are dropped, so such assignment names are refused here;
* Canvas guesses ``;`` or ``,`` from the first three lines, so a ``;`` in an assignment name is refused.

Moodle (Grades > Import > CSV file; ``grade/import/csv/classes/load_data.php`` in moodle/moodle):

* the first row names the columns; on the mapping page "Identify user by" maps one column ("Map
  from") to a user field ("Map to": ``useremail``, ``username`` or ``useridnumber``), and each other
  column to an existing grade item or to "new grade item" (named after the header);
* values are trimmed; ``-`` is "no grade" (for an existing item an empty cell is too, for a new
  item only ``-`` is skipped, so we write ``-``); a user that is not found, or a row with an empty
  identifier, aborts the whole import; the manual warns that emails match case-sensitively;
* a grade above the site's ``gradepointmax`` (100 unless raised) aborts the import.

The pages this follows are listed in the comment below the docstring.

Every text cell goes through :func:`~dlcourse.grading.sinks.csv_cell` (no cell starts a formula).
An identifier that would need that guard is refused instead: the guarded text would match no one.
Scores are kept exact (the gradebook's decimal text, or the exact quotient when scaled to
``--points``), rounded half-up to :data:`PLACES` decimals only when they do not terminate sooner.
"""
# Sources read for this module (2026-12). Canvas: a university's worked example of the import file,
# https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
# and Canvas's importer, which settles what the guides leave vague (header, ids, Points Possible, dropped columns):
# https://github.com/instructure/canvas-lms/blob/master/app/models/gradebook_importer.rb
# https://github.com/instructure/canvas-lms/blob/master/app/models/assignment.rb (title_and_id: "Title (123)")
# Canvas's own guide, which those pages cite (not fetched here):
# https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807
# Moodle: the manual's page and the importer it describes,
# https://docs.moodle.org/311/en/Grade_import
# https://github.com/moodle/moodle/blob/master/grade/import/csv/classes/load_data.php
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import stat
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from .records import GRADEBOOK, atomic_write
from .sandbox import read_at_most
from .sinks import csv_cell, terminal_text

FORMATS = ("canvas", "moodle")
MISSING = ("error", "zero", "blank")
MOODLE_IDS = ("email", "username", "idnumber")  # Moodle's user fields, as load_data.php names them
CANVAS_IDS = ("canvas_id", "sis_user_id", "sis_login_id")
ROSTER_COLUMNS = ("submission", "name", "section", *CANVAS_IDS, *MOODLE_IDS)
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_RESERVED = (*CANVAS_HEADER, "LastName", "FirstName", "Integration ID", "Root Account")
CANVAS_DROPPED = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points", "Final Grade",
                  "Override Score", "Override Grade", "Override Status")  # importer drops names containing these
POINTS_ROW = "Points Possible"
MAX_CSV_BYTES = 32 << 20  # a class of 100,000 fits many times over
PLACES = 6
MOODLE_MAX = 100  # Moodle's default gradepointmax
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_SHOWN = 20  # ids listed in one error before "and N more"


@dataclass(frozen=True)
class Gradebook:
    """One assignment: its LMS column name and each submission's total, out of ``max_total``."""

    name: str
    path: Path
    totals: dict[str, Fraction]
    max_total: Fraction


@dataclass(frozen=True)
class Student:
    """One roster row: the submission id (file stem) and the LMS fields the roster gives."""

    submission: str
    fields: dict[str, str]
    line: int


# ----------------------------------------------------------------------------- reading

def _read_csv(path: Path, what: str) -> list[tuple[int, list[str]]]:
    """The rows of a UTF-8 CSV file (BOM dropped; CRLF, LF or CR) with their line numbers."""
    shown = terminal_text(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise ValueError(f"cannot read the {what} {shown}: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"the {what} {shown} is not a regular file")
        data = read_at_most(fd, MAX_CSV_BYTES)
    finally:
        os.close(fd)
    if data is None:
        raise ValueError(f"the {what} {shown} is larger than {MAX_CSV_BYTES >> 20} MiB")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"the {what} {shown} is UTF-16; save it as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ValueError(f"the {what} {shown} is not UTF-8 (line {line}); save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as err:
        raise ValueError(f"the {what} {shown} is not valid CSV at line {reader.line_num}: {err}") from None
    return [(n, row) for n, row in rows if any(row)]  # blank lines carry nothing


def _decimal(text: str, where: str) -> Fraction:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: expected a number, got {terminal_text(text)!r}") from None
    if not value.is_finite() or value < 0 or value and abs(value.adjusted()) > 30:  # 1e-999999 would be a huge fraction
        raise ValueError(f"{where}: expected a finite number >= 0 (between 1e-30 and 1e30), got "
                         f"{terminal_text(text)!r}")
    return Fraction(value)


def read_gradebook(path: str | Path, name: str | None = None) -> Gradebook:
    """The totals of a ``dlcourse grade`` gradebook (its file, or the folder holding ``gradebook.csv``).

    The assignment's name is ``name``, else the gradebook's folder name. The submission ids are
    restored from their spreadsheet-safe cells (one leading ``'`` dropped, as ``csv_cell`` documents).
    """
    path = Path(path)
    file = path / GRADEBOOK if path.is_dir() else path
    rows = _read_csv(file, "gradebook")
    if not rows:
        raise ValueError(f"the gradebook {file} is empty; expected a header: submission, <exercise ids>, total, "
                         "max_total")
    _, header = rows[0]
    if len(header) < 3 or header[0] != "submission" or header[-2:] != ["total", "max_total"]:
        raise ValueError(f"{file} is not a dlcourse gradebook: expected columns submission, <exercise ids>, total, "
                         f"max_total; got {', '.join(map(terminal_text, header[:8]))}")
    totals: dict[str, Fraction] = {}
    max_total = Fraction(0)
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(f"{file} line {line}: {len(row)} cells, the header has {len(header)}")
        cell = row[0]
        student = cell[1:] if cell.startswith("'") else cell
        if student in totals:
            raise ValueError(f"{file} line {line}: submission {terminal_text(student)!r} appears twice")
        total, most = _decimal(row[-2], f"{file} line {line}, total"), _decimal(row[-1], f"{file} line {line}, max")
        if total > most:
            raise ValueError(f"{file} line {line}: total {row[-2]} is above max_total {row[-1]}")
        totals[student], max_total = total, max(max_total, most)
    return Gradebook(name if name is not None else file.resolve().parent.name, file, totals, max_total)


def _identity_columns(fmt: str, moodle_id: str, header: list[str]) -> tuple[str, ...]:
    """The roster columns that identify a student in ``fmt``; refuses a roster that lacks them."""
    if fmt == "moodle":
        if moodle_id not in MOODLE_IDS:
            raise ValueError(f"--moodle-id must be one of {', '.join(MOODLE_IDS)}, got {moodle_id!r}")
        if moodle_id not in header:
            raise ValueError(f"the roster needs a {moodle_id!r} column for --format moodle --moodle-id {moodle_id}")
        return (moodle_id,)
    ids = tuple(c for c in CANVAS_IDS if c in header)
    if "name" not in header or not ids:
        raise ValueError("the roster needs a 'name' column and at least one of "
                         f"{', '.join(CANVAS_IDS)} for --format canvas")
    return ids


def read_roster(path: str | Path, fmt: str, moodle_id: str = "email") -> list[Student]:
    """The roster's students, in file order, after strict checks for format ``fmt``.

    Refused: an unknown, repeated or missing column; a row of the wrong length; an empty or
    repeated submission id; an identifier that is repeated, space-padded, or that a spreadsheet
    would take for a formula; a Canvas id that is not all digits. Submission ids match exactly.
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    rows = _read_csv(Path(path), "roster")
    if not rows:
        raise ValueError(f"the roster {path} is empty; expected a header such as submission,name,canvas_id,email")
    _, header = rows[0]
    unknown = [c for c in header if c not in ROSTER_COLUMNS]
    if unknown or len(set(header)) != len(header) or "submission" not in header:
        raise ValueError(f"roster {path}: the header must name distinct columns from {', '.join(ROSTER_COLUMNS)}, "
                         f"with 'submission'; got {', '.join(map(terminal_text, header))}")
    ids = _identity_columns(fmt, moodle_id, header)
    students: list[Student] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(f"roster {path} line {line}: {len(row)} cells, the header has {len(header)}")
        fields = dict(zip(header, row))
        for column in ("submission", *ids):
            value = fields[column]
            if column != "submission" and value != value.strip():  # a file stem is matched exactly, spaces and all
                raise ValueError(f"roster {path} line {line}: {column} {terminal_text(value)!r} has spaces around it")
            if column == "submission" and not value:
                raise ValueError(f"roster {path} line {line}: empty submission id")
            if value and (column, value) in seen:
                raise ValueError(f"roster {path} line {line}: {column} {terminal_text(value)!r} is already on line "
                                 f"{seen[column, value]}")
            seen[column, value] = line
            if column != "submission" and value.startswith(_FORMULA_START):
                raise ValueError(f"roster {path} line {line}: {column} {terminal_text(value)!r} starts like a "
                                 "spreadsheet formula; its guarded cell would match no one in the LMS")
        if not any(fields[c] for c in ids):
            raise ValueError(f"roster {path} line {line}: no {' or '.join(ids)} for "
                             f"{terminal_text(fields['submission'])!r}")
        canvas_id = fields.get("canvas_id", "")
        if fmt == "canvas" and canvas_id and not (canvas_id.isascii() and canvas_id.isdigit()):
            raise ValueError(f"roster {path} line {line}: canvas_id must be Canvas's numeric user id, got "
                             f"{terminal_text(fields['canvas_id'])!r}")
        students.append(Student(fields["submission"], fields, line))
    return students


# ----------------------------------------------------------------------------- joining

def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(terminal_text(i)) for i in ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def check_coverage(roster: list[Student], gradebooks: list[Gradebook], missing: str) -> list[str]:
    """Warnings for roster students without a submission; refuses submissions that are not on the roster.

    A submission that is not on the roster is always an error: its grade would be lost. A student
    with no submission is an error under ``missing="error"``, otherwise a warning (scored 0 or left
    blank by the caller).
    """
    if missing not in MISSING:
        raise ValueError(f"--missing must be one of {', '.join(MISSING)}, got {missing!r}")
    enrolled = {s.submission for s in roster}
    problems, warnings = [], []
    for book in gradebooks:
        stray = [s for s in book.totals if s not in enrolled]
        if stray:
            problems.append(f"{book.name}: {len(stray)} submission(s) not on the roster: {_listed(stray)} "
                            "(add them to the roster, or remove their rows from the gradebook)")
    for book in gradebooks:
        absent = [s.submission for s in roster if s.submission not in book.totals]
        if absent:
            line = f"{book.name}: {len(absent)} roster student(s) with no submission: {_listed(absent)}"
            if missing == "error":
                problems.append(line + " (pass --missing zero to score them 0, or --missing blank to leave them "
                                       "ungraded)")
            else:
                warnings.append(line + (" scored 0" if missing == "zero" else " left ungraded"))
    if problems:
        raise ValueError("the gradebooks and the roster disagree:\n  " + "\n  ".join(problems))
    return warnings


def number(value: Fraction) -> str:
    """``value`` as a plain decimal: exact when it ends within :data:`PLACES` decimals, else rounded half-up."""
    for places in range(PLACES + 1):
        scaled = value * 10 ** places
        if scaled.denominator == 1:
            break
    else:
        scaled = Fraction(math.floor(value * 10 ** PLACES + Fraction(1, 2)))
    digits = str(scaled.numerator).rjust(places + 1, "0")
    return digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")


def _points(gradebooks: list[Gradebook], points: list[Fraction] | None) -> list[Fraction]:
    """Each assignment's points possible: ``points`` (one for all, or one each), else its gradebook's maximum."""
    if not points:
        return [book.max_total for book in gradebooks]
    if len(points) not in (1, len(gradebooks)):
        raise ValueError(f"--points: give one value, or one per gradebook ({len(gradebooks)}); got {len(points)}")
    for book in gradebooks:
        if book.max_total == 0 and book.totals:
            raise ValueError(f"{book.name}: every max_total is 0, so its scores cannot be scaled to --points")
    return list(points) * len(gradebooks) if len(points) == 1 else list(points)


def _score(book: Gradebook, submission: str, possible: Fraction, scale: bool, missing: str) -> str:
    if submission not in book.totals:
        return "0" if missing == "zero" else ""
    total = book.totals[submission]
    return number(total * possible / book.max_total if scale and book.max_total else total)


def _check_names(gradebooks: list[Gradebook], fmt: str, reserved: tuple[str, ...]) -> None:
    """Refuse assignment names the LMS would misread: empty, padded, controls, formulas, its own columns."""
    names = [book.name for book in gradebooks]
    canvas = "; nor contain ';' or a Canvas total column's name" if fmt == "canvas" else ""
    for name in names:
        if (not name or name != name.strip() or not name.isprintable() or name.startswith(_FORMULA_START)
                or name in reserved or canvas and (";" in name or any(d in name for d in CANVAS_DROPPED))):
            raise ValueError(f"assignment name {terminal_text(name)!r} cannot be a {fmt} column: it must be "
                             f"non-empty, unpadded, printable, not start with = + - @ ', not be one of "
                             f"{', '.join(reserved)}{canvas} (use --name)")
    if len(set(names)) != len(names):
        raise ValueError(f"two gradebooks have the same assignment name: {', '.join(names)} (use --name)")


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # RFC 4180, as Canvas's and Moodle's exports
    return buffer.getvalue()


def canvas_csv(roster: list[Student], gradebooks: list[Gradebook], points: list[Fraction] | None = None,
               missing: str = "error") -> tuple[str, list[str]]:
    """Canvas's gradebook import file and the warnings about it.

    Columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then one per assignment; the
    second row is ``Points Possible``. A name that contains "Points Possible" would make Canvas
    skip that student's row: it is left empty (the ids identify the student) and a warning says so.
    """
    _check_names(gradebooks, "canvas", CANVAS_RESERVED)
    warnings = check_coverage(roster, gradebooks, missing)
    possible = _points(gradebooks, points)
    rows = [[*CANVAS_HEADER, *(b.name for b in gradebooks)], [POINTS_ROW, "", "", "", "", *map(number, possible)]]
    for student in roster:
        f = student.fields
        name = f.get("name", "")
        if POINTS_ROW in name:
            warnings.append(f"roster line {student.line}: name {terminal_text(name)!r} left empty (Canvas would read "
                            "the row as points possible)")
            name = ""
        text = [name, f.get("canvas_id", ""), f.get("sis_user_id", ""), f.get("sis_login_id", ""), f.get("section", "")]
        scores = [_score(b, student.submission, p, bool(points), missing) for b, p in zip(gradebooks, possible)]
        rows.append([*map(csv_cell, text), *scores])
    return _csv(rows), warnings


def moodle_csv(roster: list[Student], gradebooks: list[Gradebook], points: list[Fraction] | None = None,
               missing: str = "error", moodle_id: str = "email") -> tuple[str, list[str]]:
    """Moodle's CSV grade import file (identifier column, then one column per grade item) and its warnings.

    An ungraded cell is ``-``, Moodle's "no grade" (an empty cell is not "no grade" for a new item).
    """
    _check_names(gradebooks, "moodle", MOODLE_IDS)
    warnings = check_coverage(roster, gradebooks, missing)
    possible = _points(gradebooks, points)
    over = [b.name for b, p in zip(gradebooks, possible) if p > MOODLE_MAX]
    if over:
        warnings.append(f"{', '.join(over)}: more than {MOODLE_MAX} points; Moodle refuses grades above its "
                        "gradepointmax (100 unless raised): pass --points 100 or raise it")
    rows = [[moodle_id, *(b.name for b in gradebooks)]]
    for student in roster:
        scores = [_score(b, student.submission, p, bool(points), missing) or "-" for b, p in zip(gradebooks, possible)]
        rows.append([csv_cell(student.fields[moodle_id]), *scores])
    return _csv(rows), warnings


def export(gradebooks: list[str | Path], roster: str | Path, fmt: str, names: list[str] | None = None,
           points: list[str] | None = None, missing: str = "error", moodle_id: str = "email") -> tuple[str, list[str]]:
    """The import file for ``fmt`` from ``gradebooks`` (one per assignment) and ``roster``, and its warnings."""
    if names and len(names) != len(gradebooks):
        raise ValueError(f"--name: give one per gradebook ({len(gradebooks)}), got {len(names)}")
    books = [read_gradebook(path, names[i] if names else None) for i, path in enumerate(gradebooks)]
    students = read_roster(roster, fmt, moodle_id)
    scale = [_decimal(p, "--points") for p in points or []]
    if any(p == 0 for p in scale):
        raise ValueError("--points must be positive")
    if fmt == "canvas":
        return canvas_csv(students, books, scale or None, missing)
    return moodle_csv(students, books, scale or None, missing, moodle_id)


# ----------------------------------------------------------------------------- command line

def _cmd(args: argparse.Namespace) -> int:
    text, warnings = export(args.gradebooks, args.roster, args.format, args.name, args.points, args.missing,
                            args.moodle_id)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, text)
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"wrote {out} ({args.format}): {len(args.gradebooks)} assignment(s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dlcourse export-grades`` to the command's subparsers."""
    p = sub.add_parser("export-grades", help="write the gradebook file that Canvas or Moodle imports, from "
                                             "dlcourse gradebooks and a roster")
    p.add_argument("gradebooks", nargs="+", help="gradebook.csv files of `dlcourse grade`, or their folders; one per "
                                                 "assignment, named after the folder")
    p.add_argument("--roster", required=True, help="CSV: submission (the notebook's file stem) and the student's LMS "
                                                   f"fields ({', '.join(ROSTER_COLUMNS[1:])})")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, help="the import file to write")
    p.add_argument("--name", action="append", help="the assignment's column name in the LMS, one per gradebook "
                                                   "(default: the gradebook's folder name)")
    p.add_argument("--points", action="append", help="scale each total to this many points (one value, or one "
                                                      "per gradebook; default: the gradebook's max_total)")
    p.add_argument("--missing", choices=MISSING, default="error",
                   help="roster students without a submission: error (default), zero, or blank (ungraded)")
    p.add_argument("--moodle-id", choices=MOODLE_IDS, default="email",
                   help="the roster column Moodle identifies users by (default email)")
    p.set_defaults(func=_cmd)
