"""dlcourse.detection against worked values, brute-force loops, PyTorch and pycocotools' COCOeval."""
from __future__ import annotations

import contextlib
import io
import itertools

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import detection as D

# ---------------------------------------------------------------- IoU


def test_iou_worked_value_is_one_seventh():
    assert D.iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7, abs=1e-15)


def test_iou_special_cases():
    assert D.iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert D.iou([0, 0, 2, 2], [2, 0, 4, 2]) == 0.0          # touching edges share no area
    assert D.iou([0, 0, 4, 4], [1, 1, 3, 3]) == pytest.approx(4 / 16)   # nested
    assert D.iou([1, 1, 1, 1], [1, 1, 1, 1]) == 0.0          # two empty boxes: 0, not 0/0


def _iou_by_pixels(a, b):
    """IoU by counting the unit pixels of a 0..12 grid that each integer box covers."""
    grid = np.zeros((2, 12, 12), dtype=bool)
    for k, (x0, y0, x1, y1) in enumerate((a, b)):
        grid[k, int(y0):int(y1), int(x0):int(x1)] = True
    union = np.sum(grid[0] | grid[1])
    return np.sum(grid[0] & grid[1]) / union if union else 0.0


def test_pairwise_iou_matches_a_pixel_count_on_integer_boxes():
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 12, size=(2, 30, 2, 2))
    A, B = (np.concatenate([c.min(1), c.max(1)], axis=1) for c in corners)
    expected = np.array([[_iou_by_pixels(a, b) for b in B] for a in A])
    np.testing.assert_allclose(D.pairwise_iou(A, B), expected, atol=1e-15)
    assert D.pairwise_iou(A, B).shape == (30, 30) and D.pairwise_iou(A[:0], B).shape == (0, 30)


def test_box_area():
    np.testing.assert_array_equal(D.box_area([[0, 0, 2, 3], [1, 1, 1, 5]]), [6.0, 0.0])


# ---------------------------------------------------------------- NMS


def _greedy_reference(boxes, scores, threshold):
    """NMS written independently, with Python lists: walk the boxes by score, keep if no kept overlaps."""
    order = sorted(range(len(scores)), key=lambda k: (-scores[k], k))
    kept = []
    for k in order:
        if all(_iou_by_pixels(boxes[k], boxes[j]) <= threshold for j in kept):
            kept.append(k)
    return kept


def test_nms_matches_an_independent_greedy_loop():
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = int(rng.integers(0, 25))
        corners = rng.integers(0, 12, size=(n, 2, 2))
        boxes = np.concatenate([corners.min(1), corners.max(1) + 1], axis=1)
        scores = rng.integers(0, 6, size=n).astype(float)    # ties: the lower index wins
        threshold = float(rng.choice([0.0, 0.3, 0.5, 0.7]))
        assert D.nms(boxes, scores, threshold).tolist() == _greedy_reference(boxes, scores, threshold)


def test_nms_keeps_the_characterising_properties_on_a_brute_force_check():
    """Kept boxes overlap each other by <= t; every dropped box overlaps a better kept one by > t."""
    rng = np.random.default_rng(2)
    for _ in range(30):
        xy = rng.uniform(0, 20, size=(15, 2))
        boxes = np.hstack([xy, xy + rng.uniform(2, 8, size=(15, 2))])
        scores = rng.random(15)
        keep = set(D.nms(boxes, scores, 0.4).tolist())
        for i, j in itertools.combinations(keep, 2):
            assert D.iou(boxes[i], boxes[j]) <= 0.4
        for k in set(range(15)) - keep:
            assert any(scores[j] > scores[k] and D.iou(boxes[j], boxes[k]) > 0.4 for j in keep)


def test_nms_worked_example_and_batched_nms_separates_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert D.nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert D.batched_nms(boxes, scores, [0, 1, 0, 0], 0.5).tolist() == [3, 1, 2]
    assert D.nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


# ---------------------------------------------------------------- anchors and box coding


def test_anchors_layout_centres_and_areas():
    anchors = D.make_anchors((2, 3), 8, sizes=[8, 16], ratios=[0.5, 1, 2])
    assert anchors.shape == (2 * 3 * 6, 4)
    A = anchors.reshape(2, 3, 6, 4)
    centres = (A[..., :2] + A[..., 2:]) / 2
    np.testing.assert_allclose(centres[1, 2, 0], [2.5 * 8, 1.5 * 8])      # row 1, column 2
    w, h = A[0, 0, :, 2] - A[0, 0, :, 0], A[0, 0, :, 3] - A[0, 0, :, 1]
    np.testing.assert_allclose(w * h, [64, 64, 64, 256, 256, 256])
    np.testing.assert_allclose(h / w, [0.5, 1, 2, 0.5, 1, 2])


def test_encode_worked_value_and_decode_inverts_it():
    deltas = D.encode_boxes([[2.0, 4, 10, 8]], [[0.0, 0, 8, 8]])   # centre (6, 6) size 8x4 vs (4, 4) 8x8
    np.testing.assert_allclose(deltas, [[0.25, 0.25, 0.0, np.log(0.5)]])
    rng = np.random.default_rng(3)
    xy = rng.uniform(-50, 50, size=(100, 2))
    boxes = np.hstack([xy, xy + rng.uniform(0.5, 40, size=(100, 2))])
    anchors = np.hstack([xy + 3, xy + 3 + rng.uniform(1, 30, size=(100, 2))])
    np.testing.assert_allclose(D.decode_boxes(D.encode_boxes(boxes, anchors), anchors), boxes, atol=1e-10)


# ---------------------------------------------------------------- RoI max pooling


def _roi_pool_brute_force(features, roi, output_size, scale):
    """Every cell of the map, asked which bins of the RoI contain it (the docstring's rule, cell by cell)."""
    C, H, W = features.shape
    ph, pw = output_size
    x0, y0, x1, y1 = np.asarray(roi) * scale
    c0 = max(min(int(np.floor(x0)), W - 1), 0)
    r0 = max(min(int(np.floor(y0)), H - 1), 0)
    c1, r1 = min(max(int(np.ceil(x1)), c0 + 1), W), min(max(int(np.ceil(y1)), r0 + 1), H)
    h, w = r1 - r0, c1 - c0
    out = np.full((C, ph, pw), -np.inf)
    for row in range(H):
        for col in range(W):
            for i in range(ph):
                for j in range(pw):
                    in_rows = r0 + np.floor(i * h / ph) <= row < r0 + np.ceil((i + 1) * h / ph)
                    in_cols = c0 + np.floor(j * w / pw) <= col < c0 + np.ceil((j + 1) * w / pw)
                    if in_rows and in_cols:
                        out[:, i, j] = np.maximum(out[:, i, j], features[:, row, col])
    return out


def test_roi_max_pool_matches_a_brute_force_loop():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(3, 9, 11))
    for _ in range(25):
        xy = rng.uniform(-4, 40, size=2)
        roi = np.concatenate([xy, xy + rng.uniform(0, 30, size=2)])
        size, scale = (int(rng.integers(1, 5)), int(rng.integers(1, 5))), float(rng.choice([0.25, 0.5, 1.0]))
        expected = _roi_pool_brute_force(features, roi, size, scale)
        np.testing.assert_array_equal(D.roi_max_pool(features, roi[None], size, scale)[0], expected)


def test_roi_max_pool_of_the_whole_map_with_divisible_bins_is_max_pooling():
    x = torch.randn(2, 8, 12, dtype=torch.float64)
    pooled = D.roi_max_pool(x.numpy(), [[0, 0, 12, 8]], (4, 3))[0]
    np.testing.assert_array_equal(pooled, torch.nn.functional.max_pool2d(x, (2, 4)).numpy())


def test_roi_max_pool_is_adaptive_max_pooling_of_the_snapped_region():
    """PyTorch's adaptive pooling uses the same bins: floor(i h / ph) .. ceil((i + 1) h / ph)."""
    rng = np.random.default_rng(6)
    features = rng.normal(size=(3, 10, 13))
    for _ in range(20):
        c0, r0 = int(rng.integers(0, 12)), int(rng.integers(0, 9))
        c1, r1 = int(rng.integers(c0 + 1, 14)), int(rng.integers(r0 + 1, 11))
        size = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        roi = np.array([[c0 + rng.random() * 0.4, r0 + rng.random() * 0.4, c1 - rng.random() * 0.4,
                         r1 - rng.random() * 0.4]]) * 4                      # image pixels, stride 4
        expected = torch.nn.functional.adaptive_max_pool2d(torch.tensor(features[:, r0:r1, c0:c1]), size)
        np.testing.assert_array_equal(D.roi_max_pool(features, roi, size, 0.25)[0], expected.numpy())


# ---------------------------------------------------------------- smooth L1


@pytest.mark.parametrize("beta", [1.0, 0.1, 2.5])
def test_smooth_l1_matches_torch(beta):
    rng = np.random.default_rng(5)
    pred, target = rng.normal(0, 2, size=(7, 4)), rng.normal(0, 2, size=(7, 4))
    expected = torch.nn.functional.smooth_l1_loss(torch.tensor(pred), torch.tensor(target), beta=beta)
    assert D.smooth_l1_loss(pred, target, beta) == pytest.approx(expected.item(), rel=1e-14)
    elementwise = torch.nn.functional.smooth_l1_loss(torch.tensor(pred), torch.tensor(target), beta=beta,
                                                     reduction="none")
    np.testing.assert_allclose(D.smooth_l1(pred - target, beta), elementwise.numpy(), rtol=1e-14)


# ---------------------------------------------------------------- average precision


def test_average_precision_worked_values():
    scores, tp = [0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, False, True]
    # P = 1, 1/2, 2/3, 1/2, 3/5 at R = 1/4, 1/4, 1/2, 1/2, 3/4; envelope 1, 2/3, 2/3, 3/5, 3/5
    assert D.average_precision(scores, tp, 4) == pytest.approx(0.25 * 1 + 0.25 * 2 / 3 + 0.25 * 0.6)
    # 11-point: r = 0 .. 0.2 -> 1, 0.3 .. 0.5 -> 2/3, 0.6, 0.7 -> 0.6, 0.8 .. 1 -> 0
    assert D.average_precision(scores, tp, 4, "voc-11") == pytest.approx((3 + 2 + 1.2) / 11)
    assert D.average_precision([0.3], [True], 1) == 1.0
    assert D.average_precision([], [], 3) == 0.0


def _random_detections(rng, n_images=25, n_classes=3, jitter=1.5):
    gtb, gtl, db, ds, dl = [], [], [], [], []
    for _ in range(n_images):
        g = int(rng.integers(0, 6))
        xy = rng.uniform(0, 40, (g, 2))
        gb = np.hstack([xy, xy + rng.uniform(4, 15, (g, 2))])
        gl = rng.integers(1, n_classes + 1, g)
        d = int(rng.integers(0, 10))
        src = rng.integers(0, max(g, 1), d)
        if g:
            b, lab = gb[src] + rng.normal(0, jitter, (d, 4)), gl[src].copy()
        else:
            xy = rng.uniform(0, 40, (d, 2))
            b, lab = np.hstack([xy, xy + 8]), rng.integers(1, n_classes + 1, d)
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
        flip = rng.random(d) < 0.2
        lab[flip] = rng.integers(1, n_classes + 1, int(flip.sum()))
        gtb.append(gb), gtl.append(gl), db.append(b), ds.append(rng.random(d)), dl.append(lab)
    return db, ds, dl, gtb, gtl


def _coco_eval(db, ds, dl, gtb, gtl, n_classes=3):
    """Per-class AP@0.5 from pycocotools' COCOeval (101-point interpolation, no area ranges)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    xywh = lambda b: [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]  # noqa: E731
    anns = [{"id": k + 1, "image_id": i + 1, "category_id": int(c), "bbox": xywh(b),
             "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0}
            for k, (i, b, c) in enumerate((i, b, c) for i in range(len(gtb)) for b, c in zip(gtb[i], gtl[i]))]
    gt = COCO()
    gt.dataset = {"images": [{"id": i + 1} for i in range(len(gtb))], "annotations": anns,
                  "categories": [{"id": c} for c in range(1, n_classes + 1)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": i + 1, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
                         for i in range(len(db)) for b, s, c in zip(db[i], ds[i], dl[i])])
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs, ev.params.maxDets = np.array([0.5]), [100]
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][0, :, :, 0, 0]                       # (101 recalls, classes)
    return {c: float(precision[:, k].mean()) for k, c in enumerate(ev.params.catIds) if precision[0, k] > -1}


@pytest.mark.parametrize("seed", range(6))
def test_coco_101_point_map_equals_pycocotools_and_all_point_is_close(seed):
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(seed)
    data = _random_detections(rng, jitter=[0.5, 1.5, 3.0][seed % 3])
    ours_map, ours = D.mean_average_precision(*data, interpolation="coco-101")
    coco = _coco_eval(*data)
    assert sorted(ours) == sorted(coco)
    for c in coco:
        assert ours[c] == pytest.approx(coco[c], abs=1e-12)
    assert ours_map == pytest.approx(np.mean(list(coco.values())), abs=1e-12)
    # all-point and 101-point differ only by the sampling of the recall axis: at most 1/101 per class
    _, all_point = D.mean_average_precision(*data)
    assert all(abs(all_point[c] - coco[c]) <= 1 / 101 + 1e-12 for c in coco)


def test_the_package_wrapper_of_cocoeval_agrees_with_the_tests_own_call():
    pytest.importorskip("pycocotools")
    data = _random_detections(np.random.default_rng(9))
    assert D.coco_average_precisions(*data) == pytest.approx(_coco_eval(*data), abs=1e-15)


def test_perfect_detections_give_map_one_and_missing_ones_lower_recall():
    boxes = [np.array([[0, 0, 5, 5], [10, 10, 20, 20]]), np.array([[3, 3, 9, 9]])]
    labels = [np.array([1, 2]), np.array([1])]
    scores = [np.array([0.9, 0.8]), np.array([0.7])]
    assert D.mean_average_precision(boxes, scores, labels, boxes, labels) == (1.0, {1: 1.0, 2: 1.0})
    half = D.mean_average_precision([boxes[0], np.zeros((0, 4))], [scores[0], np.zeros(0)],
                                    [labels[0], np.zeros(0, int)], boxes, labels)
    assert half == (0.75, {1: 0.5, 2: 1.0})


def test_a_duplicate_detection_is_a_false_positive():
    gt = np.array([[0.0, 0, 10, 10]])
    assert D.match_detections([[0, 0, 10, 10], [0, 0, 10, 9]], [0.5, 0.9], gt).tolist() == [False, True]
    assert D.match_detections([[0, 0, 10, 10]], [0.5], gt, iou_threshold=1.0).tolist() == [True]


# ---------------------------------------------------------------- bad input

_B = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]])
_BAD_BOXES = [np.zeros((2, 3)), np.array([[2.0, 0, 1, 1]]), np.array([[np.nan, 0, 1, 1]]), "boxes",
              np.ones((2, 4), dtype=bool)]
TABLE = {
    "box_area": (D.box_area, {"boxes": _B}, {"boxes": _BAD_BOXES}),
    "as_boxes": (D.as_boxes, {"value": _B}, {"value": _BAD_BOXES + [None, [[0, 0, 1]]]}),
    "iou": (D.iou, {"a": _B[0], "b": _B[1]}, {"a": [_B, [0, 0, 1], [1.0, 0, 0, 1], [True] * 4]}),
    "pairwise_iou": (D.pairwise_iou, {"A": _B, "B": _B}, {"A": _BAD_BOXES, "B": [_B[0]]}),
    "nms": (D.nms, {"boxes": _B, "scores": [0.5, 0.4], "iou_threshold": 0.5},
            {"boxes": _BAD_BOXES[:2], "scores": [[0.5], [np.nan, 1.0]], "iou_threshold": [1.5, -0.1, True]}),
    "batched_nms": (D.batched_nms, {"boxes": _B, "scores": [0.5, 0.4], "labels": [0, 1]},
                    {"labels": [[0.5, 1.0], [0]], "iou_threshold": [2.0]}),
    "make_anchors": (D.make_anchors, {"feature_size": (2, 2), "stride": 4, "sizes": [4.0], "ratios": [1.0]},
                     {"feature_size": [(0, 2), (2,), (2.0, 2.0)], "stride": [0, -1, True],
                      "sizes": [[], [-1.0]], "ratios": [[0.0], [[1.0]]]}),
    "encode_boxes": (D.encode_boxes, {"boxes": _B, "anchors": _B},
                     {"boxes": [_B[:1], np.array([[0.0, 0, 0, 2], [0, 0, 1, 1]])], "anchors": [_BAD_BOXES[1]]}),
    "decode_boxes": (D.decode_boxes, {"deltas": np.zeros((2, 4)), "anchors": _B},
                     {"deltas": [np.zeros((3, 4)), np.full((2, 4), np.inf)],
                      "anchors": [np.array([[0.0, 0, 0, 1], [0, 0, 1, 1]])]}),
    "roi_max_pool": (D.roi_max_pool, {"features": np.zeros((1, 4, 4)), "rois": _B, "output_size": (2, 2)},
                     {"features": [np.zeros((4, 4)), np.zeros((1, 0, 4))], "rois": _BAD_BOXES[:2],
                      "output_size": [(0, 2), (2,)], "spatial_scale": [0.0, np.nan]}),
    "smooth_l1": (D.smooth_l1, {"x": [0.5, 2.0], "beta": 1.0}, {"x": ["a", [np.nan]], "beta": [0.0, -1.0]}),
    "smooth_l1_loss": (D.smooth_l1_loss, {"pred": [1.0, 2.0], "target": [0.0, 0.0]},
                       {"target": [[0.0], [[0.0, 0.0]]], "pred": [[], [True, False]]}),
    "match_detections": (D.match_detections, {"boxes": _B, "scores": [0.5, 0.4], "gt_boxes": _B[:1]},
                         {"scores": [[0.5]], "gt_boxes": _BAD_BOXES[:2], "iou_threshold": [1.1]}),
    "average_precision": (D.average_precision, {"scores": [0.5, 0.4], "is_tp": [True, False], "n_gt": 2},
                          {"is_tp": [[1, 0], [True]], "n_gt": [0, 2.0, True], "interpolation": ["11"],
                           "scores": [[[0.5, 0.4]]]}),
    "mean_average_precision": (
        D.mean_average_precision,
        {"boxes": [_B], "scores": [[0.5, 0.4]], "labels": [[1, 1]], "gt_boxes": [_B], "gt_labels": [[1, 2]]},
        {"boxes": [[_B, _B], _B], "gt_labels": [[[1.5, 2]], [[]]], "interpolation": ["voc"],
         "iou_threshold": [-1.0]}),
    "coco_average_precisions": (
        D.coco_average_precisions,
        {"boxes": [_B], "scores": [[0.5, 0.4]], "labels": [[1, 1]], "gt_boxes": [_B], "gt_labels": [[1, 2]]},
        {"gt_boxes": [_B, [_B[:, :3]]], "scores": [[[0.5]], "x"], "iou_threshold": [1.5]}),
}
globals().update(table_tests(TABLE, [D]))


def test_average_precision_refuses_more_hits_than_objects():
    with pytest.raises(ValueError, match="more than n_gt"):
        D.average_precision([0.5, 0.4], [True, True], 1)
