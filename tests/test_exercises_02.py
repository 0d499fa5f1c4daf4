"""Exercises of chapter 2: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the residual backprop agrees with autograd, the handout runs clean, and
the integration cell checks each part, so two compensating bugs cannot pass together.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse.grading import check, get_exercise, grade_function
from dlcourse.grading.bank.ex02_mlp import backprop_residual as residual_reference
from dlcourse.grading.runner import run_cases
from dlcourse.grading.scoring import score_outputs
from exercise_contract import all_inputs, contract_tests, solution_integration_text
from exercise_helpers import (renamed, tagged_sources)

STEM = "02_mlp"
NAMES = ["activation_and_grad", "log_softmax_cross_entropy", "numerical_gradient", "backprop_residual"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- plausible wrong answers, as a learner writes them

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _correct_activation(z, name):
    from dlcourse.activations import activation_and_grad

    return activation_and_grad(z, name)


def activation_sigmoid_derivative_is_s(z, name):
    z = np.asarray(z, dtype=float)
    if name == "sigmoid":
        s = _sigmoid(z)
        return s, s  # forgets the (1 - s) factor
    return _correct_activation(z, name)


def activation_relu_derivative_one_at_zero(z, name):
    z = np.asarray(z, dtype=float)
    if name == "relu":
        return np.maximum(z, 0.0), (z >= 0).astype(float)  # >= instead of >
    return _correct_activation(z, name)


def activation_tanh_derivative_without_square(z, name):
    z = np.asarray(z, dtype=float)
    if name == "tanh":
        return np.tanh(z), 1.0 - np.tanh(z)
    return _correct_activation(z, name)


def activation_elu_derivative_is_its_value(z, name):
    z = np.asarray(z, dtype=float)
    if name == "elu":
        a = np.where(z > 0, z, np.exp(np.minimum(z, 0.0)) - 1.0)
        return a, np.where(z > 0, 1.0, a)  # e^z - 1 instead of e^z
    return _correct_activation(z, name)


def activation_relu_in_place(z, name):
    z = np.asarray(z, dtype=float)
    if name == "relu":
        a = z  # not a copy
        a[a < 0] = 0.0  # right values, but the caller's z loses its negative entries
        return a.copy(), (z > 0).astype(float)
    return _correct_activation(z, name)


def cross_entropy_naive_softmax(Z, y):
    Z = np.asarray(Z, dtype=float)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)  # no max-shift: overflows for large scores
    log_p = np.log(P)
    return log_p, -log_p[np.arange(len(y)), y].mean()


def cross_entropy_shifted_but_log_after_softmax(Z, y):
    Z = np.asarray(Z, dtype=float)
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    log_p = np.log(e / e.sum(axis=1, keepdims=True))  # log(0) = -inf for very unlikely classes
    return log_p, -log_p[np.arange(len(y)), y].mean()


def cross_entropy_summed_not_mean(Z, y):
    Z = np.asarray(Z, dtype=float)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_p, -log_p[np.arange(len(y)), y].sum()


def cross_entropy_shifts_in_place(Z, y):
    Z = np.asarray(Z, dtype=float)
    Z -= Z.max(axis=1, keepdims=True)  # right values, but the caller's Z is shifted too
    log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return log_p, -log_p[np.arange(len(y)), y].mean()


def gradient_forward_differences(f, x, eps):
    x = np.array(x, dtype=float)
    grad, base = np.zeros_like(x), f(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        grad.flat[i] = (f(x + step) - base) / eps
    return grad


def gradient_central_without_the_two(f, x, eps):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        grad.flat[i] = (f(x + step) - f(x - step)) / eps
    return grad


def gradient_never_restores_x(f, x, eps):
    x = np.array(x, dtype=float)
    grad, flat = np.zeros_like(x), x.reshape(-1)
    for i in range(flat.size):
        flat[i] += eps
        f_plus = f(x)
        flat[i] -= 2 * eps
        f_minus = f(x)  # x_i stays at x_i - eps for the entries that follow
        grad.flat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _residual_forward(X, W1, b1, W2, b2):
    Z1 = X @ W1.T + b1
    A = X + np.maximum(Z1, 0.0)
    scores = A @ W2.T + b2
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return Z1, A, e / e.sum(axis=1, keepdims=True)


def backprop_without_one_over_n(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = P - Y  # forgets the 1/N of the mean
    dA = delta2 @ W2
    delta1 = dA * (Z1 > 0)
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ A, delta2.sum(axis=0), dA + delta1 @ W1


def backprop_output_layer_sees_relu_only(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    dA = delta2 @ W2
    delta1 = dA * (Z1 > 0)
    H = np.maximum(Z1, 0.0)  # the skip forgotten in BP4 of the output layer
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ H, delta2.sum(axis=0), dA + delta1 @ W1


def backprop_dx_without_skip(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    delta1 = (delta2 @ W2) * (Z1 > 0)
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ A, delta2.sum(axis=0), delta1 @ W1  # one path only


def backprop_dx_without_layer(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    dA = delta2 @ W2
    delta1 = dA * (Z1 > 0)
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ A, delta2.sum(axis=0), dA  # the skip path only


def backprop_with_tanh_derivative(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    H = np.maximum(Z1, 0.0)
    delta2 = (P - Y) / len(X)
    dA = delta2 @ W2
    delta1 = dA * (1 - H**2)  # copied from the chapter's tanh network
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ A, delta2.sum(axis=0), dA + delta1 @ W1


def backprop_relu_derivative_one_at_zero(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    dA = delta2 @ W2
    delta1 = dA * (Z1 >= 0)
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ A, delta2.sum(axis=0), dA + delta1 @ W1


def backprop_dw_transposed(X, Y, W1, b1, W2, b2):
    Z1, A, P = _residual_forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    dA = delta2 @ W2
    delta1 = dA * (Z1 > 0)
    return X.T @ delta1, delta1.sum(axis=0), A.T @ delta2, delta2.sum(axis=0), dA + delta1 @ W1


# Each wrong version with a distinctive part of the hint it must get; None: no registered mistake,
# because the grader's own checks catch it (NaN or infinity in the result, an argument modified in place).
WRONG = {
    "activation_and_grad": [(activation_sigmoid_derivative_is_s, "not sigma(z) itself"),
                            (activation_relu_derivative_one_at_zero, "relu'(0) = 0: use the second case"),
                            (activation_tanh_derivative_without_square, "the tanh is squared"),
                            (activation_elu_derivative_is_its_value, "ELU's derivative"),
                            (activation_relu_in_place, None)],
    "log_softmax_cross_entropy": [(cross_entropy_naive_softmax, None),
                                  (cross_entropy_shifted_but_log_after_softmax, "log after the softmax"),
                                  (cross_entropy_summed_not_mean, "not their sum"),
                                  (cross_entropy_shifts_in_place, None)],
    "numerical_gradient": [(gradient_forward_differences, "one-sided (forward) difference"),
                           (gradient_central_without_the_two, "2 eps apart"),
                           (gradient_never_restores_x, "Put each entry of x back")],
    "backprop_residual": [(backprop_without_one_over_n, "N times too large"),
                          (backprop_output_layer_sees_relu_only, "the skip included"),
                          (backprop_dx_without_skip, "You left out the skip path"),
                          (backprop_dx_without_layer, "You left out the path through W1"),
                          (backprop_with_tanh_derivative, "That is the tanh derivative"),
                          (backprop_relu_derivative_one_at_zero, "a unit with Z1 = 0 passes no gradient"),
                          (backprop_dw_transposed, "weight gradients are transposed")],
}
IN_PLACE = [("activation_and_grad", activation_relu_in_place), ("log_softmax_cross_entropy", cross_entropy_shifts_in_place)]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, seeds=SEEDS, handout_skips=2))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the discrimination contract


def test_naive_softmax_fails_every_huge_logit_case():
    exercise = _exercise("log_softmax_cross_entropy")
    huge = [case for case in exercise.draw_hidden(0) if np.abs(case["Z"]).max() > 800]
    assert len(huge) >= 4
    received = run_cases(cross_entropy_naive_softmax, huge, exercise.output_names)
    assert score_outputs(exercise, huge, received).passed == 0


def test_naive_softmax_is_told_about_the_overflow(capsys):
    check(cross_entropy_naive_softmax, f"{STEM}.log_softmax_cross_entropy")
    assert "NaN or infinity" in capsys.readouterr().out
    assert "NaN or infinity" in grade_function(f"{STEM}.log_softmax_cross_entropy", cross_entropy_naive_softmax).output


def test_check_explains_a_transposed_output_gradient(capsys):
    check(backprop_dw_transposed, f"{STEM}.backprop_residual")
    assert "looks transposed" in capsys.readouterr().out.lower()  # dW2 is not square


# ---------------------------------------------------------------- registered mistakes and their hints


# ---------------------------------------------------------------- the residual backprop against autograd

def _autograd_residual(X, Y, W1, b1, W2, b2):
    leaves = [torch.tensor(np.asarray(a, dtype=float), requires_grad=True) for a in (X, W1, b1, W2, b2)]
    Xt, W1t, b1t, W2t, b2t = leaves
    A = Xt + torch.relu(Xt @ W1t.T + b1t)
    log_p = torch.log_softmax(A @ W2t.T + b2t, dim=1)
    cost = -(torch.tensor(np.asarray(Y, dtype=float)) * log_p).sum() / Xt.shape[0]
    cost.backward()
    return W1t.grad.numpy(), b1t.grad.numpy(), W2t.grad.numpy(), b2t.grad.numpy(), Xt.grad.numpy()


def _assert_matches_autograd(inputs: dict) -> None:
    ours = residual_reference(*inputs.values())
    theirs = _autograd_residual(*inputs.values())
    for name, a, b in zip(("dW1", "db1", "dW2", "db2", "dX"), ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=name)


def test_residual_reference_matches_autograd_on_every_public_and_hidden_case():
    exercise = _exercise("backprop_residual")
    inputs = all_inputs(exercise)
    assert any(np.any(c["X"] @ c["W1"].T + c["b1"] == 0) for c in inputs)  # relu'(0) is exercised
    for case in inputs:
        _assert_matches_autograd(case)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), d=st.integers(1, 5), k=st.integers(2, 5), seed=st.integers(0, 2**16),
       fortran=st.booleans(), scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_residual_reference_matches_autograd_for_any_shape_layout_and_scale(n, d, k, seed, fortran, scale):
    rng = np.random.default_rng(seed)
    layout = np.asfortranarray if fortran else np.ascontiguousarray
    inputs = {"X": layout(scale * rng.normal(size=(n, d))), "Y": rng.dirichlet(np.ones(k), size=n),
              "W1": layout(rng.normal(size=(d, d)).T), "b1": rng.normal(size=d),
              "W2": layout(rng.normal(size=(k, d))), "b2": rng.normal(size=k)}
    _assert_matches_autograd(inputs)


# ---------------------------------------------------------------- the notebooks

def _integration_namespace(solved: dict, **replacements) -> dict:
    parts = {**solved, **{name: renamed(fn, name) for name, fn in replacements.items()}}
    return {"np": np, "check": check, "contextlib": contextlib, "io": io, **parts}


def test_compensating_bugs_pass_the_combined_check_but_not_the_per_part_checks(solved, capsys):
    """A summed loss and a backprop without 1/N agree with each other; only the checks of the parts see it."""
    (cell, _) = tagged_sources(STEM, "integration")
    rng = np.random.default_rng(0)
    net = (rng.normal(size=(6, 4)), rng.integers(0, 3, size=6), rng.normal(size=(4, 4)), rng.normal(size=4),
           rng.normal(size=(3, 4)), rng.normal(size=3))

    def combined_error(**replacements) -> float:
        namespace = _integration_namespace(solved, **replacements)
        exec(compile(cell, "<putting them together>", "exec"), namespace)
        return namespace["gradient_check_error"](*net)

    assert combined_error() < 1e-7  # the right parts agree
    assert combined_error(backprop_residual=backprop_without_one_over_n) > 1.0  # one bug alone is caught
    capsys.readouterr()
    pair = {"log_softmax_cross_entropy": cross_entropy_summed_not_mean,
            "backprop_residual": backprop_without_one_over_n}
    assert combined_error(**pair) < 1e-7  # ... but two compensating bugs fool the combined check
    out = capsys.readouterr().out
    assert "log_softmax_cross_entropy  FAILS" in out and "backprop_residual          FAILS" in out
    assert "activation_and_grad        passes" in out and "skipping" in out and "relative error" not in out
    with contextlib.redirect_stdout(io.StringIO()):
        assert not any(check(renamed(fn, name)).all_passed for name, fn in pair.items())


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert together.count("passes its checks") == len(NAMES)
    error = float(together.split("central differences: ")[1].split()[0])
    test_accuracy = float(together.split("test ")[1].split()[0])
    assert error < 1e-7 and test_accuracy > 0.9
