"""`dlcourse grade`: scores, gradebook, Gradescope JSON, feedback, malformed input, resuming, the sandbox gate.

Submissions are real student notebooks: the `dlcourse assign` version of a solution notebook with an
exercise cell replaced. Most tests use the small registered notebook of grader_helpers; the last
ones use the course's own solutions/ and exercises/ when they are there.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading import grade as grade_module
from dlcourse.grading import sandbox as sandbox_module
from dlcourse.grading.extract import exercise_sources
from dlcourse.grading.grade import GradeOptions, detect_assignment, grade
from dlcourse.grading.registry import exercises_of
from dlcourse.grading.sandbox import Limits, SandboxUnavailable, read_result_file
from dlcourse.grading.sandbox_entry import ResultError, decode_result, encode_result
from dlcourse.nbtools import cell_tags, read_notebook

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(wall_s=20, memory_mb=1024, tmp_mb=64)
AFFINE, ARGMAX = f"{H.TOY}.affine", f"{H.TOY}.argmax_rows"


@pytest.fixture
def toy(monkeypatch):
    H.register_toy(monkeypatch)
    return H.student_notebook(H.toy_solution_notebook())


def _options(out: Path, **kw) -> GradeOptions:
    return GradeOptions(out=out, limits=kw.pop("limits", LIMITS), progress=False, **kw)


def _gradebook(out: Path) -> list[dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_solution_full_stub_zero_wrong_partial_with_gradebook_and_gradescope_json(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "alice.ipynb")
    H.write_notebook(toy, subs / "bob.ipynb")  # the untouched handout
    H.write_notebook(H.with_sources(toy, H.WRONG), subs / "carol.ipynb")
    reports = grade([subs], _options(out, jobs=2))

    assert {r.student: r.score for r in reports} == {"alice": 3.0, "bob": 0.0, "carol": pytest.approx(2 / 6 * 2 + 0.5)}
    rows = _gradebook(out)
    assert list(rows[0]) == ["submission", AFFINE, ARGMAX, "total", "max_total"]
    assert [(r["submission"], r[AFFINE], r[ARGMAX], r["total"], r["max_total"]) for r in rows] == [
        ("alice", "2", "1", "3", "3"), ("bob", "0", "0", "0", "3"), ("carol", "0.666667", "0.5", "1.16667", "3")]
    result = H.load_result(out, "carol")
    assert {"score", "max_score", "tests", "output"} <= set(result)
    assert [(t["name"], t["score"], t["max_score"]) for t in result["tests"]] == [
        (f"{AFFINE} (public cases)", 0, 0), (AFFINE, pytest.approx(2 / 3, abs=1e-6), 2.0),
        (f"{ARGMAX} (public cases)", 0, 0), (ARGMAX, 0.5, 1.0)]
    assert all(isinstance(t["output"], str) for t in result["tests"])
    stub = H.hidden_tests(out, "bob")[0]["output"]
    assert "not implemented yet" in stub and stub.count("not implemented") == 1  # said once, not per case
    assert "Off by one" in H.hidden_tests(out, "carol")[1]["output"]


def test_results_show_public_cases_in_full_and_hidden_cases_never(toy, tmp_path):
    """The public cases come back with given / expected / received; a hidden expected value appears nowhere."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(toy, H.WRONG), subs / "carol.ipynb")
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "alice.ipynb")
    grade([subs], _options(out))
    alice, carol = (H.load_result(out, s)["tests"] for s in ("alice", "carol"))
    public = {t["name"]: t for t in carol if t["extra_data"]["cases"] == "public"}
    affine = public[f"{AFFINE} (public cases)"]
    assert affine["visibility"] == "visible" and affine["score"] == affine["max_score"] == 0
    (case,) = affine["extra_data"]["details"]
    x, w, b = np.eye(2), np.array([1.0, 2.0]), 0.5
    assert case["label"] == "identity" and case["given"]["w"]["values"] == w.tolist()
    assert case["expected"] == [{"shape": [2], "dtype": "float64", "values": (x @ w + b).tolist()}]
    assert case["received"][0]["values"] != case["expected"][0]["values"] and not case["passed"]
    assert affine["status"] == "failed" and "0/1 public cases passed" in affine["output"]
    assert all(t["status"] == "passed" for t in alice), [t["output"] for t in alice]
    hidden = [t for t in carol if t["extra_data"]["cases"] == "hidden"]
    assert [t["extra_data"]["run"] for t in hidden] == ["ran", "ran"]
    assert all(t["execution_time"] > 0 for t in hidden)
    text = json.dumps(H.load_result(out, "carol"))
    for case in H.TOY_EXERCISES[0].draw_hidden(0):
        for value in np.ravel(H.affine_ref(**case)):
            assert repr(float(value)) not in text


def test_feedback_names_the_mistake_without_revealing_hidden_expected_values(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    scaled = {"affine": "import numpy as np\ndef affine(x, w, b):\n    return 2.0 * (np.asarray(x) @ w + b)\n"}
    H.write_notebook(H.with_sources(toy, {**H.WRONG, **scaled}), subs / "carol.ipynb")
    grade([subs], _options(out))
    text = "\n".join(t["output"] for t in H.load_result(out, "carol")["tests"])
    assert "constant factor" in text and "entries are off" in text
    hidden = [H.affine_ref(**case) for case in H.TOY_EXERCISES[0].draw_hidden(0)]
    hidden += [H.argmax_rows_ref(**case)[1] for case in H.TOY_EXERCISES[1].draw_hidden(0)]
    for value in np.concatenate([np.ravel(v) for v in hidden]):
        for shown in {f"{value:.3g}", f"{value:.4g}", f"{value:.6g}", f"{2 * value:.4g}"}:
            assert len(shown.lstrip("-0.")) < 3 or shown not in text, f"hidden expected value {value} appears in the feedback"


def test_malformed_submissions_get_clear_feedback_and_zero_without_stopping_the_run(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "notjson.ipynb").write_text("print('hello')", encoding="utf-8")
    (subs / "notnotebook.ipynb").write_text(json.dumps({"hello": 1}), encoding="utf-8")
    H.write_notebook({**toy, "cells": [c for c in toy["cells"] if "exercise" not in cell_tags(c)]},
                     subs / "nocells.ipynb")
    cases = {
        "renamed": "import numpy as np\ndef affin(x, w, b):\n    return x @ w + b\n",
        "syntax": "import numpy as np\ndef affine(x, w, b):\n    return x @@ w\n",
        "raises": "def affine(x, w, b):\n    raise ValueError('boom')\n",
        "shape": "import numpy as np\ndef affine(x, w, b):\n    return np.outer(x @ w + b, [1, 1])\n",
        "dtype": "def affine(x, w, b):\n    return 'forty-two'\n",
        "cellerror": "import numpy as np\nundefined_name + 1\ndef affine(x, w, b):\n    return x @ w + b\n",
    }
    for name, source in cases.items():
        H.write_notebook(H.with_sources(toy, {"argmax_rows": H.SOLUTIONS["argmax_rows"]}) if name == "renamed"
                         else H.with_sources(toy, {"affine": source, "argmax_rows": H.SOLUTIONS["argmax_rows"]}),
                         subs / f"{name}.ipynb")
    # "renamed": the student renamed the function in the exercise cell
    nb = read_notebook(subs / "renamed.ipynb")
    nb = H.with_sources(nb, {"affine": cases["renamed"]})
    H.write_notebook(nb, subs / "renamed.ipynb")
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "honest.ipynb")
    reports = {r.student: r for r in grade([subs], _options(out, jobs=2, assignment=H.TOY))}

    assert reports["honest"].score == 3.0 and all(r.error is None for r in reports.values())
    expected = {
        "notjson": "not a readable Jupyter notebook", "notnotebook": "not a Jupyter notebook",
        "nocells": "no cell defines a function named `affine`", "renamed": "Your exercise cells define: affin",
        "syntax": "syntax error at line 3", "raises": "raised ValueError (line 2): boom",
        "shape": "wrong shape", "dtype": "expected a number or a NumPy array",
        "cellerror": "running your exercise cell raised NameError (line 2)",
    }
    for student, snippet in expected.items():
        tests = {t["name"]: t for t in H.load_result(out, student)["tests"]}
        assert tests[AFFINE]["score"] == 0, student
        assert snippet in tests[AFFINE]["output"], (student, tests[AFFINE]["output"])
    for student in ("renamed", "syntax", "raises", "shape", "dtype", "cellerror"):
        assert H.scores_of(out, student)[ARGMAX] == 1.0  # the other exercise is graded on its own
    assert {r["submission"] for r in _gradebook(out)} == set(expected) | {"honest"}


def test_rerun_skips_what_is_graded_and_regrades_on_force_change_or_new_seed(toy, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "alice.ipynb")
    H.write_notebook(toy, subs / "bob.ipynb")
    grade([subs], _options(out))
    stamp = (out / "alice.json").stat().st_mtime_ns
    again = grade([subs], _options(out))
    assert all(r.skipped for r in again) and (out / "alice.json").stat().st_mtime_ns == stamp
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "bob.ipynb")  # bob resubmits
    third = {r.student: r for r in grade([subs], _options(out))}
    assert third["alice"].skipped and not third["bob"].skipped and third["bob"].score == 3.0
    assert not any(r.skipped for r in grade([subs], _options(out, force=True)))
    assert not any(r.skipped for r in grade([subs], _options(out, seed=1)))
    assert [r["total"] for r in _gradebook(out)] == ["3", "3"]


def test_a_killed_run_leaves_a_consistent_gradebook_and_the_rerun_resumes(toy, tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in "abcde":
        H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / f"{student}.ipynb")
    real = grade_module._Run.grade_submission
    calls = []

    def dies_on_third(self, report, nb, index):
        calls.append(report.student)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the instructor presses Ctrl-C, or the machine stops
        return real(self, report, nb, index)

    monkeypatch.setattr(grade_module._Run, "grade_submission", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        grade([subs], _options(out, jobs=1))
    rows = _gradebook(out)
    assert [r["submission"] for r in rows] == calls[:2] and all(r["total"] == "3" for r in rows)
    assert sorted(p.name for p in out.iterdir()) == sorted(["gradebook.csv"] + [f"{s}.json" for s in calls[:2]])
    monkeypatch.setattr(grade_module._Run, "grade_submission", real)
    resumed = {r.student: r.skipped for r in grade([subs], _options(out, jobs=1))}
    assert resumed == {s: s in calls[:2] for s in "abcde"}
    assert [r["total"] for r in _gradebook(out)] == ["3"] * 5


def test_no_sandbox_grades_the_same_with_a_loud_warning(toy, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(toy, H.WRONG), subs / "carol.ipynb")
    reports = grade([subs], _options(out, sandbox=False))
    assert reports[0].score == pytest.approx(2 / 6 * 2 + 0.5)
    assert "WARNING: --no-sandbox" in capsys.readouterr().err


def test_missing_bubblewrap_refuses_with_how_to_install_it(toy, tmp_path, monkeypatch, capsys):
    H.write_notebook(toy, tmp_path / "subs" / "bob.ipynb")
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox_module.os, "access", lambda path, mode: False)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        grade([tmp_path / "subs"], _options(tmp_path / "out"))
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "--no-sandbox" in err


def test_cli_grades_files_and_folders_and_prints_a_summary(toy, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(toy, H.SOLUTIONS), subs / "alice.ipynb")
    H.write_notebook(toy, tmp_path / "late" / "bob.ipynb")
    argv = ["grade", str(subs), str(tmp_path / "late" / "bob.ipynb"), "--out", str(out), "--seed", "3",
            "--assignment", H.TOY, "--timeout", "20", "--memory-mb", "1024", "--jobs", "2", "--no-progress"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "alice: 3 / 3" in printed and "bob: 0 / 3" in printed and "graded 2, skipped 0" in printed
    assert H.load_result(out, "alice")["extra_data"]["dlcourse"]["seed"] == 3
    assert cli.main(argv) == 0 and "graded 0, skipped 2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["grade", str(subs)])  # --out is required


def test_assignment_is_detected_from_function_names_never_from_metadata(toy):
    assert detect_assignment(toy) == H.TOY
    empty = {"cells": [], "metadata": {"dlcourse": {"assignment": H.TOY}}}
    assert detect_assignment(empty) is None  # a notebook's own say-so decides nothing
    assert detect_assignment({"cells": [], "metadata": {}}) is None


def test_result_files_are_read_without_following_links_or_fifos_and_with_a_size_cap(tmp_path):
    target = tmp_path / "secret"
    target.write_bytes(b"instructor data")
    (tmp_path / "link").symlink_to(target)
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 1000)
    assert read_result_file(tmp_path / "link", 10_000)[0] is None
    assert read_result_file(tmp_path / "fifo", 10_000) == (None, "the result file is not a regular file")
    assert read_result_file(tmp_path / "big", 999)[0] is None
    assert read_result_file(tmp_path / "big", 1000)[0] == b"x" * 1000


def test_result_decoding_refuses_pickles_truncation_and_wrong_case_counts():
    good = encode_result([(np.arange(3.0),), "raised ValueError"])
    decoded = decode_result(good, 2)
    np.testing.assert_array_equal(decoded[0][0], [0.0, 1.0, 2.0])
    assert decoded[1] == "raised ValueError"
    with pytest.raises(ResultError):
        decode_result(good[:-5], 2)
    with pytest.raises(ResultError):
        decode_result(good, 3)
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    pickled = good.replace(good[good.index(b"\x93NUMPY"):-len(b"\nEND-OF-RESULT\n")], buffer.getvalue())
    with pytest.raises(ResultError):
        decode_result(pickled, 2)


# ------------------------------------------------------------------ the course's own exercise notebooks

def _course_notebooks():
    return sorted(p.stem for p in (REPO / "solutions").glob("*.ipynb")
                  if (REPO / "exercises" / p.name).exists() and exercises_of(p.stem))


@pytest.mark.parametrize("stem", _course_notebooks() or [pytest.param("none", marks=pytest.mark.skip(
    reason="no solutions/ and exercises/ notebooks yet"))])
def test_course_solutions_score_full_stubs_zero_and_wrong_versions_partial(stem, tmp_path):
    solution = read_notebook(REPO / "solutions" / f"{stem}.ipynb")
    handout = read_notebook(REPO / "exercises" / f"{stem}.ipynb")
    exercises = exercises_of(stem)
    sources = exercise_sources(solution, [ex.name for ex in exercises])
    first = exercises[0]
    begin = next(line for line in sources[first.name].splitlines() if line.strip() == "### BEGIN SOLUTION")
    indent = begin[: len(begin) - len(begin.lstrip())]
    broken = sources[first.name].replace(begin, f"{begin}\n{indent}return None  # a wrong answer", 1)
    subs, out = tmp_path / "subs", tmp_path / "out"
    H.write_notebook(H.with_sources(handout, sources), subs / "solution.ipynb")
    H.write_notebook(handout, subs / "stub.ipynb")
    H.write_notebook(H.with_sources(handout, {**sources, first.name: broken}), subs / "wrong.ipynb")
    reports = {r.student: r for r in grade([subs], _options(out, jobs=2, limits=Limits(wall_s=60)))}
    total = sum(ex.points for ex in exercises)
    assert all(r.assignment == stem for r in reports.values())
    assert reports["solution"].score == pytest.approx(total), [x.output for x in reports["solution"].results]
    assert reports["stub"].score == 0
    assert H.scores_of(out, "wrong")[first.id] == 0
    assert reports["wrong"].score == pytest.approx(total - first.points)
    shutil.rmtree(out)


def test_a_python_installed_under_tmp_stays_visible_above_the_private_tmp(tmp_path):
    """A CI checkout in /tmp puts the venv under /tmp: its bind must come after the sandbox's own /tmp."""
    if sandbox_module.shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    box = sandbox_module.Sandbox(enabled=True, stage_dir=tmp_path)
    box._sources = {"/tmp/ci/.venv/lib/python3.11/site-packages": "/tmp/ci/.venv/lib/python3.11/site-packages"}
    args = box.command(["true"], {}, (str(tmp_path / "r"), "/sandbox/result"), Limits())
    args = args[args.index(box.bwrap):]  # as root, a launcher comes first
    mounts = [i for i in range(2, len(args)) if args[i] == "/tmp" and "--tmpfs" in (args[i - 1], args[i - 2])
              or args[i] == "/tmp" and args[i - 2] == "--bind"]  # bwrap's tmpfs, or the launcher's (as root)
    venv_bind = args.index("/tmp/ci/.venv/lib/python3.11/site-packages")
    assert len(mounts) == 1 and mounts[0] < venv_bind
