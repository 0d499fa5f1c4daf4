"""Exercises of chapter 2: the solutions score full marks, the stubs zero, plausible mistakes less than full."""
from __future__ import annotations


import numpy as np
import pytest

from dlcourse.grading import check, get_exercise, grade_function
from dlcourse.grading.assign import strip_solution
from exercise_helpers import load_function, solution_sources

NAMES = ["activation_and_grad", "log_softmax_cross_entropy", "backprop_two_layer", "numerical_gradient"]
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return solution_sources("02_mlp", NAMES)


_load = load_function


# ---------------------------------------------------------------- plausible wrong answers, one group per exercise

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


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


def _correct_activation(z, name):
    from dlcourse.activations import activation_and_grad

    return activation_and_grad(z, name)


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


def _forward(X, W1, b1, W2, b2):
    H = np.tanh(X @ W1.T + b1)
    scores = H @ W2.T + b2
    scores = scores - scores.max(axis=1, keepdims=True)
    return H, np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)


def backprop_without_one_over_n(X, Y, W1, b1, W2, b2):
    H, P = _forward(X, W1, b1, W2, b2)
    delta2 = P - Y  # forgets the 1/N of the mean
    delta1 = (delta2 @ W2) * (1 - H**2)
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ H, delta2.sum(axis=0)


def backprop_dw_transposed(X, Y, W1, b1, W2, b2):
    H, P = _forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    delta1 = (delta2 @ W2) * (1 - H**2)
    return X.T @ delta1, delta1.sum(axis=0), H.T @ delta2, delta2.sum(axis=0)  # (n_{l-1}, n_l): transposed


def backprop_forgets_tanh_derivative(X, Y, W1, b1, W2, b2):
    H, P = _forward(X, W1, b1, W2, b2)
    delta2 = (P - Y) / len(X)
    delta1 = delta2 @ W2  # BP2 without the sigma'(z) factor
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ H, delta2.sum(axis=0)


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


WRONG = {
    "activation_and_grad": [activation_sigmoid_derivative_is_s, activation_relu_derivative_one_at_zero,
                            activation_tanh_derivative_without_square],
    "log_softmax_cross_entropy": [cross_entropy_naive_softmax, cross_entropy_shifted_but_log_after_softmax,
                                  cross_entropy_summed_not_mean],
    "backprop_two_layer": [backprop_without_one_over_n, backprop_dw_transposed, backprop_forgets_tanh_derivative],
    "numerical_gradient": [gradient_forward_differences, gradient_central_without_the_two],
}


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_solution_gets_full_marks(sources, name, seed):
    result = grade_function(f"02_mlp.{name}", _load(sources[name], name), seed=seed)
    assert result.score == result.max_score, result.output


@pytest.mark.parametrize("name", NAMES)
def test_stub_scores_zero(sources, name):
    stub = _load(strip_solution(sources[name]), name)
    result = grade_function(f"02_mlp.{name}", stub, seed=0)
    assert result.score == 0.0
    assert "not implemented yet" in result.output


@pytest.mark.parametrize("name, wrong", [(n, w) for n, ws in WRONG.items() for w in ws],
                         ids=lambda v: getattr(v, "__name__", v))
def test_plausible_mistake_scores_less_than_full(name, wrong):
    for seed in SEEDS:
        result = grade_function(f"02_mlp.{name}", wrong, seed=seed)
        assert result.score < result.max_score, f"{wrong.__name__} got full marks with seed {seed}"


def test_naive_softmax_fails_every_huge_logit_case():
    exercise = get_exercise("02_mlp.log_softmax_cross_entropy")
    huge = [case for case in exercise.draw_hidden(0) if np.abs(case["Z"]).max() > 800]
    assert len(huge) >= 4
    from dlcourse.grading.scoring import score_outputs
    from dlcourse.grading.runner import run_cases

    received = run_cases(cross_entropy_naive_softmax, huge, exercise.output_names)
    assert score_outputs(exercise, huge, received).passed == 0


@pytest.mark.parametrize("name", NAMES)
def test_check_passes_every_public_case_of_the_solution(sources, name, capsys):
    report = check(_load(sources[name], name))
    assert report.all_passed and report.total >= 3
    assert "[FAIL]" not in capsys.readouterr().out


def test_check_explains_a_transposed_gradient(capsys):
    check(backprop_dw_transposed, "02_mlp.backprop_two_layer")
    assert "looks transposed" in capsys.readouterr().out.lower()
