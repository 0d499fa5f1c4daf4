"""Activations, derivatives and softmax against PyTorch (float64) and closed forms."""
import warnings

import numpy as np
import pytest
import torch

from dlcourse import activations as act

Z = np.concatenate([np.linspace(-6, 6, 49), [0.0, -1e-3, 1e-3, -30.0, 30.0]])

TORCH_FUNCTIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
    "elu": lambda t: torch.nn.functional.elu(t, 1.0),
    "identity": lambda t: t * 1.0,
}


def torch_value_and_grad(name: str, z: np.ndarray):
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = TORCH_FUNCTIONS[name](t)
    out.sum().backward()  # d(sum_i f(z_i))/dz_i = f'(z_i): element-wise derivative
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_activation_and_derivative_match_torch_autograd_float64(name):
    value, grad = act.activation_and_grad(Z, name)
    ref_value, ref_grad = torch_value_and_grad(name, Z)
    np.testing.assert_allclose(value, ref_value, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_kink_conventions_match_pytorch():
    assert act.relu_grad(np.array([0.0]))[0] == 0.0
    assert act.leaky_relu_grad(np.array([0.0]))[0] == 0.01
    assert act.elu_grad(np.array([0.0]))[0] == 1.0


def test_sigmoid_derivative_peaks_at_exactly_one_quarter():
    # Seed 002 reads "about 0.2" off a plot; the closed form s(1 - s) at s = 1/2 gives 1/4 exactly.
    assert act.sigmoid_grad(np.array([0.0]))[0] == 0.25
    grid = np.linspace(-10, 10, 20001)
    assert np.max(act.sigmoid_grad(grid)) == 0.25
    assert grid[np.argmax(act.sigmoid_grad(grid))] == 0.0
    assert np.max(act.tanh_grad(grid)) == 1.0


def test_tanh_is_a_rescaled_sigmoid():
    np.testing.assert_allclose(act.tanh(Z), 2 * act.sigmoid(2 * Z) - 1, atol=1e-15)


def test_sigmoid_is_stable_for_huge_arguments():
    z = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning may escape
        s = act.sigmoid(z)
        ds = act.sigmoid_grad(z)
        e = act.elu(z)
    np.testing.assert_array_equal(s[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(ds)) and np.all(np.isfinite(e))


def test_activation_keeps_shape_and_float32():
    z = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    for name in act.ACTIVATIONS:
        value, grad = act.activation_and_grad(z, name)
        assert value.shape == grad.shape == (3, 4)
        assert value.dtype == np.float32, name


@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_softmax_and_log_softmax_match_torch(scale):
    z = scale * np.random.default_rng(0).normal(size=(6, 5))
    zt = torch.tensor(z)
    np.testing.assert_allclose(act.softmax(z), torch.softmax(zt, dim=1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(act.log_softmax(z), torch.log_softmax(zt, dim=1).numpy(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(act.softmax(z, axis=0), torch.softmax(zt, dim=0).numpy(), rtol=1e-12, atol=1e-300)


def test_softmax_is_shift_invariant_and_sums_to_one():
    z = np.array([[1.0, 2.0, 3.0], [1001.0, 1002.0, 1003.0]])
    p = act.softmax(z)
    np.testing.assert_allclose(p[0], p[1], rtol=1e-14)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    # closed form: e^{k} / (e + e^2 + e^3)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-14)


def test_naive_softmax_overflows_where_the_shifted_one_does_not():
    z = np.array([[1000.0, 0.0, -1000.0]])
    assert np.isnan(act.naive_softmax(z)).any()
    np.testing.assert_array_equal(act.softmax(z), [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(act.log_softmax(z), [[0.0, -1000.0, -2000.0]])


def test_invalid_inputs_raise_value_errors_naming_the_problem():
    with pytest.raises(ValueError, match="activation must be one of"):
        act.activation_and_grad(np.zeros(3), "swish")
    with pytest.raises(ValueError, match="real numbers"):
        act.sigmoid(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="scalar"):
        act.softmax(np.float64(3.0))
    with pytest.raises(ValueError, match="out of range"):
        act.log_softmax(np.zeros((2, 3)), axis=2)
