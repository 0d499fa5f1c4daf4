"""Chapter 5: the building blocks of semantic segmentation, from scratch.

Up-sampling (nearest neighbour, bed of nails, max-unpooling with the pooling indices), the
transposed convolution (scatter form, and as a correlation of the zero-stuffed input), the
metrics of a label map (pixel accuracy, confusion matrix, IoU, Dice) and, for instance
segmentation, pasting a box-sized soft mask into the image and the IoU of two masks.

Layout (PyTorch's): a batch of maps is (N, C, H, W); a label map is any integer array of class
ids 0..K-1; a transposed-convolution weight is (C_in, C_out, kh, kw), as in ``nn.ConvTranspose2d``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .cnn import _pair, conv2d_forward
from .validation import as_array, as_float_array, as_int_array, check_int, check_positive_int, check_same_shape

# ---------------------------------------------------------------- up-sampling


def _maps(x, name: str) -> np.ndarray:
    """A (H, W) map or a stack (..., H, W) of them, up to (N, C, H, W), as float64."""
    return as_float_array(x, name, ndim=(2, 3, 4))


def upsample_nearest(x, factor: int = 2) -> np.ndarray:
    """Nearest-neighbour up-sampling: every value is copied into an f x f block.

    Y[..., i, j] = X[..., i // f, j // f];  x: (..., H, W) -> (..., f H, f W).
    """
    x, f = _maps(x, "x"), check_positive_int(factor, "factor")
    return np.repeat(np.repeat(x, f, axis=-2), f, axis=-1)


def upsample_bed_of_nails(x, factor: int = 2) -> np.ndarray:
    """Bed-of-nails up-sampling: each value goes to the top-left corner of its f x f block, zeros elsewhere.

    Y[..., f i, f j] = X[..., i, j], all other entries 0;  x: (..., H, W) -> (..., f H, f W).
    """
    x, f = _maps(x, "x"), check_positive_int(factor, "factor")
    y = np.zeros(x.shape[:-2] + (f * x.shape[-2], f * x.shape[-1]))
    y[..., ::f, ::f] = x
    return y


def maxpool_with_indices(x, size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over non-overlapping size x size windows, with the flat index of each winner.

    x: (N, C, H, W) -> (Y, indices), both (N, C, H // s, W // s); indices[n, c, i, j] = r W + q
    where (r, q) is the row and column of the window's first maximum in row-major order, the
    convention of ``F.max_pool2d(..., return_indices=True)``. Leftover rows and columns are dropped.
    """
    x, s = as_float_array(x, "x", ndim=4), check_positive_int(size, "size")
    N, C, H, W = x.shape
    if H < s or W < s:
        raise ValueError(f"x must have height and width >= size {s}, got shape {x.shape}")
    h, w = H // s, W // s
    blocks = x[:, :, :h * s, :w * s].reshape(N, C, h, s, w, s).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(N, C, h, w, s * s)                          # (N, C, h, w, s^2)
    winner = blocks.argmax(axis=-1)                                      # first maximum wins
    rows = np.arange(h)[:, None] * s + winner // s
    cols = np.arange(w)[None, :] * s + winner % s
    return np.take_along_axis(blocks, winner[..., None], -1)[..., 0], rows * W + cols


def max_unpool(y, indices, output_size) -> np.ndarray:
    """Max-unpooling: each pooled value returns to the position its maximum came from, zeros elsewhere.

    y, indices: (N, C, h, w) from :func:`maxpool_with_indices`; output_size (H, W) ->
    (N, C, H, W) with X[n, c].flat[indices[n, c, i, j]] = y[n, c, i, j].
    """
    y = as_float_array(y, "y", ndim=4)
    indices = as_int_array(indices, "indices", shape=y.shape)
    H, W = _pair(output_size, "output_size", 1)
    if indices.size and (indices.min() < 0 or indices.max() >= H * W):
        raise ValueError(f"indices must lie in 0..{H * W - 1} for output_size {(H, W)}, "
                         f"got {indices.min()} to {indices.max()}")
    out = np.zeros((*y.shape[:2], H * W))
    flat = indices.reshape(*y.shape[:2], -1)
    np.put_along_axis(out, flat, y.reshape(*y.shape[:2], -1), axis=-1)
    return out.reshape(*y.shape[:2], H, W)


# ---------------------------------------------------------------- transposed convolution

def conv_transpose_out_size(n: int, k: int, s: int = 1, p: int = 0, output_padding: int = 0) -> int:
    """Output length of a transposed convolution along one axis: (n - 1) s - 2p + k + output_padding.

    It inverts the size rule of a convolution: a convolution with kernel k, stride s and padding p
    maps this length back to n. ``output_padding`` (< s) picks among the s lengths that all map to n.
    """
    n, k = check_positive_int(n, "n"), check_positive_int(k, "k")
    s, p = check_positive_int(s, "s"), check_int(p, "p", minimum=0)
    op = check_int(output_padding, "output_padding", minimum=0, maximum=s - 1)
    size = (n - 1) * s - 2 * p + k + op
    if size < 1:
        raise ValueError(f"padding p={p} crops everything: (n - 1) s - 2p + k + output_padding = {size}")
    return size


def _transpose_args(x, weight, bias, stride, padding, output_padding):
    x = as_float_array(x, "x", ndim=4)
    weight = as_float_array(weight, "weight", ndim=4)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must be (C_in={x.shape[1]}, C_out, kh, kw) for x of shape {x.shape}, "
                         f"got {weight.shape}")
    if 0 in weight.shape or 0 in x.shape[1:]:
        raise ValueError(f"x {x.shape} and weight {weight.shape} must have positive channels and sides")
    c_out = weight.shape[1]
    bias = np.zeros(c_out) if bias is None else as_float_array(bias, "bias", shape=(c_out,))
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    op = _pair(output_padding, "output_padding", 0)
    out = tuple(conv_transpose_out_size(n, k, s, p, o)
                for n, k, s, p, o in zip(x.shape[2:], weight.shape[2:], stride, padding, op))
    return x, weight, bias, stride, padding, op, out


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0) -> np.ndarray:
    """Transposed convolution, scatter form: every input pixel adds a weighted copy of the kernel.

    Z[n, d, i s + u, j s + v] += sum_c x[n, c, i, j] weight[c, d, u, v] on a canvas of
    ((H - 1) s + k + op) per side, then Y = Z cropped by p at the top/left, plus the bias.
    x: (N, C_in, H, W), weight: (C_in, C_out, kh, kw), bias: (C_out,) ->
    Y: (N, C_out, (H - 1) s_h - 2 p_h + kh + op_h, ...), as ``F.conv_transpose2d``.
    """
    x, weight, bias, (sh, sw), (ph, pw), (oh, ow), out = _transpose_args(x, weight, bias, stride, padding,
                                                                         output_padding)
    N, _, H, W = x.shape
    kh, kw = weight.shape[2:]
    Z = np.zeros((N, weight.shape[1], (H - 1) * sh + kh + oh, (W - 1) * sw + kw + ow))
    for u in range(kh):          # one shifted, strided add per kernel entry (kh kw of them)
        for v in range(kw):
            Z[:, :, u:u + (H - 1) * sh + 1:sh, v:v + (W - 1) * sw + 1:sw] += \
                np.einsum("nchw,cd->ndhw", x, weight[:, :, u, v])
    return Z[:, :, ph:ph + out[0], pw:pw + out[1]] + bias[None, :, None, None]


def conv_transpose2d_as_conv(x, weight, bias=None, stride=1, padding=0, output_padding=0) -> np.ndarray:
    """The same transposed convolution as an ordinary convolution of the zero-stuffed input.

    Insert s - 1 zeros between input pixels (bed of nails without the trailing zeros), pad by
    k - 1 - p (plus op at the bottom/right), and correlate with the kernel flipped in space and with
    its two channel axes swapped: weight (C_in, C_out, kh, kw) -> (C_out, C_in, kh, kw)[..., ::-1, ::-1].
    """
    x, weight, bias, (sh, sw), (ph, pw), (oh, ow), _ = _transpose_args(x, weight, bias, stride, padding,
                                                                       output_padding)
    N, C, H, W = x.shape
    kh, kw = weight.shape[2:]
    stuffed = np.zeros((N, C, (H - 1) * sh + 1, (W - 1) * sw + 1))
    stuffed[:, :, ::sh, ::sw] = x
    top, left = kh - 1 - ph, kw - 1 - pw
    # negative padding (p > k - 1) means cropping; do both with one slice of a generously padded map
    big = max(0, top, left) + max(oh, ow)
    padded = np.pad(stuffed, [(0, 0), (0, 0), (big, big), (big, big)])
    padded = padded[:, :, big - top:big + stuffed.shape[2] + top + oh, big - left:big + stuffed.shape[3] + left + ow]
    flipped = weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    return conv2d_forward(padded, flipped, bias)[0]


def conv_transpose2d_torch(x, weight, bias=None, stride=1, padding=0, output_padding=0) -> np.ndarray:
    """The twin of :func:`conv_transpose2d` with ``torch.nn.functional.conv_transpose2d`` (float64)."""
    x, weight, bias, stride, padding, op, _ = _transpose_args(x, weight, bias, stride, padding, output_padding)
    y = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                                             stride=stride, padding=padding, output_padding=op)
    return y.numpy()


# ---------------------------------------------------------------- metrics of a label map

def _label_pair(y_true, y_pred, n_classes):
    n_classes = check_positive_int(n_classes, "n_classes")
    y_true, y_pred = as_int_array(y_true, "y_true"), as_int_array(y_pred, "y_pred")
    check_same_shape(y_true, y_pred, "y_true", "y_pred")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} must hold class ids in 0..{n_classes - 1}, got {y.min()} to {y.max()}")
    return y_true.reshape(-1), y_pred.reshape(-1), n_classes


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Pixel counts M[a, b] = #{pixels of true class a predicted as class b}: (K, K) int64.

    y_true, y_pred: label maps of one shape (any: (H, W), (N, H, W), ...), ids in 0..K-1.
    """
    y_true, y_pred, k = _label_pair(y_true, y_pred, n_classes)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def pixel_accuracy(y_true, y_pred, n_classes: int) -> float:
    """Fraction of pixels whose predicted class is the true one: trace(M) / sum(M)."""
    M = confusion_matrix(y_true, y_pred, n_classes)
    if M.sum() == 0:
        raise ValueError("pixel accuracy needs at least one pixel, got empty label maps")
    return float(np.trace(M) / M.sum())


def iou_from_confusion(M) -> np.ndarray:
    """Per-class IoU_c = TP / (TP + FP + FN) = M[c, c] / (row sum + column sum - M[c, c]): (K,).

    A class absent from both maps (union 0) gets NaN: it has no IoU, and means skip it.
    """
    M = as_int_array(M, "M", ndim=2)
    if M.shape[0] != M.shape[1] or (M.size and M.min() < 0):
        raise ValueError(f"M must be a square matrix of counts >= 0, got shape {M.shape}")
    tp = np.diag(M).astype(float)
    union = M.sum(0) + M.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)


def per_class_iou(y_true, y_pred, n_classes: int) -> np.ndarray:
    """IoU_c = |true_c AND pred_c| / |true_c OR pred_c| for c = 0..K-1 (NaN where the union is empty)."""
    return iou_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def mean_iou(y_true, y_pred, n_classes: int) -> float:
    """Mean of the per-class IoU over the classes present in y_true or y_pred (counts pooled over all maps)."""
    iou = per_class_iou(y_true, y_pred, n_classes)
    if np.isnan(iou).all():
        raise ValueError("mean IoU needs at least one pixel, got empty label maps")
    return float(np.nanmean(iou))


def per_class_dice(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Dice_c = 2 |true_c AND pred_c| / (|true_c| + |pred_c|) = 2 TP / (2 TP + FP + FN): (K,), NaN if both empty.

    Dice = 2 IoU / (1 + IoU): the same ranking as IoU, but kinder to small overlaps.
    """
    M = confusion_matrix(y_true, y_pred, n_classes)
    tp, total = np.diag(M).astype(float), (M.sum(0) + M.sum(1)).astype(float)
    return np.where(total > 0, 2 * tp / np.where(total > 0, total, 1), np.nan)


# ---------------------------------------------------------------- instance masks (Mask R-CNN in concept)

def paste_mask(mask, box, image_shape, threshold: float = 0.5) -> np.ndarray:
    """Paste an m x m soft mask predicted for a box into a full (H, W) boolean mask.

    The mask is resized bilinearly to the box (x0, y0, x1, y1), integer pixel edges, sampling at
    pixel centres (``F.interpolate(mode="bilinear", align_corners=False)``), thresholded, and
    placed; the part of the box outside the image is dropped. mask: (m, m') in [0, 1].
    """
    mask = as_float_array(mask, "mask", ndim=2, allow_empty=False)
    if mask.min() < 0 or mask.max() > 1:
        raise ValueError(f"mask must hold probabilities in [0, 1], got {mask.min():.3g} to {mask.max():.3g}")
    x0, y0, x1, y1 = (int(v) for v in as_int_array(box, "box", shape=(4,)))
    H, W = _pair(image_shape, "image_shape", 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box must have x1 > x0 and y1 > y0, got {[x0, y0, x1, y1]}")
    threshold = float(as_float_array(threshold, "threshold", shape=()))
    resized = torch.nn.functional.interpolate(torch.from_numpy(mask)[None, None], size=(y1 - y0, x1 - x0),
                                              mode="bilinear", align_corners=False)[0, 0].numpy()
    full = np.zeros((H, W), dtype=bool)
    r0, r1, c0, c1 = max(y0, 0), min(y1, H), max(x0, 0), min(x1, W)
    if r0 < r1 and c0 < c1:
        full[r0:r1, c0:c1] = resized[r0 - y0:r1 - y0, c0 - x0:c1 - x0] >= threshold
    return full


def mask_iou(masks_a, masks_b) -> np.ndarray:
    """Pairwise IoU of boolean masks: (A, H, W) and (B, H, W) -> (A, B); 0 where both masks are empty."""
    a = as_array(masks_a, "masks_a", kind="bool", ndim=3)
    b = as_array(masks_b, "masks_b", kind="bool", ndim=3)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"masks_a and masks_b must have the same (H, W), got {a.shape[1:]} and {b.shape[1:]}")
    fa, fb = a.reshape(len(a), -1).astype(np.int64), b.reshape(len(b), -1).astype(np.int64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


# ---------------------------------------------------------------- figures

def plot_transpose_overlap(kernel: int = 3, stride: int = 2, n: int = 4) -> plt.Figure:
    """How often each output pixel of a transposed convolution is written: ones in, ones as kernel.

    Uneven counts (kernel size not a multiple of the stride) are the source of checkerboard artefacts.
    """
    k, s, n = check_positive_int(kernel, "kernel"), check_positive_int(stride, "stride"), check_positive_int(n, "n")
    counts = conv_transpose2d(np.ones((1, 1, n, n)), np.ones((1, 1, k, k)), stride=s)[0, 0]
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    top = max(9.0, counts.max())     # one colour scale for every frame up to k = 3, s = 1
    shown = ax.imshow(counts, cmap="viridis", vmin=0, vmax=top)
    if counts.shape[0] <= 16:
        for (i, j), c in np.ndenumerate(counts):
            ax.text(j, i, int(c), ha="center", va="center", fontsize=7,
                    color="white" if c < 0.55 * top else "black")
    fig.colorbar(shown, ax=ax, label="kernel copies added")
    uneven = "even" if k % s == 0 else "UNEVEN (checkerboard)"
    ax.set(title=f"{n}x{n} ones, {k}x{k} ones kernel, stride {s}: {counts.shape[0]}x{counts.shape[1]}\n"
                 f"interior coverage {uneven}", xticks=[], yticks=[])
    fig.tight_layout()
    return fig
