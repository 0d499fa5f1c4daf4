"""Property-based tests of chapter 7's from-scratch functions: any shape, memory layout, dtype and scale
gives the brute-force (or torch) answer; NaN is refused; empty and batch-of-one inputs work."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from dlcourse import metric_learning as ml
from layouts import relayout

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided", "reversed", "list"])
DTYPES = st.sampled_from([np.float64, np.float32, np.int64])
SCALES = st.sampled_from([1e-3, 1.0, 1e3])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 6), m=st.integers(1, 5), dim=st.integers(1, 4), layout=LAYOUTS, dtype=DTYPES,
       scale=SCALES, seed=st.integers(0, 2**16))
def test_pairwise_distances_match_brute_force_for_any_layout_dtype_and_scale(n, m, dim, layout, dtype, scale,
                                                                             seed):
    rng = np.random.default_rng(seed)
    A = (rng.normal(size=(n, dim)) * scale).astype(dtype)
    B = (rng.normal(size=(m, dim)) * scale).astype(dtype)
    expected = np.sqrt(((A.astype(float)[:, None] - B.astype(float)[None]) ** 2).sum(-1)).reshape(n, m)
    got = ml.pairwise_distances(relayout(A, layout), relayout(B, layout))
    tol = 1e-6 * scale * (1e3 if dtype == np.float32 else 1)
    np.testing.assert_allclose(got, expected, atol=tol, rtol=1e-6)
    twin = ml.pairwise_distances_torch(relayout(A, layout), relayout(B, layout)).numpy()
    np.testing.assert_allclose(twin, got, atol=tol, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), dim=st.integers(1, 4), margin=st.floats(0.01, 3.0), layout=LAYOUTS,
       seed=st.integers(0, 2**16))
def test_triplet_and_contrastive_twins_agree_with_torch_in_any_layout(n, dim, margin, layout, seed):
    rng = np.random.default_rng(seed)
    a, p, q = (rng.normal(size=(n, dim)) for _ in range(3))
    expected = torch.nn.functional.triplet_margin_loss(*(torch.tensor(x) for x in (a, p, q)), margin=margin,
                                                       eps=0.0).item()
    got = ml.triplet_loss(relayout(a, layout), relayout(p, layout), relayout(q, layout), margin)
    assert got == pytest.approx(expected, abs=1e-12)
    assert ml.triplet_loss_torch(a, p, q, margin).item() == pytest.approx(expected, abs=1e-12)
    d, y = ml.paired_distances(a, p), rng.integers(0, 2, n)
    assert ml.contrastive_loss_torch(d, y, margin).item() == pytest.approx(
        ml.contrastive_loss(relayout(d, layout), relayout(y, layout), margin), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), levels=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_auc_equals_the_rank_statistic_and_sklearn_with_ties(n, levels, seed):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, levels, n).astype(float)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    same, diff = d[y == 0], d[y == 1]
    rank = (np.sum(same[:, None] < diff) + 0.5 * np.sum(same[:, None] == diff)) / (len(same) * len(diff))
    assert ml.roc_auc(d, y) == pytest.approx(rank, abs=1e-12)
    assert ml.roc_auc(d, y) == pytest.approx(roc_auc_score(y == 0, -d), abs=1e-12)
    fpr, tpr, _ = ml.roc_curve(d, y)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


@settings(max_examples=30, deadline=None)
@given(q=st.integers(1, 8), g=st.integers(1, 10), k=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_recall_at_k_is_monotone_and_one_nn_recall_is_knn_accuracy(q, g, k, seed):
    rng = np.random.default_rng(seed)
    k = min(k, g)
    D = rng.permutation(q * g).reshape(q, g).astype(float)  # distinct distances
    yq, yg = rng.integers(0, 3, q), rng.integers(0, 3, g)
    assert ml.recall_at_k(D, yq, yg, 1) == pytest.approx(np.mean(ml.knn_classify(D, yg, 1) == yq))
    if k < g:
        assert ml.recall_at_k(D, yq, yg, k) <= ml.recall_at_k(D, yq, yg, k + 1)


@pytest.mark.parametrize("fn", [ml.pairwise_distances, ml.pairwise_distances_torch])
def test_empty_and_one_row_inputs(fn):
    assert np.asarray(fn(np.zeros((0, 3)), np.ones((2, 3)))).shape == (0, 2)
    np.testing.assert_allclose(np.asarray(fn(np.ones((1, 3)))), [[0.0]])
    assert ml.contrastive_loss(np.zeros(0), np.zeros(0, int), reduction="sum") == 0.0
    with pytest.raises(ValueError, match="at least one"):
        ml.triplet_loss(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)))
    a, p, n = ml.batch_hard_triplets(np.zeros((1, 1)), [0])
    assert len(a) == len(p) == len(n) == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_embeddings_are_refused_by_both_twins(bad):
    Z = np.ones((3, 2))
    Z[1, 1] = bad
    for fn in (ml.pairwise_distances, ml.pairwise_distances_torch, ml.batch_hard_triplet_loss,
               ml.batch_hard_triplet_loss_torch):
        with pytest.raises(ValueError, match="finite"):
            fn(Z) if "batch" not in fn.__name__ else fn(Z, [0, 0, 1])
