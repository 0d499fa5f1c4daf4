"""Synthetic scenes for segmentation and detection: shapes and MNIST digits on a noisy canvas.

Every scene comes with exact ground truth: a class mask, an instance map and one box per visible
object, all computed from the same painted pixels, so masks, ids and boxes always agree. Objects are
painted in order; a later object hides an earlier one wherever they overlap (the topmost wins).
Digits come from the offline MNIST subset (:func:`~dlcourse.data.load_mnist_5k`): ``split="train"``,
``"validation"`` and ``"test"`` scenes draw on disjoint sets of its images (3,500 / 500 / 1,000), so
held-out scenes never show a digit image seen in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral
from typing import Any

import numpy as np

from ..validation import as_array, as_int_array, as_rng, check_bool, check_choice, check_int, check_non_negative

SCENE_CLASSES = ("background", "square", "disc", "triangle", "digit")  # class ids 0..4
_KINDS = SCENE_CLASSES[1:]
_DIGIT_CLASSES = SCENE_CLASSES[:4] + tuple(f"digit {d}" for d in range(10))  # digit_labels=True: ids 0..13
_MIN_SIZE, _MIN_SCALE = 8, 3


class _OutOfRange(IndexError, ValueError):
    """An index past the end: an IndexError (so iteration stops) that is also a ValueError."""


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays has no single truth value
class Scenes:
    """N scenes with their ground truth; ``scenes[i]`` (int, slice, index or bool array) selects some.

    images: (N, H, W) float32 in [0, 1]; masks, instances: (N, H, W) int64 (class id, instance id 1..K_n,
    0 = background); boxes: N arrays (K_n, 4) float32 xyxy in pixel-edge coordinates; labels, digits:
    N arrays (K_n,) int64 (class id of instance k + 1; its MNIST label or -1 for a shape).
    """

    images: np.ndarray
    masks: np.ndarray
    instances: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    digits: list[np.ndarray]
    class_names: tuple[str, ...] = SCENE_CLASSES

    def __post_init__(self) -> None:
        _check_scene_arrays(self)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: Any) -> Scenes:
        rows = _index_rows(key, len(self))
        return Scenes(self.images[rows], self.masks[rows], self.instances[rows],
                      [self.boxes[r] for r in rows], [self.labels[r] for r in rows],
                      [self.digits[r] for r in rows], self.class_names)


def _check_array(value: Any, name: str, dtype: type, ndim: int) -> None:
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a {ndim}-dimensional {np.dtype(dtype)} array, got {type(value).__name__}")
    if value.dtype != dtype or value.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-dimensional {np.dtype(dtype)} array, "
                         f"got shape {value.shape} and dtype {value.dtype}")


def _check_scene_arrays(s: Scenes) -> None:
    """The cheap consistency checks of a Scenes: dtypes, shapes and one entry per scene in each list."""
    _check_array(s.images, "images", np.float32, 3)
    for name, maps in (("masks", s.masks), ("instances", s.instances)):
        _check_array(maps, name, np.int64, 3)
        if maps.shape != s.images.shape:
            raise ValueError(f"{name} must have the shape of images {s.images.shape}, got {maps.shape}")
    for name, dtype, tail in (("boxes", np.float32, (4,)), ("labels", np.int64, ()), ("digits", np.int64, ())):
        items = getattr(s, name)
        if not isinstance(items, list) or len(items) != len(s.images):
            got = f"a list of {len(items)}" if isinstance(items, list) else type(items).__name__
            raise ValueError(f"{name} must be a list of {len(s.images)} arrays (one per scene), got {got}")
        for i, (item, box) in enumerate(zip(items, s.boxes)):
            _check_array(item, f"{name}[{i}]", dtype, 1 + len(tail))
            if item.shape[1:] != tail or len(item) != len(box):
                raise ValueError(f"{name}[{i}] must have shape ({len(box)},{' 4' if tail else ''}) "
                                 f"(one row per box of boxes[{i}]), got {item.shape}")
    if not isinstance(s.class_names, tuple) or not all(isinstance(c, str) for c in s.class_names):
        raise ValueError(f"class_names must be a tuple of str, got {s.class_names!r}")


def _index_rows(key: Any, n: int) -> np.ndarray:
    """The scene numbers a key selects, as an (M,) int array; an int key selects one scene."""
    if isinstance(key, slice):
        return np.arange(n)[key]
    if isinstance(key, Integral) and not isinstance(key, (bool, np.bool_)):
        if not -n <= key < n:
            raise _OutOfRange(f"scene index {int(key)} is out of range for {n} scenes")
        return np.array([int(key) % n])
    if np.ndim(key) == 0:
        raise ValueError(f"a Scenes index must be an int, a slice or a 1-D index or bool array, got {key!r}")
    rows = as_array(key, "index", kind="any", ndim=1)
    if rows.dtype == bool:
        if len(rows) != n:
            raise ValueError(f"a bool index must have one entry per scene ({n}), got {len(rows)}")
        return np.flatnonzero(rows)
    if rows.dtype.kind not in "iu" and rows.size:
        raise ValueError(f"an index array must hold integers or booleans, got dtype {rows.dtype}")
    rows = rows.astype(np.int64)  # an empty list arrives as float64: it selects no scene
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise _OutOfRange(f"scene indices must lie in -{n}..{n - 1}, got {rows.min()}..{rows.max()}")
    return rows % max(n, 1)


def boxes_from_instances(instances: Any) -> tuple[np.ndarray, np.ndarray]:
    """The box of each instance in one (H, W) instance map: ``(boxes (K, 4) float32, ids (K,) int64)``.

    Box of id k (xyxy, pixel edges): x0 = min col, y0 = min row, x1 = max col + 1, y1 = max row + 1 over
    the pixels equal to k; ids are the distinct nonzero values in increasing order (0 = background).
    """
    inst = as_int_array(instances, "instances", ndim=2)
    if inst.size and inst.min() < 0:
        raise ValueError(f"instances must hold ids >= 0 (0 = background), got a minimum of {inst.min()}")
    flat = inst.reshape(-1)
    where = np.flatnonzero(flat)
    if where.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    order = np.argsort(flat[where], kind="stable")  # group the pixels of each id together
    ids_sorted, where = flat[where][order], where[order]
    starts = np.flatnonzero(np.r_[True, ids_sorted[1:] != ids_sorted[:-1]])
    rows, cols = np.divmod(where, inst.shape[1])
    boxes = np.stack([np.minimum.reduceat(cols, starts), np.minimum.reduceat(rows, starts),
                      np.maximum.reduceat(cols, starts) + 1, np.maximum.reduceat(rows, starts) + 1], axis=1)
    return boxes.astype(np.float32), ids_sorted[starts].astype(np.int64)


@lru_cache(maxsize=None)
def _shape_mask(kind: str, side: int) -> np.ndarray:
    """The pixels of a side x side square whose centres lie inside the shape (read-only bool array).

    Pixel (i, j) has its centre at (x, y) = (j + 1/2, i + 1/2); the disc has diameter ``side``; the
    triangle has its apex at the middle of the top edge and its base on the bottom edge.
    """
    y, x = np.mgrid[0:side, 0:side] + 0.5
    half = side / 2
    if kind == "square":
        mask = np.ones((side, side), bool)
    elif kind == "disc":
        mask = (x - half) ** 2 + (y - half) ** 2 <= half**2
    else:  # triangle: the half-width at height y is (y / side) * half
        mask = 2 * np.abs(x - half) <= y
    mask.setflags(write=False)
    return mask


@lru_cache(maxsize=None)
def _resize_matrix(source: int, side: int) -> np.ndarray:
    """(side, source) bilinear (triangle-filter) weights; the filter widens when shrinking (antialias)."""
    stretch = max(1.0, source / side)
    centres = (np.arange(side) + 0.5) * source / side
    weights = np.maximum(0.0, 1 - np.abs(np.arange(source) + 0.5 - centres[:, None]) / stretch)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


VALIDATION_DIGITS = 500  # of the subset's 4,000 training images, held out for "validation" scenes


def _split_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST images and labels of one split: 3,500 train, 500 validation (stratified), 1,000 test."""
    from .mnist import load_mnist_5k, stratified_split

    X_train, y_train, X_test, y_test = load_mnist_5k()
    if split == "test":
        return X_test, y_test
    train, validation = stratified_split(y_train, VALIDATION_DIGITS, seed=0)
    rows = np.sort(train if split == "train" else validation)
    return X_train[rows], y_train[rows]


@lru_cache(maxsize=3)
def _digit_pool(split: str) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The MNIST digits of ``split``, each cropped to the square around its ink, and their labels."""
    X, y = _split_digits(split)
    crops = []
    for image in X.reshape(-1, 28, 28):
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        top = min(max(0, (rows[0] + rows[-1] + 1 - side) // 2), 28 - side)
        left = min(max(0, (cols[0] + cols[-1] + 1 - side) // 2), 28 - side)
        crops.append(image[top:top + side, left:left + side])
    return tuple(crops), y


def _digit_grey(crop: np.ndarray, side: int) -> np.ndarray:
    """A digit crop resized to side x side, rescaled to its original peak so thin strokes survive."""
    resize = _resize_matrix(len(crop), side)
    grey = resize @ crop @ resize.T
    return grey * (crop.max() / grey.max())


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi) of integers with {minimum} <= lo <= hi, got {value!r}")
    lo = check_int(value[0], f"{name}[0]", minimum=minimum)
    hi = check_int(value[1], f"{name}[1]", minimum=lo)
    return lo, hi


def _canvas(size: Any) -> tuple[int, int]:
    if isinstance(size, Integral) and not isinstance(size, (bool, np.bool_)):
        side = check_int(size, "size", minimum=_MIN_SIZE)
        return side, side
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be an int >= {_MIN_SIZE} or a pair (H, W) of them, got {size!r}")
    return check_int(size[0], "size[0] (H)", minimum=_MIN_SIZE), check_int(size[1], "size[1] (W)", minimum=_MIN_SIZE)


def _check_kinds(kinds: Any) -> tuple[str, ...]:
    if not isinstance(kinds, (tuple, list)) or not kinds:
        raise ValueError(f"kinds must be a non-empty tuple of names from {list(_KINDS)}, got {kinds!r}")
    for kind in kinds:
        check_choice(kind, "each of kinds", _KINDS)
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds must not repeat a name, got {tuple(kinds)!r}")
    return tuple(kinds)


def _draw_objects(rng: np.random.Generator, n: int, canvas: tuple[int, int], objects, scale, n_kinds: int):
    """Per-object random draws, flat over all scenes: counts (n,) and a dict of (total,) arrays."""
    counts = rng.integers(objects[0], objects[1] + 1, size=n)
    total = int(counts.sum())
    side = np.minimum(rng.integers(scale[0], scale[1] + 1, size=total), min(canvas))
    return counts, {
        "side": side,
        "kind": rng.integers(0, n_kinds, size=total),
        "intensity": rng.uniform(0.5, 1.0, size=total).astype(np.float32),
        "top": (rng.random(total) * (canvas[0] - side + 1)).astype(np.int64),
        "left": (rng.random(total) * (canvas[1] - side + 1)).astype(np.int64),
        "pick": rng.random(total),  # which digit of the pool, for digit objects
    }


def _paint(scene: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, top: int, left: int,
           ink: np.ndarray, value: np.ndarray | float, cls: int) -> None:
    """Paint one object over a scene: image, class and instance id, wherever ``ink`` is True."""
    image, mask, inst = (a[top:top + len(ink), left:left + len(ink)] for a in scene)
    image[ink] = value if np.ndim(value) == 0 else value[ink]
    mask[ink] = cls
    inst[ink] = k


def make_scenes(n: int, size: int | tuple[int, int] = 48, *, objects: tuple[int, int] = (1, 4),
                scale: tuple[int, int] = (10, 20), kinds=("square", "disc", "triangle", "digit"),
                digit_labels: bool = False, split: str = "train", noise: float = 0.05,
                seed: int | np.random.Generator = 0) -> Scenes:
    """``n`` random scenes of ``size`` (H, W) pixels with exact class masks, instance maps and boxes.

    Each scene holds a uniform number of objects in ``objects`` (inclusive); each object has a side
    uniform in ``scale`` (clipped to the canvas), a kind uniform over ``kinds``, a position that keeps
    it inside the canvas and an intensity uniform in [0.5, 1] (digits: MNIST grey times it, where the
    resized grey > 0.5). Background: clip(N(0, noise^2), 0, 1). Class ids follow SCENE_CLASSES, or,
    with ``digit_labels``, a digit d gets class 4 + d (ids 0..13). Hidden objects are dropped.
    ``split`` picks the digit images: "train" (3,500 of the subset's training images), "validation" (the
    other 500, stratified) or "test" (its 1,000 test images), so that scenes of different splits never
    share a digit image. A digit is an MNIST image of ``split`` cut to the square around its ink (so the digit, not its empty
    28 x 28 frame, spans the object's side) and resized bilinearly. ``seed``: an int or a Generator.
    """
    n = check_int(n, "n", minimum=0)
    canvas = _canvas(size)
    objects, scale = _pair(objects, "objects", 0), _pair(scale, "scale", _MIN_SCALE)
    kinds = _check_kinds(kinds)
    digit_labels = check_bool(digit_labels, "digit_labels")
    split = check_choice(split, "split", ("train", "validation", "test"))
    noise = check_non_negative(noise, "noise")
    rng = as_rng(seed)
    counts, draws = _draw_objects(rng, n, canvas, objects, scale, len(kinds))
    crops, digit_values = _digit_pool(split) if "digit" in kinds and draws["side"].size else ((), None)
    images = np.zeros((n, *canvas), np.float32)
    if noise > 0:  # drawn after the objects, so the objects of a seed do not depend on the noise level
        images[:] = np.clip(rng.standard_normal((n, *canvas), dtype=np.float32) * np.float32(noise), 0, 1)
    masks, instances = np.zeros((n, *canvas), np.int64), np.zeros((n, *canvas), np.int64)
    classes = np.array([SCENE_CLASSES.index(kind) for kind in kinds])[draws["kind"]]
    digits = np.full(len(classes), -1, np.int64)
    scene_of = np.repeat(np.arange(n), counts)
    paint_order = np.arange(len(classes)) - np.concatenate([[0], np.cumsum(counts)])[scene_of] + 1
    for j, (scene, k) in enumerate(zip(scene_of.tolist(), paint_order.tolist())):
        side, value, cls = int(draws["side"][j]), draws["intensity"][j], int(classes[j])
        if cls == 4:  # a digit: its ink is where the resized grey exceeds 0.5, painted grey * intensity
            pick = int(draws["pick"][j] * len(crops))
            grey = _digit_grey(crops[pick], side)
            ink, value, digits[j] = grey > 0.5, grey * value, digit_values[pick]
            cls = 4 + int(digits[j]) if digit_labels else 4
        else:
            ink = _shape_mask(SCENE_CLASSES[cls], side)
        target = (images[scene], masks[scene], instances[scene])
        _paint(target, k, int(draws["top"][j]), int(draws["left"][j]), ink, value, cls)
    return _finish(images, masks, instances, counts, classes, digits, digit_labels)


def _finish(images, masks, instances, counts, classes, digits, digit_labels: bool) -> Scenes:
    """Drop the hidden objects, renumber the rest 1..K_n and read boxes and labels off the painted maps."""
    boxes, labels, digit_lists = [], [], []
    first = np.concatenate([[0], np.cumsum(counts)])
    for i in range(len(images)):
        visible = np.bincount(instances[i].reshape(-1), minlength=counts[i] + 1)[1:] > 0
        renumber = np.concatenate([[0], np.cumsum(visible)])  # old id -> new id, order kept
        instances[i] = renumber[instances[i]]
        box, _ = boxes_from_instances(instances[i])
        scene_digits = digits[first[i]:first[i + 1]][visible]
        scene_labels = classes[first[i]:first[i + 1]][visible].astype(np.int64)
        if digit_labels:
            scene_labels = np.where(scene_digits >= 0, 4 + scene_digits, scene_labels)
        boxes.append(box)
        labels.append(scene_labels)
        digit_lists.append(scene_digits)
    names = _DIGIT_CLASSES if digit_labels else SCENE_CLASSES
    return Scenes(images, masks, instances, boxes, labels, digit_lists, names)


__all__ = ["SCENE_CLASSES", "Scenes", "boxes_from_instances", "make_scenes"]
