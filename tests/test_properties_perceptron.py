"""Property-based tests for dlcourse.perceptron against a plain-Python reference and Novikoff's theorem.

Inputs are small integers and the learning rates powers of two, so every weighted sum is exact in
floating point: the from-scratch code, its PyTorch twin and the reference must then agree exactly,
whatever the memory layout or dtype the inputs come in.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from layouts import LAYOUTS, relayout
from dlcourse.perceptron import (
    TorchPerceptron,
    novikoff_bound,
    perceptron_history,
    perceptron_predict,
    perceptron_train,
    perceptron_train_torch,
    threshold_network_predict,
)

FAST = settings(max_examples=40, deadline=None)


def reference_train(X, t, eta, max_epochs, w_init=None):
    """The perceptron rule as a plain loop over Python floats: (weights, epochs)."""
    w = [0.0] * (len(X[0]) + 1) if w_init is None else [float(v) for v in w_init]
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for row, target in zip(X, t):
            x = [1.0, *(float(v) for v in row)]
            output = 1 if math.fsum(wi * xi for wi, xi in zip(w, x)) > 0 else -1
            if output != target:
                w = [wi + eta * target * xi for wi, xi in zip(w, x)]
                mistakes += 1
        if mistakes == 0:
            return np.array(w), epoch
    return np.array(w), max_epochs


@st.composite
def training_problems(draw):
    n = draw(st.integers(1, 10))
    dim = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.integers(-3, 4, size=(n, dim))
    t = rng.choice([-1, 1], size=n)
    eta = float(draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])))
    w_init = None if draw(st.booleans()) else rng.integers(-4, 5, size=dim + 1) * 0.5
    return X, t, eta, draw(st.integers(1, 15)), w_init


@FAST
@given(problem=training_problems(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([np.int8, np.int32, np.int64, np.float32, np.float64]),
       t_dtype=st.sampled_from([np.int64, np.float64]), scale_exp=st.integers(-6, 6))
def test_numpy_and_torch_training_equal_the_reference_loop(problem, layout, dtype, t_dtype, scale_exp):
    X, t, eta, max_epochs, w_init = problem
    X = X * 2.0**scale_exp if scale_exp else X  # a power-of-two scale keeps every sum exact
    if np.issubdtype(dtype, np.integer) and scale_exp:
        dtype = np.float64
    X_given = relayout(X.astype(dtype), layout)
    expected_w, expected_epochs = reference_train(X.tolist(), t.tolist(), eta, max_epochs, w_init)
    for train in (perceptron_train, perceptron_train_torch):
        w, epochs = train(X_given, relayout(t.astype(t_dtype), layout), eta=eta, max_epochs=max_epochs,
                          w_init=w_init)
        assert w.dtype == np.float64 and w.shape == (X.shape[1] + 1,) and w.flags.c_contiguous
        np.testing.assert_array_equal(w, expected_w)
        assert epochs == expected_epochs


@FAST
@given(problem=training_problems())
def test_history_ends_where_training_ends_and_counts_each_epoch(problem):
    X, t, eta, max_epochs, w_init = problem
    history = perceptron_history(X, t, eta=eta, max_epochs=max_epochs, w_init=w_init)
    w, epochs = perceptron_train(X, t, eta=eta, max_epochs=max_epochs, w_init=w_init)
    np.testing.assert_array_equal(history.weights[-1], w)
    assert len(history.mistakes) == epochs and history.weights.shape == (epochs + 1, X.shape[1] + 1)
    assert history.converged == (history.mistakes[-1] == 0)
    # a reference count of the mistakes made in the first epoch
    w_ref = np.zeros(X.shape[1] + 1) if w_init is None else np.asarray(w_init, float)
    mistakes = 0
    for row, target in zip(X.tolist(), t.tolist()):
        x = np.array([1.0, *row])
        if (1 if math.fsum(w_ref * x) > 0 else -1) != target:
            w_ref = w_ref + eta * target * x
            mistakes += 1
    assert history.mistakes[0] == mistakes


@st.composite
def separable_problems(draw):
    """Integer points labelled by an integer teacher u; points on its boundary are dropped."""
    dim = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = rng.integers(-3, 4, size=dim + 1)
    u[1 + rng.integers(dim)] = rng.choice([-2, -1, 1, 2])
    X = rng.integers(-3, 4, size=(4 * draw(st.integers(1, 8)), dim))
    score = u[0] + X @ u[1:]
    keep = score != 0
    if not keep.any():
        X, score = np.zeros((1, dim), dtype=np.int64), np.array([u[0] or 1])
        u[0] = u[0] or 1
        keep = np.array([True])
    return X[keep], np.where(score[keep] > 0, 1, -1), u


@FAST
@given(problem=separable_problems(), eta=st.sampled_from([0.125, 0.5, 1.0, 4.0]),
       u_scale=st.sampled_from([1e-150, 1.0, 1e150]))
def test_mistakes_from_zero_stay_within_novikoffs_bound(problem, eta, u_scale):
    X, t, u = problem
    radius, gamma, bound = novikoff_bound(X, t, u * u_scale)
    # independent R and gamma with x_0 = 1 included
    X_aug = np.hstack([np.ones((len(X), 1)), X])
    assert radius == pytest.approx(max(math.sqrt(math.fsum(x * x)) for x in X_aug), rel=1e-12)
    u_unit = u / math.sqrt(math.fsum(u * u))
    assert gamma == pytest.approx(min(tn * math.fsum(u_unit * x) for tn, x in zip(t, X_aug)), rel=1e-12)
    history = perceptron_history(X, t, eta=eta, max_epochs=int(bound) + 2)
    assert history.converged
    assert history.mistakes.sum() <= bound * (1 + 1e-12)
    np.testing.assert_array_equal(perceptron_predict(X, history.weights[-1]), t)


@FAST
@given(problem=training_problems(), layout=st.sampled_from(LAYOUTS))
def test_predict_and_the_two_layer_network_equal_a_reference_sign(problem, layout):
    X, _, _, _, w_init = problem
    rng = np.random.default_rng(X.size)
    w = rng.integers(-4, 5, size=X.shape[1] + 1) * 0.5 if w_init is None else w_init

    def sign(rows, weights):
        return [1.0 if math.fsum(wi * xi for wi, xi in zip(weights, [1.0, *r])) > 0 else -1.0 for r in rows]

    expected = sign(X.tolist(), w)
    np.testing.assert_array_equal(perceptron_predict(relayout(X, layout), relayout(w, layout)), expected)
    model = TorchPerceptron(X.shape[1], w_init=relayout(w, layout))  # the PyTorch twin of perceptron_predict
    np.testing.assert_array_equal(model(relayout(X, layout)).numpy(), expected)
    np.testing.assert_array_equal(model(torch.from_numpy(np.asfortranarray(X))).numpy(), expected)
    hidden = rng.integers(-2, 3, size=(3, X.shape[1] + 1)).astype(float)
    out = rng.integers(-2, 3, size=4).astype(float)
    H = np.array([sign(X.tolist(), h) for h in hidden]).T
    np.testing.assert_array_equal(threshold_network_predict(relayout(X, layout), relayout(hidden, layout), out),
                                  sign(H.tolist(), out))


@settings(max_examples=30, deadline=None)
@given(problem=training_problems(), where=st.sampled_from(["X", "t", "w_init"]),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]), position=st.integers(0, 100))
def test_nan_and_inf_are_refused_by_both_twins(problem, where, bad, position):
    X, t, eta, max_epochs, w_init = problem
    args = {"X": X.astype(float), "t": t.astype(float),
            "w_init": np.zeros(X.shape[1] + 1) if w_init is None else np.array(w_init, float)}
    flat = args[where].reshape(-1)
    flat[position % flat.size] = bad
    for train in (perceptron_train, perceptron_train_torch):
        with pytest.raises(ValueError, match=f"{where} must"):
            train(args["X"], args["t"], eta=eta, max_epochs=max_epochs, w_init=args["w_init"])


@pytest.mark.parametrize("train", [perceptron_train, perceptron_train_torch])
def test_empty_and_batch_of_one_inputs(train):
    with pytest.raises(ValueError, match="N, I >= 1"):
        train(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="N, I >= 1"):
        train(np.zeros((3, 0)), np.ones(3))
    w, epochs = train([[2.0, -1.0]], [-1])  # one sample: w . x = 0 at the start, so -1 is already right
    np.testing.assert_array_equal(w, [0.0, 0.0, 0.0])
    assert epochs == 1
    w, epochs = train([[2.0, -1.0]], [1])
    np.testing.assert_array_equal(w, [1.0, 2.0, -1.0])
    assert epochs == 2
