"""The grader against a student who read its code: intake, one assignment per run, what the instructor opens.

Each test builds a class of real student notebooks (the handout of the small registered notebook
of grader_helpers, with cells replaced) next to honest ones, grades it once, and checks that every
submission has exactly one row, the honest ones at full marks, the crafted ones at zero with a note
saying why, and that a re-run over the same folder works. These tests belong to the attack suite
with tests/test_grader_attacks.py (sandboxed attacks); the last ones cover staging permissions, a
grader that is not root, one class with every kind of attack mixed in, and a measurement of each
way to hold memory outside a process's address space.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading import Case, Exercise
from dlcourse.grading import grade as grade_module
from dlcourse.grading import sandbox as sandbox_module
from dlcourse.grading.grade import GradeOptions, grade
from dlcourse.grading.sandbox import Limits
from dlcourse.grading.sandbox_entry import ResultError, decode_result, encode_result
from dlcourse.nbtools import dumps_notebook

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(wall_s=20, memory_mb=1024, tmp_mb=64)
AFFINE, ARGMAX = f"{H.TOY}.affine", f"{H.TOY}.argmax_rows"
FULL = {AFFINE: 2.0, ARGMAX: 1.0}
OTHER = "97_toyother"
OTHER_EXERCISES = [
    Exercise(id=f"{OTHER}.scale", reference=lambda x, k: np.asarray(x, dtype=float) * k,
             public_cases=[Case({"x": np.ones(2), "k": 2.0})],
             hidden_cases=lambda rng: [{"x": rng.normal(size=n), "k": float(rng.normal())} for n in (1, 3, 5)],
             output_names=("y",)),
    Exercise(id=f"{OTHER}.shift", reference=lambda x, c: np.asarray(x, dtype=float) + c,
             public_cases=[Case({"x": np.ones(2), "c": 2.0})],
             hidden_cases=lambda rng: [{"x": rng.normal(size=n), "c": float(rng.normal())} for n in (1, 3, 5)],
             output_names=("y",)),
]
OTHER_ANSWERS = '''
import numpy as np

def scale(x, k):
    return np.asarray(x, dtype=float) * k

def shift(x, c):
    return np.asarray(x, dtype=float) + c
'''


@pytest.fixture
def toy(monkeypatch):
    H.registry_with(monkeypatch, H.TOY_EXERCISES + OTHER_EXERCISES)
    return H.student_notebook(H.toy_solution_notebook())


def _options(out: Path, **kw) -> GradeOptions:
    return GradeOptions(out=out, limits=kw.pop("limits", LIMITS), progress=False, jobs=kw.pop("jobs", 2), **kw)


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def _honest(toy: dict, path: Path) -> Path:
    return H.write_notebook(H.with_sources(toy, H.SOLUTIONS), path)


def _said(out: Path, key: str) -> str:
    data = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
    return data["output"] + "\n" + "\n".join(t["output"] for t in data["tests"])


# ------------------------------------------------------------------ one assignment per run

def test_a_run_grades_one_assignment_and_a_swapped_notebook_scores_zero(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("alice", "bob"):
        _honest(toy, subs / f"{student}.ipynb")
    swap = H.with_sources(toy, {})  # the handout's stubs, plus the other assignment's answers, untagged
    swap["cells"].append(H.code_cell(OTHER_ANSWERS))
    swap["metadata"]["dlcourse"] = {"assignment": OTHER}
    H.write_notebook(swap, subs / "mallory.ipynb")
    other = {"cells": [H.code_cell(OTHER_ANSWERS, ["exercise"])], "metadata": {"dlcourse": {"assignment": OTHER}},
             "nbformat": 4, "nbformat_minor": 5}
    H.write_notebook(other, subs / "oscar.ipynb")
    reports = {r.student: r for r in grade([subs], _options(out))}

    assert {r.assignment for r in reports.values()} == {H.TOY}
    book = _gradebook(out)
    assert set(next(iter(book.values()))) == {"submission", AFFINE, ARGMAX, "total", "max_total"}
    assert {s: book[s]["total"] for s in book} == {"alice": "3", "bob": "3", "mallory": "0", "oscar": "0"}
    assert f"answers {OTHER}, but this run grades {H.TOY}" in _said(out, "oscar")
    assert all(r.error is None for r in reports.values())


def test_the_class_assignment_is_the_majority_never_metadata_and_a_tie_asks_for_it(toy, tmp_path):
    from dlcourse.grading.grade import class_assignment

    assert class_assignment([H.TOY, H.TOY, OTHER, None]) == H.TOY
    assert class_assignment([OTHER, H.TOY], given=H.TOY) == H.TOY
    assert class_assignment([None, None]) is None
    with pytest.raises(ValueError, match="pass --assignment"):
        class_assignment([H.TOY, OTHER])
    subs = tmp_path / "subs"
    _honest(toy, subs / "alice.ipynb")
    other = {"cells": [H.code_cell(OTHER_ANSWERS, ["exercise"])], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    H.write_notebook(other, subs / "oscar.ipynb")
    assert cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--no-progress"]) == 2


# ------------------------------------------------------------------ links, special files, size

def test_links_special_and_oversized_files_are_refused_and_scored_zero(toy, tmp_path):
    subs, out, elsewhere = tmp_path / "subs", tmp_path / "out", tmp_path / "elsewhere"
    _honest(toy, subs / "alice.ipynb")
    solution = _honest(toy, elsewhere / "solution.ipynb")
    (subs / "link_to_solution.ipynb").symlink_to(solution)
    (subs / "link_to_passwd.ipynb").symlink_to("/etc/passwd")
    os.link(_honest(toy, elsewhere / "hard.ipynb"), subs / "hard_link.ipynb")
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "folder.ipynb").mkdir()
    with open(subs / "huge.ipynb", "wb") as handle:
        handle.truncate(21 << 20)  # sparse: costs no disk
    expected = {"link_to_solution": "symbolic link", "link_to_passwd": "symbolic link", "hard_link": "hard link",
                "fifo": "not a regular file", "folder": "not a regular file", "huge": "larger than 20 MB"}
    if os.geteuid() == 0:
        os.mknod(subs / "device.ipynb", 0o600 | 0o020000, os.makedev(1, 3))  # a character device (/dev/null)
        expected["device"] = "not a regular file"
    reports = {r.student: r for r in grade([subs, solution.parent / "solution.ipynb"], _options(out))}

    book = _gradebook(out)
    assert book["alice"]["total"] == "3" and book["solution"]["total"] == "3"  # a file named directly is fine
    for student, why in expected.items():
        assert book[student]["total"] == "0", student
        assert why in _said(out, student), (student, _said(out, student))
        assert reports[student].error is None
    assert set(book) == set(expected) | {"alice", "solution"}
    shutil.rmtree(elsewhere)  # nothing was read through a link
    assert grade([subs], _options(out)) and set(_gradebook(out)) == set(expected) | {"alice"}


def test_a_link_named_on_the_command_line_is_refused_too(toy, tmp_path):
    solution = _honest(toy, tmp_path / "elsewhere" / "solution.ipynb")
    (tmp_path / "eve.ipynb").symlink_to(solution)
    grade([tmp_path / "eve.ipynb"], _options(tmp_path / "out", assignment=H.TOY))
    assert _gradebook(tmp_path / "out")["eve"]["total"] == "0"
    assert "symbolic link" in _said(tmp_path / "out", "eve")


# ------------------------------------------------------------------ crafted notebooks

def _crafted(toy: dict) -> dict[str, str | dict]:
    """Notebook texts (or notebooks) that broke the parser or the grader; each must become a zero with a note."""
    deep_cell = "def affine(x, w, b):\n    return " + "1+" * 100_000 + "1\n"
    parser_memory = "def affine(x, w, b):\n    return " + "-" * 100_000 + "1\n"
    nonstring = H.with_sources(toy, {"argmax_rows": H.SOLUTIONS["argmax_rows"]})
    for cell in nonstring["cells"]:
        if "def affine" in "".join(cell["source"]):
            cell["source"] = ["import numpy as np\n", 7, None, {"a": 1}]
    list_metadata = H.with_sources(toy, H.SOLUTIONS)
    list_metadata["metadata"] = ["not", "a", "dict"]
    for cell in list_metadata["cells"]:
        if "def affine" in "".join(cell["source"]):
            cell["metadata"] = ["exercise"]
        elif "def argmax_rows" in "".join(cell["source"]):
            cell["metadata"] = {"tags": "exercise"}
    return {
        "deep_json": '{"cells": ' + "[" * 200_000 + "]" * 200_000 + "}",
        "deep_cell": H.with_sources(toy, {"affine": deep_cell, "argmax_rows": H.SOLUTIONS["argmax_rows"]}),
        "parser_memory": H.with_sources(toy, {"affine": parser_memory, "argmax_rows": H.SOLUTIONS["argmax_rows"]}),
        "nonstring_source": nonstring,
        "too_many_objects": '{"cells": [], "x": [' + "[]," * 1_100_000 + "[]]}",
        "cells_not_a_list": '{"cells": {"a": 1}, "metadata": {}}',
        "cells_not_objects": '{"cells": [1, "x", null, [], {"cell_type": 5}], "metadata": 3}',
        "null_bytes": H.with_sources(toy, {"affine": "def affine(x, w, b):\n    return 1\x00\n"}),
        "list_metadata": list_metadata,  # still gradable: untagged cells are found by the function they define
    }


def test_crafted_notebooks_become_zeros_with_a_note_and_never_stop_the_class(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    _honest(toy, subs / "alice.ipynb")
    crafted = _crafted(toy)
    for name, nb in crafted.items():
        text = nb if isinstance(nb, str) else dumps_notebook(nb)
        (subs / f"{name}.ipynb").write_text(text, encoding="utf-8")
    # A lone surrogate (in a comment of an honest answer): JSON allows the escape, UTF-8 cannot hold it.
    honest = dumps_notebook(H.with_sources(toy, H.SOLUTIONS))
    (subs / "surrogate.ipynb").write_text(honest.replace("import numpy as np", "import numpy as np  # \\ud800"),
                                          encoding="utf-8")
    reports = {r.student: r for r in grade([subs], _options(out, assignment=H.TOY))}

    book = _gradebook(out)
    assert set(book) == set(crafted) | {"alice", "surrogate"}
    assert all(r.error is None for r in reports.values()), {s: r.error for s, r in reports.items() if r.error}
    assert book["alice"]["total"] == "3" and book["surrogate"]["total"] == "3" and book["list_metadata"]["total"] == "3"
    for name in set(crafted) - {"list_metadata"}:
        assert book[name][AFFINE] == "0", name
    assert "nested too deeply" in _said(out, "deep_json")
    assert "far too complex" in _said(out, "too_many_objects")
    assert "not a Jupyter notebook" in _said(out, "cells_not_a_list")
    assert "source is not text" in _said(out, "nonstring_source")
    assert book["deep_cell"][ARGMAX] == "1" and book["parser_memory"][ARGMAX] == "1"
    again = grade([subs], _options(out, assignment=H.TOY))  # the same folder, again: nothing to do
    assert all(r.skipped for r in again) and _gradebook(out) == book


def test_forged_result_headers_are_refused_before_anything_is_allocated():
    import io

    def forged(array_bytes: bytes, n_arrays: int = 1) -> bytes:
        head = json.dumps({"cases": [{"status": "ok", "arrays": [[0, len(array_bytes)]] * n_arrays}]}).encode()
        return b"DLCOURSE-RESULT-1\n" + b"%012d\n" % len(head) + head + array_bytes + b"\nEND-OF-RESULT\n"

    def npy(header: str, data: bytes) -> bytes:
        text = (header + " " * (117 - len(header)) + "\n").encode()
        return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data

    huge = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", bytes(16))
    short = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", bytes(16))
    record = npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", bytes(16))
    text = npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", bytes(12))
    for data, words in [(huge, "declares 1000000000000 elements"), (short, "does not hold the data"),
                        (record, "non-numeric dtype"), (text, "non-numeric dtype")]:
        with pytest.raises(ResultError, match=words):
            decode_result(forged(data), 1)
    with pytest.raises(ResultError, match="not JSON"):
        body = b"[" * 100_000
        decode_result(b"DLCOURSE-RESULT-1\n" + b"%012d\n" % len(body) + body + b"\nEND-OF-RESULT\n", 1)
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    buffer = io.BytesIO()
    np.save(buffer, fortran)
    (back,) = decode_result(forged(buffer.getvalue()), 1)[0]
    np.testing.assert_array_equal(back, fortran)
    assert back.flags.writeable and back.flags.owndata
    (empty,), (flag,) = [case for case in decode_result(encode_result([(np.zeros((0, 3)),), (np.bool_(True),)]), 2)]
    assert empty.shape == (0, 3) and flag.dtype == bool and flag.shape == ()


# ------------------------------------------------------------------ names, stale rows, re-runs

ODD_NAMES = ["x" * 234, "Zoë Łukasz", "Zoé Łukasz", "名前", "a~b", "-rf", "..hidden?"]


def test_odd_file_names_get_stable_safe_output_files_and_keep_their_exact_name(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    names = [n for n in ODD_NAMES if not n.startswith(".")]
    for name in names:
        _honest(toy, subs / f"{name}.ipynb")
    raw = os.fsencode(subs) + b"/caf\xe9-latin1.ipynb"  # not UTF-8: Python names it with a surrogate
    with open(raw, "wb") as handle:
        handle.write(dumps_notebook(H.with_sources(toy, H.SOLUTIONS)).encode())
    grade([subs], _options(out))
    from dlcourse.grading.intake import student_key

    students = names + [os.fsdecode(b"caf\xe9-latin1")]
    keys = {student_key(s) for s in students}
    assert len(keys) == len(students)  # no two students share an output file
    assert student_key("alice") == "alice" and student_key(students[0]) == student_key("x" * 234)
    for student in students:
        key = student_key(student)
        assert len(key.encode()) <= 100 and all(c.isascii() and (c.isalnum() or c in "._-~") for c in key)
        data = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
        assert data["extra_data"]["dlcourse"]["student"] == student and data["score"] == 3.0
    assert len(_gradebook(out)) == len(students)
    assert all(r.skipped for r in grade([subs], _options(out)))  # the folder stays usable
    assert not any(r.skipped for r in grade([subs], _options(out, force=True)))


def test_the_gradebook_holds_this_runs_submissions_only(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("alice", "bob"):
        _honest(toy, subs / f"{student}.ipynb")
    grade([subs], _options(out))
    (subs / "bob.ipynb").unlink()  # bob's submission is withdrawn
    forged = {"score": 100, "max_score": 3, "tests": [], "extra_data": {"dlcourse": {"grader": "dlcourse-grade-1"}}}
    (out / "mallory.json").write_text(json.dumps(forged), encoding="utf-8")  # planted, never submitted
    grade([subs], _options(out))
    assert set(_gradebook(out)) == {"alice"}


# ------------------------------------------------------------------ what the instructor opens

FORMULAS = ["=HYPERLINK(\"x\",\"y\")", "+SUM(A1)", "-2+3", "@cmd", "\tindent", "\rreturn", "'quoted"]


def test_spreadsheet_formulas_in_student_ids_are_neutralised_and_recoverable(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in FORMULAS + ["alice"]:
        _honest(toy, subs / f"{name}.ipynb")
    grade([subs], _options(out))
    from dlcourse.grading.intake import student_key

    book = _gradebook(out)
    assert "alice" in book
    for name in FORMULAS:
        assert "'" + name in book, sorted(book)  # one leading quote: text, not a formula
        assert book["'" + name]["total"] == "3"
        data = json.loads((out / f"{student_key(name)}.json").read_text(encoding="utf-8"))
        assert data["extra_data"]["dlcourse"]["student"] == name  # the original, exactly
    assert not any(cell[:1] in "=+-@\t\r" for cell in book)


def test_the_terminal_summary_escapes_control_characters(toy, tmp_path, capsys):
    subs = tmp_path / "subs"
    evil = "eve\x1b]0;owned\x07\x1b[2J\x9b31m\nalice: 3 of 3 (fake)"  # no "/": a file name cannot hold it
    _honest(toy, subs / f"{evil}.ipynb")
    (subs / f"{evil[:4]}bad.ipynb").write_text("not json", encoding="utf-8")
    assert cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--no-progress", "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert not any(ord(ch) < 32 and ch != "\n" or 127 <= ord(ch) < 160 for ch in printed), repr(printed)
    assert not any(line.startswith("alice") for line in printed.splitlines())
    assert "\\x1b]0;owned" in printed and "\\nalice: 3 of 3 (fake): 3 / 3" in printed


def test_a_grader_failure_on_one_submission_is_its_zero_with_a_note_and_is_retried(toy, tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("alice", "bob"):
        _honest(toy, subs / f"{student}.ipynb")
    real = grade_module._Run.run_exercises

    def fails_for_bob(self, items, folder):
        if "/subs/1/" in str(folder) + "/":
            raise RuntimeError("a grader bug")
        return real(self, items, folder)

    monkeypatch.setattr(grade_module._Run, "run_exercises", fails_for_bob)
    monkeypatch.setattr(grade_module, "RETRY_PAUSE_S", 0.0)
    reports = {r.student: r for r in grade([subs], _options(out, jobs=1))}
    assert reports["bob"].error and "a grader bug" in reports["bob"].error and reports["alice"].error is None
    assert _gradebook(out)["bob"]["total"] == "0" and "internal error" in _said(out, "bob")
    monkeypatch.setattr(grade_module._Run, "run_exercises", real)
    again = {r.student: r for r in grade([subs], _options(out, jobs=1))}
    assert again["alice"].skipped and not again["bob"].skipped and _gradebook(out)["bob"]["total"] == "3"


def test_a_grader_failure_that_passes_is_retried_within_the_run(toy, tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _honest(toy, subs / "alice.ipynb")
    real, calls = grade_module._Run.run_exercises, []

    def fails_twice(self, items, folder):
        calls.append([exercise.id for exercise, _ in items])
        if len(calls) <= grade_module.RETRIES:
            (folder / "run0" / "0").mkdir(parents=True)  # the half-made job folder of a failed try must not block
            raise OSError(11, "Resource temporarily unavailable")
        return real(self, items, folder)

    monkeypatch.setattr(grade_module._Run, "run_exercises", fails_twice)
    monkeypatch.setattr(grade_module, "RETRY_PAUSE_S", 0.0)
    (report,) = grade([subs], _options(out, jobs=1))
    assert grade_module.RETRIES >= 2
    assert report.error is None and _gradebook(out)["alice"]["total"] == "3"
    assert calls[0] == calls[1] == calls[grade_module.RETRIES] == [AFFINE, ARGMAX]  # the same exercises, again


# ------------------------------------------------------------------ staging, and a grader that is not root

def _setpriv(uid: int, *command: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups", *command],
                          capture_output=True, **kw)


@pytest.mark.skipif(os.geteuid() != 0, reason="a root grader's stage; as another user the stage is the grader's "
                                               "own 0700 folder (see the unprivileged-grader test)")
def test_a_root_graders_stage_is_readable_by_the_sandbox_user_only(toy, tmp_path, monkeypatch):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    _honest(toy, tmp_path / "subs" / "alice.ipynb")
    seen: list[tuple[str, int, int]] = []
    real = sandbox_module.Sandbox.run_batch

    def run_and_probe(self, argv, binds, result_files, limits, **kw):  # while the jobs are staged, as another user
        for host in [*binds, *result_files]:
            files = [p for p in Path(host).rglob("*") if p.is_file()] if Path(host).is_dir() else [Path(host)]
            for path in files[:6]:
                seen.append((path.name, _setpriv(12345, "cat", str(path)).returncode,
                             _setpriv(sandbox_module.SANDBOX_UID, "cat", str(path)).returncode))
        return real(self, argv, binds, result_files, limits, **kw)

    monkeypatch.setattr(sandbox_module.Sandbox, "run_batch", run_and_probe)
    grade([tmp_path / "subs"], _options(tmp_path / "out", jobs=1))
    names = {name for name, _, _ in seen}
    staged = {"student.py", "job.json", "batch.json", "manifest.json", "result", "sandbox_entry.py", "supervisor.py"}
    assert staged <= names
    assert [s for s in seen if s[1] == 0] == []  # another local user reads nothing that is staged
    assert [s for s in seen if s[2] != 0] == []  # the sandbox user reads all of it
    assert _gradebook(tmp_path / "out")["alice"]["total"] == "3"


DRIVER = '''
import json, os, sys
sys.path.insert(0, {tests!r})
import grader_helpers as H
from dlcourse.grading import registry, sandbox
from dlcourse.grading.grade import GradeOptions, grade
from dlcourse.grading.sandbox import Limits
from dlcourse.grading.extract import exercise_sources
import test_grader_attacks as A

H.registry_with(type("M", (), {{"setattr": staticmethod(setattr)}})(), H.TOY_EXERCISES)
base = {base!r}
from pathlib import Path
subs, out = Path(base, "subs"), Path(base, "out")
solution_nb = H.toy_solution_notebook()
handout = H.student_notebook(solution_nb)
answers = exercise_sources(solution_nb, ["affine", "argmax_rows"])
key = H.grader_session_key("dlcourse-nonroot-secret", b"the answers")
names = dict(repo={repo!r}, subs=str(subs), out=str(out), instructor=base, port=9, n_outputs=1, hold_mb=1920,
             key_desc="dlcourse-nonroot-secret", key_serial=key or 0)
for student in ("alice", "bob"):
    H.write_notebook(H.with_sources(handout, answers), subs / (student + ".ipynb"))
for attack in ("write_root_and_dev", "read_grader_keyring", "fill_dev_shm", "forge_a_huge_shape_result"):
    cell = A._cell("affine", answers["affine"], A.ATTACKS[attack], names)
    H.write_notebook(H.with_sources(handout, {{**answers, "affine": cell}}), subs / (attack + ".ipynb"))
H.write_notebook(H.with_sources(handout, answers), Path(base, "solution.ipynb"))
os.symlink(os.path.join(base, "solution.ipynb"), subs / "link.ipynb")
H.write_notebook(H.with_sources(handout, answers), subs / "=cmd.ipynb")
modes = []
real = sandbox.Sandbox.run_batch
def recording_run(self, argv, binds, result_files, limits, **kw):
    for host in [*binds, *result_files]:
        paths = [os.path.join(r, n) for r, _, names in os.walk(host) for n in names + ["."]] or [host]
        modes.extend(os.stat(path).st_mode & 0o077 for path in paths)
    return real(self, argv, binds, result_files, limits, **kw)
sandbox.Sandbox.run_batch = recording_run
options = GradeOptions(out=out, jobs=2, progress=False, limits=Limits(wall_s=20, memory_mb=1024, tmp_mb=32))
reports = grade([subs], options)
print(json.dumps({{"uid": os.getuid(), "totals": {{r.student: r.score for r in reports}},
                  "errors": [r.error for r in reports if r.error], "warnings": options.warnings,
                  "open_modes": sorted(set(modes) - {{0}}), "key": bool(key),
                  "csv": open(out / "gradebook.csv").read()}}))
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to an unprivileged uid needs root (CI runs as root)")
def test_an_unprivileged_grader_holds_the_same_line(tmp_path):
    if shutil.which("setpriv") is None or shutil.which("bwrap") is None:
        pytest.skip("setpriv or bubblewrap is not installed")
    runs = _setpriv(sandbox_module.SANDBOX_UID, "sh", "-c", f'exec "{os.path.realpath(sys.executable)}" -c pass')
    if runs.returncode != 0:
        pytest.skip(f"uid {sandbox_module.SANDBOX_UID} cannot run this Python ({os.path.realpath(sys.executable)}, "
                    "e.g. under a 0700 /root): the simulated test below covers the unprivileged code path")
    base = Path(tempfile.mkdtemp(prefix="dlcourse-unprivileged-", dir="/tmp"))
    try:
        os.chown(base, sandbox_module.SANDBOX_UID, sandbox_module.SANDBOX_UID)
        driver = base / "driver.py"
        driver.write_text(DRIVER.format(tests=str(REPO / "tests"), base=str(base), repo=str(REPO)), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base), "LANG": "C.UTF-8"}
        done = _setpriv(sandbox_module.SANDBOX_UID, sys.executable, str(driver), cwd=base, env=env, timeout=240)
        if done.returncode != 0 and b"could not start a sandbox" in done.stderr:
            pytest.skip("unprivileged user namespaces are not allowed here: " + done.stderr.decode()[-300:])
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        result = json.loads(done.stdout.decode().splitlines()[-1])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result["uid"] == sandbox_module.SANDBOX_UID and result["errors"] == []
    totals = result["totals"]
    assert totals["alice"] == totals["bob"] == totals["=cmd"] == 3.0
    assert {s: totals[s] for s in totals if s not in ("alice", "bob", "=cmd")} == {
        "write_root_and_dev": 1.0, "read_grader_keyring": 1.0, "fill_dev_shm": 1.0, "forge_a_huge_shape_result": 1.0,
        "link": 0.0}  # each attack's exercise scores 0; the honest other exercise keeps its point
    assert result["open_modes"] == []  # the stage: 0700 folders and 0600 files of the grader's (= sandbox's) uid
    assert any("no memory/pids cgroup" in w for w in result["warnings"])  # said loudly: no cgroup as nobody
    assert "\n'=cmd," in result["csv"].replace("\r\n", "\n")


class _NoCgroups:
    """A host that lets the grader make no cgroup (an unprivileged user without delegation)."""

    available, problem, parents = False, "no cgroup may be made here (simulated)", []


@pytest.mark.skipif(os.geteuid() != 0, reason="as a real unprivileged user, the test above covers this path")
def test_the_unprivileged_code_path_holds_the_line_simulated_under_root(toy, tmp_path, monkeypatch):
    """The grader's non-root branch (bwrap's own tmpfs, no launcher mounts, 0700 stage, no cgroup), run by root.

    Where the real unprivileged test cannot run (its Python is out of reach of uid 65534), this one
    takes the same branch by making the sandbox module believe it is not root; the kernel uid stays
    root, so the process limit is not what is tested here.
    """
    from dlcourse.grading.extract import exercise_sources
    from test_grader_attacks import ATTACKS, _cell

    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sandbox_module, "CgroupFactory", _NoCgroups)
    subs, out = tmp_path / "subs", tmp_path / "out"
    _honest(toy, subs / "alice.ipynb")
    key = H.grader_session_key("dlcourse-simulated-secret", b"the answers")
    names = {"repo": REPO, "subs": subs, "out": out, "instructor": tmp_path, "port": 9, "n_outputs": 1,
             "hold_mb": 1920, "key_desc": "dlcourse-simulated-secret", "key_serial": key or 0}
    answers = exercise_sources(H.toy_solution_notebook(), ["affine", "argmax_rows"])
    attacks = ("write_root_and_dev", "read_grader_keyring", "fill_dev_shm", "forge_a_huge_shape_result")
    for attack in attacks:
        cell = _cell("affine", answers["affine"], ATTACKS[attack], names)
        H.write_notebook(H.with_sources(toy, {**answers, "affine": cell}), subs / f"{attack}.ipynb")
    modes: list[int] = []
    real = sandbox_module.Sandbox.run_batch

    def recording_run(self, argv, binds, result_files, limits, **kw):
        assert self.root_mode is False and "--premount" not in self.command(argv, binds, None, limits)
        for host in [*binds, *result_files]:
            paths = list(Path(host).rglob("*")) + [Path(host)]
            modes.extend(p.stat().st_mode & 0o077 for p in paths)
        return real(self, argv, binds, result_files, limits, **kw)

    monkeypatch.setattr(sandbox_module.Sandbox, "run_batch", recording_run)
    options = _options(out)
    reports = {r.student: r.score for r in grade([subs], options)}
    if key:
        H.revoke_key(key)
    assert reports == {"alice": 3.0, **{attack: 1.0 for attack in attacks}}  # each attacked exercise scores 0
    assert modes and set(modes) == {0}  # 0700 folders, 0600 files
    assert any("no memory/pids cgroup" in w for w in options.warnings)


# ------------------------------------------------------------------ one class, every attack

MIXED_SANDBOX_ATTACKS = ("forge_a_huge_shape_result", "memfd_hoard", "read_grader_keyring", "write_root_and_dev",
                         "escape_sequences_in_feedback", "monkeypatch_numpy_and_builtins", "eq_always_true",
                         "os_exit", "infinite_loop", "inode_flood_in_tmp", "fork_and_fill", "fill_dev_shm")


def test_a_class_with_every_kind_of_attack_mixed_in_grades_completely(toy, tmp_path):
    import time

    from dlcourse.grading.extract import exercise_sources
    from dlcourse.grading.intake import student_key
    from test_grader_attacks import ATTACKS, _cell

    subs, out, elsewhere = tmp_path / "subs", tmp_path / "out", tmp_path / "elsewhere"
    honest = [f"honest{i:02d}" for i in range(8)] + ["=SUM(A1)", "eve\x1b[2J", "y" * 200]
    for student in honest:
        _honest(toy, subs / f"{student}.ipynb")
    limits = Limits(wall_s=5, memory_mb=1024, nproc=32, tmp_mb=32, fsize_mb=16)
    key = H.grader_session_key("dlcourse-mixed-secret", b"the answers")
    names = {"repo": REPO, "subs": subs, "out": out, "instructor": elsewhere, "port": 9, "n_outputs": 1,
             "hold_mb": limits.sandbox_memory_mb * 3 // 2, "key_desc": "dlcourse-mixed-secret", "key_serial": key or 0}
    answers = exercise_sources(H.toy_solution_notebook(), ["affine", "argmax_rows"])
    for attack in MIXED_SANDBOX_ATTACKS:
        cell = _cell("affine", answers["affine"], ATTACKS[attack], names)
        H.write_notebook(H.with_sources(toy, {**answers, "affine": cell}), subs / f"{attack}.ipynb")
    crafted = _crafted(toy)
    for name in ("deep_json", "too_many_objects", "nonstring_source", "cells_not_objects", "deep_cell"):
        nb = crafted[name]
        (subs / f"{name}.ipynb").write_text(nb if isinstance(nb, str) else dumps_notebook(nb), encoding="utf-8")
    (subs / "link.ipynb").symlink_to(_honest(toy, elsewhere / "solution.ipynb"))
    os.mkfifo(subs / "fifo.ipynb")
    swap = H.with_sources(toy, {})
    swap["cells"].append(H.code_cell(OTHER_ANSWERS))
    swap["metadata"]["dlcourse"] = {"assignment": OTHER}
    H.write_notebook(swap, subs / "swap.ipynb")
    start = time.monotonic()
    reports = {r.student: r for r in grade([subs], _options(out, limits=limits))}
    seconds = time.monotonic() - start
    if key:
        H.revoke_key(key)

    students = {p.name[:-len(".ipynb")] for p in subs.iterdir()}
    assert set(reports) == students and all(r.error is None for r in reports.values())
    results = {s: json.loads((out / f"{student_key(s)}.json").read_text(encoding="utf-8")) for s in students}
    assert {s for s in students if results[s]["score"] == 3.0} == set(honest)
    assert all(next(t["score"] for t in results[s]["tests"] if t["name"] == AFFINE) == 0
               for s in students - set(honest))
    assert len(_gradebook(out)) == len(students)
    assert seconds < 150, f"the mixed class took {seconds:.0f} s"


# ------------------------------------------------------------------ memory held outside the address space

HOLD_PROGRAM = r'''
import os, resource, select, sys, time
limits = {"RLIMIT_AS": 256 << 20, "RLIMIT_FSIZE": 16 << 20, "RLIMIT_NOFILE": 256, "RLIMIT_NPROC": 32}
for name, value in limits.items():  # as sandbox_entry does, before any "student" code
    resource.setrlimit(getattr(resource, name), (value, value))
path, target = sys.argv[1], int(sys.argv[2])
chunk = b"\x01" * (15 << 20)
held = 0
try:
    if path == "malloc":  # one process: the address-space limit stops it
        blocks = []
        while held < target:
            blocks.append(b"\x01" * (15 << 20))
            held += 15
    elif path == "children":  # four processes, each under the address-space limit
        read_end, write_end = os.pipe()
        pids = []
        for _ in range(4):
            pids.append(os.fork())
            if pids[-1] == 0:
                block = b"\x01" * ((target // 4) << 20)
                os.write(write_end, b"1")
                time.sleep(30)
                os._exit(0)
        got, deadline = b"", time.time() + 15
        while len(got) < 4 and time.time() < deadline:
            if select.select([read_end], [], [], 0.5)[0]:
                got += os.read(read_end, 4)
        time.sleep(0.5)  # a child that reported and was then killed did not hold its block with the others
        alive = all(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in pids)
        held = target if len(got) == 4 and alive else 0
    elif path == "memfd":  # written, never mapped
        fds = []
        while held < target:
            fds.append(os.memfd_create("hoard"))
            os.write(fds[-1], chunk)
            held += 15
    elif path == "dev_shm":
        while held < target:
            with open(f"/dev/shm/hoard{held}", "wb") as handle:
                handle.write(chunk)
            held += 15
    elif path == "tmp_inodes":
        while held < 200000:
            os.close(os.open(f"/tmp/f{held}", os.O_CREAT | os.O_WRONLY, 0o600))
            held += 1
        held = target
except (OSError, MemoryError) as err:
    print(f"stopped: {type(err).__name__}: {err}", flush=True)
    os._exit(0)
print("HELD" if held >= target else "short", held, flush=True)
'''
HOLD_PATHS = ("malloc", "children", "memfd", "dev_shm", "tmp_inodes")


@pytest.mark.parametrize("path", HOLD_PATHS)
def test_memory_held_outside_the_address_space_is_bounded_for_the_whole_sandbox(path):
    """Hold 1.5 x the sandbox's memory through each path: the sandbox is killed or the allocation fails."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    stage = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))  # where the sandbox user can reach it, as in a run
    try:
        _hold_in_a_sandbox(path, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _hold_in_a_sandbox(path: str, tmp_path: Path) -> None:
    box = sandbox_module.Sandbox(enabled=True, stage_dir=tmp_path)
    warnings = getattr(box, "warnings", [])  # (a grader before cgroups had no such warning, nor cgroups)
    if path in ("children", "memfd") and warnings:
        pytest.skip(f"no cgroup can be made here, so {path} is bounded only by the wall clock (documented): "
                    + warnings[0][:200])
    if path == "tmp_inodes" and not box.root_mode and warnings:
        pytest.skip("without root and without a cgroup, /tmp is bounded in size only, not in inodes (documented)")
    limits = Limits(wall_s=25, memory_mb=256, nproc=32, tmp_mb=32, fsize_mb=16)
    target = limits.memory_mb * 15 // 8  # 1.5 x the whole sandbox's 1.25 x memory_mb
    program = tmp_path / "hold.py"
    program.write_text(HOLD_PROGRAM, encoding="utf-8")
    program.chmod(0o644)  # a test program, not a secret
    result = tmp_path / "result"
    box.prepare_result_file(result)
    outcome = box.run([box.python, "-I", "-S", "/sandbox/hold.py", path, str(target)], {str(program): "/sandbox/hold.py"},
                      (str(result), "/sandbox/result"), limits)
    assert "HELD" not in outcome.output_tail, outcome.output_tail
    assert outcome.signal == 9 or getattr(outcome, "memory_exceeded", False) or "stopped:" in outcome.output_tail, outcome
