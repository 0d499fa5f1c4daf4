"""The exercise machinery on a toy exercise: outputs, feedback, check(), hidden-case scoring, assign, extract."""
import numpy as np
import pytest
import torch

from dlcourse import nbtools
from dlcourse.grading import Case, Exercise, grade_function, score_outputs
import dlcourse.grading.checking as check_module
from dlcourse.grading.assign import STUB, make_exercise_notebook, strip_solution
from dlcourse.grading.extract import exercise_sources
from dlcourse.grading.outputs import OutputError, compare_one, normalize_output, validate_received
from dlcourse.grading.runner import NOT_IMPLEMENTED, run_case


def softplus_ref(z, beta):
    return np.log1p(np.exp(beta * np.asarray(z, dtype=float))) / beta


TOY = Exercise(
    id="99_toy.softplus",
    reference=softplus_ref,
    public_cases=[
        Case({"z": np.array([0.0]), "beta": 1.0}, "softplus(0) = log 2", expected=(np.array([np.log(2.0)]),)),
        Case({"z": np.linspace(-2, 2, 5), "beta": 2.0}, "a range, beta = 2"),
    ],
    hidden_cases=lambda rng: [{"z": rng.normal(size=int(rng.integers(2, 6))), "beta": beta}
                              for beta in (0.5, 1.0, 2.0, 3.0, 0.75, 2.5)],
)


def test_normalize_output_accepts_scalars_lists_and_tensors():
    (a,) = normalize_output(3, ("x",))
    assert a.shape == () and a == 3
    w, n = normalize_output((torch.tensor([1.0, 2.0]), [4]), ("w", "n"))
    np.testing.assert_array_equal(w, [1.0, 2.0])
    np.testing.assert_array_equal(n, [4])


@pytest.mark.parametrize("value, message", [
    ("abc", "expected a number or a NumPy array"),
    (np.array(["a"]), "dtype"),
    ({"a": 1}, "expected a number"),
    ([1, [2, 3]], "could not turn"),
])
def test_normalize_output_rejects_non_numbers(value, message):
    with pytest.raises(OutputError, match=message):
        normalize_output(value, ("x",))


def test_normalize_output_requires_a_tuple_for_several_outputs():
    with pytest.raises(OutputError, match="tuple of 2 values"):
        normalize_output(np.zeros(3), ("w", "epochs"))
    with pytest.raises(OutputError, match="got 3 values"):
        normalize_output((1, 2, 3), ("w", "epochs"))


def test_validate_received_refuses_object_arrays_and_wrong_counts():
    with pytest.raises(OutputError, match="expected 1 outputs"):
        validate_received([], ("x",))
    with pytest.raises(OutputError, match="dtype"):
        validate_received([np.array([object()])], ("x",))
    with pytest.raises(OutputError, match="not an array"):
        validate_received([[1.0]], ("x",))


@pytest.mark.parametrize("received, hint", [
    (np.array([[1.0], [2.0]]), "Same number of elements"),
    (np.array([-1.0, -2.0]), "negative"),
    (np.array([2.0, 4.0]), "constant factor"),
    (np.array([np.nan, 1.0]), "NaN"),
])
def test_compare_one_names_the_common_mistake(received, hint):
    ok, message = compare_one("y", np.array([1.0, 2.0]), received, 1e-6, 1e-8, reveal=False)
    assert not ok and hint in message
    assert "Expected" not in message  # hidden values stay hidden


def test_compare_one_flags_off_by_one_and_reveals_in_public_checks():
    ok, message = compare_one("epochs", np.array(4), np.array(5), 0, 0, reveal=True)
    assert not ok and "Off by one" in message and "Expected 4, received 5" in message


def test_check_prints_a_verdict_per_case(monkeypatch, capsys):
    monkeypatch.setattr(check_module, "get_exercise", lambda key: TOY)

    def softplus(z, beta):
        return np.log1p(np.exp(beta * z)) / beta

    report = check_module.check(softplus)
    out = capsys.readouterr().out
    assert report.all_passed and report.passed == 2
    assert out.count("[PASS]") == 2 and "softplus(0) = log 2" in out

    def wrong(z, beta):  # forgets to divide by beta
        return np.log1p(np.exp(beta * z))

    report = check_module.check(wrong, "99_toy.softplus")
    out = capsys.readouterr().out
    assert report.passed == 1 and "[FAIL] case 2" in out and "given: z=" in out and "received" in out


def test_check_turns_the_stub_into_an_instruction(monkeypatch, capsys):
    monkeypatch.setattr(check_module, "get_exercise", lambda key: TOY)

    def softplus(z, beta):
        raise NotImplementedError

    assert check_module.check(softplus).passed == 0
    assert NOT_IMPLEMENTED in capsys.readouterr().out


def test_grading_scores_fractions_of_hidden_cases():
    assert grade_function(TOY, lambda z, beta: softplus_ref(z, beta), seed=1).score == 1.0
    stub = grade_function(TOY, lambda z, beta: (_ for _ in ()).throw(NotImplementedError()), seed=1)
    assert stub.score == 0.0 and NOT_IMPLEMENTED in stub.output
    partly = grade_function(TOY, lambda z, beta: softplus_ref(z, 1.0) if beta > 1.5 else softplus_ref(z, beta), 1)
    assert 0.0 < partly.score < 1.0


def test_hidden_cases_depend_on_the_seed_only():
    a, b, c = TOY.draw_hidden(3), TOY.draw_hidden(3), TOY.draw_hidden(4)
    assert all(np.array_equal(x["z"], y["z"]) for x, y in zip(a, b))
    assert not all(len(x["z"]) == len(y["z"]) and np.allclose(x["z"], y["z"]) for x, y in zip(a, c))


def test_scoring_does_not_reveal_hidden_expected_values():
    inputs = TOY.draw_hidden(0)
    received = [(np.zeros_like(case["z"]),) for case in inputs]
    result = score_outputs(TOY, inputs, received)
    expected_text = f"{softplus_ref(inputs[0]['z'], inputs[0]['beta'])[0]:.3f}"
    assert result.score == 0 and "wrong values" in result.output and expected_text not in result.output


def test_a_function_that_mutates_its_input_cannot_spoil_the_next_case():
    z = np.array([1.0, 2.0])

    def mutating(z, beta):
        z[:] = 0
        return z

    run_case(mutating, {"z": z, "beta": 1.0}, ("y",))
    np.testing.assert_array_equal(z, [1.0, 2.0])


def test_strip_solution_keeps_signature_docstring_and_indentation():
    source = 'def f(x):\n    """Doc."""\n    # hint: square it\n    ### BEGIN SOLUTION\n    y = x**2\n    return y\n    ### END SOLUTION\n'
    stub = strip_solution(source)
    assert stub == f'def f(x):\n    """Doc."""\n    # hint: square it\n    {STUB}'
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](2)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "nested"),
])
def test_strip_solution_rejects_broken_markers(source, message):
    with pytest.raises(ValueError, match=message):
        strip_solution(source)


def _cell(kind, source, tags=(), outputs=()):
    cell = {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source}
    if kind == "code":
        cell.update(outputs=list(outputs), execution_count=3)
    return cell


def test_make_exercise_notebook_strips_solutions_and_clears_outputs():
    nb = {"cells": [
        _cell("code", "import numpy as np", outputs=[{"output_type": "stream", "name": "stdout", "text": "hi"}]),
        _cell("code", "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", ["exercise"]),
        _cell("markdown", "The answer is x.", ["solution-only"]),
    ], "metadata": {"widgets": {"state": {}}}, "nbformat": 4, "nbformat_minor": 5}
    student = make_exercise_notebook(nb)
    assert len(student["cells"]) == 2
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in student["cells"])
    assert "return x" not in nbtools.cell_source(student["cells"][1])
    assert "widgets" not in student["metadata"]
    with pytest.raises(ValueError, match="no ### BEGIN SOLUTION"):
        make_exercise_notebook({"cells": [_cell("code", "def f(): pass", ["exercise"])]})


def test_exercise_sources_prefers_tagged_cells_and_survives_lost_tags():
    nb = {"cells": [
        _cell("code", "def f(x):\n    return 1\n"),
        _cell("code", "%matplotlib inline\ndef f(x):\n    return 2\n", ["exercise"]),
        _cell("code", "def f(x):\n    return 3\n"),
        _cell("code", "def g(x):\n    return 4\n"),
        _cell("code", "def h(x)\n    return 5\n", ["exercise"]),
    ]}
    found = exercise_sources(nb, ["f", "g", "h", "missing"])
    assert "return 2" in found["f"] and "%matplotlib" not in found["f"]
    assert "return 4" in found["g"]
    assert "return 5" in found["h"]  # kept so that the syntax error becomes feedback
    assert "missing" not in found


def test_setup_block_is_stamped_once_from_the_config(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\nrepository:\n  url: https://example.org/a/b\n  branch: main\n")
    url = nbtools.repository_url(config)
    assert url == "https://example.org/a/b"
    nb = {"cells": [_cell("markdown", "# T"), _cell("code", "import numpy as np\n")]}
    assert nbtools.stamp_setup_cell(nb, url)
    source = nbtools.cell_source(nb["cells"][1])
    assert 'git+https://example.org/a/b"' in source and source.endswith("import numpy as np\n")
    assert not nbtools.stamp_setup_cell(nb, url)
    assert nbtools.stamp_setup_cell(nb, "https://example.org/c/d")
    assert nbtools.cell_source(nb["cells"][1]).count(nbtools.SETUP_BEGIN) == 1
