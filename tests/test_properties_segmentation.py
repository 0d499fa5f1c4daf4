"""Property-based tests of chapter 5's from-scratch code: random shapes, layouts, dtypes, scales, NaN, empty."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from dlcourse import segmentation as seg
from layouts import LAYOUTS, relayout

FAST = settings(max_examples=40, deadline=None)


@st.composite
def transpose_cases(draw):
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    op = tuple(draw(st.integers(0, s - 1)) for s in stride)
    sizes = [((h - 1) * stride[0] + kh + op[0] - 1) // 2, ((w - 1) * stride[1] + kw + op[1] - 1) // 2]
    padding = (draw(st.integers(0, sizes[0])), draw(st.integers(0, sizes[1])))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    return (scale * rng.normal(size=(n, c_in, h, w)), rng.normal(size=(c_in, c_out, kh, kw)), stride, padding, op)


@FAST
@given(transpose_cases(), st.sampled_from(LAYOUTS))
def test_conv_transpose_matches_torch_in_every_layout_and_scale(case, layout):
    x, w, stride, padding, op = case
    expected = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=padding,
                                  output_padding=op).numpy()
    tol = 1e-12 * max(1.0, np.abs(x).max() * np.abs(w).sum())
    np.testing.assert_allclose(seg.conv_transpose2d(relayout(x, layout), relayout(w, layout), None, stride, padding,
                                                    op), expected, atol=tol)
    np.testing.assert_allclose(seg.conv_transpose2d_as_conv(x, w, None, stride, padding, op), expected, atol=tol)


@FAST
@given(transpose_cases())
def test_the_twins_accept_and_reject_the_same_inputs(case):
    x, w, stride, padding, op = case
    bad = x.copy()
    bad.flat[0] = np.nan
    for fn in (seg.conv_transpose2d, seg.conv_transpose2d_torch, seg.conv_transpose2d_as_conv):
        with pytest.raises(ValueError):
            fn(bad, w, None, stride, padding, op)
        with pytest.raises(ValueError):
            fn(x, w, None, stride, padding, tuple(s for s in stride))   # output_padding must be < stride
    np.testing.assert_allclose(seg.conv_transpose2d(x, w, None, stride, padding, op),
                               seg.conv_transpose2d_torch(x, w, None, stride, padding, op),
                               atol=1e-12 * max(1.0, np.abs(x).max() * np.abs(w).sum()))


@FAST
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.sampled_from(LAYOUTS),
       st.sampled_from([np.float32, np.float64, np.int32, np.int64]), st.integers(0, 2**16))
def test_up_sampling_matches_torch_for_layouts_and_dtypes(factor, h, w, layout, dtype, seed):
    x = (np.random.default_rng(seed).normal(size=(1, 2, h, w)) * 10).astype(dtype)
    near = seg.upsample_nearest(relayout(x, layout), factor)
    np.testing.assert_array_equal(near, F.interpolate(torch.tensor(x, dtype=torch.float64), scale_factor=factor,
                                                      mode="nearest").numpy())
    nails = seg.upsample_bed_of_nails(relayout(x, layout), factor)
    assert nails.dtype == np.float64 and nails.sum() == pytest.approx(float(x.sum()))
    np.testing.assert_array_equal(nails[..., ::factor, ::factor], x)
    # nearest = bed of nails followed by a transposed convolution with a kernel of ones, stride f
    ones = np.eye(2)[:, :, None, None] * np.ones((factor, factor))
    np.testing.assert_array_equal(seg.conv_transpose2d(x, ones, stride=factor), near)


@FAST
@given(st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.integers(2, 3),
       st.integers(0, 2**16))
def test_maxpool_indices_and_unpool_match_torch(n, c, h, w, size, seed):
    if min(h, w) < size:
        return
    x = np.random.default_rng(seed).integers(0, 4, size=(n, c, h, w)).astype(float)
    y, idx = seg.maxpool_with_indices(x, size)
    yt, it = F.max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(idx, it.numpy())
    np.testing.assert_array_equal(seg.max_unpool(y, idx, (h, w)),
                                  F.max_unpool2d(yt, it, size, output_size=(h, w)).numpy())


@st.composite
def label_maps(draw):
    k = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(0,), (1,), (7,), (1, 1), (3, 4), (2, 3, 5)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.integers(0, k, size=shape), rng.integers(0, k, size=shape), k


@FAST
@given(label_maps(), st.sampled_from(LAYOUTS))
def test_metric_identities_hold_for_any_label_maps(maps, layout):
    y_true, y_pred, k = maps
    layout = "C" if layout == "list" and not y_true.size else layout   # [] reads as float: not a label map
    M = seg.confusion_matrix(relayout(y_true, layout), relayout(y_pred, layout), k)
    assert M.shape == (k, k) and M.sum() == y_true.size and M.dtype == np.int64
    np.testing.assert_array_equal(M.sum(1), np.bincount(y_true.ravel(), minlength=k))
    iou, dice = seg.per_class_iou(y_true, y_pred, k), seg.per_class_dice(y_true, y_pred, k)
    present = ~np.isnan(iou)
    np.testing.assert_array_equal(present, ~np.isnan(dice))
    assert np.all((iou[present] >= 0) & (iou[present] <= dice[present] + 1e-15) & (dice[present] <= 1))
    np.testing.assert_array_equal(seg.confusion_matrix(y_pred, y_true, k), M.T)   # swapping transposes
    if y_true.size:
        perfect = seg.per_class_iou(y_true, y_true, k)
        assert np.all(perfect[~np.isnan(perfect)] == 1.0)
        assert seg.pixel_accuracy(y_true, y_pred, k) == pytest.approx(np.mean(y_true == y_pred))
    else:
        with pytest.raises(ValueError):
            seg.mean_iou(y_true, y_pred, k)


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_mask_iou_is_symmetric_and_one_on_the_diagonal(a, b, h, w, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.random((a, h, w)) < 0.5, rng.random((b, h, w)) < 0.5
    iou = seg.mask_iou(A, B)
    np.testing.assert_allclose(iou, seg.mask_iou(B, A).T)
    assert np.all((iou >= 0) & (iou <= 1))
    self_iou = np.diag(seg.mask_iou(A, A))
    np.testing.assert_array_equal(self_iou, np.where(A.reshape(a, -1).any(1), 1.0, 0.0))
