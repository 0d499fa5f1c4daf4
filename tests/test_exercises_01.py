"""Exercises of chapter 1: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the handout runs clean, and the "Try it" cells check each part.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse.grading import check, get_exercise
from dlcourse.grading.bank.ex01_perceptron import sanger_update as sanger_reference
from dlcourse.hebbian import glyph_patterns, oja_update
from exercise_contract import contract_tests, solution_integration_text
from exercise_helpers import (load_function, renamed, tagged_sources)

STEM = "01_perceptron"
NAMES = ["oja_update", "hopfield_store", "perceptron_train", "hopfield_recall", "sanger_update"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- plausible wrong answers, as a learner writes them

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


def oja_in_place(w, x, eta):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    y = w @ x
    w += eta * y * (x - y * w)  # right values, but the caller's w changes too
    return w


def store_with_diagonal(patterns):
    patterns = np.asarray(patterns, float)
    return patterns.T @ patterns / patterns.shape[1]


def store_divided_by_p(patterns):
    patterns = np.asarray(patterns, float)
    W = patterns.T @ patterns / patterns.shape[0]
    np.fill_diagonal(W, 0.0)
    return W


def store_without_scaling(patterns):
    patterns = np.asarray(patterns, float)
    W = sum(np.outer(xi, xi) for xi in patterns)
    np.fill_diagonal(W, 0.0)
    return W


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


def perceptron_without_bias(X, t, eta=1.0, max_epochs=100, w_init=None):
    X = np.asarray(X, float)  # forgets the column x_0 = 1
    w = np.zeros(X.shape[1]) if w_init is None else np.array(w_init, float)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(X, t):
            if (1.0 if w @ x > 0 else -1.0) != target:
                w = w + eta * target * x
                mistakes += 1
        if mistakes == 0:
            return w, epoch
    return w, max_epochs


def perceptron_modifies_w_init(X, t, eta=1.0, max_epochs=100, w_init=None):
    X_aug = np.hstack([np.ones((len(X), 1)), np.asarray(X, float)])
    w = np.zeros(X_aug.shape[1]) if w_init is None else np.asarray(w_init, dtype=float)  # no copy
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(X_aug, t):
            if (1.0 if w @ x > 0 else -1.0) != target:
                w += eta * target * x  # in place: the caller's w_init changes too
                mistakes += 1
        if mistakes == 0:
            return w.copy(), epoch
    return w.copy(), max_epochs


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


def recall_in_place(W, s, order, max_sweeps):
    s = np.asarray(s, dtype=float)  # no copy: the caller's start state is overwritten
    for _ in range(max_sweeps):
        changed = False
        for i in order:
            field = np.asarray(W)[i] @ s
            new = 1.0 if field > 0 else (-1.0 if field < 0 else s[i])
            changed |= new != s[i]
            s[i] = new
        if not changed:
            break
    return s.copy()


def sanger_as_oja_subspace_rule(W, x, eta):
    W, x = np.asarray(W, float), np.asarray(x, float)
    y = W @ x
    return W + eta * (np.outer(y, x) - np.outer(y, y) @ W)  # every neuron subtracts all reconstructions


def sanger_without_own_term(W, x, eta):
    W, x = np.asarray(W, float), np.asarray(x, float)
    y = W @ x
    new = W.copy()
    for k in range(len(W)):
        residual = x - sum((y[j] * W[j] for j in range(k)), np.zeros_like(x))
        new[k] = W[k] + eta * y[k] * residual  # Hebb on the deflated input: the -y_k w_k is missing
    return new


def sanger_with_triu(W, x, eta):
    W, x = np.asarray(W, float), np.asarray(x, float)
    y = W @ x
    return W + eta * (np.outer(y, x) - np.triu(np.outer(y, y)) @ W)


def sanger_outputs_from_deflated_input(W, x, eta):
    W, x = np.asarray(W, float), np.asarray(x, float)
    new, residual = W.copy(), x.copy()
    for k in range(len(W)):
        y_k = W[k] @ residual
        residual = residual - y_k * W[k]
        new[k] = W[k] + eta * y_k * residual
    return new


def sanger_rows_updated_in_sequence(W, x, eta):
    W, x = np.array(W, float), np.asarray(x, float)
    y = W @ x
    for k in range(len(W)):
        W[k] += eta * y[k] * (x - y[: k + 1] @ W[: k + 1])  # rows before k are already the new ones
    return W


def sanger_in_place(W, x, eta):
    W, x = np.asarray(W, dtype=float), np.asarray(x, dtype=float)
    y = W @ x
    W += eta * (np.outer(y, x) - np.tril(np.outer(y, y)) @ W)  # right values, the caller's W changes
    return W.copy()


# Each wrong version with a distinctive part of the hint it must get; None: the values are right but
# an argument is modified in place, which the grader's purity check (not a hint) must catch.
WRONG = {
    "oja_update": [(oja_as_hebb, "This is Hebb's rule"), (oja_explicitly_normalised, "You renormalised w"),
                   (oja_without_output_in_decay, "subtract y*w, not w"), (oja_in_place, None)],
    "hopfield_store": [(store_with_diagonal, "diagonal of W must be zero"), (store_divided_by_p, "not by P"),
                       (store_without_scaling, "needs the factor 1/N")],
    "perceptron_train": [(perceptron_update_on_every_sample, "only on a mistake"),
                         (perceptron_epochs_without_final_pass, "including the final one"),
                         (perceptron_fires_at_zero, "> 0 strictly"), (perceptron_without_bias, "x_0 = 1"),
                         (perceptron_modifies_w_init, None)],
    "hopfield_recall": [(recall_synchronous, "synchronous dynamics"), (recall_with_np_sign, "np.sign(0)"),
                        (recall_in_index_order, "not in index order"), (recall_in_place, None)],
    "sanger_update": [(sanger_as_oja_subspace_rule, "Oja's subspace rule"),
                      (sanger_without_own_term, "its own reconstruction"), (sanger_with_triu, "np.triu"),
                      (sanger_outputs_from_deflated_input, "from the original input"),
                      (sanger_rows_updated_in_sequence, "already updated in this step"), (sanger_in_place, None)],
}
IN_PLACE = [(name, fn) for name, versions in WRONG.items() for fn, key in versions if key is None]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, seeds=SEEDS, handout_skips=2))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the discrimination contract


# ---------------------------------------------------------------- registered mistakes and their hints


def test_public_cases_pin_the_curriculum_check_values():
    cases = {case.label: case for case in _exercise("perceptron_train").public_cases}
    or_case = cases["OR gate from w = 0 (check value)"]
    and_case = cases["AND gate from w = 0 (check value)"]
    np.testing.assert_array_equal(or_case.expected[0], [0.0, 1.0, 1.0])
    assert or_case.expected[1] == 4
    np.testing.assert_array_equal(and_case.expected[0], [-2.0, 2.0, 1.0])
    assert and_case.expected[1] == 6


def test_wrong_epoch_count_gets_an_off_by_one_hint(capsys):
    report = check(perceptron_epochs_without_final_pass, f"{STEM}.perceptron_train")
    assert not report.all_passed
    assert "Off by one" in capsys.readouterr().out


# ---------------------------------------------------------------- Sanger's rule: the reference, independently

def _sanger_by_deflation(W, x, eta):
    """The rule as the task states it: neuron k runs Oja's rule on x minus the reconstructions of j < k."""
    W, x = np.asarray(W, float), np.asarray(x, float)
    y = W @ x
    new = W.copy()
    for k in range(len(W)):
        deflated = x - sum((y[j] * W[j] for j in range(k)), np.zeros_like(x))
        new[k] = W[k] + eta * y[k] * (deflated - y[k] * W[k])
    return new


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 5), i=st.integers(1, 6), eta=st.floats(1e-4, 1.0), seed=st.integers(0, 2**16),
       fortran=st.booleans())
def test_sanger_reference_is_oja_on_the_deflated_input(m, i, eta, seed, fortran):
    rng = np.random.default_rng(seed)
    W, x = rng.normal(size=(m, i)), rng.normal(scale=2.0, size=i)
    W_in = np.asfortranarray(W) if fortran else W
    np.testing.assert_allclose(sanger_reference(W_in, x, eta), _sanger_by_deflation(W, x, eta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sanger_reference(W[:1], x, eta)[0], oja_update(W[0], x, eta), rtol=1e-12)


def test_sanger_reference_finds_the_principal_components_in_order():
    rng = np.random.default_rng(3)
    axes, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    X = (rng.normal(size=(3000, 4)) * [2.0, 1.0, 0.5, 0.25]) @ axes.T
    W = 0.1 * rng.normal(size=(3, 4))
    for _ in range(4):
        for x in X:
            W = sanger_reference(W, x, 0.003)
    components = np.linalg.eigh(X.T @ X / len(X))[1][:, ::-1].T
    cosines = np.abs(np.sum(W * components[:3], axis=1)) / np.linalg.norm(W, axis=1)
    assert np.all(cosines > 0.99), cosines
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, atol=0.02)


# ---------------------------------------------------------------- the notebooks

def test_try_it_cell_checks_each_part_so_a_wrong_store_does_not_pass(sources, capsys):
    """A W scaled by 1/P recalls as well as the right one; the cell must still refuse to use it."""
    store, recall = (load_function(sources[n], n) for n in ("hopfield_store", "hopfield_recall"))
    letters = glyph_patterns("TLXO")
    cue = letters[2] * np.where(np.arange(100) % 5 == 0, -1, 1)
    order = np.arange(100)[::-1].copy()
    np.testing.assert_array_equal(recall(store_divided_by_p(letters), cue, order, 20),
                                  recall(store(letters), cue, order, 20))  # the combined result is fooled
    (cell, _) = tagged_sources(STEM, "integration")
    namespace = {"np": np, "check": check, "contextlib": contextlib, "io": io, "glyph_patterns": glyph_patterns,
                 "show_images": None, "hopfield_store": renamed(store_divided_by_p, "hopfield_store"),
                 "hopfield_recall": recall}
    capsys.readouterr()
    exec(compile(cell, "<try it>", "exec"), namespace)
    out = capsys.readouterr().out
    assert "hopfield_store: FAILS" in out and "hopfield_recall: passes" in out and "skipping" in out
    assert "wrong pixels" not in out


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "0 after recall" in together
    cosines = [float(part.split("|cos")[1].split("= ")[1]) for part in together.splitlines() if "|cos" in part]
    assert len(cosines) == 3 and min(cosines) > 0.99
