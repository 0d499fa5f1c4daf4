"""The chapter-6 figures: each pipeline diagram draws its stages, the YOLO grid its S x S cells and the
output size 5B + C, the detection plots one rectangle per box; bad sizes are refused."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from bad_input_table import table_tests  # noqa: E402
from dlcourse import detection_diagrams as dd  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return " ".join(t.get_text() for t in ax.texts)


def _rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_sliding_window_draws_n_squared_windows():
    ax = dd.draw_sliding_window(n_positions=3)
    dotted = [p for p in _rectangles(ax) if p.get_linestyle() == ":"]
    assert len(dotted) == 9 and "9 windows" in _texts(ax)


@pytest.mark.parametrize("draw, words", [
    (dd.draw_rcnn, ["selective search", "CNN", "box regression"]),
    (dd.draw_fast_rcnn, ["RoI max-pool", "7 x 7", "smooth L1"]),
    (dd.draw_faster_rcnn, ["RPN", "18 object scores, 36 box deltas", "RoI pool", "smooth L1"]),
])
def test_pipelines_name_their_stages(draw, words):
    text = _texts(draw())
    for word in words:
        assert word in text


def test_fast_rcnn_draws_the_pooled_grid_and_faster_rcnn_counts_anchors():
    small = [p for p in _rectangles(dd.draw_fast_rcnn(pooled=3)) if p.get_width() < 0.31]
    assert len(small) == 9
    assert "6 object scores, 12 box deltas" in _texts(dd.draw_faster_rcnn(n_anchors=3))


def test_yolo_grid_has_s_plus_one_lines_each_way_and_names_the_output():
    boxes = np.array([[2.0, 2, 10, 10], [30, 30, 46, 40]])
    ax = dd.draw_yolo_grid(S=4, B=2, C=3, image=np.zeros((48, 48)), boxes=boxes)
    assert len(ax.lines) == 2 * 5 + 2          # grid lines plus one centre marker per object
    assert "4 x 4 x 13" in _texts(ax)
    assert len(_rectangles(ax)) == 2 * 2      # a highlighted cell and a box per object


def test_plot_detections_and_nms_figure():
    fig, ax = plt.subplots()
    boxes = np.array([[1.0, 1, 9, 9], [2, 2, 9, 9], [20, 20, 30, 30]])
    dd.plot_detections(ax, np.zeros((32, 32)), boxes, [1, 1, 2], [0.9, 0.8, 0.7], gt_boxes=boxes[:1])
    assert len(_rectangles(ax)) == 4
    fig = dd.plot_nms(np.zeros((32, 32)), boxes, np.array([0.9, 0.8, 0.7]), [1, 1, 2], 0.5, 0.1)
    left, right = fig.axes
    assert len(_rectangles(left)) == 3 and len(_rectangles(right)) == 2
    assert "2" in right.get_title()


_BOXES = np.array([[1.0, 1, 9, 9]])
TABLE = {
    "draw_sliding_window": (dd.draw_sliding_window, {}, {"n_positions": [1, 9, 2.5], "ax": ["axes"]}),
    "draw_rcnn": (dd.draw_rcnn, {}, {"ax": [3]}),
    "draw_fast_rcnn": (dd.draw_fast_rcnn, {}, {"pooled": [0, True]}),
    "draw_faster_rcnn": (dd.draw_faster_rcnn, {}, {"n_anchors": [0]}),
    "draw_yolo_grid": (dd.draw_yolo_grid, {}, {"S": [0], "B": [1.5], "C": [-1], "image": [np.zeros(4)],
                                             "boxes": [np.zeros((1, 3))]}),
    "plot_detections": (dd.plot_detections, {"ax": plt.subplots()[1], "image": np.zeros((8, 8)),
                                             "boxes": _BOXES, "labels": [1]},
                        {"ax": [None], "image": [np.zeros(8)], "labels": [[1, 2]], "scores": [[np.nan]]}),
    "plot_nms": (dd.plot_nms, {"image": np.zeros((8, 8)), "boxes": _BOXES, "scores": [0.5], "labels": [1]},
                 {"iou_threshold": [1.5], "score_threshold": [-0.1], "scores": [[0.5, 0.4]]}),
}
globals().update(table_tests(TABLE, [dd], cleanup=lambda: plt.close("all")))
