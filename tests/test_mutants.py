"""`dlcourse check-exercises`: the mutation operators, the verdicts on banks made here, the time limit,
the CLI's exit codes, and the built-in bank's kill rate against the stated threshold."""
from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dlcourse import cli
from dlcourse.grading import Registry
from dlcourse.grading.mutants import MIN_KILL_RATE, check_bank, check_exercise, kill_rate
from dlcourse.grading.mutation import OPERATORS, make_mutants

REPO = Path(__file__).resolve().parents[1]


def _cell(body: str, signature: str = "f(x)") -> str:
    """A solution cell: ``body`` (indented by 4) between the solution markers of ``def <signature>``."""
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return f"import numpy as np\n\n\ndef {signature}:\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION\n"


def _run(mutant, *args):
    namespace: dict = {}
    exec(mutant.source, namespace)
    return namespace["f"](*args)


def _outcomes(source: str, *args, operator: str | None = None) -> dict[str, object]:
    """Each mutant's source line after mutation (by its `after` text) mapped to what it returns on ``args``."""
    found = {}
    for mutant in make_mutants(source, "f"):
        if operator is None or mutant.operator == operator:
            found[mutant.after] = _run(mutant, *args)
    return found


# ------------------------------------------------------------------ the operators

def test_arithmetic_operands_and_dropped_terms_on_a_sum_and_a_difference():
    plus = make_mutants(_cell("return a + b", "f(a, b)"), "f")
    assert {(m.operator, _run(m, 5, 3)) for m in plus} == {("arithmetic", 2), ("dropped term", 5),
                                                           ("dropped term", 3)}
    minus = make_mutants(_cell("return a - b", "f(a, b)"), "f")
    assert {(m.operator, _run(m, 5, 3)) for m in minus} == {("arithmetic", 8), ("operands", -2), ("dropped term", 5)}
    power = _outcomes(_cell("return a ** b", "f(a, b)"), 2, 3, operator="arithmetic")
    assert power == {"a * b": 6}


def test_matrix_products_lose_their_order_and_become_elementwise():
    A, B = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    outcomes = _outcomes(_cell("return A @ B", "f(A, B)"), A, B)
    np.testing.assert_array_equal(outcomes["A * B"], A * B)
    np.testing.assert_array_equal(outcomes["B @ A"], B @ A)


def test_comparisons_move_their_boundary_and_their_direction():
    outcomes = _outcomes(_cell("return x > 0"), 0, operator="comparison")
    assert outcomes == {"x >= 0": True, "x < 0": False}
    assert _outcomes(_cell("return x == 1"), 1, operator="comparison") == {"x != 1": False}


def test_a_dropped_transpose_and_a_dropped_minus_sign():
    A = np.arange(6.0).reshape(2, 3)
    assert [m.after for m in make_mutants(_cell("return A.T", "f(A)"), "f") if m.operator == "transpose"] == ["A"]
    transposes = [m for m in make_mutants(_cell("return np.transpose(A) + A.transpose()", "f(A)"), "f")
                  if m.operator == "transpose"]
    assert len(transposes) == 2 and all(_run(m, A[:2, :2]).shape == (2, 2) for m in transposes)
    assert _outcomes(_cell("return -x"), 4, operator="sign") == {"x": 4}


@given(st.integers(-1000, 1000))
def test_an_integer_constant_moves_by_one_each_way(c):
    outcomes = _outcomes(_cell(f"return x + ({c})"), 0, operator="constant")
    assert sorted(outcomes.values()) == [c - 1, c + 1]


def test_axis_keepdims_and_reductions_are_swapped():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]])
    outcomes = {}
    for mutant in make_mutants(_cell("return x.sum(axis=0, keepdims=True)"), "f"):
        outcomes.setdefault(mutant.operator, []).append(_run(mutant, x))
    assert sorted(o.shape for o in outcomes["axis"]) == [(1, 1), (2, 1)]  # no axis: one total; axis 1: rows
    assert [o.shape for o in outcomes["keepdims"]] == [(3,)]
    np.testing.assert_array_equal(outcomes["function"][0], x.mean(axis=0, keepdims=True))
    swaps = {m.after: _run(m, x) for m in make_mutants(_cell("return np.argmax(x), x.max()"), "f")
             if m.operator == "function"}
    assert swaps == {"np.argmin(x)": (0, 9.0), "x.min()": (5, 1.0)}


def test_order_dropped_calls_and_range_bounds():
    scores = np.array([0.2, 0.9, 0.5])
    order = _outcomes(_cell("return np.argsort(x)"), scores, operator="order")
    np.testing.assert_array_equal(order["np.argsort(x)[::-1]"], [1, 2, 0])
    assert _outcomes(_cell("return x[::-1]"), [1, 2], operator="order") == {"x": [1, 2]}
    assert _outcomes(_cell("return x[1:3]"), [1, 2, 3, 4], operator="order") == {"x[:3]": [1, 2, 3], "x[1:]": [2, 3, 4]}
    assert _outcomes(_cell("return np.sqrt(x)"), 9.0, operator="dropped call") == {"x": 9.0}
    loops = _outcomes(_cell("total = 0\nfor i in range(x):\n    total += i\nreturn total"), 4, operator="range")
    assert loops == {"range(x + 1)": 10, "range(x - 1)": 3}


def test_only_the_solution_span_is_mutated_and_every_mutant_is_distinct():
    source = ("import numpy as np\n\n\ndef f(x, k=2):\n    x = x + 1\n    ### BEGIN SOLUTION\n"
              "    y = x * k\n    ### END SOLUTION\n    return y - 3\n")
    mutants = make_mutants(source, "f")
    assert mutants and {m.line for m in mutants} == {7}
    assert len({m.source for m in mutants}) == len(mutants)
    # without markers the whole body (after the docstring) is the learner's
    unmarked = make_mutants('def f(x):\n    """Doc 1."""\n    return x + 1\n', "f")
    assert {m.line for m in unmarked} == {3}
    # x - x and x + x: arithmetic and dropped-term rewrites that give the same tree are made once
    assert len(make_mutants(_cell("return x - x"), "f")) == len({m.source for m in make_mutants(_cell("return x - x"),
                                                                                                "f")})
    assert set(OPERATORS) >= {"arithmetic", "comparison", "transpose", "constant", "axis", "keepdims", "function"}


# ------------------------------------------------------------------ banks made in the test

BANK = '''
import numpy as np
from dlcourse.grading import Case, Exercise


def _scaled_sum(x, k):
    return k * np.sum(np.asarray(x, dtype=float))


def _square_gap(x, y):
    return (np.asarray(x, dtype=float) - y) ** 2


def _count_up(n):
    return n


def _normalise(x):
    return np.asarray(x, dtype=float) / np.sum(x)


def _weak(rng):
    return [{"x": np.zeros(3), "k": 1.0}]  # one trivial case: a zero vector catches nothing


def _strong(rng):
    return [{"x": rng.normal(size=int(n)), "k": float(rng.uniform(1.5, 3.0))} for n in rng.integers(2, 6, 5)]


EXERCISES = [
    Exercise(id="hw9.scaled_sum", reference=_scaled_sum, public_cases=[Case({"x": np.ones(2), "k": 2.0})],
             hidden_cases=__HIDDEN__),
    Exercise(id="hw9.square_gap", reference=_square_gap, public_cases=[Case({"x": np.ones(2), "y": 3.0})],
             hidden_cases=lambda rng: [{"x": rng.normal(size=4), "y": float(rng.normal())} for _ in range(4)]),
    Exercise(id="hw9.count_up", reference=_count_up, public_cases=[Case({"n": 3})],
             hidden_cases=lambda rng: [{"n": int(n)} for n in rng.integers(0, 20, 4)]),
    Exercise(id="hw9.normalise", reference=_normalise, public_cases=[Case({"x": np.array([1.0, 3.0])})],
             hidden_cases=lambda rng: [{"x": rng.uniform(0.5, 2.0, size=7)} for _ in range(3)]),
]
'''

CELLS = {
    "scaled_sum": _cell("total = k * np.sum(x)\nreturn total", "scaled_sum(x, k)"),
    "square_gap": _cell("return (x - y) ** 2", "square_gap(x, y)"),
    # i -= 1 (arithmetic) loops forever: the time limit must kill it
    "count_up": _cell("i = 0\nwhile i < n:\n    i += 1\nreturn i", "count_up(n)"),
    # s / x.size for s (sum -> mean) cancels in the ratio: equal in exact arithmetic, not bit for bit
    "normalise": _cell("s = np.sum(x)\nreturn x / s / np.sum(x / s)", "normalise(x)"),
}


def _make_bank(folder: Path, hidden: str = "_weak", cells: dict[str, str] = CELLS) -> tuple[Path, Path]:
    """An instructor bank (hw9.py) and its solution notebook, as an author writes them."""
    bank = folder / "bank" / "hw9.py"
    bank.parent.mkdir(parents=True, exist_ok=True)
    bank.write_text(BANK.replace("__HIDDEN__", hidden), encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    for source in cells.values():
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": ["exercise"]}))
    solutions = folder / "solutions"
    solutions.mkdir(exist_ok=True)
    nbformat.write(nb, solutions / "hw9.ipynb")
    return bank, solutions


def _checks(tmp_path: Path, hidden: str = "_weak", **options):
    bank, solutions = _make_bank(tmp_path, hidden)
    registry = Registry.load([bank])
    ids = [exercise.id for exercise in registry.of("hw9")]
    return {c.exercise_id: c for c in check_bank(registry, solutions, ids, **options)}


def test_a_weak_exercise_is_reported_with_its_survivors_and_a_strong_one_is_not(tmp_path):
    weak = _checks(tmp_path / "weak", min_timeout=0.5)["hw9.scaled_sum"]
    survivors = {m.after for m in weak.mutants if m.status == "survived"}
    assert weak.ok and survivors == {"np.sum(x)", "np.mean(x)"}  # a dropped factor, sum -> mean
    assert all(m.code_line == "total = k * np.sum(x)" and m.line == 6 for m in weak.mutants if m.status == "survived")
    assert kill_rate([weak]) == weak.count("killed") / len(weak.mutants) == 0.5  # 2 of 4
    strong = _checks(tmp_path / "strong", "_strong", min_timeout=0.5)["hw9.scaled_sum"]
    assert strong.ok and strong.count("survived") == 0 and kill_rate([strong]) == 1.0
    assert len(strong.mutants) == len(weak.mutants)


def test_an_equivalent_mutant_is_listed_apart_and_left_out_of_the_rate(tmp_path):
    gap = _checks(tmp_path, min_timeout=0.5)["hw9.square_gap"]
    equivalent = [m for m in gap.mutants if m.status == "equivalent"]
    assert [m.after for m in equivalent] == ["y - x"]  # (y - x) ** 2 is (x - y) ** 2, bit for bit
    assert gap.count("survived") == 0 and kill_rate([gap]) == 1.0
    assert gap.count("killed") == len(gap.mutants) - 1


def test_a_survivor_equal_up_to_rounding_is_flagged_as_such(tmp_path):
    check = _checks(tmp_path, min_timeout=0.5)["hw9.normalise"]
    by_change = {(m.before, m.after): m for m in check.mutants}
    rounding = by_change[("np.sum(x)", "np.mean(x)")]
    assert rounding.status == "survived" and "by rounding only" in rounding.how
    # dividing by sum(x / s) = 1 or multiplying by it: the same in exact arithmetic
    assert {m.after for m in check.mutants if m.status == "survived"} == {"np.mean(x)", "x / s * np.sum(x / s)"}
    assert all("by rounding only" in m.how for m in check.mutants if m.status == "survived")
    assert check.count("equivalent") == 0 and check.count("killed") == len(check.mutants) - 2


def test_a_mutant_that_loops_forever_is_killed_by_the_time_limit(tmp_path):
    start = time.perf_counter()
    count = _checks(tmp_path, min_timeout=0.5)["hw9.count_up"]
    elapsed = time.perf_counter() - start
    looping = [m for m in count.mutants if m.after == "i -= 1"]
    assert len(looping) == 1 and looping[0].status == "killed" and looping[0].how == "timed out after 0.5 s"
    assert elapsed < 30


def test_the_solution_runs_in_a_scratch_folder_and_a_wrong_solution_or_stub_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    registry = Registry.load([_make_bank(tmp_path / "b")[0]])
    exercise = registry.get("hw9.square_gap")
    writes = _cell("open('written.txt', 'w').write('x')\nreturn (x - y) ** 2", "square_gap(x, y)")
    assert check_exercise(exercise, writes, seeds=1, min_timeout=0.5).ok
    assert not (tmp_path / "written.txt").exists()
    wrong = check_exercise(exercise, _cell("return (x - y) ** 3", "square_gap(x, y)"), seeds=2)
    assert not wrong.solution_ok and wrong.mutants == [] and "seed 0" in wrong.problems[0]
    unmarked = check_exercise(exercise, "def square_gap(x, y):\n    return (x - y) ** 2\n", seeds=1)
    assert wrong.stub_ok and not unmarked.stub_ok and "BEGIN SOLUTION" in unmarked.problems[0]


# ------------------------------------------------------------------ the command

def test_the_cli_exit_codes_and_its_json_report(tmp_path, capsys):
    bank, solutions = _make_bank(tmp_path)
    base = ["check-exercises", "--bank", str(bank), "--solutions", str(solutions), "--seeds", "2",
            "--timeout", "0.5", "--json", str(tmp_path / "r.json")]
    assert cli.main(base) == 1  # scaled_sum's one trivial hidden case: far below the default threshold
    out, err = capsys.readouterr()
    assert "kill rate below" in err and "Survivors" in out and "total = k * np.sum(x)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    hw9 = report["notebooks"]["hw9"]
    assert hw9["made"] == hw9["killed"] + hw9["survived"] + hw9["likely_equivalent"]
    assert hw9["made"] == sum(len(e["mutants"]) for e in report["exercises"])
    assert hw9["kill_rate"] == round(hw9["killed"] / (hw9["killed"] + hw9["survived"]), 4) < MIN_KILL_RATE
    assert cli.main(base + ["--min-kill-rate", str(hw9["kill_rate"] - 1e-4)]) == 0
    capsys.readouterr()
    for argv, message in [(base + ["--min-kill-rate", "1.5"], "between 0 and 1"),
                          (base + ["--seeds", "0"], "must be positive"),
                          (base + ["--notebook", "nope"], "no exercises for notebook(s) nope"),
                          (["check-exercises", "--bank", str(bank), "--solutions", str(tmp_path)],
                           "no solution notebook"),
                          (["check-exercises", "--bank", str(tmp_path / "missing.py")], "does not exist")]:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("dlcourse check-exercises: error: ") and message in err and "Traceback" not in err


def test_the_cli_fails_when_a_solution_does_not_get_full_marks(tmp_path, capsys):
    cells = {**CELLS, "square_gap": _cell("return (x - y) ** 2 + 1e-3", "square_gap(x, y)")}
    bank, solutions = _make_bank(tmp_path, "_strong", cells)
    argv = ["check-exercises", "--bank", str(bank), "--solutions", str(solutions), "--min-kill-rate", "0",
            "--timeout", "0.5", "--seeds", "1"]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert "hw9.square_gap" in err and "PROBLEM: the solution scores 0/1" in out


# ------------------------------------------------------------------ the course's own bank

def test_the_instructor_example_bank_passes_the_check(capsys):
    example = REPO / "examples" / "instructor_bank"
    argv = ["check-exercises", "--bank", str(example / "bank"), "--solutions", str(example / "solutions")]
    assert cli.main(argv) == 0
    assert "hw1_losses: 20 mutants" in capsys.readouterr().out


def test_the_built_in_bank_kills_enough_mutants_in_every_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the command's default --solutions is ./solutions
    code = cli.main(["check-exercises", "--jobs", "2", "--json", str(tmp_path / "check.json")])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "check.json").read_text())
    registry = Registry.load()
    assert [e["exercise_id"] for e in report["exercises"]] == list(registry.exercises)
    assert all(e["solution_ok"] and e["stub_ok"] for e in report["exercises"])
    assert report["threshold"] == MIN_KILL_RATE and list(report["notebooks"]) == registry.notebooks()
    for notebook, counts in report["notebooks"].items():
        assert counts["made"] >= 50, (notebook, counts)
        assert counts["kill_rate"] >= MIN_KILL_RATE, (notebook, counts, out)
    assert code == 0, out
