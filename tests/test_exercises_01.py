"""Exercises of chapter 1: the solutions score full marks, the stubs zero, plausible mistakes less than full."""
from __future__ import annotations


import numpy as np
import pytest

from dlcourse.grading import check, grade_function
from dlcourse.grading.assign import strip_solution
from exercise_helpers import load_function, solution_sources

NAMES = ["perceptron_train", "oja_update", "hopfield_store", "hopfield_recall"]
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return solution_sources("01_perceptron", NAMES)


_load = load_function


# ---------------------------------------------------------------- plausible wrong answers, one group per exercise

def perceptron_update_on_every_sample(X, t, eta=1.0, max_epochs=100, w_init=None):
    X_aug = np.hstack([np.ones((len(X), 1)), np.asarray(X, float)])
    w = np.zeros(X_aug.shape[1]) if w_init is None else np.array(w_init, float)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(X_aug, t):
            mistakes += (1.0 if w @ x > 0 else -1.0) != target
            w = w + eta * target * x  # Hebbian-style: updates even when the answer is right
        if mistakes == 0:
            return w, epoch
    return w, max_epochs


def perceptron_epochs_without_final_pass(X, t, eta=1.0, max_epochs=100, w_init=None):
    X_aug = np.hstack([np.ones((len(X), 1)), np.asarray(X, float)])
    w = np.zeros(X_aug.shape[1]) if w_init is None else np.array(w_init, float)
    for epoch in range(max_epochs):
        mistakes = 0
        for x, target in zip(X_aug, t):
            if (1.0 if w @ x > 0 else -1.0) != target:
                w = w + eta * target * x
                mistakes += 1
        if mistakes == 0:
            return w, epoch  # counts only the passes that changed something
    return w, max_epochs


def perceptron_fires_at_zero(X, t, eta=1.0, max_epochs=100, w_init=None):
    X_aug = np.hstack([np.ones((len(X), 1)), np.asarray(X, float)])
    w = np.zeros(X_aug.shape[1]) if w_init is None else np.array(w_init, float)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(X_aug, t):
            if (1.0 if w @ x >= 0 else -1.0) != target:  # >= instead of >
                w = w + eta * target * x
                mistakes += 1
        if mistakes == 0:
            return w, epoch
    return w, max_epochs


def oja_as_hebb(w, x, eta):
    w, x = np.asarray(w, float), np.asarray(x, float)
    return w + eta * (w @ x) * x


def oja_explicitly_normalised(w, x, eta):
    w, x = np.asarray(w, float), np.asarray(x, float)
    new = w + eta * (w @ x) * x
    norm = np.linalg.norm(new)
    return new / norm if norm > 0 else new


def oja_without_output_in_decay(w, x, eta):
    w, x = np.asarray(w, float), np.asarray(x, float)
    return w + eta * (w @ x) * (x - w)


def store_with_diagonal(patterns):
    patterns = np.asarray(patterns, float)
    return patterns.T @ patterns / patterns.shape[1]


def store_divided_by_p(patterns):
    patterns = np.asarray(patterns, float)
    W = patterns.T @ patterns / patterns.shape[0]
    np.fill_diagonal(W, 0.0)
    return W


def recall_synchronous(W, s, order, max_sweeps):
    s = np.array(s, float)
    for _ in range(max_sweeps):
        field = np.asarray(W) @ s
        new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, s))  # all units at once
        if np.array_equal(new, s):
            break
        s = new
    return s


def recall_with_np_sign(W, s, order, max_sweeps):
    s = np.array(s, float)
    for _ in range(max_sweeps):
        old = s.copy()
        for i in order:
            s[i] = np.sign(np.asarray(W)[i] @ s)  # a zero field gives 0, not "keep s_i"
        if np.array_equal(old, s):
            break
    return s


def recall_in_index_order(W, s, order, max_sweeps):
    s = np.array(s, float)
    for _ in range(max_sweeps):
        changed = False
        for i in range(len(s)):  # ignores the given order
            field = np.asarray(W)[i] @ s
            new = 1.0 if field > 0 else (-1.0 if field < 0 else s[i])
            changed |= new != s[i]
            s[i] = new
        if not changed:
            break
    return s


WRONG = {
    "perceptron_train": [perceptron_update_on_every_sample, perceptron_epochs_without_final_pass,
                         perceptron_fires_at_zero],
    "oja_update": [oja_as_hebb, oja_explicitly_normalised, oja_without_output_in_decay],
    "hopfield_store": [store_with_diagonal, store_divided_by_p],
    "hopfield_recall": [recall_synchronous, recall_with_np_sign, recall_in_index_order],
}


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_solution_gets_full_marks(sources, name, seed):
    result = grade_function(f"01_perceptron.{name}", _load(sources[name], name), seed)
    assert result.score == result.max_score, result.output


@pytest.mark.parametrize("name", NAMES)
def test_stub_scores_zero(sources, name):
    stub = _load(strip_solution(sources[name]), name)
    result = grade_function(f"01_perceptron.{name}", stub, seed=0)
    assert result.score == 0.0 and result.passed == 0


@pytest.mark.parametrize("name, wrong", [(name, fn) for name, fns in WRONG.items() for fn in fns],
                         ids=[fn.__name__ for fns in WRONG.values() for fn in fns])
def test_plausible_wrong_version_scores_less_than_full(name, wrong):
    for seed in SEEDS:
        result = grade_function(f"01_perceptron.{name}", wrong, seed)
        assert result.score < result.max_score, f"{wrong.__name__} got full marks with seed {seed}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_every_public_check(sources, name, capsys):
    report = check(_load(sources[name], name))
    assert report.all_passed, capsys.readouterr().out
    assert report.total >= 3


def test_public_cases_pin_the_curriculum_check_values():
    from dlcourse.grading import get_exercise

    cases = {case.label: case for case in get_exercise("01_perceptron.perceptron_train").public_cases}
    or_case = cases["OR gate from w = 0 (check value)"]
    and_case = cases["AND gate from w = 0 (check value)"]
    np.testing.assert_array_equal(or_case.expected[0], [0.0, 1.0, 1.0])
    assert or_case.expected[1] == 4
    np.testing.assert_array_equal(and_case.expected[0], [-2.0, 2.0, 1.0])
    assert and_case.expected[1] == 6


def test_wrong_epoch_count_gets_an_off_by_one_hint(capsys):
    report = check(perceptron_epochs_without_final_pass, "01_perceptron.perceptron_train")
    assert not report.all_passed
    assert "Off by one" in capsys.readouterr().out
