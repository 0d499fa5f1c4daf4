"""The public-case details of a graded run: bounded, JSON-safe, and judged as the self-check judges them."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcourse.grading.casedata import MAX_SHOWN, PREVIEW, describe, public_details
from dlcourse.grading.spec import Case, Exercise


def _affine(x, w, b):
    return np.asarray(x) @ np.asarray(w) + b


AFFINE = Exercise(id="97_casedata.affine", reference=_affine,
                  public_cases=[Case({"x": np.eye(2), "w": np.array([1.0, 2.0]), "b": 0.5}, "identity"),
                                Case({"x": np.ones((1, 2)), "w": np.array([3.0, -1.0]), "b": 0.0}, "one row")],
                  hidden_cases=lambda rng: [], output_names=("y",))


def test_small_arrays_are_shown_whole_and_large_ones_truncated():
    assert describe(np.array([[1, 2], [3, 4]], dtype=np.int32)) == {
        "shape": [2, 2], "dtype": "int32", "values": [[1, 2], [3, 4]]}
    big = describe(np.arange(10_000, dtype=float).reshape(100, 100))
    assert big == {"shape": [100, 100], "dtype": "float64", "values": [float(i) for i in range(PREVIEW)],
                   "truncated": True}
    assert describe(np.array([np.nan, np.inf, -1.0]))["values"] == ["nan", "inf", -1.0]
    assert describe(np.zeros((0, 3)))["values"] == [] and describe(np.float32(1.5)) == 1.5
    assert describe(True) is True and describe(3) == 3 and describe("fixture:rosenbrock") == "fixture:rosenbrock"
    assert describe("x" * 5000) == "x" * 400 and describe([1, 2.5]) == {"shape": [2], "dtype": "float64",
                                                                         "values": [1.0, 2.5]}


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=hnp.scalar_dtypes().filter(lambda d: d.kind in "biuf"),
                  shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12)))
def test_any_numeric_array_gives_bounded_strict_json(array):
    text = json.dumps(describe(array), allow_nan=False)  # NaN and infinities are strings: strict JSON
    data = json.loads(text)
    assert data["shape"] == list(array.shape) and data["dtype"] == str(array.dtype)
    flat = np.ravel(data["values"]) if not data.get("truncated") else data["values"]
    assert len(flat) == min(array.size, PREVIEW if array.size > MAX_SHOWN else array.size)


def test_public_details_show_given_expected_received_and_the_feedback():
    right = (np.array([1.5, 2.5]),)
    wrong = (np.array([1.0, 2.0]),)  # forgot the bias
    details = public_details(AFFINE, [right, wrong])
    assert [d["passed"] for d in details] == [True, False]
    first, second = details
    assert first["label"] == "identity" and first["feedback"] == ""
    assert first["given"]["w"] == {"shape": [2], "dtype": "float64", "values": [1.0, 2.0]}
    assert first["expected"] == [{"shape": [2], "dtype": "float64", "values": [1.5, 2.5]}]
    assert second["expected"][0]["values"] == [2.0] and second["received"][0]["values"] == [1.0, 2.0]
    assert "shape" in second["feedback"]  # (2,) received where (1,) was expected


def test_a_failed_run_or_a_wrong_kind_is_reported_per_case():
    details = public_details(AFFINE, ["raised ZeroDivisionError", (np.array([True, False]),)])
    assert not any(d["passed"] for d in details) and details[0]["received"] is None and "ZeroDivisionError" in details[0]["feedback"]
    assert details[1]["received"][0]["dtype"] == "bool" and "booleans" in details[1]["feedback"]
    with pytest.raises(ValueError, match="2 public cases"):
        public_details(AFFINE, [(np.array([1.0]),)])
