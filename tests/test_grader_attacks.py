"""The sandbox under attack: one `grade` run per assignment over a class of hostile and honest submissions.

The attacked exercise is the first one of the assignment (the test notebook's `affine`, and
`perceptron_train` of the course's 01_perceptron when solutions/ has it). Its cell holds the
solution renamed `_honest` and a `_wrong` variant (every value off by one); the graded function
returns `_wrong(...)` and carries one attack. Where an attack could reach something useful (the
solutions, the package's references, another student's notebook, the network) it returns
`_honest(...)` when it succeeds, so "scored 0" means "the attack was stopped", not merely "wrong".
Every submission solves the other exercises honestly, and they must keep full marks (each exercise
runs in its own sandbox). Resource attacks hold memory outside the address space (memfd, /dev/shm,
inodes in /tmp, many processes) and succeed only if they hold more than the sandbox's whole limit;
one reads a key the test put in the grader's session keyring. Honest submissions that fork, print a lot or delete files, and a plain
control, must keep full marks in the same run. Each class is graded in ONE parallel run with small
limits, so the suite stays fast.
"""
from __future__ import annotations

import contextlib
import io
import os
import socket
import textwrap
from pathlib import Path

import numpy as np
import pytest

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading import check, grade_function
from dlcourse.grading.extract import exercise_sources
from dlcourse.grading.grade import GradeOptions, grade
from dlcourse.grading.registry import all_exercises, exercises_of, get_exercise
from dlcourse.grading.scoring import expected_for
from dlcourse.grading.sandbox import Limits
from dlcourse.nbtools import read_notebook

REPO = Path(__file__).resolve().parents[1]
WALL_S = 8.0

CORRECT = "_honest(*args)"
WRONG = "_wrong(*args)"
WRONG_HELPER = """
def _wrong(*args):
    import numpy as np
    out = _honest(*args)
    if isinstance(out, tuple):
        return tuple(np.asarray(o) + 1 for o in out)
    return np.asarray(out) + 1
"""

# Each attack is the body of `NAME(*args)`, after `import numpy as np, os, sys`; {names} are filled in.
ATTACKS = {
    "monkeypatch_numpy_and_builtins": f"""
        import builtins
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
        np.testing.assert_allclose = lambda *a, **k: None
        builtins.abs = lambda v: 0
        builtins.max = lambda *a, **k: 0
        return {WRONG}
    """,
    "read_solutions_and_sources": f"""
        secrets = ["{{repo}}/solutions", "{{repo}}/src/dlcourse/grading/bank", "{{repo}}/tests/grader_helpers.py",
                   "{{subs}}/control.ipynb", "{{out}}", "{{instructor}}/secret.txt"]
        if any(os.path.exists(p) for p in secrets):
            return {CORRECT}  # the attack worked
        return {WRONG}
    """,
    "import_the_reference": f"""
        sys.path[:0] = ["{{repo}}/src", "{{repo}}/tests"]
        try:
            import grader_helpers
            return grader_helpers.affine_ref(x, w, b)
        except ImportError:
            pass
        try:
            from dlcourse.grading.registry import get_exercise
            return get_exercise("affine").reference(x, w, b)
        except Exception:
            return {WRONG}
    """,
    "find_hidden_data_and_the_grader": f"""
        import glob, re
        found = glob.glob("/tmp/dlcourse-grade-*") + glob.glob("/proc/1/root{{repo}}/solutions")
        for pid in os.listdir("/proc"):  # the stage folder's host path is in bwrap's command line
            try:
                text = open(os.path.join("/proc", pid, "cmdline"), "rb").read().decode(errors="ignore")
            except OSError:
                continue
            found += [p for p in re.findall("/tmp/dlcourse-grade-[^\\x00]*", text) if os.path.exists(p)]
        if found or os.environ.get("DLCOURSE_SEED"):
            return {CORRECT}
        return {WRONG}
    """,
    "forge_score_files_and_exit": """
        forged = '{{"score": 100, "max_score": 3, "tests": []}}'
        for path in ["/sandbox/result", "/tmp/results.json", "results.json", "{out}/victim.json",
                     "{out}/gradebook.csv", "/sandbox/job/job.json"]:
            try:
                with open(path, "w") as handle:
                    handle.write(forged)
            except OSError:
                pass
        os._exit(0)
    """,
    "forge_a_pickled_result": """
        import io, json
        n = len(json.load(open("/sandbox/inputs/manifest.json"))["cases"])  # the inputs are visible
        blob = io.BytesIO()
        np.save(blob, np.array([len, 1.0], dtype=object), allow_pickle=True)  # a pickle, not numbers
        size = len(blob.getvalue())
        head = json.dumps({{"cases": [{{"status": "ok", "arrays": [[0, size]]}}] * n}}).encode()
        with open("/sandbox/result", "wb") as handle:
            handle.write(b"DLCOURSE-RESULT-1\\n" + b"%012d\\n" % len(head) + head + blob.getvalue()
                         + b"\\nEND-OF-RESULT\\n")
        os._exit(0)
    """,
    "infinite_loop": """
        while True:
            pass
    """,
    "memory_bomb": """
        hoard = globals().setdefault("hoard", [])  # kept across cases: it only grows
        while True:
            hoard.append(np.ones(2**25))  # 256 MB, written, so really resident
    """,
    "fork_bomb": """
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """,
    "output_flood_200mb": f"""
        chunk = b"x" * 2**20
        for _ in range(200):
            os.write(1, chunk)
        return {WRONG}
    """,
    "network_access": f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {{port}}), timeout=2).close()
            return {CORRECT}
        except OSError:
            return {WRONG}
    """,
    "sys_exit": "sys.exit(0)",
    "os_exit": "os._exit(0)",
    "kill_everything": """
        import signal
        os.kill(-1, signal.SIGKILL)
        os.kill(os.getppid(), signal.SIGKILL)
    """,
    "delete_files": f"""
        import shutil
        for path in ["{{repo}}/solutions", "{{repo}}/src", "{{out}}", "{{subs}}", "{{instructor}}", "/sandbox",
                     "/tmp", os.path.expanduser("~")]:
            shutil.rmtree(path, ignore_errors=True)
        return {WRONG}
    """,
    "eq_always_true": """
        class Liar(np.ndarray):
            __eq__ = lambda self, other: True
            __ne__ = lambda self, other: False
        class Anything:
            __eq__ = lambda self, other: True
            __array__ = None
        honest = _honest(*args)
        if isinstance(honest, tuple):
            return tuple(Anything() for _ in honest)
        return (np.asarray(honest, dtype=float) + 1).view(Liar)
    """,
    "plant_symlinks": f"""
        for target in ["{{out}}/control.json", "{{out}}/gradebook.csv", "/etc/passwd", "/proc/self/environ"]:
            for link in ["/tmp/result", "/tmp/link", "result", "/sandbox/result", "/sandbox/job/result"]:
                try:
                    if os.path.lexists(link):
                        os.remove(link)
                    os.symlink(target, link)
                except OSError:
                    pass
        return {WRONG}
    """,
    "huge_result_array": "return np.zeros(3 * 10**7)",
    "forge_a_huge_shape_result": """
        import json
        n = len(json.load(open("/sandbox/inputs/manifest.json"))["cases"])
        header = "{{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }}"
        header = (header + " " * (117 - len(header)) + "\\n").encode()  # 10 + 118 bytes: aligned
        blob = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header + bytes(16)
        spans = [[0, len(blob)]] * {n_outputs}
        head = json.dumps({{"cases": [{{"status": "ok", "arrays": spans}}] * n}}).encode()
        with open("/sandbox/result", "wb") as handle:
            handle.write(b"DLCOURSE-RESULT-1\\n" + b"%012d\\n" % len(head) + head + blob + b"\\nEND-OF-RESULT\\n")
        os._exit(0)
    """,
    # Resources outside RLIMIT_AS: each returns the right answer only when it held what it asked for.
    "write_root_and_dev": f"""
        written = []
        for path in ["/dlcourse-owned", "/dev/dlcourse-owned", "/sandbox/dlcourse-owned", "/usr/dlcourse-owned"]:
            try:
                with open(path, "wb") as handle:
                    handle.write(b"x" * 2**20)
                written.append(path)
            except OSError:
                pass
        return {CORRECT} if written else {WRONG}
    """,
    "fill_dev_shm": f"""
        held, chunk = 0, b"x" * 2**20
        try:
            while held < {{hold_mb}}:
                with open(f"/dev/shm/hoard{{{{held}}}}", "wb") as handle:
                    for _ in range(15):
                        handle.write(chunk)
                held += 15
        except OSError:
            return {WRONG}
        return {CORRECT}
    """,
    "memfd_hoard": f"""
        fds, held, chunk = [], 0, b"x" * 2**20
        try:
            while held < {{hold_mb}}:  # written, never mapped: not in the address space
                fd = os.memfd_create("hoard")
                for _ in range(15):
                    os.write(fd, chunk)
                fds.append(fd)
                held += 15
        except OSError:
            return {WRONG}
        return {CORRECT}
    """,
    "inode_flood_in_tmp": f"""
        made = 0
        try:
            while made < 200000:  # empty files: no blocks of the tmpfs, only inodes and kernel memory
                os.close(os.open(f"/tmp/f{{{{made}}}}", os.O_CREAT | os.O_WRONLY, 0o600))
                made += 1
        except OSError:
            return {WRONG}
        return {CORRECT}
    """,
    "fork_and_fill": f"""
        import select, time
        state = globals().setdefault("fill_state", {{{{}}}})  # tried on the first case only: the clock is short
        if "held" not in state:
            read_end, write_end = os.pipe()
            for _ in range(8):  # each child well under the address-space limit; together far above it
                if os.fork() == 0:
                    try:
                        block = np.ones({{hold_mb}} // 8 * 2**17)
                        os.write(write_end, b"1")
                        time.sleep(30)
                    finally:
                        os._exit(0)
            got, deadline = b"", time.time() + 6
            while len(got) < 8 and time.time() < deadline:
                if select.select([read_end], [], [], 0.5)[0]:
                    got += os.read(read_end, 8)
            state["held"] = len(got) >= 8
        return {CORRECT} if state["held"] else {WRONG}
    """,
    "read_grader_keyring": f"""
        import ctypes
        number = {{{{"x86_64": 250, "aarch64": 219}}}}.get(os.uname().machine)
        libc = ctypes.CDLL(None, use_errno=True)
        buffer = ctypes.create_string_buffer(256)
        if libc.syscall(number, 11, {{key_serial}}, buffer, 256) > 0:  # KEYCTL_READ by id
            return {CORRECT}
        for keyring in (-3, -4, -5):  # KEYCTL_SEARCH the session, user and user-session keyrings
            if libc.syscall(number, 10, keyring, b"user", b"{{key_desc}}", 0) > 0:
                return {CORRECT}
        return {WRONG}
    """,
    "escape_sequences_in_feedback": """
        sys.stdout.write("\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mALL CORRECT\\x9b1m\\r\\x00 done\\n")
        sys.stdout.flush()
        os._exit(3)
    """,
    # The right answer as the wrong kind of value: each must be refused before any tolerance.
    "returns_booleans": 'return _confuse("bool_cast", _honest(*args), {n_outputs})',
    "returns_true": 'return _confuse("true_scalar", _honest(*args), {n_outputs})',
    "returns_list_of_bools": 'return _confuse("list_of_bools", _honest(*args), {n_outputs})',
    "returns_complex": 'return _confuse("complex", _honest(*args), {n_outputs})',
    "returns_nan": 'return _confuse("nan_filled", _honest(*args), {n_outputs})',
    "returns_nested_object": 'return _confuse("nested_object", _honest(*args), {n_outputs})',
}

HONEST = {  # correct answers with side effects a careless but honest student might have
    "honest_forks": f"""
        import subprocess
        subprocess.run(["true"], check=True)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return {CORRECT}
    """,
    "honest_prints_a_lot": f"""
        for i in range(20000):
            print("debugging row", i, "of a long trace", "-" * 200)
        return {CORRECT}
    """,
    "honest_deletes_files": f"""
        import shutil, tempfile
        scratch = tempfile.mkdtemp()
        open(os.path.join(scratch, "notes.txt"), "w").write("x")
        shutil.rmtree(scratch)
        shutil.rmtree("/tmp", ignore_errors=True)
        try:
            os.remove("data.csv")
        except OSError:
            pass
        return {CORRECT}
    """,
    "control": f"return {CORRECT}",
}


def _cell(name: str, solution: str, body: str, names: dict) -> str:
    """The attacked exercise cell: the solution renamed `_honest`, `_wrong`, and `name(*args)` running `body`."""
    honest = solution.replace(f"def {name}(", "def _honest(", 1)
    body = textwrap.dedent(body).strip().format(**names)
    return (f"import numpy as np, os, sys\n\n{honest}\n{WRONG_HELPER}\n{H.CONFUSION_SOURCE}\n\ndef {name}(*args):\n"
            + textwrap.indent(body, "    ") + "\n")


def _assignments():
    found = [H.TOY]
    if (REPO / "solutions" / "01_perceptron.ipynb").exists() and (REPO / "exercises" / "01_perceptron.ipynb").exists():
        found.append("01_perceptron")
    return found


@pytest.fixture(scope="module", params=_assignments())
def attacked_class(request, tmp_path_factory):
    assignment = request.param
    base = tmp_path_factory.mktemp(f"attacks-{assignment}")
    subs, out, instructor = base / "subs", base / "out", base / "instructor"
    instructor.mkdir()
    (instructor / "secret.txt").write_text("the answers", encoding="utf-8")
    listener = socket.socket()  # a server on the grader's loopback that an escaped sandbox could reach
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    limits = Limits(wall_s=WALL_S, memory_mb=1024, nproc=32, tmp_mb=32, fsize_mb=16)
    key_desc = f"dlcourse-instructor-{assignment}"
    key_serial = H.grader_session_key(key_desc, b"the answers")
    names = {"repo": REPO, "subs": subs, "out": out, "instructor": instructor, "port": listener.getsockname()[1],
             "hold_mb": limits.sandbox_memory_mb * 3 // 2, "key_desc": key_desc, "key_serial": key_serial or 0}
    with pytest.MonkeyPatch.context() as monkeypatch:
        H.register_toy(monkeypatch)
        if assignment == H.TOY:
            solution_nb = H.toy_solution_notebook()
            handout = H.student_notebook(solution_nb)
        else:
            solution_nb = read_notebook(REPO / "solutions" / f"{assignment}.ipynb")
            handout = read_notebook(REPO / "exercises" / f"{assignment}.ipynb")
        exercises = exercises_of(assignment)
        solutions = exercise_sources(solution_nb, [ex.name for ex in exercises])
        target = exercises[0]
        names["n_outputs"] = len(target.output_names)
        for student, body in {**ATTACKS, **HONEST}.items():
            cell = _cell(target.name, solutions[target.name], body, names)
            H.write_notebook(H.with_sources(handout, {**solutions, target.name: cell}), subs / f"{student}.ipynb")
        options = GradeOptions(out=out, jobs=os.cpu_count(), progress=False, limits=limits)
        reports = {r.student: r for r in grade([subs], options)}
    listener.close()
    if key_serial:
        H.revoke_key(key_serial)
    full = {ex.id: ex.points for ex in exercises}
    return {"reports": reports, "out": out, "subs": subs, "instructor": instructor, "target": target.id,
            "full": full, "warnings": options.warnings, "key_serial": key_serial}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_zero_and_leaves_the_rest_of_the_class_alone(attack, attacked_class):
    out, target, full = attacked_class["out"], attacked_class["target"], attacked_class["full"]
    scores = H.scores_of(out, attack)
    assert scores[target] == 0, H.load_result(out, attack)["tests"][0]["output"]
    assert {k: v for k, v in scores.items() if k != target} == {k: v for k, v in full.items() if k != target}
    assert H.scores_of(out, "control") == full
    assert attacked_class["reports"][attack].error is None


@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_code_with_side_effects_keeps_full_marks(student, attacked_class):
    out = attacked_class["out"]
    assert H.scores_of(out, student) == attacked_class["full"], H.load_result(out, student)["tests"][0]["output"]


def test_attacks_reached_no_file_of_the_instructor(attacked_class):
    out, subs, instructor = attacked_class["out"], attacked_class["subs"], attacked_class["instructor"]
    assert (instructor / "secret.txt").read_text(encoding="utf-8") == "the answers"
    assert (REPO / "src" / "dlcourse" / "grading" / "grade.py").exists()
    assert len(list(subs.glob("*.ipynb"))) == len(ATTACKS) + len(HONEST)
    assert not (out / "victim.json").exists()
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(ATTACKS) + len(HONEST) and not any(",100," in row for row in rows)


def test_feedback_says_what_stopped_the_attack(attacked_class):
    def said(student):
        tests = H.load_result(attacked_class["out"], student)["tests"]
        return next(t["output"] for t in tests if t["name"] == attacked_class["target"])

    assert f"did not finish within {WALL_S:g} s" in said("infinite_loop")
    assert "MemoryError" in said("memory_bomb")
    assert "sys.exit" in said("sys_exit")
    assert "ended the program" in said("os_exit")
    assert "could not be read back" in said("forge_a_pickled_result")
    assert "far more than expected" in said("huge_result_array") or "tuple" in said("huge_result_array")
    assert "got booleans" in said("returns_booleans") and "got booleans" in said("returns_list_of_bools")
    assert "got complex numbers" in said("returns_complex") and "dtype object" in said("returns_nested_object")
    assert "NaN" in said("returns_nan") or "got floats" in said("returns_nan")
    assert "not a valid .npy array" in said("forge_a_huge_shape_result") or "declares" in said(
        "forge_a_huge_shape_result")
    if not attacked_class["warnings"]:  # a cgroup per sandbox: memory held outside the address space counts
        # Killed by the cgroup, or its allocation failed and it returned the wrong answer it falls back on.
        assert any(w in said("memfd_hoard") for w in ("used more memory than allowed", "entries are off")), said(
            "memfd_hoard")
        # A child killed by the cgroup (the parent then falls back on its wrong answer), or, near the limit, the
        # kernel reclaiming the sandbox's page cache first and stalling it past the clock.
        assert any(w in said("fork_and_fill") for w in ("used more memory", "did not finish", "entries are off"))


def test_the_sandbox_got_a_cgroup_or_the_run_said_loudly_that_it_did_not(attacked_class):
    warnings = attacked_class["warnings"]
    if os.geteuid() == 0 and os.access("/sys/fs/cgroup/memory", os.W_OK):
        assert warnings == []  # as root on a cgroup v1 host (CI), every sandbox has its own cgroup
    else:
        assert any("no memory/pids cgroup" in w for w in warnings)


def test_no_escape_sequence_reaches_the_feedback(attacked_class):
    """Printed output, messages and notes end up in Gradescope's `output`: no C0/C1 control but newline."""
    for path in attacked_class["out"].glob("*.json"):
        texts = [H.load_result(attacked_class["out"], path.stem)["output"]]
        texts += [t["output"] for t in H.load_result(attacked_class["out"], path.stem)["tests"]]
        for text in texts:
            bad = [ch for ch in text if ch != "\n" and (ord(ch) < 32 or 127 <= ord(ch) < 160)]
            assert not bad, (path.name, text)
    said = next(t["output"] for t in H.load_result(attacked_class["out"], "escape_sequences_in_feedback")["tests"]
                if t["name"] == attacked_class["target"])
    assert "\\x1b[31mALL CORRECT" in said  # shown escaped, so the instructor sees what was tried


# ------------------------------------------------------------------ wrong kinds, for every registered exercise
#
# The right answer (the reference's, or the solution cell's) turned into the wrong kind of value: a
# boolean cast, a float for an integer, complex, a list of booleans, a bare True, a nested object, NaN.
# Every case whose expected value the change touches must fail, every other case must pass, so the
# score is exactly points x (untouched cases / cases). Two allowed or separately ruled changes are
# checked the same way: an int for a float (passes wherever the float is a whole number) and a correct
# answer that scribbles on its array arguments (fails every case of an exercise with `pure=True`).

KINDS = (*H.CONFUSIONS, "int_for_float", "in_place")


def _kind_params():
    """(exercise id, kind) for every registered exercise and every kind that can change one of its outputs."""
    try:
        exercises = list(all_exercises().values())
    except ImportError:  # a bank module still being written elsewhere
        return []
    params = []
    for exercise in exercises:
        kinds = {np.asarray(e).dtype.kind for e in expected_for(exercise, exercise.public_cases[0])}
        for kind in KINDS:
            if (kind == "float_for_int" and not kinds & set("iu")) or (kind == "number_for_bool" and "b" not in kinds):
                continue  # this exercise has no output of the kind that this change replaces
            params.append(pytest.param(exercise.id, kind, id=f"{exercise.id}-{kind}"))
    return params


def _expected_score(exercise, kind, cases, expected):
    untouched = sum(not H.affected(kind, exercise, e, c) for c, e in zip(cases, expected))
    return exercise.points * untouched / len(cases), untouched


@pytest.mark.parametrize("exercise_id, kind", _kind_params())
def test_a_wrong_kind_of_the_right_answer_loses_exactly_the_cases_it_touches(exercise_id, kind):
    exercise = get_exercise(exercise_id)
    cases = exercise.draw_hidden(0)
    expected = [expected_for(exercise, case) for case in cases]
    score, untouched = _expected_score(exercise, kind, cases, expected)
    if kind in H.CONFUSIONS:
        assert untouched < len(cases)  # a wrong kind always touches some case
    result = grade_function(exercise, H.wrong_kind(kind, exercise.reference, len(exercise.output_names)), seed=0)
    assert result.score == pytest.approx(score), result.output
    if untouched < len(cases):
        assert any(word in result.output for word in H.CONFUSION_WORDS.get(kind, ("wrong values",))), result.output


@pytest.mark.parametrize("exercise_id, kind", _kind_params())
def test_public_checks_refuse_the_wrong_kind_and_say_what_was_expected(exercise_id, kind, capsys):
    exercise = get_exercise(exercise_id)
    expected = [expected_for(exercise, case) for case in exercise.public_cases]
    untouched = sum(not H.affected(kind, exercise, e, c.inputs) for c, e in zip(exercise.public_cases, expected))
    report = check(H.wrong_kind(kind, exercise.reference, len(exercise.output_names)), exercise_id)
    printed = capsys.readouterr().out
    assert report.passed == untouched, printed
    if untouched < len(expected):
        assert any(word in printed for word in H.CONFUSION_WORDS.get(kind, ("wrong values",))), printed


def _course_assignments():
    try:
        return [stem for stem in sorted({ex.notebook for ex in all_exercises().values()})
                if (REPO / "solutions" / f"{stem}.ipynb").exists() and (REPO / "exercises" / f"{stem}.ipynb").exists()]
    except ImportError:
        return []


@pytest.fixture(scope="module", params=_course_assignments())
def confused_class(request, tmp_path_factory):
    """One sandboxed `dlcourse grade` run: a student per wrong kind, every exercise cell answering in it."""
    assignment = request.param
    base = tmp_path_factory.mktemp(f"kinds-{assignment}")
    subs, out = base / "subs", base / "out"
    solution_nb = read_notebook(REPO / "solutions" / f"{assignment}.ipynb")
    handout = read_notebook(REPO / "exercises" / f"{assignment}.ipynb")
    exercises = exercises_of(assignment)
    solutions = exercise_sources(solution_nb, [ex.name for ex in exercises])
    for kind in KINDS:
        cells = {ex.name: H.wrong_kind_cell(kind, ex.name, solutions[ex.name], len(ex.output_names))
                 for ex in exercises}
        H.write_notebook(H.with_sources(handout, cells), subs / f"{kind}.ipynb")
    H.write_notebook(H.with_sources(handout, solutions), subs / "control.ipynb")
    argv = ["grade", str(subs), "--out", str(out), "--seed", "0", "--timeout", "30", "--memory-mb", "1024",
            "--no-progress", "--jobs", str(os.cpu_count() or 1)]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        status = cli.main(argv)
    assert status == 0, errors.getvalue()[-3000:]
    return {"out": out, "exercises": exercises}


@pytest.mark.parametrize("kind", KINDS)
def test_sandboxed_grading_refuses_wrong_kinds_for_every_exercise(kind, confused_class):
    out, exercises = confused_class["out"], confused_class["exercises"]
    assert H.scores_of(out, "control") == {ex.id: ex.points for ex in exercises}
    scores = H.scores_of(out, kind)
    feedback = {t["name"]: t["output"] for t in H.load_result(out, kind)["tests"]}
    for exercise in exercises:
        cases = exercise.draw_hidden(0)
        expected = [expected_for(exercise, case) for case in cases]
        score, untouched = _expected_score(exercise, kind, cases, expected)
        assert scores[exercise.id] == pytest.approx(score, abs=1e-6), feedback[exercise.id]
        if untouched < len(cases):
            words = H.CONFUSION_WORDS.get(kind, ("wrong values",))
            assert any(w in feedback[exercise.id] for w in words), feedback[exercise.id]
