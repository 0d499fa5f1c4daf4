"""One sandbox per submission: its exercises share the sandbox, never their state, and never another student's.

The toy notebook's first exercise (`affine`) leaves everything it can behind (files in /tmp and
/dev/shm, a background process, a System V shared memory segment, a patched NumPy), or stops or
kills the sandbox's supervisor, or imports PyTorch; the second (`argmax_rows`) returns the right
answer only when it finds none of that, so its full mark means "the exercise started clean".
One class, one run; the class benchmark runs on three submissions.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import grader_helpers as H
from dlcourse.grading import batch as batch_module
from dlcourse.grading import sandbox as sandbox_module
from dlcourse.grading.grade import GradeOptions, grade
from dlcourse.grading.registry import exercises_of
from dlcourse.grading.sandbox import Limits

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

AFFINE = '''
import numpy as np, os, sys, time

def affine(x, w, b):
{body}
    return np.asarray(x) @ np.asarray(w) + b
'''
LEAVE_STATE = """
    if not os.path.exists("/tmp/left"):
        os.makedirs("/tmp/left/deep/er")
        open("/tmp/left/deep/er/file", "w").write("x")
        os.chmod("/tmp/left/deep", 0)
        open("/dev/shm/left", "w").write("x")
        import ctypes
        ctypes.CDLL(None).shmget(0x1234, 1 << 20, 0o1600)  # IPC_CREAT | 0600, outlives its process
        np.leaked = True
        if os.fork() == 0:  # a daemon that would spoil the next exercise
            os.setsid()
            time.sleep(60)
            os._exit(0)
"""
STOP_SUPERVISOR = """
    import signal
    os.kill(os.getppid(), signal.SIGSTOP)
"""
KILL_SUPERVISOR = """
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(5)  # the sandbox ends with its supervisor, and this exercise with it
"""
USES_TORCH = """
    preimported = globals().setdefault("preimported", "torch" in sys.modules)  # as of the first call
    import torch  # imported once by the supervisor, before the fork, with one thread
    if not preimported or len(os.listdir("/proc/self/task")) != 1 or torch.get_num_threads() != 1:
        return np.zeros(len(x))
    return (torch.as_tensor(np.asarray(x)) @ torch.as_tensor(np.asarray(w)) + b).numpy()
"""
ARGMAX_IF_CLEAN = '''
import numpy as np, os, sys

def argmax_rows(X):
    others = {int(p) for p in os.listdir("/proc") if p.isdigit()} - {1, os.getpid(), os.getppid()}
    shm = open("/proc/sysvipc/shm").read().splitlines()[1:]
    # a venv under /tmp is mounted at its own path inside the sandbox: those folders are not left-overs
    mounted = {p.split("/")[2] for p in sys.path if p.startswith("/tmp/")}
    left = [e for e in os.listdir("/tmp") if e not in mounted] + os.listdir("/dev/shm")
    if others or shm or left or hasattr(np, "leaked") or not os.path.exists("/sandbox/inputs/manifest.json"):
        return np.zeros(len(X), dtype=int), np.zeros(len(X))
    idx = np.argmax(X, axis=1)
    return idx, X[np.arange(len(X)), idx]
'''


def _cell(body: str) -> str:
    return AFFINE.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    "))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    subs, out = base / "subs", base / "out"
    calls: list[int] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        H.register_toy(monkeypatch)
        monkeypatch.setattr(batch_module, "GRACE_S", 3.0)  # a stopped supervisor is given up on sooner
        real = sandbox_module.Sandbox.run_batch

        def counted(self, argv, binds, result_files, limits, **kw):
            calls.append(len(result_files))
            return real(self, argv, binds, result_files, limits, **kw)

        monkeypatch.setattr(sandbox_module.Sandbox, "run_batch", counted)
        handout = H.student_notebook(H.toy_solution_notebook())
        students = {"leaves_state": LEAVE_STATE, "stops_supervisor": STOP_SUPERVISOR,
                    "kills_supervisor": KILL_SUPERVISOR, "uses_torch": USES_TORCH, "control": ""}
        for student, body in students.items():
            cells = {"affine": _cell(body), "argmax_rows": ARGMAX_IF_CLEAN}
            H.write_notebook(H.with_sources(handout, cells), subs / f"{student}.ipynb")
        options = GradeOptions(out=out, jobs=2, progress=False, limits=Limits(wall_s=6, memory_mb=1024, tmp_mb=32))
        reports = {r.student: r for r in grade([subs], options)}
    return {"reports": reports, "out": out, "calls": calls}


def test_each_exercise_starts_from_a_clean_sandbox(graded):
    out = graded["out"]
    assert H.scores_of(out, "control") == {f"{H.TOY}.affine": 2.0, f"{H.TOY}.argmax_rows": 1.0}
    # affine ran (twice: public and hidden cases) and left its files, daemon, segment and patch behind
    assert H.scores_of(out, "leaves_state") == {f"{H.TOY}.affine": 2.0, f"{H.TOY}.argmax_rows": 1.0}


def test_a_stopped_or_killed_supervisor_costs_only_the_exercise_that_did_it(graded):
    out, reports = graded["out"], graded["reports"]
    for student in ("stops_supervisor", "kills_supervisor"):
        assert H.scores_of(out, student) == {f"{H.TOY}.affine": 0.0, f"{H.TOY}.argmax_rows": 1.0}, student
        assert reports[student].error is None
    said = {t["name"]: t for t in H.load_result(out, "stops_supervisor")["tests"]}
    assert said[f"{H.TOY}.affine"]["extra_data"]["run"] == "timeout"
    said = {t["name"]: t for t in H.load_result(out, "kills_supervisor")["tests"]}
    assert said[f"{H.TOY}.affine"]["extra_data"]["run"] == "crashed"
    assert "killed" in said[f"{H.TOY}.affine"]["output"]


def test_one_sandbox_per_submission_and_a_fresh_one_only_after_a_lost_supervisor(graded):
    # five submissions of two exercises: one sandbox each, plus one for argmax_rows of each student
    # whose supervisor was stopped or killed during affine
    assert sorted(graded["calls"]) == [1, 1, 2, 2, 2, 2, 2]


def test_a_submission_that_imports_torch_gets_it_imported_once_with_one_thread(graded):
    assert H.scores_of(graded["out"], "uses_torch") == {f"{H.TOY}.affine": 2.0, f"{H.TOY}.argmax_rows": 1.0}


def test_the_supervisor_reports_each_exercise_on_its_own(graded):
    for student in ("control", "leaves_state", "uses_torch"):
        tests = [t for t in H.load_result(graded["out"], student)["tests"] if t["extra_data"]["cases"] == "hidden"]
        assert [t["extra_data"]["run"] for t in tests] == ["ran", "ran"]
        assert all(0 < t["execution_time"] < 6 for t in tests)


def test_unconfined_grading_runs_the_same_batch_without_killing_anything_else(tmp_path, monkeypatch):
    """--no-sandbox (trusted code): the supervisor ends only the exercise's process group, never kill(-1)."""
    H.register_toy(monkeypatch)
    sleeper = os.fork()
    if sleeper == 0:
        import time

        time.sleep(120)
        os._exit(0)
    try:
        subs, out = tmp_path / "subs", tmp_path / "out"
        H.write_notebook(H.with_sources(H.student_notebook(H.toy_solution_notebook()), H.SOLUTIONS),
                         subs / "alice.ipynb")
        (report,) = grade([subs], GradeOptions(out=out, jobs=1, progress=False, sandbox=False,
                                               limits=Limits(wall_s=20)))
        assert report.score == 3.0 and report.error is None
        assert os.waitpid(sleeper, os.WNOHANG) == (0, 0)  # a process of the grader's user is still alive
    finally:
        os.kill(sleeper, 9)
        os.waitpid(sleeper, 0)


def test_the_class_benchmark_grades_one_sandbox_per_submission(tmp_path):
    """`benchmarks/grade_class.py` (the instructor guide's command), on a class of three."""
    repo = Path(__file__).resolve().parents[1]
    if not (repo / "solutions" / "01_perceptron.ipynb").exists():
        pytest.skip("the course's solutions/ are not here")
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(repo / "benchmarks" / "grade_class.py"), "--students", "3",
                           "--assignments", "01_perceptron", "--jobs", "2", "--no-phases", "--json", str(report)],
                          capture_output=True, text=True, timeout=300, cwd=repo)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(report.read_text(encoding="utf-8"))["class"]
    assert found["submissions"] == 3 and found["exercise_runs"] == 3 * len(exercises_of("01_perceptron"))
    assert found["sandboxes"] == 3 + 1  # one per submission, and the start-up probe
    assert found["statuses"] == {"ran": found["exercise_runs"]} and found["errors"] == 0
    scores = found["mean_score_by_kind"]
    assert scores["solution"] == 1.0 and scores["stub"] == 0.0 and 0 < scores["wrong"] < 1
    assert 0 < found["exercise_s_summed"] < found["sandbox_s_summed"]
    assert "s per submission (wall clock)" in done.stdout


SRC = Path(__file__).resolve().parents[1] / "src"


def test_emptying_scratch_leaves_mounts_under_it_and_the_folders_leading_to_them(tmp_path):
    """A venv under /tmp is bound at its own path in the sandbox: cleaning /tmp must not trip on it."""
    if not shutil.which("unshare") or os.geteuid() != 0:
        pytest.skip("needs unshare and root to make a private mount")
    top = tmp_path / "scratch"
    (top / "venv" / "ro").mkdir(parents=True)
    (top / "left.txt").write_text("x")
    (top / "deep" / "er").mkdir(parents=True)
    (top / "deep" / "er" / "f").write_text("y")
    script = (f"import sys; sys.path.insert(0, {str(SRC)!r}); "
              "from dlcourse.grading.supervisor import _empty; "
              f"print(_empty({str(top)!r}), sorted(__import__('os').listdir({str(top)!r})))")
    mount = f"mount -t tmpfs tmpfs {top / 'venv' / 'ro'} && echo k > {top / 'venv' / 'ro' / 'keep'} && "
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           mount + f"{sys.executable} -c \"{script}\" && cat {top / 'venv' / 'ro' / 'keep'}"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode and "mount" in done.stderr:
        pytest.skip(f"no private mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True ['venv']", "k"]  # the rest removed; the mount untouched
