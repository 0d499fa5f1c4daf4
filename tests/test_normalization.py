"""Batch norm from scratch against torch.nn.BatchNorm1d, autograd and the curriculum's worked value."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse import normalization as bn


def test_worked_value_from_the_curriculum():
    y, _ = bn.batchnorm_forward(np.array([[1.0], [2.0], [3.0], [4.0]]), 2.0, 0.5, eps=0.0)
    np.testing.assert_allclose(y[:, 0], [-2.183282, -0.394427, 1.394427, 3.183282], atol=5e-7)


@pytest.mark.parametrize("n, d, eps", [(8, 3, 1e-5), (2, 5, 1e-12), (33, 1, 1e-3), (5, 7, 0.5)])
def test_forward_matches_torch_batchnorm_in_training_mode(n, d, eps):
    rng = np.random.default_rng(n * d)
    x, gamma, beta = 3 * rng.normal(size=(n, d)) + 1, rng.normal(size=d), rng.normal(size=d)
    layer = torch.nn.BatchNorm1d(d, eps=eps).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
    expected = layer(torch.tensor(x)).detach().numpy()
    y, _ = bn.batchnorm_forward(x, gamma, beta, eps)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    mean, var = bn.update_running_stats(np.zeros(d), np.ones(d), x, momentum=0.1)
    np.testing.assert_allclose(mean, layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, layer.running_var.numpy(), rtol=1e-12)  # the unbiased variance


@pytest.mark.parametrize("n, d", [(6, 4), (2, 1), (17, 3), (1, 3)])
def test_backward_six_equations_match_autograd(n, d):
    rng = np.random.default_rng(7 + n)
    x, gamma, beta, dy = rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=d), rng.normal(size=(n, d))
    eps = 1e-3
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    mu = xt.mean(0)
    var = ((xt - mu) ** 2).mean(0)
    yt = gt * (xt - mu) / torch.sqrt(var + eps) + bt
    yt.backward(torch.tensor(dy))
    y, cache = bn.batchnorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = bn.batchnorm_backward(dy, cache)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((dx, xt), (dgamma, gt), (dbeta, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_backward_gradient_sums_to_zero_over_the_batch():
    """Shifting every x_n by the same amount changes nothing: dx sums to 0 over the batch, per feature."""
    rng = np.random.default_rng(0)
    _, cache = bn.batchnorm_forward(rng.normal(size=(10, 3)), 1.5, 0.0)
    dx, _, _ = bn.batchnorm_backward(rng.normal(size=(10, 3)), cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)


def test_inference_matches_torch_in_eval_mode():
    rng = np.random.default_rng(2)
    d = 4
    layer = torch.nn.BatchNorm1d(d).double()
    for _ in range(3):
        layer(torch.tensor(rng.normal(size=(16, d)) * 2 + 1))
    layer.eval()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(rng.normal(size=d)))
        layer.bias.copy_(torch.tensor(rng.normal(size=d)))
    x = rng.normal(size=(5, d))
    expected = layer(torch.tensor(x)).detach().numpy()
    ours = bn.batchnorm_inference(x, layer.weight.detach().numpy(), layer.bias.detach().numpy(),
                                  layer.running_mean.numpy(), layer.running_var.numpy(), layer.eps)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


def _trained_bn(layer_bn, rng, shape):
    for _ in range(3):
        layer_bn(torch.tensor(rng.normal(size=shape) * 1.7 + 0.3))
    with torch.no_grad():
        layer_bn.weight.copy_(torch.tensor(rng.normal(size=layer_bn.num_features)))
        layer_bn.bias.copy_(torch.tensor(rng.normal(size=layer_bn.num_features)))
    return layer_bn.eval()


def test_folding_into_a_linear_layer_gives_the_same_outputs():
    rng = np.random.default_rng(4)
    linear = torch.nn.Linear(6, 3).double()
    norm = _trained_bn(torch.nn.BatchNorm1d(3).double(), rng, (20, 3))
    x = torch.tensor(rng.normal(size=(9, 6)))
    expected = norm(linear(x)).detach().numpy()
    W, b = bn.fold_batchnorm(linear.weight.detach().numpy(), linear.bias.detach().numpy(),
                             norm.weight.detach().numpy(), norm.bias.detach().numpy(),
                             norm.running_mean.numpy(), norm.running_var.numpy(), norm.eps)
    np.testing.assert_allclose(x.numpy() @ W.T + b, expected, rtol=1e-10, atol=1e-12)


def test_folding_into_a_convolution_gives_the_same_outputs():
    rng = np.random.default_rng(5)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False).double()
    norm = _trained_bn(torch.nn.BatchNorm2d(4).double(), rng, (3, 4, 5, 5))
    x = torch.tensor(rng.normal(size=(2, 2, 6, 6)))
    expected = norm(conv(x)).detach().numpy()
    W, b = bn.fold_batchnorm(conv.weight.detach().numpy(), np.zeros(4), norm.weight.detach().numpy(),
                             norm.bias.detach().numpy(), norm.running_mean.numpy(), norm.running_var.numpy(),
                             norm.eps)
    folded = torch.nn.functional.conv2d(x, torch.tensor(W), torch.tensor(b), padding=1).numpy()
    np.testing.assert_allclose(folded, expected, rtol=1e-10, atol=1e-12)


BAD = [
    (lambda: bn.batchnorm_forward(np.zeros(4), 1.0, 0.0), "2-dimensional"),
    (lambda: bn.batchnorm_forward(np.zeros((0, 3)), 1.0, 0.0), "N >= 1"),
    (lambda: bn.batchnorm_forward(np.ones((4, 2)), 1.0, 0.0, eps=0.0), "constant"),
    (lambda: bn.batchnorm_forward(np.array([[True, False]]), 1.0, 0.0), "dtype bool"),
    (lambda: bn.batchnorm_forward(np.array([[np.nan], [1.0]]), 1.0, 0.0), "finite"),
    (lambda: bn.batchnorm_forward(np.zeros((3, 2)), np.ones(3), 0.0), "gamma"),
    (lambda: bn.batchnorm_forward(np.zeros((3, 2)), 1.0, 0.0, eps=-1.0), "eps"),
    (lambda: bn.batchnorm_forward(np.zeros((3, 2)), "one", 0.0), "gamma"),
    (lambda: bn.batchnorm_backward(np.zeros((3, 2)), {}), "cache"),
    (lambda: bn.batchnorm_backward(np.zeros((3, 3)), bn.batchnorm_forward(np.eye(3)[:, :2], 1, 0)[1]), "shape"),
    (lambda: bn.update_running_stats(np.zeros(2), np.ones(2), np.zeros((1, 2))), "at least 2"),
    (lambda: bn.update_running_stats(np.zeros(2), np.ones(2), np.zeros((3, 2)), momentum=2.0), "momentum"),
    (lambda: bn.batchnorm_inference(np.zeros((3, 2)), 1, 0, np.zeros(2), -np.ones(2)), "running_var"),
    (lambda: bn.fold_batchnorm(np.zeros(3), np.zeros(3), 1, 0, np.zeros(3), np.ones(3)), "2 or 4"),
    (lambda: bn.fold_batchnorm(np.zeros((3, 2)), np.zeros(2), 1, 0, np.zeros(3), np.ones(3)), "b must"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
