"""The Gradescope autograder zip: built for 01_perceptron, unpacked as Gradescope lays it out, run for real.

The zip is unpacked into a throw-away root (``source``, ``submission``, ``results``; run_autograder
copied to the root, as Gradescope's image build does) and ``run_autograder`` runs with
``DLCOURSE_AUTOGRADER_ROOT`` pointing there and this venv's ``dlcourse`` on PATH (setup.sh is only
read: it needs apt and the network). Every results.json is validated against a JSON Schema written
from Gradescope's documented format (https://gradescope-autograders.readthedocs.io/en/latest/specs/,
leaderboards: .../leaderboards/) and checked for what the spec leaves to us: visibilities, the total,
escaped outputs, no seed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading import gradescope as gs
from dlcourse.grading.records import VISIBILITIES
from dlcourse.nbtools import read_notebook

REPO = Path(__file__).resolve().parents[1]
BANK = REPO / "examples" / "instructor_bank" / "bank"
SEED = 918273645  # distinctive: it must appear nowhere in what students get
VENV_BIN = Path(sys.executable).parent

_VIS = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
_NUM = {"type": "number"}
_TEST = {"type": "object", "additionalProperties": False, "properties": {
    "score": _NUM, "max_score": _NUM, "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
    "name_format": _FORMAT, "number": {"type": "string"}, "output": {"type": "string"}, "output_format": _FORMAT,
    "tags": {"type": "array", "items": {"type": "string"}}, "visibility": _VIS, "extra_data": {"type": "object"}}}
SCHEMA = {  # Gradescope's results.json, as documented (every field optional; a score on top or on each test)
    "type": "object", "additionalProperties": False,
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
    "properties": {
        "score": _NUM, "execution_time": _NUM, "output": {"type": "string"}, "output_format": _FORMAT,
        "test_output_format": _FORMAT, "test_name_format": _FORMAT, "visibility": _VIS, "stdout_visibility": _VIS,
        "extra_data": {"type": "object"}, "tests": {"type": "array", "items": _TEST},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}}}}


def guide_commands() -> list[list[str]]:
    """The ``dlcourse gradescope-bundle`` commands of the instructor guide's "Upload to Gradescope" section."""
    text = (REPO / "book" / "instructor.md").read_text(encoding="utf-8")
    section = text[text.index("## Upload to Gradescope"):]
    section = section[:section.index("\n## ", 5)]
    return [shlex.split(line)[1:] for line in section.splitlines() if line.startswith("dlcourse gradescope-bundle ")]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The guide's command with a bank, run from the repository root (plus a known seed, for the checks)."""
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    (argv,) = [c for c in guide_commands() if "--bank" in c]
    argv = [str(REPO / a) if a.startswith("examples/") else str(out) if a == "autograder.zip" else a for a in argv]
    assert cli.main(argv + ["--seed", str(SEED)]) == 0
    return out


def test_every_bundle_command_of_the_guide_parses():
    commands = guide_commands()
    assert len(commands) == 3
    for argv in commands:
        args = cli.build_parser().parse_args(argv)
        assert args.assignment == "01_perceptron" and args.out == "autograder.zip"
    assert [cli.build_parser().parse_args(a).no_sandbox for a in commands] == [False, False, True]


def unpack(bundle: Path, root: Path) -> Path:
    """Gradescope's layout: the zip in source/ (modes kept, as unzip does), run_autograder copied to the root."""
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, root / "source"))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return root


def run_autograder(root: Path, path: str | None = None) -> dict:
    env = dict(os.environ, DLCOURSE_AUTOGRADER_ROOT=str(root), PATH=path or f"{VENV_BIN}:{os.environ['PATH']}")
    done = subprocess.run([str(root / "run_autograder")], env=env, cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (root / "results" / "results.json").read_text(encoding="utf-8")
    assert str(SEED) not in text
    data = json.loads(text)
    check_results(data)
    return data


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def check_results(data: dict, hidden: str = "after_due_date") -> None:
    jsonschema.validate(data, SCHEMA)
    shown = [data.get("output", "")] + [t.get(k, "") for t in data.get("tests", []) for k in ("name", "output")]
    for text in shown:  # escaped at the sink: no terminal control, no bidi override, no lone surrogate
        assert all(ch.isprintable() or ch == "\n" for ch in text), repr(text)
    assert data["stdout_visibility"] == "hidden" and data.get("output_format") == "text"
    assert all(t["output_format"] == "text" for t in data["tests"])
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]), abs=1e-9)
    for test in data["tests"]:
        assert 0 <= test["score"] <= test["max_score"]
        cases = test.get("extra_data", {}).get("cases")
        if cases == "public":
            assert test["visibility"] == "visible" and test["max_score"] == 0 and test["tags"] == ["public"]
        elif cases == "hidden":
            assert test["visibility"] == hidden and test["tags"] == ["hidden"]


def hidden_scores(data: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in data["tests"] if t["extra_data"].get("cases") == "hidden"}


def submit(root: Path, files: dict[str, str | dict]) -> Path:
    for name, content in files.items():
        path = root / "submission" / name
        if isinstance(content, dict):
            H.write_notebook(content, path)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# ------------------------------------------------------------------ the zip itself

def test_the_zip_holds_what_gradescope_needs_and_setup_installs_the_bundled_wheel(bundle):
    with zipfile.ZipFile(bundle) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        config = json.loads(archive.read(gs.CONFIG))
        setup = archive.read("setup.sh").decode()
        wheel = zipfile.ZipFile(archive.open(config["wheel"]))
        assert archive.read("banks/0_bank/hw1_losses.py") == (BANK / "hw1_losses.py").read_bytes()
    for script in ("setup.sh", "run_autograder"):  # at the zip's root, executable
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    assert config["seed"] == SEED and config["assignment"] == "01_perceptron" and config["banks"] == ["banks/0_bank"]
    assert config["max_score"] == 5 and len(config["exercises"]) == 5
    assert "apt-get install" in setup and "bubblewrap" in setup
    assert 'pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu' in setup
    assert f'pip install "$SRC/{config["wheel"]}"' in setup and config["wheel"].endswith("-py3-none-any.whl")
    package = REPO / "src" / "dlcourse"
    sources = {p.relative_to(package.parent).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    built = set(wheel.namelist())
    assert {"dlcourse/grading/sandbox_entry.py", "dlcourse/grading/launcher.py", "dlcourse/grading/gradescope.py",
            "dlcourse/grading/bank/ex01_perceptron.py"} <= built
    assert len(sources - built) <= 2, sources - built  # every module (allowing one created by a parallel edit)
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(bundle) as archive:
            text = archive.read(script).decode()
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


@pytest.mark.parametrize("argv, words", [
    (["99_nothing"], "no exercises registered for assignment '99_nothing'"),
    (["01_perceptron", "--leaderboard", "score"], "a score leaderboard would show the hidden cases"),
    (["01_perceptron", "--timeout", "0"], "--timeout and --memory-mb must be positive"),
])
def test_bad_bundle_options_are_refused_before_anything_is_written(tmp_path, capsys, argv, words):
    out = tmp_path / "a.zip"
    assert cli.main(["gradescope-bundle", *argv, "--out", str(out)]) == 2
    assert words in capsys.readouterr().err and not out.exists()


# ------------------------------------------------------------------ graded submissions

ATTACK = '''
import json, os
_stolen = []
for _p in ({root!r} + "/source/dlcourse-autograder.json", "/autograder/source/dlcourse-autograder.json"):
    try:
        with open(_p) as _f:
            _stolen.append(_f.read())
    except OSError:
        pass
for _p in ({root!r} + "/results/results.json", {root!r} + "/run_autograder", {root!r} + "/source/run_autograder",
           "/autograder/results/results.json", "/autograder/run_autograder"):
    try:
        os.makedirs(os.path.dirname(_p), exist_ok=True)
        with open(_p, "w") as _f:
            _f.write('{{"score": 1000, "output": "FORGED"}}')
    except OSError:
        pass
print(json.dumps({{"score": 1000.0, "output": "FORGED", "tests": []}}))

{solution}

_honest = oja_update

def oja_update(w, x, eta):
    if _stolen:  # the seed would show up in the feedback (and the test would see it)
        raise RuntimeError("STOLEN " + " ".join(_stolen))
    return _honest(w, x, eta)
'''

NOISY = '''
def hopfield_store(patterns):
    raise ValueError("\\x1b[2J\\x1b[31mred\\u202e evil \\r\\x07 end")
'''

PROTECTED = ("run_autograder", "source/run_autograder", f"source/{gs.CONFIG}")


def _digests(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in PROTECTED}


@pytest.fixture(scope="module")
def graded(bundle, tmp_path_factory) -> dict[str, tuple[Path, dict, dict]]:
    """The worked solutions, the untouched handout and an attack, graded side by side (each in its own root)."""
    solutions = read_notebook(REPO / "solutions" / "01_perceptron.ipynb")
    roots = {name: unpack(bundle, tmp_path_factory.mktemp(name) / "ag") for name in ("solutions", "handout", "attack")}
    oja = ATTACK.format(root=str(roots["attack"]), solution=H.exercise_cell_sources(solutions)["oja_update"])
    submit(roots["solutions"], {"01_perceptron.ipynb": solutions, "notes.txt": "my notes"})
    submit(roots["handout"], {"01_perceptron.ipynb": read_notebook(REPO / "exercises" / "01_perceptron.ipynb")})
    submit(roots["attack"], {"attack.ipynb": H.with_sources(H.student_notebook(solutions),
                                                            {"oja_update": oja, "hopfield_store": NOISY})})
    before = {name: _digests(root) for name, root in roots.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:  # sandbox starts wait more than they compute
        results = dict(zip(roots, pool.map(run_autograder, roots.values())))
    return {name: (roots[name], results[name], before[name]) for name in roots}


def test_the_worked_solutions_get_full_marks_shown_after_the_due_date(graded):
    root, data, _ = graded["solutions"]
    assert data["score"] == 5.0, json.dumps([data["output"]] + [t["output"] for t in data["tests"]], indent=1)
    assert set(hidden_scores(data).values()) == {1.0} and len(hidden_scores(data)) == 5
    assert all(t["status"] == "passed" for t in data["tests"])
    assert "5 / 5" not in data["output"] and "after the due date" in data["output"]  # the score waits too
    assert "21/21 public cases passed" in data["output"] and "'notes.txt'" in data["output"]
    assert data["leaderboard"][0]["name"] == "Grading time (s)" and data["leaderboard"][0]["order"] == "asc"
    assert data["extra_data"]["dlcourse"]["bank"] != ""  # the bundled bank was loaded at grading time
    assert stat.S_IMODE((root / "source").stat().st_mode) == 0o700  # root only: the sandbox is uid 65534
    assert data["execution_time"] > 0


def test_the_untouched_handout_scores_zero_with_the_public_cases_failed(graded):
    _, data, _ = graded["handout"]
    assert data["score"] == 0 and set(hidden_scores(data).values()) == {0.0}
    public = [t for t in data["tests"] if t["extra_data"]["cases"] == "public"]
    assert len(public) == 5 and all(t["status"] == "failed" for t in public)


def test_an_attacking_submission_cannot_read_the_seed_or_touch_the_results(graded):
    root, data, before = graded["attack"]  # run_autograder() also checked: no seed anywhere, every output escaped
    assert _digests(root) == before
    scores = hidden_scores(data)
    assert scores["01_perceptron.oja_update"] == 1.0  # the attack ran in full, and found nothing to steal
    assert data["score"] == 1.0 and "FORGED" not in json.dumps(data) and "STOLEN" not in json.dumps(data)
    store = next(t for t in data["tests"] if t["name"] == "01_perceptron.hopfield_store")
    assert "red" in store["output"] and "evil" in store["output"]  # the exception text, its controls neutralised


# ------------------------------------------------------------------ submissions that cannot be graded

@pytest.mark.parametrize("files, words", [
    ({}, "holds no Jupyter notebook. Upload your completed 01_perceptron.ipynb"),
    ({"solution.py": "def oja_update(w, x, eta):\n    return w\n"}, "no Jupyter notebook (found: 'solution.py')"),
    ({"a\x1b[2J.ipynb": {"cells": []}, "b\u202e.ipynb": {"cells": []}}, "holds 2 notebooks ('a\\x1b[2J.ipynb', "
                                                                           "'b\\u202e.ipynb'); upload exactly one"),
])
def test_an_empty_doubled_or_non_notebook_submission_gets_a_clear_zero(bundle, tmp_path, files, words):
    root = submit(unpack(bundle, tmp_path / "ag"), files)
    data = run_autograder(root)
    assert data["score"] == 0 and words in data["output"], data["output"]
    (test,) = data["tests"]
    assert test["max_score"] == 5 and test["status"] == "failed" and test["visibility"] == "visible"


def test_a_crash_of_the_grader_still_leaves_a_valid_results_json(bundle, tmp_path):
    root = submit(unpack(bundle, tmp_path / "ag"), {"x.ipynb": {"cells": []}})
    (root / "source" / gs.CONFIG).write_text("{not json", encoding="utf-8")  # the grader's own bug
    data = run_autograder(root)
    assert data["output"] == gs.GRADER_ERROR and data["extra_data"]["dlcourse"]["grader_error"] is True
    crashed = unpack(bundle, tmp_path / "ag2")  # dlcourse missing altogether: the shell writes the result
    data = run_autograder(crashed, path="/usr/bin:/bin")
    assert data["output"] == gs.GRADER_ERROR and data["tests"] == [] and data["score"] == 0


def test_the_source_folder_is_among_the_folders_the_sandbox_masks(tmp_path, monkeypatch):
    from dlcourse.grading import grade as grade_module
    from dlcourse.grading.registry import Registry

    root = tmp_path / "ag"
    for name in ("source", "submission"):
        (root / name).mkdir(parents=True)
    monkeypatch.chdir(root / "source")  # where run_autograder runs the grader from
    found = grade_module._secrets(grade_module.GradeOptions(out=tmp_path / "out"), Registry.load([BANK]),
                                  [root / "submission" / "x.ipynb"])
    assert (root / "source").resolve() in found and (root / "submission").resolve() in found
    assert 'cd "$ROOT/source" && dlcourse gradescope-run' in gs.RUN_AUTOGRADER


def test_without_namespaces_the_student_gets_a_clear_zero_and_the_instructor_the_reason(bundle, tmp_path,
                                                                                        monkeypatch, capsys):
    from dlcourse.grading import sandbox as sandbox_module

    def refuse(self):
        raise sandbox_module.SandboxUnavailable("bubblewrap is installed but could not start a sandbox here "
                                                "(user namespaces disabled?): setting up uid map: Permission denied")

    monkeypatch.setattr(sandbox_module.Sandbox, "probe", refuse)
    root = submit(unpack(bundle, tmp_path / "ag"),
                  {"01_perceptron.ipynb": read_notebook(REPO / "solutions" / "01_perceptron.ipynb")})
    assert gs.run_autograder(root) == 0
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    check_results(data)
    assert data["score"] == 0 and "could not start its sandbox in this container" in data["output"]
    printed = capsys.readouterr().out
    assert "uid map: Permission denied" in printed and "--no-sandbox" in printed


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("\x1b\r\x07\u202e\n"),
                max_size=40)


@settings(max_examples=40, deadline=None)
@given(visibility=st.sampled_from(VISIBILITIES), scores=st.lists(st.tuples(
    st.integers(0, 4), st.integers(1, 4), _TEXT, st.booleans()), min_size=1, max_size=4), note=_TEXT)
def test_any_grade_result_converts_to_a_valid_gradescope_result(visibility, scores, note):
    """The conversion alone, on results_json() output for varied scores, visibilities and hostile texts."""
    from dlcourse.grading.grade import SubmissionReport
    from dlcourse.grading.records import results_json
    from dlcourse.grading.scoring import ExerciseResult

    results = []
    for index, (passed, extra, feedback, public) in enumerate(scores):
        total = passed + extra
        result = ExerciseResult(f"01_x.f{index}", round(passed / total, 6), 1.0, passed, total, [feedback],
                                seconds=0.5)
        if public:
            result.public = [{"label": feedback, "passed": False, "given": {}, "expected": [], "received": None,
                              "feedback": feedback}]
        results.append(result)
    report = SubmissionReport("stu\x1bdent", Path("x.ipynb"), "01_x", results, notes=[note])
    data = results_json(report, SEED, "0" * 64, hidden_visibility=visibility)
    config = {"assignment": "01_x", "hidden_visibility": visibility, "version": "0.1.0",
              "leaderboard": ["time", "score"] if visibility == "visible" else ["time"]}
    converted = gs.gradescope_results(data, config, 1.25)
    check_results(converted, hidden=visibility)
    assert str(SEED) not in json.dumps(converted) and "student" not in converted["extra_data"]["dlcourse"]
    assert len(converted["tests"]) == len(results) + sum(public for *_, public in scores)
    score_line = f"{report.score:g} / {report.max_score:g} points"
    assert (score_line in converted["output"]) == (visibility == "visible")  # the score waits with the hidden cases
    board = {entry["name"]: entry["value"] for entry in converted["leaderboard"]}
    assert board["Grading time (s)"] == pytest.approx(0.5 * len(results))
    assert board.get("Score", report.score) == report.score
