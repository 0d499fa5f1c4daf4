"""Exercises of ``solutions/07_metric_learning.ipynb``: the contrastive loss (y = 0 for a same pair), the
triplet loss, recall@k from a distance matrix, the verification AUC as a rank statistic (not printed in
the chapter) and the batch-hard triplet loss of a batch, easiest first.

Hidden cases are built so that each slip shows: the pairs of the contrastive loss mix both labels and
distances on both sides of the margin (a flipped label convention, a missing square or a missing 1/2
cannot pass); every triplet batch holds satisfied and violated triplets; recall distance matrices are
permutations of distinct integers (the order of neighbours is exact, no tie decides a result); AUC
distances are small integers, so ties are frequent and counting them as 1/2 matters, exactly; batch-hard
batches hold classes of one image (anchors without a positive, to be skipped) and every gap between
hardest positive and nearest negative is far from the margin's kink.
"""
from __future__ import annotations

import numpy as np

from ...metric_learning import contrastive_loss as _contrastive
from ...metric_learning import recall_at_k as _recall
from ...metric_learning import triplet_loss as _triplet
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.metric_learning)


def contrastive_loss(d, y, margin):
    """Mean over pairs of (1 - y)/2 d^2 + y/2 max(0, m - d)^2, with y = 0 for a same pair."""
    return _contrastive(d, y, margin, power=2)


def triplet_loss(anchor, positive, negative, margin):
    """Mean over rows of max(0, m + ||a - p|| - ||a - n||)."""
    return _triplet(anchor, positive, negative, margin)


def recall_at_k(D, query_labels, gallery_labels, k):
    """Fraction of queries (rows of D) with an item of their class among their k nearest gallery items."""
    return _recall(D, query_labels, gallery_labels, k)


def verification_auc(d_same, d_diff):
    """P(d_same < d_diff) over all (same, different) combinations, ties counted 1/2."""
    s, t = np.asarray(d_same, dtype=float), np.asarray(d_diff, dtype=float)
    closer = np.sum(s[:, None] < t[None, :]) + 0.5 * np.sum(s[:, None] == t[None, :])
    return float(closer / (len(s) * len(t)))


def batch_hard_loss(D, labels, margin):
    """Mean over anchors with a positive and a negative of max(0, m + max_pos D - min_neg D)."""
    return _batch_hard_terms(D, labels, margin)


# ---------------------------------------------------------------- wrong versions

def _batch_hard_terms(D, labels, margin, self_positive=False, nearest_positive=False, farthest_negative=False,
                      over_all=False, hinge=True):
    D, labels = np.asarray(D, dtype=float), np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    positive = same if self_positive else same & ~np.eye(len(D), dtype=bool)
    negative = ~same
    valid = positive.any(1) & negative.any(1)
    if nearest_positive:
        d_ap = np.where(positive, D, np.inf).min(1)
    else:
        d_ap = np.where(positive, D, -np.inf).max(1)
    d_an = np.where(negative, D, -np.inf).max(1) if farthest_negative else np.where(negative, D, np.inf).min(1)
    value = margin + d_ap[valid] - d_an[valid]
    losses = np.maximum(0.0, value) if hinge else value
    return float(losses.sum() / (len(D) if over_all else len(losses)))


def _contrastive_terms(d, y, margin, same_is_one=False, power=2, half=True, hinge_sign=1):
    d, y = np.asarray(d, dtype=float), np.asarray(y, dtype=float)
    if same_is_one:
        y = 1 - y
    hinge = np.maximum(0.0, hinge_sign * (margin - d))
    losses = (1 - y) * d ** power + y * hinge ** power
    return float(np.mean(losses / 2 if half else losses))


def _triplet_terms(anchor, positive, negative, margin, reversed_sign=False, squared=False, hinge=True,
                   total=False):
    a, p, n = (np.asarray(x, dtype=float) for x in (anchor, positive, negative))
    d_ap, d_an = ((a - p) ** 2).sum(1), ((a - n) ** 2).sum(1)
    if not squared:
        d_ap, d_an = np.sqrt(d_ap), np.sqrt(d_an)
    value = margin + (d_an - d_ap if reversed_sign else d_ap - d_an)
    losses = np.maximum(0.0, value) if hinge else value
    return float(losses.sum() if total else losses.mean())


def _neighbour_labels(D, gallery_labels, k, farthest=False):
    order = np.argsort(np.asarray(D, dtype=float), axis=1, kind="stable")
    order = order[:, ::-1] if farthest else order
    return np.asarray(gallery_labels)[order[:, :k]]


def _recall_kth_only(D, query_labels, gallery_labels, k):
    return float(np.mean(_neighbour_labels(D, gallery_labels, k)[:, -1] == np.asarray(query_labels)))


def _recall_all_k(D, query_labels, gallery_labels, k):
    return float(np.mean((_neighbour_labels(D, gallery_labels, k) == np.asarray(query_labels)[:, None]).all(1)))


def _precision_at_k(D, query_labels, gallery_labels, k):
    return float(np.mean(_neighbour_labels(D, gallery_labels, k) == np.asarray(query_labels)[:, None]))


def _recall_farthest(D, query_labels, gallery_labels, k):
    hits = _neighbour_labels(D, gallery_labels, k, farthest=True) == np.asarray(query_labels)[:, None]
    return float(np.mean(hits.any(1)))


def _recall_k_plus_one(D, query_labels, gallery_labels, k):
    hits = _neighbour_labels(D, gallery_labels, k + 1) == np.asarray(query_labels)[:, None]
    return float(np.mean(hits.any(1)))


def _auc_terms(d_same, d_diff, ties=0.5, reverse=False):
    s, t = np.asarray(d_same, dtype=float), np.asarray(d_diff, dtype=float)
    less = s[:, None] > t[None, :] if reverse else s[:, None] < t[None, :]
    return float((np.sum(less) + ties * np.sum(s[:, None] == t[None, :])) / (len(s) * len(t)))


# ---------------------------------------------------------------- hidden cases

def _contrastive_hidden(rng):
    cases = []
    for _ in range(10):
        n = int(rng.integers(4, 30))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        margin = float(rng.choice([0.5, 1.0, 1.5, 2.0]))
        cases.append({"d": rng.uniform(0, 1.5 * margin, n), "y": y, "margin": margin})
    return cases


def _triplet_hidden(rng):
    cases = []
    for _ in range(10):
        n, dim = int(rng.integers(3, 20)), int(rng.integers(2, 6))
        a = rng.normal(size=(n, dim))
        p = a + 0.5 * rng.normal(size=(n, dim))
        q = a + rng.choice([0.3, 2.0], size=(n, 1)) * rng.normal(size=(n, dim))  # some satisfied, some not
        cases.append({"anchor": a, "positive": p, "negative": q, "margin": float(rng.choice([0.2, 0.5, 1.0]))})
    return cases


def _recall_hidden(rng):
    cases = []
    for _ in range(10):
        q, g = int(rng.integers(3, 12)), int(rng.integers(4, 15))
        D = rng.permutation(q * g).reshape(q, g).astype(float) / 4  # distinct distances
        cases.append({"D": D, "query_labels": rng.integers(0, 3, q), "gallery_labels": rng.integers(0, 3, g),
                      "k": int(rng.integers(2, min(g, 6)))})
    return cases


def _auc_hidden(rng):
    cases = []
    for i in range(10):
        n_same = int(rng.integers(2, 15))
        n_diff = n_same if i % 3 == 0 else int(rng.integers(2, 15))
        cases.append({"d_same": rng.integers(0, 6, n_same).astype(float),
                      "d_diff": rng.integers(2, 9, n_diff).astype(float)})
    return cases


def _batch_hard_hidden(rng):
    cases = []
    for _ in range(10):
        sizes = list(rng.integers(2, 5, int(rng.integers(2, 4)))) + [1]  # the last class: one image
        labels = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
        Z = rng.normal(size=(len(labels), 2)) + 1.5 * labels[:, None]
        D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
        cases.append({"D": D, "labels": labels, "margin": float(rng.choice([0.5, 1.0, 2.0]))})
    return cases


# ---------------------------------------------------------------- the registry

_D_PUBLIC = np.array([[0.2, 0.9, 0.4, 0.7, 0.5], [0.5, 0.1, 0.8, 0.3, 0.6], [0.6, 0.2, 0.9, 0.1, 0.4]])
_G_PUBLIC = np.array([1, 1, 1, 0, 0])
_BH_D = np.array([[0.0, 0.3, 0.9, 1.2, 2.0],
                  [0.3, 0.0, 0.5, 1.1, 1.8],
                  [0.9, 0.5, 0.0, 0.4, 1.6],
                  [1.2, 1.1, 0.4, 0.0, 0.7],
                  [2.0, 1.8, 1.6, 0.7, 0.0]])
_BH_LABELS = np.array([0, 0, 1, 1, 2])
_A = np.zeros((2, 2))
_P = np.array([[0.1, 0.0], [2.0, 0.0]])
_N = np.array([[2.0, 0.0], [0.1, 0.0]])

EXERCISES = [
    Exercise(
        id="07_metric_learning.contrastive_loss",
        reference=contrastive_loss,
        public_cases=[
            Case({"d": np.array([0.0, 0.5, 0.0, 0.4, 1.5]), "y": np.array([0, 0, 1, 1, 1]), "margin": 1.0},
                 "the chapter's convention: y = 0 same, y = 1 different", (0.161,)),
            Case({"d": np.array([0.0]), "y": np.array([1]), "margin": 2.0},
                 "a different pair at distance 0 costs m^2 / 2", (2.0,)),
            Case({"d": np.array([0.3, 1.2, 2.5]), "y": np.array([0, 1, 1]), "margin": 2.0}, "three pairs"),
        ],
        hidden_cases=_contrastive_hidden,
        output_names=("loss",),
        description="Mean contrastive loss (1 - y)/2 d^2 + y/2 max(0, m - d)^2 with y = 0 for a same pair.",
        mistakes=[
            Mistake("The convention is y = 0 for a SAME pair and y = 1 for a DIFFERENT pair: your loss pulls "
                    "different pairs together.", lambda d, y, margin: _contrastive_terms(d, y, margin, True)),
            Mistake("Square both terms: d^2 for same pairs and max(0, m - d)^2 for different ones (power p = 2).",
                    lambda d, y, margin: _contrastive_terms(d, y, margin, power=1)),
            Mistake("Keep the factors 1/2 in front of both terms.",
                    lambda d, y, margin: _contrastive_terms(d, y, margin, half=False)),
            Mistake("A different pair costs while it is CLOSER than the margin: max(0, m - d), not max(0, d - m).",
                    lambda d, y, margin: _contrastive_terms(d, y, margin, hinge_sign=-1)),
            Mistake("Return the mean over the pairs, not the sum.",
                    lambda d, y, margin: _contrastive_terms(d, y, margin) * len(np.asarray(d))),
        ],
    ),
    Exercise(
        id="07_metric_learning.triplet_loss",
        reference=triplet_loss,
        public_cases=[
            Case({"anchor": _A[:1], "positive": _P[:1], "negative": _N[:1], "margin": 0.5},
                 "positive near, negative far: satisfied", (0.0,)),
            Case({"anchor": _A[1:], "positive": _P[1:], "negative": _N[1:], "margin": 0.5},
                 "positive far, negative near: 0.5 + 2.0 - 0.1", (2.4,)),
            Case({"anchor": _A, "positive": _P, "negative": _N, "margin": 0.5}, "both rows: the mean", (1.2,)),
        ],
        hidden_cases=_triplet_hidden,
        output_names=("loss",),
        description="Mean triplet loss max(0, m + ||a - p|| - ||a - n||) over the rows.",
        mistakes=[
            Mistake("The sign is reversed: the loss must grow with d(a, p) and fall with d(a, n), "
                    "max(0, m + d(a, p) - d(a, n)).",
                    lambda anchor, positive, negative, margin: _triplet_terms(anchor, positive, negative, margin,
                                                                              reversed_sign=True)),
            Mistake("Use Euclidean distances ||a - p||_2 (take the square root), not squared distances.",
                    lambda anchor, positive, negative, margin: _triplet_terms(anchor, positive, negative, margin,
                                                                              squared=True)),
            Mistake("Clip at zero: max(0, ...), so satisfied triplets cost nothing.",
                    lambda anchor, positive, negative, margin: _triplet_terms(anchor, positive, negative, margin,
                                                                              hinge=False)),
            Mistake("Return the mean over the triplets, not the sum.",
                    lambda anchor, positive, negative, margin: _triplet_terms(anchor, positive, negative, margin,
                                                                              total=True)),
        ],
    ),
    Exercise(
        id="07_metric_learning.recall_at_k",
        reference=recall_at_k,
        public_cases=[
            Case({"D": _D_PUBLIC, "query_labels": np.array([0, 0, 0]), "gallery_labels": _G_PUBLIC, "k": 1},
                 "recall@1: only the third query's nearest item is of its class", (1 / 3,)),
            Case({"D": _D_PUBLIC, "query_labels": np.array([0, 1, 1]), "gallery_labels": _G_PUBLIC, "k": 2},
                 "recall@2", (2 / 3,)),
            Case({"D": _D_PUBLIC, "query_labels": np.array([1, 1, 1]), "gallery_labels": _G_PUBLIC, "k": 3},
                 "recall@3", (1.0,)),
        ],
        hidden_cases=_recall_hidden,
        output_names=("recall",),
        description="Fraction of queries with at least one item of their class among their k nearest.",
        mistakes=[
            Mistake("A query counts as a hit if ANY of its k nearest items has its class, not only the k-th.",
                    _recall_kth_only),
            Mistake("One item of the right class among the k nearest is enough: do not require all k.",
                    _recall_all_k),
            Mistake("That is precision@k (the fraction of correct items among the k); recall@k asks whether "
                    "at least one is correct.", _precision_at_k),
            Mistake("Sort the distances in increasing order: the nearest items have the SMALLEST distances.",
                    _recall_farthest),
            Mistake("Take exactly k neighbours (np.argsort(D, axis=1)[:, :k]), not k + 1.", _recall_k_plus_one),
        ],
    ),
    Exercise(
        id="07_metric_learning.verification_auc",
        reference=verification_auc,
        public_cases=[
            Case({"d_same": np.array([0.1, 0.4]), "d_diff": np.array([0.3, 0.5, 0.9])},
                 "5 of the 6 combinations have the same pair closer", (5 / 6,)),
            Case({"d_same": np.array([1.0, 2.0]), "d_diff": np.array([2.0, 3.0])}, "a tie counts 1/2",
                 (0.875,)),
            Case({"d_same": np.array([0.0, 1.0, 1.0, 3.0]), "d_diff": np.array([1.0, 2.0, 3.0, 4.0])},
                 "same lengths, several ties"),
        ],
        hidden_cases=_auc_hidden,
        output_names=("auc",),
        description="AUC of verification: P(d_same < d_diff) over all combinations, ties 1/2.",
        mistakes=[
            Mistake("A tie (d_same == d_diff) counts 1/2, not 0.", lambda d_same, d_diff: _auc_terms(d_same, d_diff, 0.0)),
            Mistake("A tie (d_same == d_diff) counts 1/2, not 1.", lambda d_same, d_diff: _auc_terms(d_same, d_diff, 1.0)),
            Mistake("A good embedding puts same pairs CLOSER: count d_same < d_diff, not d_same > d_diff.",
                    lambda d_same, d_diff: _auc_terms(d_same, d_diff, reverse=True)),
            Mistake("Compare every same pair with every different pair (all n_same x n_diff combinations), "
                    "not the i-th with the i-th.",
                    lambda d_same, d_diff: float(np.mean(np.asarray(d_same) < np.asarray(d_diff))
                                                 + 0.5 * np.mean(np.asarray(d_same) == np.asarray(d_diff)))),
        ],
    ),
    Exercise(
        id="07_metric_learning.batch_hard_loss",
        reference=batch_hard_loss,
        public_cases=[
            Case({"D": _BH_D, "labels": _BH_LABELS, "margin": 0.5},
                 "anchors 0-3 have a positive; anchor 4 (alone in its class) is skipped", (0.225,)),
            Case({"D": _BH_D, "labels": np.array([0, 0, 0, 1, 2]), "margin": 1.0}, "two images alone in their class"),
            Case({"D": _BH_D, "labels": np.array([0, 1, 0, 1, 0]), "margin": 1.0}, "interleaved classes"),
        ],
        hidden_cases=_batch_hard_hidden,
        output_names=("loss",),
        description="Batch-hard triplet loss: per anchor, farthest positive and nearest negative; mean over anchors.",
        mistakes=[
            Mistake("An anchor is not its own positive: skip anchors with no OTHER item of their class.",
                    lambda D, labels, margin: _batch_hard_terms(D, labels, margin, self_positive=True)),
            Mistake("The hardest positive is the FARTHEST one (largest distance), not the nearest.",
                    lambda D, labels, margin: _batch_hard_terms(D, labels, margin, nearest_positive=True)),
            Mistake("The hardest negative is the NEAREST one (smallest distance), not the farthest.",
                    lambda D, labels, margin: _batch_hard_terms(D, labels, margin, farthest_negative=True)),
            Mistake("Average over the anchors that have a positive and a negative, not over all N anchors.",
                    lambda D, labels, margin: _batch_hard_terms(D, labels, margin, over_all=True)),
            Mistake("Clip each anchor's loss at zero: max(0, m + d_ap - d_an).",
                    lambda D, labels, margin: _batch_hard_terms(D, labels, margin, hinge=False)),
        ],
    ),
]
