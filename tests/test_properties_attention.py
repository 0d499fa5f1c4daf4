"""Property-based tests of chapter 12's from-scratch attention: any shape, memory layout, dtype and
scale gives PyTorch's answer; rows of weights are distributions; NaN is refused; batch of one works."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from dlcourse import attention as att
from layouts import relayout

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided", "reversed", "list"])
DTYPES = st.sampled_from([np.float64, np.float32, np.int64])
SCALES = st.sampled_from([1e-3, 1.0, 30.0])


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), lq=st.integers(1, 5), lk=st.integers(1, 5), d=st.integers(1, 4),
       layout=LAYOUTS, dtype=DTYPES, scale=SCALES, seed=st.integers(0, 2**16))
def test_attention_matches_torch_for_any_layout_dtype_and_scale(batch, lq, lk, d, layout, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    Q, K, V = ((rng.normal(size=(batch, n, d)) * scale).astype(dtype) for n in (lq, lk, lk))
    mask = rng.random((batch, lq, lk)) < 0.7
    mask[..., 0] = True  # every query keeps a key
    out, w = att.scaled_dot_product_attention(relayout(Q, layout), relayout(K, layout), relayout(V, layout),
                                              mask=relayout(mask, layout))
    ref = F.scaled_dot_product_attention(*(torch.tensor(x.astype(float)) for x in (Q, K, V)),
                                         attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-9 * max(scale, 1) ** 3, rtol=1e-9)
    np.testing.assert_allclose(w.sum(-1), 1, atol=1e-12)
    assert np.all(w[~mask] == 0) and out.flags.c_contiguous


@settings(max_examples=30, deadline=None)
@given(n_heads=st.sampled_from([1, 2, 4]), lq=st.integers(1, 4), lk=st.integers(1, 4), layout=LAYOUTS,
       seed=st.integers(0, 2**16))
def test_multi_head_matches_torch_for_any_layout(n_heads, lq, lk, layout, seed):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(8, n_heads, batch_first=True).double()
    q, k = torch.randn(1, lq, 8, dtype=torch.float64), torch.randn(1, lk, 8, dtype=torch.float64)
    ref, ref_w = mha(q, k, k)
    params = [relayout(p.detach().numpy(), layout) for p in (mha.in_proj_weight, mha.in_proj_bias,
                                                             mha.out_proj.weight, mha.out_proj.bias)]
    out, w = att.multi_head_attention(relayout(q.numpy(), layout), k.numpy(), relayout(k.numpy(), layout),
                                      *params, n_heads=n_heads)
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w, ref_w.detach().numpy(), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), width=st.integers(1, 4), beta=st.sampled_from([0.0, 1.0, 50.0]),
       layout=LAYOUTS, seed=st.integers(0, 2**16))
def test_ntm_read_after_write_recovers_the_written_row(n, width, beta, layout, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, width)) + 0.1
    w = att.ntm_content_weights(relayout(M, layout), M[0] + 0.0, beta)
    assert w.shape == (n,) and w.sum() == pytest.approx(1.0) and np.all(w >= 0)
    one_hot = np.eye(n)[n - 1]
    x = rng.normal(size=width)
    new = att.ntm_write(relayout(M, layout), one_hot, np.ones(width), x)  # full erase, then add
    np.testing.assert_allclose(att.ntm_read(new, one_hot), x, atol=1e-12)
    np.testing.assert_allclose(new[:-1], M[:-1])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 6), layout=LAYOUTS, seed=st.integers(0, 2**16))
def test_additive_scores_match_a_loop_and_nan_is_refused(n, d, layout, seed):
    rng = np.random.default_rng(seed)
    H, s = rng.normal(size=(n, d)), rng.normal(size=d)
    W1, W2, v = rng.normal(size=(3, d)), rng.normal(size=(3, d)), rng.normal(size=3)
    loop = [v @ np.tanh(W1 @ s + W2 @ h) for h in H]
    np.testing.assert_allclose(att.additive_scores(s, relayout(H, layout), relayout(W1, layout), W2, v), loop,
                               atol=1e-12)
    H[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        att.additive_scores(s, H, W1, W2, v)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 12))
def test_positional_encoding_is_bounded_and_distinct_per_position(n, d):
    pe = att.sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d) and np.all(np.abs(pe) <= 1)
    if d >= 2 and n >= 2:
        assert len({tuple(np.round(row, 9)) for row in pe}) == n
