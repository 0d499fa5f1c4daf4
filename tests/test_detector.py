"""The grid detector: output layout, targets, the loss against a loop written from the docstring,
decoding with NMS, CAM against chapter 4's implementation, and the GPU recipe at tiny size."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import detection, detector, saliency
from dlcourse.data import make_scenes


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(12, seed=3)


def test_output_is_s_by_s_by_5b_plus_c():
    model = detector.GridDetector(n_classes=4, n_boxes=2, width=8)
    assert model(torch.zeros(3, 1, 48, 64)).shape == (3, 6, 8, 5 * 2 + 4)


def test_targets_put_each_object_in_the_cell_of_its_centre_and_round_trip(scenes):
    t = detector.encode_targets(scenes.boxes, [lab - 1 for lab in scenes.labels], (6, 6), 8)
    assert t["params"].min() >= 0 and t["params"].max() <= 1
    for n, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        for box, label in zip(boxes, labels):
            i, j = int((box[1] + box[3]) / 2 // 8), int((box[0] + box[2]) / 2 // 8)
            assert t["has_object"][n, i, j]
            if np.allclose(t["boxes"][n, i, j].numpy(), box):   # the largest object wins a shared cell
                assert t["label"][n, i, j] == label - 1
        back = detector._to_xyxy(t["params"][n][:, :, None], 8, (48, 48))[:, :, 0][t["has_object"][n]]
        np.testing.assert_allclose(back.numpy(), t["boxes"][n][t["has_object"][n]].numpy(), atol=1e-4)
    assert int(t["has_object"].sum()) <= sum(len(b) for b in scenes.boxes)


def _loss_by_loops(out, t, B, cell, lambda_coord=5.0, lambda_noobj=0.5):
    """The loss of detection_loss's docstring, cell by cell in float64 NumPy."""
    out = out.detach().double().numpy()
    N, S1, S2, _ = out.shape
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    bce = lambda z, y: np.log1p(np.exp(-abs(z))) + max(z, 0) - z * y  # noqa: E731
    box = obj = cls = 0.0
    for n in range(N):
        for i in range(S1):
            for j in range(S2):
                preds = out[n, i, j, :5 * B].reshape(B, 5)
                responsible = -1
                if t["has_object"][n, i, j]:
                    p = sig(preds[:, :4])
                    cx, cy = (j + p[:, 0]) * cell, (i + p[:, 1]) * cell
                    w, h = p[:, 2] ** 2 * S2 * cell, p[:, 3] ** 2 * S1 * cell
                    decoded = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
                    ious = detection.pairwise_iou(decoded, t["boxes"][n, i, j].double().numpy()[None])[:, 0]
                    responsible = int(np.argmax(ious))
                    diff = p[responsible] - t["params"][n, i, j].double().numpy()
                    box += float(detection.smooth_l1(diff).sum())
                    logits = out[n, i, j, 5 * B:]
                    cls += float(np.log(np.exp(logits).sum()) - logits[t["label"][n, i, j]])
                for b in range(B):
                    obj += bce(preds[b, 4], 1.0) if b == responsible else lambda_noobj * bce(preds[b, 4], 0.0)
    return {"box": box / N, "objectness": obj / N, "class": cls / N,
            "total": (lambda_coord * box + obj + cls) / N}


def test_loss_matches_a_loop_over_cells(scenes):
    torch.manual_seed(0)
    t = detector.encode_targets(scenes.boxes, [lab - 1 for lab in scenes.labels], (6, 6), 8)
    out = torch.randn(len(scenes), 6, 6, 14, dtype=torch.float64)
    got = detector.detection_loss(out, t, n_boxes=2, cell=8)
    expected = _loss_by_loops(out, t, 2, 8)
    for key in expected:
        assert float(got[key]) == pytest.approx(expected[key], rel=1e-10), key


def test_box_loss_choice_and_gradients(scenes):
    t = detector.encode_targets(scenes.boxes, [lab - 1 for lab in scenes.labels], (6, 6), 8)
    out = torch.randn(len(scenes), 6, 6, 14, dtype=torch.float64, requires_grad=True)
    smooth = detector.detection_loss(out, t, 2, 8)
    mse = detector.detection_loss(out, t, 2, 8, box_loss="mse")
    # every parameter lies in [0, 1], so |error| < 1 and smooth L1 is exactly half the squared error
    assert float(smooth["box"]) == pytest.approx(0.5 * float(mse["box"]), rel=1e-12)
    smooth["total"].backward()
    assert torch.isfinite(out.grad).all() and out.grad[..., :4].abs().sum() > 0


def test_decode_reads_a_confident_cell_and_nms_removes_its_twin():
    out = torch.full((1, 6, 6, 14), -8.0)
    logit = lambda p: float(np.log(p / (1 - p)))  # noqa: E731
    # cell (2, 3): centre offset (0.5, 0.25), sqrt sizes 0.5 -> 12 x 12 pixels; both predictors agree
    for b in range(2):
        out[0, 2, 3, 5 * b:5 * b + 5] = torch.tensor([0.0, logit(0.25), 0.0, 0.0, 4.0 - b])
    out[0, 2, 3, 10:] = torch.tensor([0.0, 6.0, 0.0, 0.0])
    boxes, scores, labels = detector.decode(out, n_boxes=2, cell=8, score_threshold=0.3)[0]
    np.testing.assert_allclose(boxes, [[28 - 6, 18 - 6, 28 + 6, 18 + 6]], atol=1e-4)
    assert labels.tolist() == [2] and scores[0] == pytest.approx(torch.sigmoid(torch.tensor(4.0)).item()
                                                               * torch.softmax(out[0, 2, 3, 10:], 0)[1].item())


def test_training_lowers_the_loss_and_map_is_a_number(scenes):
    model, history = detector.train_detector(scenes, scenes[:4], epochs=3, width=8, batch_size=4)
    assert history["loss"][-1] < history["loss"][0] and len(history["val_map"]) == 3
    value, per_class = detector.evaluate_map(model, scenes[:4])
    assert 0.0 <= value <= 1.0 and set(per_class) <= {1, 2, 3, 4}


def test_localiser_heads_and_the_alpha_mix():
    one = make_scenes(16, objects=(1, 1), seed=7)
    model = detector.Localiser(4, width=4)
    logits, box = model(torch.zeros(2, 1, 48, 48))
    assert logits.shape == (2, 4) and box.shape == (2, 4)
    torch.manual_seed(0)
    fresh = detector.Localiser(4, width=8)
    # alpha = 1: the box loss has weight 0, so Adam never moves the box head (and alpha = 0 the class head)
    only_class = detector.train_localiser(one, alpha=1.0, epochs=1, seed=0)
    only_box = detector.train_localiser(one, alpha=0.0, epochs=1, seed=0)
    assert torch.equal(only_class.box.weight, fresh.box.weight)
    assert not torch.equal(only_class.classify.weight, fresh.classify.weight)
    assert torch.equal(only_box.classify.weight, fresh.classify.weight)
    labels, boxes = detector.localise(only_box, one)
    assert labels.shape == (16,) and set(labels) <= {1, 2, 3, 4}
    assert np.all(boxes[:, 2:] >= boxes[:, :2])


def test_presence_targets_and_cam_match_chapter_4_on_a_28_pixel_image(scenes):
    y = detector.presence_targets(scenes)
    for n, labels in enumerate(scenes.labels):
        assert sorted(np.flatnonzero(y[n].numpy()) + 1) == sorted(set(labels.tolist()))
    torch.manual_seed(1)
    model = detector.presence_classifier(4, width=4)
    image = np.random.default_rng(0).random((28, 28))
    for c in range(4):
        reference, _ = saliency.class_activation_map(model, image, target=c)
        np.testing.assert_allclose(detector.scene_cam(model, image, c), reference, rtol=1e-5, atol=1e-6)
    assert detector.scene_cam(model, scenes.images[0], 0).shape == (48, 48)


def test_the_gpu_recipe_runs_tiny_on_the_cpu():
    result = detector.GPU_RECIPES["06_detection.grid_detector_scenes"]("cpu", tiny=True)
    assert 0.0 <= result["test_accuracy"] == result["test_map50"] <= 1.0 and result["seconds"] > 0
    assert result["bar"] == 0.9 and result["metric"] == "mAP@0.5"


# ---------------------------------------------------------------- bad input

_S = make_scenes(2, seed=0)
_T = detector.encode_targets(_S.boxes, [lab - 1 for lab in _S.labels], (6, 6), 8)
_MODEL = detector.GridDetector(4, 2, 8)
_PRESENCE = detector.presence_classifier(4, 4)
TABLE = {
    "GridDetector": (detector.GridDetector, {"n_classes": 4}, {"n_classes": [0, 2.0], "n_boxes": [0, True],
                                                               "width": [-1]}),
    "encode_targets": (detector.encode_targets, {"boxes": _S.boxes, "labels": _S.labels, "grid": (6, 6), "cell": 8},
                       {"boxes": [[np.zeros((1, 3))] * 2], "labels": [[np.zeros(9, int)] * 2],
                        "grid": [(0, 6), (6.0, 6), 6], "cell": [0, 1.5]}),
    "detection_loss": (detector.detection_loss, {"out": torch.zeros(2, 6, 6, 14), "targets": _T, "n_boxes": 2,
                                                 "cell": 8},
                       {"out": [torch.zeros(2, 6, 6, 10), torch.zeros(2, 6, 14)], "box_loss": ["l2"],
                        "lambda_coord": [-1.0], "n_boxes": [0]}),
    "decode": (detector.decode, {"out": torch.zeros(1, 6, 6, 14), "n_boxes": 2, "cell": 8},
               {"out": [np.zeros((1, 6, 6, 14)), torch.zeros(1, 6, 6, 9)], "score_threshold": [1.5],
                "iou_threshold": [-0.5], "cell": [0]}),
    "predict": (detector.predict, {"model": _MODEL, "scenes": _S},
                {"scenes": [_S.images, make_scenes(1, size=44, seed=0)], "batch_size": [0], "model": [None],
                 "score_threshold": [2.0]}),
    "evaluate_map": (detector.evaluate_map, {"model": _MODEL, "scenes": _S},
                     {"scenes": [None], "iou_threshold": [1.5]}),
    "train_detector": (detector.train_detector, {"train": _S, "epochs": 1, "width": 4},
                       {"train": [_S.images, _S[:0]], "val": [_S.images], "epochs": [0], "box_loss": ["l1"],
                        "learning_rate": [0.0], "device": ["gpu-please"]}),
    "presence_classifier": (detector.presence_classifier, {"n_classes": 4}, {"width": [0]}),
    "Localiser": (detector.Localiser, {"n_classes": 4}, {"n_classes": [0], "width": [1.5]}),
    "train_localiser": (detector.train_localiser, {"train": make_scenes(4, objects=(1, 1), seed=0), "epochs": 1},
                        {"train": [_S, None], "alpha": [1.5, -0.1], "epochs": [0], "width": [0]}),
    "localise": (detector.localise, {"model": detector.Localiser(4, 4), "scenes": _S},
                 {"model": [_MODEL], "scenes": [_S.images]}),
    "presence_targets": (detector.presence_targets, {"scenes": _S}, {"scenes": [_S.images]}),
    "train_presence_classifier": (detector.train_presence_classifier, {"train": _S, "epochs": 1},
                                  {"train": [None], "epochs": [0], "learning_rate": [-1.0]}),
    "scene_cam": (detector.scene_cam, {"model": _PRESENCE, "image": _S.images[0], "target": 0},
                  {"model": [_MODEL], "image": [_S.images, np.zeros((2, 2))], "target": [4, -1]}),
    "gpu_detector_scenes": (detector.gpu_detector_scenes, {"device": "cpu", "tiny": True},
                            {"device": ["gpu-please", 3]}),
}
globals().update(table_tests(TABLE, [detector]))
