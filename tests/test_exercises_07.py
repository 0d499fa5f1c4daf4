"""Exercises of chapter 7: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with torch and scikit-learn, and the handout runs clean."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from dlcourse.grading import get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "07_metric_learning"
NAMES = ["contrastive_loss", "triplet_loss", "recall_at_k", "verification_auc", "batch_hard_loss"]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def contrastive_same_is_one(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return float(np.mean(y / 2 * d**2 + (1 - y) / 2 * np.maximum(0, margin - d) ** 2))


def contrastive_unsquared(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return float(np.mean((1 - y) / 2 * d + y / 2 * np.maximum(0, margin - d)))


def contrastive_without_halves(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return float(np.mean((1 - y) * d**2 + y * np.maximum(0, margin - d) ** 2))


def contrastive_hinge_reversed(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return float(np.mean((1 - y) / 2 * d**2 + y / 2 * np.maximum(0, d - margin) ** 2))


def contrastive_sum(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return float(np.sum((1 - y) / 2 * d**2 + y / 2 * np.maximum(0, margin - d) ** 2))


def contrastive_per_pair(d, y, margin):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return (1 - y) / 2 * d**2 + y / 2 * np.maximum(0, margin - d) ** 2  # an array, not the mean


def _dists(a, p, n):
    a, p, n = (np.asarray(x, float) for x in (a, p, n))
    return np.linalg.norm(a - p, axis=1), np.linalg.norm(a - n, axis=1)


def triplet_reversed_sign(anchor, positive, negative, margin):
    d_ap, d_an = _dists(anchor, positive, negative)
    return float(np.mean(np.maximum(0, margin + d_an - d_ap)))  # the sign of the lecture notes


def triplet_squared(anchor, positive, negative, margin):
    d_ap, d_an = _dists(anchor, positive, negative)
    return float(np.mean(np.maximum(0, margin + d_ap**2 - d_an**2)))


def triplet_without_hinge(anchor, positive, negative, margin):
    d_ap, d_an = _dists(anchor, positive, negative)
    return float(np.mean(margin + d_ap - d_an))


def triplet_sum(anchor, positive, negative, margin):
    d_ap, d_an = _dists(anchor, positive, negative)
    return float(np.sum(np.maximum(0, margin + d_ap - d_an)))


def triplet_l1(anchor, positive, negative, margin):
    a, p, n = (np.asarray(x, float) for x in (anchor, positive, negative))
    return float(np.mean(np.maximum(0, margin + np.abs(a - p).sum(1) - np.abs(a - n).sum(1))))


def _nearest(D, gallery_labels, k):
    return np.asarray(gallery_labels)[np.argsort(np.asarray(D, float), axis=1)[:, :k]]


def recall_kth_only(D, query_labels, gallery_labels, k):
    return float(np.mean(_nearest(D, gallery_labels, k)[:, k - 1] == np.asarray(query_labels)))


def recall_all_k(D, query_labels, gallery_labels, k):
    return float(np.mean(np.all(_nearest(D, gallery_labels, k) == np.asarray(query_labels)[:, None], axis=1)))


def precision_at_k(D, query_labels, gallery_labels, k):
    return float(np.mean(_nearest(D, gallery_labels, k) == np.asarray(query_labels)[:, None]))


def recall_farthest(D, query_labels, gallery_labels, k):
    far = np.asarray(gallery_labels)[np.argsort(-np.asarray(D, float), axis=1)[:, :k]]
    return float(np.mean(np.any(far == np.asarray(query_labels)[:, None], axis=1)))


def recall_k_plus_one(D, query_labels, gallery_labels, k):
    return float(np.mean(np.any(_nearest(D, gallery_labels, k + 1) == np.asarray(query_labels)[:, None], 1)))


def recall_majority_vote(D, query_labels, gallery_labels, k):
    votes = _nearest(D, gallery_labels, k)
    winners = [np.bincount(row).argmax() for row in votes]
    return float(np.mean(np.array(winners) == np.asarray(query_labels)))


def recall_count(D, query_labels, gallery_labels, k):
    hits = np.any(_nearest(D, gallery_labels, k) == np.asarray(query_labels)[:, None], axis=1)
    return int(hits.sum())  # a count, not a fraction


def auc_ties_zero(d_same, d_diff):
    s, t = np.asarray(d_same, float), np.asarray(d_diff, float)
    return float(np.mean(s[:, None] < t[None, :]))


def auc_ties_one(d_same, d_diff):
    s, t = np.asarray(d_same, float), np.asarray(d_diff, float)
    return float(np.mean(s[:, None] <= t[None, :]))


def auc_reversed(d_same, d_diff):
    s, t = np.asarray(d_same, float), np.asarray(d_diff, float)
    return float(np.mean(s[:, None] > t[None, :]) + 0.5 * np.mean(s[:, None] == t[None, :]))


def auc_elementwise(d_same, d_diff):
    s, t = np.asarray(d_same, float), np.asarray(d_diff, float)
    return float(np.mean(s < t) + 0.5 * np.mean(s == t))


def auc_of_means(d_same, d_diff):
    return float(np.mean(d_same) < np.mean(d_diff))


def _masks(D, labels):
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    return np.asarray(D, float), same & ~np.eye(len(labels), dtype=bool), ~same


def batch_hard_self_positive(D, labels, margin):
    D, _, negative = _masks(D, labels)
    same = ~negative  # the diagonal left in: a lone anchor is its own positive at distance 0
    losses = [max(0.0, margin + D[i][same[i]].max() - D[i][negative[i]].min())
              for i in range(len(D)) if negative[i].any()]
    return float(np.mean(losses))


def batch_hard_nearest_positive(D, labels, margin):
    D, positive, negative = _masks(D, labels)
    losses = [max(0.0, margin + D[i][positive[i]].min() - D[i][negative[i]].min())
              for i in range(len(D)) if positive[i].any() and negative[i].any()]
    return float(np.mean(losses))


def batch_hard_farthest_negative(D, labels, margin):
    D, positive, negative = _masks(D, labels)
    losses = [max(0.0, margin + D[i][positive[i]].max() - D[i][negative[i]].max())
              for i in range(len(D)) if positive[i].any() and negative[i].any()]
    return float(np.mean(losses))


def batch_hard_mean_over_all(D, labels, margin):
    D, positive, negative = _masks(D, labels)
    losses = [max(0.0, margin + D[i][positive[i]].max() - D[i][negative[i]].min())
              for i in range(len(D)) if positive[i].any() and negative[i].any()]
    return float(np.sum(losses) / len(D))


def batch_hard_without_hinge(D, labels, margin):
    D, positive, negative = _masks(D, labels)
    losses = [margin + D[i][positive[i]].max() - D[i][negative[i]].min()
              for i in range(len(D)) if positive[i].any() and negative[i].any()]
    return float(np.mean(losses))


def batch_hard_all_triplets(D, labels, margin):
    D, positive, negative = _masks(D, labels)  # "batch all": every (p, n) of each anchor
    losses = [max(0.0, margin + D[i, j] - D[i, k]) for i in range(len(D))
              for j in np.flatnonzero(positive[i]) for k in np.flatnonzero(negative[i])]
    return float(np.mean(losses))


WRONG = {
    "contrastive_loss": [(contrastive_same_is_one, "y = 0 for a SAME pair"), (contrastive_unsquared, "Square both"),
                         (contrastive_without_halves, "factors 1/2"), (contrastive_hinge_reversed, "not max(0, d - m)"),
                         (contrastive_sum, "not the sum"), (contrastive_per_pair, None)],
    "triplet_loss": [(triplet_reversed_sign, "The sign is reversed"), (triplet_squared, "not squared distances"),
                     (triplet_without_hinge, "Clip at zero"), (triplet_sum, "not the sum"), (triplet_l1, None)],
    "recall_at_k": [(recall_kth_only, "not only the k-th"), (recall_all_k, "do not require all k"),
                    (precision_at_k, "precision@k"), (recall_farthest, "SMALLEST distances"),
                    (recall_k_plus_one, "not k + 1"), (recall_majority_vote, None), (recall_count, None)],
    "verification_auc": [(auc_ties_zero, "not 0."), (auc_ties_one, "not 1."), (auc_reversed, "not d_same > d_diff"),
                         (auc_elementwise, "not the i-th with the i-th"), (auc_of_means, None)],
    "batch_hard_loss": [(batch_hard_self_positive, "not its own positive"),
                        (batch_hard_nearest_positive, "FARTHEST one"), (batch_hard_farthest_negative, "NEAREST one"),
                        (batch_hard_mean_over_all, "not over all N anchors"), (batch_hard_without_hinge, "Clip each"),
                        (batch_hard_all_triplets, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the references against torch and sklearn

def test_triplet_reference_matches_torch_on_every_case():
    for case in all_inputs(_exercise("triplet_loss")):
        a, p, n = (torch.tensor(np.asarray(case[k], float)) for k in ("anchor", "positive", "negative"))
        expected = torch.nn.functional.triplet_margin_loss(a, p, n, margin=case["margin"], eps=0.0).item()
        assert _exercise("triplet_loss").reference(**case) == pytest.approx(expected, abs=1e-12)


def test_contrastive_reference_matches_a_hand_written_formula_in_the_other_convention():
    for case in all_inputs(_exercise("contrastive_loss")):
        d, similar = np.asarray(case["d"], float), 1 - np.asarray(case["y"])  # y' = 1 for similar pairs
        other = np.mean(similar * d**2 + (1 - similar) * np.maximum(0, case["margin"] - d) ** 2) / 2
        assert _exercise("contrastive_loss").reference(**case) == pytest.approx(other, rel=1e-12)


def test_auc_reference_matches_sklearn_and_hidden_cases_have_ties():
    ties = 0
    for case in all_inputs(_exercise("verification_auc")):
        s, t = np.asarray(case["d_same"], float), np.asarray(case["d_diff"], float)
        expected = roc_auc_score(np.r_[np.ones(len(s)), np.zeros(len(t))], -np.r_[s, t])
        assert _exercise("verification_auc").reference(**case) == pytest.approx(expected, abs=1e-12)
        ties += int(np.any(s[:, None] == t[None, :]))
    assert ties >= 10


def test_recall_hidden_distances_are_distinct_in_every_row():
    for case in all_inputs(_exercise("recall_at_k"))[3:]:
        D = np.asarray(case["D"])
        assert all(len(np.unique(row)) == len(row) for row in D)


def test_batch_hard_reference_matches_the_package_miner_on_every_case():
    from dlcourse import metric_learning as ml

    for case in all_inputs(_exercise("batch_hard_loss")):
        a, p, n = ml.batch_hard_triplets(case["D"], case["labels"])
        expected = np.mean(np.maximum(0, case["margin"] + case["D"][a, p] - case["D"][a, n]))
        assert _exercise("batch_hard_loss").reference(**case) == pytest.approx(expected, abs=1e-12)


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "recall@1: 1.000" in together and "triplet loss (anchor, next of its class, first of the other): 0.000" \
        in together
    assert "rank statistic 1.0000, trapezoids 1.0000" in together
    assert "batch-hard loss, margin 1: 0.000 (the package: 0.000)" in together
