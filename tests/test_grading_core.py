"""The exercise machinery on a toy exercise: outputs, feedback, check(), hidden-case scoring, assign, extract."""
import numpy as np
import pytest
import torch

import grader_helpers as H
from dlcourse import nbtools
from dlcourse.grading import Case, Exercise, Mistake, get_exercise, grade_function, score_outputs
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
    H.registry_with(monkeypatch, [TOY])

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
    H.registry_with(monkeypatch, [TOY])

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


# ------------------------------------------------------------------ registered mistakes and purity

def _mean_loss_ref(errors):
    return float(np.mean(np.asarray(errors, dtype=float) ** 2))


MEAN_LOSS = Exercise(
    id="99_toy.mean_loss",
    reference=_mean_loss_ref,
    public_cases=[Case({"errors": np.array([1.0, -2.0, 3.0])}, "three errors")],
    hidden_cases=lambda rng: [{"errors": rng.normal(size=n)} for n in (2, 3, 5, 8)] + [{"errors": np.ones(1)}],
    output_names=("loss",),
    mistakes=[
        Mistake("you summed over the batch; the loss is the mean", lambda e: float(np.sum(np.asarray(e) ** 2))),
        Mistake("square the errors before averaging", lambda e: float(np.mean(e)) ** 2),
        Mistake("never shown: this mistake raises", lambda e: 1 / 0),
    ],
)


def test_a_scalar_that_matches_a_registered_mistake_gets_its_hint(monkeypatch, capsys):
    """Sum instead of mean on a scalar: no constant-factor hint can see it (one number), the Mistake does."""
    H.registry_with(monkeypatch, [MEAN_LOSS])

    def mean_loss(errors):
        return float(np.sum(errors**2))

    assert check_module.check(mean_loss).passed == 0
    out = capsys.readouterr().out
    assert "Hint: you summed over the batch; the loss is the mean" in out and "square the errors" not in out
    result = grade_function(MEAN_LOSS, mean_loss, seed=0)
    # a batch of one: sum = mean, so that case passes; the four others fail, each with the hint
    assert result.passed == 1 and result.output.count("Hint: you summed over the batch") == 4
    assert "raises" not in result.output


def test_no_hint_for_a_right_answer_or_for_a_wrong_one_that_matches_no_mistake(monkeypatch, capsys):
    H.registry_with(monkeypatch, [MEAN_LOSS])
    assert "Hint" not in grade_function(MEAN_LOSS, _mean_loss_ref, seed=0).output
    other = grade_function(MEAN_LOSS, lambda e: _mean_loss_ref(e) + 1.0, seed=0)
    assert other.score == 0 and "Hint" not in other.output
    wrong_kind = grade_function(MEAN_LOSS, lambda e: np.sum(e**2) > 0, seed=0)  # kind first, no mistake hint
    assert "got booleans" in wrong_kind.output and "Hint" not in wrong_kind.output


def test_a_mistake_hint_follows_the_failed_outputs_of_a_multi_output_exercise():
    two = Exercise(id="99_toy.stats", reference=lambda x: (np.mean(x), np.std(x)),
                   public_cases=[Case({"x": np.arange(4.0)})],
                   hidden_cases=lambda rng: [{"x": rng.normal(size=5)} for _ in range(3)],
                   output_names=("mean", "std"),
                   mistakes=[Mistake("np.var is the variance; take its square root",
                                     lambda x: (np.mean(x), np.var(x)))])
    result = grade_function(two, lambda x: (np.mean(x), np.var(x)), seed=0)
    assert result.score == 0 and result.output.count("Hint: np.var is the variance") == 3
    assert "mean:" not in result.output  # only the failed output is described


def _pure_toy(pure: bool) -> Exercise:
    return Exercise(id="99_toy.clip", reference=lambda x: np.clip(x, -1.0, 1.0),
                    public_cases=[Case({"x": np.array([-3.0, 0.5, 2.0])})],
                    hidden_cases=lambda rng: [{"x": 3 * rng.normal(size=6)} for _ in range(4)],
                    output_names=("y",), pure=pure)


def _clip_in_place(x):
    np.clip(x, -1.0, 1.0, out=x)
    return x


@pytest.mark.parametrize("pure", [True, False])
def test_modifying_an_argument_in_place_fails_only_where_the_task_forbids_it(pure):
    result = grade_function(_pure_toy(pure), _clip_in_place, seed=0)
    if pure:
        assert result.score == 0
        assert "modified its argument `x` in place; the task asks you to return a new array" in result.output
    else:
        assert result.score == result.max_score


def test_in_place_recall_of_a_hopfield_state_is_caught(capsys):
    """np.asarray(s, dtype=float) does not copy a float s: the updates then land in the caller's array."""
    exercise = get_exercise("01_perceptron.hopfield_recall")

    def hopfield_recall(W, s, order, max_sweeps):
        s = np.asarray(s, dtype=float)
        for _ in range(max_sweeps):
            changed = False
            for i in order:
                field = W[i] @ s
                new = 1.0 if field > 0 else (-1.0 if field < 0 else s[i])
                changed |= bool(new != s[i])
                s[i] = new
            if not changed:
                break
        return s

    assert exercise.pure
    result = grade_function(exercise, hopfield_recall, seed=0)
    assert 0 <= result.score < result.max_score
    assert "modified its argument `s` in place; the task asks you to return a new array" in result.output
    copying = grade_function(exercise, lambda W, s, *rest: hopfield_recall(W, np.array(s, dtype=float), *rest))
    assert copying.score == copying.max_score
    assert check_module.check(hopfield_recall, exercise.id).passed < len(exercise.public_cases)
    assert "in place" in capsys.readouterr().out


def test_writing_a_value_back_unchanged_is_not_a_modification():
    def touches(x):
        x[0] = x[0]  # same bytes: nothing the caller could notice
        return np.clip(x, -1.0, 1.0)

    assert grade_function(_pure_toy(True), touches, seed=0).score == 1.0
