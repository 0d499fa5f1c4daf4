"""Exercises of ``solutions/04_cnn.ipynb``: the output-size formula, correlation with padding and
stride, the multi-channel sum, max-pool backward with overlapping windows, and the parameter count
of a convolutional stack (the last two are not printed in the chapter), easiest first.

Every hidden input is made of small integers, so every answer is exact in floating point: a
flipped kernel, a swapped stride or a gradient sent to a tied loser can never hide behind a
tolerance. Max-pool cases have many ties (values 0..3), which separates "the first maximum in
row-major order" (PyTorch's rule) from "every maximum".
"""
from __future__ import annotations

import math

import numpy as np

from ...cnn import conv_out_size, corr2d, corr2d_multi
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.cnn)


def corr2d_padded_strided(X, K, padding, stride):
    """Cross-correlation of X (H, W) with K (kh, kw), zero padding ``padding`` on every side and
    ``stride`` = (rows, columns)."""
    return corr2d(X, K, padding=padding, stride=tuple(int(s) for s in np.asarray(stride).reshape(-1)))


def _pool_backward(X, dY, size, stride, mode="first"):
    """dC/dX of size x size max pooling of X (H, W) with ``stride``, given dY; ``mode`` picks a slip."""
    X, dY = np.asarray(X, dtype=float), np.asarray(dY, dtype=float)
    dX = np.zeros_like(X)
    for i in range(dY.shape[0]):
        for j in range(dY.shape[1]):
            r, c = i * stride, j * stride
            window = X[r:r + size, c:c + size]
            if mode == "every":
                dX[r:r + size, c:c + size] += dY[i, j]
            elif mode == "average":
                dX[r:r + size, c:c + size] += dY[i, j] / size**2
            elif mode == "ties":
                dX[r:r + size, c:c + size] += dY[i, j] * (window == window.max())
            else:
                u, v = divmod(int(window.argmax()), size)
                if mode == "assign":
                    dX[r + u, c + v] = dY[i, j]  # = instead of +=: overlapping windows overwrite
                else:
                    dX[r + u, c + v] += dY[i, j]
    return dX


def maxpool_backward(X, dY, size, stride):
    """Gradient of max pooling: each dY[i, j] goes to the first maximum of its window; overlaps add."""
    return _pool_backward(X, dY, size, stride)


def conv_stack_params(channels, k):
    """Parameters of a stack of k x k convolutions with biases: sum_l c_l (c_{l-1} k^2 + 1)."""
    c = [int(v) for v in np.asarray(channels).reshape(-1)]
    return int(sum(c_out * (c_in * k * k + 1) for c_in, c_out in zip(c, c[1:])))


# ---------------------------------------------------------------- wrong versions

def _out_size_ceil(n, k, p, s):
    return math.ceil((n + 2 * p - k) / s) + 1


def _out_size_no_plus_one(n, k, p, s):
    return (n + 2 * p - k) // s


def _out_size_single_padding(n, k, p, s):
    return (n + p - k) // s + 1


def _corr_flipped(X, K, padding, stride):
    return corr2d_padded_strided(X, np.asarray(K, dtype=float)[::-1, ::-1], padding, stride)


def _corr_swapped_stride(X, K, padding, stride):
    return corr2d_padded_strided(X, K, padding, np.asarray(stride).reshape(-1)[::-1])


def _corr_pad_one_side(X, K, padding, stride):
    Xp = np.pad(np.asarray(X, dtype=float), ((padding, 0), (padding, 0)))  # top and left only
    K = np.asarray(K, dtype=float)
    (sr, sc), (kh, kw) = (int(s) for s in np.asarray(stride).reshape(-1)), K.shape
    Y = np.zeros(((Xp.shape[0] - kh) // sr + 1, (Xp.shape[1] - kw) // sc + 1))
    for i in range(Y.shape[0]):  # a loop, as a learner writes it: a kernel that no longer fits gives 0 rows
        for j in range(Y.shape[1]):
            Y[i, j] = np.sum(Xp[i * sr:i * sr + kh, j * sc:j * sc + kw] * K)
    return Y


def _multi_mean(X, K):
    return corr2d_multi(X, K) / np.shape(X)[0]


def _multi_flipped(X, K):
    return corr2d_multi(X, np.asarray(K, dtype=float)[:, ::-1, ::-1])


def _multi_first_channel(X, K):
    return corr2d(np.asarray(X)[0], np.asarray(K)[0])


def _params_without_bias(channels, k):
    c = [int(v) for v in np.asarray(channels).reshape(-1)]
    return int(sum(c_out * c_in * k * k for c_in, c_out in zip(c, c[1:])))


def _params_without_input_channels(channels, k):
    c = [int(v) for v in np.asarray(channels).reshape(-1)]
    return int(sum(c_out * (k * k + 1) for c_out in c[1:]))


def _params_k_not_squared(channels, k):
    c = [int(v) for v in np.asarray(channels).reshape(-1)]
    return int(sum(c_out * (c_in * k + 1) for c_in, c_out in zip(c, c[1:])))


# ---------------------------------------------------------------- hidden cases

def _out_size_hidden(rng):
    cases = []
    for _ in range(12):
        k, p, s = int(rng.integers(1, 8)), int(rng.integers(0, 4)), int(rng.integers(2, 5))
        n = int(rng.integers(max(1, k - 2 * p), 64))
        if (n + 2 * p - k) % s == 0:
            n += 1  # a remainder: floor and ceil differ
        cases.append({"n": n, "k": k, "p": p, "s": s})
    cases += [{"n": 224, "k": 7, "p": 3, "s": 2}, {"n": 227, "k": 11, "p": 0, "s": 4},
              {"n": 5, "k": 5, "p": 0, "s": 1}, {"n": 1, "k": 3, "p": 1, "s": 1}]
    return cases


def _corr_hidden(rng):
    cases = []
    for _ in range(10):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        padding = int(rng.integers(0, 3))
        h, w = int(rng.integers(max(1, kh - 2 * padding), 9)), int(rng.integers(max(1, kw - 2 * padding), 9))
        K = rng.integers(-3, 4, size=(kh, kw))
        K[0, 0], K[-1, -1] = 1, 3  # never symmetric under the flip
        stride = np.array([int(rng.integers(1, 4)), int(rng.integers(1, 4))])
        if stride[0] == stride[1]:
            stride[1] += 1  # a swap of the two strides shows
        cases.append({"X": rng.integers(-5, 6, size=(h, w)), "K": K, "padding": padding, "stride": stride})
    return cases


def _multi_hidden(rng):
    cases = []
    for _ in range(8):
        c, kh, kw = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
        K = rng.integers(-3, 4, size=(c, kh, kw))
        K[:, 0, 0], K[:, -1, -1] = 1, 3
        cases.append({"X": rng.integers(-4, 5, size=(c, int(rng.integers(kh, 8)), int(rng.integers(kw, 8)))),
                      "K": K})
    return cases


def _pool_hidden(rng):
    cases = []
    for size, stride in [(2, 2), (2, 1), (3, 2), (3, 1), (2, 1), (3, 3), (2, 2)]:
        h, w = int(rng.integers(size, 9)), int(rng.integers(size, 9))
        X = rng.integers(0, 4, size=(h, w)).astype(float)  # many ties
        out = ((h - size) // stride + 1, (w - size) // stride + 1)
        cases.append({"X": X, "dY": rng.integers(1, 9, size=out).astype(float), "size": size, "stride": stride})
    # distinct values, stride 2 over an 8 x 8 input: a window that starts at i instead of i * stride
    # (or is cut wrongly) finds its maximum elsewhere
    X = rng.permutation(64).reshape(8, 8).astype(float)
    cases.append({"X": X, "dY": rng.integers(1, 9, size=(4, 4)).astype(float), "size": 2, "stride": 2})
    return cases


def _params_hidden(rng):
    cases = []
    for _ in range(8):
        depth = int(rng.integers(1, 6))
        channels = np.concatenate([[int(rng.choice([1, 3]))], rng.integers(2, 129, size=depth)])
        cases.append({"channels": channels, "k": int(rng.choice([1, 3, 5, 7]))})
    return cases


# ---------------------------------------------------------------- the registry

_X11 = np.array([[0, 1, 3, 5], [1, 4, 6, 8], [1, 2, 3, 4]])
_K11 = np.array([[1, 2], [2, 0]])
_X14 = np.stack([np.array([[3, 2, 1, 1], [2, 0, 2, 3], [2, 1, 2, 1]]), _X11])
_K14 = np.stack([np.array([[3, 1], [1, 0]]), _K11])
_POOL_X = np.array([[1.0, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 1]])
_VGG16 = np.array([3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512])

EXERCISES = [
    Exercise(
        id="04_cnn.conv_out_size",
        reference=conv_out_size,
        public_cases=[
            Case({"n": 28, "k": 5, "p": 0, "s": 1}, "LeNet's C1 on a 28x28 image", (24,)),
            Case({"n": 227, "k": 11, "p": 0, "s": 4}, "AlexNet's first layer", (55,)),
            Case({"n": 28, "k": 5, "p": 0, "s": 2}, "a remainder: (28 - 5) / 2 = 11.5", (12,)),
            Case({"n": 4, "k": 2, "p": 1, "s": 2}, "padding 1 on each side", (3,)),
        ],
        hidden_cases=_out_size_hidden,
        output_names=("n_out",),
        description="Output length floor((n + 2p - k) / s) + 1 of a convolution along one axis.",
        mistakes=[
            Mistake("Round down, not up: a window that would stick out of the padded input is not used.",
                    _out_size_ceil),
            Mistake("Count the first window too: floor((n + 2p - k) / s) steps give one more position.",
                    _out_size_no_plus_one),
            Mistake("The padding p is added on both sides: the padded length is n + 2p.",
                    _out_size_single_padding),
        ],
    ),
    Exercise(
        id="04_cnn.corr2d_padded_strided",
        reference=corr2d_padded_strided,
        public_cases=[
            Case({"X": _X11, "K": _K11, "padding": 0, "stride": np.array([1, 1])}, "the chapter's 3x4 example",
                 (np.array([[4.0, 15, 25], [11, 20, 28]]),)),
            Case({"X": _X11, "K": _K11, "padding": 1, "stride": np.array([1, 1])}, "padding 1",
                 (np.array([[0.0, 0, 2, 6, 10], [0, 4, 15, 25, 21], [2, 11, 20, 28, 16], [2, 5, 8, 11, 4]]),)),
            Case({"X": _X11, "K": _K11, "padding": 1, "stride": np.array([3, 2])},
                 "padding 1, stride 3 down and 2 across", (np.array([[0.0, 2, 10], [2, 8, 4]]),)),
        ],
        hidden_cases=_corr_hidden,
        output_names=("Y",),
        description="2-D cross-correlation with zero padding and a (rows, columns) stride.",
        mistakes=[
            Mistake("You flipped the kernel: that is the true convolution. A CNN layer correlates: "
                    "Y[i, j] = sum K[u, v] X[i s + u, j s + v], no flip.", _corr_flipped),
            Mistake("The strides are swapped: stride[0] moves the window down the rows, stride[1] across "
                    "the columns.", _corr_swapped_stride),
            Mistake("Pad all four sides: p rows above and below, p columns left and right.", _corr_pad_one_side),
        ],
    ),
    Exercise(
        id="04_cnn.corr2d_multi",
        reference=corr2d_multi,
        public_cases=[
            Case({"X": _X14, "K": _K14}, "the chapter's two-channel example",
                 (np.array([[17.0, 22, 31], [19, 23, 39]]),)),
            Case({"X": _X14[:1], "K": _K14[:1]}, "one channel", (np.array([[13.0, 7, 6], [8, 3, 11]]),)),
        ],
        hidden_cases=_multi_hidden,
        output_names=("Y",),
        description="Correlate each channel with its kernel slice and add the C results.",
        mistakes=[
            Mistake("Add the channel results; do not average them.", _multi_mean),
            Mistake("You flipped the kernels: a CNN layer correlates, without a flip.", _multi_flipped),
            Mistake("Every channel contributes: loop over all C channels, not only the first.", _multi_first_channel),
        ],
    ),
    Exercise(
        id="04_cnn.maxpool_backward",
        reference=maxpool_backward,
        public_cases=[
            Case({"X": _POOL_X, "dY": np.array([[10.0, 20], [30, 40]]), "size": 2, "stride": 2},
                 "2x2 windows, stride 2 (the chapter's example)",
                 (np.array([[0.0, 0, 0, 0], [10, 0, 0, 20], [0, 0, 40, 0], [0, 30, 0, 0]]),)),
            Case({"X": np.array([[1.0, 5, 2], [0, 3, 4]]), "dY": np.array([[1.0, 2]]), "size": 2, "stride": 1},
                 "overlapping windows: 5 wins both", (np.array([[0.0, 3, 0], [0, 0, 0]]),)),
            Case({"X": np.zeros((2, 2)), "dY": np.array([[7.0]]), "size": 2, "stride": 2},
                 "a tie: the first maximum wins", (np.array([[7.0, 0], [0, 0]]),)),
        ],
        hidden_cases=_pool_hidden,
        output_names=("dX",),
        description="Backward pass of max pooling: route each dY to its window's first maximum; add overlaps.",
        mistakes=[
            Mistake("Only the element that won the window (the maximum) affects the output: the other "
                    "elements get no gradient.", lambda X, dY, size, stride: _pool_backward(X, dY, size, stride,
                                                                                           "every")),
            Mistake("That is average pooling's gradient (dY / size^2 everywhere); max pooling sends dY only "
                    "to the maximum.", lambda X, dY, size, stride: _pool_backward(X, dY, size, stride, "average")),
            Mistake("On ties only one element is the winner: the first maximum in row-major order "
                    "(np.argmax), as PyTorch does.",
                    lambda X, dY, size, stride: _pool_backward(X, dY, size, stride, "ties")),
            Mistake("When windows overlap, an element can win several of them: add the gradients (+=), do "
                    "not overwrite them.", lambda X, dY, size, stride: _pool_backward(X, dY, size, stride,
                                                                                     "assign")),
        ],
    ),
    Exercise(
        id="04_cnn.conv_stack_params",
        reference=conv_stack_params,
        public_cases=[
            Case({"channels": np.array([1, 6]), "k": 5}, "LeNet's C1", (156,)),
            Case({"channels": np.array([3, 64, 64]), "k": 3}, "VGG's first block", (38720,)),
            Case({"channels": _VGG16, "k": 3}, "all 13 convolutions of VGG16"),
        ],
        hidden_cases=_params_hidden,
        output_names=("n_params",),
        description="Parameters of a stack of k x k convolutions with biases: sum c_l (c_{l-1} k^2 + 1).",
        mistakes=[
            Mistake("Each filter also has a bias: one more parameter per output channel.", _params_without_bias),
            Mistake("A filter spans all input channels: it has c_in k^2 weights, not k^2.",
                    _params_without_input_channels),
            Mistake("A k x k kernel has k^2 weights per input channel, not k.", _params_k_not_squared),
        ],
    ),
]
