"""Exercises of ``solutions/06_detection.ipynb``: pairwise IoU, decoding Faster R-CNN deltas (not
printed in the chapter), greedy non-maximum suppression and the all-point average precision of one
class, easiest first.

Hidden boxes have integer corners, so intersections, unions and most IoUs are exact in floating
point; NMS cases include pairs whose IoU is exactly the threshold (``>`` suppresses, ``>=`` would
not keep them) and have distinct scores, so the kept list is unique. AP rankings have distinct
scores and misses (n_gt above the number of hits), which separates the envelope, the recall
denominator and the interpolation.
"""
from __future__ import annotations

import numpy as np

from ...detection import average_precision as _ap
from ...detection import decode_boxes, nms as _nms, pairwise_iou
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.detection)


def nms(boxes, scores, iou_threshold):
    """Greedy NMS: kept indices, highest score first; a box is removed when its IoU with a kept one > t."""
    return _nms(boxes, scores, float(iou_threshold))


def average_precision(scores, is_tp, n_gt):
    """All-point AP: sum_k (R_k - R_{k-1}) max_{k' >= k} P_k', detections ranked by decreasing score."""
    return _ap(scores, np.asarray(is_tp, dtype=bool), int(n_gt))


# ---------------------------------------------------------------- wrong versions

def _iou_with(A, B, mode):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    plus = 1.0 if mode == "plus_one" else 0.0
    w = np.minimum(A[:, None, 2], B[None, :, 2]) - np.maximum(A[:, None, 0], B[None, :, 0]) + plus
    h = np.minimum(A[:, None, 3], B[None, :, 3]) - np.maximum(A[:, None, 1], B[None, :, 1]) + plus
    if mode != "no_clip":
        w, h = np.clip(w, 0, None), np.clip(h, 0, None)
    inter = w * h
    area_a = (A[:, 2] - A[:, 0] + plus) * (A[:, 3] - A[:, 1] + plus)
    area_b = (B[:, 2] - B[:, 0] + plus) * (B[:, 3] - B[:, 1] + plus)
    if mode == "sum":
        return inter / (area_a[:, None] + area_b[None, :])
    if mode == "min":
        return inter / np.minimum(area_a[:, None], area_b[None, :])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _decode_with(deltas, anchors, mode):
    t, a = np.asarray(deltas, dtype=float), np.asarray(anchors, dtype=float)
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    xa, ya = a[:, 0] + wa / 2, a[:, 1] + ha / 2
    if mode == "corner":
        xa, ya = a[:, 0], a[:, 1]
    x = xa + t[:, 0] * (1.0 if mode == "unscaled" else wa)
    y = ya + t[:, 1] * (1.0 if mode == "unscaled" else ha)
    w = wa * t[:, 2] if mode == "no_exp" else wa * np.exp(t[:, 2])
    h = ha * t[:, 3] if mode == "no_exp" else ha * np.exp(t[:, 3])
    if mode == "centre_size":
        return np.stack([x, y, w, h], axis=1)
    if mode == "corner":
        return np.stack([x, y, x + w, y + h], axis=1)
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)


def _nms_with(boxes, scores, iou_threshold, mode):
    boxes, scores = np.asarray(boxes, dtype=float), np.asarray(scores, dtype=float)
    order = list(np.argsort(-scores, kind="stable"))
    if mode == "ascending":
        order = order[::-1]
    keep = []
    if mode == "one_pass":  # suppress only against the best box, keep every survivor
        best = order[0]
        overlaps = pairwise_iou(boxes[[best]], boxes)[0]
        keep = [best] + [k for k in order[1:] if overlaps[k] <= iou_threshold]
    else:
        while order:
            best, order = order[0], order[1:]
            keep.append(best)
            overlaps = pairwise_iou(boxes[[best]], boxes[order])[0] if order else np.zeros(0)
            order = [k for k, o in zip(order, overlaps) if (o < iou_threshold if mode == "geq" else
                                                            o <= iou_threshold)]
    keep = np.array(keep, dtype=np.int64)
    return np.sort(keep) if mode == "sorted_index" else keep


def _ap_with(scores, is_tp, n_gt, mode):
    scores, hits = np.asarray(scores, dtype=float), np.asarray(is_tp, dtype=bool)
    order = np.argsort(scores if mode == "ascending" else -scores, kind="stable")
    tp = np.cumsum(hits[order])
    if len(tp) == 0:
        return 0.0
    precision = tp / np.arange(1, len(tp) + 1)
    denominator = max(int(tp[-1]), 1) if mode == "recall_of_hits" else int(n_gt)
    recall = tp / denominator
    if mode == "voc11":
        return _ap(scores, hits, int(n_gt), "voc-11")
    if mode != "no_envelope":
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


# ---------------------------------------------------------------- hidden cases

def _integer_boxes(rng, n, low=0, high=20, min_side=1):
    corners = rng.integers(low, high, size=(n, 2))
    return np.hstack([corners, corners + rng.integers(min_side, 9, size=(n, 2))]).astype(float)


def _iou_hidden(rng):
    cases = []
    for _ in range(8):
        A = _integer_boxes(rng, int(rng.integers(1, 6)))
        B = np.vstack([A[:1] + rng.integers(-2, 3, size=4).clip(-1, 1) * [0, 0, 1, 1],
                       _integer_boxes(rng, int(rng.integers(1, 6)))])
        B[:, 2:] = np.maximum(B[:, 2:], B[:, :2] + 1)
        cases.append({"A": A, "B": np.vstack([B, A[:1] + [30, 30, 30, 30]])})  # one far box: no overlap
    return cases


def _decode_hidden(rng):
    cases = []
    for _ in range(8):
        n = int(rng.integers(1, 7))
        anchors = _integer_boxes(rng, n, -10, 40, 2)
        cases.append({"deltas": np.round(rng.normal(0, 0.5, size=(n, 4)), 3), "anchors": anchors})
    return cases


def _nms_hidden(rng):
    cases = []
    for _ in range(10):
        n = int(rng.integers(3, 10))
        base = _integer_boxes(rng, 2, 0, 12, 4)
        boxes = base[rng.integers(0, 2, size=n)] + rng.integers(-2, 3, size=(n, 4))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        cases.append({"boxes": boxes, "scores": rng.permutation(n) / n + 0.05,
                      "iou_threshold": float(rng.choice([0.3, 0.5, 0.7]))})
    # IoU exactly 0.5: [0,0,2,1] and [0,0,1,1] (1 / 2); a ">=" rule removes box 1, ">" keeps it
    cases.append({"boxes": np.array([[0.0, 0, 2, 1], [0, 0, 1, 1], [5, 5, 7, 7]]),
                  "scores": np.array([0.9, 0.8, 0.7]), "iou_threshold": 0.5})
    # Normalised coordinates (sides < 1): a gap between boxes must count as zero overlap, whatever
    # its width. Box 1 overlaps box 0 in y but not in x; box 2 is disjoint in both x and y.
    cases.append({"boxes": np.array([[0.0, 0.0, 0.2, 0.2], [0.3, 0.05, 0.5, 0.25], [0.25, 0.25, 0.45, 0.45]]),
                  "scores": np.array([0.9, 0.8, 0.7]), "iou_threshold": 0.1})
    # Two tall boxes side by side with a gap of 0.1: their overlap is zero, not a 1-wide strip
    cases.append({"boxes": np.array([[0.0, 0.0, 0.9, 3.0], [1.0, 0.0, 1.9, 3.0], [5.0, 5.0, 6.0, 6.0]]),
                  "scores": np.array([0.9, 0.8, 0.7]), "iou_threshold": 0.5})
    return cases


def _ap_hidden(rng):
    cases = []
    for _ in range(10):
        n = int(rng.integers(2, 15))
        hits = rng.random(n) < 0.6
        hits[int(rng.integers(0, n))] = True
        scores = np.round(rng.permutation(n) / n + 0.01, 6)
        cases.append({"scores": scores, "is_tp": hits, "n_gt": int(hits.sum() + rng.integers(1, 4))})
    return cases


# ---------------------------------------------------------------- the registry

_A = np.array([[0.0, 0, 2, 2], [0, 0, 4, 4]])
_B = np.array([[1.0, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
_ANCHORS = np.array([[0.0, 0, 8, 8], [10, 10, 30, 20]])
_NMS_BOXES = np.array([[10.0, 10, 30, 30], [12, 11, 31, 30], [11, 13, 29, 32], [28, 24, 44, 40],
                       [30, 26, 45, 41]])

EXERCISES = [
    Exercise(
        id="06_detection.pairwise_iou",
        reference=pairwise_iou,
        public_cases=[
            Case({"A": _A[:1], "B": _B[:1]}, "the chapter's worked value", (np.array([[1 / 7]]),)),
            Case({"A": _A, "B": _B}, "two boxes against three (one far away)",
                 (np.array([[1 / 7, 1.0, 0.0], [0.25, 0.25, 0.0]]),)),
            Case({"A": np.array([[0.0, 0, 2, 2]]), "B": np.array([[2.0, 0, 4, 2]])}, "touching edges",
                 (np.array([[0.0]]),)),
        ],
        hidden_cases=_iou_hidden,
        output_names=("iou",),
        description="IoU of every box of A (N, 4) with every box of B (M, 4): an (N, M) array.",
        mistakes=[
            Mistake("Boxes that do not overlap have an intersection of 0: clip the width and the height "
                    "of the intersection at 0 before multiplying them.",
                    lambda A, B: _iou_with(A, B, "no_clip")),
            Mistake("Pixel-edge coordinates: a box [x0, y0, x1, y1] is x1 - x0 wide, not x1 - x0 + 1.",
                    lambda A, B: _iou_with(A, B, "plus_one")),
            Mistake("The union counts the intersection once: |A| + |B| - |A ∩ B|, not |A| + |B|.",
                    lambda A, B: _iou_with(A, B, "sum")),
            Mistake("Divide by the union of the two boxes, not by the smaller area.",
                    lambda A, B: _iou_with(A, B, "min")),
        ],
    ),
    Exercise(
        id="06_detection.decode_boxes",
        reference=decode_boxes,
        public_cases=[
            Case({"deltas": np.zeros((2, 4)), "anchors": _ANCHORS}, "zero deltas give the anchors back",
                 (_ANCHORS.copy(),)),
            Case({"deltas": np.array([[0.25, 0.25, 0.0, np.log(0.5)]]), "anchors": _ANCHORS[:1]},
                 "the chapter's encoding example, decoded", (np.array([[2.0, 4, 10, 8]]),)),
            Case({"deltas": np.array([[0.5, -1.0, np.log(2.0), 0.0]]), "anchors": _ANCHORS[1:]},
                 "move right and up, double the width", (np.array([[10.0, 0, 50, 10]]),)),
        ],
        hidden_cases=_decode_hidden,
        output_names=("boxes",),
        description="Faster R-CNN decoding: x = x_a + t_x w_a, w = w_a exp(t_w), ... back to xyxy boxes.",
        mistakes=[
            Mistake("Return xyxy corners [x - w/2, y - h/2, x + w/2, y + h/2], not (centre x, centre y, w, h).",
                    lambda deltas, anchors: _decode_with(deltas, anchors, "centre_size")),
            Mistake("The offsets are in units of the anchor's size: x = x_a + t_x w_a, y = y_a + t_y h_a.",
                    lambda deltas, anchors: _decode_with(deltas, anchors, "unscaled")),
            Mistake("The sizes were encoded with a logarithm: w = w_a exp(t_w), h = h_a exp(t_h).",
                    lambda deltas, anchors: _decode_with(deltas, anchors, "no_exp")),
            Mistake("(x_a, y_a) is the anchor's centre, not its top-left corner.",
                    lambda deltas, anchors: _decode_with(deltas, anchors, "corner")),
        ],
    ),
    Exercise(
        id="06_detection.nms",
        reference=nms,
        public_cases=[
            Case({"boxes": _NMS_BOXES, "scores": np.array([0.90, 0.80, 0.75, 0.60, 0.85]),
                  "iou_threshold": 0.5}, "the chapter's five boxes", (np.array([0, 4]),)),
            Case({"boxes": _NMS_BOXES[:3], "scores": np.array([0.5, 0.6, 0.7]), "iou_threshold": 0.9},
                 "a high threshold keeps all three, best first", (np.array([2, 1, 0]),)),
            Case({"boxes": np.array([[0.0, 0, 2, 1], [0, 0, 1, 1]]), "scores": np.array([0.9, 0.8]),
                  "iou_threshold": 0.5}, "IoU exactly at the threshold is kept", (np.array([0, 1]),)),
        ],
        hidden_cases=_nms_hidden,
        output_names=("keep",),
        description="Greedy non-maximum suppression: indices of the kept boxes, highest score first.",
        mistakes=[
            Mistake("Remove a box only when its IoU with a kept box is *greater* than the threshold; "
                    "a box exactly at the threshold stays.",
                    lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, "geq")),
            Mistake("Return the kept indices in order of decreasing score, not sorted by index.",
                    lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold,
                                                                   "sorted_index")),
            Mistake("Repeat: after keeping the best box, the best *remaining* box is kept next and "
                    "suppresses its own overlaps.",
                    lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, "one_pass")),
            Mistake("Start from the highest score (sort the scores in decreasing order).",
                    lambda boxes, scores, iou_threshold: _nms_with(boxes, scores, iou_threshold, "ascending")),
        ],
    ),
    Exercise(
        id="06_detection.average_precision",
        reference=average_precision,
        public_cases=[
            Case({"scores": np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
                  "is_tp": np.array([True, False, True, False, True]), "n_gt": 4},
                 "the chapter's ranking", (0.25 + 0.25 * 2 / 3 + 0.25 * 0.6,)),
            Case({"scores": np.array([0.5, 0.9, 0.7]), "is_tp": np.array([True, False, True]), "n_gt": 2},
                 "unsorted scores: rank them first", (2 / 3,)),
            Case({"scores": np.array([0.3, 0.2]), "is_tp": np.array([True, True]), "n_gt": 2},
                 "a perfect ranking", (1.0,)),
        ],
        hidden_cases=_ap_hidden,
        output_names=("ap",),
        description="All-point average precision of one class from its scored detections.",
        mistakes=[
            Mistake("Use the interpolated precision p(r) = max over k' >= k of P_k' (the curve made "
                    "non-increasing), not the raw precision at each step.",
                    lambda scores, is_tp, n_gt: _ap_with(scores, is_tp, n_gt, "no_envelope")),
            Mistake("Recall is TP_k / n_gt, the number of objects, including those never detected.",
                    lambda scores, is_tp, n_gt: _ap_with(scores, is_tp, n_gt, "recall_of_hits")),
            Mistake("That is the 11-point AP of VOC 2007; this course uses the all-point area.",
                    lambda scores, is_tp, n_gt: _ap_with(scores, is_tp, n_gt, "voc11")),
            Mistake("Rank the detections by decreasing score before counting.",
                    lambda scores, is_tp, n_gt: _ap_with(scores, is_tp, n_gt, "ascending")),
        ],
    ),
]
