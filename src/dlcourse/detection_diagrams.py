"""Figures of chapter 6, drawn in code: the detector pipelines (sliding window, R-CNN, Fast R-CNN,
Faster R-CNN, the YOLO grid) and detections drawn over scenes (with the NMS explorer's figure)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from .detection import as_boxes, batched_nms
from .validation import as_float_array, as_int_array, check_axes, check_float, check_int, check_positive_int

# One colour per scene class (ids 1..4), the same in every figure of the chapter.
CLASS_COLOURS = {1: "#1f77b4", 2: "#d62728", 3: "#2ca02c", 4: "#ff7f0e"}
_STAGE = {"data": "#f0f0f0", "cnn": "#c6dbef", "region": "#fdd0a2", "head": "#c7e9c0", "loss": "#fcbba1"}


def _axes(ax, size: tuple[float, float]):
    ax = check_axes(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def _stage(ax, x: float, y: float, w: float, h: float, text: str, kind: str) -> None:
    ax.add_patch(Rectangle((x, y), w, h, facecolor=_STAGE[kind], edgecolor="black", linewidth=1.2))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.2, color="black"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.18, text, ha="center", fontsize=7.5)


def _image_with_regions(ax, x: float, y: float, side: float, regions: Sequence[tuple]) -> None:
    ax.add_patch(Rectangle((x, y), side, side, facecolor=_STAGE["data"], edgecolor="black"))
    ax.text(x + side / 2, y - 0.25, "image", ha="center", fontsize=8)
    for rx, ry, rw, rh in regions:
        ax.add_patch(Rectangle((x + rx * side, y + ry * side), rw * side, rh * side, fill=False,
                               edgecolor=CLASS_COLOURS[4], linewidth=1.5))


def draw_sliding_window(ax=None, n_positions: int = 4):
    """A window slides over the image (``n_positions`` per row shown); a classifier scores every crop."""
    n = check_int(n_positions, "n_positions", minimum=2, maximum=8)
    ax = _axes(ax, (8, 3))
    side, step = 2.4, 1.6 / (n - 1)
    _image_with_regions(ax, 0, 0, side, [])
    for i in range(n):
        for j in range(n):
            ax.add_patch(Rectangle((0.1 + j * step * side / 2.4, 0.1 + i * step * side / 2.4), 0.7, 0.7,
                                   fill=False, edgecolor="#7f7f7f", linestyle=":", linewidth=0.8))
    ax.add_patch(Rectangle((0.1 + step, 0.1 + step), 0.7, 0.7, fill=False, edgecolor=CLASS_COLOURS[4], lw=2))
    _arrow(ax, (side + 0.1, 1.2), (3.4, 1.2), "every crop")
    _stage(ax, 3.4, 0.7, 1.9, 1.0, "CNN classifier\n(C + 1 classes)", "cnn")
    _arrow(ax, (5.3, 1.2), (6.1, 1.2))
    _stage(ax, 6.1, 0.7, 2.1, 1.0, f"{n * n} windows x scales\n-> scores, then NMS", "head")
    ax.set_xlim(-0.2, 8.4)
    ax.set_ylim(-0.5, 2.6)
    ax.set_title("Sliding window: classify every crop at every position and scale", fontsize=9)
    return ax


def draw_rcnn(ax=None):
    """R-CNN: ~2,000 proposals, each warped and passed through its own CNN, then class + box heads."""
    ax = _axes(ax, (9, 3))
    _image_with_regions(ax, 0, 0.3, 1.8, [(0.1, 0.5, 0.4, 0.4), (0.45, 0.1, 0.45, 0.5), (0.3, 0.3, 0.4, 0.3)])
    _arrow(ax, (1.9, 1.2), (2.6, 1.2), "proposals")
    _stage(ax, 2.6, 0.7, 1.6, 1.0, "~2,000 regions\n(selective search)", "region")
    _arrow(ax, (4.2, 1.2), (4.8, 1.2), "warp")
    for k in range(3):
        _stage(ax, 4.8 + 0.12 * k, 0.55 + 0.12 * k, 1.4, 0.9, "CNN" if k == 2 else "", "cnn")
    ax.text(5.6, 0.3, "one forward pass per region", ha="center", fontsize=7.5)
    _arrow(ax, (6.5, 1.35), (7.1, 1.75))
    _arrow(ax, (6.5, 1.05), (7.1, 0.65))
    _stage(ax, 7.1, 1.45, 1.9, 0.65, "class: one SVM\nper class", "head")
    _stage(ax, 7.1, 0.3, 1.9, 0.65, "box regression", "loss")
    ax.set_xlim(-0.2, 9.2)
    ax.set_ylim(-0.1, 2.4)
    ax.set_title("R-CNN (2014)", fontsize=9)
    return ax


def draw_fast_rcnn(ax=None, pooled: int = 7):
    """Fast R-CNN: one CNN pass; each proposal cut from the feature map and RoI-max-pooled to a fixed grid."""
    p = check_int(pooled, "pooled", minimum=1, maximum=14)
    ax = _axes(ax, (9, 3.2))
    _image_with_regions(ax, 0, 0.3, 1.8, [(0.1, 0.5, 0.4, 0.4), (0.45, 0.1, 0.45, 0.5)])
    _arrow(ax, (1.9, 1.2), (2.5, 1.2))
    _stage(ax, 2.5, 0.7, 1.0, 1.0, "CNN\n(once)", "cnn")
    _arrow(ax, (3.5, 1.2), (4.0, 1.2))
    ax.add_patch(Rectangle((4.0, 0.45), 1.5, 1.5, facecolor=_STAGE["cnn"], edgecolor="black"))
    ax.add_patch(Rectangle((4.15, 1.2), 0.6, 0.6, fill=False, edgecolor=CLASS_COLOURS[4], lw=1.8))
    ax.text(4.75, 0.2, "feature map + projected RoIs", ha="center", fontsize=7.5)
    _arrow(ax, (5.6, 1.2), (6.1, 1.2), "RoI max-pool")
    cell = 0.9 / p
    for i in range(p):
        for j in range(p):
            ax.add_patch(Rectangle((6.1 + j * cell, 0.75 + i * cell), cell, cell, facecolor=_STAGE["region"],
                                   edgecolor="black", linewidth=0.4))
    ax.text(6.55, 0.5, f"{p} x {p} per RoI", ha="center", fontsize=7.5)
    _arrow(ax, (7.05, 1.2), (7.4, 1.2), "FC")
    _stage(ax, 7.4, 1.3, 1.8, 0.6, "class: softmax", "head")
    _stage(ax, 7.4, 0.5, 1.8, 0.6, "box: smooth L1", "loss")
    ax.set_xlim(-0.2, 9.4)
    ax.set_ylim(0.0, 2.4)
    ax.set_title("Fast R-CNN (2015): share the convolutions, pool each region", fontsize=9)
    return ax


def draw_faster_rcnn(ax=None, n_anchors: int = 9):
    """Faster R-CNN: a region proposal network (k anchors per position) replaces selective search."""
    k = check_positive_int(n_anchors, "n_anchors")
    ax = _axes(ax, (9, 3.6))
    _image_with_regions(ax, 0, 0.6, 1.6, [])
    _arrow(ax, (1.7, 1.4), (2.2, 1.4))
    _stage(ax, 2.2, 0.9, 1.0, 1.0, "CNN", "cnn")
    _arrow(ax, (3.2, 1.4), (3.7, 1.4))
    ax.add_patch(Rectangle((3.7, 0.7), 1.4, 1.4, facecolor=_STAGE["cnn"], edgecolor="black"))
    centre = (4.4, 1.4)
    for w, h in ((0.5, 0.5), (0.7, 0.35), (0.35, 0.7)):
        ax.add_patch(Rectangle((centre[0] - w / 2, centre[1] - h / 2), w, h, fill=False,
                               edgecolor=CLASS_COLOURS[2], linestyle="--", linewidth=1.0))
    ax.text(4.4, 0.45, "feature map, anchors", ha="center", fontsize=7.5)
    _arrow(ax, (4.4, 2.1), (4.4, 2.55))
    _stage(ax, 2.9, 2.55, 3.0, 0.8, f"RPN: 3x3 conv; per position\n{2 * k} object scores, {4 * k} box deltas",
           "region")
    _arrow(ax, (5.9, 2.9), (6.75, 1.75))
    ax.text(6.5, 2.6, "proposals", fontsize=7.5)
    _arrow(ax, (5.1, 1.4), (6.2, 1.4))
    _stage(ax, 6.2, 1.05, 1.1, 0.7, "RoI pool", "region")
    _arrow(ax, (7.3, 1.4), (7.6, 1.4))
    _stage(ax, 7.6, 1.5, 1.7, 0.55, "class: softmax", "head")
    _stage(ax, 7.6, 0.75, 1.7, 0.55, "box: smooth L1", "loss")
    ax.set_xlim(-0.2, 9.5)
    ax.set_ylim(0.2, 3.5)
    ax.set_title("Faster R-CNN (2015): proposals from anchors, learned end to end", fontsize=9)
    return ax


def draw_yolo_grid(ax=None, S: int = 6, B: int = 2, C: int = 4, image=None, boxes=None):
    """The YOLO grid: S x S cells over the image; the cell holding an object's centre predicts it.

    Each cell outputs B boxes (x, y, w, h, confidence) and C class scores: an S x S x (5B + C) tensor.
    ``image`` (H, W) and ``boxes`` (K, 4) optionally draw a scene and mark each object's cell.
    """
    S, B, C = check_positive_int(S, "S"), check_positive_int(B, "B"), check_positive_int(C, "C")
    ax = _axes(ax, (6, 4))
    side = 6.0
    if image is not None:
        image = as_float_array(image, "image", ndim=2)
        ax.imshow(image, cmap="gray", extent=(0, side, side, 0), vmin=0, vmax=1)
    cell = side / S
    for k in range(S + 1):
        ax.plot([k * cell, k * cell], [0, side], color="#9ecae1", lw=0.8)
        ax.plot([0, side], [k * cell, k * cell], color="#9ecae1", lw=0.8)
    if boxes is not None:
        scale = side / image.shape[1] if image is not None else 1.0
        for x0, y0, x1, y1 in as_boxes(boxes, "boxes") * scale:
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            ax.add_patch(Rectangle((cx // cell * cell, cy // cell * cell), cell, cell, facecolor="#fdae6b",
                                   alpha=0.45))
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#ff7f0e", lw=1.6))
            ax.plot(cx, cy, "o", color="#ff7f0e", markersize=4)
    ax.text(side + 0.3, side / 2, f"output: {S} x {S} x (5B + C)\n= {S} x {S} x {5 * B + C}\n\n"
            f"per cell: B = {B} boxes\n(x, y, w, h, conf)\nand C = {C} class scores", va="center", fontsize=8.5)
    ax.set_xlim(-0.1, side + 3.4)
    ax.set_ylim(side + 0.1, -0.1)
    ax.set_title("YOLO: one network pass, one grid", fontsize=9)
    return ax


def plot_detections(ax, image, boxes, labels, scores=None, gt_boxes=None, class_names: Sequence[str] = ()):
    """Draw an (H, W) scene with detections (solid, coloured by class) and ground truth (dashed white)."""
    ax = check_axes(ax, allow_none=False)
    image = as_float_array(image, "image", ndim=2)
    boxes = as_boxes(boxes, "boxes")
    labels = as_int_array(labels, "labels", shape=(len(boxes),))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    if gt_boxes is not None:
        for x0, y0, x1, y1 in as_boxes(gt_boxes, "gt_boxes"):
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white",
                                   linestyle="--", linewidth=1.0))
    scores = None if scores is None else as_float_array(scores, "scores", shape=(len(boxes),))
    for k, ((x0, y0, x1, y1), c) in enumerate(zip(boxes, labels)):
        colour = CLASS_COLOURS.get(int(c), "#9467bd")
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, lw=1.8))
        name = class_names[c] if 0 <= c < len(class_names) else str(c)
        text = name if scores is None else f"{name} {scores[k]:.2f}"
        ax.text(x0 - 0.5, y0 - 1.2, text, color="white", fontsize=6.5, bbox={"facecolor": colour, "pad": 0.8,
                                                                           "linewidth": 0})
    ax.set_axis_off()
    return ax


def plot_nms(image, boxes, scores, labels, iou_threshold: float = 0.5, score_threshold: float = 0.1,
             class_names: Sequence[str] = ()):
    """Figure for the NMS explorer: raw boxes above ``score_threshold`` (left), kept after NMS (right)."""
    boxes = as_boxes(boxes, "boxes")
    scores = as_float_array(scores, "scores", shape=(len(boxes),))
    labels = as_int_array(labels, "labels", shape=(len(boxes),))
    iou_threshold = check_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    score_threshold = check_float(score_threshold, "score_threshold", minimum=0.0, maximum=1.0)
    above = scores >= score_threshold
    keep = np.flatnonzero(above)[batched_nms(boxes[above], scores[above], labels[above], iou_threshold)]
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.5))
    plot_detections(axes[0], image, boxes[above], labels[above], class_names=class_names)
    axes[0].set_title(f"boxes before NMS: {int(above.sum())}", fontsize=9)
    plot_detections(axes[1], image, boxes[keep], labels[keep], scores[keep], class_names=class_names)
    axes[1].set_title(f"kept by NMS (IoU > {iou_threshold:.1f} removed): {len(keep)}", fontsize=9)
    fig.tight_layout()
    return fig
