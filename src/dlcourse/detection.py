"""Object-detection building blocks from scratch in NumPy: IoU, NMS, anchors, box coding, RoI pooling,
smooth L1 and mean average precision.

Boxes are ``xyxy`` in pixel-edge coordinates: ``[x0, y0, x1, y1]`` with ``x0 <= x1`` and ``y0 <= y1``,
area ``(x1 - x0)(y1 - y0)``, so ``[0, 0, 2, 2]`` covers 2 x 2 pixels and its IoU with ``[1, 1, 3, 3]``
is 1/7. Arrays of boxes have shape ``(N, 4)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .validation import as_array, as_float_array, as_int_array, check_choice, check_float, check_positive, \
    check_positive_int

INTERPOLATIONS = ("all-point", "coco-101", "voc-11")


def as_boxes(value, name: str = "boxes") -> np.ndarray:
    """``value`` as (N, 4) finite float64 xyxy boxes with x0 <= x1 and y0 <= y1 (ValueError otherwise).

    An empty list is no box, shape (0, 4). Like the shared validators, it returns an owned C-contiguous copy.
    """
    if isinstance(value, (list, tuple)) and len(value) == 0:
        value = np.zeros((0, 4))
    boxes = as_float_array(value, name, shape=(None, 4))
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"{name} must be xyxy boxes with x0 <= x1 and y0 <= y1, got a box with x1 < x0 or y1 < y0")
    return boxes


def _box(value, name: str) -> np.ndarray:
    """One xyxy box, shape (4,)."""
    return as_boxes(as_float_array(value, name, shape=(4,))[None], name)[0]


def box_area(boxes) -> np.ndarray:
    """Areas (x1 - x0)(y1 - y0) of xyxy boxes: boxes (N, 4) -> (N,)."""
    boxes = as_boxes(boxes, "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _pairwise(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    x0 = np.maximum(A[:, None, 0], B[None, :, 0])
    y0 = np.maximum(A[:, None, 1], B[None, :, 1])
    x1 = np.minimum(A[:, None, 2], B[None, :, 2])
    y1 = np.minimum(A[:, None, 3], B[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)          # (N, M)
    area_a = (A[:, 2] - A[:, 0]) * (A[:, 3] - A[:, 1])
    area_b = (B[:, 2] - B[:, 0]) * (B[:, 3] - B[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    # Two empty boxes have no union: their IoU is defined as 0, not 0/0.
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def pairwise_iou(A, B) -> np.ndarray:
    """IoU of every box of A with every box of B: |a ∩ b| / |a ∪ b|, A (N, 4), B (M, 4) -> (N, M)."""
    return _pairwise(as_boxes(A, "A"), as_boxes(B, "B"))


def iou(a, b) -> float:
    """IoU |a ∩ b| / |a ∪ b| of two xyxy boxes a, b (4,); 0 when both are empty."""
    return float(_pairwise(_box(a, "a")[None], _box(b, "b")[None])[0, 0])


def nms(boxes, scores, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, highest score first.

    Repeat: keep the highest-scoring remaining box, drop every remaining box whose IoU with it is
    greater than ``iou_threshold``. Ties in score go to the lower index. boxes (N, 4), scores (N,).
    """
    boxes = as_boxes(boxes, "boxes")
    scores = as_float_array(scores, "scores", shape=(len(boxes),))
    threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        overlaps = _pairwise(boxes[best][None], boxes[order])[0]
        order = order[overlaps <= threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold: float = 0.5) -> np.ndarray:
    """NMS within each class separately (boxes of different labels never suppress each other)."""
    boxes = as_boxes(boxes, "boxes")
    scores = as_float_array(scores, "scores", shape=(len(boxes),))
    labels = as_int_array(labels, "labels", shape=(len(boxes),))
    threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    keep = [np.flatnonzero(labels == c)[nms(boxes[labels == c], scores[labels == c], threshold)]
            for c in np.unique(labels)]
    keep = np.concatenate(keep) if keep else np.zeros(0, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


def make_anchors(feature_size: tuple[int, int], stride: float, sizes: Sequence[float],
                 ratios: Sequence[float] = (1.0,)) -> np.ndarray:
    """Anchor boxes centred on every cell of an (h, w) feature map: (h * w * A, 4) xyxy, A = sizes x ratios.

    Cell (i, j) has centre ((j + 1/2) s, (i + 1/2) s) in image pixels (s = stride); an anchor of
    size a and ratio r = height / width has width a / sqrt(r) and height a sqrt(r) (area a^2).
    Order: row i, then column j, then size, then ratio (the layout of a conv head's channels).
    """
    shape = as_int_array(feature_size, "feature_size", shape=(2,))
    if np.any(shape < 1):
        raise ValueError(f"feature_size must be two integers >= 1, got {tuple(shape)}")
    stride = check_positive(stride, "stride")
    sizes = as_float_array(sizes, "sizes", ndim=1, allow_empty=False)
    ratios = as_float_array(ratios, "ratios", ndim=1, allow_empty=False)
    if np.any(sizes <= 0) or np.any(ratios <= 0):
        raise ValueError("sizes and ratios must be > 0")
    w = (sizes[:, None] / np.sqrt(ratios[None, :])).reshape(-1)          # (A,)
    h = (sizes[:, None] * np.sqrt(ratios[None, :])).reshape(-1)
    cy, cx = np.meshgrid((np.arange(shape[0]) + 0.5) * stride, (np.arange(shape[1]) + 0.5) * stride,
                         indexing="ij")
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)                        # (h*w, 1)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).reshape(-1, 4)


def _centre_size(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w, h


def _positive_size(boxes: np.ndarray, name: str) -> None:
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise ValueError(f"{name} must have positive width and height (the encoding takes their log)")


def encode_boxes(boxes, anchors) -> np.ndarray:
    """Faster R-CNN regression targets of boxes relative to anchors: (N, 4) -> (N, 4) deltas.

    t_x = (x - x_a) / w_a, t_y = (y - y_a) / h_a, t_w = log(w / w_a), t_h = log(h / h_a), with
    (x, y) the box centre and (w, h) its size.
    """
    boxes, anchors = as_boxes(boxes, "boxes"), as_boxes(anchors, "anchors")
    if boxes.shape != anchors.shape:
        raise ValueError(f"boxes and anchors must have the same shape, got {boxes.shape} and {anchors.shape}")
    _positive_size(boxes, "boxes")
    _positive_size(anchors, "anchors")
    x, y, w, h = _centre_size(boxes)
    xa, ya, wa, ha = _centre_size(anchors)
    return np.stack([(x - xa) / wa, (y - ya) / ha, np.log(w / wa), np.log(h / ha)], axis=1)


def decode_boxes(deltas, anchors) -> np.ndarray:
    """Boxes from Faster R-CNN deltas and anchors (the inverse of encode_boxes): (N, 4) -> (N, 4) xyxy.

    x = x_a + t_x w_a, y = y_a + t_y h_a, w = w_a exp(t_w), h = h_a exp(t_h).
    """
    deltas, anchors = as_float_array(deltas, "deltas", shape=(None, 4)), as_boxes(anchors, "anchors")
    if deltas.shape != anchors.shape:
        raise ValueError(f"deltas and anchors must have the same shape, got {deltas.shape} and {anchors.shape}")
    _positive_size(anchors, "anchors")
    xa, ya, wa, ha = _centre_size(anchors)
    x, y = xa + deltas[:, 0] * wa, ya + deltas[:, 1] * ha
    w, h = wa * np.exp(deltas[:, 2]), ha * np.exp(deltas[:, 3])
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)


def roi_max_pool(features, rois, output_size: tuple[int, int], spatial_scale: float = 1.0) -> np.ndarray:
    """RoI max pooling (Fast R-CNN): each region of a feature map max-pooled to a fixed grid.

    features (C, H, W); rois (R, 4) xyxy in image pixels; output (R, C, ph, pw). A RoI is scaled by
    ``spatial_scale`` (1 / stride) and snapped outwards to whole cells [c0, c1) x [r0, r1) (at least
    one cell, clipped to the map); bin (i, j) covers rows r0 + floor(i h / ph) .. r0 + ceil((i+1) h / ph)
    (h = r1 - r0) and the same for columns, and takes the maximum over them.
    """
    features = as_float_array(features, "features", ndim=3)
    rois = as_boxes(rois, "rois")
    ph, pw = as_int_array(output_size, "output_size", shape=(2,))
    if ph < 1 or pw < 1:
        raise ValueError(f"output_size must be two integers >= 1, got {(int(ph), int(pw))}")
    scale = check_positive(spatial_scale, "spatial_scale")
    C, H, W = features.shape
    if H == 0 or W == 0:
        raise ValueError(f"features must have a non-empty (H, W) map, got shape {features.shape}")
    out = np.zeros((len(rois), C, ph, pw))
    for r, (x0, y0, x1, y1) in enumerate(rois * scale):
        c0, r0 = min(int(np.floor(x0)), W - 1), min(int(np.floor(y0)), H - 1)
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(max(int(np.ceil(x1)), c0 + 1), W), min(max(int(np.ceil(y1)), r0 + 1), H)
        h, w = r1 - r0, c1 - c0
        for i in range(ph):
            rows = slice(r0 + (i * h) // ph, r0 + -(-((i + 1) * h) // ph))
            for j in range(pw):
                cols = slice(c0 + (j * w) // pw, c0 + -(-((j + 1) * w) // pw))
                out[r, :, i, j] = features[:, rows, cols].max(axis=(1, 2))
    return out


def smooth_l1(x, beta: float = 1.0) -> np.ndarray:
    """Smooth L1 (Huber / beta) elementwise: 0.5 x^2 / beta where |x| < beta, |x| - 0.5 beta elsewhere."""
    x = as_float_array(x, "x")
    beta = check_positive(beta, "beta")
    ax = np.abs(x)
    return np.where(ax < beta, 0.5 * x**2 / beta, ax - 0.5 * beta)


def smooth_l1_loss(pred, target, beta: float = 1.0) -> float:
    """Mean smooth L1 of pred - target (what F.smooth_l1_loss computes with reduction='mean')."""
    pred, target = as_float_array(pred, "pred"), as_float_array(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
    if pred.size == 0:
        raise ValueError("pred must not be empty: the mean of no terms is undefined")
    return float(smooth_l1(pred - target, beta).mean())



def match_detections(boxes, scores, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one class in one image are true positives: (D,) bool, in the input order.

    In order of decreasing score, each detection takes the unmatched ground-truth box it overlaps
    most, if that IoU is >= ``iou_threshold`` (a true positive); otherwise it is a false positive.
    A second detection of an already matched object is a false positive (the COCO rule).
    """
    boxes, gt_boxes = as_boxes(boxes, "boxes"), as_boxes(gt_boxes, "gt_boxes")
    scores = as_float_array(scores, "scores", shape=(len(boxes),))
    threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    overlaps = _pairwise(boxes, gt_boxes)                                  # (D, G)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    is_tp = np.zeros(len(boxes), dtype=bool)
    for d in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, overlaps[d])
        if candidates.size and candidates.max() >= threshold:
            g = int(candidates.argmax())
            taken[g], is_tp[d] = True, True
    return is_tp


def _envelope(precision: np.ndarray) -> np.ndarray:
    """max_{k' >= k} precision[k']: the precision-recall curve made non-increasing."""
    return np.maximum.accumulate(precision[::-1])[::-1]


def average_precision(scores, is_tp, n_gt: int, interpolation: str = "all-point") -> float:
    """Average precision of one class from its ranked detections.

    Sorted by decreasing score, P_k = TP_k / k and R_k = TP_k / n_gt after the k-th detection, and
    p(r) = max_{R_k >= r} P_k (0 beyond the last recall). ``"all-point"`` (the course's default, VOC
    2010+): AP = sum_k (R_k - R_{k-1}) p(R_k), the exact area under p. ``"coco-101"``: the mean of p at
    r = 0, 0.01, ..., 1 (COCO). ``"voc-11"``: the mean of p at r = 0, 0.1, ..., 1 (VOC 2007).
    scores (D,), is_tp (D,) bool, n_gt >= number of true positives.
    """
    scores = as_float_array(scores, "scores", ndim=1)
    if isinstance(is_tp, (list, tuple)) and len(is_tp) == 0:
        is_tp = np.zeros(0, dtype=bool)  # [] reads as float64 in NumPy: an empty ranking has no flags
    is_tp = as_array(is_tp, "is_tp", kind="bool", shape=(len(scores),))
    n_gt = check_positive_int(n_gt, "n_gt")
    interpolation = check_choice(interpolation, "interpolation", INTERPOLATIONS)
    if is_tp.sum() > n_gt:
        raise ValueError(f"is_tp has {int(is_tp.sum())} true positives, more than n_gt = {n_gt} objects")
    tp = np.cumsum(is_tp[np.argsort(-scores, kind="stable")])
    recall = tp / n_gt
    precision = _envelope(tp / np.arange(1, len(tp) + 1)) if len(tp) else np.zeros(0)
    if interpolation == "all-point":
        steps = np.diff(np.concatenate([[0.0], recall]))
        return float(np.sum(steps * precision))
    levels = np.linspace(0, 1, 101 if interpolation == "coco-101" else 11)
    where = np.searchsorted(recall, levels, side="left")                   # first k with R_k >= r
    padded = np.concatenate([precision, [0.0]])
    return float(padded[where].mean())


def _per_image(values, name: str, n: int | None = None) -> list:
    if isinstance(values, np.ndarray) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be a list with one array per image, got {type(values).__name__}")
    if n is not None and len(values) != n:
        raise ValueError(f"{name} must have one entry per image ({n}), got {len(values)}")
    return list(values)


def _images_of(boxes, scores, labels, gt_boxes, gt_labels) -> list[tuple[np.ndarray, ...]]:
    """Validated per-image (boxes, scores, labels, gt_boxes, gt_labels)."""
    n = len(_per_image(gt_boxes, "gt_boxes"))
    boxes, scores, labels, gt_labels = (_per_image(v, k, n) for v, k in (
        (boxes, "boxes"), (scores, "scores"), (labels, "labels"), (gt_labels, "gt_labels")))
    images = []
    for i in range(n):
        b, g = as_boxes(boxes[i], f"boxes[{i}]"), as_boxes(gt_boxes[i], f"gt_boxes[{i}]")
        images.append((b, as_float_array(scores[i], f"scores[{i}]", shape=(len(b),)),
                       as_int_array(labels[i], f"labels[{i}]", shape=(len(b),)), g,
                       as_int_array(gt_labels[i], f"gt_labels[{i}]", shape=(len(g),))))
    return images


def mean_average_precision(boxes, scores, labels, gt_boxes, gt_labels, iou_threshold: float = 0.5,
                           interpolation: str = "all-point") -> tuple[float, dict[int, float]]:
    """mAP: the mean over classes with at least one object of their average precision.

    Each argument is a list with one entry per image: detections ``boxes[i]`` (D_i, 4), ``scores[i]``
    (D_i,), ``labels[i]`` (D_i,); objects ``gt_boxes[i]`` (G_i, 4), ``gt_labels[i]`` (G_i,). Detections
    are matched per image and class by :func:`match_detections`; returns (mAP, {class: AP}).
    """
    images = _images_of(boxes, scores, labels, gt_boxes, gt_labels)
    threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    found: dict[int, list] = {}
    n_objects: dict[int, int] = {}
    for b, s, lab, g, glab in images:
        for c in np.union1d(lab, glab):
            mine, theirs = lab == c, glab == c
            tp = match_detections(b[mine], s[mine], g[theirs], threshold)
            found.setdefault(int(c), []).append((s[mine], tp))
            n_objects[int(c)] = n_objects.get(int(c), 0) + int(theirs.sum())
    per_class = {}
    for c in sorted(c for c, count in n_objects.items() if count > 0):
        s = np.concatenate([entry[0] for entry in found[c]])
        tp = np.concatenate([entry[1] for entry in found[c]])
        per_class[c] = average_precision(s, tp, n_objects[c], interpolation)
    if not per_class:
        raise ValueError("gt_labels hold no object: mAP is undefined without ground truth")
    return float(np.mean(list(per_class.values()))), per_class


def coco_average_precisions(boxes, scores, labels, gt_boxes, gt_labels, iou_threshold: float = 0.5) -> dict:
    """Per-class AP from pycocotools' COCOeval (an independent implementation; 101-point interpolation).

    Same arguments as :func:`mean_average_precision`; every box counts (one area range, up to 1,000
    detections per image and class). Needs ``pip install pycocotools``.
    """
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = _images_of(boxes, scores, labels, gt_boxes, gt_labels)
    threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    n = len(images)

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    objects = [(i, b, int(c)) for i, image in enumerate(images) for b, c in zip(image[3], image[4])]
    classes = sorted({c for _, _, c in objects} | {int(c) for image in images for c in image[2]})
    truth = COCO()
    truth.dataset = {"images": [{"id": i + 1} for i in range(n)], "categories": [{"id": c} for c in classes],
                     "annotations": [{"id": k + 1, "image_id": i + 1, "category_id": c, "bbox": xywh(b),
                                      "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0}
                                     for k, (i, b, c) in enumerate(objects)]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        truth.createIndex()
        found = truth.loadRes([{"image_id": i + 1, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
                               for i, image in enumerate(images) for b, s, c in zip(*image[:3])])
        evaluation = COCOeval(truth, found, "bbox")
        evaluation.params.iouThrs = np.array([threshold])
        evaluation.params.maxDets, evaluation.params.areaRng = [1000], [[0, 1e12]]
        evaluation.params.areaRngLbl = ["all"]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, :, 0, 0]                 # (101 recall levels, classes)
    return {int(c): float(precision[:, k].mean()) for k, c in enumerate(evaluation.params.catIds)
            if precision[0, k] > -1}
