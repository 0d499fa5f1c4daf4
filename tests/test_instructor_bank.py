"""An instructor's own exercise bank, kept outside the package: loading, overriding, errors, and the
worked example in examples/instructor_bank/ graded end to end with `dlcourse assign/grade --bank`.
"""
from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from nbclient import NotebookClient

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading import BankError, Registry, all_exercises, check, exercises_of, get_exercise, grade_function
from dlcourse.grading import grade as grade_module
from dlcourse.grading.public import decode_value, encode_value, export_public, import_public
from dlcourse.nbtools import cell_source, cell_tags, read_notebook

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "instructor_bank"
BANK, SOLUTIONS, HANDOUTS = EXAMPLE / "bank", EXAMPLE / "solutions", EXAMPLE / "exercises"
IDS = ["hw1_losses.mse_loss", "hw1_losses.clip_by_norm", "hw1_losses.count_errors"]
GRADE = ["--timeout", "30", "--memory-mb", "1024", "--jobs", "2", "--no-progress"]

OVERRIDE = '''
import numpy as np
from dlcourse.grading import Case, Exercise

def _double(w, x, eta):
    return 2.0 * np.asarray(w, dtype=float)

EXERCISES = [Exercise(id="01_perceptron.oja_update", reference=_double,
                      public_cases=[Case({"w": np.ones(2), "x": np.ones(2), "eta": 0.1})],
                      hidden_cases=lambda rng: [{"w": rng.normal(size=3), "x": rng.normal(size=3), "eta": 0.1}],
                      output_names=("w_new",))]
'''


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------ the registry

def test_a_bank_folder_adds_a_notebook_without_touching_the_builtin_registry():
    before = set(all_exercises())
    registry = Registry.load([BANK])
    assert [ex.id for ex in registry.of("hw1_losses")] == IDS
    assert set(registry.exercises) == before | set(IDS) and registry.overrides == ()
    assert all(registry.is_external(i) for i in IDS) and registry.bank_files == [BANK / "hw1_losses.py"]
    assert "new notebook(s) hw1_losses" in registry.summary() and len(registry.fingerprint) == 64
    assert get_exercise("count_errors", banks=[BANK]).id == "hw1_losses.count_errors"
    assert [ex.id for ex in exercises_of("hw1_losses", banks=[BANK / "hw1_losses.py"])] == IDS  # one file
    # nothing leaked: the zero-argument calls still see the built-in bank only, and no module stayed behind
    assert set(all_exercises()) == before and exercises_of("hw1_losses") == []
    with pytest.raises(KeyError, match="no exercise named 'count_errors'"):
        get_exercise("count_errors")
    assert not any(name.startswith("dlcourse_instructor_bank") for name in sys.modules)


def test_a_bank_may_replace_a_builtin_exercise_and_says_so(tmp_path):
    builtin = get_exercise("01_perceptron.oja_update")
    registry = Registry.load([_write(tmp_path / "mine.py", OVERRIDE)])
    replaced = registry.get("01_perceptron.oja_update")
    assert replaced is not builtin and registry.overrides == ("01_perceptron.oja_update",)
    assert "replacing built-in 01_perceptron.oja_update" in registry.summary()
    assert [e.id for e in registry.of("01_perceptron")] == [e.id for e in exercises_of("01_perceptron")]
    assert grade_function("01_perceptron.oja_update", lambda w, x, eta: 2 * w, registry=registry).score == 1.0
    assert get_exercise("01_perceptron.oja_update") is builtin  # the built-in bank is untouched


def test_an_id_defined_twice_in_the_banks_is_refused_naming_both_files(tmp_path):
    a, b = _write(tmp_path / "bank" / "a.py", OVERRIDE), _write(tmp_path / "bank" / "b.py", OVERRIDE)
    with pytest.raises(BankError, match="defined twice") as err:
        Registry.load([tmp_path / "bank"])
    assert str(a) in str(err.value) and str(b) in str(err.value)
    with pytest.raises(BankError, match="twice"):
        Registry.load([a, a])


BAD_BANKS = {
    "missing": (None, "does not exist"),
    "syntax.py": ("EXERCISES = [\ndef broken(:\n", "syntax error at line 2"),
    "noexercises.py": ("import numpy as np\nX = 1\n", "defines no EXERCISES"),
    "notalist.py": ("EXERCISES = 3\n", "must be a non-empty list of Exercise, got int"),
    "wrongitems.py": ("EXERCISES = ['01_x.f']\n", "must hold dlcourse.grading.Exercise objects, got str"),
    "raises.py": ("import numpy as np\nundefined_name\n", "raised NameError"),
    "exits.py": ("import sys\nsys.exit(3)\n", "raised SystemExit"),
    "emptydir": ("", "holds no Python module"),
    "bank.txt": ("EXERCISES = []\n", "neither a folder nor a .py file"),
}


def _bad_bank(tmp_path: Path, name: str) -> Path:
    source, _ = BAD_BANKS[name]
    path = tmp_path / "banks" / name
    if source is None:
        return path
    if name == "emptydir":
        path.mkdir(parents=True)
        return path
    return _write(path, source)


@pytest.mark.parametrize("name", sorted(BAD_BANKS))
def test_a_broken_bank_gets_a_clear_error(name, tmp_path):
    with pytest.raises(BankError, match=BAD_BANKS[name][1]):
        Registry.load([_bad_bank(tmp_path, name)])


@pytest.mark.parametrize("command", ["grade", "assign"])
@pytest.mark.parametrize("name", sorted(BAD_BANKS))
def test_the_cli_refuses_a_broken_bank_with_exit_status_2_and_no_traceback(name, command, tmp_path, capsys):
    bank = _bad_bank(tmp_path, name)
    if command == "grade":
        H.write_notebook(read_notebook(HANDOUTS / "hw1_losses.ipynb"), tmp_path / "subs" / "bob.ipynb")
        argv = ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--bank", str(bank), *GRADE]
    else:
        argv = ["assign", "--solutions", str(SOLUTIONS), "--exercises", str(tmp_path / "ex"), "--bank", str(bank)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dlcourse {command}: error: ") and BAD_BANKS[name][1] in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "ex").exists()


# ------------------------------------------------------------------ assign --bank

def test_the_committed_example_handout_is_generated_from_its_solution_and_bank(capsys):
    argv = ["assign", "--bank", str(BANK), "--solutions", str(SOLUTIONS), "--exercises", str(HANDOUTS), "--check"]
    assert cli.main(argv) == 0, capsys.readouterr().out
    handout = read_notebook(HANDOUTS / "hw1_losses.ipynb")
    text = json.dumps(handout)
    assert "### BEGIN SOLUTION" not in text and "../bank" not in text  # no answer, and no path to the bank
    checks = [cell_source(c) for c in handout["cells"] if "check" in cell_tags(c)]
    assert len(checks) == 3 and all("public=" in c for c in checks)
    assert max(len(line) for c in checks for line in c.splitlines()) <= 100


def test_assign_with_a_bank_refuses_notebooks_that_do_not_match_it(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    argv = ["assign", "--bank", str(BANK), "--solutions", str(solutions), "--exercises", str(tmp_path / "ex")]
    solutions.mkdir()
    assert cli.main(argv) == 2 and "has no hw1_losses.ipynb" in capsys.readouterr().err
    nb = read_notebook(SOLUTIONS / "hw1_losses.ipynb")
    nb["cells"] = [c for c in nb["cells"] if "count_errors" not in cell_source(c)]
    H.write_notebook(nb, solutions / "hw1_losses.ipynb")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "define mse_loss, clip_by_norm" in err and "count_errors" in err and "Traceback" not in err


def test_a_plain_check_call_is_rewritten_too_and_other_code_in_the_cell_stays():
    from dlcourse.grading.assign import embed_public

    public = {"f": '{"x": "a \\"quoted\\" \\u00e9 text"}'}
    out = embed_public('print("before")\ncheck(f)  # the check\ncheck(g)\nresult = check(f, bank="../b")\n', public)
    lines = out.splitlines()
    assert lines[0] == 'print("before")' and "check(g)" in out
    assert out.count("check(f, public=") == 2 and "../b" not in out and "# the check" in out
    namespace = {"check": lambda fn=None, public=None, **kw: public, "f": None, "g": None, "print": lambda *a: None}
    exec(compile(out, "<cell>", "exec"), namespace)
    assert json.loads(namespace["result"]) == json.loads(public["f"])


# ------------------------------------------------------------------ the public cases in a handout

def test_exported_public_cases_check_as_the_bank_does_with_the_same_hints(capsys):
    registry = Registry.load([BANK])
    exercise = registry.get("hw1_losses.mse_loss")
    text = export_public(exercise)
    imported, cases = import_public(text)
    assert imported.output_names == exercise.output_names and len(cases) == len(exercise.public_cases)
    assert "def " not in text and "reference" not in text

    def mse_loss(y_pred, y):
        return float(np.sum((np.asarray(y_pred) - np.asarray(y)) ** 2))  # the sum, not the mean

    by_bank = check(mse_loss, bank=BANK)
    from_bank = capsys.readouterr().out
    by_public = check(mse_loss, public=text)
    from_public = capsys.readouterr().out
    assert by_bank.passed == by_public.passed == 0 and from_bank == from_public
    assert "Hint: you summed the squared errors; the loss is their mean" in from_public
    assert check(registry.get("hw1_losses.mse_loss").reference, public=text).all_passed


@settings(max_examples=40, deadline=None)
@given(array=hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_]),
                        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)),
       scalar=st.one_of(st.none(), st.booleans(), st.integers(-10**18, 10**18), st.floats(), st.text(max_size=5)))
def test_public_values_round_trip_with_their_dtype_shape_and_nan(array, scalar):
    value = [array, (scalar, np.float32(1.5)), "fixture:rosenbrock", array[()] if array.ndim == 0 else array.T]
    back = decode_value(json.loads(json.dumps(encode_value(value))))
    assert back[0].dtype == array.dtype and back[0].shape == array.shape
    np.testing.assert_array_equal(back[0], array)
    assert isinstance(back[1], tuple) and back[1][1].dtype == np.float32 and back[2] == "fixture:rosenbrock"
    assert back[1][0] == scalar or (scalar != scalar and back[1][0] != back[1][0])  # NaN stays NaN
    assert type(back[1][0]) is type(scalar)


def test_a_check_cell_with_damaged_public_cases_says_so():
    with pytest.raises(ValueError, match="not valid JSON"):
        check(lambda x: x, public="{ not json")
    with pytest.raises(ValueError, match="format"):
        check(lambda x: x, public='{"cases": []}')


# ------------------------------------------------------------------ the worked example, end to end

def _execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_the_example_runs_top_to_bottom_for_the_instructor_and_for_the_student(tmp_path):
    """Solutions: every check passes (with the bank). Handout: no bank, no traceback, each check says what to do."""
    solved = _printed(_execute(SOLUTIONS / "hw1_losses.ipynb", SOLUTIONS))
    assert solved.count("all public cases pass") == 3 and "[FAIL]" not in solved
    handout = tmp_path / "student" / "hw1_losses.ipynb"  # a student's folder: no bank anywhere near
    handout.parent.mkdir()
    shutil.copy(HANDOUTS / "hw1_losses.ipynb", handout)
    printed = _printed(_execute(handout, handout.parent))
    assert printed.count("not implemented yet") == 5 and "Traceback" not in printed  # 2 + 2 + 1 public cases


WRONG = {  # plausible mistakes, one per exercise
    "mse_loss": '''
        import numpy as np

        def mse_loss(y_pred, y):
            return float(np.sum((np.asarray(y_pred) - np.asarray(y)) ** 2))
        ''',
    "clip_by_norm": '''
        import numpy as np

        def clip_by_norm(g, max_norm):
            g = np.asarray(g, dtype=float)
            norm = np.linalg.norm(g)
            if norm > max_norm:
                g *= max_norm / norm  # in place: the caller's g changes
            return g
        ''',
    "count_errors": '''
        import numpy as np

        def count_errors(scores, labels):
            return float(np.sum(np.argmax(scores, axis=1) != labels))  # a float count
        ''',
}

PEEK = '''
import numpy as np, os

def mse_loss(y_pred, y):
    path = "{bank}"
    if os.path.exists(path):  # the bank is trusted code on the instructor's side: it must not be here
        namespace = {{}}
        exec(open(path).read(), namespace)
        return namespace["mse_loss"](y_pred, y)
    return -1.0
'''


def test_the_worked_example_grades_full_zero_and_partial_through_the_cli(tmp_path, monkeypatch, capsys):
    exercises, subs, out = tmp_path / "exercises", tmp_path / "subs", tmp_path / "out"
    assert cli.main(["assign", "--bank", str(BANK), "--solutions", str(SOLUTIONS), "--exercises", str(exercises)]) == 0
    assert "new notebook(s) hw1_losses" in capsys.readouterr().out
    handout = read_notebook(exercises / "hw1_losses.ipynb")
    solution = read_notebook(SOLUTIONS / "hw1_losses.ipynb")
    H.write_notebook(solution, subs / "alice.ipynb")
    H.write_notebook(handout, subs / "bob.ipynb")
    H.write_notebook(H.with_sources(handout, WRONG), subs / "carol.ipynb")
    H.write_notebook(H.with_sources(handout, {"mse_loss": PEEK.format(bank=BANK / "hw1_losses.py")}),
                     subs / "dave.ipynb")
    staged: list[str] = []
    real_close = grade_module._Run.close

    def close_and_record(self):  # what the sandboxes could see: the stage, before it is removed
        staged.extend(p.read_text(errors="ignore") for p in self.stage.rglob("*") if p.is_file() and p.stat().st_size)
        real_close(self)

    monkeypatch.setattr(grade_module._Run, "close", close_and_record)
    argv = ["grade", str(subs), "--out", str(out), "--bank", str(BANK), *GRADE]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "alice: 3 / 3 (hw1_losses)" in printed and "bob: 0 / 3 (hw1_losses)" in printed
    assert H.scores_of(out, "dave")["hw1_losses.mse_loss"] == 0  # the bank was not reachable from the sandbox
    assert staged and not any("def count_errors" in text and "Mistake(" in text for text in staged)
    carol = {t["name"]: t for t in H.load_result(out, "carol")["tests"]}
    assert carol[IDS[0]]["score"] == pytest.approx(1 / 6, abs=1e-6)  # a batch of one: the sum is the mean
    assert "Hint: you summed the squared errors; the loss is their mean" in carol[IDS[0]]["output"]
    assert 0 < carol[IDS[1]]["score"] < 1 and "modified its argument `g` in place" in carol[IDS[1]]["output"]
    assert carol[IDS[2]]["score"] == 0 and "errors: expected integers, got floats" in carol[IDS[2]]["output"]
    header = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "submission," + ",".join(IDS) + ",total,max_total"

    assert cli.main(argv) == 0 and "graded 0, skipped 4" in capsys.readouterr().out
    bank = tmp_path / "bank"
    shutil.copytree(BANK, bank)
    with open(bank / "hw1_losses.py", "a", encoding="utf-8") as handle:
        handle.write("\n# edited: the hidden cases may differ now\n")
    argv[argv.index(str(BANK))] = str(bank)
    assert cli.main(argv) == 0 and "graded 4, skipped 0" in capsys.readouterr().out  # a changed bank regrades


def test_grading_a_builtin_assignment_with_a_replaced_exercise(tmp_path, capsys):
    stem = "01_perceptron"
    if not (REPO / "exercises" / f"{stem}.ipynb").exists():
        pytest.skip("no 01_perceptron handout")
    handout = read_notebook(REPO / "exercises" / f"{stem}.ipynb")
    cell = "import numpy as np\n\ndef oja_update(w, x, eta):\n    return 2.0 * np.asarray(w, dtype=float)\n"
    H.write_notebook(H.with_sources(handout, {"oja_update": cell}), tmp_path / "subs" / "erin.ipynb")
    bank = _write(tmp_path / "mine.py", OVERRIDE)
    argv = ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--bank", str(bank), *GRADE]
    assert cli.main(argv) == 0
    assert "replacing built-in 01_perceptron.oja_update" in capsys.readouterr().out
    assert H.scores_of(tmp_path / "out", "erin")["01_perceptron.oja_update"] == 1.0


def test_the_bank_is_one_of_the_paths_the_sandbox_masks(tmp_path):
    from dlcourse.grading.grade import GradeOptions, _secrets

    registry = Registry.load([BANK])
    assert BANK.resolve() in _secrets(GradeOptions(out=tmp_path), registry, [])
