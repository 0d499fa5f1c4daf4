"""Chapter 4: convolution from scratch, with loops to understand it and im2col to make it fast.

Layout (PyTorch's): a batch of images X is (N, C, H, W), a filter bank W is (F, C, kh, kw), a bias
b is (F,). Deep-learning "convolution" is cross-correlation: the kernel slides without a flip,

    Y[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] Xp[n, c, i s_h + u, j s_w + v],

where Xp is X zero-padded by p on every side. Each output side is floor((n + 2p - k) / s) + 1.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .validation import as_float_array, check_int, check_positive_int


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair (rows, columns)."""
    if isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.asarray(value, dtype=object).reshape(-1)) if not isinstance(value, (tuple, list)) \
            else list(value)
        if len(items) != 2:
            raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}")
        return check_int(items[0], name, minimum=minimum), check_int(items[1], name, minimum=minimum)
    value = check_int(value, name, minimum=minimum)
    return value, value


def conv_out_size(n: int, k: int, p: int = 0, s: int = 1) -> int:
    """Output length floor((n + 2p - k) / s) + 1 of a convolution along one axis.

    n: input length, k: kernel length, p: zero padding on each side, s: stride. The kernel must fit
    in the padded input (k <= n + 2p).
    """
    n, k = check_positive_int(n, "n"), check_positive_int(k, "k")
    p, s = check_int(p, "p", minimum=0), check_positive_int(s, "s")
    if k > n + 2 * p:
        raise ValueError(f"the kernel (k={k}) must fit in the padded input (n + 2p = {n + 2 * p})")
    return (n + 2 * p - k) // s + 1


def conv_out_shape(hw, kernel, padding=0, stride=1) -> tuple[int, int]:
    """(H_out, W_out) of a convolution or pooling on an H x W input; each argument an int or a pair."""
    (h, w), (kh, kw) = _pair(hw, "hw", 1), _pair(kernel, "kernel", 1)
    (ph, pw), (sh, sw) = _pair(padding, "padding", 0), _pair(stride, "stride", 1)
    return conv_out_size(h, kh, ph, sh), conv_out_size(w, kw, pw, sw)


def receptive_field(layers) -> int:
    """Side of the input region one output unit sees after a stack of (kernel, stride) layers.

    r_L = 1 + sum_l (k_l - 1) prod_{i < l} s_i: each layer widens the view by k_l - 1 steps of the
    layer's input grid, and a step there is prod_{i < l} s_i input pixels. Padding does not change r.
    """
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"layers must be a non-empty list of (kernel, stride) pairs, got {layers!r}")
    r, jump = 1, 1
    for i, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise ValueError(f"layers[{i}] must be a (kernel, stride) pair, got {layer!r}")
        k = check_positive_int(layer[0], f"layers[{i}] kernel")
        s = check_positive_int(layer[1], f"layers[{i}] stride")
        r, jump = r + (k - 1) * jump, jump * s
    return r


# ---------------------------------------------------------------- one channel, loops (for understanding)

def _image(X, name: str, ndim: int) -> np.ndarray:
    return as_float_array(X, name, ndim=ndim, allow_empty=False)


def pad2d(X, padding=0) -> np.ndarray:
    """Zero-pad the last two axes of X by (p_h, p_w) on each side."""
    X = as_float_array(X, "X", ndim=(2, 3, 4))
    ph, pw = _pair(padding, "padding", 0)
    return np.pad(X, [(0, 0)] * (X.ndim - 2) + [(ph, ph), (pw, pw)])


def corr2d(X, K, padding=0, stride=1) -> np.ndarray:
    """Cross-correlation of one 2-D image with one kernel: Y[i, j] = sum_uv K[u, v] Xp[i s_h + u, j s_w + v].

    X: (H, W), K: (kh, kw); padding and stride: an int or a pair (rows, columns). No kernel flip.
    """
    X, K = _image(X, "X", 2), _image(K, "K", 2)
    stride = _pair(stride, "stride", 1)
    h_out, w_out = conv_out_shape(X.shape, K.shape, padding, stride)
    Xp = pad2d(X, padding)
    Y = np.zeros((h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            r, c = i * stride[0], j * stride[1]
            Y[i, j] = np.sum(Xp[r:r + K.shape[0], c:c + K.shape[1]] * K)
    return Y


def conv2d_true(X, K, padding=0, stride=1) -> np.ndarray:
    """True (mathematical) convolution: correlation with the kernel flipped in both axes."""
    return corr2d(X, _image(K, "K", 2)[::-1, ::-1], padding, stride)


def corr2d_multi(X, K, padding=0, stride=1) -> np.ndarray:
    """Correlation of a C-channel image with a C-channel kernel, summed over channels: (C,H,W),(C,kh,kw) -> 2-D."""
    X, K = _image(X, "X", 3), _image(K, "K", 3)
    if X.shape[0] != K.shape[0]:
        raise ValueError(f"X and K must have the same number of channels, got {X.shape[0]} and {K.shape[0]}")
    return sum(corr2d(x, k, padding, stride) for x, k in zip(X, K))


# ---------------------------------------------------------------- batches: loops, then im2col

def _conv_args(X, W, b, stride, padding):
    # float32 X and W stay float32 (twice as fast, as torch's default); everything else is float64
    single = all(getattr(a, "dtype", None) == np.float32 for a in (X, W))
    X = as_float_array(X, "X", ndim=4)
    W = as_float_array(W, "W", ndim=4, allow_empty=False)
    if X.shape[1] != W.shape[1]:
        raise ValueError(f"X has {X.shape[1]} channels but W expects {W.shape[1]} (W: (F, C, kh, kw))")
    b = np.zeros(W.shape[0]) if b is None else as_float_array(b, "b", shape=(W.shape[0],))
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    if min(X.shape[2:]) == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one channel and images of positive height and width, "
                         f"got shape {X.shape}")
    out = conv_out_shape(X.shape[2:], W.shape[2:], padding, stride)
    if single:
        X, W, b = X.astype(np.float32), W.astype(np.float32), b.astype(np.float32)
    return X, W, b, stride, padding, out


def conv2d_naive(X, W, b=None, stride=1, padding=0) -> np.ndarray:
    """Batched multi-channel convolution (correlation) by explicit loops over n, f, i, j.

    X: (N, C, H, W), W: (F, C, kh, kw), b: (F,) or None -> Y: (N, F, H_out, W_out).
    """
    X, W, b, (sh, sw), padding, (h_out, w_out) = _conv_args(X, W, b, stride, padding)
    Xp, (F, _, kh, kw) = pad2d(X, padding), W.shape
    Y = np.zeros((len(X), F, h_out, w_out))
    for n in range(len(X)):
        for f in range(F):
            for i in range(h_out):
                for j in range(w_out):
                    patch = Xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    Y[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return Y


def im2col(Xp: np.ndarray, kh: int, kw: int, stride: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """Unfold every kh x kw patch of padded images into a column: (N, C, Hp, Wp) -> (C kh kw, N L).

    Column n L + i W_out + j holds the patch of image n under output position (i, j), in (c, u, v)
    order, so the whole convolution is one matrix product W.reshape(F, -1) @ cols.
    """
    N, C = Xp.shape[:2]
    (sh, sw), (h_out, w_out) = stride, out
    cols = np.empty((C, kh, kw, N, h_out, w_out), dtype=Xp.dtype)
    for u in range(kh):  # kh * kw strided copies instead of N L small patch copies
        for v in range(kw):
            cols[:, u, v] = Xp[:, :, u:u + sh * h_out:sh, v:v + sw * w_out:sw].transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * h_out * w_out)


def col2im(cols: np.ndarray, padded_shape, kh: int, kw: int, stride, out) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column back onto its patch (overlaps accumulate)."""
    N, C = padded_shape[:2]
    (sh, sw), (h_out, w_out) = stride, out
    cols = cols.reshape(C, kh, kw, N, h_out, w_out)
    Xp = np.zeros(padded_shape, dtype=cols.dtype)
    for u in range(kh):
        for v in range(kw):
            Xp[:, :, u:u + sh * h_out:sh, v:v + sw * w_out:sw] += cols[:, u, v].transpose(1, 0, 2, 3)
    return Xp


def conv2d_forward(X, W, b=None, stride=1, padding=0) -> tuple[np.ndarray, dict]:
    """Convolution (correlation) by im2col and one matrix product; returns (Y, cache for the backward pass).

    X: (N, C, H, W), W: (F, C, kh, kw), b: (F,) or None -> Y: (N, F, H_out, W_out). Float64,
    or float32 when X and W are both float32.
    """
    X, W, b, stride, padding, out = _conv_args(X, W, b, stride, padding)
    Xp = np.pad(X, [(0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2])
    cols = im2col(Xp, W.shape[2], W.shape[3], stride, out)              # (C kh kw, N L)
    Y = W.reshape(len(W), -1) @ cols + b[:, None]                        # (F, N L): one GEMM
    cache = {"cols": cols, "W": W, "padded_shape": Xp.shape, "stride": stride, "padding": padding, "out": out}
    return Y.reshape(len(W), len(X), *out).transpose(1, 0, 2, 3).copy(), cache


def conv2d_backward(dY, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dX, dW, db) of a cost C given dY = dC/dY and the cache of :func:`conv2d_forward`.

    With dY as a matrix (F, N L): dW = dY cols^T, db[f] = sum_{n, i, j} dY[n, f, i, j], and
    dX = col2im(W^T dY) cropped by the padding: the backward pass of a convolution is a correlation
    of dY with the flipped kernel (a "transposed convolution").
    """
    W, out = cache["W"], cache["out"]
    dY = as_float_array(dY, "dY", shape=(cache["padded_shape"][0], len(W), *out)).astype(W.dtype, copy=False)
    dY2 = dY.transpose(1, 0, 2, 3).reshape(len(W), -1)                  # (F, N L)
    dW = (dY2 @ cache["cols"].T).reshape(W.shape)
    dXp = col2im(W.reshape(len(W), -1).T @ dY2, cache["padded_shape"], W.shape[2], W.shape[3],
                 cache["stride"], out)
    (ph, pw), (Hp, Wp) = cache["padding"], cache["padded_shape"][2:]
    return dXp[:, :, ph:Hp - ph, pw:Wp - pw].copy(), dW, dY2.sum(axis=1)


def conv2d_backward_naive(dY, X, W, stride=1, padding=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same gradients by loops: every output Y[n, f, i, j] sends dY[n, f, i, j] W[f] back to its patch."""
    X, W, _, (sh, sw), padding, out = _conv_args(X, W, None, stride, padding)
    dY = as_float_array(dY, "dY", shape=(len(X), len(W), *out))
    Xp, (_, _, kh, kw) = pad2d(X, padding), W.shape
    dXp, dW = np.zeros_like(Xp), np.zeros_like(W)
    for n in range(len(X)):
        for f in range(len(W)):
            for i in range(out[0]):
                for j in range(out[1]):
                    window = (n, slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                    dXp[window] += dY[n, f, i, j] * W[f]
                    dW[f] += dY[n, f, i, j] * Xp[window]
    (ph, pw), (Hp, Wp) = padding, Xp.shape[2:]
    return dXp[:, :, ph:Hp - ph, pw:Wp - pw].copy(), dW, dY.sum(axis=(0, 2, 3))


def conv2d_torch(X, W, b=None, stride=1, padding=0) -> np.ndarray:
    """The twin of :func:`conv2d_forward` with torch.nn.functional.conv2d (float64); same inputs accepted."""
    X, W, b, stride, padding, _ = _conv_args(X, W, b, stride, padding)
    Y = torch.nn.functional.conv2d(torch.from_numpy(X), torch.from_numpy(W), torch.from_numpy(b),
                                   stride=stride, padding=padding)
    return Y.numpy()


# ---------------------------------------------------------------- max pooling

def maxpool2d_forward(X, size=2, stride=None) -> tuple[np.ndarray, dict]:
    """Max pooling of each channel over size x size windows: Y[n, c, i, j] = max of the window at (i s, j s).

    X: (N, C, H, W) -> Y: (N, C, H_out, W_out), stride defaults to the size. The cache records
    which element of each window won (the first one in row-major order on ties, as PyTorch does).
    """
    X = as_float_array(X, "X", ndim=4)
    (kh, kw) = _pair(size, "size", 1)
    stride = (kh, kw) if stride is None else _pair(stride, "stride", 1)
    if min(X.shape[2:]) == 0:
        raise ValueError(f"X must have images of positive height and width, got shape {X.shape}")
    out = conv_out_shape(X.shape[2:], (kh, kw), 0, stride)
    N, C = X.shape[:2]
    cols = im2col(X.reshape(N * C, 1, *X.shape[2:]), kh, kw, stride, out)    # (kh kw, N C L)
    winner = cols.argmax(axis=0)                                          # (N C L,)
    Y = cols[winner, np.arange(cols.shape[1])]
    cache = {"winner": winner, "shape": X.shape, "size": (kh, kw), "stride": stride, "out": out}
    return Y.reshape(N, C, *out), cache


def maxpool2d_backward(dY, cache: dict) -> np.ndarray:
    """dC/dX of max pooling: each dY goes to the one element that won its window; overlaps add up."""
    N, C, H, W = cache["shape"]
    (kh, kw), out = cache["size"], cache["out"]
    dY = as_float_array(dY, "dY", shape=(N, C, *out)).reshape(-1)
    dcols = np.zeros((kh * kw, dY.size))
    dcols[cache["winner"], np.arange(dY.size)] = dY                       # one winner per window
    return col2im(dcols, (N * C, 1, H, W), kh, kw, cache["stride"], out).reshape(N, C, H, W)


# ---------------------------------------------------------------- hand-made filters and the explorers

FILTERS = {
    "identity": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": np.full((3, 3), 1 / 9),
    "vertical edges (Sobel x)": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "horizontal edges (Sobel y)": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
}


def plot_sliding_window(kernel: int = 3, stride: int = 1, padding: int = 0, n: int = 7, position: int = 0):
    """Draw an n x n input (padding shaded), the kernel window at output ``position``, and the output grid."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n, kernel = check_positive_int(n, "n"), check_positive_int(kernel, "kernel")
    stride, padding = check_positive_int(stride, "stride"), check_int(padding, "padding", minimum=0)
    m = conv_out_size(n, kernel, padding, stride)
    position = check_int(position, "position", minimum=0) % (m * m)
    i, j = divmod(position, m)
    side = n + 2 * padding
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [side, max(m, 3)]})
    for r in range(side):
        for c in range(side):
            inside = padding <= r < padding + n and padding <= c < padding + n
            ax_in.add_patch(Rectangle((c, side - 1 - r), 1, 1, fc="white" if inside else "#d9d9d9", ec="gray"))
    ax_in.add_patch(Rectangle((j * stride, side - i * stride - kernel), kernel, kernel, fc="#1f77b4",
                              alpha=0.35, ec="#1f77b4", lw=3))
    for r in range(m):
        for c in range(m):
            ax_out.add_patch(Rectangle((c, m - 1 - r), 1, 1, fc="#ff7f0e" if (r, c) == (i, j) else "white",
                                       ec="gray"))
    ax_in.set(xlim=(0, side), ylim=(0, side), title=f"input {n}x{n}, padding {padding} (grey)")
    ax_out.set(xlim=(0, max(m, 3)), ylim=(0, max(m, 3)),
               title=f"output {m}x{m} = floor(({n}+2*{padding}-{kernel})/{stride})+1")
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"kernel {kernel}x{kernel}, stride {stride}: the blue window makes the orange output")
    fig.tight_layout()
    return fig


def plot_filter_response(image, filter_name: str = "vertical edges (Sobel x)"):
    """Show a 2-D image, a hand-made 3x3 filter from FILTERS, and their correlation (padding 1)."""
    import matplotlib.pyplot as plt

    if filter_name not in FILTERS:
        raise ValueError(f"filter_name must be one of {sorted(FILTERS)}, got {filter_name!r}")
    image, K = _image(image, "image", 2), FILTERS[filter_name]
    response = corr2d(image, K, padding=1)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 1.4, 3]})
    axes[0].imshow(image, cmap="gray_r")
    axes[1].imshow(K, cmap="RdBu_r", vmin=-np.abs(K).max(), vmax=np.abs(K).max())
    for (u, v), value in np.ndenumerate(K):
        axes[1].text(v, u, f"{value:.2g}", ha="center", va="center", fontsize=9)
    limit = np.abs(response).max() or 1.0
    shown = axes[2].imshow(response, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=axes[2], fraction=0.046)
    for ax, title in zip(axes, ("input image", f"filter: {filter_name}", "response (red +, blue -)")):
        ax.set_title(title, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
