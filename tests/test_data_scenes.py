"""Tests for dlcourse.data.scenes: ground truth that agrees with itself pixel by pixel (checked by brute
force), occlusion, the train/test split of the digits (matched to the MNIST images), the shapes'
rasterisation against closed-form areas and the pixel-centre rule, seeding, edge cases and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bad_input_table import table_tests
from dlcourse import data
from dlcourse.data import SCENE_CLASSES, Scenes, boxes_from_instances, make_scenes, scenes

SQUARE, DISC, TRIANGLE, DIGIT = 1, 2, 3, 4


def brute_force_boxes(instances: np.ndarray) -> dict[int, list[float]]:
    """{id: [x0, y0, x1, y1]} by a plain loop over every pixel (the reference for the vectorised code)."""
    boxes: dict[int, list[float]] = {}
    for row in range(instances.shape[0]):
        for col in range(instances.shape[1]):
            k = int(instances[row, col])
            if k:
                x0, y0, x1, y1 = boxes.get(k, [col, row, col + 1, row + 1])
                boxes[k] = [min(x0, col), min(y0, row), max(x1, col + 1), max(y1, row + 1)]
    return boxes


def assert_consistent(s: Scenes, max_objects: int | None = None) -> None:
    """Masks, instance ids, boxes, labels and digits of every scene agree with each other."""
    n, height, width = s.images.shape
    assert s.images.dtype == np.float32 and s.masks.dtype == np.int64 and s.instances.dtype == np.int64
    assert s.masks.shape == s.instances.shape == (n, height, width)
    assert len(s.boxes) == len(s.labels) == len(s.digits) == len(s) == n
    assert s.images.min(initial=0.0) >= 0.0 and s.images.max(initial=0.0) <= 1.0
    for i in range(n):
        inst, mask, labels, digits = s.instances[i], s.masks[i], s.labels[i], s.digits[i]
        k = len(labels)
        assert s.boxes[i].shape == (k, 4) and s.boxes[i].dtype == np.float32
        assert labels.dtype == digits.dtype == np.int64 and digits.shape == (k,)
        assert sorted(set(np.unique(inst).tolist()) - {0}) == list(range(1, k + 1))  # ids 1..K, none missing
        np.testing.assert_array_equal(inst == 0, mask == 0)
        lookup = np.concatenate([[0], labels])
        np.testing.assert_array_equal(mask, lookup[inst])  # every instance pixel has its label's class
        reference = brute_force_boxes(inst)
        np.testing.assert_array_equal(s.boxes[i], np.array([reference[j + 1] for j in range(k)]).reshape(k, 4))
        is_digit = labels >= DIGIT
        assert np.all((digits >= 0) == is_digit) and np.all(digits[is_digit] <= 9)
        if max_objects is not None:
            assert k <= max_objects


def test_default_scenes_have_the_documented_types_and_agree_with_themselves():
    s = make_scenes(60, seed=0)
    assert s.images.shape == (60, 48, 48) and len(s) == 60
    assert s.class_names == SCENE_CLASSES == ("background", "square", "disc", "triangle", "digit")
    assert_consistent(s, max_objects=4)
    labels = np.concatenate(s.labels)
    assert set(labels.tolist()) == {SQUARE, DISC, TRIANGLE, DIGIT}
    assert all(1 <= len(b) for b in s.boxes)  # with objects >= 1 and no full cover, nothing is empty


def test_the_package_exports_the_scene_api():
    assert data.make_scenes is make_scenes and data.Scenes is Scenes
    assert data.SCENE_CLASSES is SCENE_CLASSES and data.boxes_from_instances is boxes_from_instances


def test_same_seed_same_scenes_and_other_seeds_differ():
    a, b, c = make_scenes(20, seed=5), make_scenes(20, seed=5), make_scenes(20, seed=6)
    for field in ("images", "masks", "instances"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert all(np.array_equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert not np.array_equal(a.masks, c.masks) and not np.array_equal(a.images, c.images)
    g1, g2 = make_scenes(5, seed=np.random.default_rng(9)), make_scenes(5, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(g1.images, g2.images)
    rng = np.random.default_rng(9)
    first, second = make_scenes(5, seed=rng), make_scenes(5, seed=rng)  # a Generator is used and advanced
    assert not np.array_equal(first.images, second.images)


def test_the_objects_do_not_depend_on_the_noise_level():
    clean, noisy = make_scenes(10, noise=0.0, seed=2), make_scenes(10, noise=0.2, seed=2)
    np.testing.assert_array_equal(clean.masks, noisy.masks)
    np.testing.assert_array_equal(clean.images[clean.masks > 0], noisy.images[noisy.masks > 0])


def test_noise_free_background_is_zero_and_noisy_background_is_a_clipped_normal():
    clean = make_scenes(10, noise=0.0, seed=1)
    assert np.all(clean.images[clean.masks == 0] == 0.0)
    sigma = 0.1
    background = make_scenes(40, noise=sigma, seed=1)
    values = background.images[background.masks == 0]
    # clip(N(0, sigma^2), 0, 1): half the pixels are 0, the mean is sigma / sqrt(2 pi)
    assert abs(np.mean(values == 0) - 0.5) < 0.02
    assert values.mean() == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.03)


def test_shape_intensities_are_flat_in_half_to_one_and_digits_scale_their_grey():
    s = make_scenes(80, noise=0.0, seed=3)
    for i in range(len(s)):
        for k, label in enumerate(s.labels[i], start=1):
            values = s.images[i][s.instances[i] == k]
            if label == DIGIT:
                assert values.min() > 0.25 and values.max() <= 1.0  # grey > 0.5 times an intensity >= 0.5
            else:
                assert values.min() == values.max() and 0.5 <= values[0] <= 1.0


def _single(kind: str, side: int, n: int = 1, size=None, seed: int = 0) -> Scenes:
    canvas = size if size is not None else max(8, side)
    return make_scenes(n, canvas, objects=(1, 1), scale=(side, side), kinds=(kind,), noise=0.0, seed=seed)


@pytest.mark.parametrize("side", [3, 4, 7, 10, 16, 25])
def test_a_square_covers_exactly_its_side_squared(side):
    s = _single("square", side, n=5, size=32)
    for i in range(5):
        assert np.sum(s.masks[i] == SQUARE) == side * side
        x0, y0, x1, y1 = s.boxes[i][0]
        assert (x1 - x0, y1 - y0) == (side, side)
        assert np.all(s.masks[i][int(y0):int(y1), int(x0):int(x1)] == SQUARE)


@pytest.mark.parametrize("side", [6, 9, 10, 15, 20, 33, 40])
def test_a_disc_covers_about_pi_r_squared_and_fills_its_bounding_square(side):
    area = np.sum(_single("disc", side).masks[0] == DISC)
    assert abs(area - math.pi * side**2 / 4) <= math.pi * side / 4  # lattice error: a fraction of the perimeter
    assert abs(area / (math.pi * side**2 / 4) - 1) < (0.1 if side >= 10 else 0.2)
    x0, y0, x1, y1 = _single("disc", side).boxes[0][0]
    assert (x1 - x0, y1 - y0) == (side, side)


@pytest.mark.parametrize("side", [5, 8, 11, 16, 24, 40])
def test_a_triangle_covers_about_half_its_square(side):
    mask = _single("triangle", side).masks[0] == TRIANGLE
    assert abs(mask.sum() - side**2 / 2) <= side
    rows = np.flatnonzero(mask.any(axis=1))
    widths = mask[rows].sum(axis=1)
    assert np.all(np.diff(widths) >= 0) and widths[-1] == side  # upright: widening down to a full base


@pytest.mark.parametrize("kind", ["disc", "triangle"])
def test_shapes_hold_exactly_the_pixels_whose_centres_lie_inside(kind):
    side = 13
    s = _single(kind, side, size=side, n=1)  # the canvas is the bounding square: no position freedom
    y, x = np.mgrid[0:side, 0:side] + 0.5
    if kind == "disc":
        inside = (x - side / 2) ** 2 + (y - side / 2) ** 2 <= (side / 2) ** 2
    else:  # apex (side/2, 0), base from (0, side) to (side, side)
        inside = np.abs(x - side / 2) <= y / 2
    np.testing.assert_array_equal(s.masks[0] > 0, inside)


def test_topmost_wins_a_square_and_a_disc_that_both_fill_the_canvas():
    # Both objects span the whole 8x8 canvas: a square painted last hides the disc entirely (the disc is
    # dropped); a disc painted last keeps all its pixels and leaves the square only its corners.
    s = make_scenes(40, 8, objects=(2, 2), scale=(8, 8), kinds=("square", "disc"), noise=0.0, seed=0)
    y, x = np.mgrid[0:8, 0:8] + 0.5
    disc = (x - 4) ** 2 + (y - 4) ** 2 <= 16
    seen = set()
    for i in range(len(s)):
        labels = s.labels[i].tolist()
        seen.add(tuple(labels))
        if labels == [SQUARE]:
            assert np.all(s.instances[i] == 1) and s.boxes[i].tolist() == [[0, 0, 8, 8]]
        elif labels == [DISC, SQUARE] or labels == [SQUARE, SQUARE]:
            assert False, f"a full-canvas square painted last must hide all else, got {labels}"
        elif labels == [SQUARE, DISC]:
            np.testing.assert_array_equal(s.instances[i], np.where(disc, 2, 1))
            assert len(np.unique(s.images[i][disc])) == 1 and len(np.unique(s.images[i][~disc])) == 1
        else:
            assert labels == [DISC] and np.array_equal(s.masks[i] == DISC, disc)  # disc over disc
    assert {(SQUARE,), (SQUARE, DISC)} <= seen


def test_occlusion_happens_in_a_fraction_of_crowded_scenes():
    side = 8
    s = make_scenes(200, 32, objects=(3, 3), scale=(side, side), kinds=("square",), noise=0.0, seed=4)
    assert_consistent(s, max_objects=3)
    areas = [np.bincount(s.instances[i].ravel())[1:] for i in range(len(s))]
    occluded = np.mean([np.any(a < side * side) for a in areas])  # an unhidden square shows side^2 pixels
    assert 0.2 < occluded < 0.9
    assert all(np.all(a > 0) for a in areas)  # no id without a visible pixel


def test_fully_hidden_objects_are_dropped():
    s = make_scenes(200, 20, objects=(3, 3), scale=(6, 18), kinds=("square",), noise=0.0, seed=4)
    assert_consistent(s, max_objects=3)
    dropped = np.mean([len(b) < 3 for b in s.boxes])
    assert 0.1 < dropped < 0.6


def _digit_features(grey: np.ndarray, ink: np.ndarray, out: int = 16) -> np.ndarray:
    """The inked part of a digit, cut to its box and sampled on an out x out grid, unit-normalised."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = (grey * ink)[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    r = ((np.arange(out) + 0.5) * crop.shape[0] / out).astype(int)
    c = ((np.arange(out) + 0.5) * crop.shape[1] / out).astype(int)
    f = crop[np.ix_(r, c)].ravel()
    return f / np.linalg.norm(f)


@pytest.fixture(scope="module")
def mnist_features():
    """Features of all 5,000 subset images and which split each belongs to (0 train, 1 validation, 2 test)."""
    X_train, y_train, X_test, y_test = data.load_mnist_5k()
    _, validation = data.stratified_split(y_train, 500, seed=0)  # the split the course documents
    group = np.r_[np.zeros(len(X_train), int), np.full(len(X_test), 2)]
    group[validation] = 1
    images = np.concatenate([X_train, X_test]).reshape(-1, 28, 28)
    feats = np.stack([_digit_features(im, im > 0.5) for im in images])
    return feats, np.concatenate([y_train, y_test]), group


@pytest.mark.parametrize("split, group", [("train", 0), ("validation", 1), ("test", 2)])
def test_digits_of_a_split_are_the_mnist_images_of_that_split(split, group, mnist_features):
    feats, labels, groups = mnist_features
    s = make_scenes(120, 28, objects=(1, 1), scale=(28, 28), kinds=("digit",), noise=0.0, split=split, seed=7)
    matches = []
    for i in range(len(s)):
        ink = s.instances[i] == 1
        best = int(np.argmax(feats @ _digit_features(s.images[i], ink)))  # nearest MNIST image
        matches.append((groups[best] == group, labels[best] == s.digits[i][0]))
    own, same_label = np.mean(matches, axis=0)
    # matching is approximate (the digit was resized), but were the split ignored, only 10-70% of the
    # nearest images would lie in the split's own group (500, 1,000 or 3,500 of 5,000), and were the
    # 500 validation images left in the training pool, 1 in 8 training digits would match one of them
    assert own > 0.9, own
    assert same_label > 0.9


def test_digit_labels_give_each_digit_value_its_own_class():
    s = make_scenes(60, digit_labels=True, seed=8)
    assert s.class_names == SCENE_CLASSES[:4] + tuple(f"digit {d}" for d in range(10))
    assert_consistent(s)
    labels, digits = np.concatenate(s.labels), np.concatenate(s.digits)
    np.testing.assert_array_equal(labels[digits >= 0], 4 + digits[digits >= 0])
    assert set(labels[digits < 0].tolist()) <= {SQUARE, DISC, TRIANGLE} and labels.max() <= 13
    assert len(set(digits[digits >= 0].tolist())) >= 8  # many digit values, not one relabelled class
    plain = make_scenes(60, seed=8)
    np.testing.assert_array_equal(plain.instances, s.instances)  # the same scenes, only relabelled
    np.testing.assert_array_equal(np.where(s.masks >= DIGIT, DIGIT, s.masks), plain.masks)


@pytest.mark.parametrize("kinds", [("disc",), ("triangle", "square"), ("digit", "disc")])
def test_only_the_requested_kinds_appear_in_about_equal_numbers(kinds):
    s = make_scenes(150, objects=(1, 2), scale=(6, 10), kinds=kinds, seed=9)
    labels = np.concatenate(s.labels)
    wanted = [SCENE_CLASSES.index(k) for k in kinds]
    assert set(labels.tolist()) == set(wanted)
    counts = np.array([np.sum(labels == w) for w in wanted])
    assert counts.min() > 0.7 * counts.mean()


def test_object_counts_are_uniform_over_the_inclusive_range():
    s = make_scenes(400, 64, objects=(0, 3), scale=(3, 3), kinds=("square",), seed=10)
    counts = np.bincount([len(b) for b in s.boxes], minlength=4)
    assert len(counts) == 4 and counts.min() > 70  # 100 expected each; 3x3 squares on 64x64 rarely meet


def test_objects_are_inside_the_canvas_and_reach_every_edge():
    s = make_scenes(300, (20, 36), objects=(1, 1), scale=(5, 5), kinds=("square",), seed=11)
    boxes = np.concatenate(s.boxes)
    assert boxes[:, 0].min() == 0 and boxes[:, 1].min() == 0
    assert boxes[:, 2].max() == 36 and boxes[:, 3].max() == 20
    assert np.all((boxes[:, 2] - boxes[:, 0] == 5) & (boxes[:, 3] - boxes[:, 1] == 5))


def test_a_scale_larger_than_the_canvas_is_clipped_to_it():
    s = make_scenes(3, (10, 14), objects=(1, 1), scale=(30, 40), kinds=("square",), noise=0.0)
    for box in s.boxes:
        assert box.tolist()[0][1::2] == [0, 10] and box[0, 2] - box[0, 0] == 10


@pytest.mark.parametrize("size", [(8, 30), (40, 9), (17, 23)])
def test_non_square_canvases(size):
    s = make_scenes(25, size, scale=(4, 12), seed=12)
    assert s.images.shape == (25, *size)
    assert_consistent(s, max_objects=4)
    boxes = np.concatenate(s.boxes)
    assert boxes[:, 2].max() <= size[1] and boxes[:, 3].max() <= size[0]


def test_zero_scenes_and_one_scene_and_empty_scenes():
    none = make_scenes(0, (12, 20))
    assert none.images.shape == (0, 12, 20) and none.images.dtype == np.float32
    assert none.masks.dtype == none.instances.dtype == np.int64 and none.boxes == [] and len(none) == 0
    one = make_scenes(1)
    assert len(one) == 1 and one.images.shape == (1, 48, 48)
    assert_consistent(one)
    empty = make_scenes(3, objects=(0, 0), noise=0.0)
    assert np.all(empty.masks == 0) and np.all(empty.images == 0)
    assert all(b.shape == (0, 4) and b.dtype == np.float32 for b in empty.boxes)
    assert all(lab.shape == (0,) and lab.dtype == np.int64 for lab in empty.labels)


def test_indexing_selects_scenes_with_their_ground_truth():
    s = make_scenes(10, seed=13)
    for key, rows in [(3, [3]), (-1, [9]), (slice(2, 8, 3), [2, 5]), ([4, 0, 4], [4, 0, 4]),
                      (np.array([1, 2]), [1, 2]), (np.arange(10) % 3 == 0, [0, 3, 6, 9]), ([], [])]:
        part = s[key]
        assert isinstance(part, Scenes) and len(part) == len(rows)
        np.testing.assert_array_equal(part.images, s.images[rows])
        np.testing.assert_array_equal(part.instances, s.instances[rows])
        for j, r in enumerate(rows):
            assert np.array_equal(part.boxes[j], s.boxes[r]) and np.array_equal(part.labels[j], s.labels[r])
        assert part.class_names == s.class_names
    assert len(list(s)) == 10  # iteration stops at the end
    with pytest.raises(IndexError, match="out of range"):
        s[10]


@pytest.mark.parametrize("key", [1.5, "0", None, True, np.array([0.5]), np.ones(3, bool), [10], [[0, 1]]])
def test_bad_indices_raise_value_error(key):
    with pytest.raises(ValueError, match="index|scene"):
        make_scenes(4)[key]


def test_boxes_from_instances_on_a_hand_made_map():
    inst = np.zeros((5, 6), np.int64)
    inst[0:2, 0:2] = 3
    inst[1:3, 1:3] = 7  # overlapping the box of 3: its visible pixels decide its box
    inst[4, 5] = 3
    boxes, ids = boxes_from_instances(inst)
    assert ids.tolist() == [3, 7] and ids.dtype == np.int64 and boxes.dtype == np.float32
    assert boxes.tolist() == [[0, 0, 6, 5], [1, 1, 3, 3]]
    boxes, ids = boxes_from_instances(np.zeros((4, 4), int))
    assert boxes.shape == (0, 4) and ids.shape == (0,)
    np.testing.assert_array_equal(boxes_from_instances(inst.T)[0], [[0, 0, 5, 6], [1, 1, 3, 3]])


def _valid_scenes() -> dict:
    one = make_scenes(2, 8, seed=0)
    return {"images": one.images, "masks": one.masks, "instances": one.instances, "boxes": one.boxes,
            "labels": one.labels, "digits": one.digits, "class_names": one.class_names}


_V = _valid_scenes()
TABLE = {
    "make_scenes": (make_scenes, {"n": 2, "size": 16}, {
        "n": [-1, 1.5, True, "3", None],
        "size": [7, 0, (8,), (8, 7), (8, 8, 8), 16.0, "48", True, None, (True, 8)],
        "objects": [(-1, 2), (3, 2), (1,), 2, (1.0, 2), None, "12"],
        "scale": [(2, 5), (5, 4), (3,), 10, (3, 4.5), None],
        "kinds": [(), "disc", ("circle",), ("disc", "disc"), None, ("disc", 3), ["Square"]],
        "digit_labels": [1, "yes", None],
        "split": ["val", "", None, ["train"]],
        "noise": [-0.1, float("nan"), float("inf"), "0.1", True, None],
        "seed": [-1, 1.5, "0", True],
    }),
    "boxes_from_instances": (boxes_from_instances, {"instances": np.zeros((3, 4), np.int64)}, {
        "instances": [np.zeros(4, int), np.zeros((2, 2, 2), int), np.zeros((2, 2)), -np.ones((2, 2), int),
                      np.zeros((2, 2), bool), "map", None],
    }),
    "Scenes": (Scenes, _V, {
        "images": [_V["images"].astype(np.float64), _V["images"][0], _V["images"][:1], None],
        "masks": [_V["masks"].astype(np.int32), _V["masks"][:, :4], None],
        "instances": [_V["instances"].astype(float), _V["instances"][:1], None],
        "boxes": [_V["boxes"][:1], tuple(_V["boxes"]), [b.astype(np.float64) for b in _V["boxes"]],
                  [np.zeros((9, 4), np.float32)] * 2, None],
        "labels": [_V["labels"][:1], [lab.astype(np.int32) for lab in _V["labels"]], [np.zeros(9, np.int64)] * 2],
        "digits": [[d[:, None] for d in _V["digits"]], None],
        "class_names": [list(SCENE_CLASSES), (1, 2), None],
    }),
}

globals().update(table_tests(TABLE, [scenes], match=lambda arg: arg.split("_")[0] if arg != "n" else "n must"))
