"""Synthetic 2-D classification sets, generated from a seed (no files, no network).

Every function returns ``X: (n, 2) float64`` and ``y: (n,) int64`` with classes as balanced as
``n`` allows.
"""
from __future__ import annotations

import numpy as np


def _check(n: int, noise: float, min_n: int = 2) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < min_n:
        raise ValueError(f"n must be an integer >= {min_n}, got {n!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")


def _split(n: int, k: int) -> list[int]:
    """Sizes of ``k`` classes that add up to ``n``."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def make_blobs(n: int = 200, centers: int | np.ndarray = 2, std: float = 1.0, seed: int = 0):
    """Isotropic Gaussian blobs; ``centers`` is a count (placed on a circle of radius 4) or a (k, 2) array."""
    _check(n, std)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        angles = 2 * np.pi * np.arange(centers) / centers
        centers = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    centers = np.asarray(centers, dtype=float)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"centers must have shape (k, 2), got {centers.shape}")
    rng = np.random.default_rng(seed)
    sizes = _split(n, len(centers))
    X = np.concatenate([c + std * rng.standard_normal((m, 2)) for c, m in zip(centers, sizes)])
    y = np.repeat(np.arange(len(centers)), sizes)
    return X, y.astype(np.int64)


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (class 0 on top, class 1 below and shifted)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    n0, n1 = _split(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([
        np.stack([np.cos(t0), np.sin(t0)], axis=1),
        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1),
    ])
    X += noise * rng.standard_normal(X.shape)
    return X, np.repeat([0, 1], [n0, n1]).astype(np.int64)


def make_circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0)."""
    _check(n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
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
    """Four Gaussian clusters at (+-1, +-1); the label is 1 where the signs differ (XOR)."""
    _check(n, noise, min_n=4)
    rng = np.random.default_rng(seed)
    corners = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], dtype=float)
    sizes = _split(n, 4)
    X = np.concatenate([c + noise * rng.standard_normal((m, 2)) for c, m in zip(corners, sizes)])
    y = np.repeat([0, 0, 1, 1], sizes)
    return X, y.astype(np.int64)


def make_spirals(n: int = 200, noise: float = 0.05, seed: int = 0, turns: float = 1.5):
    """Two interleaved Archimedean spirals, one per class."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for label, m in enumerate(_split(n, 2)):
        t = np.linspace(0.25, 1.0, m) * turns * 2 * np.pi
        radius = t / (turns * 2 * np.pi)
        phase = label * np.pi
        parts.append(np.stack([radius * np.cos(t + phase), radius * np.sin(t + phase)], axis=1))
        labels.append(np.full(m, label))
    X = np.concatenate(parts) + noise * rng.standard_normal((n, 2))
    return X, np.concatenate(labels).astype(np.int64)
