"""Property-based tests of the from-scratch convolution and pooling: any shape, stride, padding, channel
count, memory layout, dtype and scale agrees with PyTorch in float64; NaN is refused; empty batches work."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse.cnn import (conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_naive, conv_out_size,
                          corr2d, maxpool2d_backward, maxpool2d_forward)

LAYOUTS = st.sampled_from(["C", "F", "strided"])


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":  # a non-contiguous view with the same values
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    return a


@st.composite
def conv_problems(draw):
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return n, c, f, h, w, kh, kw, (sh, sw), (ph, pw), draw(st.integers(0, 2**16))


@settings(max_examples=50, deadline=None)
@given(problem=conv_problems(), layout=LAYOUTS, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_conv_forward_and_backward_match_torch_for_any_geometry(problem, layout, scale):
    n, c, f, h, w, kh, kw, stride, padding, seed = problem
    rng = np.random.default_rng(seed)
    X = _layout(scale * rng.normal(size=(n, c, h, w)), layout)
    W, b = _layout(rng.normal(size=(f, c, kh, kw)), layout), rng.normal(size=f)
    Xt, Wt, bt = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (X, W, b))
    Yt = torch.nn.functional.conv2d(Xt, Wt, bt, stride=stride, padding=padding)
    Y, cache = conv2d_forward(X, W, b, stride, padding)
    assert Y.shape == tuple(Yt.shape) == (n, f, conv_out_size(h, kh, padding[0], stride[0]),
                                          conv_out_size(w, kw, padding[1], stride[1]))
    tol = 1e-12 * scale * max(1, c * kh * kw)
    np.testing.assert_allclose(Y, Yt.detach().numpy(), rtol=1e-10, atol=tol)
    dY = rng.normal(size=Y.shape)
    (Yt * torch.tensor(dY)).sum().backward()
    dX, dW, db = conv2d_backward(_layout(dY, layout), cache)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-10, atol=1e-12 * scale * max(1, n * Y.size))
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problem=conv_problems())
def test_naive_loops_agree_with_im2col(problem):
    n, c, f, h, w, kh, kw, stride, padding, seed = problem
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, kh, kw)), rng.normal(size=f)
    Y, cache = conv2d_forward(X, W, b, stride, padding)
    np.testing.assert_allclose(conv2d_naive(X, W, b, stride, padding), Y, rtol=1e-12, atol=1e-12)
    dY = rng.normal(size=Y.shape)
    for a, e in zip(conv2d_backward_naive(dY, X, W, stride, padding), conv2d_backward(dY, cache)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.integers(1, 3), s=st.integers(1, 3), seed=st.integers(0, 2**16), layout=LAYOUTS)
def test_maxpool_matches_torch_for_any_window_and_stride(n, c, h, w, k, s, seed, layout):
    if k > min(h, w):
        return
    rng = np.random.default_rng(seed)
    X = _layout(rng.normal(size=(n, c, h, w)), layout)
    Xt = torch.tensor(np.ascontiguousarray(X), requires_grad=True)
    Yt = torch.nn.functional.max_pool2d(Xt, k, s)
    Y, cache = maxpool2d_forward(X, k, s)
    np.testing.assert_array_equal(Y, Yt.detach().numpy())
    dY = rng.normal(size=Y.shape)
    (Yt * torch.tensor(dY)).sum().backward()
    np.testing.assert_allclose(maxpool2d_backward(dY, cache), Xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_integer_and_float32_inputs_give_the_float64_answer(dtype, seed):
    rng = np.random.default_rng(seed)
    X, K = rng.integers(0, 10, size=(5, 6)), rng.integers(0, 3, size=(2, 3))
    expected = torch.nn.functional.conv2d(torch.tensor(X, dtype=torch.float64)[None, None],
                                          torch.tensor(K, dtype=torch.float64)[None, None], padding=1)[0, 0]
    out = corr2d(X.astype(dtype), K.astype(dtype), padding=1)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected.numpy())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_refused_everywhere(bad):
    X = np.ones((1, 1, 4, 4))
    X[0, 0, 1, 2] = bad
    for call in (lambda: conv2d_forward(X, np.ones((1, 1, 2, 2))), lambda: conv2d_naive(X, np.ones((1, 1, 2, 2))),
                 lambda: maxpool2d_forward(X), lambda: corr2d(X[0, 0], np.ones((2, 2)))):
        with pytest.raises(ValueError, match="finite"):
            call()


def test_empty_batch_and_batch_of_one():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2, 3, 3, 3))
    Y, cache = conv2d_forward(np.zeros((0, 3, 5, 5)), W, padding=1)
    assert Y.shape == (0, 2, 5, 5)
    dX, dW, db = conv2d_backward(np.zeros(Y.shape), cache)
    assert dX.shape == (0, 3, 5, 5) and np.all(dW == 0) and np.all(db == 0)
    P, pcache = maxpool2d_forward(np.zeros((0, 3, 4, 4)))
    assert P.shape == (0, 3, 2, 2) and maxpool2d_backward(P, pcache).shape == (0, 3, 4, 4)
    X = rng.normal(size=(1, 3, 5, 5))
    expected = torch.nn.functional.conv2d(torch.tensor(X), torch.tensor(W)).numpy()
    np.testing.assert_allclose(conv2d_forward(X, W)[0], expected, rtol=1e-12)


def test_inputs_are_never_modified():
    rng = np.random.default_rng(1)
    X, W = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3))
    X0, W0 = X.copy(), W.copy()
    Y, cache = conv2d_forward(X, W, padding=1)
    dY = rng.normal(size=Y.shape)
    dY0 = dY.copy()
    conv2d_backward(dY, cache)
    maxpool2d_backward(maxpool2d_forward(X)[0], maxpool2d_forward(X)[1])
    assert np.array_equal(X, X0) and np.array_equal(W, W0) and np.array_equal(dY, dY0)
