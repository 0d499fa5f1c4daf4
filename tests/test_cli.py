import json

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
