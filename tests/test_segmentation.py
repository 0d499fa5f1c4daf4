"""Chapter 5 building blocks against PyTorch, brute-force counts and the curriculum's worked values."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bad_input_table import table_tests
from dlcourse import cnn, segmentation as seg
from dlcourse import segmentation_diagrams as sd

matplotlib.use("Agg")

POOLED = np.array([[4.0, 5], [8, 9]])


# ---------------------------------------------------------------- up-sampling

def test_nearest_and_bed_of_nails_reproduce_the_worked_values():
    np.testing.assert_array_equal(seg.upsample_nearest(POOLED),
                                  [[4, 4, 5, 5], [4, 4, 5, 5], [8, 8, 9, 9], [8, 8, 9, 9]])
    np.testing.assert_array_equal(seg.upsample_bed_of_nails(POOLED),
                                  [[4, 0, 5, 0], [0, 0, 0, 0], [8, 0, 9, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_nearest_matches_torch_interpolate(factor):
    x = np.random.default_rng(factor).normal(size=(2, 3, 4, 5))
    expected = F.interpolate(torch.tensor(x), scale_factor=factor, mode="nearest").numpy()
    np.testing.assert_array_equal(seg.upsample_nearest(x, factor), expected)


def test_bed_of_nails_is_max_unpooling_when_every_maximum_is_top_left():
    x = np.random.default_rng(0).normal(size=(1, 2, 3, 3))
    indices = (np.arange(3)[:, None] * 2 * 6 + np.arange(3)[None, :] * 2)[None, None].repeat(2, axis=1)
    np.testing.assert_array_equal(seg.max_unpool(x, indices, (6, 6)), seg.upsample_bed_of_nails(x))


def test_maxpool_indices_and_unpool_match_torch_with_ties_and_leftovers():
    x = np.random.default_rng(1).integers(0, 3, size=(2, 3, 7, 9)).astype(float)  # many ties
    for size in (2, 3):
        y, idx = seg.maxpool_with_indices(x, size)
        yt, it = F.max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(y, yt.numpy())
        np.testing.assert_array_equal(idx, it.numpy())
        unpooled = F.max_unpool2d(yt, it, size, output_size=(7, 9)).numpy()
        np.testing.assert_array_equal(seg.max_unpool(y, idx, (7, 9)), unpooled)


def test_max_unpool_puts_the_maximum_back_where_it_was():
    x = np.array([[[[1.0, 7, 2, 0], [3, 2, 6, 1], [0, 9, 1, 1], [4, 2, 5, 3]]]])
    y, idx = seg.maxpool_with_indices(x)
    np.testing.assert_array_equal(y[0, 0], [[7, 6], [9, 5]])
    np.testing.assert_array_equal(seg.max_unpool(y, idx, (4, 4))[0, 0],
                                  [[0, 7, 0, 0], [0, 0, 6, 0], [0, 9, 0, 0], [0, 0, 5, 0]])


# ---------------------------------------------------------------- transposed convolution

def _random_transpose_case(rng):
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = tuple(int(p) for p in rng.integers(0, 3, 2))
    output_padding = tuple(int(rng.integers(0, s)) for s in stride)
    kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
    x = rng.normal(size=(int(rng.integers(1, 3)), int(rng.integers(1, 4)), *(int(v) for v in rng.integers(2, 6, 2))))
    w = rng.normal(size=(x.shape[1], int(rng.integers(1, 4)), *kernel))
    return x, w, rng.normal(size=w.shape[1]), stride, padding, output_padding


def test_conv_transpose2d_matches_torch_for_random_strides_paddings_output_paddings_and_channels():
    rng, checked = np.random.default_rng(0), 0
    while checked < 60:
        x, w, b, stride, padding, op = _random_transpose_case(rng)
        if any((n - 1) * s - 2 * p + k + o < 1 for n, k, s, p, o in zip(x.shape[2:], w.shape[2:], stride, padding, op)):
            continue
        expected = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride,
                                      padding=padding, output_padding=op).numpy()
        for fn in (seg.conv_transpose2d, seg.conv_transpose2d_as_conv, seg.conv_transpose2d_torch):
            got = fn(x, w, b, stride, padding, op)
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, atol=1e-12)
        checked += 1


def test_conv_transpose_is_the_backward_pass_of_the_convolution_with_the_same_weight():
    rng = np.random.default_rng(3)
    for stride, padding in [(1, 0), (2, 1), ((2, 3), (0, 1))]:
        X, W = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(4, 3, 3, 2))   # conv: 3 -> 4 channels
        Y, cache = cnn.conv2d_forward(X, W, stride=stride, padding=padding)
        dY = rng.normal(size=Y.shape)
        dX = cnn.conv2d_backward(dY, cache)[0]
        # the transpose maps 4 -> 3 channels with the same (4, 3, kh, kw) tensor; output_padding fills the
        # rows the convolution's floor dropped
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        op = tuple((n + 2 * p - k) % s for n, k, s, p in zip(X.shape[2:], W.shape[2:], (sh, sw), (ph, pw)))
        np.testing.assert_allclose(seg.conv_transpose2d(dY, W, None, stride, padding, op), dX, atol=1e-12)


def test_conv_transpose_out_size_matches_torch_and_inverts_the_conv_size():
    for n, k, s, p in [(3, 2, 2, 0), (16, 4, 2, 1), (5, 3, 1, 1), (7, 5, 3, 2)]:
        for op in range(s):
            layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op)
            size = layer(torch.zeros(1, 1, n, n)).shape[-1]
            assert seg.conv_transpose_out_size(n, k, s, p, op) == size
            assert cnn.conv_out_size(size, k, p, s) == n


def test_overlap_counts_are_uneven_only_when_the_kernel_is_not_a_multiple_of_the_stride():
    for k, s in [(3, 2), (4, 2), (2, 2), (5, 3), (3, 3)]:
        counts = seg.conv_transpose2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, k, k)), stride=s)[0, 0]
        interior = counts[k:-k, k:-k]
        assert (np.ptp(interior) > 0) == (k % s != 0), (k, s)
    fig = seg.plot_transpose_overlap(3, 2)
    assert fig.axes and "UNEVEN" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------- metrics

def _brute_force(y_true, y_pred, k):
    """Per class: loops over the pixels, counting |A and B|, |A or B|, |A|, |B|."""
    inter, union, size_t, size_p = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
    M = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(np.ravel(y_true).tolist(), np.ravel(y_pred).tolist()):
        M[a, b] += 1
        for c in range(k):
            inter[c] += (a == c) and (b == c)
            union[c] += (a == c) or (b == c)
            size_t[c] += a == c
            size_p[c] += b == c
    return M, inter, union, size_t, size_p


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_a_brute_force_count(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    y_true = rng.integers(0, k, size=(3, 7, 6))
    y_pred = np.where(rng.random(y_true.shape) < 0.6, y_true, rng.integers(0, k, size=y_true.shape))
    y_pred[y_pred == k - 1] = 0                       # class k-1 is never predicted: IoU 0, Dice 0
    M, inter, union, size_t, size_p = _brute_force(y_true, y_pred, k)
    np.testing.assert_array_equal(seg.confusion_matrix(y_true, y_pred, k), M)
    assert seg.pixel_accuracy(y_true, y_pred, k) == pytest.approx(np.mean(y_true == y_pred), abs=1e-15)
    np.testing.assert_allclose(seg.per_class_iou(y_true, y_pred, k), inter / union, rtol=1e-15)
    np.testing.assert_allclose(seg.per_class_dice(y_true, y_pred, k), 2 * inter / (size_t + size_p), rtol=1e-15)
    assert seg.mean_iou(y_true, y_pred, k) == pytest.approx(np.mean(inter / union), rel=1e-14)
    iou = inter / union
    np.testing.assert_allclose(seg.per_class_dice(y_true, y_pred, k), 2 * iou / (1 + iou), rtol=1e-12)


def test_a_class_absent_from_both_maps_is_nan_and_left_out_of_the_mean():
    y_true, y_pred = np.array([[0, 0, 1], [1, 1, 0]]), np.array([[0, 1, 1], [1, 1, 0]])
    iou = seg.per_class_iou(y_true, y_pred, 3)
    np.testing.assert_allclose(iou[:2], [2 / 3, 3 / 4])
    assert np.isnan(iou[2]) and np.isnan(seg.per_class_dice(y_true, y_pred, 3)[2])
    assert seg.mean_iou(y_true, y_pred, 3) == pytest.approx((2 / 3 + 3 / 4) / 2)


# ---------------------------------------------------------------- instance masks

def test_paste_mask_matches_interpolate_and_clips_at_the_border():
    rng = np.random.default_rng(0)
    mask = rng.random((7, 7))
    full = seg.paste_mask(mask, [3, 2, 13, 8], (12, 16))
    resized = F.interpolate(torch.tensor(mask)[None, None], size=(6, 10), mode="bilinear",
                            align_corners=False)[0, 0].numpy()
    np.testing.assert_array_equal(full[2:8, 3:13], resized >= 0.5)
    assert not full[:2].any() and not full[8:].any() and not full[:, :3].any() and not full[:, 13:].any()
    edge = seg.paste_mask(np.ones((4, 4)), [-2, -3, 3, 2], (5, 5))
    assert edge.sum() == 3 * 2 and edge[:2, :3].all()


def test_mask_iou_matches_a_brute_force_count_and_the_box_example():
    a = np.zeros((1, 4, 4), dtype=bool)
    b = np.zeros((1, 4, 4), dtype=bool)
    a[0, 0:2, 0:2], b[0, 1:3, 1:3] = True, True
    assert seg.mask_iou(a, b)[0, 0] == pytest.approx(1 / 7)
    rng = np.random.default_rng(1)
    A, B = rng.random((3, 5, 6)) < 0.4, rng.random((4, 5, 6)) < 0.5
    expected = [[np.sum(p & q) / np.sum(p | q) for q in B] for p in A]
    np.testing.assert_allclose(seg.mask_iou(A, B), expected, rtol=1e-15)
    assert seg.mask_iou(np.zeros((1, 2, 2), bool), np.zeros((1, 2, 2), bool))[0, 0] == 0.0


# ---------------------------------------------------------------- figures

def test_draw_unet_draws_one_box_per_map_and_labels_the_valid_sizes():
    ax = sd.draw_unet(4, 64, 572, valid=True)
    texts = [t.get_text() for t in ax.texts]
    assert any("388²" in t for t in texts) and any("572²" in t for t in texts)
    boxes = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(boxes) == 1 + 2 * 5 + 3 * 4            # input, two convs per level, up + two convs per decoder level
    matplotlib.pyplot.close(ax.figure)
    with pytest.raises(ValueError, match="divisible"):
        sd.draw_unet(3, 8, 20)


def test_colorize_and_the_figures_draw():
    rgb = sd.colorize(np.array([[0, 4], [1, 2]]))
    assert rgb.shape == (2, 2, 3) and not np.allclose(rgb[0, 0], rgb[0, 1])
    fig = sd.plot_segmentations(np.zeros((2, 8, 8)), {"truth": np.zeros((2, 8, 8), int)}, ["a", "b"],
                                ["background"])
    assert len(fig.axes) == 4
    fig2 = sd.plot_matrices([POOLED, seg.upsample_nearest(POOLED)], ["pooled", "nearest"])
    assert len(fig2.axes) == 2
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- bad input

X4 = np.ones((1, 1, 2, 2))
W4 = np.ones((1, 1, 2, 2))
BAD_MAPS = [np.ones(3), np.ones((2, 2), bool), np.array([[np.nan]]), "abc"]
BAD_LABELS = [np.array([[0.5]]), np.array([[True]]), np.array([[7]]), np.array([[-1]]), np.zeros((2, 3), int)]
TRANSPOSE_BAD = {"x": [np.ones((2, 2)), np.full((1, 1, 2, 2), np.inf)], "weight": [np.ones((2, 1, 2, 2))],
                 "bias": [np.ones(2)], "stride": [0, True, 1.5], "padding": [-1], "output_padding": [1, -1]}
MASKS = np.zeros((1, 3, 3), bool)
TABLE = {
    "upsample_nearest": (seg.upsample_nearest, {"x": POOLED, "factor": 2}, {"x": BAD_MAPS, "factor": [0, 2.0, True]}),
    "upsample_bed_of_nails": (seg.upsample_bed_of_nails, {"x": POOLED, "factor": 2},
                              {"x": BAD_MAPS, "factor": [0, -1, None]}),
    "maxpool_with_indices": (seg.maxpool_with_indices, {"x": X4, "size": 2},
                             {"x": [POOLED, np.ones((1, 1, 1, 1))], "size": [0, 2.5]}),
    "max_unpool": (seg.max_unpool, {"y": np.ones((1, 1, 1, 1)), "indices": np.zeros((1, 1, 1, 1), int),
                                    "output_size": (2, 2)},
                   {"indices": [np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 4), np.zeros((1, 1, 2, 2), int)],
                    "output_size": [(0, 2), (2, 2, 2)], "y": [np.ones((1, 1, 1))]}),
    "conv_transpose_out_size": (seg.conv_transpose_out_size, {"n": 3, "k": 2, "s": 2, "p": 0, "output_padding": 1},
                                {"n": [0, 1.0], "k": [0], "s": [0], "p": [-1, 5], "output_padding": [2]}),
    "conv_transpose2d": (seg.conv_transpose2d, {"x": X4, "weight": W4}, TRANSPOSE_BAD),
    "conv_transpose2d_as_conv": (seg.conv_transpose2d_as_conv, {"x": X4, "weight": W4}, TRANSPOSE_BAD),
    "conv_transpose2d_torch": (seg.conv_transpose2d_torch, {"x": X4, "weight": W4}, TRANSPOSE_BAD),
    "confusion_matrix": (seg.confusion_matrix, {"y_true": np.zeros((2, 2), int), "y_pred": np.zeros((2, 2), int),
                                                "n_classes": 2}, {"y_pred": BAD_LABELS, "n_classes": [0, 2.0]}),
    "pixel_accuracy": (seg.pixel_accuracy, {"y_true": np.zeros((2, 2), int), "y_pred": np.zeros((2, 2), int),
                                            "n_classes": 2},
                       {"y_true": BAD_LABELS + [np.zeros((0, 2), int)], "n_classes": [True]}),
    "iou_from_confusion": (seg.iou_from_confusion, {"M": np.eye(2, dtype=int)},
                           {"M": [np.ones((2, 3), int), -np.eye(2, dtype=int), np.eye(2), np.ones(2, int)]}),
    "per_class_iou": (seg.per_class_iou, {"y_true": np.zeros(3, int), "y_pred": np.zeros(3, int), "n_classes": 2},
                      {"y_true": BAD_LABELS}),
    "mean_iou": (seg.mean_iou, {"y_true": np.zeros(3, int), "y_pred": np.zeros(3, int), "n_classes": 2},
                 {"y_pred": BAD_LABELS + [np.zeros(0, int)]}),
    "per_class_dice": (seg.per_class_dice, {"y_true": np.zeros(3, int), "y_pred": np.zeros(3, int), "n_classes": 2},
                       {"y_pred": BAD_LABELS, "n_classes": [-2]}),
    "paste_mask": (seg.paste_mask, {"mask": np.ones((2, 2)), "box": [0, 0, 2, 2], "image_shape": (4, 4)},
                   {"mask": [np.full((2, 2), 2.0), np.ones((2, 2, 2)), np.zeros((0, 2))],
                    "box": [[0, 0, 0, 2], [0, 0, 2], [0.5, 0, 2, 2]], "image_shape": [(0, 4)],
                    "threshold": [np.nan, "half"]}),
    "mask_iou": (seg.mask_iou, {"masks_a": MASKS, "masks_b": MASKS},
                 {"masks_a": [np.zeros((1, 3, 3)), np.zeros((3, 3), bool)], "masks_b": [np.zeros((1, 2, 3), bool)]}),
    "plot_transpose_overlap": (seg.plot_transpose_overlap, {"kernel": 2, "stride": 2, "n": 2},
                               {"kernel": [0], "stride": [1.5], "n": [-1]}),
    "colorize": (sd.colorize, {"mask": np.zeros((2, 2), int)}, {"mask": [np.array([[5]]), np.zeros((2, 2))]}),
    "plot_matrices": (sd.plot_matrices, {"matrices": [POOLED], "titles": ["a"]},
                      {"matrices": [[np.ones(2)], [POOLED] * 4], "titles": [["a", "b"]]}),
    "plot_segmentations": (sd.plot_segmentations, {"images": np.zeros((1, 4, 4)), "rows": {"t": np.zeros((1, 4, 4), int)},
                                                   "titles": ["a"], "class_names": ["bg"]},
                           {"images": [np.zeros((4, 4))], "rows": [{"t": np.zeros((1, 4, 5), int)}, {}],
                            "titles": [[]]}),
    "draw_unet": (sd.draw_unet, {"depth": 1, "width": 2, "input_size": 8},
                  {"depth": [0, 6], "width": [0], "input_size": [9, 0], "valid": [1], "ax": ["axes"]}),
}
globals().update(table_tests(TABLE, [seg, sd], cleanup=lambda: matplotlib.pyplot.close("all")))
