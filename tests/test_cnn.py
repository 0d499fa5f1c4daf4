"""Convolution from scratch against PyTorch (float64), the worked values of the notes, and bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse import cnn
from dlcourse.cnn import (FILTERS, conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_naive,
                          conv2d_torch, conv2d_true, conv_out_shape, conv_out_size, corr2d, corr2d_multi,
                          maxpool2d_backward, maxpool2d_forward, pad2d, plot_filter_response,
                          plot_sliding_window, receptive_field)

# Barcelo Ordinas et al. (2024), Figs. 11-14
X_FIG = np.array([[0, 1, 3, 5], [1, 4, 6, 8], [1, 2, 3, 4]])
K_FIG = np.array([[1, 2], [2, 0]])
X2_FIG = np.array([[3, 2, 1, 1], [2, 0, 2, 3], [2, 1, 2, 1]])
K2_FIG = np.array([[3, 1], [1, 0]])


def test_corr2d_reproduces_figure_11():
    np.testing.assert_array_equal(corr2d(X_FIG, K_FIG), [[4, 15, 25], [11, 20, 28]])


def test_corr2d_padded_gives_the_corrected_figure_12():
    expected = [[0, 0, 2, 6, 10], [0, 4, 15, 25, 21], [2, 11, 20, 28, 16], [2, 5, 8, 11, 4]]
    np.testing.assert_array_equal(corr2d(X_FIG, K_FIG, padding=1), expected)


def test_corr2d_padded_with_stride_3_2_reproduces_figure_13():
    np.testing.assert_array_equal(corr2d(X_FIG, K_FIG, padding=1, stride=(3, 2)), [[0, 2, 10], [2, 8, 4]])


def test_two_channel_sum_gives_the_corrected_figure_14():
    np.testing.assert_array_equal(corr2d(X2_FIG, K2_FIG), [[13, 7, 6], [8, 3, 11]])
    out = corr2d_multi(np.stack([X2_FIG, X_FIG]), np.stack([K2_FIG, K_FIG]))
    np.testing.assert_array_equal(out, [[17, 22, 31], [19, 23, 39]])  # the figure prints 40 for 23


def test_true_convolution_flips_the_kernel_and_differs_from_correlation():
    flipped = corr2d(X_FIG, K_FIG[::-1, ::-1])
    np.testing.assert_array_equal(conv2d_true(X_FIG, K_FIG), flipped)
    assert not np.array_equal(flipped, corr2d(X_FIG, K_FIG))
    from scipy.signal import convolve2d, correlate2d

    np.testing.assert_allclose(conv2d_true(X_FIG, K_FIG), convolve2d(X_FIG, K_FIG, mode="valid"))
    np.testing.assert_allclose(corr2d(X_FIG, K_FIG), correlate2d(X_FIG, K_FIG, mode="valid"))


@pytest.mark.parametrize("n, k, p, s, expected", [(28, 5, 0, 1, 24), (32, 5, 0, 1, 28), (227, 11, 0, 4, 55),
                                                  (224, 3, 1, 1, 224), (7, 3, 0, 2, 3), (8, 3, 0, 2, 3),
                                                  (5, 2, 1, 3, 2), (6, 2, 1, 2, 4), (1, 1, 0, 5, 1)])
def test_conv_out_size_is_floor_of_n_plus_2p_minus_k_over_s_plus_1(n, k, p, s, expected):
    assert conv_out_size(n, k, p, s) == expected
    torch_out = torch.nn.functional.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p)
    assert torch_out.shape[-1] == expected


def test_conv_out_shape_takes_pairs_and_matches_torch():
    assert conv_out_shape((3, 4), 2, 1, (3, 2)) == (2, 3)
    y = torch.nn.functional.conv2d(torch.zeros(1, 1, 11, 9), torch.zeros(1, 1, 3, 2), stride=(2, 3), padding=(1, 0))
    assert conv_out_shape((11, 9), (3, 2), (1, 0), (2, 3)) == tuple(y.shape[2:])


def test_receptive_field_of_stacks():
    assert receptive_field([(3, 1)] * 2) == 5  # two 3x3 convolutions see 5x5
    assert receptive_field([(3, 1)] * 3) == 7
    assert receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)]) == 16  # LeNet-5's C1 S2 C3 S4
    assert receptive_field([(11, 4), (3, 2)]) == 19


def test_receptive_field_matches_the_support_of_a_gradient():
    """The input pixels that reach one output unit: measured with autograd through a real stack."""
    layers = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]
    x = torch.ones(1, 1, 64, 64, requires_grad=True)
    h = x
    for k, s in layers:
        h = torch.nn.functional.avg_pool2d(h, k, s) if s > 1 else torch.nn.functional.conv2d(h, torch.ones(1, 1, k, k))
    h[0, 0, 3, 3].backward()
    rows = np.flatnonzero(x.grad[0, 0].abs().sum(1).numpy())
    assert rows.max() - rows.min() + 1 == receptive_field(layers)


def _random_conv(rng, n=2, c=3, f=4, h=9, w=8, kh=3, kw=2):
    return rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, kh, kw)), rng.normal(size=f)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((2, 3), (1, 2)), (3, 0), ((1, 2), (0, 1))])
def test_forward_naive_and_im2col_match_torch(stride, padding):
    X, W, b = _random_conv(np.random.default_rng(0))
    expected = torch.nn.functional.conv2d(torch.tensor(X), torch.tensor(W), torch.tensor(b), stride=stride,
                                          padding=padding).numpy()
    np.testing.assert_allclose(conv2d_forward(X, W, b, stride, padding)[0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv2d_naive(X, W, b, stride, padding), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv2d_torch(X, W, b, stride, padding), expected, rtol=1e-12, atol=1e-12)


def _torch_grads(X, W, b, dY, stride, padding):
    Xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
    Y = torch.nn.functional.conv2d(Xt, Wt, bt, stride=stride, padding=padding)
    (Y * torch.tensor(dY)).sum().backward()
    return Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((2, 3), (1, 2)), (3, 0)])
def test_backward_naive_and_im2col_match_autograd(stride, padding):
    rng = np.random.default_rng(1)
    X, W, b = _random_conv(rng)
    Y, cache = conv2d_forward(X, W, b, stride, padding)
    dY = rng.normal(size=Y.shape)
    expected = _torch_grads(X, W, b, dY, stride, padding)
    for ours in (conv2d_backward(dY, cache), conv2d_backward_naive(dY, X, W, stride, padding)):
        for name, a, e in zip(("dX", "dW", "db"), ours, expected):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12, err_msg=name)


def test_bias_none_is_a_zero_bias():
    X, W, b = _random_conv(np.random.default_rng(2))
    np.testing.assert_allclose(conv2d_forward(X, W, None)[0], conv2d_forward(X, W, np.zeros(4))[0])


def test_im2col_col2im_are_adjoint():
    """<im2col(x), c> = <x, col2im(c)>: what makes the backward pass the transpose of the forward."""
    rng = np.random.default_rng(3)
    Xp = rng.normal(size=(2, 3, 7, 6))
    cols = cnn.im2col(Xp, 3, 2, (2, 1), (3, 5))
    c = rng.normal(size=cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(Xp * cnn.col2im(c, Xp.shape, 3, 2, (2, 1), (3, 5))))


@pytest.mark.parametrize("size, stride", [(2, None), (3, 2), (2, 1), ((2, 3), (1, 2))])
def test_maxpool_forward_and_backward_match_torch(size, stride):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2, 3, 9, 8))
    Y, cache = maxpool2d_forward(X, size, stride)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = torch.nn.functional.max_pool2d(Xt, size, stride)
    np.testing.assert_array_equal(Y, Yt.detach().numpy())
    dY = rng.normal(size=Y.shape)
    (Yt * torch.tensor(dY)).sum().backward()
    np.testing.assert_allclose(maxpool2d_backward(dY, cache), Xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_maxpool_gradient_goes_to_one_element_per_window_even_on_ties():
    X = np.zeros((1, 1, 2, 2))  # every element ties
    Y, cache = maxpool2d_forward(X, 2)
    dX = maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)
    assert dX.sum() == 1 and dX[0, 0, 0, 0] == 1  # the first maximum, as torch does
    Xt = torch.zeros(1, 1, 2, 2, requires_grad=True)
    torch.nn.functional.max_pool2d(Xt, 2).sum().backward()
    np.testing.assert_array_equal(dX, Xt.grad.numpy())


def test_pad2d_pads_only_the_last_two_axes():
    assert pad2d(np.ones((2, 3, 4, 5)), (1, 2)).shape == (2, 3, 6, 9)
    assert pad2d(np.ones((4, 5)), 1).sum() == 20


def test_sobel_filter_responds_to_a_vertical_edge_only():
    image = np.zeros((8, 8))
    image[:, 4:] = 1.0
    vertical = corr2d(image, FILTERS["vertical edges (Sobel x)"])
    horizontal = corr2d(image, FILTERS["horizontal edges (Sobel y)"])
    assert vertical.max() == 4.0 and np.all(horizontal == 0)


def test_explorer_figures_draw():
    import matplotlib.pyplot as plt

    fig = plot_sliding_window(kernel=3, stride=2, padding=1, n=7, position=4)
    assert "output 4x4" in fig.axes[1].get_title()
    assert len(fig.axes[0].patches) == 9 * 9 + 1 and len(fig.axes[1].patches) == 16
    plt.close(fig)
    fig = plot_filter_response(np.eye(10), "Laplacian")
    assert len(fig.axes) == 4  # image, filter, response and its colour bar
    plt.close(fig)


BAD = [
    (corr2d, (np.ones((3, 3)), np.ones((4, 4))), {}, "must fit"),
    (corr2d, (np.ones((3, 3)), np.ones(2)), {}, "2-dimensional"),
    (corr2d, (np.array([[True, False]]), np.ones((1, 1))), {}, "real numbers"),
    (corr2d, (np.full((3, 3), np.nan), np.ones((2, 2))), {}, "finite"),
    (corr2d, (np.ones((3, 3)), np.ones((2, 2))), {"stride": 0}, "stride"),
    (corr2d, (np.ones((3, 3)), np.ones((2, 2))), {"padding": -1}, "padding"),
    (corr2d, (np.ones((3, 3)), np.ones((2, 2))), {"stride": (1, 2, 3)}, "pair"),
    (corr2d, (np.ones((3, 3)), np.ones((2, 2))), {"stride": 1.5}, "stride"),
    (corr2d, (np.ones((3, 3)), np.ones((2, 2))), {"padding": True}, "padding"),
    (corr2d_multi, (np.ones((2, 3, 3)), np.ones((3, 2, 2))), {}, "channels"),
    (conv2d_forward, (np.ones((1, 2, 5, 5)), np.ones((3, 1, 3, 3))), {}, "channels"),
    (conv2d_forward, (np.ones((1, 1, 5, 5)), np.ones((3, 1, 3, 3)), np.ones(2)), {}, "shape"),
    (conv2d_forward, (np.ones((1, 1, 0, 5)), np.ones((3, 1, 3, 3))), {}, "positive height"),
    (conv2d_forward, (np.ones((5, 5)), np.ones((3, 1, 3, 3))), {}, "4-dimensional"),
    (conv2d_naive, (np.ones((1, 1, 2, 2)), np.ones((3, 1, 3, 3))), {}, "must fit"),
    (conv2d_torch, (np.ones((1, 1, 2, 2)), np.ones((3, 1, 3, 3))), {}, "must fit"),
    (conv2d_backward_naive, (np.ones((1, 3, 3, 3)), np.ones((1, 1, 4, 4)), np.ones((3, 1, 3, 3))), {}, "shape"),
    (maxpool2d_forward, (np.ones((1, 1, 4, 4)),), {"size": 0}, "size"),
    (maxpool2d_forward, (np.ones((1, 1, 1, 1)),), {"size": 2}, "must fit"),
    (maxpool2d_forward, (np.ones((4, 4)),), {}, "4-dimensional"),
    (conv_out_size, (5, 0), {}, "k"),
    (conv_out_size, (5, 3, 0, 0), {}, "s"),
    (conv_out_size, (5.0, 3), {}, "n"),
    (receptive_field, ([],), {}, "non-empty"),
    (receptive_field, ([(3, 1, 1)],), {}, "pair"),
    (receptive_field, ([(0, 1)],), {}, "kernel"),
    (plot_filter_response, (np.ones((5, 5)), "nope"), {}, "filter_name"),
]


@pytest.mark.parametrize("fn, args, kwargs, words", BAD, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_raises_a_clear_value_error(fn, args, kwargs, words):
    with pytest.raises(ValueError, match=words):
        fn(*args, **kwargs)


def test_backward_refuses_a_gradient_of_the_wrong_shape():
    X, W, b = _random_conv(np.random.default_rng(5))
    Y, cache = conv2d_forward(X, W, b)
    with pytest.raises(ValueError, match="dY must have shape"):
        conv2d_backward(np.ones(Y.shape[:-1]), cache)
    _, pool = maxpool2d_forward(X)
    with pytest.raises(ValueError, match="dY must have shape"):
        maxpool2d_backward(np.ones((1, 1, 1, 1)), pool)


def test_twins_accept_and_reject_the_same_inputs():
    rng = np.random.default_rng(6)
    cases = [(rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), None, 1, 1),
             (rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 1, 3, 3)), None, 1, 0),
             (rng.normal(size=(1, 2, 2, 2)), rng.normal(size=(3, 2, 3, 3)), None, 1, 0),
             (rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), np.ones(3, bool), 1, 0),
             (rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), None, 0, 0)]
    for args in cases:
        outcomes = []
        for fn in (lambda *a: conv2d_forward(*a)[0], conv2d_torch, conv2d_naive):
            try:
                outcomes.append(fn(*args))
            except ValueError:
                outcomes.append(None)
        assert all((o is None) == (outcomes[0] is None) for o in outcomes)
        if outcomes[0] is not None:
            np.testing.assert_allclose(outcomes[0], outcomes[1], atol=1e-12)


def test_float32_inputs_stay_float32_and_agree_with_torch():
    rng = np.random.default_rng(7)
    X, W = rng.normal(size=(2, 3, 6, 6)).astype(np.float32), rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    Y, cache = conv2d_forward(X, W, padding=1)
    assert Y.dtype == np.float32
    expected = torch.nn.functional.conv2d(torch.tensor(X), torch.tensor(W), padding=1).numpy()
    np.testing.assert_allclose(Y, expected, rtol=1e-5, atol=1e-5)
    assert conv2d_backward(np.ones(Y.shape), cache)[0].dtype == np.float32
    assert conv2d_forward(X.astype(np.float64), W)[0].dtype == np.float64  # mixed: float64
