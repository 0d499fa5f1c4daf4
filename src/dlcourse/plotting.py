"""Plotting helpers shared by the chapters: decision boundaries, training curves and image grids.

Each returns the matplotlib ``Figure`` so that a widget or a test can use it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _check_points(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
    return X, y


def decision_grid(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, resolution: int = 200,
                  margin: float = 0.5):
    """Evaluate ``predict`` on a ``resolution x resolution`` grid covering ``X``; returns ``(xx, yy, zz)``."""
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # (resolution**2, 2)
    zz = np.asarray(predict(grid), dtype=float)
    if zz.size != len(grid):
        raise ValueError(f"predict must return one value per grid point ({len(grid)}), got shape {zz.shape}")
    return xx, yy, zz.reshape(xx.shape)


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X, y, ax=None, resolution: int = 200,
                           title: str | None = None):
    """Shade the regions that ``predict`` assigns to each class and scatter the points ``(X, y)`` on top.

    ``predict(grid: (M, 2)) -> (M,)`` returns class labels or scores (scores are shaded continuously).
    """
    X, y = _check_points(X, y)
    xx, yy, zz = decision_grid(predict, X, resolution)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 4))
    ax.contourf(xx, yy, zz, levels=20 if len(np.unique(zz)) > 10 else len(np.unique(zz)), cmap="RdBu", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=18, linewidths=0.5)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig


def plot_history(history, ax=None, metrics: Sequence[str] = ("loss", "acc")):
    """Training (and validation, when recorded) curves per epoch, one panel per metric."""
    if ax is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    if len(axes) != len(metrics):
        raise ValueError(f"need one axis per metric ({len(metrics)}), got {len(axes)}")
    for axis, metric in zip(axes, metrics):
        train = getattr(history, f"train_{metric}", None)
        if train is None:
            raise ValueError(f"unknown metric {metric!r}; expected 'loss' or 'acc'")
        epochs = np.arange(1, len(train) + 1)
        axis.plot(epochs, train, marker="o", ms=3, label="train")
        val = getattr(history, f"val_{metric}", [])
        if len(val):
            axis.plot(epochs, val, marker="s", ms=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel({"loss": "loss", "acc": "accuracy"}.get(metric, metric))
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_images(images, labels: Sequence | None = None, ncols: int = 8, title: str | None = None,
                cmap: str = "gray"):
    """A grid of images ``(N, H, W)``, ``(N, H*W)`` with square images, or ``(N, H, W, 3)``; labels as titles."""
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"flat images must have a square number of pixels, got {images.shape[1]}")
        images = images.reshape(len(images), side, side)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must have shape (N, H, W), (N, H*W) or (N, H, W, 3) with N >= 1, got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap=cmap if images.ndim == 3 else None)
            if labels is not None:
                axis.set_title(str(labels[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
