"""Property-based tests of dlcourse.activations against torch.autograd and closed forms.

Random shapes (empty and batch-of-one included), memory layouts (C, Fortran, transposed views, strided
slices), dtypes (float32, float64, int) and scales from 1e-8 to 1e8.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcourse import activations as act

TORCH = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    # ELU from its definition, x for x > 0 and expm1(x) below: torch's own F.elu computed exp(x) - 1
    # before torch 2.11, which loses every digit near 0 (pytorch/pytorch#173968).
    "elu": lambda t: torch.where(t > 0, t, torch.expm1(torch.clamp(t, max=0.0))),  # clamp: no inf * 0 in grad
    "identity": lambda t: t * 1.0,
}
SCALES = st.sampled_from([1e-8, 1e-3, 1.0, 30.0, 1e3, 1e8])
LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided"])


def laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout (what a learner's slicing and transposing produce)."""
    if layout == "F" and a.ndim:  # asfortranarray would turn a 0-d array into shape (1,)
        return np.asfortranarray(a)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T  # a non-C-contiguous view with a's shape
    if layout == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype) if a.ndim else a
        if a.ndim:
            wide[..., ::2] = a
            return wide[..., ::2]
    return a


@st.composite
def arrays(draw, min_dims=0, min_side=0, dtype=np.float64):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=5))
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1)))
    return laid_out((draw(SCALES) * values).astype(dtype), draw(LAYOUTS))


def torch_value_and_grad(name, z):
    t = torch.tensor(np.array(z, dtype=np.float64), requires_grad=True)
    out = TORCH[name](t)
    out.sum().backward()  # d(sum f(z_i))/dz_i = f'(z_i)
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
@settings(max_examples=30, deadline=None)
@given(z=arrays())
def test_activation_and_grad_match_autograd_in_any_shape_layout_and_scale(name, z):
    before = z.copy()
    value, grad = act.activation_and_grad(z, name)
    ref_value, ref_grad = torch_value_and_grad(name, z)
    assert value.shape == grad.shape == z.shape and value.dtype == np.float64
    np.testing.assert_allclose(value, ref_value, rtol=1e-13, atol=1e-300)
    # autograd's s (1 - s) and 1 - tanh^2 lose digits in the tails: compare those with an absolute margin
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
@settings(max_examples=20, deadline=None)
@given(z=arrays(dtype=np.float32))
def test_float32_activations_stay_float32_and_match_float32_autograd(name, z):
    value, grad = act.activation_and_grad(z, name)
    assert value.dtype == grad.dtype == np.float32
    t = torch.tensor(np.array(z), requires_grad=True)
    out = TORCH[name](t)
    out.sum().backward()
    np.testing.assert_allclose(value, out.detach().numpy(), rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=2e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(z=hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=5), elements=st.integers(-50, 50)))
def test_integer_input_equals_the_same_values_as_floats(z):
    for name in act.ACTIVATIONS:
        for got, want in zip(act.activation_and_grad(z, name), act.activation_and_grad(z.astype(float), name)):
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(z=arrays(), bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 10**6))
def test_nan_and_inf_are_refused_by_every_activation(z, bad, where):
    z = np.array(z, dtype=float).reshape(-1)
    z = np.append(z, 0.0) if z.size == 0 else z
    z[where % z.size] = bad
    for name in act.ACTIVATIONS:
        with pytest.raises(ValueError, match="finite"):
            act.activation_and_grad(z, name)
    for function in (act.softmax, act.log_softmax):
        with pytest.raises(ValueError, match="finite"):
            function(z)


@st.composite
def scores(draw, dtype=np.float64):
    z = draw(arrays(min_dims=1, min_side=1))
    offset = draw(st.sampled_from([0.0, 1e3, -1e5]))
    return (z + offset).astype(dtype), draw(st.integers(-z.ndim, z.ndim - 1))


@settings(max_examples=60, deadline=None)
@given(case=scores())
def test_softmax_and_log_softmax_match_torch_along_any_axis(case):
    z, axis = case
    zt = torch.tensor(np.array(z))
    p, log_p = act.softmax(z, axis=axis), act.log_softmax(z, axis=axis)
    np.testing.assert_allclose(p, torch.softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(log_p, torch.log_softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-14)
    assert np.all(log_p <= 0) and np.all(np.isfinite(log_p))


@settings(max_examples=40, deadline=None)
@given(case=scores(), shift=st.floats(-1e4, 1e4))
def test_softmax_is_shift_invariant(case, shift):
    z, axis = case
    # shift-invariance holds exactly in real numbers; in floats up to the rounding of z + shift
    np.testing.assert_allclose(act.softmax(z + shift, axis=axis), act.softmax(z, axis=axis), rtol=1e-6,
                               atol=1e-12 * (1 + abs(shift)) / max(np.abs(z).max(), 1e-300))


@settings(max_examples=30, deadline=None)
@given(case=scores(dtype=np.float32))
def test_float32_softmax_stays_float32_and_matches_torch(case):
    z, axis = case
    assert act.softmax(z, axis=axis).dtype == act.log_softmax(z, axis=axis).dtype == np.float32
    zt = torch.tensor(np.array(z))
    np.testing.assert_allclose(act.softmax(z, axis=axis), torch.softmax(zt, dim=axis).numpy(), rtol=1e-5, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(z=st.lists(st.floats(-745, 745), min_size=1, max_size=6))
def test_sigmoid_never_overflows_and_sigmoid_grad_equals_s_times_s_of_minus_z(z):
    z = np.array(z)
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is the right answer
        s = act.sigmoid(z)
        ds = act.sigmoid_grad(z)
    assert np.all((s >= 0) & (s <= 1))
    # sigma'(z) = sigma(z) sigma(-z): both factors are accurate, unlike 1 - sigma(z) in the tails
    np.testing.assert_allclose(ds, act.sigmoid(z) * act.sigmoid(-z), rtol=1e-14, atol=0)
