"""Exercises of chapter 4: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with PyTorch, and the handout runs clean."""
from __future__ import annotations

import math

import numpy as np
import torch

from dlcourse.grading import get_exercise, grade_function
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "04_cnn"
NAMES = ["conv_out_size", "corr2d_padded_strided", "corr2d_multi", "maxpool_backward", "conv_stack_params"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def out_size_ceil(n, k, p, s):
    return math.ceil((n + 2 * p - k) / s) + 1


def out_size_without_plus_one(n, k, p, s):
    return (n + 2 * p - k) // s


def out_size_single_padding(n, k, p, s):
    return (n + p - k) // s + 1


def out_size_float(n, k, p, s):
    return np.floor((n + 2 * p - k) / s) + 1  # right value, but a float


def _corr(Xp, K, sr, sc):
    kh, kw = K.shape
    Y = np.zeros(((Xp.shape[0] - kh) // sr + 1, (Xp.shape[1] - kw) // sc + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = np.sum(Xp[i * sr:i * sr + kh, j * sc:j * sc + kw] * K)
    return Y


def corr_flips_the_kernel(X, K, padding, stride):
    K = np.asarray(K, dtype=float)[::-1, ::-1]  # true convolution
    return _corr(np.pad(np.asarray(X, dtype=float), padding), K, *np.asarray(stride).reshape(-1))


def corr_swaps_the_strides(X, K, padding, stride):
    sr, sc = np.asarray(stride).reshape(-1)
    return _corr(np.pad(np.asarray(X, dtype=float), padding), np.asarray(K, dtype=float), sc, sr)


def corr_pads_top_left_only(X, K, padding, stride):
    Xp = np.pad(np.asarray(X, dtype=float), ((padding, 0), (padding, 0)))
    return _corr(Xp, np.asarray(K, dtype=float), *np.asarray(stride).reshape(-1))


def corr_ignores_the_stride(X, K, padding, stride):
    return _corr(np.pad(np.asarray(X, dtype=float), padding), np.asarray(K, dtype=float), 1, 1)


def multi_averages_the_channels(X, K):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    return sum(_corr(x, k, 1, 1) for x, k in zip(X, K)) / len(X)


def multi_flips_the_kernels(X, K):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    return sum(_corr(x, k[::-1, ::-1], 1, 1) for x, k in zip(X, K))


def multi_uses_only_the_first_channel(X, K):
    return _corr(np.asarray(X, dtype=float)[0], np.asarray(K, dtype=float)[0], 1, 1)


def _windows(dY, stride):
    for i in range(dY.shape[0]):
        for j in range(dY.shape[1]):
            yield i, j, i * stride, j * stride


def pool_gradient_to_every_element(X, dY, size, stride):
    dX = np.zeros_like(np.asarray(X, dtype=float))
    for i, j, r, c in _windows(np.asarray(dY), stride):
        dX[r:r + size, c:c + size] += dY[i, j]
    return dX


def pool_gradient_averaged(X, dY, size, stride):
    dX = np.zeros_like(np.asarray(X, dtype=float))
    for i, j, r, c in _windows(np.asarray(dY), stride):
        dX[r:r + size, c:c + size] += dY[i, j] / size**2
    return dX


def pool_gradient_to_every_tied_maximum(X, dY, size, stride):
    X = np.asarray(X, dtype=float)
    dX = np.zeros_like(X)
    for i, j, r, c in _windows(np.asarray(dY), stride):
        window = X[r:r + size, c:c + size]
        dX[r:r + size, c:c + size] += dY[i, j] * (window == window.max())
    return dX


def pool_gradient_overwritten(X, dY, size, stride):
    X = np.asarray(X, dtype=float)
    dX = np.zeros_like(X)
    for i, j, r, c in _windows(np.asarray(dY), stride):
        u, v = divmod(int(X[r:r + size, c:c + size].argmax()), size)
        dX[r + u, c + v] = dY[i, j]  # = instead of +=
    return dX


def pool_gradient_to_the_last_maximum(X, dY, size, stride):
    X = np.asarray(X, dtype=float)
    dX = np.zeros_like(X)
    for i, j, r, c in _windows(np.asarray(dY), stride):
        flat = X[r:r + size, c:c + size].reshape(-1)
        u, v = divmod(len(flat) - 1 - int(flat[::-1].argmax()), size)
        dX[r + u, c + v] += dY[i, j]
    return dX


def params_without_bias(channels, k):
    c = [int(v) for v in channels]
    return sum(b * a * k * k for a, b in zip(c, c[1:]))


def params_without_input_channels(channels, k):
    return sum(int(b) * (k * k + 1) for b in channels[1:])


def params_k_not_squared(channels, k):
    c = [int(v) for v in channels]
    return sum(b * (a * k + 1) for a, b in zip(c, c[1:]))


def params_as_float(channels, k):
    c = np.asarray(channels, dtype=float)
    return float(np.sum(c[1:] * (c[:-1] * k * k + 1)))


# Each wrong version with a distinctive part of the hint it must get; None: the grader's own checks catch
# it (a float for an int, a wrong shape) or it has no hint of its own.
WRONG = {
    "conv_out_size": [(out_size_ceil, "Round down, not up"), (out_size_without_plus_one, "Count the first window"),
                      (out_size_single_padding, "added on both sides"), (out_size_float, None)],
    "corr2d_padded_strided": [(corr_flips_the_kernel, "You flipped the kernel"),
                              (corr_swaps_the_strides, "The strides are swapped"),
                              (corr_pads_top_left_only, "Pad all four sides"), (corr_ignores_the_stride, None)],
    "corr2d_multi": [(multi_averages_the_channels, "do not average"), (multi_flips_the_kernels, "flipped the kernels"),
                     (multi_uses_only_the_first_channel, "not only the first")],
    "maxpool_backward": [(pool_gradient_to_every_element, "the other elements get no gradient"),
                         (pool_gradient_averaged, "average pooling"),
                         (pool_gradient_to_every_tied_maximum, "On ties only one element"),
                         (pool_gradient_overwritten, "do not overwrite"),
                         (pool_gradient_to_the_last_maximum, None)],
    "conv_stack_params": [(params_without_bias, "also has a bias"),
                          (params_without_input_channels, "spans all input channels"),
                          (params_k_not_squared, "not k."), (params_as_float, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), seeds=SEEDS, handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


def test_a_float_count_is_refused_with_a_hint():
    result = grade_function(f"{STEM}.conv_out_size", out_size_float, seed=0)
    assert result.score == 0 and "int" in result.output


# ---------------------------------------------------------------- the references against PyTorch

def test_corr_and_multi_references_match_torch_on_every_case():
    for name in ("corr2d_padded_strided", "corr2d_multi"):
        exercise = _exercise(name)
        for case in all_inputs(exercise):
            X, K = np.asarray(case["X"], dtype=float), np.asarray(case["K"], dtype=float)
            X = X[None] if X.ndim == 2 else X
            K = K[None] if K.ndim == 2 else K
            stride = tuple(int(s) for s in case.get("stride", (1, 1)))
            expected = torch.nn.functional.conv2d(torch.tensor(X)[None], torch.tensor(K)[None],
                                                  stride=stride, padding=case.get("padding", 0))[0, 0]
            np.testing.assert_array_equal(exercise.reference(*case.values()), expected.numpy())


def test_maxpool_reference_matches_autograd_and_ties_occur():
    exercise = _exercise("maxpool_backward")
    ties = 0
    for case in all_inputs(exercise):
        X = torch.tensor(case["X"], requires_grad=True)
        Y = torch.nn.functional.max_pool2d(X[None, None], case["size"], case["stride"])[0, 0]
        (Y * torch.tensor(case["dY"])).sum().backward()
        np.testing.assert_array_equal(exercise.reference(*case.values()), X.grad.numpy())
        ties += int(not np.array_equal(pool_gradient_to_every_tied_maximum(*case.values()), X.grad.numpy()))
    assert ties >= 5


def test_out_size_and_params_references_match_torch():
    from dlcourse.architectures import count_parameters, on_meta

    for case in all_inputs(_exercise("conv_out_size")):
        y = torch.nn.functional.conv2d(torch.zeros(1, 1, case["n"], 1), torch.zeros(1, 1, case["k"], 1),
                                       stride=(case["s"], 1), padding=(case["p"], 0))
        assert _exercise("conv_out_size").reference(*case.values()) == y.shape[2]
    for case in all_inputs(_exercise("conv_stack_params"))[:6]:
        c, k = [int(v) for v in case["channels"]], case["k"]
        stack = on_meta(lambda: torch.nn.Sequential(*[torch.nn.Conv2d(a, b, k) for a, b in zip(c, c[1:])]))
        assert _exercise("conv_stack_params").reference(*case.values()) == count_parameters(stack)


# ---------------------------------------------------------------- the notebooks


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "S4 maps are 5x5" in together and "conv parameters 2,572" in together
    assert "[0.0, 1.0, 0.0]" in together
