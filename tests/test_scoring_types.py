"""Strict scoring: the kind, shape and finiteness of a result must fit before any tolerance applies.

Rules (dlcourse.grading.outputs): an int may stand for a float; a float never for an int; a boolean
never for a number, nor a number for a boolean; complex only where complex is expected; NaN or
infinity only where the expected value has it. Checked on compare_one directly, on what crosses back
from the sandbox (the .npy wire format), and on the two holes of issue 7 (a boolean Hopfield state,
True for an epoch count), in check() and in hidden-case scoring.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcourse.grading import all_exercises, check, get_exercise, grade_function, score_outputs
from dlcourse.grading.outputs import OutputError, compare_one, kind_of, normalize_output, validate_received
from dlcourse.grading.runner import call_args, run_cases
from dlcourse.grading.sandbox_entry import decode_result, encode_result
from dlcourse.grading.scoring import expected_for

FLOATS, INTS, BOOLS = np.array([1.0, 2.0]), np.array([1, 2]), np.array([True, False])
COMPLEX = np.array([1 + 1j, 2.0])


@pytest.mark.parametrize("expected, received, ok, words", [
    (FLOATS, INTS, True, "correct"),  # an int for a float: allowed
    (FLOATS, np.array([1, 2], dtype=np.uint8), True, "correct"),
    (np.array(4.0), np.array(4), True, "correct"),
    (INTS, np.array([1.0, 2.0]), False, "expected integers, got floats"),
    (np.array(4), np.array(4.0), False, "expected integers, got floats"),
    (INTS, np.array([1, 2], dtype=np.uint16), True, "correct"),
    (np.array([1.0, 1.0]), np.array([True, True]), False, "expected floats, got booleans"),
    (np.array(1), np.array(True), False, "expected integers, got booleans"),
    (np.array(4), np.array(True), False, "expected integers, got booleans"),
    (BOOLS, np.array([1, 0]), False, "expected booleans (True/False), got integers"),
    (BOOLS, np.array([1.0, 0.0]), False, "expected booleans (True/False), got floats"),
    (BOOLS, BOOLS.copy(), True, "correct"),
    (FLOATS, np.array([1.0 + 0j, 2.0]), False, "expected floats, got complex numbers"),
    (INTS, np.array([1 + 0j, 2]), False, "expected integers, got complex numbers"),
    (COMPLEX, COMPLEX.copy(), True, "correct"),
    (np.array([1.0 + 0j, 2.0]), FLOATS, True, "correct"),  # a float for a complex with zero imaginary part
    (FLOATS, np.array([1.0, np.nan]), False, "NaN or infinity where a finite number"),
    (FLOATS, np.array([np.inf, 2.0]), False, "NaN or infinity"),
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), True, "correct"),  # NaN where NaN is expected
    (np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), True, "correct"),
    (np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]), False, "wrong values"),
    (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), False, "wrong values"),
    (np.array([np.nan, 1.0]), np.array([np.nan, np.inf]), False, "NaN or infinity"),
    (np.array(10**17 + 1), np.array(10**17), False, "wrong values"),  # integers match exactly, no rtol
    (FLOATS, np.array([True]), False, "expected floats, got booleans"),      # the kind is judged before the shape
    (FLOATS, np.array([[1.0, 2.0]]), False, "wrong shape"),
])
def test_the_kind_shape_and_finiteness_must_fit_before_any_tolerance(expected, received, ok, words):
    got, message = compare_one("out", expected, received, rtol=1e-6, atol=1e-8, reveal=False)
    assert got is ok and words in message, message


def test_feedback_names_the_expected_kind_and_what_came_with_advice():
    _, msg = compare_one("epochs", np.array(4), np.array(True), 0, 0, reveal=True)
    assert msg.startswith("epochs: expected integers, got booleans (True/False)") and "int" in msg
    _, msg = compare_one("epochs", np.array(4), np.array(4.0), 0, 0, reveal=True)
    assert "int(n)" in msg and "4.0" in msg
    _, msg = compare_one("s", np.ones(3), np.ones(3, bool), 0, 0, reveal=False)
    assert "comparison" in msg and "Expected" not in msg


@pytest.mark.parametrize("value, kind", [
    (True, "bool"), (np.bool_(False), "bool"), ([True, False], "bool"), (np.ones(2, bool), "bool"),
    (torch.tensor([True]), "bool"), (3, "integer"), (np.int8(3), "integer"), (2.5, "float"),
    ([1, 2.5], "float"), (1 + 2j, "complex"), (torch.tensor([1.0]), "float"),
])
def test_normalize_output_keeps_the_kind_it_was_given(value, kind):
    (array,) = normalize_output(value, ("x",))
    assert kind_of(array) == kind


@pytest.mark.parametrize("value", [[True, 2.0], [[1.0, 2.0], [False, 1.0]], (np.float64(1.0), np.bool_(True)),
                                   [torch.tensor(1.0), torch.tensor(True)]])
def test_a_list_mixing_booleans_and_numbers_is_refused(value):
    with pytest.raises(OutputError, match="mixes booleans"):
        normalize_output(value, ("x",))


@pytest.mark.parametrize("value, words", [
    ([{"value": 1.0}], "dtype object"), ({"w": 1.0}, "object of type dict"), (None, "NoneType"),
    (np.array(["1.0"]), "dtype <U3"), (np.zeros(2, dtype=[("a", float)]), "dtype"),
    (torch.zeros(2, dtype=torch.bfloat16), "tensor"),
])
def test_objects_strings_and_records_are_not_numbers(value, words):
    with pytest.raises(OutputError, match=words):
        normalize_output(value, ("x",))


@pytest.mark.parametrize("array", [np.ones(2, bool), np.array([1 + 2j]), np.array([np.nan])])
def test_wrong_kinds_cross_back_from_the_sandbox_intact_and_are_refused_there(array):
    """The .npy wire keeps the dtype, so hidden-case scoring sees the kind the student returned."""
    (decoded,) = decode_result(encode_result([(array,)]), 1)
    assert decoded[0].dtype == array.dtype
    (checked,) = validate_received(decoded, ("x",))
    ok, message = compare_one("x", np.array([1.0] * array.size), checked, 1e-6, 1e-8, reveal=False)
    assert not ok and ("expected floats" in message or "NaN" in message)


def test_a_boolean_hopfield_state_scores_zero_in_hidden_cases_and_in_check(capsys):
    """Issue 7: np.ones(N, bool) scored 14/14 against expected +-1 states."""
    exercise = get_exercise("01_perceptron.hopfield_recall")

    def all_true(W, s, order, max_sweeps):
        return np.ones(len(s), dtype=bool)

    result = grade_function(exercise, all_true, seed=0)
    assert result.score == 0 and "expected floats, got booleans" in result.output
    assert check(all_true, exercise.id).passed == 0
    assert "s: expected floats, got booleans" in capsys.readouterr().out


def test_true_for_an_epoch_count_scores_zero(capsys):
    """Issue 7: True passed where 4 was expected (booleans were compared after casting)."""
    exercise = get_exercise("01_perceptron.perceptron_train")

    def epochs_true(*args):
        w, _ = exercise.reference(*args)
        return w, True

    assert grade_function(exercise, epochs_true, seed=0).score == 0
    assert check(epochs_true, exercise.id).passed == 0
    assert "epochs: expected integers, got booleans" in capsys.readouterr().out

    def epochs_float(*args):
        w, epochs = exercise.reference(*args)
        return w, float(epochs)

    result = grade_function(exercise, epochs_float, seed=0)
    assert result.score == 0 and "expected integers, got floats" in result.output


def test_hidden_scoring_of_sandbox_data_refuses_wrong_kinds_without_revealing_values():
    exercise = get_exercise("01_perceptron.hopfield_recall")
    inputs = exercise.draw_hidden(0)
    honest = [expected_for(exercise, case) for case in inputs]
    as_bools = decode_result(encode_result([(a[0] > 0,) for a in honest]), len(inputs))
    result = score_outputs(exercise, inputs, as_bools)
    assert result.score == 0 and "got booleans" in result.output and "[" not in result.output
    as_ints = decode_result(encode_result([(a[0].astype(np.int64),) for a in honest]), len(inputs))
    assert score_outputs(exercise, inputs, as_ints).score == exercise.points  # +-1 as ints: allowed


# ------------------------------------------------------------------ properties

_layouts = st.sampled_from(["C", "F", "transposed", "strided"])


def _in_layout(array: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.array(array, order="F")
    if layout == "transposed":
        return array.T.copy().T
    if layout == "strided":
        wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],) if array.ndim else (), dtype=array.dtype)
        if not array.ndim:
            return array
        wide[..., ::2] = array
        return wide[..., ::2]
    return array


_floats = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                     elements=st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(expected=_floats, layout=_layouts)
def test_the_right_floats_pass_in_any_layout_and_their_boolean_cast_never_does(expected, layout):
    received = _in_layout(expected.copy(), layout)
    assert compare_one("x", expected, received, 1e-9, 1e-12, reveal=False)[0]
    ok, message = compare_one("x", expected, _in_layout(expected != 0, layout), 1e-9, 1e-12, reveal=False)
    assert not ok and "got booleans" in message
    if expected.size:
        poisoned = received.copy()
        poisoned.flat[0] = np.nan
        assert "NaN" in compare_one("x", expected, poisoned, 1e-9, 1e-12, reveal=False)[1]


@settings(max_examples=50, deadline=None)
@given(values=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5), elements=st.integers(0, 100)),
       dtype=st.sampled_from([np.int8, np.int16, np.int32, np.uint8, np.uint64, np.float64, np.float32, np.bool_]))
def test_integers_pass_in_any_integer_dtype_and_in_no_other(values, dtype):
    ok, message = compare_one("n", values, values.astype(dtype), 0.0, 0.0, reveal=False)
    assert ok == (np.dtype(dtype).kind in "iu"), message
    as_float_expected = compare_one("x", values.astype(float), values.astype(dtype), 0.0, 0.0, reveal=False)[0]
    assert as_float_expected == (np.dtype(dtype).kind in "iuf")  # ints and floats stand for floats


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["b", "i", "u", "f", "c"]), got=st.sampled_from(["b", "i", "u", "f", "c"]),
       shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
def test_compare_one_never_raises_and_passes_only_allowed_kinds(kind, got, shape):
    codes = {"b": "?", "i": "i8", "u": "u4", "f": "f8", "c": "c16"}
    expected, received = np.ones(shape, codes[kind]), np.ones(shape, codes[got])
    ok, message = compare_one("x", expected, received, 1e-6, 1e-8, reveal=True)
    allowed = (kind == got or {kind, got} == {"i", "u"} or (kind == "f" and got in "iu")
               or (kind == "c" and got in "iuf"))
    assert ok == allowed, message


def test_run_cases_keeps_the_kind_through_the_student_side_runner():
    (received,) = run_cases(lambda: True, [{}], ("x",))
    assert received[0].dtype == bool


# ------------------------------------------------------------------ every registered exercise

def _exercise_ids():
    try:
        return list(all_exercises())
    except ImportError:  # a bank module still being written elsewhere
        return []


@pytest.mark.parametrize("exercise_id", _exercise_ids())
def test_each_output_has_one_kind_and_pinned_values_agree_with_the_reference(exercise_id):
    """Strict kinds make the expected kind part of the task: it must not change from case to case, and a
    value pinned by hand (4.0 for an epoch count, say) must have the reference's kind and shape."""
    exercise = get_exercise(exercise_id)
    kinds = set()
    for case in [*exercise.public_cases, *exercise.draw_hidden(0)]:
        expected = expected_for(exercise, case)
        kinds.add(tuple(kind_of(e) for e in expected))
        if getattr(case, "expected", None) is not None:
            computed = normalize_output(exercise.reference(*call_args(case.inputs)), exercise.output_names)
            for name, pinned, ref in zip(exercise.output_names, expected, computed):
                assert (kind_of(pinned), pinned.shape) == (kind_of(ref), ref.shape), (case.label, name)
                assert compare_one(name, pinned, ref, exercise.rtol, exercise.atol, reveal=True)[0], case.label
    assert len(kinds) == 1, f"{exercise_id}: the outputs' kinds vary between cases: {kinds}"
    assert all(kind in ("bool", "integer", "float") for kind in kinds.pop())
