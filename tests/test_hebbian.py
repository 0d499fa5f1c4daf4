"""Tests for dlcourse.hebbian: Hebb and Oja against hand values and numpy's eigh, Hopfield storage and recall."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.hebbian import (
    flip_bits,
    glyph_patterns,
    hebbian_train,
    hebbian_update,
    hopfield_capacity,
    hopfield_energy,
    hopfield_recall,
    hopfield_recall_trace,
    hopfield_store,
    oja_train,
    oja_update,
)


def _correlated_data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    cov = np.array([[3.0, 1.2, 0.3], [1.2, 1.0, 0.2], [0.3, 0.2, 0.5]])
    X = rng.multivariate_normal(np.zeros(3), cov, size=n)
    return X - X.mean(axis=0)


def test_hebbian_update_hand_computed():
    # y = [1, 2] . [3, -1] = 1; w + 0.5 * 1 * x = [2.5, 1.5]
    np.testing.assert_allclose(hebbian_update([1.0, 2.0], [3.0, -1.0], 0.5), [2.5, 1.5])


def test_oja_update_hand_computed():
    # y = 1; w + 0.5 * 1 * ([1, 1] - 1 * [1, 0]) = [1, 0.5]
    np.testing.assert_allclose(oja_update([1.0, 0.0], [1.0, 1.0], 0.5), [1.0, 0.5])
    # w = [0.5, -0.25, 2], x = [1, 2, -1]: y = 0.5 - 0.5 - 2 = -2
    # w + 0.1 * (-2) * (x + 2 w) = w - 0.2 * [2, 1.5, 3] = [0.1, -0.55, 1.4]
    np.testing.assert_allclose(oja_update([0.5, -0.25, 2.0], [1.0, 2.0, -1.0], 0.1), [0.1, -0.55, 1.4])


def test_oja_is_normalised_hebb_to_first_order_in_eta():
    rng = np.random.default_rng(1)
    w = rng.normal(size=4)
    w /= np.linalg.norm(w)
    x = rng.normal(size=4)
    errors = []
    for eta in (1e-2, 1e-3):
        hebb = w + eta * (w @ x) * x
        errors.append(np.linalg.norm(oja_update(w, x, eta) - hebb / np.linalg.norm(hebb)))
    # the difference is O(eta^2): ten times smaller eta, about a hundred times smaller error
    assert errors[1] < errors[0] / 50


def test_hebbian_norm_blows_up_while_oja_norm_settles_at_one():
    X = _correlated_data(500)
    w0 = np.array([0.1, -0.05, 0.02])
    hebb_norms = np.linalg.norm(hebbian_train(X, w0, eta=0.01, n_epochs=2), axis=1)
    oja_norms = np.linalg.norm(oja_train(X, w0, eta=0.01, n_epochs=2), axis=1)
    assert hebb_norms[-1] > 1e6 * hebb_norms[0]
    assert abs(oja_norms[-1] - 1.0) < 0.05


def test_train_returns_weights_after_every_step():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    history = hebbian_train(X, [1.0, 1.0], eta=1.0, n_epochs=2)
    # y = 1 each step: [1,1] -> [2,1] -> [2,2] -> [4,2] -> [4,4]
    np.testing.assert_allclose(history, [[1, 1], [2, 1], [2, 2], [4, 2], [4, 4]])


@pytest.mark.quality
def test_oja_converges_to_the_first_principal_component():
    X = _correlated_data()
    eigenvalues, eigenvectors = np.linalg.eigh(X.T @ X / len(X))
    first_pc = eigenvectors[:, np.argmax(eigenvalues)]
    w = oja_train(X, np.array([0.1, 0.1, -0.1]), eta=0.005, n_epochs=3)[-1]
    cosine = abs(w @ first_pc) / np.linalg.norm(w)
    assert cosine >= 0.99
    assert abs(np.linalg.norm(w) - 1.0) < 0.05


def test_hopfield_store_matches_the_explicit_sum_over_pairs():
    rng = np.random.default_rng(0)
    patterns = rng.choice([-1, 1], size=(3, 7))
    W = hopfield_store(patterns)
    for i in range(7):
        for j in range(7):
            expected = 0.0 if i == j else sum(p[i] * p[j] for p in patterns) / 7
            assert W[i, j] == pytest.approx(expected)
    np.testing.assert_array_equal(W, W.T)


def test_hopfield_store_hand_computed_single_pattern():
    W = hopfield_store([[1, -1, 1, -1]])
    expected = np.array([[0, -1, 1, -1], [-1, 0, -1, 1], [1, -1, 0, -1], [-1, 1, -1, 0]]) / 4
    np.testing.assert_allclose(W, expected)


def test_energy_matches_the_sum_over_pairs():
    rng = np.random.default_rng(1)
    W = hopfield_store(rng.choice([-1, 1], size=(2, 6)))
    s = rng.choice([-1.0, 1.0], size=6)
    pairwise = -sum(W[i, j] * s[i] * s[j] for i in range(6) for j in range(i + 1, 6))
    assert hopfield_energy(W, s) == pytest.approx(pairwise)
    batch = np.stack([s, -s, np.ones(6)])
    np.testing.assert_allclose(hopfield_energy(W, batch), [hopfield_energy(W, b) for b in batch])


def test_one_flipped_bit_is_repaired_in_one_sweep():
    xi = np.array([1.0, -1.0, 1.0, -1.0])
    s = xi.copy()
    s[1] = 1.0
    # h_1 = (1/4)(-1 - 1 - 1) < 0, so unit 1 goes back to -1; the others keep their sign.
    np.testing.assert_array_equal(hopfield_recall(hopfield_store(xi[None]), s, order=np.arange(4), max_sweeps=1), xi)


def test_zero_field_keeps_the_unit_and_the_order_decides_halfway_states():
    s = np.array([1.0, -1.0, 1.0])
    np.testing.assert_array_equal(hopfield_recall(np.zeros((3, 3)), s, order=[2, 0, 1]), s)
    xi = np.array([-1, 1, 1, 1, 1, -1, 1, -1])
    halfway = np.array([-1.0, 1, 1, -1, -1, -1, -1, 1])
    W = hopfield_store(xi[None])
    np.testing.assert_array_equal(hopfield_recall(W, halfway, order=np.arange(8)), -xi)
    np.testing.assert_array_equal(hopfield_recall(W, halfway, order=np.arange(8)[::-1]), xi)


def test_batched_recall_equals_one_state_at_a_time():
    rng = np.random.default_rng(2)
    W = hopfield_store(rng.choice([-1, 1], size=(6, 32)))
    S = rng.choice([-1.0, 1.0], size=(5, 32))
    order = rng.permutation(32)
    batch = hopfield_recall(W, S, order=order)
    for s, result in zip(S, batch):
        np.testing.assert_array_equal(hopfield_recall(W, s, order=order), result)


def test_energy_never_increases_during_asynchronous_recall():
    rng = np.random.default_rng(3)
    W = hopfield_store(rng.choice([-1, 1], size=(15, 60)))
    final, energies = hopfield_recall_trace(W, rng.choice([-1.0, 1.0], size=60), seed=0)
    assert np.all(np.diff(energies) <= 1e-12)
    assert energies[-1] == pytest.approx(hopfield_energy(W, final))
    assert energies[-1] < energies[0]
    # the final state is a fixed point: every unit agrees with its field
    fields = W @ final
    assert np.all((fields * final >= 0))


def test_flip_bits_changes_exactly_n_distinct_bits():
    s = np.ones(50)
    flipped = flip_bits(s, 7, seed=0)
    assert np.sum(flipped != s) == 7
    np.testing.assert_array_equal(flip_bits(s, 7, seed=0), flipped)


@pytest.mark.quality
def test_hopfield_recalls_stored_patterns_with_ten_flipped_bits():
    recalled = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        patterns = rng.choice([-1, 1], size=(5, 100))
        W = hopfield_store(patterns)
        for mu, xi in enumerate(patterns):
            noisy = flip_bits(xi, 10, seed=100 * seed + mu)
            recalled += np.array_equal(hopfield_recall(W, noisy, seed=seed), xi)
    assert recalled == 50


def test_glyphs_are_recalled_from_noisy_copies():
    patterns = glyph_patterns("TLXO")
    assert patterns.shape == (4, 100)
    W = hopfield_store(patterns)
    for mu, xi in enumerate(patterns):
        np.testing.assert_array_equal(hopfield_recall(W, flip_bits(xi, 8, seed=mu), seed=mu), xi)


def test_capacity_error_is_zero_at_low_load_and_large_beyond_0_14():
    bit_error, exact = hopfield_capacity(100, [0.03, 0.3], n_trials=3, seed=0)
    assert bit_error[0] == 0.0 and exact[0] == 1.0
    assert bit_error[1] > 0.05 and exact[1] < 0.5


def test_capacity_torch_path_equals_numpy_path_on_cpu():
    numpy_result = hopfield_capacity(40, [0.05, 0.15, 0.25], n_trials=2, seed=5)
    torch_result = hopfield_capacity(40, [0.05, 0.15, 0.25], n_trials=2, seed=5, device=torch.device("cpu"))
    for a, b in zip(numpy_result, torch_result):
        np.testing.assert_array_equal(a, b)


def test_recall_does_not_modify_its_input_and_accepts_any_layout():
    rng = np.random.default_rng(4)
    patterns = rng.choice([-1.0, 1.0], size=(3, 16))
    W = hopfield_store(patterns)
    S = np.asfortranarray(patterns * np.where(rng.random((3, 16)) < 0.1, -1, 1))
    before = S.copy()
    order = rng.permutation(16)
    result = hopfield_recall(W, S, order=order)
    np.testing.assert_array_equal(S, before)
    np.testing.assert_array_equal(hopfield_recall(np.asfortranarray(W), S.T.copy().T, order=order), result)
    np.testing.assert_array_equal(hopfield_recall(W, S.astype(np.int8), order=list(order)), result)



# ------------------------------------------------------------------ regressions: each failed on the old code


def test_bool_states_and_patterns_are_refused():
    # The grading hole of issue 7: np.isin(True, (-1, 1)) is True, so a bool array passed as +-1 states.
    W = hopfield_store([[1, -1, 1, -1]])
    with pytest.raises(ValueError, match="s must hold real numbers"):
        hopfield_recall(W, np.ones(4, dtype=bool), order=np.arange(4))
    with pytest.raises(ValueError, match="s must hold real numbers"):
        hopfield_energy(W, np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="patterns must hold real numbers"):
        hopfield_store(np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="s must hold real numbers"):
        flip_bits(np.ones(4, dtype=bool), 1)


def test_nan_weights_are_refused():
    W = hopfield_store([[1, -1, 1, -1]])
    W[0, 1] = np.nan
    with pytest.raises(ValueError, match="W must be finite"):
        hopfield_recall(W, [1, -1, 1, -1], order=np.arange(4))  # old: NaN fields kept every unit
    with pytest.raises(ValueError, match="W must be finite"):
        hopfield_energy(W, [1, -1, 1, -1])
    with pytest.raises(ValueError, match="w must be finite"):
        oja_update([np.nan, 0.0], [1.0, 0.0], 0.1)


def test_hebbian_overflow_is_an_error_not_rows_of_nan():
    X = np.array([[1.0, -1.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="overflowed"):
        hebbian_train(X, [1.0, 0.5], eta=10.0, n_epochs=200)  # the old code returned inf and NaN rows
    with pytest.raises(ValueError, match="overflowed"):
        oja_train(X, [1.0, 0.5], eta=10.0, n_epochs=50)  # Oja diverges for a large eta


def test_flip_bits_refuses_a_fractional_count():
    with pytest.raises(ValueError, match="n_flip must be an integer"):
        flip_bits(np.ones(10), 2.5)  # the old code flipped int(2.5) = 2 bits
    with pytest.raises(ValueError, match="n_flip must be an integer"):
        flip_bits(np.ones(10), True)


def test_empty_batches_and_bool_counts_are_refused():
    W = np.zeros((3, 3))
    with pytest.raises(ValueError, match="B >= 1"):
        hopfield_recall(W, np.zeros((0, 3)))  # the old code returned an empty batch
    with pytest.raises(ValueError, match="max_sweeps"):
        hopfield_recall(W, [1, 1, 1], max_sweeps=True)
    with pytest.raises(ValueError, match="n_epochs"):
        hebbian_train(np.ones((2, 2)), [1.0, 0.0], 0.1, n_epochs=1.5)


def test_capacity_checks_its_arguments_before_drawing_patterns():
    with pytest.raises(ValueError, match="alphas must be finite"):
        hopfield_capacity(20, [0.1, np.nan])  # old: "cannot convert float NaN to integer"
    with pytest.raises(ValueError, match="n_units must be an integer >= 2"):
        hopfield_capacity(20.5, [0.1])  # old: a TypeError from numpy
    with pytest.raises(ValueError, match="device must name a torch device"):
        hopfield_capacity(20, [0.1], device="gpu0")  # old: torch's RuntimeError


def test_glyph_names_must_be_a_string():
    with pytest.raises(ValueError, match="names must be letters"):
        glyph_patterns(5)  # old: TypeError, int is not iterable


# ------------------------------------------------------------------ every public function: bad input -> ValueError

_W = hopfield_store([[1, -1, 1, -1]])
_BAD_CALLS = [
    (lambda: oja_update([1.0, 0.0], [1.0, 0.0, 0.0], 0.1), "shape \\(2,\\)"),
    (lambda: oja_update([1.0, 0.0], [1.0, 0.0], -0.1), "eta must be"),
    (lambda: oja_update([1.0, 0.0], [1.0, 0.0], "0.1"), "eta must be"),
    (lambda: oja_update([], [], 0.1), "w must not be empty"),
    (lambda: hebbian_update([[1.0, 0.0]], [1.0, 0.0], 0.1), "w must have shape"),
    (lambda: hebbian_update([1.0, 0.0], [True, False], 0.1), "x must hold real numbers"),
    (lambda: hebbian_update([1.0, 0.0], [1.0, 0.0], np.inf), "eta must be"),
    (lambda: hebbian_train([1.0, 2.0], [1.0], 0.1), "X must have shape \\(N, I\\)"),
    (lambda: hebbian_train(np.zeros((0, 2)), [1.0, 0.0], 0.1), "X must have shape \\(N, I\\)"),
    (lambda: hebbian_train(np.ones((2, 2)), [1.0, 0.0, 0.0], 0.1), "w_init must have shape \\(2,\\)"),
    (lambda: oja_train(np.ones((2, 2)), [1.0, 0.0], 0.1, n_epochs=0), "n_epochs"),
    (lambda: oja_train([[1.0, np.nan]], [1.0, 0.0], 0.1), "X must be finite"),
    (lambda: hopfield_store([[1, 0, -1]]), "only -1 and \\+1"),
    (lambda: hopfield_store([[1.0, 0.5, -1]]), "only -1 and \\+1"),
    (lambda: hopfield_store([1, -1, 1]), "shape \\(P, N\\)"),
    (lambda: hopfield_store(np.zeros((0, 3))), "shape \\(P, N\\)"),
    (lambda: hopfield_store([["+", "-"]]), "patterns must hold real numbers"),
    (lambda: hopfield_energy(np.zeros((3, 3)), [1, -1]), "shape \\(3,\\)"),
    (lambda: hopfield_energy(np.zeros((0, 0)), []), "square matrix"),
    (lambda: hopfield_recall(np.zeros((3, 3)), [1, -1], order=[0, 1, 2]), "shape \\(3,\\)"),
    (lambda: hopfield_recall(np.zeros((3, 3)), [1, -1, 1], order=[0, 0, 1]), "permutation"),
    (lambda: hopfield_recall(np.zeros((3, 3)), [1, -1, 1], order=[0.0, 1.0, 2.0]), "order must hold integers"),
    (lambda: hopfield_recall(np.zeros((3, 3)), [1, -1, 1], order=[True, False, True]), "order must hold integers"),
    (lambda: hopfield_recall(np.zeros((3, 2)), [1, -1], order=[0, 1]), "square"),
    (lambda: hopfield_recall(_W, [1, -1, 1, 0.5]), "only -1 and \\+1"),
    (lambda: hopfield_recall(_W, [1, -1, 1, 1], max_sweeps=0), "max_sweeps"),
    (lambda: hopfield_recall(_W, [1, -1, 1, 1], seed=-2), "seed must be"),
    (lambda: hopfield_recall(_W, [1, -1, 1, 1], seed="a"), "seed must be"),
    (lambda: hopfield_recall_trace(_W, [[1, -1, 1, 1]]), "one state"),
    (lambda: hopfield_recall_trace(_W, "abcd"), "s must be an array"),
    (lambda: flip_bits(np.ones(4), 5), "n_flip"),
    (lambda: flip_bits(np.ones(4), -1), "n_flip"),
    (lambda: flip_bits(np.ones((2, 2)), 1), "s must have shape \\(N,\\)"),
    (lambda: flip_bits(np.ones(4), 1, seed=2.0), "seed must be"),
    (lambda: hopfield_capacity(1, [0.1]), "n_units"),
    (lambda: hopfield_capacity(20, []), "alphas must not be empty"),
    (lambda: hopfield_capacity(20, [0.1, -0.1]), "alphas must all be > 0"),
    (lambda: hopfield_capacity(20, [[0.1]]), "alphas must be 1-dimensional"),
    (lambda: hopfield_capacity(20, [0.1], n_trials=0), "n_trials"),
    (lambda: hopfield_capacity(20, [0.1], max_sweeps=2.0), "max_sweeps"),
    (lambda: hopfield_capacity(20, [0.1], seed=None, device=3), "device must be"),
    (lambda: glyph_patterns("TQ"), "letters from"),
    (lambda: glyph_patterns(""), "letters from"),
]


@pytest.mark.parametrize("call, message", _BAD_CALLS)
def test_invalid_inputs_raise_value_errors_naming_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kwargs", [dict(n_units=1.5, alphas=[0.1]), dict(n_units=10, alphas=[np.inf]),
                                    dict(n_units=10, alphas=[0.1], n_trials=True),
                                    dict(n_units=10, alphas=[0.1], seed=-1)])
def test_numpy_and_torch_recall_paths_reject_the_same_inputs(kwargs):
    messages = []
    for device in (None, "cpu"):
        with pytest.raises(ValueError) as info:
            hopfield_capacity(**kwargs, device=device)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
