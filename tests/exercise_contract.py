"""The discrimination contract of one exercise notebook, as pytest tests a chapter's test file adopts.

A chapter's ``tests/test_exercises_NN.py`` writes its plausible wrong versions (as a learner would) and
then takes the shared tests with one line::

    globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, handout_skips=2))

``WRONG`` maps each exercise name to ``[(wrong_function, hint_part_or_None), ...]``: with a hint part,
the version must match the registered ``Mistake`` whose hint contains it; with None, it has no hint of
its own (an in-place modification, a wrong kind). The tests prove, for every exercise: the solution
scores full marks on every seed, the stub zero, each wrong version less than full; each registered
mistake computes what its wrong version returns and has one; its hint reaches ``check()`` and the
hidden-case feedback; a version that modifies its arguments loses marks and is told so; the untouched
handout runs top to bottom and skips what needs solved exercises.
"""
from __future__ import annotations

from typing import Callable, Sequence

import pytest

from dlcourse.grading import check, get_exercise, grade_function
from dlcourse.grading.assign import strip_solution
from dlcourse.nbtools import read_notebook
from exercise_helpers import (EXERCISES, SOLUTIONS, assert_same_outcome, error_outputs, execute_notebook,
                              find_mistake, load_function, printed_text, solution_sources)

Wrong = dict[str, list[tuple[Callable, "str | None"]]]


def all_inputs(exercise, seeds: Sequence[int] = (0, 1, 2)) -> list[dict]:
    """The public inputs of an exercise and its hidden inputs for each seed."""
    return [dict(c.inputs) for c in exercise.public_cases] + [c for s in seeds for c in exercise.draw_hidden(s)]


def solution_integration_text(stem: str, names: Sequence[str]) -> str:
    """What the solution notebook's integration cells printed; its committed run has no error and every check passes."""
    nb = read_notebook(SOLUTIONS / f"{stem}.ipynb")
    assert error_outputs(nb) == []
    assert printed_text(nb, "check").count("all public cases pass") == len(names)
    together = printed_text(nb, "integration")
    assert "skipping" not in together
    return together


def contract_tests(stem: str, names: Sequence[str], wrong: Wrong, in_place: Sequence[tuple[str, Callable]] = (),
                   seeds: Sequence[int] = (0, 1, 2), handout_skips: int | None = None,
                   hidden_only_hints: Sequence[Callable] = ()) -> dict[str, Callable]:
    """The shared tests and fixtures (``sources``, ``solved``) for ``solutions/<stem>.ipynb``.

    ``handout_skips``: how many "skipping" messages the untouched handout prints (None: at least one).
    ``hidden_only_hints``: wrong versions whose mistake shows only on hidden cases (no public case
    triggers it); every other hinted version must also get its hint from ``check()``.
    """
    names, seeds = list(names), list(seeds)
    versions = [(name, fn) for name, entries in wrong.items() for fn, _ in entries]
    hinted = [(name, fn, key) for name, entries in wrong.items() for fn, key in entries if key]
    in_check = [entry for entry in hinted if entry[1] not in hidden_only_hints]

    def ids(entries) -> list[str]:
        return [entry[1].__name__ for entry in entries]

    def exercise(name: str):
        return get_exercise(f"{stem}.{name}")

    @pytest.fixture(scope="module")
    def sources() -> dict[str, str]:
        return solution_sources(stem, names)

    @pytest.fixture(scope="module")
    def solved(sources) -> dict[str, Callable]:
        return {name: load_function(sources[name], name) for name in names}

    def test_the_wrong_versions_cover_every_exercise():
        assert sorted(wrong) == sorted(names), "every exercise needs its plausible wrong versions"

    @pytest.mark.parametrize("name", names)
    @pytest.mark.parametrize("seed", seeds)
    def test_solution_gets_full_marks(solved, name, seed):
        result = grade_function(f"{stem}.{name}", solved[name], seed=seed)
        assert result.score == result.max_score, result.output

    @pytest.mark.parametrize("name", names)
    def test_stub_scores_zero(sources, name):
        stub = load_function(strip_solution(sources[name]), name)
        result = grade_function(f"{stem}.{name}", stub, seed=0)
        assert result.score == 0.0 and result.passed == 0
        assert "not implemented yet" in result.output

    @pytest.mark.parametrize("name, wrong_fn", versions, ids=ids(versions))
    def test_plausible_wrong_version_scores_less_than_full(name, wrong_fn):
        for seed in seeds:
            result = grade_function(f"{stem}.{name}", wrong_fn, seed=seed)
            assert result.score < result.max_score, \
                f"{wrong_fn.__name__} got {result.score}/{result.max_score} (seed {seed})"

    @pytest.mark.parametrize("name", names)
    def test_check_passes_every_public_case_of_the_solution(solved, name, capsys):
        report = check(solved[name])
        assert report.all_passed and report.total >= 2
        assert "[FAIL]" not in capsys.readouterr().out

    @pytest.mark.parametrize("name, wrong_fn, key", hinted, ids=ids(hinted))
    def test_registered_mistake_computes_what_the_wrong_version_returns(name, wrong_fn, key):
        ex = exercise(name)
        mistake = find_mistake(ex, key)
        for inputs in all_inputs(ex, seeds):
            assert_same_outcome(mistake.compute, wrong_fn, inputs, ex.rtol, ex.atol)

    @pytest.mark.parametrize("name", names)
    def test_every_registered_mistake_has_a_wrong_version_here(name):
        covered = {id(find_mistake(exercise(name), key)) for n, _, key in hinted if n == name}
        assert covered == {id(m) for m in exercise(name).mistakes}

    @pytest.mark.parametrize("name, wrong_fn, key", in_check, ids=ids(in_check))
    def test_mistake_hint_shows_in_the_check_output(name, wrong_fn, key, capsys):
        report = check(wrong_fn, f"{stem}.{name}")
        out = capsys.readouterr().out
        assert not report.all_passed
        assert find_mistake(exercise(name), key).hint in out, out

    @pytest.mark.parametrize("name, wrong_fn, key", hinted, ids=ids(hinted))
    def test_mistake_hint_shows_in_hidden_case_feedback(name, wrong_fn, key):
        result = grade_function(f"{stem}.{name}", wrong_fn, seed=0)
        assert find_mistake(exercise(name), key).hint in result.output, result.output

    @pytest.mark.parametrize("name, wrong_fn", list(in_place), ids=ids(list(in_place)))
    def test_modifying_an_argument_in_place_loses_marks_and_says_so(name, wrong_fn, capsys):
        assert not check(wrong_fn, f"{stem}.{name}").all_passed, capsys.readouterr().out
        result = grade_function(f"{stem}.{name}", wrong_fn, seed=0)
        assert result.score < result.max_score
        assert "modif" in result.output.lower(), result.output

    @pytest.mark.slow
    def test_untouched_handout_runs_top_to_bottom_without_a_traceback():
        nb = execute_notebook(EXERCISES / f"{stem}.ipynb")
        assert error_outputs(nb) == []
        skips = printed_text(nb, "integration").count("skipping")
        assert skips >= 1 if handout_skips is None else skips == handout_skips

    tests = {name: value for name, value in locals().items() if name.startswith("test_")}
    if not in_place:  # no exercise of this notebook asks to leave its arguments alone
        del tests["test_modifying_an_argument_in_place_loses_marks_and_says_so"]
    return tests | {"sources": sources, "solved": solved}
