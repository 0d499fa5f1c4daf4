"""Result files read back by the grader: only its own, well-formed ones are trusted."""
from __future__ import annotations

import json

from dlcourse.grading.records import GRADER_TAG, load_graded, row_of


def _result(score, tests=None):
    tests = tests if tests is not None else [{"name": "01_x.f", "score": 1.0, "max_score": 1.0, "output": ""}]
    return {"score": score, "max_score": 1.0, "tests": tests, "extra_data": {"dlcourse": {"grader": GRADER_TAG}}}


def test_a_well_formed_result_is_read_back_and_public_tests_do_not_count(tmp_path):
    public = {"name": "01_x.f (public cases)", "score": 0.0, "max_score": 0.0, "output": "",
              "extra_data": {"cases": "public"}}
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(_result(1.0, [public, {"name": "01_x.f", "score": 0.5, "max_score": 1.0}])))
    assert row_of(load_graded(path)) == {"scores": {"01_x.f": 0.5}, "total": 1.0, "max_total": 1.0}


def test_forged_or_broken_results_are_refused_not_raised(tmp_path):
    cases = {"huge_int": json.dumps(_result(10**400)), "other_tool": json.dumps({**_result(1.0), "extra_data": {}}),
             "not_json": "{", "score_text": json.dumps(_result("many")), "deep": "[" * 100_000 + "]" * 100_000,
             "tests_not_list": json.dumps(_result(1.0, tests=7))}
    for name, text in cases.items():
        (tmp_path / f"{name}.json").write_text(text)
        assert load_graded(tmp_path / f"{name}.json") is None, name
    (tmp_path / "link.json").symlink_to(tmp_path / "huge_int.json")
    assert load_graded(tmp_path / "link.json") is None and load_graded(tmp_path / "missing.json") is None
