"""Chapter 7: metric learning from scratch: distances, the contrastive and triplet losses, mining,
verification (ROC, AUC), identification and recall@k.

Conventions used throughout (those of Didoni 2022, ch. 10):

* an embedding is a row vector f(I) of length D; a batch is (N, D); distances are Euclidean,
  d(a, b) = ||f(a) - f(b)||_2;
* a **pair label** y is 0 for a pair of the same class and 1 for a pair of different classes.
  Libraries that write y = 1 for "similar" (Keras examples, many tutorials) use y' = 1 - y;
* the retrieval functions take a distance matrix D (Q, G): row q holds the distances from query q
  to every gallery item; an entry of +inf marks an item a query may not retrieve (itself, say).

Each loss has a PyTorch twin (``*_torch``) that takes and rejects the same inputs and returns a
tensor, so autograd can train through it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .validation import (as_array, as_float_array, as_int_array, as_labels, check_bool, check_choice, check_int,
                         check_non_negative, check_same_shape)

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- inputs

def _embeddings(value: Any, name: str, width: int | None = None) -> np.ndarray:
    return as_float_array(value, name, shape=(None, width))


def _as_tensor(value: Any, name: str, width: int | None = None) -> torch.Tensor:
    """A float tensor of shape (N, width), validated like the NumPy twin; float tensors keep their graph."""
    checked = _embeddings(value, name, width)
    if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
        return value
    return torch.from_numpy(checked)


def _reduce(losses, reduction: str):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if len(losses) == 0:
        raise ValueError("reduction='mean' needs at least one pair or triplet, got none")
    return losses.mean()


def _pair_labels(y: Any, n: int) -> np.ndarray:
    """Pair labels (n,) in {0, 1}: 0 = same class, 1 = different classes."""
    return as_labels(y, "y (0 = same pair, 1 = different pair)", 2, n)


def _distances(value: Any, name: str = "distances", ndim: int = 1) -> np.ndarray:
    d = as_float_array(value, name, ndim=ndim)
    if d.size and d.min() < 0:
        raise ValueError(f"{name} must be >= 0 (Euclidean distances), got a minimum of {d.min():.4g}")
    return d


# ---------------------------------------------------------------- distances

def pairwise_distances(A, B=None, squared: bool = False) -> np.ndarray:
    """All Euclidean distances D[i, j] = ||A_i - B_j||_2 (or its square): (N, D), (M, D) -> (N, M).

    Uses ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b after subtracting the common mean (distances do not
    change, cancellation shrinks), clipped at 0. With ``B=None`` the distances within A, with an
    exact zero diagonal.
    """
    A = _embeddings(A, "A")
    same = B is None
    B = A if same else _embeddings(B, "B", A.shape[1])
    squared = check_bool(squared, "squared")
    both = np.concatenate([A, B])
    centre = both.mean(axis=0) if len(both) else np.zeros(A.shape[1])
    A0, B0 = A - centre, B - centre
    d2 = (A0 ** 2).sum(1)[:, None] + (B0 ** 2).sum(1)[None, :] - 2.0 * A0 @ B0.T  # (N, M)
    np.maximum(d2, 0.0, out=d2)
    if same:
        np.fill_diagonal(d2, 0.0)
    return d2 if squared else np.sqrt(d2)


def _safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    """sqrt with a zero (not an infinite) gradient at 0: a pair at distance 0 has no direction."""
    positive = d2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, torch.ones_like(d2))), torch.zeros_like(d2))


def pairwise_distances_torch(A, B=None, squared: bool = False) -> torch.Tensor:
    """PyTorch twin of :func:`pairwise_distances` (differentiable; gradient 0 where a distance is 0)."""
    A = _as_tensor(A, "A")
    same = B is None
    B = A if same else _as_tensor(B, "B", A.shape[1])
    squared = check_bool(squared, "squared")
    B = B.to(A.dtype)
    both = torch.cat([A, B])
    centre = both.mean(0).detach() if len(both) else torch.zeros(A.shape[1], dtype=A.dtype, device=A.device)
    A0, B0 = A - centre, B - centre
    d2 = ((A0 ** 2).sum(1)[:, None] + (B0 ** 2).sum(1)[None, :] - 2.0 * A0 @ B0.T).clamp_min(0.0)
    if same:
        d2 = d2 * (1 - torch.eye(len(A), dtype=A.dtype, device=A.device))
    return d2 if squared else _safe_sqrt(d2)


def paired_distances(A, B, squared: bool = False) -> np.ndarray:
    """Row-by-row distances d_i = ||A_i - B_i||_2 (or squared): (N, D), (N, D) -> (N,)."""
    A, B = _embeddings(A, "A"), _embeddings(B, "B")
    check_same_shape(A, B, "A", "B")
    d2 = ((A - B) ** 2).sum(1)
    return d2 if check_bool(squared, "squared") else np.sqrt(d2)


def paired_distances_torch(A, B, squared: bool = False) -> torch.Tensor:
    """PyTorch twin of :func:`paired_distances`."""
    paired_distances(A, B, squared)  # the same checks
    A, B = _as_tensor(A, "A"), _as_tensor(B, "B")
    d2 = ((A - B.to(A.dtype)) ** 2).sum(1)
    return d2 if squared else _safe_sqrt(d2)


# ---------------------------------------------------------------- losses

def _contrastive_checks(distances, y, margin, power, reduction):
    d = _distances(distances)
    return (d, _pair_labels(y, len(d)), check_non_negative(margin, "margin"),
            check_choice(power, "power", (1, 2)), check_choice(reduction, "reduction", REDUCTIONS))


def contrastive_loss(distances, y, margin: float = 1.0, power: int = 2, reduction: str = "mean"):
    """Contrastive loss of pairs at distances d (N,) with pair labels y (N,) (0 same, 1 different):

        L_i = (1 - y_i)/2 d_i^p + y_i/2 max(0, m - d_i)^p,

    ``power`` p = 2 is Hadsell, Chopra and LeCun (2006); p = 1 the unsquared form of Didoni (2022).
    Same pairs are pulled together; different pairs pushed apart until they are m away. A different
    pair at distance 0 costs m^p / 2. ``reduction``: "mean" (a float), "sum", or "none" (an (N,) array).
    """
    d, y, m, p, reduction = _contrastive_checks(distances, y, margin, power, reduction)
    losses = (1 - y) / 2 * d ** p + y / 2 * np.maximum(0.0, m - d) ** p
    out = _reduce(losses, reduction)
    return out if reduction == "none" else float(out)


def contrastive_loss_torch(distances, y, margin: float = 1.0, power: int = 2, reduction: str = "mean"):
    """PyTorch twin of :func:`contrastive_loss` (differentiable in ``distances``)."""
    _, y, m, p, reduction = _contrastive_checks(distances, y, margin, power, reduction)
    d = distances if isinstance(distances, torch.Tensor) and distances.is_floating_point() else \
        torch.from_numpy(_distances(distances))
    y = torch.from_numpy(y).to(d.dtype)
    losses = (1 - y) / 2 * d ** p + y / 2 * torch.clamp(m - d, min=0.0) ** p
    return _reduce(losses, reduction)


def _triplet_checks(anchor, positive, negative, margin, reduction):
    a = _embeddings(anchor, "anchor")
    for value, name in ((positive, "positive"), (negative, "negative")):
        check_same_shape(a, _embeddings(value, name), "anchor", name)
    return check_non_negative(margin, "margin"), check_choice(reduction, "reduction", REDUCTIONS)


def triplet_loss(anchor, positive, negative, margin: float = 1.0, reduction: str = "mean"):
    """Triplet loss L_i = max(0, m + d(a_i, p_i) - d(a_i, n_i)) of embeddings (N, D) each.

    Zero once every negative is at least m farther from its anchor than the positive is
    (Schroff et al. 2015; Euclidean, not squared, distances as in torch's triplet_margin_loss).
    """
    m, reduction = _triplet_checks(anchor, positive, negative, margin, reduction)
    losses = np.maximum(0.0, m + paired_distances(anchor, positive) - paired_distances(anchor, negative))
    out = _reduce(losses, reduction)
    return out if reduction == "none" else float(out)


def triplet_loss_torch(anchor, positive, negative, margin: float = 1.0, reduction: str = "mean"):
    """PyTorch twin of :func:`triplet_loss` (torch.nn.functional.triplet_margin_loss with eps=0)."""
    m, reduction = _triplet_checks(anchor, positive, negative, margin, reduction)
    d_ap, d_an = paired_distances_torch(anchor, positive), paired_distances_torch(anchor, negative)
    return _reduce(torch.clamp(m + d_ap - d_an, min=0.0), reduction)


# ---------------------------------------------------------------- mining

def _mining_inputs(D, labels):
    D = _distances(D, "D", ndim=2)
    if D.shape[0] != D.shape[1]:
        raise ValueError(f"D must be a square (N, N) distance matrix within one batch, got shape {D.shape}")
    labels = as_int_array(labels, "labels", shape=(len(D),))
    same = labels[:, None] == labels[None, :]
    return D, same & ~np.eye(len(D), dtype=bool), ~same


def batch_hard_triplets(D, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch-hard mining (Hermans et al. 2017): for each anchor i, its farthest positive and nearest negative.

    D: (N, N) distances within a batch, labels: (N,). Returns index arrays (anchors, positives,
    negatives) for the anchors that have a positive (another item of their class) and a negative.
    Ties go to the smallest index.
    """
    D, positive, negative = _mining_inputs(D, labels)
    anchors = np.flatnonzero(positive.any(1) & negative.any(1))
    hardest_pos = np.where(positive, D, -np.inf)[anchors].argmax(1)
    hardest_neg = np.where(negative, D, np.inf)[anchors].argmin(1)
    return anchors, hardest_pos, hardest_neg


def semi_hard_triplets(D, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semi-hard mining (Schroff et al. 2015): for each pair (a, p) of one class, a negative farther than p.

    For every ordered pair a != p of the same label, n is the nearest negative with d(a, n) > d(a, p)
    (it violates the margin if d(a, n) < d(a, p) + m); when no negative is that far, the farthest
    negative (the rule of TensorFlow Addons' TripletSemiHardLoss). Ties go to the smallest index.
    Returns (anchors, positives, negatives) index arrays; anchors without a negative are skipped.
    """
    D, positive, negative = _mining_inputs(D, labels)
    a, p = np.nonzero(positive & negative.any(1)[:, None])
    d_an = np.where(negative[a], D[a], np.nan)  # (pairs, N)
    farther = d_an > D[a, p][:, None]
    semi = np.where(farther, d_an, np.inf).argmin(1)
    easiest = np.where(negative[a], D[a], -np.inf).argmax(1)
    return a, p, np.where(farther.any(1), semi, easiest)


def batch_hard_triplet_loss(embeddings, labels, margin: float = 0.2) -> float:
    """Mean over anchors of max(0, m + max_p d(a, p) - min_n d(a, n)) within a batch (N, D), labels (N,)."""
    Z = _embeddings(embeddings, "embeddings")
    m = check_non_negative(margin, "margin")
    D = pairwise_distances(Z)
    a, p, n = batch_hard_triplets(D, labels)
    return float(_reduce(np.maximum(0.0, m + D[a, p] - D[a, n]), "mean"))


def batch_hard_triplet_loss_torch(embeddings, labels, margin: float = 0.2) -> torch.Tensor:
    """PyTorch twin of :func:`batch_hard_triplet_loss`: mining on the values, gradients through the distances."""
    Z = _as_tensor(embeddings, "embeddings")
    m = check_non_negative(margin, "margin")
    D = pairwise_distances_torch(Z)
    a, p, n = (torch.from_numpy(i).to(D.device) for i in batch_hard_triplets(D.detach().cpu().numpy(), labels))
    return _reduce(torch.clamp(m + D[a, p] - D[a, n], min=0.0), "mean")


# ---------------------------------------------------------------- verification

def roc_curve(distances, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of verification by threshold: a pair is declared "same" when its distance d <= tau.

    distances: (N,), y: (N,) pair labels (0 same, 1 different), both kinds present. For tau = -inf
    and then every distinct distance in increasing order, TPR(tau) = P(d <= tau | same) and
    FPR(tau) = P(d <= tau | different). Returns (fpr, tpr, thresholds), each of length U + 1.
    """
    d = _distances(distances)
    y = _pair_labels(y, len(d))
    if y.min(initial=1) != 0 or y.max(initial=0) != 1:
        raise ValueError("y must hold both same (0) and different (1) pairs for a ROC curve, "
                         f"got {int(np.sum(y == 0))} same and {int(np.sum(y == 1))} different")
    thresholds = np.unique(d)
    order = np.argsort(d, kind="stable")
    same_sorted = y[order] == 0
    last = np.searchsorted(d[order], thresholds, side="right")  # how many pairs have d <= tau
    tp, fp = np.cumsum(same_sorted)[last - 1], np.cumsum(~same_sorted)[last - 1]
    tpr = np.concatenate([[0.0], tp / same_sorted.sum()])
    fpr = np.concatenate([[0.0], fp / (~same_sorted).sum()])
    return fpr, tpr, np.concatenate([[-np.inf], thresholds])


def roc_auc(distances, y) -> float:
    """Area under the ROC curve (trapezoids): P(d_same < d_different), ties counted 1/2."""
    fpr, tpr, _ = roc_curve(distances, y)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def verification_accuracy(distances, y, threshold: float) -> float:
    """Fraction of pairs classified right when "same" means d <= threshold: (N,), (N,) -> float."""
    d = _distances(distances)
    y = _pair_labels(y, len(d))
    if len(d) == 0:
        raise ValueError("distances must not be empty")
    tau = float(as_float_array(threshold, "threshold", ndim=0, finite=False))
    if np.isnan(tau):
        raise ValueError("threshold must be a number, got nan")
    return float(np.mean((d <= tau) == (y == 0)))


def best_threshold(distances, y) -> float:
    """The threshold among the distances (or -inf) with the highest verification accuracy (smallest on ties)."""
    fpr, tpr, thresholds = roc_curve(distances, y)
    y = _pair_labels(y, len(np.ravel(distances)))
    n_same, n_diff = int(np.sum(y == 0)), int(np.sum(y == 1))
    correct = np.rint(tpr * n_same) + n_diff - np.rint(fpr * n_diff)  # counts: exact comparisons
    return float(thresholds[int(np.argmax(correct))])


# ---------------------------------------------------------------- identification and retrieval

def _retrieval_inputs(D, gallery_labels):
    D = as_array(D, "D", ndim=2, finite=False)
    if np.isnan(D).any() or (D.size and D.min() < 0) or np.isneginf(D).any():
        raise ValueError("D must hold distances >= 0 (+inf allowed, to exclude an item), "
                         "got NaN, -inf or negative entries")
    return D, as_int_array(gallery_labels, "gallery_labels", shape=(D.shape[1],))


def knn_classify(D, gallery_labels, k: int = 1) -> np.ndarray:
    """k-nearest-neighbour labels of Q queries from their distances D (Q, G) to a labelled gallery (G,).

    Majority vote of the k nearest (stable order: equal distances keep gallery order); a tied vote
    goes to the tied class whose member comes first among the k.
    """
    D, labels = _retrieval_inputs(D, gallery_labels)
    k = check_int(k, "k", minimum=1, maximum=max(D.shape[1], 1))
    nearest = labels[np.argsort(D, axis=1, kind="stable")[:, :k]]  # (Q, k)
    votes = (nearest[:, :, None] == nearest[:, None, :]).sum(2)   # votes of each neighbour's class
    return nearest[np.arange(len(D)), votes.argmax(1)]


def identify(D, gallery_labels, n_classes: int, threshold: float | None = None) -> np.ndarray:
    """Identification by templates: the class whose templates are nearest on average (Didoni 2022, 10.3.3):

        i_hat = argmin_u (1/|T_u|) sum_{T in T_u} d(I, T),

    D: (Q, G) distances from queries to the templates, gallery_labels: (G,) in 0..n_classes-1.
    With ``threshold`` gamma, a query whose best mean distance exceeds gamma is refused: -1.
    """
    D, labels = _retrieval_inputs(D, gallery_labels)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    labels = as_labels(labels, "gallery_labels", n_classes, D.shape[1])
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.zeros((len(D), n_classes))
    np.add.at(sums.T, labels, D.T)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)  # a class without templates: never
    best = means.argmin(1)
    if threshold is not None:
        gamma = check_non_negative(threshold, "threshold")
        best = np.where(means[np.arange(len(D)), best] <= gamma, best, -1)
    return best


def recall_at_k(D, query_labels, gallery_labels, k: int) -> float:
    """Recall@k: the fraction of queries with at least one item of their class among their k nearest.

    D: (Q, G) query-to-gallery distances (+inf excludes an item, e.g. the query itself when the
    gallery is the query set), query_labels: (Q,), gallery_labels: (G,). Equal distances keep gallery order.
    """
    D, labels = _retrieval_inputs(D, gallery_labels)
    queries = as_int_array(query_labels, "query_labels", shape=(D.shape[0],))
    if len(queries) == 0:
        raise ValueError("recall@k needs at least one query, got D of shape (0, G)")
    k = check_int(k, "k", minimum=1, maximum=max(D.shape[1], 1))
    nearest = np.argsort(D, axis=1, kind="stable")[:, :k]
    hit = (labels[nearest] == queries[:, None]) & np.isfinite(np.take_along_axis(D, nearest, 1))
    return float(np.mean(hit.any(1)))


def pca(X, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal components of X (N, F) by SVD: (projections (N, k), components (k, F), variance ratios (k,)).

    Each component's sign makes its largest-magnitude loading positive, so the result is reproducible.
    """
    X = as_float_array(X, "X", ndim=2)
    k = check_int(n_components, "n_components", minimum=1, maximum=max(min(X.shape), 1))
    if len(X) < 2:
        raise ValueError(f"X must have at least 2 rows for PCA, got shape {X.shape}")
    Xc = X - X.mean(0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    signs = np.sign(Vt[:k][np.arange(k), np.abs(Vt[:k]).argmax(1)])
    Vt = Vt[:k] * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(s ** 2))
    ratios = s[:k] ** 2 / total if total > 0 else np.zeros(k)
    return Xc @ Vt.T, Vt, ratios
