"""Property-based tests for chapter 3's from-scratch code: optimisers, clipping, batch norm, dropout, early stopping.

Random shapes, memory layouts (Fortran order, transposed and strided views), dtypes, scales, NaN and
infinity, empty and batch-of-one inputs; the references are torch and closed forms.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import normalization as bn
from dlcourse import optim
from dlcourse import regularization as reg

LAYOUTS = st.sampled_from(["C", "F", "T", "strided"])
SCALES = st.sampled_from([1e-6, 1e-2, 1.0, 1e3, 1e6])


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "T":
        return np.ascontiguousarray(a.T).T  # a transposed view with a's values
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:])
        big[::2] = a
        return big[::2]
    return a


TORCH = {"sgd": (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
         "adagrad": (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
         "rmsprop": (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01, "centered": True}),
         "adam": (optim.Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
         "adamw": (optim.AdamW, torch.optim.AdamW, {"lr": 0.01})}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(TORCH)), rows=st.integers(1, 6), cols=st.integers(1, 5),
       layout=LAYOUTS, scale=SCALES, dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 999))
def test_optimisers_match_torch_for_any_shape_layout_dtype_and_scale(name, rows, cols, layout, scale, dtype, seed):
    ours_cls, torch_cls, kwargs = TORCH[name]
    rng = np.random.default_rng(seed)
    p0 = _layout((scale * rng.normal(size=(rows, cols))).astype(dtype), layout)
    before = p0.copy()
    opt = ours_cls([p0], **kwargs)
    t = torch.tensor(np.asarray(p0, dtype=np.float64), requires_grad=True)
    ref = torch_cls([t], **kwargs)
    for _ in range(8):
        g = _layout(scale * rng.normal(size=(rows, cols)), layout)
        opt.step([g])
        t.grad = torch.tensor(np.ascontiguousarray(g))
        ref.step()
    np.testing.assert_allclose(opt.params[0], t.detach().numpy(), rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_array_equal(p0, before)  # the caller's array is never modified
    assert opt.params[0].dtype == np.float64 and opt.params[0].flags.c_contiguous


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=3), scale=SCALES, max_norm=st.floats(1e-3, 1e3),
       seed=st.integers(0, 999))
def test_clip_by_norm_bounds_the_norm_and_keeps_the_direction(shape, scale, max_norm, seed):
    g = scale * np.random.default_rng(seed).normal(size=shape)
    out = optim.clip_by_norm(g, max_norm)
    norm = np.linalg.norm(g.ravel())
    assert out.shape == g.shape
    assert np.linalg.norm(out.ravel()) <= max_norm * (1 + 1e-12) or np.array_equal(out, g)
    if norm > max_norm:
        np.testing.assert_allclose(out * norm / max_norm, g, rtol=1e-12)  # same direction
    else:
        np.testing.assert_array_equal(out, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_refused_by_the_optimisers_and_clipping(bad):
    with pytest.raises(ValueError, match="finite"):
        optim.Adam([np.zeros(2)]).step([np.array([1.0, bad])])
    with pytest.raises(ValueError, match="finite"):
        optim.clip_by_norm(np.array([bad]), 1.0)


def _torch_batchnorm(x, gamma, beta, eps, dy):
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    mu = xt.mean(0)
    y = gt * (xt - mu) / torch.sqrt(((xt - mu) ** 2).mean(0) + eps) + bt
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 6), layout=LAYOUTS, scale=SCALES, seed=st.integers(0, 999),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]))
def test_batchnorm_forward_and_backward_match_autograd_for_any_batch(n, d, layout, scale, seed, eps):
    rng = np.random.default_rng(seed)
    x = _layout(scale * rng.normal(size=(n, d)), layout)
    gamma, beta, dy = rng.normal(size=d), rng.normal(size=d), _layout(rng.normal(size=(n, d)), layout)
    y, cache = bn.batchnorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = bn.batchnorm_backward(dy, cache)
    ref = _torch_batchnorm(np.ascontiguousarray(x), gamma, beta, eps, np.ascontiguousarray(dy))
    for ours, theirs in zip((y, dx, dgamma, dbeta), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-9 * max(1.0, 1 / scale))
    if n == 1:
        np.testing.assert_allclose(y[0], beta, atol=1e-12)  # a batch of one normalises to 0


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), d=st.integers(1, 4), dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       seed=st.integers(0, 999))
def test_batchnorm_accepts_any_real_dtype_and_returns_float64(n, d, dtype, seed):
    x = (np.random.default_rng(seed).normal(size=(n, d)) * 10).astype(dtype)
    x[0] += 1  # no constant column, even for integers
    y, _ = bn.batchnorm_forward(x, 1.0, 0.0)
    expected = (x - x.mean(0)) / np.sqrt(x.astype(float).var(0) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-6)
    assert y.dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=1, max_size=3), keep=st.floats(0.05, 1.0),
       layout=LAYOUTS, seed=st.integers(0, 999))
def test_inverted_dropout_is_x_times_mask_over_keep_for_any_layout(shape, keep, layout, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    x = _layout(x, layout) if x.ndim >= 1 and x.shape[0] > 0 else x
    y, mask = reg.inverted_dropout(x, keep, seed=seed)
    assert y.shape == x.shape == mask.shape and set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_allclose(y, np.asarray(x) * mask / keep, rtol=1e-15)
    if keep == 1.0:
        np.testing.assert_array_equal(y, x)


@settings(max_examples=60, deadline=None)
@given(losses=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=30), patience=st.integers(1, 6))
def test_early_stopping_best_is_the_minimum_seen_and_stop_is_patience_later(losses, patience):
    best, stop = reg.early_stopping_index(losses, patience)
    seen = np.asarray(losses[:stop + 1])
    assert best == int(np.argmin(seen))  # the first minimum of what was seen
    assert stop == len(losses) - 1 or stop - best == patience
    if stop < len(losses) - 1:
        assert np.all(seen[best + 1:] >= seen[best])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_is_refused_by_batchnorm_dropout_and_early_stopping(bad):
    for call in (lambda: bn.batchnorm_forward(np.array([[1.0], [bad]]), 1.0, 0.0),
                 lambda: reg.inverted_dropout(np.array([bad]), 0.5),
                 lambda: reg.early_stopping_index([1.0, bad], 1)):
        with pytest.raises(ValueError, match="finite"):
            call()
