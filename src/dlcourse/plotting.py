"""Plotting helpers shared by the chapters: decision boundaries, training curves and image grids.

Each returns the matplotlib ``Figure`` so that a widget or a test can use it. Inputs are validated:
points and images must be finite numbers (bool arrays are refused), shapes are checked before drawing.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .validation import as_array, as_float_array, check_float, check_int, check_non_negative, check_positive_int


def _numbers(values: Any, name: str, **checks: Any) -> np.ndarray:
    """Finite ints or floats (never bools) as an array of their own dtype."""
    array = as_array(values, name, kind="any", **checks)
    if array.dtype.kind == "b":
        raise ValueError(f"{name} must hold numbers, got a bool array (convert with .astype(int))")
    return array


def _check_points(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array(X, "X", allow_empty=False)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    y = _numbers(y, "y")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
    return X, y


def decision_grid(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, resolution: int = 200,
                  margin: float = 0.5):
    """Evaluate ``predict`` on a ``resolution x resolution`` grid covering ``X``; returns ``(xx, yy, zz)``.

    X: (N, 2) points; ``predict(grid: (M, 2))`` must return M finite values, shape (M,) or (M, 1)
    (booleans count as 0/1 here: they are class decisions to shade).
    """
    if not callable(predict):
        raise ValueError(f"predict must be a function of an (M, 2) grid, got {type(predict).__name__}")
    X = as_float_array(X, "X", shape=(None, 2), allow_empty=False)
    resolution = check_int(resolution, "resolution", minimum=2)
    margin = check_non_negative(margin, "margin")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    with np.errstate(over="ignore"):  # an overflowing span is reported below, not warned about
        span = hi - lo
    if np.any(span <= 0) or not np.all(np.isfinite(span)):
        raise ValueError(f"the grid must span a finite, non-empty area, got corners {lo} and {hi} "
                         f"(points all on a line need margin > 0)")
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # (resolution**2, 2)
    zz = as_array(predict(grid), "predict(grid)", kind="any").astype(float)
    if zz.shape not in ((len(grid),), (len(grid), 1)):
        raise ValueError(f"predict must return one value per grid point ({len(grid)}), got shape {zz.shape}")
    return xx, yy, zz.reshape(xx.shape)


def _check_axes(ax: Any, name: str = "ax", allow_none: bool = True) -> None:
    if not (isinstance(ax, Axes) or (allow_none and ax is None)):
        raise ValueError(f"{name} must be a matplotlib Axes{' or None' if allow_none else ''}, got {type(ax).__name__}")


def _check_title(title: Any) -> None:
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a string or None, got {type(title).__name__}")


CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")  # distinct shapes for up to 8 classes
# Matplotlib's first eight default colours, each with its own line style: two curves of one figure
# differ in dash pattern as well as colour, so a reader who cannot tell the colours apart still can.
COURSE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
COURSE_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (6, 3)))


def use_course_style() -> None:
    """Make each new line of a figure differ from the previous ones in line style as well as colour."""
    from cycler import cycler

    plt.rcParams["axes.prop_cycle"] = cycler(color=list(COURSE_COLOURS)) + cycler(linestyle=list(COURSE_LINESTYLES))


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X, y, ax=None, resolution: int = 200,
                           title: str | None = None):
    """Shade the regions that ``predict`` assigns to each class and scatter the points ``(X, y)`` on top.

    ``predict(grid: (M, 2)) -> (M,)`` returns class labels or scores (scores are shaded continuously).
    X: (N, 2), y: (N,) numbers: with at most 8 distinct values each class gets its own colour AND marker
    (and a legend entry); more values are shaded continuously.
    """
    X, y = _check_points(X, y)
    _check_axes(ax)
    _check_title(title)
    xx, yy, zz = decision_grid(predict, X, resolution)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 4))
    n_values = len(np.unique(zz))
    ax.contourf(xx, yy, zz, levels=20 if n_values > 10 else n_values, cmap="RdBu", alpha=0.35)
    classes = np.unique(y)
    if len(classes) <= len(CLASS_MARKERS):  # labels: one marker per class, so colour is not the only cue
        colours = plt.get_cmap("RdBu")(np.linspace(0, 1, len(classes)) if len(classes) > 1 else [0.0])
        for k, (label, colour) in enumerate(zip(classes, colours)):
            ax.scatter(*X[y == label].T, color=colour, marker=CLASS_MARKERS[k], edgecolors="k", s=22,
                       linewidths=0.5, label=f"class {label:g}")
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
    else:  # a continuous target: colour is the value
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=18, linewidths=0.5)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig


def _curve(history: Any, attribute: str) -> np.ndarray:
    values = getattr(history, attribute)
    return as_float_array(values, f"history.{attribute}", ndim=1, finite=False)  # a diverged run shows NaN gaps


def plot_history(history, ax=None, metrics: Sequence[str] = ("loss", "acc")):
    """Training (and validation, when recorded) curves per epoch, one panel per metric.

    history: a :class:`dlcourse.training.History` (what ``fit`` returns); metrics: "loss" and/or "acc"
    (one name or a sequence of names); ax: None, or one Axes per metric.
    """
    if not all(hasattr(history, f"{kind}_{m}") for kind in ("train", "val") for m in ("loss", "acc")):
        raise ValueError(f"history must be a dlcourse.training.History (what fit returns), got "
                         f"{type(history).__name__}; train_numpy_mlp's dict: plot history['epoch_loss'] directly")
    metrics = (metrics,) if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (list, tuple)) or not metrics or any(m not in ("loss", "acc") for m in metrics):
        raise ValueError(f"metrics must be 'loss', 'acc' or both, got {metrics!r}")
    if ax is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        for a in axes:
            _check_axes(a, "each ax", allow_none=False)
        fig = axes[0].figure
    if len(axes) != len(metrics):
        raise ValueError(f"need one axis per metric ({len(metrics)}), got {len(axes)}")
    for axis, metric in zip(axes, metrics):
        train, val = _curve(history, f"train_{metric}"), _curve(history, f"val_{metric}")
        if len(train) == 0 or len(val) not in (0, len(train)):
            raise ValueError(f"history needs one train_{metric} value per epoch (got {len(train)}) and the "
                             f"same number of val_{metric} values or none (got {len(val)})")
        epochs = np.arange(1, len(train) + 1)
        axis.plot(epochs, train, marker="o", ms=3, label="train")
        if len(val):
            axis.plot(epochs, val, marker="s", ms=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel({"loss": "loss", "acc": "accuracy"}[metric])
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _image_range(images: np.ndarray, value_range) -> tuple[float, float]:
    """One grey scale for all panels, so equal values look equal: uint8 0..255, floats in [0, 1] 0..1, else min..max."""
    if value_range is not None:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}")
        low, high = check_float(value_range[0], "value_range[0]"), check_float(value_range[1], "value_range[1]")
        if not low < high:
            raise ValueError(f"value_range must have low < high, got {value_range!r}")
        return low, high
    if images.dtype == np.uint8:
        return 0.0, 255.0
    low, high = float(images.min()), float(images.max())
    if images.dtype.kind == "f" and low >= 0 and high <= 1:
        return 0.0, 1.0
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _as_images(images: Any) -> np.ndarray:
    images = _numbers(images, "images")
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"flat images must have a square number of pixels, got {images.shape[1]}")
        images = images.reshape(len(images), side, side)
    if images.ndim not in (3, 4) or len(images) == 0 or images.size == 0 or (images.ndim == 4 and
                                                                           images.shape[3] != 3):
        raise ValueError(f"images must have shape (N, H, W), (N, H*W) or (N, H, W, 3) with N >= 1, got {images.shape}")
    if images.ndim == 4:  # matplotlib's rule for colour: uint8-like 0..255 or floats in [0, 1]
        top = 255 if images.dtype.kind in "iu" else 1
        if images.min() < 0 or images.max() > top:
            raise ValueError(f"colour images must hold values in [0, {top}] for dtype {images.dtype}, "
                             f"got values from {images.min()} to {images.max()}")
    return images


def show_images(images, labels: Sequence | None = None, ncols: int = 8, title: str | None = None,
                cmap: str = "gray", value_range: tuple[float, float] | None = None):
    """A grid of images ``(N, H, W)``, ``(N, H*W)`` with square images, or ``(N, H, W, 3)``; labels as titles.

    Accepted: finite ints or floats (bool arrays are refused). Grey images share one scale over the
    whole grid: 0..255 for uint8, 0..1 for floats in [0, 1], otherwise the min..max of all images
    (e.g. +-1 patterns), or ``value_range`` if given. Colour images: ints in 0..255 or floats in [0, 1].
    """
    images = _as_images(images)
    if labels is not None and (isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__")
                               or len(labels) != len(images)):
        raise ValueError(f"labels must be a sequence of one label per image ({len(images)}), got {labels!r}")
    ncols = min(check_positive_int(ncols, "ncols"), len(images))
    _check_title(title)
    low, high = _image_range(images, value_range)
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            if images.ndim == 3:
                axis.imshow(images[index], cmap=cmap, vmin=low, vmax=high)
            else:
                axis.imshow(images[index])
            if labels is not None:
                axis.set_title(str(labels[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
