"""A one-stage grid detector in the style of YOLOv1, trained on synthetic scenes.

The image is cut into an S x S grid of cells of ``cell`` pixels. For each cell the network outputs
5B + C numbers: B boxes (t_x, t_y, t_w, t_h, objectness logit) and C class logits, so the output has
shape (N, S, S, 5B + C). A box is read as centre ((j + sigmoid t_x) cell, (i + sigmoid t_y) cell) and
size (sigmoid(t_w)^2 W, sigmoid(t_h)^2 H): the network regresses the square root of the relative size,
as YOLOv1 does, so an error on a small box costs more than the same error on a large one.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .config import get_device
from .data.scenes import Scenes
from .detection import as_boxes, batched_nms, mean_average_precision
from .validation import as_float_array, as_int_array, check_choice, check_float, check_int, check_non_negative, \
    check_positive, check_positive_int


class GridDetector(nn.Module):
    """Conv backbone (three 2x2 poolings: stride 8) and a 1x1 head with 5B + C channels per cell.

    Input x: (N, 1, H, W) with H, W multiples of 8; output: (N, H/8, W/8, 5B + C).
    """

    def __init__(self, n_classes: int, n_boxes: int = 2, width: int = 32):
        super().__init__()
        self.n_classes = check_positive_int(n_classes, "n_classes")
        self.n_boxes = check_positive_int(n_boxes, "n_boxes")
        w = check_positive_int(width, "width")

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*block(1, w // 2), nn.MaxPool2d(2), *block(w // 2, w), nn.MaxPool2d(2),
                                      *block(w, 2 * w), nn.MaxPool2d(2), *block(2 * w, 2 * w),
                                      *block(2 * w, 2 * w))
        self.head = nn.Conv2d(2 * w, 5 * self.n_boxes + self.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).permute(0, 2, 3, 1)          # (N, S, S, 5B + C)


def _split_output(out: torch.Tensor, n_boxes: int):
    """(N, S, S, 5B + C) -> boxes (N, S, S, B, 4) after the sigmoid, objectness logits (N, S, S, B), classes."""
    N, S1, S2, _ = out.shape
    per_box = out[..., :5 * n_boxes].reshape(N, S1, S2, n_boxes, 5)
    return torch.sigmoid(per_box[..., :4]), per_box[..., 4], out[..., 5 * n_boxes:]


def _to_xyxy(params: torch.Tensor, cell: int, image_size: tuple[int, int]) -> torch.Tensor:
    """Grid parameters (.., S, S, B, 4) in [0, 1] -> xyxy boxes in pixels."""
    S1, S2 = params.shape[-4], params.shape[-3]
    rows = torch.arange(S1, dtype=params.dtype, device=params.device).view(S1, 1, 1)
    cols = torch.arange(S2, dtype=params.dtype, device=params.device).view(1, S2, 1)
    cx, cy = (cols + params[..., 0]) * cell, (rows + params[..., 1]) * cell
    w, h = params[..., 2] ** 2 * image_size[1], params[..., 3] ** 2 * image_size[0]
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def encode_targets(boxes: Sequence, labels: Sequence, grid: tuple[int, int], cell: int) -> dict:
    """Training targets of a batch: each object is given to the cell holding its centre.

    A cell holds at most one object (the largest, when centres collide: YOLOv1's limit). Returns
    ``params`` (N, S, S, 4) the target (x offset, y offset, sqrt w/W, sqrt h/H) in [0, 1], ``boxes``
    (N, S, S, 4) xyxy, ``has_object`` (N, S, S) bool and ``label`` (N, S, S) int64 (-1: no object).
    Labels are 0-based here (scene class id - 1).
    """
    if not isinstance(grid, (tuple, list)) or len(grid) != 2:
        raise ValueError(f"grid must be a pair (S rows, S columns), got {grid!r}")
    S1, S2 = (check_positive_int(g, "grid") for g in grid)
    cell = check_positive_int(cell, "cell")
    if not isinstance(boxes, (list, tuple)) or not isinstance(labels, (list, tuple)) or len(boxes) != len(labels):
        raise ValueError("boxes and labels must be lists with one array per image, of the same length")
    H, W = S1 * cell, S2 * cell
    n = len(boxes)
    params, xyxy = np.zeros((n, S1, S2, 4), np.float32), np.zeros((n, S1, S2, 4), np.float32)
    has, label = np.zeros((n, S1, S2), bool), np.full((n, S1, S2), -1, np.int64)
    for k in range(n):
        b = as_boxes(boxes[k], f"boxes[{k}]")
        lab = as_int_array(labels[k], f"labels[{k}]", shape=(len(b),))
        for idx in np.argsort((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), kind="stable"):  # largest last wins
            x0, y0, x1, y1 = b[idx]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            i, j = min(int(cy // cell), S1 - 1), min(int(cx // cell), S2 - 1)
            params[k, i, j] = [cx / cell - j, cy / cell - i, np.sqrt((x1 - x0) / W), np.sqrt((y1 - y0) / H)]
            xyxy[k, i, j], has[k, i, j], label[k, i, j] = b[idx], True, lab[idx]
    return {"params": torch.from_numpy(params), "boxes": torch.from_numpy(xyxy),
            "has_object": torch.from_numpy(has), "label": torch.from_numpy(label)}


def _torch_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise IoU of xyxy boxes a, b (..., 4)."""
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


def detection_loss(out: torch.Tensor, targets: dict, n_boxes: int, cell: int, lambda_coord: float = 5.0,
                   lambda_noobj: float = 0.5, box_loss: str = "smooth_l1") -> dict:
    """YOLOv1-style loss: box regression + objectness + classification, averaged over the batch.

    In a cell with an object the *responsible* predictor is the one of its B boxes with the highest
    IoU with the object. Box: lambda_coord x (smooth L1 or squared error) between its parameters and
    the target's; objectness: binary cross-entropy, target 1 for responsible predictors, 0 for the others
    (weighted lambda_noobj); class: cross-entropy over C in cells with an object. Returns the terms.
    """
    check_choice(box_loss, "box_loss", ("smooth_l1", "mse"))
    lambda_coord = check_non_negative(lambda_coord, "lambda_coord")
    lambda_noobj = check_non_negative(lambda_noobj, "lambda_noobj")
    n_boxes, cell = check_positive_int(n_boxes, "n_boxes"), check_positive_int(cell, "cell")
    if out.ndim != 4 or out.shape[-1] <= 5 * n_boxes:
        raise ValueError(f"out must have shape (N, S, S, 5B + C) with B = {n_boxes} and C >= 1, "
                         f"got {tuple(out.shape)}")
    params, obj_logit, cls_logit = _split_output(out, n_boxes)
    has = targets["has_object"]
    S1, S2 = out.shape[1:3]
    with torch.no_grad():
        ious = _torch_iou(_to_xyxy(params, cell, (S1 * cell, S2 * cell)), targets["boxes"][..., None, :])
        best = F.one_hot(ious.argmax(-1), n_boxes).bool() & has[..., None]  # (N, S, S, B)
    target = targets["params"][..., None, :].expand_as(params)
    regress = F.smooth_l1_loss if box_loss == "smooth_l1" else F.mse_loss
    n = out.shape[0]
    box = regress(params[best], target[best], reduction="sum") / n if best.any() else out.sum() * 0
    bce = F.binary_cross_entropy_with_logits(obj_logit, best.to(obj_logit.dtype), reduction="none")
    objectness = (bce[best].sum() + lambda_noobj * bce[~best].sum()) / n
    classes = F.cross_entropy(cls_logit[has], targets["label"][has], reduction="sum") / n if has.any() \
        else out.sum() * 0
    total = lambda_coord * box + objectness + classes
    return {"total": total, "box": box.detach(), "objectness": objectness.detach(), "class": classes.detach()}


def decode(out: torch.Tensor, n_boxes: int, cell: int, score_threshold: float = 0.05,
           iou_threshold: float = 0.5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detections per image from the grid output: (boxes (D, 4), scores (D,), labels (D,) 1-based).

    score = sigmoid(objectness) x max_c softmax(class logits)_c; boxes scoring below ``score_threshold``
    are dropped, then NMS per class with ``iou_threshold``.
    """
    score_threshold = check_float(score_threshold, "score_threshold", minimum=0.0, maximum=1.0)
    iou_threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    n_boxes, cell = check_positive_int(n_boxes, "n_boxes"), check_positive_int(cell, "cell")
    if not isinstance(out, torch.Tensor) or out.ndim != 4 or out.shape[-1] <= 5 * n_boxes:
        raise ValueError(f"out must be a tensor of shape (N, S, S, 5B + C) with B = {n_boxes}, got "
                         f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    with torch.no_grad():
        params, obj_logit, cls_logit = _split_output(out.float(), n_boxes)
        S1, S2 = out.shape[1:3]
        xyxy = _to_xyxy(params, cell, (S1 * cell, S2 * cell))
        prob, cls = F.softmax(cls_logit, -1).max(-1)                        # (N, S, S)
        scores = torch.sigmoid(obj_logit) * prob[..., None]                # (N, S, S, B)
        labels = cls[..., None].expand_as(scores) + 1
    results = []
    for b, s, lab in zip(xyxy.reshape(len(out), -1, 4).numpy(), scores.reshape(len(out), -1).numpy(),
                         labels.reshape(len(out), -1).numpy()):
        keep = s >= score_threshold
        b, s, lab = np.clip(b[keep], 0, [S2 * cell, S1 * cell] * 2).astype(np.float64), s[keep], lab[keep]
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
        order = batched_nms(b, s, lab, iou_threshold)
        results.append((b[order], s[order].astype(np.float64), lab[order].astype(np.int64)))
    return results


def _check_scenes(scenes, name: str = "scenes") -> None:
    if not isinstance(scenes, Scenes):
        raise ValueError(f"{name} must be a dlcourse.data.Scenes (from make_scenes), got {type(scenes).__name__}")


def _images(scenes) -> torch.Tensor:
    _check_scenes(scenes)
    return torch.from_numpy(np.ascontiguousarray(scenes.images, dtype=np.float32))[:, None]


def predict(model: GridDetector, scenes, score_threshold: float = 0.05, iou_threshold: float = 0.5,
            batch_size: int = 256) -> list:
    """Detections of ``model`` on every scene (see :func:`decode`), in evaluation mode."""
    batch_size = check_positive_int(batch_size, "batch_size")
    if not isinstance(model, GridDetector):
        raise ValueError(f"model must be a GridDetector, got {type(model).__name__}")
    model.eval()
    x, cell = _images(scenes), scenes.images.shape[1] // _grid(scenes)[0]
    device = next(model.parameters()).device
    with torch.no_grad():
        out = torch.cat([model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
    return decode(out, model.n_boxes, cell, score_threshold, iou_threshold)


def _grid(scenes) -> tuple[int, int]:
    _check_scenes(scenes)
    H, W = scenes.images.shape[1:]
    if H % 8 or W % 8:
        raise ValueError(f"scene height and width must be multiples of 8 (the stride), got {(H, W)}")
    return H // 8, W // 8


def evaluate_map(model: GridDetector, scenes, iou_threshold: float = 0.5,
                 nms_threshold: float = 0.5) -> tuple[float, dict]:
    """mAP@iou_threshold (all-point interpolation) of ``model`` on ``scenes``: (mAP, {class id: AP}).

    ``nms_threshold`` is the IoU above which NMS removes a lower-scoring box of the same class.
    """
    found = predict(model, scenes, iou_threshold=nms_threshold)
    return mean_average_precision([f[0] for f in found], [f[1] for f in found], [f[2] for f in found],
                                  list(scenes.boxes), list(scenes.labels), iou_threshold)


def train_detector(train, val=None, epochs: int = 8, batch_size: int = 32, learning_rate: float = 4e-3,
                   width: int = 24, n_boxes: int = 2, box_loss: str = "smooth_l1", seed: int = 0,
                   device="cpu", flips: bool = True, amp: bool = False) -> tuple[GridDetector, dict]:
    """Train a GridDetector on ``train`` scenes with Adam and a one-cycle learning-rate schedule.

    With ``flips`` each batch is mirrored left-right at random (boxes mirrored too); with ``amp``
    the forward pass runs in bfloat16 autocast (GPU). Images and targets are moved to ``device`` once.
    Returns the model (on the CPU) and a history: mean training loss per epoch and, when ``val`` is
    given, validation mAP@0.5 per epoch.
    """
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive(learning_rate, "learning_rate")
    check_int(seed, "seed", minimum=0)
    check_choice(box_loss, "box_loss", ("smooth_l1", "mse"))
    _check_scenes(train, "train")
    if val is not None:
        _check_scenes(val, "val")
    if len(train) == 0:
        raise ValueError("train must hold at least one scene")
    (S1, S2), W = _grid(train), train.images.shape[2]
    cell = train.images.shape[1] // S1
    device = get_device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GridDetector(len(train.class_names) - 1, n_boxes, width).to(device)
    labels = [lab - 1 for lab in train.labels]
    mirrored = [np.stack([W - b[:, 2], b[:, 1], W - b[:, 0], b[:, 3]], 1) for b in train.boxes]
    x_all = _images(train).to(device)
    targets = [{k: v.to(device) for k, v in encode_targets(b, labels, (S1, S2), cell).items()}
               for b in (list(train.boxes), mirrored)]
    n_batches = -(-len(train) // batch_size)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=epochs * n_batches)
    history = {"loss": [], "val_map": [], "seconds": 0.0}
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        losses = []
        for idx in np.array_split(rng.permutation(len(train)), n_batches):
            flip = bool(flips and rng.random() < 0.5)
            idx = torch.from_numpy(idx).to(device)
            x = x_all[idx].flip(-1) if flip else x_all[idx]
            batch = {k: v[idx] for k, v in targets[int(flip)].items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(x)
            loss = detection_loss(out.float(), batch, n_boxes, cell, box_loss=box_loss)["total"]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        history["loss"].append(float(np.mean(losses)))
        if val is not None:
            history["val_map"].append(evaluate_map(model, val)[0])
    history["seconds"] = time.perf_counter() - start
    return model.cpu().eval(), history


# ---------------------------------------------------------------- localisation: one object, two heads

class Localiser(nn.Module):
    """Shared conv features, a class head (C logits) and a box head (4 numbers): x (N, 1, 48, 48).

    The box head regresses (x0, y0, x1, y1) in units of 8 pixels (a linear layer, no softmax).
    """

    def __init__(self, n_classes: int, width: int = 16):
        super().__init__()
        w = check_positive_int(width, "width")
        layers: list[nn.Module] = []
        for c_in, c_out in ((1, w), (w, 2 * w), (2 * w, 2 * w)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.classify = nn.Linear(2 * w * 36, check_positive_int(n_classes, "n_classes"))
        self.box = nn.Linear(2 * w * 36, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.classify(h), self.box(h)


def train_localiser(train, alpha: float = 0.5, epochs: int = 3, learning_rate: float = 3e-3, width: int = 8,
                    seed: int = 0) -> Localiser:
    """Fit a Localiser on one-object scenes with L = alpha CE(class) + (1 - alpha) smooth L1(box / 8)."""
    _check_scenes(train, "train")
    alpha = check_float(alpha, "alpha", minimum=0.0, maximum=1.0)
    epochs = check_positive_int(epochs, "epochs")
    learning_rate = check_positive(learning_rate, "learning_rate")
    if any(len(b) != 1 for b in train.boxes) or train.images.shape[1:] != (48, 48):
        raise ValueError("train must hold 48 x 48 scenes with exactly one object each (objects=(1, 1))")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = Localiser(len(train.class_names) - 1, width)
    x = _images(train)
    y = torch.from_numpy(np.concatenate(train.labels) - 1)
    target = torch.from_numpy(np.concatenate(train.boxes).astype(np.float32) / 8)
    n_batches = -(-len(x) // 32)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=epochs * n_batches)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(rng.permutation(len(x)), n_batches):
            logits, box = model(x[idx])
            loss = alpha * F.cross_entropy(logits, y[idx]) + (1 - alpha) * F.smooth_l1_loss(box, target[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


def localise(model: Localiser, scenes) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class ids (N,) (1-based) and xyxy boxes (N, 4) in pixels of a Localiser on ``scenes``."""
    if not isinstance(model, Localiser):
        raise ValueError(f"model must be a Localiser, got {type(model).__name__}")
    x = _images(scenes)
    model.eval()
    with torch.no_grad():
        logits, box = model(x)
    box = box.numpy().astype(np.float64) * 8
    corners = np.concatenate([np.minimum(box[:, :2], box[:, 2:]), np.maximum(box[:, :2], box[:, 2:])], 1)
    return logits.argmax(1).numpy() + 1, corners  # corners sorted: a valid xyxy box even when x1 < x0


# ---------------------------------------------------------------- weak localisation (CAM, chapter 4)

def presence_classifier(n_classes: int, width: int = 16) -> nn.Sequential:
    """A CNN that says which classes a scene contains: convs, global average pooling, a linear layer.

    Trained with one binary cross-entropy per class (multi-label), it never sees a box; CAM turns its
    last feature maps into a coarse map of where each class is.
    """
    w = check_positive_int(width, "width")
    layers: list[nn.Module] = []
    for c_in, c_out, pool in ((1, w, True), (w, 2 * w, True), (2 * w, 2 * w, False)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.MaxPool2d(2)] if pool else []
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, n_classes))


def presence_targets(scenes) -> torch.Tensor:
    """(N, C) float 0/1: whether scene n contains at least one visible object of class c + 1."""
    _check_scenes(scenes)
    C = len(scenes.class_names) - 1
    out = np.zeros((len(scenes), C), np.float32)
    for k, lab in enumerate(scenes.labels):
        out[k, np.asarray(lab) - 1] = 1.0
    return torch.from_numpy(out)


def train_presence_classifier(train, epochs: int = 4, learning_rate: float = 3e-3, seed: int = 0):
    """Fit :func:`presence_classifier` on scene images with per-class BCE (no boxes used).

    Adam with a one-cycle schedule, batches of 32; returns the model in evaluation mode.
    """
    epochs = check_positive_int(epochs, "epochs")
    learning_rate = check_positive(learning_rate, "learning_rate")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    _check_scenes(train, "train")
    model = presence_classifier(len(train.class_names) - 1)
    x, y = _images(train), presence_targets(train)
    n_batches = -(-len(x) // 32)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=epochs * n_batches)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(x)), n_batches):
            loss = F.binary_cross_entropy_with_logits(model(x[idx]), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


def scene_cam(model: nn.Sequential, image, target: int) -> np.ndarray:
    """CAM M_c = sum_k w_ck A_k of class ``target`` (0-based) for one (H, W) image, upsampled to (H, W).

    A: the feature maps before global average pooling; w_c: the linear layer's row for class c (the
    map of chapter 4's ``saliency.class_activation_map``, for scenes of any size).
    """
    if not isinstance(model, nn.Sequential) or not isinstance(model[-1], nn.Linear) \
            or not isinstance(model[-3], nn.AdaptiveAvgPool2d):
        raise ValueError("model must be a presence_classifier: an nn.Sequential ending in global average "
                         "pooling, Flatten and a Linear layer")
    image = as_float_array(image, "image", ndim=2)
    if min(image.shape) < 4:
        raise ValueError(f"image must be at least 4 x 4 pixels, got shape {image.shape}")
    target = check_int(target, "target", minimum=0, maximum=model[-1].out_features - 1)
    model.eval()
    with torch.no_grad():
        A = model[:-3](torch.from_numpy(image.astype(np.float32))[None, None])      # (1, K, h, w)
        M = torch.einsum("k,nkhw->nhw", model[-1].weight[target], A)[None]
        return F.interpolate(M, size=image.shape, mode="bilinear", align_corners=False)[0, 0].numpy()


# ---------------------------------------------------------------- the GPU recipe

def gpu_detector_scenes(device, offline: bool = False, tiny: bool = False) -> dict:
    """A wider grid detector on 20,000 training scenes, mAP@0.5 on 2,000 held-out test scenes (bar 0.9).

    Scenes are synthetic, so ``offline`` changes nothing. ``tiny``: 64 scenes and one epoch, to check
    the code path on a CPU. The report's ``test_accuracy`` holds the test mAP@0.5 (the metric of the
    other chapters' reports).
    """
    from .data import make_scenes

    device = get_device(device)
    n_train, n_val, n_test, epochs, width = (64, 32, 32, 1, 8) if tiny else (20000, 1000, 2000, 30, 64)
    train, val = make_scenes(n_train, seed=10), make_scenes(n_val, split="validation", seed=11)
    test = make_scenes(n_test, split="test", seed=12)
    model, history = train_detector(train, val, epochs=epochs, batch_size=128 if not tiny else 32,
                                    learning_rate=3e-3, width=width, device=device,
                                    amp=device.type == "cuda")
    test_map = evaluate_map(model, test)[0]
    return {"dataset": f"synthetic scenes {n_train}/{n_val}/{n_test} (train/val/test)", "epochs": epochs,
            "seconds": history["seconds"], "val_map50": history["val_map"][-1], "test_map50": test_map,
            "test_accuracy": test_map, "metric": "mAP@0.5", "bar": 0.9}


GPU_RECIPES = {"06_detection.grid_detector_scenes": gpu_detector_scenes}
