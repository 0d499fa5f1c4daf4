"""Splits, early stopping, penalties, dropout, augmentation and bagging against independent references."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch
from sklearn.model_selection import KFold

from dlcourse import regularization as reg


def test_three_way_split_is_disjoint_complete_and_stratified():
    y = np.repeat(np.arange(4), [40, 80, 120, 160])
    train, val, test = reg.train_val_test_split(y, 100, 50, seed=3)
    assert (len(train), len(val), len(test)) == (250, 100, 50)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(400))
    np.testing.assert_array_equal(np.bincount(y[val]), [10, 20, 30, 40])
    np.testing.assert_array_equal(np.bincount(y[test]), [5, 10, 15, 20])


def test_kfold_folds_have_sklearns_sizes_and_cover_everything_once():
    n, k = 23, 5
    folds = reg.kfold_indices(n, k, seed=1)
    sizes = [len(val) for _, val in folds]
    assert sizes == [len(v) for _, v in KFold(k).split(np.zeros(n))]
    assert np.array_equal(np.sort(np.concatenate([v for _, v in folds])), np.arange(n))
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == n


@pytest.mark.parametrize("losses, patience, min_delta, expected", [
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9], 3, 0.0, (2, 5)),  # three epochs without a new best after 2
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9], 4, 0.0, (2, 6)),  # runs to the end
    ([1.0, 0.9, 0.8, 0.7], 1, 0.0, (3, 3)),  # always improving
    ([0.5, 0.6, 0.7], 1, 0.0, (0, 1)),  # stops right after the first epoch
    ([1.0, 0.97, 0.95, 0.93], 2, 0.06, (0, 2)),  # improvements smaller than min_delta do not count
    ([1.0, 1.0, 1.0], 2, 0.0, (0, 2)),  # a tie is not an improvement
    ([0.3], 5, 0.0, (0, 0)),
])
def test_early_stopping_index_on_hand_made_curves(losses, patience, min_delta, expected):
    assert reg.early_stopping_index(losses, patience, min_delta) == expected


def test_l2_and_l1_gradients_match_autograd():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 2)), np.array([0.0, -1.5, 2.0])]
    tensors = [torch.tensor(w, requires_grad=True) for w in weights]
    (0.5 * 0.3 * sum((t ** 2).sum() for t in tensors)).backward()
    value, grads = reg.l2_penalty(weights, 0.3)
    assert value == pytest.approx(0.15 * sum(float((w ** 2).sum()) for w in weights), rel=1e-12)
    for g, t in zip(grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
    tensors = [torch.tensor(w, requires_grad=True) for w in weights]
    (0.2 * sum(t.abs().sum() for t in tensors)).backward()
    value, grads = reg.l1_penalty(weights, 0.2)
    for g, t in zip(grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)  # torch's subgradient at 0 is 0 too


def test_map_with_a_gaussian_prior_is_ridge_with_the_implied_lambda():
    rng = np.random.default_rng(1)
    n, d, noise_var, prior_var = 40, 3, 0.25, 2.0
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + np.sqrt(noise_var) * rng.normal(size=n)
    posterior_mean = np.linalg.solve(X.T @ X / noise_var + np.eye(d) / prior_var, X.T @ y / noise_var)
    lam = reg.l2_strength_from_prior(noise_var, prior_var, n)
    ridge = np.linalg.solve(X.T @ X / n + lam * np.eye(d), X.T @ y / n)  # grad of mean loss + lam/2 |w|^2 = 0
    np.testing.assert_allclose(ridge, posterior_mean, rtol=1e-10)


def test_inverted_dropout_matches_torch_given_torchs_mask():
    torch.manual_seed(0)
    x = torch.rand(50, 20, dtype=torch.float64) + 0.5  # no zeros, so torch's mask is out != 0
    out = torch.nn.functional.dropout(x, p=0.3, training=True)  # p: the DROP probability
    mask = (out != 0).numpy()
    y, m = reg.inverted_dropout(x.numpy(), keep_prob=0.7, mask=mask)
    np.testing.assert_allclose(y, out.numpy(), rtol=1e-12)
    assert m.dtype == float and set(np.unique(m)) == {0.0, 1.0}


def test_inverted_dropout_keeps_the_expectation_and_the_keep_rate():
    x = np.full((400, 500), 2.0)
    y, m = reg.inverted_dropout(x, keep_prob=0.8, seed=4)
    assert abs(m.mean() - 0.8) < 0.005 and abs(y.mean() - 2.0) < 0.01
    assert set(np.unique(y)) == {0.0, 2.5}
    np.testing.assert_array_equal(reg.inverted_dropout(x[:3], 0.8, seed=9)[1], reg.dropout_mask((3, 500), 0.8, 9))


def test_random_shifts_are_the_integer_shifts_scipy_makes():
    rng = np.random.default_rng(2)
    images = rng.random((6, 9, 11))
    offsets = np.random.default_rng(5).integers(-3, 4, size=(6, 2))
    out = reg.random_shifts(images, max_shift=3, seed=5)
    for img, shifted, off in zip(images, out, offsets):
        np.testing.assert_array_equal(shifted, scipy.ndimage.shift(img, off, order=0, cval=0.0))
    np.testing.assert_array_equal(reg.random_shifts(images, 0), images)


def test_bootstrap_keeps_about_63_percent_and_majority_vote_matches_scipy_mode():
    idx = reg.bootstrap_indices(2000, 5, seed=0)
    fractions = [len(np.unique(row)) / 2000 for row in idx]
    assert all(abs(f - (1 - 1 / np.e)) < 0.02 for f in fractions)
    votes = np.random.default_rng(3).integers(0, 4, size=(7, 300))
    np.testing.assert_array_equal(reg.majority_vote(votes), scipy.stats.mode(votes, axis=0).mode)


BAD = [
    (lambda: reg.train_val_test_split(np.arange(10), 5, 5), "n_val \\+ n_test"),
    (lambda: reg.train_val_test_split(np.array([0.5, 1.0]), 1, 1), "integers"),
    (lambda: reg.kfold_indices(3, 5), "at most n"),
    (lambda: reg.kfold_indices(10, 1), "k must"),
    (lambda: reg.kfold_indices(10, True), "k must"),
    (lambda: reg.early_stopping_index([], 2), "empty"),
    (lambda: reg.early_stopping_index([1.0, np.nan], 2), "finite"),
    (lambda: reg.early_stopping_index([1.0, 0.5], 0), "patience"),
    (lambda: reg.early_stopping_index([[1.0, 0.5]], 1), "1-dimensional"),
    (lambda: reg.early_stopping_index([1.0, 0.5], 2.0), "patience"),
    (lambda: reg.l2_penalty(np.zeros(3), 0.1), "list or tuple"),
    (lambda: reg.l2_penalty([np.zeros(3)], -0.1), "lam"),
    (lambda: reg.l1_penalty([np.array([True])], 0.1), "dtype bool"),
    (lambda: reg.l2_strength_from_prior(1.0, 0.0, 10), "prior_var"),
    (lambda: reg.inverted_dropout(np.ones(3), 0.0), "keep_prob"),
    (lambda: reg.inverted_dropout(np.ones(3), 1.5), "keep_prob"),
    (lambda: reg.inverted_dropout(np.ones(3), 0.5, mask=np.ones(4)), "mask"),
    (lambda: reg.inverted_dropout(np.ones(3), 0.5, mask=np.array([0.5, 1, 1])), "mask"),
    (lambda: reg.inverted_dropout(np.array([np.nan]), 0.5), "finite"),
    (lambda: reg.dropout_mask((2, -1), 0.5), "shape"),
    (lambda: reg.random_shifts(np.zeros((3, 4)), 1), "3-dimensional"),
    (lambda: reg.random_shifts(np.zeros((1, 3, 4)), -1), "max_shift"),
    (lambda: reg.bootstrap_indices(0, 3), "n must"),
    (lambda: reg.majority_vote(np.zeros((0, 3), dtype=int)), "M >= 1"),
    (lambda: reg.majority_vote(np.array([[0.5, 1.0]])), "integers"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
