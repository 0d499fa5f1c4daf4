"""Property-based tests for dlcourse.hebbian: explicit sums, plain-loop recall, the energy, and eigh for Oja.

Hopfield weights here are sums of products of +-1 (integers), so every local field is exact and the
package must agree with the reference loops exactly, in any memory layout or dtype.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from layouts import LAYOUTS, relayout
from dlcourse.hebbian import (
    flip_bits,
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

FAST = settings(max_examples=40, deadline=None)


@st.composite
def pattern_sets(draw, max_p=6, max_n=12):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.choice([-1, 1], size=(draw(st.integers(1, max_p)), draw(st.integers(1, max_n))))


def reference_recall(W, s, order, max_sweeps):
    """Asynchronous updates as a plain loop: s_i <- sign(sum_j W_ij s_j), kept when the field is 0."""
    s = [float(v) for v in s]
    for _ in range(max_sweeps):
        changed = False
        for i in order:
            field = math.fsum(W[i][j] * s[j] for j in range(len(s)))
            new = 1.0 if field > 0 else -1.0 if field < 0 else s[i]
            changed |= new != s[i]
            s[i] = new
        if not changed:
            break
    return s


@FAST
@given(patterns=pattern_sets(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.int8, np.int64, np.float32, np.float64]))
def test_store_equals_an_explicit_sum_of_outer_products(patterns, layout, dtype):
    n = patterns.shape[1]
    expected = sum(np.outer(p, p) for p in patterns.astype(float)) / n
    expected[np.diag_indices(n)] = 0.0
    W = hopfield_store(relayout(patterns.astype(dtype), layout))
    assert W.dtype == np.float64 and W.flags.c_contiguous
    np.testing.assert_array_equal(W, expected)


@FAST
@given(patterns=pattern_sets(max_n=10), start_seed=st.integers(0, 1000), layout=st.sampled_from(LAYOUTS),
       max_sweeps=st.integers(1, 6), batch=st.booleans())
def test_recall_equals_the_reference_loop_in_any_layout(patterns, start_seed, layout, max_sweeps, batch):
    n = patterns.shape[1]
    W = (patterns.T @ patterns).astype(float)  # unscaled integer weights: exact fields
    np.fill_diagonal(W, 0.0)
    rng = np.random.default_rng(start_seed)
    S = rng.choice([-1.0, 1.0], size=(3, n) if batch else (n,))
    order = rng.permutation(n)
    before = np.array(S, copy=True)
    got = hopfield_recall(relayout(W, layout), relayout(S, layout), order=relayout(order, layout),
                          max_sweeps=max_sweeps)
    assert got.shape == S.shape and got.dtype == np.float64
    expected = [reference_recall(W.tolist(), s, order.tolist(), max_sweeps) for s in np.atleast_2d(S)]
    np.testing.assert_array_equal(np.atleast_2d(got), expected)
    np.testing.assert_array_equal(S, before)  # the input is not modified


@FAST
@given(patterns=pattern_sets(max_p=8, max_n=24), seed=st.integers(0, 10**6), scale=st.sampled_from([1.0, 1e-3, 1e3]))
def test_energy_never_increases_under_asynchronous_updates(patterns, seed, scale):
    n = patterns.shape[1]
    W = hopfield_store(patterns) * scale  # any positive scale: symmetric with zero diagonal
    s = np.random.default_rng(seed).choice([-1.0, 1.0], size=n)
    final, energies = hopfield_recall_trace(W, s, seed=seed)
    assert np.all(np.diff(energies) <= 1e-12 * scale * max(1, n))
    pairwise = -math.fsum(W[i, j] * final[i] * final[j] for i in range(n) for j in range(i + 1, n))
    assert energies[-1] == pytest.approx(pairwise, abs=1e-12 * scale * n * n)
    assert hopfield_energy(W, final) == pytest.approx(pairwise, abs=1e-12 * scale * n * n)
    if len(energies) < 100 * n + 1:  # stopped early: a fixed point, every unit agrees with its field
        assert np.all(final * (W @ final) >= -1e-12 * scale)


@FAST
@given(patterns=pattern_sets(), seed=st.integers(0, 1000))
def test_batch_of_one_recall_and_energy_match_the_single_state(patterns, seed):
    W = hopfield_store(patterns)
    s = np.random.default_rng(seed).choice([-1.0, 1.0], size=patterns.shape[1])
    single = hopfield_recall(W, s, seed=seed)
    np.testing.assert_array_equal(hopfield_recall(W, s[None], seed=seed), single[None])
    assert hopfield_energy(W, s[None]).shape == (1,)
    assert hopfield_energy(W, s[None])[0] == pytest.approx(hopfield_energy(W, s))


@FAST
@given(n=st.integers(1, 40), data=st.data())
def test_flip_bits_negates_exactly_n_flip_distinct_entries(n, data):
    s = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n))
    n_flip = data.draw(st.integers(0, n))
    flipped = flip_bits(s, n_flip, seed=data.draw(st.integers(0, 100)))
    assert flipped.dtype == np.float64 and int(np.sum(flipped != np.array(s))) == n_flip
    np.testing.assert_array_equal(np.abs(flipped), 1.0)


@FAST
@given(dim=st.integers(1, 6), seed=st.integers(0, 10**6), eta=st.floats(0.0, 0.5),
       layout=st.sampled_from(LAYOUTS), dtype=st.sampled_from([np.float32, np.float64]))
def test_single_steps_equal_the_formulas(dim, seed, eta, layout, dtype):
    rng = np.random.default_rng(seed)
    w, x = rng.normal(size=dim).astype(dtype), rng.normal(scale=3.0, size=dim).astype(dtype)
    wf, xf = w.astype(float).tolist(), x.astype(float).tolist()
    y = math.fsum(a * b for a, b in zip(wf, xf))
    hebb = [a + eta * y * b for a, b in zip(wf, xf)]
    oja = [a + eta * y * (b - y * a) for a, b in zip(wf, xf)]
    np.testing.assert_allclose(hebbian_update(relayout(w, layout), relayout(x, layout), eta), hebb,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(oja_update(relayout(w, layout), relayout(x, layout), eta), oja, rtol=1e-12, atol=1e-12)


@FAST
@given(n=st.integers(1, 8), dim=st.integers(1, 3), n_epochs=st.integers(1, 3), seed=st.integers(0, 10**6),
       layout=st.sampled_from(LAYOUTS))
def test_training_equals_a_loop_of_formula_steps(n, dim, n_epochs, seed, layout):
    rng = np.random.default_rng(seed)
    X, w0, eta = rng.normal(size=(n, dim)), rng.normal(size=dim), 0.05
    for train, rule in ((hebbian_train, "hebb"), (oja_train, "oja")):
        w, expected = w0.copy(), [w0.copy()]
        for _ in range(n_epochs):
            for x in X:
                y = float(np.dot(w, x))
                w = w + eta * y * x if rule == "hebb" else w + eta * y * (x - y * w)
                expected.append(w)
        got = train(relayout(X, layout), relayout(w0, layout), eta, n_epochs=n_epochs)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), dim=st.integers(2, 3), top=st.floats(1.0, 2.5), ratio=st.floats(0.05, 0.4))
def test_oja_turns_to_the_first_eigenvector_of_the_covariance(seed, dim, top, ratio):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = top * ratio ** np.arange(dim)  # a clear gap between the first and the second
    X = rng.normal(size=(400, dim)) * np.sqrt(eigenvalues) @ Q.T
    X -= X.mean(axis=0)
    values, vectors = np.linalg.eigh(X.T @ X / len(X))
    first = vectors[:, np.argmax(values)]
    w = oja_train(X, rng.normal(scale=0.3, size=dim) + 0.1, eta=0.01, n_epochs=3)[-1]
    assert abs(w @ first) / np.linalg.norm(w) > 0.98
    assert abs(np.linalg.norm(w) - 1.0) < 0.1


@settings(max_examples=30, deadline=None)
@given(patterns=pattern_sets(), bad=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 0.5, 2.0]),
       where=st.sampled_from(["W", "s"]), position=st.integers(0, 200))
def test_non_finite_weights_and_non_sign_states_are_refused(patterns, bad, where, position):
    W = hopfield_store(patterns)
    s = patterns[0].astype(float)
    target = W if where == "W" else s
    assume(where == "s" or not np.isfinite(bad))  # any finite W is a valid (if unusual) network
    target.reshape(-1)[position % target.size] = bad
    for call in (lambda: hopfield_recall(W, s), lambda: hopfield_energy(W, s), lambda: hopfield_recall_trace(W, s)):
        with pytest.raises(ValueError, match=f"{where} must"):
            call()


def test_capacity_twins_agree_on_valid_input_and_on_a_batch_of_one_pattern():
    for alphas in ([0.05, 0.2], [0.01]):  # 0.01 * 30 rounds to 0: one pattern
        numpy_result = hopfield_capacity(30, alphas, n_trials=2, seed=3)
        torch_result = hopfield_capacity(30, np.asfortranarray(alphas), n_trials=2, seed=3, device="cpu")
        for a, b in zip(numpy_result, torch_result):
            np.testing.assert_array_equal(a, b)
