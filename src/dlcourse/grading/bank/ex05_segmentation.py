"""Exercises of ``solutions/05_segmentation.ipynb``: bed-of-nails up-sampling, per-class IoU from two
label maps, the output size of a transposed convolution, and the single-channel transposed
convolution itself with stride and padding (its code is not printed in the chapter), easiest first.

Hidden inputs are small integers, so every answer is exact in floating point: a kernel copy placed
at the wrong offset, an overwrite instead of a sum, or a union that forgets to subtract the
intersection can never hide behind the tolerance. Every class appears in every hidden IoU case
(no 0/0), and strides of 2 or 3 make misplaced copies show.
"""
from __future__ import annotations

import numpy as np

from ...segmentation import conv_transpose2d, conv_transpose_out_size, per_class_iou, upsample_bed_of_nails
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.segmentation)


def bed_of_nails(X, f):
    """Bed-of-nails up-sampling of a 2-D map X (H, W) by an integer factor f: (f H, f W)."""
    return upsample_bed_of_nails(np.asarray(X, dtype=float), int(f))


def iou_per_class(y_true, y_pred, n_classes):
    """IoU_c = |T_c and P_c| / |T_c or P_c| for c = 0..n_classes-1: (n_classes,) floats."""
    return per_class_iou(y_true, y_pred, int(n_classes))


def transpose_out_size(n, k, s, p, output_padding):
    """(n - 1) s - 2p + k + output_padding, as an int."""
    return conv_transpose_out_size(n, k, s, p, output_padding)


def conv_transpose_single(X, K, stride, padding):
    """Single-channel transposed convolution of X (H, W) with K (kh, kw): scatter, sum, crop p per side."""
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    return conv_transpose2d(X[None, None], K[None, None], stride=int(stride), padding=int(padding))[0, 0]


# ---------------------------------------------------------------- wrong versions

def _nails_nearest(X, f):
    return np.kron(np.asarray(X, dtype=float), np.ones((int(f), int(f))))


def _nails_bottom_right(X, f):
    X, f = np.asarray(X, dtype=float), int(f)
    Y = np.zeros((f * X.shape[0], f * X.shape[1]))
    Y[f - 1::f, f - 1::f] = X
    return Y


def _nails_divided(X, f):
    return _nails_nearest(X, f) / int(f) ** 2   # the block's mean kept: average "un-pooling"


def _counts(y_true, y_pred, k):
    t, p = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    inter = np.array([np.sum((t == c) & (p == c)) for c in range(k)], dtype=float)
    true = np.array([np.sum(t == c) for c in range(k)], dtype=float)
    pred = np.array([np.sum(p == c) for c in range(k)], dtype=float)
    return inter, true, pred


def _iou_recall(y_true, y_pred, n_classes):
    inter, true, _ = _counts(y_true, y_pred, int(n_classes))
    return inter / true


def _iou_dice(y_true, y_pred, n_classes):
    inter, true, pred = _counts(y_true, y_pred, int(n_classes))
    return 2 * inter / (true + pred)


def _iou_sum_union(y_true, y_pred, n_classes):
    inter, true, pred = _counts(y_true, y_pred, int(n_classes))
    return inter / (true + pred)


def _iou_precision(y_true, y_pred, n_classes):
    inter, _, pred = _counts(y_true, y_pred, int(n_classes))
    return inter / pred


def _size_conv_formula(n, k, s, p, output_padding):
    return (n + 2 * p - k) // s + 1


def _size_n_times_s(n, k, s, p, output_padding):
    return n * s - 2 * p + k + output_padding


def _size_plus_padding(n, k, s, p, output_padding):
    return (n - 1) * s + 2 * p + k + output_padding


def _size_no_output_padding(n, k, s, p, output_padding):
    return (n - 1) * s - 2 * p + k


def _scatter(X, K, stride, padding, *, add=True, flip=False, crop_top_left_only=False):
    X, K = np.asarray(X, dtype=float), np.asarray(K, dtype=float)
    K = K[::-1, ::-1] if flip else K
    s, p = int(stride), int(padding)
    (H, W), (kh, kw) = X.shape, K.shape
    Z = np.zeros(((H - 1) * s + kh, (W - 1) * s + kw))
    for i in range(H):
        for j in range(W):
            if add:
                Z[i * s:i * s + kh, j * s:j * s + kw] += X[i, j] * K
            else:
                Z[i * s:i * s + kh, j * s:j * s + kw] = X[i, j] * K
    return Z[p:, p:] if crop_top_left_only else Z[p:Z.shape[0] - p, p:Z.shape[1] - p]


def _transpose_overwrite(X, K, stride, padding):
    return _scatter(X, K, stride, padding, add=False)


def _transpose_flipped(X, K, stride, padding):
    return _scatter(X, K, stride, padding, flip=True)


def _transpose_crop_once(X, K, stride, padding):
    return _scatter(X, K, stride, padding, crop_top_left_only=True)


# ---------------------------------------------------------------- hidden cases

def _nails_hidden(rng):
    cases = [{"X": rng.integers(-9, 10, size=(int(rng.integers(1, 6)), int(rng.integers(1, 6)))).astype(float),
              "f": int(rng.integers(2, 5))} for _ in range(8)]
    return cases + [{"X": np.array([[3.0]]), "f": 3}, {"X": np.array([[1.0, -2, 4]]), "f": 1}]


def _iou_hidden(rng):
    cases = []
    for _ in range(10):
        shape = tuple(int(v) for v in rng.integers(4, 9, size=int(rng.integers(1, 4))))
        k = int(rng.integers(2, min(5, int(np.prod(shape)) // 2) + 1))
        y_true = rng.integers(0, k, size=shape)
        y_pred = np.where(rng.random(shape) < 0.6, y_true, rng.integers(0, k, size=shape))
        for c in range(k):  # every class in both maps: no 0/0, and recall differs from precision
            y_true.flat[c], y_pred.flat[-1 - c] = c, c
        cases.append({"y_true": y_true, "y_pred": y_pred, "n_classes": k})
    return cases


def _size_hidden(rng):
    cases = []
    while len(cases) < 12:
        n, k, s = int(rng.integers(1, 40)), int(rng.integers(1, 8)), int(rng.integers(2, 5))
        p, op = int(rng.integers(0, 4)), int(rng.integers(1, s))
        if (n - 1) * s - 2 * p + k + op >= 1:
            cases.append({"n": n, "k": k, "s": s, "p": p, "output_padding": op})
    return cases + [{"n": 32, "k": 4, "s": 2, "p": 1, "output_padding": 0},
                    {"n": 7, "k": 3, "s": 2, "p": 1, "output_padding": 1}]


def _transpose_hidden(rng):
    cases = []
    while len(cases) < 10:
        kh, kw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        K = rng.integers(-3, 4, size=(kh, kw)).astype(float)
        K[0, 0], K[-1, -1] = 1.0, 3.0   # never symmetric under the flip
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        X = rng.integers(-4, 5, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)))).astype(float)
        if min((n - 1) * s + k for n, k in zip(X.shape, K.shape)) - 2 * p >= 1 and (s < max(kh, kw) or p):
            cases.append({"X": X, "K": K, "stride": s, "padding": p})
    return cases


# ---------------------------------------------------------------- the registry

_POOLED = np.array([[4.0, 5], [8, 9]])
_TRUTH = np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 2, 2]])
_GUESS = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 2, 0]])
_X2 = np.array([[1.0, 2], [3, 4]])
_K2 = np.array([[1.0, 1], [1, 0]])

EXERCISES = [
    Exercise(
        id="05_segmentation.bed_of_nails",
        reference=bed_of_nails,
        public_cases=[
            Case({"X": _POOLED, "f": 2}, "the chapter's pooled map",
                 (np.array([[4.0, 0, 5, 0], [0, 0, 0, 0], [8, 0, 9, 0], [0, 0, 0, 0]]),)),
            Case({"X": np.array([[1.0, -2]]), "f": 3}, "factor 3, one row"),
        ],
        hidden_cases=_nails_hidden,
        output_names=("Y",),
        description="Bed-of-nails up-sampling: Y[f i, f j] = X[i, j], zeros elsewhere.",
        mistakes=[
            Mistake("That is nearest-neighbour up-sampling (every block filled with the value); bed of nails "
                    "puts the value in one corner of the block and zeros in the rest.", _nails_nearest),
            Mistake("Put each value in the top-left corner of its block, Y[f i, f j], not the bottom-right.",
                    _nails_bottom_right),
            Mistake("Do not spread the value over the block: one entry keeps it whole, the others are 0.",
                    _nails_divided),
        ],
    ),
    Exercise(
        id="05_segmentation.iou_per_class",
        reference=iou_per_class,
        public_cases=[
            Case({"y_true": _TRUTH, "y_pred": _GUESS, "n_classes": 3}, "the chapter's 3x4 example",
                 (np.array([4 / 7, 4 / 6, 1 / 2]),)),
            Case({"y_true": np.array([0, 1, 1, 0]), "y_pred": np.array([0, 1, 1, 0]), "n_classes": 2},
                 "a perfect prediction", (np.array([1.0, 1.0]),)),
            Case({"y_true": np.array([[0, 0, 0, 1]]), "y_pred": np.array([[0, 1, 1, 1]]), "n_classes": 2},
                 "an over-segmented class 1", (np.array([1 / 3, 1 / 3]),)),
        ],
        hidden_cases=_iou_hidden,
        output_names=("iou",),
        rtol=1e-12,
        description="Per-class intersection over union of two label maps.",
        mistakes=[
            Mistake("You divided by the true pixels only (that is the recall); IoU divides by the union of the "
                    "true and the predicted pixels.", _iou_recall),
            Mistake("You divided by the predicted pixels only (the precision); IoU divides by the union.",
                    _iou_precision),
            Mistake("That is the Dice coefficient, 2|T and P| / (|T| + |P|); IoU is |T and P| / |T or P|.",
                    _iou_dice),
            Mistake("|T or P| = |T| + |P| - |T and P|: the pixels in both are counted twice otherwise.",
                    _iou_sum_union),
        ],
    ),
    Exercise(
        id="05_segmentation.transpose_out_size",
        reference=transpose_out_size,
        public_cases=[
            Case({"n": 2, "k": 2, "s": 2, "p": 0, "output_padding": 0}, "the U-Net's 2x2 up-convolution", (4,)),
            Case({"n": 4, "k": 3, "s": 2, "p": 1, "output_padding": 1}, "the chapter's check: 4 -> 8", (8,)),
            Case({"n": 5, "k": 3, "s": 1, "p": 1, "output_padding": 0}, "stride 1, 'same' padding", (5,)),
        ],
        hidden_cases=_size_hidden,
        output_names=("n_out",),
        description="Output length (n - 1) s - 2p + k + output_padding of a transposed convolution.",
        mistakes=[
            Mistake("That is the output size of an ordinary convolution; a transposed convolution goes the "
                    "other way: (n - 1) s - 2p + k + output_padding.", _size_conv_formula),
            Mistake("n inputs are n - 1 strides apart: the span is (n - 1) s, plus the kernel k.", _size_n_times_s),
            Mistake("In a transposed convolution the padding is cropped from the output: subtract 2p.",
                    _size_plus_padding),
            Mistake("Add output_padding: the extra rows at the bottom (or columns at the right).",
                    _size_no_output_padding),
        ],
    ),
    Exercise(
        id="05_segmentation.conv_transpose_single",
        reference=conv_transpose_single,
        public_cases=[
            Case({"X": _X2, "K": _K2, "stride": 1, "padding": 0}, "stride 1: copies overlap and add",
                 (np.array([[1.0, 3, 2], [4, 9, 4], [3, 4, 0]]),)),
            Case({"X": _X2, "K": _K2, "stride": 2, "padding": 0}, "stride 2: copies tile",
                 (np.array([[1.0, 1, 2, 2], [1, 0, 2, 0], [3, 3, 4, 4], [3, 0, 4, 0]]),)),
            Case({"X": _X2, "K": np.array([[1.0, 2, 0], [0, 1, 1], [2, 0, 1]]), "stride": 2, "padding": 1},
                 "stride 2, padding 1 cropped on every side"),
        ],
        hidden_cases=_transpose_hidden,
        output_names=("Y",),
        description="Single-channel transposed convolution: scatter X[i, j] K at (i s, j s), add, crop p.",
        mistakes=[
            Mistake("Where kernel copies overlap, their values add up (+=); you overwrote them (=).",
                    _transpose_overwrite),
            Mistake("Do not flip the kernel: each input pixel adds X[i, j] * K as it is.", _transpose_flipped),
            Mistake("The padding p is cropped from every side: p rows at the top and at the bottom, p columns at "
                    "the left and at the right.", _transpose_crop_once),
        ],
    ),
]
