"""Synthetic 2-D classification sets, generated from a seed (no files, no network).

Every function returns ``X: (n, 2) float64`` and ``y: (n,) int64`` with classes as balanced as
``n`` allows (their sizes differ by at most one) and every class present.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ..validation import as_float_array, as_rng, check_float, check_int, check_non_negative, check_positive


def _check(n, noise, min_n: int = 2, noise_name: str = "noise") -> tuple[int, float]:
    return check_int(n, "n", minimum=min_n), check_non_negative(noise, noise_name)


def _split(n: int, k: int) -> list[int]:
    """Sizes of ``k`` classes that add up to ``n``."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _blob_centres(centers) -> np.ndarray:
    if isinstance(centers, Integral) and not isinstance(centers, (bool, np.bool_)):
        count = check_int(centers, "centers", minimum=1)
        angles = 2 * np.pi * np.arange(count) / count
        return 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if np.ndim(centers) == 0:
        raise ValueError(f"centers must be a count >= 1 or a (k, 2) array of centres, got {centers!r}")
    return as_float_array(centers, "centers", shape=(None, 2), allow_empty=False)


def make_blobs(n: int = 200, centers: int | np.ndarray = 2, std: float = 1.0, seed: int = 0):
    """Isotropic Gaussian blobs, one class per centre, with standard deviation ``std``.

    ``centers`` is a count k (placed on a circle of radius 4) or a (k, 2) array; n >= max(2, k).
    """
    centres = _blob_centres(centers)
    n, std = _check(n, std, min_n=max(2, len(centres)), noise_name="std")
    rng = as_rng(seed)
    sizes = _split(n, len(centres))
    X = np.concatenate([c + std * rng.standard_normal((m, 2)) for c, m in zip(centres, sizes)])
    y = np.repeat(np.arange(len(centres)), sizes)
    return X, y.astype(np.int64)


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (class 0 on top, class 1 below and shifted)."""
    n, noise = _check(n, noise)
    rng = as_rng(seed)
    n0, n1 = _split(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([
        np.stack([np.cos(t0), np.sin(t0)], axis=1),
        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
    ])
    X += noise * rng.standard_normal(X.shape)
    return X, np.repeat([0, 1], [n0, n1]).astype(np.int64)


def make_circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """A small circle (class 1, radius ``factor`` in (0, 1)) inside a unit circle (class 0)."""
    n, noise = _check(n, noise)
    factor = check_float(factor, "factor", minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    rng = as_rng(seed)
    n0, n1 = _split(n, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([
        np.stack([np.cos(t0), np.sin(t0)], axis=1),
        factor * np.stack([np.cos(t1), np.sin(t1)], axis=1),
    ])
    X += noise * rng.standard_normal(X.shape)
    return X, np.repeat([0, 1], [n0, n1]).astype(np.int64)


def make_xor(n: int = 200, noise: float = 0.2, seed: int = 0):
    """Four Gaussian clusters at (+-1, +-1); the label is 1 where the signs differ (XOR); n >= 4.

    Each class gets half of ``n`` (one more for class 0 when n is odd), shared between its two corners.
    """
    n, noise = _check(n, noise, min_n=4)
    rng = as_rng(seed)
    corners = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], dtype=float)
    n0, n1 = _split(n, 2)
    sizes = _split(n0, 2) + _split(n1, 2)  # split the classes first, then each class over its corners
    X = np.concatenate([c + noise * rng.standard_normal((m, 2)) for c, m in zip(corners, sizes)])
    y = np.repeat([0, 0, 1, 1], sizes)
    return X, y.astype(np.int64)


def make_spirals(n: int = 200, noise: float = 0.05, seed: int = 0, turns: float = 1.5):
    """Two interleaved Archimedean spirals, one per class, each ``turns`` > 0 turns long."""
    n, noise = _check(n, noise)
    turns = check_positive(turns, "turns")
    rng = as_rng(seed)
    parts, labels = [], []
    for label, m in enumerate(_split(n, 2)):
        t = np.linspace(0.25, 1.0, m) * turns * 2 * np.pi
        radius = t / (turns * 2 * np.pi)
        phase = label * np.pi
        parts.append(np.stack([radius * np.cos(t + phase), radius * np.sin(t + phase)], axis=1))
        labels.append(np.full(m, label))
    X = np.concatenate(parts) + noise * rng.standard_normal((n, 2))
    return X, np.concatenate(labels).astype(np.int64)
