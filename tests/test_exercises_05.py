"""Exercises of chapter 5: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with PyTorch and brute-force counts, and the
handout runs clean."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlcourse.grading import get_exercise, grade_function
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "05_segmentation"
NAMES = ["bed_of_nails", "iou_per_class", "transpose_out_size", "conv_transpose_single"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def nails_as_nearest(X, f):
    return np.repeat(np.repeat(np.asarray(X, dtype=float), f, axis=0), f, axis=1)


def nails_in_the_bottom_right(X, f):
    X = np.asarray(X, dtype=float)
    Y = np.zeros((f * X.shape[0], f * X.shape[1]))
    Y[f - 1::f, f - 1::f] = X
    return Y


def nails_spread_over_the_block(X, f):
    return nails_as_nearest(X, f) / (f * f)


def nails_without_upsampling(X, f):
    return np.asarray(X, dtype=float)   # forgot to make the bigger canvas


def _masks(y_true, y_pred, c):
    return np.asarray(y_true) == c, np.asarray(y_pred) == c


def iou_as_recall(y_true, y_pred, n_classes):
    return np.array([np.sum(t & p) / np.sum(t) for t, p in (_masks(y_true, y_pred, c) for c in range(n_classes))])


def iou_as_precision(y_true, y_pred, n_classes):
    return np.array([np.sum(t & p) / np.sum(p) for t, p in (_masks(y_true, y_pred, c) for c in range(n_classes))])


def iou_as_dice(y_true, y_pred, n_classes):
    return np.array([2 * np.sum(t & p) / (np.sum(t) + np.sum(p))
                     for t, p in (_masks(y_true, y_pred, c) for c in range(n_classes))])


def iou_union_counted_twice(y_true, y_pred, n_classes):
    return np.array([np.sum(t & p) / (np.sum(t) + np.sum(p))
                     for t, p in (_masks(y_true, y_pred, c) for c in range(n_classes))])


def iou_mean_only(y_true, y_pred, n_classes):
    ious = [np.sum(t & p) / np.sum(t | p) for t, p in (_masks(y_true, y_pred, c) for c in range(n_classes))]
    return float(np.mean(ious))   # the mean IoU, not one value per class


def size_of_a_convolution(n, k, s, p, output_padding):
    return (n + 2 * p - k) // s + 1


def size_n_times_s(n, k, s, p, output_padding):
    return n * s - 2 * p + k + output_padding


def size_adds_the_padding(n, k, s, p, output_padding):
    return (n - 1) * s + 2 * p + k + output_padding


def size_forgets_output_padding(n, k, s, p, output_padding):
    return (n - 1) * s - 2 * p + k


def size_as_float(n, k, s, p, output_padding):
    return float((n - 1) * s - 2 * p + k + output_padding)


def _canvas(X, K, s):
    return np.zeros(((X.shape[0] - 1) * s + K.shape[0], (X.shape[1] - 1) * s + K.shape[1]))


def transpose_overwrites(X, K, stride, padding):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    Z = _canvas(X, K, stride)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Z[i * stride:i * stride + K.shape[0], j * stride:j * stride + K.shape[1]] = X[i, j] * K
    return Z[padding:Z.shape[0] - padding, padding:Z.shape[1] - padding]


def transpose_flips_the_kernel(X, K, stride, padding):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)[::-1, ::-1]
    Z = _canvas(X, K, stride)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Z[i * stride:i * stride + K.shape[0], j * stride:j * stride + K.shape[1]] += X[i, j] * K
    return Z[padding:Z.shape[0] - padding, padding:Z.shape[1] - padding]


def transpose_crops_top_left_only(X, K, stride, padding):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    Z = _canvas(X, K, stride)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Z[i * stride:i * stride + K.shape[0], j * stride:j * stride + K.shape[1]] += X[i, j] * K
    return Z[padding:, padding:]


def transpose_crops_with_negative_index(X, K, stride, padding):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    Z = _canvas(X, K, stride)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Z[i * stride:i * stride + K.shape[0], j * stride:j * stride + K.shape[1]] += X[i, j] * K
    return Z[padding:-padding, padding:-padding]   # empty when padding = 0


def transpose_ignores_the_stride(X, K, stride, padding):
    return transpose_flips_the_kernel(X, np.asarray(K, dtype=float)[::-1, ::-1], 1, padding)


WRONG = {
    "bed_of_nails": [(nails_as_nearest, "nearest-neighbour"), (nails_in_the_bottom_right, "top-left corner"),
                     (nails_spread_over_the_block, "keeps it whole"), (nails_without_upsampling, None)],
    "iou_per_class": [(iou_as_recall, "recall"), (iou_as_precision, "precision"), (iou_as_dice, "Dice"),
                      (iou_union_counted_twice, "counted twice"), (iou_mean_only, None)],
    "transpose_out_size": [(size_of_a_convolution, "ordinary convolution"), (size_n_times_s, "strides apart"),
                           (size_adds_the_padding, "subtract 2p"), (size_forgets_output_padding, "Add output_padding"),
                           (size_as_float, None)],
    "conv_transpose_single": [(transpose_overwrites, "add up (+=)"), (transpose_flips_the_kernel, "Do not flip"),
                              (transpose_crops_top_left_only, "cropped from every side"),
                              (transpose_crops_with_negative_index, None), (transpose_ignores_the_stride, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), seeds=SEEDS, handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


def test_a_float_size_is_refused_with_a_hint():
    result = grade_function(f"{STEM}.transpose_out_size", size_as_float, seed=0)
    assert result.score == 0 and "int" in result.output


# ---------------------------------------------------------------- the references against PyTorch and counts

def test_bed_of_nails_reference_is_max_unpooling_with_top_left_indices():
    for case in all_inputs(_exercise("bed_of_nails")):
        X, f = np.asarray(case["X"], dtype=float), case["f"]
        H, W = X.shape
        idx = (np.arange(H)[:, None] * f * (f * W) + np.arange(W)[None, :] * f)[None, None]
        expected = F.max_unpool2d(torch.tensor(X)[None, None], torch.tensor(idx), f,
                                  output_size=(f * H, f * W))[0, 0].numpy()
        np.testing.assert_array_equal(_exercise("bed_of_nails").reference(**case), expected)


def test_iou_reference_matches_a_pixel_loop_on_every_case():
    for case in all_inputs(_exercise("iou_per_class")):
        k = case["n_classes"]
        inter, union = np.zeros(k), np.zeros(k)
        for a, b in zip(np.ravel(case["y_true"]).tolist(), np.ravel(case["y_pred"]).tolist()):
            for c in range(k):
                inter[c] += a == c and b == c
                union[c] += a == c or b == c
        np.testing.assert_allclose(_exercise("iou_per_class").reference(**case), inter / union, rtol=1e-15)


def test_size_and_transpose_references_match_torch_on_every_case():
    for case in all_inputs(_exercise("transpose_out_size")):
        layer = torch.nn.ConvTranspose1d(1, 1, case["k"], stride=case["s"], padding=case["p"],
                                         output_padding=case["output_padding"])
        assert _exercise("transpose_out_size").reference(**case) == layer(torch.zeros(1, 1, case["n"])).shape[-1]
    for case in all_inputs(_exercise("conv_transpose_single")):
        expected = F.conv_transpose2d(torch.tensor(np.asarray(case["X"], dtype=float))[None, None],
                                      torch.tensor(np.asarray(case["K"], dtype=float))[None, None],
                                      stride=case["stride"], padding=case["padding"])[0, 0].numpy()
        np.testing.assert_array_equal(_exercise("conv_transpose_single").reference(**case), expected)


# ---------------------------------------------------------------- the notebooks

def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "[[4, 4, 5, 5], [4, 4, 5, 5], [8, 8, 9, 9], [8, 8, 9, 9]] (4x4)" in together
    assert "[0.0, 0.25, 0.25, 0.25, 0.25]" in together
