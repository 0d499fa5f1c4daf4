import json

import pytest

from dlcourse.cli import main


def _notebook(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(source, tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source, "outputs": [],
            "execution_count": None}


def test_assign_writes_then_reports_in_sync_and_removes_orphans(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / "01_x.ipynb").write_text(json.dumps(_notebook([
        _code("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n", ["exercise"]),
    ])))
    args = ["assign", "--solutions", str(solutions), "--exercises", str(exercises)]
    assert main(args) == 0
    assert "return 2 * x" not in (exercises / "01_x.ipynb").read_text()
    assert "NotImplementedError" in (exercises / "01_x.ipynb").read_text()
    assert main(args + ["--check"]) == 0
    (exercises / "99_orphan.ipynb").write_text("{}")
    assert main(args + ["--check"]) == 1
    assert "99_orphan" in capsys.readouterr().out
    assert main(args) == 0 and not (exercises / "99_orphan.ipynb").exists()


def test_assign_reports_a_broken_solution_clearly(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "bad.ipynb").write_text("not json")
    assert main(["assign", "--solutions", str(tmp_path / "s"), "--exercises", str(tmp_path / "e")]) == 2
    assert "not a readable notebook" in capsys.readouterr().err


def test_setup_cells_stamps_and_checks(tmp_path, capsys):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://example.org/x/y\n")
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "a.ipynb").write_text(json.dumps(_notebook([_code("import dlcourse\n")])))
    assert main(["setup-cells", str(folder), "--config", str(config), "--check"]) == 1
    assert main(["setup-cells", str(folder), "--config", str(config)]) == 0
    assert "git+https://example.org/x/y" in (folder / "a.ipynb").read_text()
    assert main(["setup-cells", str(folder), "--config", str(config), "--check"]) == 0


def _empty_submission(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ann.ipynb").write_text(json.dumps(_notebook([])))
    return str(tmp_path / "subs")


@pytest.mark.parametrize("extra, message", [
    (["--timeout", "0"], "--timeout, --memory-mb and --jobs must be positive"),
    (["--timeout", "nan"], "must be positive"),
    (["--timeout", "inf"], "must be positive"),
    (["--jobs", "-1"], "must be positive"),
    (["--memory-mb", "0"], "must be positive"),
    (["--assignment", "99_nope"], "no exercises registered for assignment '99_nope'; known: 01_perceptron"),
    (["--bank", "/nonexistent/bank"], "exercise bank /nonexistent/bank does not exist"),
])
def test_grade_refuses_bad_arguments_with_exit_status_2_and_no_traceback(extra, message, tmp_path, capsys):
    argv = ["grade", _empty_submission(tmp_path), "--out", str(tmp_path / "out"), "--no-progress", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlcourse grade: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_grade_names_a_missing_submission(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "gone.ipynb"), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"submission {tmp_path / 'gone.ipynb'} does not exist" in err and "Traceback" not in err
