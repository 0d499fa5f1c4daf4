"""Exercises of chapter 6: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with brute-force counts and with each other, and
the handout runs clean."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse import detection
from dlcourse.grading import get_exercise, grade_function
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "06_detection"
NAMES = ["pairwise_iou", "decode_boxes", "nms", "average_precision"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def _inter_wh(A, B, plus=0.0):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    w = np.minimum(A[:, None, 2], B[None, :, 2]) - np.maximum(A[:, None, 0], B[None, :, 0]) + plus
    h = np.minimum(A[:, None, 3], B[None, :, 3]) - np.maximum(A[:, None, 1], B[None, :, 1]) + plus
    return A, B, w, h


def _areas(A, B, plus=0.0):
    return ((A[:, 2] - A[:, 0] + plus) * (A[:, 3] - A[:, 1] + plus))[:, None], \
        ((B[:, 2] - B[:, 0] + plus) * (B[:, 3] - B[:, 1] + plus))[None, :]


def iou_without_clipping(A, B):
    A, B, w, h = _inter_wh(A, B)
    a, b = _areas(A, B)
    return w * h / (a + b - w * h)


def iou_with_plus_one(A, B):
    A, B, w, h = _inter_wh(A, B, 1.0)
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    a, b = _areas(A, B, 1.0)
    return inter / (a + b - inter)


def iou_over_sum_of_areas(A, B):
    A, B, w, h = _inter_wh(A, B)
    a, b = _areas(A, B)
    return np.clip(w, 0, None) * np.clip(h, 0, None) / (a + b)


def iou_over_smaller_area(A, B):
    A, B, w, h = _inter_wh(A, B)
    a, b = _areas(A, B)
    return np.clip(w, 0, None) * np.clip(h, 0, None) / np.minimum(a, b)


def iou_transposed(A, B):
    A, B, w, h = _inter_wh(B, A)  # (M, N)
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    a, b = _areas(A, B)
    return inter / (a + b - inter)


def _anchor_parts(anchors):
    a = np.asarray(anchors, dtype=float)
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    return a, wa, ha, a[:, 0] + wa / 2, a[:, 1] + ha / 2


def decode_returns_centre_and_size(deltas, anchors):
    t = np.asarray(deltas, dtype=float)
    _, wa, ha, xa, ya = _anchor_parts(anchors)
    return np.stack([xa + t[:, 0] * wa, ya + t[:, 1] * ha, wa * np.exp(t[:, 2]), ha * np.exp(t[:, 3])], 1)


def decode_without_scaling_the_offsets(deltas, anchors):
    t = np.asarray(deltas, dtype=float)
    _, wa, ha, xa, ya = _anchor_parts(anchors)
    x, y, w, h = xa + t[:, 0], ya + t[:, 1], wa * np.exp(t[:, 2]), ha * np.exp(t[:, 3])
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 1)


def decode_without_exp(deltas, anchors):
    t = np.asarray(deltas, dtype=float)
    _, wa, ha, xa, ya = _anchor_parts(anchors)
    x, y, w, h = xa + t[:, 0] * wa, ya + t[:, 1] * ha, wa * t[:, 2], ha * t[:, 3]
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], 1)


def decode_from_the_corner(deltas, anchors):
    t = np.asarray(deltas, dtype=float)
    a, wa, ha, _, _ = _anchor_parts(anchors)
    x, y = a[:, 0] + t[:, 0] * wa, a[:, 1] + t[:, 1] * ha
    return np.stack([x, y, x + wa * np.exp(t[:, 2]), y + ha * np.exp(t[:, 3])], 1)


def _one_to_many(box, others):
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return w * h / (area(box) + area(others) - w * h)


def _greedy(boxes, scores, threshold, order, suppress):
    boxes = np.asarray(boxes, dtype=float)
    order, keep = list(order), []
    while order:
        best = order.pop(0)
        keep.append(best)
        if order:
            overlaps = _one_to_many(boxes[best], boxes[order])
            order = [k for k, o in zip(order, overlaps) if not suppress(o, threshold)]
    return np.array(keep, dtype=int)


def nms_suppresses_at_equality(boxes, scores, iou_threshold):
    return _greedy(boxes, scores, iou_threshold, np.argsort(-np.asarray(scores)), lambda o, t: o >= t)


def nms_sorted_by_index(boxes, scores, iou_threshold):
    return np.sort(_greedy(boxes, scores, iou_threshold, np.argsort(-np.asarray(scores)), lambda o, t: o > t))


def nms_one_pass(boxes, scores, iou_threshold):
    order = np.argsort(-np.asarray(scores))
    overlaps = _one_to_many(np.asarray(boxes, dtype=float)[order[0]], np.asarray(boxes, dtype=float))
    return np.array([order[0]] + [k for k in order[1:] if overlaps[k] <= iou_threshold])


def nms_lowest_score_first(boxes, scores, iou_threshold):
    return _greedy(boxes, scores, iou_threshold, np.argsort(np.asarray(scores)), lambda o, t: o > t)


def nms_float_indices(boxes, scores, iou_threshold):
    keep = _greedy(boxes, scores, iou_threshold, np.argsort(-np.asarray(scores)), lambda o, t: o > t)
    return keep.astype(float)


def _curve(scores, is_tp, n_gt, descending=True):
    scores, hits = np.asarray(scores, dtype=float), np.asarray(is_tp, dtype=bool)
    tp = np.cumsum(hits[np.argsort(-scores if descending else scores)])
    return tp / np.arange(1, len(tp) + 1), tp


def ap_without_envelope(scores, is_tp, n_gt):
    precision, tp = _curve(scores, is_tp, n_gt)
    return float(np.sum(np.diff(np.r_[0.0, tp / n_gt]) * precision))


def ap_recall_over_hits(scores, is_tp, n_gt):
    precision, tp = _curve(scores, is_tp, n_gt)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, tp / tp[-1]]) * envelope))


def ap_eleven_point(scores, is_tp, n_gt):
    precision, tp = _curve(scores, is_tp, n_gt)
    recall = tp / n_gt
    return float(np.mean([precision[recall >= r].max() if np.any(recall >= r) else 0.0
                          for r in np.linspace(0, 1, 11)]))


def ap_ranked_ascending(scores, is_tp, n_gt):
    precision, tp = _curve(scores, is_tp, n_gt, descending=False)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, tp / n_gt]) * envelope))


def ap_as_percent(scores, is_tp, n_gt):
    precision, tp = _curve(scores, is_tp, n_gt)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return 100 * float(np.sum(np.diff(np.r_[0.0, tp / n_gt]) * envelope))


def ap_sorts_scores_in_place(scores, is_tp, n_gt):
    order = np.argsort(-scores)
    hits = np.asarray(is_tp)[order]
    scores[:] = scores[order]  # reorders the caller's array
    tp = np.cumsum(hits)
    precision = np.maximum.accumulate((tp / np.arange(1, len(tp) + 1))[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, tp / n_gt]) * precision))


# Each wrong version with a distinctive part of the hint it must get; None: the grader's own checks catch
# it (a float for an int, a wrong shape) or it has no hint of its own.
WRONG = {
    "pairwise_iou": [(iou_without_clipping, "clip the width"), (iou_with_plus_one, "not x1 - x0 + 1"),
                     (iou_over_sum_of_areas, "counts the intersection once"),
                     (iou_over_smaller_area, "not by the smaller area"), (iou_transposed, None)],
    "decode_boxes": [(decode_returns_centre_and_size, "Return xyxy corners"),
                     (decode_without_scaling_the_offsets, "in units of the anchor's size"),
                     (decode_without_exp, "with a logarithm"), (decode_from_the_corner, "the anchor's centre")],
    "nms": [(nms_suppresses_at_equality, "exactly at the threshold stays"),
            (nms_sorted_by_index, "not sorted by index"), (nms_one_pass, "best *remaining* box"),
            (nms_lowest_score_first, "Start from the highest score"), (nms_float_indices, None)],
    "average_precision": [(ap_without_envelope, "made non-increasing"), (ap_recall_over_hits, "never detected"),
                          (ap_eleven_point, "11-point"), (ap_ranked_ascending, "decreasing score"),
                          (ap_as_percent, None)],
}
IN_PLACE = [("average_precision", ap_sorts_scores_in_place)]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, seeds=SEEDS, handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


def test_float_indices_from_nms_are_refused_as_the_wrong_kind():
    result = grade_function(f"{STEM}.nms", nms_float_indices, seed=0)
    assert result.score == 0 and "int" in result.output


# ---------------------------------------------------------------- the references against brute force


def _pixel_iou(a, b):
    """IoU by counting the unit pixels two integer boxes cover on a grid."""
    lo = int(min(a[0], a[1], b[0], b[1])) - 1
    hi = int(max(a[2], a[3], b[2], b[3])) + 1
    grid = np.zeros((2, hi - lo, hi - lo), dtype=bool)
    for k, (x0, y0, x1, y1) in enumerate((a, b)):
        grid[k, int(y0) - lo:int(y1) - lo, int(x0) - lo:int(x1) - lo] = True
    return np.sum(grid[0] & grid[1]) / np.sum(grid[0] | grid[1])


def test_iou_reference_matches_a_pixel_count_on_every_case():
    for case in all_inputs(_exercise("pairwise_iou")):
        expected = np.array([[_pixel_iou(a, b) for b in case["B"]] for a in case["A"]])
        np.testing.assert_allclose(_exercise("pairwise_iou").reference(**case), expected, atol=1e-15)


def test_decode_reference_inverts_the_chapter_encoding_on_every_case():
    for case in all_inputs(_exercise("decode_boxes")):
        boxes = _exercise("decode_boxes").reference(**case)
        np.testing.assert_allclose(detection.encode_boxes(boxes, case["anchors"]), case["deltas"], atol=1e-12)


def test_nms_cases_have_distinct_scores_and_some_hit_the_threshold_exactly():
    exact = 0
    for case in all_inputs(_exercise("nms")):
        assert len(set(np.asarray(case["scores"]).tolist())) == len(case["scores"])
        overlaps = detection.pairwise_iou(case["boxes"], case["boxes"])
        exact += int(np.any(overlaps == case["iou_threshold"]))
    assert exact >= 2


def test_ap_reference_matches_the_definition_by_recall_levels():
    """All-point AP = the integral of p(r) over r in [0, 1], evaluated on a fine grid of recalls."""
    for case in all_inputs(_exercise("average_precision")):
        precision, tp = _curve(case["scores"], case["is_tp"], case["n_gt"])
        recall = tp / case["n_gt"]
        grid = (np.arange(100000) + 0.5) / 100000
        p = [precision[recall >= r].max() if np.any(recall >= r) else 0.0 for r in grid[::50]]
        assert _exercise("average_precision").reference(**case) == pytest.approx(np.mean(p), abs=2e-3)


# ---------------------------------------------------------------- the notebooks


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "as they come: kept 5 boxes, 3 true positives, AP 0.917" in together
    assert "after NMS at 0.5: kept 4 boxes, 3 true positives, AP 1.000" in together
