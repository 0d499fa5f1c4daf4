"""Regularisation from scratch: data splits, early stopping, L2 and L1 penalties, dropout, augmentation, bagging.

Conventions. Dropout here is *inverted* dropout with a **keep** probability q (``keep_prob``): each unit
is kept with probability q and the kept ones are divided by q, so E[y] = x and nothing changes at test
time. PyTorch's ``nn.Dropout(p)`` takes the **drop** probability p = 1 - q.

L2 and its MAP reading: minimising (1/N) sum_n loss_n + (lambda/2) ||w||^2 is maximising the posterior of
w under a Gaussian prior w ~ N(0, tau^2 I) and a Gaussian likelihood of noise variance sigma^2 when
lambda = sigma^2 / (N tau^2) (:func:`l2_strength_from_prior`); an L1 penalty is the Laplace prior.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .data.mnist import stratified_split
from .validation import (as_array, as_float_array, as_int_array, check_float, check_int, check_non_negative,
                         check_positive, check_positive_int)

# ---------------------------------------------------------------- splits


def _rng(seed) -> np.random.Generator:
    return np.random.default_rng(check_int(seed, "seed", minimum=0))


def train_val_test_split(y, n_val: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test) of a stratified three-way split of labels y (N,) (counts, not fractions).

    Each class keeps its proportion in every part; the three index sets are disjoint and cover 0..N-1.
    """
    y = as_int_array(y, "y", ndim=1)
    n_val, n_test = check_positive_int(n_val, "n_val"), check_positive_int(n_test, "n_test")
    if n_val + n_test >= len(y):
        raise ValueError(f"n_val + n_test must be < len(y) = {len(y)}, got {n_val} + {n_test}")
    rest, test = stratified_split(y, n_test, seed)
    train, val = stratified_split(y[rest], n_val, seed + 1)
    return rest[train], rest[val], test


def kfold_indices(n: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, val) index pairs: 0..n-1 shuffled and cut into k folds of sizes differing by at most one.

    Every index is in exactly one validation fold; fold i validates on part i and trains on the rest.
    """
    n, k = check_positive_int(n, "n"), check_int(k, "k", minimum=2)
    if k > n:
        raise ValueError(f"k must be at most n = {n} (each fold needs an example), got {k}")
    folds = np.array_split(_rng(seed).permutation(n), k)
    return [(np.sort(np.concatenate(folds[:i] + folds[i + 1:])), np.sort(fold)) for i, fold in enumerate(folds)]


# ---------------------------------------------------------------- early stopping


def early_stopping_index(val_losses, patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """(best, stop): the epoch (0-based) with the lowest validation loss, and the epoch training stops after.

    An epoch improves if its loss is below the best so far by more than ``min_delta``. Training stops
    after the epoch that is the ``patience``-th in a row without improvement (stop = best + patience),
    or at the last epoch if that never happens; the weights to keep are those of epoch ``best``.
    """
    losses = as_float_array(val_losses, "val_losses", ndim=1, allow_empty=False)
    patience = check_positive_int(patience, "patience")
    min_delta = check_non_negative(min_delta, "min_delta")
    best, waited = 0, 0
    for epoch in range(1, len(losses)):
        if losses[epoch] < losses[best] - min_delta:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                return best, epoch
    return best, len(losses) - 1


# ---------------------------------------------------------------- penalties


def l2_penalty(weights: Sequence, lam: float) -> tuple[float, list[np.ndarray]]:
    """The L2 penalty (lambda/2) sum_i ||W_i||^2 and its gradients lambda W_i (weight decay)."""
    weights = _weights(weights)
    lam = check_non_negative(lam, "lam")
    return 0.5 * lam * sum(float(np.sum(w * w)) for w in weights), [lam * w for w in weights]


def l1_penalty(weights: Sequence, lam: float) -> tuple[float, list[np.ndarray]]:
    """The L1 penalty lambda sum_i |W_i|_1 and a subgradient lambda sign(W_i) (0 at 0, as torch.sign)."""
    weights = _weights(weights)
    lam = check_non_negative(lam, "lam")
    return lam * sum(float(np.abs(w).sum()) for w in weights), [lam * np.sign(w) for w in weights]


def _weights(weights) -> list[np.ndarray]:
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise ValueError(f"weights must be a list or tuple of arrays, got {type(weights).__name__}")
    return [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]


def l2_strength_from_prior(noise_var: float, prior_var: float, n: int) -> float:
    """lambda = sigma^2 / (N tau^2): the L2 strength (on a mean loss) that MAP with w ~ N(0, tau^2 I) implies.

    -log p(w | D) = (1/(2 sigma^2)) sum_n (y_n - f(x_n; w))^2 + (1/(2 tau^2)) ||w||^2 + const
                  = (N / sigma^2) [ (1/(2N)) sum_n (...)^2 + (lambda / 2) ||w||^2 ] + const.
    """
    noise_var, prior_var = check_positive(noise_var, "noise_var"), check_positive(prior_var, "prior_var")
    return noise_var / (check_positive_int(n, "n") * prior_var)


# ---------------------------------------------------------------- dropout


def dropout_mask(shape: Sequence[int], keep_prob: float, seed: int = 0) -> np.ndarray:
    """A 0/1 float mask of ``shape``: each entry 1 with probability keep_prob, independently."""
    if not isinstance(shape, (tuple, list)) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                      and s >= 0 for s in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    keep_prob = _keep(keep_prob)
    return (_rng(seed).random(tuple(shape)) < keep_prob).astype(float)


def _keep(keep_prob) -> float:
    return check_float(keep_prob, "keep_prob (the probability of KEEPING a unit; torch's p = 1 - keep_prob)",
                       minimum=0.0, maximum=1.0, strict_minimum=True)


def inverted_dropout(x, keep_prob: float, mask=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout in training mode: y = x * m / q with m_i ~ Bernoulli(q), q = keep_prob; returns (y, m).

    ``mask`` (0/1, the shape of x) fixes m; otherwise it is drawn with ``seed``. E[y] = x, so the
    network is used unchanged at test time. PyTorch's ``F.dropout(x, p)`` has p = 1 - keep_prob.
    """
    x = as_float_array(x, "x")
    keep_prob = _keep(keep_prob)
    if mask is None:
        mask = dropout_mask(x.shape, keep_prob, seed)
    else:
        mask = as_array(mask, "mask", kind="any").astype(float)  # a bool mask is welcome here
        if mask.shape != x.shape or not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"mask must be 0/1 values of the shape of x, {x.shape}, got shape {mask.shape}")
    return x * mask / keep_prob, mask


# ---------------------------------------------------------------- data augmentation and bagging


def random_shifts(images, max_shift: int = 2, seed: int = 0) -> np.ndarray:
    """Each image (N, H, W) moved by a random whole-pixel offset in -max_shift..max_shift per axis, zero-filled.

    A shifted digit is the same digit, so the label is kept: the augmentation teaches that invariance.
    """
    images = as_float_array(images, "images", ndim=3)
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    rng = _rng(seed)
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    for i, (dy, dx) in enumerate(rng.integers(-max_shift, max_shift + 1, size=(len(images), 2))):
        src = images[i, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
        out[i, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def bootstrap_indices(n: int, n_models: int, seed: int = 0) -> np.ndarray:
    """Bagging's resamples: (n_models, n) indices drawn with replacement from 0..n-1.

    About 1 - (1 - 1/n)^n ~ 63.2% of the examples appear in each resample; the rest are "out of bag".
    """
    n, n_models = check_positive_int(n, "n"), check_positive_int(n_models, "n_models")
    return _rng(seed).integers(0, n, size=(n_models, n))


def majority_vote(predictions) -> np.ndarray:
    """The most frequent label per column of predictions (M models, N examples); ties go to the smaller label."""
    predictions = as_int_array(predictions, "predictions", ndim=2)
    if predictions.shape[0] == 0 or (predictions.size and predictions.min() < 0):
        raise ValueError(f"predictions must be (M >= 1, N) non-negative labels, got shape {predictions.shape}")
    n_classes = int(predictions.max()) + 1 if predictions.size else 1
    counts = np.zeros((n_classes, predictions.shape[1]), dtype=int)
    for row in predictions:
        counts[row, np.arange(predictions.shape[1])] += 1
    return counts.argmax(axis=0)
