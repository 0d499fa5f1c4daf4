"""Property-based tests of dlcourse.detection: IoU, NMS, box coding, RoI pooling, smooth L1 and AP for
random boxes at any scale and translation, in every memory layout and dtype, with NaN refused and
empty and single-box inputs handled."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import detection as D
from layouts import LAYOUTS, relayout

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def box_sets(draw, min_size=0, max_size=12):
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-20, 20, size=(n, 2))
    return np.hstack([xy, xy + rng.uniform(0.1, 15, size=(n, 2))]), rng


@SETTINGS
@given(box_sets(), box_sets(), st.floats(1e-3, 1e3), st.floats(-1e3, 1e3), st.sampled_from(LAYOUTS))
def test_iou_is_symmetric_bounded_and_invariant_to_translation_scale_and_layout(a, b, scale, shift, layout):
    (A, _), (B, _) = a, b
    M = D.pairwise_iou(A, B)
    assert M.shape == (len(A), len(B)) and np.all((M >= 0) & (M <= 1 + 1e-12))
    np.testing.assert_allclose(D.pairwise_iou(B, A), M.T, atol=1e-12)
    np.testing.assert_allclose(D.pairwise_iou(A * scale + shift, B * scale + shift), M, atol=1e-9)
    np.testing.assert_array_equal(D.pairwise_iou(relayout(A, layout), relayout(B, layout)), M)
    if len(A):
        np.testing.assert_allclose(np.diag(D.pairwise_iou(A, A)), 1.0, atol=1e-12)
        assert D.iou(A[0], A[0]) == pytest.approx(1.0)


@SETTINGS
@given(box_sets(), st.sampled_from([np.float32, np.float64, np.int64]))
def test_iou_accepts_float32_and_integer_boxes(a, dtype):
    A, _ = a
    A = np.round(A).astype(dtype) if dtype == np.int64 else A.astype(dtype)
    A[:, 2:] = np.maximum(A[:, 2:], A[:, :2])
    np.testing.assert_allclose(D.pairwise_iou(A, A[::-1]), D.pairwise_iou(A.astype(float), A[::-1].astype(float)))


@SETTINGS
@given(box_sets(), st.floats(0.0, 1.0), st.sampled_from(LAYOUTS))
def test_nms_is_idempotent_permutation_invariant_and_layout_free(a, threshold, layout):
    boxes, rng = a
    scores = rng.permutation(len(boxes)) / max(len(boxes), 1)          # distinct scores
    keep = D.nms(boxes, scores, threshold)
    assert np.all(np.diff(scores[keep]) < 0)
    np.testing.assert_array_equal(D.nms(boxes[keep], scores[keep], threshold), np.arange(len(keep)))
    perm = rng.permutation(len(boxes))
    np.testing.assert_array_equal(perm[D.nms(boxes[perm], scores[perm], threshold)], keep)
    np.testing.assert_array_equal(D.nms(relayout(boxes, layout), relayout(scores, layout), threshold), keep)
    if len(keep) > 1:
        overlaps = D.pairwise_iou(boxes[keep], boxes[keep])
        assert np.all(overlaps[~np.eye(len(keep), dtype=bool)] <= threshold)


@SETTINGS
@given(box_sets(min_size=1), st.floats(1e-2, 1e2))
def test_decode_inverts_encode_at_every_scale(a, scale):
    boxes, rng = a
    anchors = boxes[rng.permutation(len(boxes))] * 0.7 + 1
    boxes, anchors = boxes * scale, anchors * scale
    np.testing.assert_allclose(D.decode_boxes(D.encode_boxes(boxes, anchors), anchors), boxes,
                               rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(D.encode_boxes(anchors, anchors), 0.0, atol=1e-12)


def test_box_coding_of_empty_and_nan_inputs():
    assert D.encode_boxes(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(ValueError, match="finite"):
        D.decode_boxes(np.array([[np.nan, 0, 0, 0]]), np.array([[0.0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="finite"):
        D.pairwise_iou(np.array([[0, 0, np.inf, 1]]), np.zeros((0, 4)))


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), box_sets(min_size=1, max_size=4),
       st.integers(1, 4), st.integers(1, 4), st.sampled_from(["C", "F", "strided"]))
def test_roi_max_pool_takes_maxima_of_the_region_and_ignores_layout(C, H, W, rois, ph, pw, layout):
    boxes, rng = rois
    boxes = boxes + 20.0  # inside or partly outside a map of up to 9 x 9 cells at scale 0.5
    features = rng.normal(size=(C, H, W))
    out = D.roi_max_pool(features, boxes, (ph, pw), 0.5)
    assert out.shape == (len(boxes), C, ph, pw)
    assert np.all(out <= features.max(axis=(1, 2))[None, :, None, None])
    np.testing.assert_array_equal(D.roi_max_pool(relayout(features, layout), boxes, (ph, pw), 0.5), out)
    whole = D.roi_max_pool(features, [[0, 0, W, H]], (1, 1))[0, :, 0, 0]
    np.testing.assert_array_equal(whole, features.max(axis=(1, 2)))
    assert D.roi_max_pool(features, np.zeros((0, 4)), (ph, pw)).shape == (0, C, ph, pw)


@SETTINGS
@given(st.integers(0, 30), st.floats(1e-3, 10), st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_smooth_l1_matches_torch_at_every_scale_and_is_continuous(n, beta, scale, seed):
    x = np.random.default_rng(seed).normal(0, scale, size=(n,))
    expected = torch.nn.functional.smooth_l1_loss(torch.tensor(x), torch.zeros(n, dtype=torch.float64),
                                                  beta=beta, reduction="none").numpy()
    np.testing.assert_allclose(D.smooth_l1(x, beta), expected, rtol=1e-12, atol=1e-300)
    edge = np.array([beta * (1 - 1e-12), beta])
    assert abs(np.diff(D.smooth_l1(edge, beta))[0]) < 1e-9 * max(beta, 1)


@SETTINGS
@given(st.integers(1, 20), st.integers(0, 2**32 - 1), st.sampled_from(D.INTERPOLATIONS))
def test_average_precision_is_bounded_and_one_exactly_for_a_perfect_ranking(n_gt, seed, interpolation):
    rng = np.random.default_rng(seed)
    n_tp = int(rng.integers(0, n_gt + 1))
    is_tp = rng.permutation(np.r_[np.ones(n_tp, bool), np.zeros(int(rng.integers(0, 10)), bool)])
    scores = rng.random(len(is_tp))
    ap = D.average_precision(scores, is_tp, n_gt, interpolation)
    assert 0.0 <= ap <= 1.0
    perfect = np.r_[np.ones(n_gt, bool), np.zeros(3, bool)]
    assert D.average_precision(np.linspace(1, 0, n_gt + 3), perfect, n_gt, interpolation) == pytest.approx(1.0)
    if n_tp < n_gt:
        assert ap < 1.0
    assert D.average_precision(relayout(scores, "strided"), relayout(is_tp, "F"), n_gt, interpolation) == ap
