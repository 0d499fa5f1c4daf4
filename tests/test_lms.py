"""`dlcourse export-grades`: Canvas and Moodle import files from gradebooks and a roster.

The expected files are written by hand from the LMSs' documented layouts (see the sources in
``dlcourse.grading.lms``), never produced by the code under test. The last test grades a real class
of two with ``dlcourse grade --no-sandbox`` and runs the commands that ``book/instructor.md`` shows.
"""
from __future__ import annotations

import csv
import io
import re
import shlex
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse.cli import main
from dlcourse.grading import lms
from dlcourse.grading.records import gradebook_csv
from dlcourse.grading.registry import Registry

REPO = Path(__file__).resolve().parents[1]
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's own export begins so
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _gradebook(folder: Path, rows: dict[str, tuple[float, float]]) -> Path:
    """A gradebook as ``dlcourse grade`` writes it (the real writer), one exercise column ``hw.q``."""
    data = {s: {"scores": {"hw.q": total}, "total": total, "max_total": most} for s, (total, most) in rows.items()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gradebook.csv").write_text(gradebook_csv(data, Registry([])), encoding="utf-8", newline="")
    return folder


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


ROSTER = ("submission,name,canvas_id,sis_user_id,sis_login_id,section,email,username\r\n"
          "alice,\"Liddell, Alice\",1001,S001,aliddell,Section A,alice@example.edu,aliddell\r\n"
          "bob,\"Bob \"\"the Bard\"\" Dylan\",,S002,,Section B,bob@example.edu,bdylan\r\n"
          "chloé,Chloé Zhào 赵,1003,,czhao,,chloe@example.edu,czhao\r\n")


@pytest.fixture
def klass(tmp_path):
    hw1 = _gradebook(tmp_path / "hw1", {"alice": (4, 5), "bob": (2.5, 5), "chloé": (0, 5)})
    hw2 = _gradebook(tmp_path / "Week 2", {"alice": (1, 3), "bob": (3, 3), "chloé": (2, 3)})
    return tmp_path, _write(tmp_path / "roster.csv", ROSTER), hw1, hw2


# ------------------------------------------------------------------ the documented layouts, exactly

def test_canvas_file_has_canvas_columns_a_points_row_and_rfc4180_quoting(klass):
    tmp, roster, hw1, hw2 = klass
    text, warnings = lms.export([hw1, hw2], roster, "canvas")
    assert text == ("Student,ID,SIS User ID,SIS Login ID,Section,hw1,Week 2\r\n"
                    "Points Possible,,,,,5,3\r\n"
                    "\"Liddell, Alice\",1001,S001,aliddell,Section A,4,1\r\n"
                    "\"Bob \"\"the Bard\"\" Dylan\",,S002,,Section B,2.5,3\r\n"
                    "Chloé Zhào 赵,1003,,czhao,,0,2\r\n")
    assert warnings == []


def test_canvas_scaled_points_are_exact_or_rounded_half_up_at_six_decimals(klass):
    tmp, roster, hw1, hw2 = klass
    text, _ = lms.export([hw1, hw2], roster, "canvas", names=["Perceptron (4567)", "MLP"], points=["10", "20"])
    # alice: 4/5*10 = 8, 1/3*20 = 6.666666.. -> 6.666667; bob: 2.5/5*10 = 5, 20; chloé: 0, 2/3*20 = 13.333333..
    assert _rows(text) == [CANVAS_HEADER + ["Perceptron (4567)", "MLP"],
                           ["Points Possible", "", "", "", "", "10", "20"],
                           ["Liddell, Alice", "1001", "S001", "aliddell", "Section A", "8", "6.666667"],
                           ['Bob "the Bard" Dylan', "", "S002", "", "Section B", "5", "20"],
                           ["Chloé Zhào 赵", "1003", "", "czhao", "", "0", "13.333333"]]


def test_moodle_file_has_the_identifier_column_then_one_column_per_grade_item(klass):
    tmp, roster, hw1, hw2 = klass
    text, _ = lms.export([hw1, hw2], roster, "moodle", points=["100"])
    assert text == ("email,hw1,Week 2\r\n"
                    "alice@example.edu,80,33.333333\r\n"
                    "bob@example.edu,50,100\r\n"
                    "chloe@example.edu,0,66.666667\r\n")
    text, _ = lms.export([hw1], roster, "moodle", moodle_id="username")
    assert text == "username,hw1\r\naliddell,4\r\nbdylan,2.5\r\nczhao,0\r\n"


@pytest.mark.parametrize("value, expected", [
    (Fraction(5), "5"), (Fraction(5, 2), "2.5"), (Fraction(1, 3), "0.333333"), (Fraction(2, 3), "0.666667"),
    (Fraction("0.1") + Fraction("0.2"), "0.3"), (Fraction(10 ** 6), "1000000"), (Fraction(0), "0"),
    (Fraction(1, 2 * 10 ** 6), "0.000001"), (Fraction(1, 4 * 10 ** 6), "0"), (Fraction("12.3456785"), "12.345679"),
])
def test_numbers_are_plain_decimals_without_float_noise(value, expected):
    assert lms.number(value) == expected


# ------------------------------------------------------------------ missing students, strays

def test_a_submission_missing_from_the_roster_and_a_student_without_one_are_both_listed(klass):
    tmp, roster, hw1, hw2 = klass
    _gradebook(hw1, {"alice": (4, 5), "chloé": (0, 5), "mallory": (5, 5), "=evil": (5, 5)})
    with pytest.raises(ValueError) as err:
        lms.export([hw1, hw2], roster, "canvas")
    message = str(err.value)
    assert "hw1: 2 submission(s) not on the roster: '=evil', 'mallory'" in message
    assert "hw1: 1 roster student(s) with no submission: 'bob'" in message and "--missing zero" in message
    assert "Week 2" not in message  # that gradebook agrees with the roster
    with pytest.raises(ValueError, match="not on the roster"):  # strays stay an error whatever --missing says
        lms.export([hw1], roster, "canvas", missing="zero")


def test_missing_zero_and_blank_fill_the_cell_and_warn(klass):
    tmp, roster, hw1, hw2 = klass
    _gradebook(hw1, {"alice": (4, 5)})
    text, warnings = lms.export([hw1], roster, "canvas", missing="zero")
    assert [r[-1] for r in _rows(text)[2:]] == ["4", "0", "0"]
    assert warnings == ["hw1: 2 roster student(s) with no submission: 'bob', 'chloé' scored 0"]
    text, warnings = lms.export([hw1], roster, "canvas", missing="blank")
    assert [r[-1] for r in _rows(text)[2:]] == ["4", "", ""] and "left ungraded" in warnings[0]
    text, _ = lms.export([hw1], roster, "moodle", missing="blank")
    assert text == "email,hw1\r\nalice@example.edu,4\r\nbob@example.edu,-\r\nchloe@example.edu,-\r\n"  # Moodle's "-"


def test_a_long_list_of_missing_ids_is_cut_after_twenty(tmp_path):
    roster = _write(tmp_path / "r.csv", "submission,email\n" + "".join(f"s{i},s{i}@x.org\n" for i in range(25)))
    with pytest.raises(ValueError, match=r"25 roster student\(s\) with no submission: 's0', .*'s19' and 5 more"):
        lms.export([_gradebook(tmp_path / "hw", {})], roster, "moodle")


# ------------------------------------------------------------------ hostile text

def test_formula_cells_are_neutralised_and_hostile_file_names_still_match(tmp_path):
    hostile = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx", "\rcmd", "'quoted"]
    book = _gradebook(tmp_path / "hw", {s: (1, 1) for s in hostile})
    assert "'=HYPERLINK" in (book / "gradebook.csv").read_text(encoding="utf-8")  # the grader guarded it
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "name", "canvas_id", "section", "email"])
    for i, s in enumerate(hostile):
        writer.writerow([s, s, str(100 + i), "=1+2", f"u{i}@x.org"])
    roster = _write(tmp_path / "roster.csv", buffer.getvalue())
    for fmt in lms.FORMATS:
        text, _ = lms.export([book], roster, fmt)
        cells = [cell for row in _rows(text) for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)], fmt
    rows = _rows(lms.export([book], roster, "canvas")[0])[2:]
    assert [r[0] for r in rows] == ["'" + s for s in hostile]  # drop one leading ' to get the name back
    assert {r[4] for r in rows} == {"'=1+2"} and [r[-1] for r in rows] == ["1"] * len(hostile)


def test_a_name_that_says_points_possible_is_left_empty_so_canvas_keeps_the_row(tmp_path):
    book = _gradebook(tmp_path / "hw", {"eve": (1, 2)})
    roster = _write(tmp_path / "r.csv", "submission,name,canvas_id\neve,Points Possible,7\n")
    text, warnings = lms.export([book], roster, "canvas")
    assert _rows(text)[2] == ["", "7", "", "", "", "1"] and "left empty" in warnings[0]


ID_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(ID_TEXT, min_size=1, max_size=6, unique=True),
       names=st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
                      min_size=6, max_size=6),
       totals=st.lists(st.integers(0, 40), min_size=6, max_size=6))
def test_any_ids_and_names_round_trip_through_both_formats(tmp_path_factory, ids, names, totals):
    tmp = tmp_path_factory.mktemp("h")
    book = _gradebook(tmp / "hw", {s: (t / 4, 10) for s, t in zip(ids, totals)})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "name", "canvas_id", "username"])
    for i, s in enumerate(ids):
        writer.writerow([s, names[i], str(i + 1), f"user{i}"])
    roster = _write(tmp / "roster.csv", buffer.getvalue())
    canvas = _rows(lms.export([book], roster, "canvas")[0])
    assert canvas[0] == CANVAS_HEADER + ["hw"] and canvas[1] == ["Points Possible", "", "", "", "", "10"]
    for i, row in enumerate(canvas[2:]):
        name = "" if "Points Possible" in names[i] else names[i]
        restored = row[0][1:] if row[0].startswith("'") else row[0]
        assert restored == name and not row[0].startswith(FORMULA_START)
        assert row[1:] == [str(i + 1), "", "", "", f"{totals[i] / 4:g}"]  # quarters: :g is exact
    moodle = _rows(lms.export([book], roster, "moodle", moodle_id="username", points=["100"])[0])
    assert moodle == [["username", "hw"]] + [[f"user{i}", f"{totals[i] * 2.5:g}"] for i in range(len(ids))]


# ------------------------------------------------------------------ strict roster and gradebook reading

@pytest.mark.parametrize("text, fmt, message", [
    ("submission,name,canvas_id\nalice,A,1\nalice,B,2\n", "canvas", "submission 'alice' is already on line 2"),
    ("submission,name,canvas_id\na,A,1\nb,B,1\n", "canvas", "canvas_id '1' is already on line 2"),
    ("submission,name\na,A\n", "canvas", "at least one of canvas_id, sis_user_id, sis_login_id"),
    ("submission,canvas_id\na,1\n", "canvas", "needs a 'name' column"),
    ("submission,name\na,A\n", "moodle", "needs a 'email' column"),
    ("submission,name,canvas_id\n,A,1\n", "canvas", "line 2: empty submission id"),
    ("submission,name,sis_login_id,canvas_id\na,A,,\n", "canvas", "no canvas_id or sis_login_id for 'a'"),
    ("submission,email\na,\n", "moodle", "no email for 'a'"),
    ("submission,email\na, a@x.org\n", "moodle", "has spaces around it"),
    ("submission,name,canvas_id\na,A,12a\n", "canvas", "canvas_id must be Canvas's numeric user id"),
    ("submission,name,canvas_id\na,A,١٢\n", "canvas", "canvas_id must be Canvas's numeric user id"),
    ("submission,email\na,=cmd@x.org\n", "moodle", "starts like a spreadsheet formula"),
    ("submission,email,e-mail\na,a@x.org,b\n", "moodle", "distinct columns from submission, name"),
    ("submission,email,email\na,a@x.org,b\n", "moodle", "distinct columns"),
    ("name,email\nA,a@x.org\n", "moodle", "with 'submission'"),
    ("submission,email\na,a@x.org,extra\n", "moodle", "line 2: 3 cells, the header has 2"),
    ("", "moodle", "the roster .* is empty"),
    ("submission,email\na,a@x.org\n", "blackboard", "--format must be one of canvas, moodle"),
])
def test_a_bad_roster_is_refused_with_the_line_and_the_reason(tmp_path, text, fmt, message):
    roster = _write(tmp_path / "roster.csv", text)
    with pytest.raises(ValueError, match=message):
        lms.read_roster(roster, fmt)


def test_a_roster_from_excel_with_bom_and_crlf_is_read_and_blank_lines_skipped(tmp_path):
    roster = _write(tmp_path / "r.csv", "\ufeffsubmission,email\r\nalice,a@x.org\r\n\r\nbob,b@x.org\r\n")
    assert [(s.submission, s.fields["email"], s.line) for s in lms.read_roster(roster, "moodle")] == \
        [("alice", "a@x.org", 2), ("bob", "b@x.org", 4)]
    _write(tmp_path / "r.csv", "submission,email\r\na,a@x.org\r\n", encoding="utf-16")
    with pytest.raises(ValueError, match="is UTF-16; save it as CSV UTF-8"):
        lms.read_roster(tmp_path / "r.csv", "moodle")
    (tmp_path / "r.csv").write_bytes(b"submission,email\na,\xe9@x.org\n")
    with pytest.raises(ValueError, match=r"is not UTF-8 \(line 2\)"):
        lms.read_roster(tmp_path / "r.csv", "moodle")
    (tmp_path / "r.csv").write_bytes(b'submission,email\na,"open\n')
    with pytest.raises(ValueError, match="is not valid CSV"):
        lms.read_roster(tmp_path / "r.csv", "moodle")


@pytest.mark.parametrize("text, message", [
    ("name,total,max_total\na,1,2\n", "not a dlcourse gradebook: expected columns submission"),
    ("submission,hw.q,score\na,1,1\n", "not a dlcourse gradebook"),
    ("submission,hw.q,total,max_total\na,1,x,2\n", "line 2, total: expected a number, got 'x'"),
    ("submission,hw.q,total,max_total\na,1,nan,2\n", "expected a finite number >= 0"),
    ("submission,hw.q,total,max_total\na,1,-1,2\n", "expected a finite number >= 0"),
    ("submission,hw.q,total,max_total\na,1,1e-999999999,2\n", "between 1e-30 and 1e30"),
    ("submission,hw.q,total,max_total\na,1,3,2\n", "total 3 is above max_total 2"),
    ("submission,hw.q,total,max_total\na,1,1,2\na,1,1,2\n", "submission 'a' appears twice"),
    ("submission,hw.q,total,max_total\na,1,1\n", "line 2: 3 cells, the header has 4"),
    ("", "is empty"),
])
def test_a_gradebook_of_the_wrong_shape_is_refused_clearly(tmp_path, text, message):
    _write(tmp_path / "hw" / "gradebook.csv", text)
    with pytest.raises(ValueError, match=message):
        lms.read_gradebook(tmp_path / "hw")


def test_gradebooks_are_read_defensively(tmp_path, monkeypatch):
    book = _gradebook(tmp_path / "hw", {"a": (1, 2)})
    assert lms.read_gradebook(book / "gradebook.csv").name == "hw"  # the file, or its folder
    with pytest.raises(ValueError, match="cannot read the gradebook"):
        lms.read_gradebook(tmp_path / "nothing")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "gradebook.csv").symlink_to(book / "gradebook.csv")
    with pytest.raises(ValueError, match="cannot read the gradebook"):  # a link is not followed
        lms.read_gradebook(tmp_path / "link")
    monkeypatch.setattr(lms, "MAX_CSV_BYTES", 16)
    with pytest.raises(ValueError, match="larger than"):
        lms.read_gradebook(book)


@pytest.mark.parametrize("fmt, name", [("canvas", "Final Grade"), ("canvas", "Quiz; part 1"), ("canvas", "Section"),
                                       ("canvas", "=1+1"), ("moodle", "email"), ("moodle", "-hw"), ("moodle", " hw"),
                                       ("moodle", ""), ("moodle", "hw\n2"), ("canvas", "Quiz\t1")])
def test_an_assignment_name_the_lms_would_misread_is_refused(klass, fmt, name):
    tmp, roster, hw1, hw2 = klass
    with pytest.raises(ValueError, match="cannot be a .* column"):
        lms.export([hw1], roster, fmt, names=[name])


def test_names_and_points_must_fit_the_gradebooks(klass):
    tmp, roster, hw1, hw2 = klass
    with pytest.raises(ValueError, match="same assignment name"):
        lms.export([hw1, hw2], roster, "canvas", names=["x", "x"])
    with pytest.raises(ValueError, match="--name: give one per gradebook"):
        lms.export([hw1, hw2], roster, "canvas", names=["x"])
    with pytest.raises(ValueError, match="--points: give one value, or one per gradebook"):
        lms.export([hw1], roster, "canvas", points=["1", "2"])
    with pytest.raises(ValueError, match="--points must be positive"):
        lms.export([hw1], roster, "canvas", points=["0"])
    with pytest.raises(ValueError, match="expected a number"):
        lms.export([hw1], roster, "canvas", points=["ten"])
    _, warnings = lms.export([hw1], roster, "moodle", points=["150"])
    assert "gradepointmax" in warnings[0]


# ------------------------------------------------------------------ the command and the book

def test_the_command_exits_0_on_success_and_2_on_bad_input(klass, capsys):
    tmp, roster, hw1, hw2 = klass
    out = tmp / "exports" / "canvas.csv"
    assert main(["export-grades", str(hw1), str(hw2), "--roster", str(roster), "--format", "canvas",
                 "--out", str(out)]) == 0
    assert _rows(out.read_text(encoding="utf-8"))[0] == CANVAS_HEADER + ["hw1", "Week 2"]
    assert "wrote" in capsys.readouterr().out
    _gradebook(hw1, {"alice": (1, 5)})
    before = out.read_bytes()
    assert main(["export-grades", str(hw1), "--roster", str(roster), "--format", "canvas", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: the gradebooks and the roster disagree" in err and "'bob', 'chloé'" in err
    assert out.read_bytes() == before  # nothing half-written
    assert main(["export-grades", str(hw1), "--roster", str(roster), "--format", "canvas", "--out", str(out),
                 "--missing", "zero"]) == 0
    assert "WARNING: hw1: 2 roster student(s) with no submission" in capsys.readouterr().err
    assert main(["export-grades", str(hw1), "--roster", str(tmp / "none.csv"), "--format", "moodle",
                 "--out", str(out)]) == 2
    assert "cannot read the roster" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["export-grades", str(hw1), "--roster", str(roster), "--format", "excel", "--out", str(out)])
    assert exit_.value.code == 2


def _section() -> str:
    text = (REPO / "book" / "instructor.md").read_text(encoding="utf-8")
    start = text.index("## Export to Canvas or Moodle")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_book_commands_export_a_real_grade_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```(\w+)\n(.*?)```", _section(), re.DOTALL)
    (_, roster), (lang, commands), (_, canvas), (_, moodle) = blocks
    assert lang == "bash" and roster.startswith("submission,") and canvas.startswith("Student,ID")
    class_ = tmp_path / "class"
    class_.mkdir()
    shutil.copy(REPO / "solutions" / "01_perceptron.ipynb", class_ / "alice.ipynb")
    shutil.copy(REPO / "exercises" / "01_perceptron.ipynb", class_ / "bob.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["grade", str(class_), "--out", "grades/01_perceptron", "--no-sandbox", "--no-progress",
                 "--jobs", "2", "--timeout", "60"]) == 0
    _write(tmp_path / "roster.csv", roster)
    lines = [line for line in commands.splitlines() if line.strip()]
    assert len(lines) == 2
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "dlcourse" and main(argv[1:]) == 0, line
    assert (tmp_path / "canvas.csv").read_bytes().decode("utf-8") == canvas.replace("\n", "\r\n")
    assert (tmp_path / "moodle.csv").read_bytes().decode("utf-8") == moodle.replace("\n", "\r\n")
