"""Property-based tests of chapter 11's from-scratch functions: any batch, memory layout, dtype and scale
gives the autograd (or brute-force) answer; NaN is refused; batch-of-one and empty inputs behave."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import embeddings as emb
from layouts import relayout

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided", "reversed", "list"])
SCALES = st.sampled_from([1e-3, 1.0, 10.0])


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 5), K=st.integers(1, 4), m=st.integers(1, 4), layout=LAYOUTS, scale=SCALES,
       f32=st.booleans(), seed=st.integers(0, 2**16))
def test_sgns_gradients_match_autograd_in_any_layout_dtype_and_scale(B, K, m, layout, scale, f32, seed):
    rng = np.random.default_rng(seed)
    v, u, n = (rng.normal(size=s) * scale for s in ((B, m), (B, m), (B, K, m)))
    if f32:
        v, u, n = (a.astype(np.float32) for a in (v, u, n))
    t = [torch.tensor(a.astype(float), requires_grad=True) for a in (v, u, n)]
    pos, neg = (t[1] * t[0]).sum(-1), torch.einsum("bkm,bm->bk", t[2], t[0])
    loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
    loss.backward()
    got = emb.sgns_loss_and_grads(relayout(v, layout), relayout(u, layout), relayout(n, layout))
    assert got[0] == pytest.approx(loss.item(), rel=1e-10, abs=1e-10)
    for g, tensor in zip(got[1:], t):
        np.testing.assert_allclose(g, tensor.grad.numpy(), atol=1e-10 * max(1.0, scale))


@settings(max_examples=30, deadline=None)
@given(V=st.integers(1, 6), m=st.integers(1, 3), layout=LAYOUTS, seed=st.integers(0, 2**16))
def test_glove_loss_is_layout_free_and_zero_at_an_exact_fit(V, m, layout, seed):
    rng = np.random.default_rng(seed)
    W, Wt = rng.normal(size=(V, m)), rng.normal(size=(V, m))
    b, bt = rng.normal(size=V), rng.normal(size=V)
    X = np.exp(W @ Wt.T + b[:, None] + bt[None, :])  # log X is fitted exactly
    J, *grads = emb.glove_loss_and_grads(relayout(W, layout), relayout(Wt, layout), b, bt, relayout(X, layout))
    assert J == pytest.approx(0.0, abs=1e-18)
    assert all(np.abs(g).max() < 1e-9 for g in grads)


@settings(max_examples=40, deadline=None)
@given(V=st.integers(2, 8), m=st.integers(1, 4), layout=LAYOUTS, scale=SCALES, seed=st.integers(0, 2**16))
def test_nearest_neighbours_match_a_brute_force_ranking_and_ignore_scale(V, m, layout, scale, seed):
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(V, m))
    word = int(rng.integers(V))
    got = emb.nearest_neighbours(relayout(E * scale, layout), word, V - 1)
    cos = [E[word] @ E[j] / np.linalg.norm(E[word]) / np.linalg.norm(E[j]) for j in range(V)]
    others = sorted((j for j in range(V) if j != word), key=lambda j: -cos[j])
    np.testing.assert_allclose(np.array(cos)[got], np.array(cos)[others], atol=1e-12)
    assert word not in got.tolist()


@settings(max_examples=40, deadline=None)
@given(V=st.integers(4, 9), m=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_analogy_never_returns_a_query_word(V, m, seed):
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(V, m))
    a, b, c = rng.choice(V, 3, replace=False).tolist()
    assert not set(emb.analogy(E, a, b, c, k=V - 3).tolist()) & {a, b, c}


@settings(max_examples=30, deadline=None)
@given(V=st.integers(1, 6), layout=LAYOUTS, scale=st.sampled_from([1, 3, 1000]), seed=st.integers(0, 2**16))
def test_ppmi_is_non_negative_symmetric_and_invariant_to_scaling_the_counts(V, layout, scale, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 5, (V, V)).astype(float)
    X = X + X.T + np.eye(V)
    P = emb.ppmi(relayout(X, layout))
    assert np.all(P >= 0) and np.allclose(P, P.T) and np.all(P[X == 0] == 0)
    np.testing.assert_allclose(emb.ppmi(X * scale), P, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 30), window=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_cooccurrence_matches_a_double_loop_including_empty_and_single_tokens(n, window, seed):
    ids = np.random.default_rng(seed).integers(0, 4, n)
    want = np.zeros((4, 4))
    for t in range(n):
        for s in range(n):
            if 0 < abs(t - s) <= window:
                want[ids[t], ids[s]] += 1
    np.testing.assert_array_equal(emb.cooccurrence_matrix(ids, 4, window), want)


@settings(max_examples=25, deadline=None)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 2))
def test_nan_and_infinity_are_refused_by_the_losses(bad, where):
    arrays = [np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2, 3))]
    arrays[where].flat[0] = bad
    with pytest.raises(ValueError, match="finite"):
        emb.sgns_loss_and_grads(*arrays)


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(0, 1000), min_size=1, max_size=10).filter(lambda c: sum(c) > 0),
       power=st.sampled_from([0.0, 0.5, 0.75, 1.0]))
def test_noise_distribution_sums_to_one_and_keeps_the_order_of_counts(counts, power):
    p = emb.noise_distribution(np.array(counts), power)
    assert p.sum() == pytest.approx(1.0) and np.all(p[np.array(counts) == 0] == 0)
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-15)
