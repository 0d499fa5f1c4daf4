"""Activations, derivatives and softmax against PyTorch (float64) and closed forms."""
import warnings

import mpmath
import numpy as np
import pytest
import torch

from bad_input_table import table_tests
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
    # Barcelo Ordinas et al. (2024) read "about 0.2" off a plot; s(1 - s) at s = 1/2 gives 1/4 exactly.
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


def test_sigmoid_and_tanh_derivatives_keep_their_relative_precision_in_the_tails():
    # s (1 - s) and 1 - tanh^2 cancel to exactly 0 once s or tanh round to 1 (|z| > 37, resp. > 19);
    # the closed forms e^{-|z|} / (1 + e^{-|z|})^2 and 1 / cosh^2 z are still far above the smallest float.
    z = np.array([-700.0, -300.0, -40.0, -20.0, -1.0, 0.0, 0.5, 19.5, 40.0, 300.0, 700.0])
    mpmath.mp.dps = 50
    sigmoid_exact = [float(mpmath.exp(-abs(mpmath.mpf(v))) / (1 + mpmath.exp(-abs(mpmath.mpf(v)))) ** 2) for v in z]
    tanh_exact = [float(mpmath.sech(mpmath.mpf(v)) ** 2) for v in z]
    np.testing.assert_allclose(act.sigmoid_grad(z), sigmoid_exact, rtol=1e-13, atol=0)
    np.testing.assert_allclose(act.tanh_grad(z[np.abs(z) < 350]), np.array(tanh_exact)[np.abs(z) < 350],
                               rtol=1e-13, atol=0)
    assert act.sigmoid_grad(np.array([40.0]))[0] > 0 and act.tanh_grad(np.array([20.0]))[0] > 0


def test_float32_in_gives_float32_out_and_ints_give_float64():
    for name in act.ACTIVATIONS:
        value, grad = act.activation_and_grad(np.arange(-3, 3, dtype=np.float32), name)
        assert value.dtype == grad.dtype == np.float32, name
        value, grad = act.activation_and_grad(np.arange(-3, 3), name)
        assert value.dtype == grad.dtype == np.float64, name
    assert act.softmax(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    assert act.log_softmax(np.ones((2, 3), dtype=np.int64)).dtype == np.float64


def test_results_are_new_arrays_and_the_input_is_left_alone():
    z = np.array([[-1.0, 0.0], [2.0, 3.0]])
    before = z.copy()
    for function in (act.identity, act.relu, act.sigmoid, act.softmax, act.log_softmax):
        out = function(z)
        assert not np.shares_memory(out, z), function.__name__
    np.testing.assert_array_equal(z, before)


def test_empty_inputs_give_empty_outputs_but_softmax_needs_scores():
    assert act.sigmoid(np.zeros((0, 3))).shape == (0, 3)
    assert act.softmax(np.zeros((0, 3))).shape == (0, 3)  # an empty batch of 3-class scores
    with pytest.raises(ValueError, match="at least one score along axis"):
        act.softmax(np.zeros((3, 0)))


# --- every public function refuses bad input with a ValueError ----------------------------------------

ELEMENTWISE = [act.sigmoid, act.sigmoid_grad, act.tanh, act.tanh_grad, act.relu, act.relu_grad, act.leaky_relu,
               act.leaky_relu_grad, act.elu, act.elu_grad, act.identity, act.identity_grad]
BAD_Z = [np.array([True, False]), np.array([0.0, np.nan]), np.array([np.inf]), ["a", "b"], None,
         np.array([1.0, 2.0], dtype=complex)]
BAD_AXIS = [True, 1.5, 2, -3, None]

TABLE = {f.__name__: (f, {"z": np.zeros(3)}, {"z": BAD_Z}) for f in ELEMENTWISE}
for f in (act.leaky_relu, act.leaky_relu_grad, act.elu, act.elu_grad):
    TABLE[f.__name__][2]["alpha"] = [np.nan, True, "0.1", None]
for f in (act.softmax, act.log_softmax, act.naive_softmax):
    TABLE[f.__name__] = (f, {"z": np.zeros((2, 3))}, {"z": BAD_Z + [np.float64(1.0), np.zeros((2, 0))],
                                                       "axis": BAD_AXIS})
TABLE["get_activation"] = (act.get_activation, {"name": "tanh"}, {"name": ["swish", None, ["tanh"], 3]})
TABLE["activation_and_grad"] = (act.activation_and_grad, {"z": np.zeros(3), "name": "relu"},
                                {"z": BAD_Z, "name": ["swish", None, ["tanh"]]})


globals().update(table_tests(TABLE, [act], match=lambda arg: {"name": "activation"}.get(arg, arg)))


