"""Property-based tests for dlcourse.data.scenes: for any canvas, object count, scale range and kinds,
the ground truth agrees with itself (brute-force boxes, classes per pixel, ids 1..K), objects stay in
the canvas and within their side, and boxes_from_instances matches a pixel loop in every memory layout."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcourse.data import SCENE_CLASSES, boxes_from_instances, make_scenes
from layouts import LAYOUTS, relayout
from test_data_scenes import assert_consistent, brute_force_boxes

FAST = settings(max_examples=30, deadline=None)
SHAPES = ("square", "disc", "triangle")


@st.composite
def scene_arguments(draw):
    height, width = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    lo = draw(st.integers(0, 4))
    objects = (lo, draw(st.integers(lo, 6)))
    small = draw(st.integers(3, 30))
    scale = (small, draw(st.integers(small, 45)))
    kinds = tuple(draw(st.lists(st.sampled_from(SHAPES + ("digit",)), min_size=1, max_size=4, unique=True)))
    return {"n": draw(st.integers(0, 6)), "size": (height, width), "objects": objects, "scale": scale,
            "kinds": kinds, "noise": draw(st.sampled_from([0.0, 0.05, 0.3])), "seed": draw(st.integers(0, 2**31)),
            "digit_labels": draw(st.booleans()), "split": draw(st.sampled_from(["train", "test"]))}


@FAST
@given(args=scene_arguments())
def test_any_scenes_agree_with_themselves_and_stay_in_their_canvas(args):
    s = make_scenes(**args)
    height, width = args["size"]
    assert s.images.shape == (args["n"], height, width)
    assert_consistent(s, max_objects=args["objects"][1])
    side = min(args["scale"][1], height, width)
    allowed = {SCENE_CLASSES.index(k) for k in args["kinds"]}
    for boxes, labels in zip(s.boxes, s.labels):
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= width) and np.all(boxes[:, 3] <= height)
        assert np.all(boxes[:, 2:] - boxes[:, :2] >= 1) and np.all(boxes[:, 2:] - boxes[:, :2] <= side)
        assert set(np.minimum(labels, 4).tolist()) <= allowed
        assert args["digit_labels"] or labels.max(initial=1) <= 4
    if args["noise"] == 0.0:
        assert np.all(s.images[s.masks == 0] == 0.0)


@FAST
@given(args=scene_arguments())
def test_scenes_are_a_function_of_the_seed(args):
    a, b = make_scenes(**args), make_scenes(**args)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.instances, b.instances)
    assert all(np.array_equal(x, y) for x, y in zip(a.labels, b.labels))


@FAST
@given(args=scene_arguments(), data=st.data())
def test_a_subset_of_scenes_is_indexed_consistently(args, data):
    s = make_scenes(**args)
    rows = data.draw(st.lists(st.integers(0, max(len(s) - 1, 0)), max_size=5)) if len(s) else []
    part = s[np.array(rows, dtype=np.int64)]
    assert_consistent(part)
    for j, r in enumerate(rows):
        np.testing.assert_array_equal(part.masks[j], s.masks[r])
        np.testing.assert_array_equal(part.digits[j], s.digits[r])


@FAST
@given(side=st.integers(3, 30), kind=st.sampled_from(SHAPES), extra=st.integers(0, 10), seed=st.integers(0, 99))
def test_a_lone_shape_fills_its_bounding_square_as_its_area_says(side, kind, extra, seed):
    size = max(8, side) + extra
    s = make_scenes(1, size, objects=(1, 1), scale=(side, side), kinds=(kind,), noise=0.0, seed=seed)
    area = int(np.sum(s.masks[0] > 0))
    x0, y0, x1, y1 = s.boxes[0][0]
    analytic = {"square": side**2, "disc": np.pi * side**2 / 4, "triangle": side**2 / 2}[kind]
    assert abs(area - analytic) <= (0 if kind == "square" else side)
    assert x1 - x0 == side and y1 - y0 >= side - 1  # an even triangle's apex falls between pixel centres


@FAST
@given(inst=hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
                       elements=st.integers(0, 5)),
       layout=st.sampled_from(LAYOUTS), dtype=st.sampled_from([np.int64, np.int32, np.uint8]))
def test_boxes_from_instances_equals_a_pixel_loop_in_any_layout(inst, layout, dtype):
    boxes, ids = boxes_from_instances(relayout(inst.astype(dtype), layout))
    reference = brute_force_boxes(inst)
    assert ids.tolist() == sorted(reference)
    np.testing.assert_array_equal(boxes, np.array([reference[k] for k in sorted(reference)]).reshape(-1, 4))
    assert boxes.dtype == np.float32 and ids.dtype == np.int64
