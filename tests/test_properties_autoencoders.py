"""Property-based tests of chapter 8's from-scratch functions: any shape, memory layout and scale agrees
with an independent reference (scipy, torch.distributions, brute-force sums); NaN
is refused; batches of one and empty batches behave."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from dlcourse import autoencoders as ae
from dlcourse import boltzmann as bm
from dlcourse import vae
from layouts import relayout

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided", "reversed"])
SEEDS = st.integers(0, 2**16)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 6), k=st.integers(1, 4), layout=LAYOUTS,
       scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_gaussian_kl_matches_torch_for_any_shape_layout_and_scale(seed, n, k, layout, scale):
    rng = np.random.default_rng(seed)
    mu, logvar = scale * rng.normal(size=(n, k)), rng.uniform(-5, 5, size=(n, k))
    q = Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
    expected = kl_divergence(q, Normal(torch.zeros(n, k, dtype=torch.float64), 1.0)).sum(1).numpy()
    got = vae.gaussian_kl(relayout(mu, layout), relayout(logvar, layout))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert np.all(got >= -1e-12)


def test_gaussian_kl_of_an_empty_batch_and_nan():
    assert vae.gaussian_kl(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="finite"):
        vae.gaussian_kl(np.array([[np.nan]]), np.zeros((1, 1)))


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, h=st.integers(1, 8), rho=st.floats(0.01, 0.99), layout=LAYOUTS)
def test_sparsity_kl_is_non_negative_zero_at_rho_and_matches_torch(seed, h, rho, layout):
    rho_hat = np.random.default_rng(seed).uniform(0.001, 0.999, size=(2, h))[0]
    value = ae.sparsity_kl(rho, relayout(rho_hat[None], layout)[0] if layout != "transposed" else rho_hat)
    torch_value = ae.sparsity_kl_torch(rho, torch.tensor(rho_hat)).item()
    assert value >= -1e-12 and value == pytest.approx(torch_value, rel=1e-10, abs=1e-12)
    assert ae.sparsity_kl(rho, np.full(h, rho)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, d=st.integers(3, 10), k=st.integers(1, 3), layout=LAYOUTS)
def test_principal_angles_match_scipy_for_any_layout(seed, d, k, layout):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(d, k)), rng.normal(size=(d, k))
    expected = np.sort(scipy.linalg.subspace_angles(A, B))
    # scipy itself is accurate to about sqrt(machine eps) = 1.5e-8 for angles near 0
    np.testing.assert_allclose(ae.principal_angles(relayout(A, layout), B), expected, atol=5e-8)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 7), batch=st.integers(0, 4), layout=LAYOUTS)
def test_energy_matches_the_pair_sum_for_any_batch_and_layout(seed, n, batch, layout):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    W = np.triu(A, 1) + np.triu(A, 1).T
    b = rng.normal(size=n)
    X = (rng.random((batch, n)) < 0.5).astype(float)
    pairs = np.array([sum(W[i, j] * x[i] * x[j] for i in range(n) for j in range(i + 1, n)) for x in X])
    got = bm.energy(relayout(X, layout) if batch else X, relayout(W, layout), b)
    np.testing.assert_allclose(got, -X @ b - pairs, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, d=st.integers(1, 5), h=st.integers(1, 4), batch=st.integers(1, 3), layout=LAYOUTS)
def test_exact_gradient_is_the_finite_difference_of_the_log_likelihood(seed, d, h, batch, layout):
    rng = np.random.default_rng(seed)
    W, b, c = rng.normal(size=(d, h)), rng.normal(size=d), rng.normal(size=h)
    V = (rng.random((batch, d)) < 0.5).astype(float)
    dW, db, dc = bm.exact_gradient(relayout(V, layout), relayout(W, layout), b, c)
    i, j, eps = int(rng.integers(d)), int(rng.integers(h)), 1e-6
    Wp, Wm = W.copy(), W.copy()
    Wp[i, j] += eps
    Wm[i, j] -= eps
    fd = (bm.log_likelihood(V, Wp, b, c) - bm.log_likelihood(V, Wm, b, c)) / (2 * eps)
    assert dW[i, j] == pytest.approx(fd, abs=1e-7)


def test_cd_gradient_of_a_batch_of_one_is_finite_and_seeded():
    W, b, c = np.ones((3, 2)), np.zeros(3), np.zeros(2)
    v = np.array([[1.0, 0, 1]])
    first, second = bm.cd_gradient(v, W, b, c, k=3, seed=7), bm.cd_gradient(v, W, b, c, k=3, seed=7)
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)
        assert np.all(np.isfinite(a))
