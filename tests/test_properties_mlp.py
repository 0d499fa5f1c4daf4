"""Property-based tests of dlcourse.mlp against PyTorch autograd, exact arithmetic and closed forms.

Random widths and batch sizes (batch of one included), memory layouts of every array (C, Fortran,
transposed views, strided slices), float32 and int inputs, scales, and NaN/inf anywhere.
"""
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcourse import mlp

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided"])
ACTIVATIONS = st.sampled_from(["tanh", "sigmoid", "relu", "leaky_relu", "elu", "identity"])
LOSSES = st.sampled_from(["cross_entropy", "bce", "mse"])
TORCH_ACT = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "elu": F.elu,
             "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "identity": lambda t: t}


def laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout."""
    if layout == "F" and a.ndim:  # asfortranarray would turn a 0-d array into shape (1,)
        return np.asfortranarray(a)
    if layout == "transposed" and a.ndim == 2:
        return np.ascontiguousarray(a.T).T
    if layout == "strided" and a.ndim >= 1:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return a


@st.composite
def networks(draw, loss=None, min_outputs=1):
    """Random params, X and targets of a small MLP, each array in a random memory layout."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    loss = loss or draw(LOSSES)
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2, min_outputs)
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    params = [(laid_out(rng.normal(size=(b, a)) / np.sqrt(a), draw(LAYOUTS)), rng.normal(scale=0.5, size=b))
              for a, b in zip(sizes[:-1], sizes[1:])]
    X = laid_out(rng.normal(size=(n, sizes[0])), draw(LAYOUTS))
    k = sizes[-1]
    if loss == "cross_entropy":
        targets = rng.integers(0, k, size=n) if draw(st.booleans()) else rng.dirichlet(np.ones(k), size=n)
    elif loss == "bce":
        targets = rng.uniform(size=(n, k))
    else:
        targets = rng.normal(size=(n, k))
    if loss != "cross_entropy" and k == 1 and draw(st.booleans()):
        targets = targets[:, 0]  # (N,) targets for a single output
    return params, laid_out(targets, draw(LAYOUTS)), X, loss


def autograd_loss_and_grads(params, X, targets, activation, loss):
    """Written independently of dlcourse.mlp: the forward pass by hand in torch, gradients by autograd."""
    tensors = [(torch.tensor(np.array(W), requires_grad=True), torch.tensor(np.array(b), requires_grad=True))
               for W, b in params]
    a = torch.tensor(np.array(X, dtype=float))
    for l, (W, b) in enumerate(tensors):
        z = a @ W.T + b
        a = TORCH_ACT[activation](z) if l < len(tensors) - 1 else z
    t = torch.tensor(np.array(targets))
    if loss == "cross_entropy":
        cost = F.cross_entropy(a, t)
    elif loss == "bce":
        cost = F.binary_cross_entropy_with_logits(a, t.reshape(a.shape).double(), reduction="sum") / len(a)
    else:
        cost = ((a - t.reshape(a.shape)) ** 2).sum() / (2 * len(a))
    cost.backward()
    return cost.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in tensors]


@settings(max_examples=60, deadline=None)
@given(net=networks(), activation=ACTIVATIONS)
def test_backprop_matches_autograd_for_random_nets_layouts_and_losses(net, activation):
    params, targets, X, loss = net
    cost, grads = mlp.mlp_loss_and_grads(params, X, targets, activation, loss)
    ref_cost, ref_grads = autograd_loss_and_grads(params, X, targets, activation, loss)
    assert cost == pytest.approx(ref_cost, rel=1e-12, abs=1e-14)
    for (dW, db), (rW, rb), (W, b) in zip(grads, ref_grads, params):
        assert dW.shape == W.shape and db.shape == b.shape
        np.testing.assert_allclose(dW, rW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, rb, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(net=networks(), activation=ACTIVATIONS)
def test_the_torch_twin_gives_the_same_cost_and_gradients(net, activation):
    params, targets, X, loss = net
    cost, grads = mlp.mlp_loss_and_grads(params, X, targets, activation, loss)
    t_cost, t_grads = mlp.torch_loss_and_grads(params, X, targets, activation, loss)
    assert cost == pytest.approx(t_cost, rel=1e-12, abs=1e-14)
    for pair, t_pair in zip(grads, t_grads):
        for g, t in zip(pair, t_pair):
            np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)


BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf])


@settings(max_examples=40, deadline=None)
@given(net=networks(), activation=ACTIVATIONS, bad=BAD_VALUES, where=st.sampled_from(["W", "b", "X", "t"]),
       index=st.integers(0, 10**6))
def test_the_twins_refuse_nan_and_inf_anywhere_with_the_same_message(net, activation, bad, where, index):
    params, targets, X, loss = net
    params = [(np.array(W), np.array(b)) for W, b in params]
    if where == "t" and np.asarray(targets).dtype.kind == "i":
        where = "X"  # integer labels cannot hold NaN
    target = {"W": params[-1][0], "b": params[0][1], "X": np.array(X), "t": np.array(targets, dtype=float)}[where]
    target.flat[index % target.size] = bad
    X = target if where == "X" else X
    targets = target if where == "t" else targets
    messages = []
    for function in (mlp.mlp_loss_and_grads, mlp.torch_loss_and_grads, mlp.gradient_check):
        with pytest.raises(ValueError, match="finite|lie in|summing to 1") as info:
            function(params, X, targets, activation, loss)
        messages.append(str(info.value))
    assert messages[0] == messages[1] == messages[2]


@settings(max_examples=40, deadline=None)
@given(net=networks(), activation=ACTIVATIONS)
def test_float32_nets_give_float32_deltas_close_to_float64(net, activation):
    params, targets, X, loss = net
    params32 = [(np.asarray(W, np.float32), np.asarray(b, np.float32)) for W, b in params]
    ZL, cache = mlp.mlp_forward(params32, np.asarray(X, np.float32), activation)
    cost, delta = mlp.loss_and_output_delta(ZL, targets, loss)
    assert ZL.dtype == delta.dtype == np.float32
    grads = mlp.mlp_backward(params32, cache, delta, activation)
    ref_cost, ref_grads = autograd_loss_and_grads(params, X, targets, activation, loss)
    assert cost == pytest.approx(ref_cost, rel=1e-4, abs=1e-5)
    for (dW, _), (rW, _) in zip(grads, ref_grads):
        assert dW.dtype == np.float32
        np.testing.assert_allclose(dW, rW, rtol=1e-3, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(net=networks(loss="mse"))
def test_integer_inputs_give_the_float_answer(net):
    params, targets, X, _ = net
    X_int = np.round(3 * np.asarray(X)).astype(np.int64)
    np.testing.assert_array_equal(mlp.mlp_forward(params, X_int)[0], mlp.mlp_forward(params, X_int.astype(float))[0])


@settings(max_examples=40, deadline=None)
@given(net=networks(), activation=ACTIVATIONS)
def test_gradient_check_passes_correct_backprop_in_any_layout(net, activation):
    params, targets, X, loss = net
    if activation in ("relu", "leaky_relu"):
        activation = "elu"  # central differences straddle a kink with a small probability: keep it smooth
    assert mlp.gradient_check(params, X, targets, activation, loss, eps=1e-5) < 1e-5


@st.composite
def points(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 2)))
    return x, draw(LAYOUTS)


@settings(max_examples=60, deadline=None)
@given(case=points())
def test_numerical_gradient_matches_the_closed_form_in_every_layout(case):
    x, layout = case
    c = np.linspace(-1, 1, x.size).reshape(x.shape) if x.size else np.zeros(x.shape)

    def f(v):
        return float(np.sum(c * np.sin(v)) + 0.5 * np.sum(v**3))

    x_in = laid_out(x, layout)
    before = np.array(x_in)
    grad = mlp.numerical_gradient(f, x_in, eps=1e-5)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, c * np.cos(x) + 1.5 * x**2, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x_in, before)


@settings(max_examples=40, deadline=None)
@given(offset=st.floats(-1e8, 1e8), slope=st.floats(-10, 10), eps=st.sampled_from([1e-6, 1e-5, 1e-3]))
def test_numerical_gradient_is_exact_for_a_quadratic_at_any_offset(offset, slope, eps):
    # central differences are exact for quadratics; only the rounding of x +- eps could spoil it
    x = np.array([offset])
    grad = mlp.numerical_gradient(lambda v: float(slope * (v[0] - offset) + (v[0] - offset) ** 2), x, eps)
    assert grad[0] == pytest.approx(slope, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.int64, st.integers(1, 5), elements=st.integers(-5, 5)))
def test_numerical_gradient_of_integer_x_perturbs_floats(x):
    # an int copy would round x + eps back to x and return zeros
    np.testing.assert_allclose(mlp.numerical_gradient(lambda v: float(np.sum(v**2)), x, 1e-4), 2 * x, atol=1e-6)


finite = st.floats(-1e6, 1e6, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(finite, finite), min_size=1, max_size=6),
       exponent=st.one_of(st.integers(-300, 300), st.just("largest")))
@example(pairs=[(0.75, -0.5)], exponent="largest")  # 0.75 * 2^1024 - (-0.5 * 2^1024) overflows to inf
def test_relative_error_equals_exact_arithmetic_and_is_scale_free(pairs, exponent):
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    scale = max(max(abs(Fraction(v)) for v in a), max(abs(Fraction(v)) for v in b))
    exact = 0.0 if scale == 0 else float(max(abs(Fraction(x) - Fraction(y)) for x, y in pairs) / scale)
    assert mlp.relative_error(a, b) == pytest.approx(exact, rel=1e-14, abs=1e-300)
    assert mlp.relative_error(b, a) == mlp.relative_error(a, b)
    if scale == 0:
        return
    # a power of two changes no digit; "largest" moves the biggest entry next to 1.8e308, where a - b overflows
    top = math.frexp(float(scale))[1]
    low = min(math.frexp(v)[1] for v in np.concatenate([a, b]) if v != 0)  # keep every entry a normal float
    exponent = 1024 - top if exponent == "largest" else min(max(exponent, -1021 - low), 1024 - top)
    assert mlp.relative_error(np.ldexp(a, exponent), np.ldexp(b, exponent)) == pytest.approx(exact, rel=1e-14,
                                                                                            abs=1e-300)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(1, 5), elements=finite), bad=BAD_VALUES, index=st.integers(0, 4))
def test_relative_error_never_calls_a_nan_a_match(x, bad, index):
    y = x.copy()
    y[index % len(y)] = bad
    for a, b in ((x, y), (y, x), (y, y)):
        with pytest.raises(ValueError, match="finite"):
            mlp.relative_error(a, b)


@st.composite
def logits_and_targets(draw):
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    scale = draw(st.sampled_from([1e-8, 1.0, 30.0, 1e4]))
    return laid_out(scale * rng.normal(size=(n, k)), draw(LAYOUTS)), rng, n, k


@settings(max_examples=50, deadline=None)
@given(case=logits_and_targets())
def test_losses_match_torch_at_every_scale_and_layout(case):
    Z, rng, n, k = case
    Zt = torch.tensor(np.array(Z))
    labels = rng.integers(0, k, size=n)
    assert mlp.cross_entropy(Z, labels) == pytest.approx(F.cross_entropy(Zt, torch.tensor(labels)).item(),
                                                         rel=1e-12, abs=1e-12)
    t = laid_out(rng.integers(0, 2, size=(n, k)).astype(float), "F")
    bce = F.binary_cross_entropy_with_logits(Zt, torch.tensor(np.array(t)), reduction="sum").item() / n
    assert mlp.binary_cross_entropy(Z, t) == pytest.approx(bce, rel=1e-12, abs=1e-12)
    y = laid_out(rng.normal(size=(n, k)), "transposed")
    assert mlp.mse_loss(Z, y) == pytest.approx(F.mse_loss(Zt, torch.tensor(np.array(y)), reduction="sum").item()
                                               / (2 * n), rel=1e-12, abs=1e-300)
    nll = -torch.distributions.Normal(Zt, 0.7).log_prob(torch.tensor(np.array(y))).sum().item()
    assert mlp.gaussian_nll(Z, y, 0.7) == pytest.approx(nll, rel=1e-11)


@settings(max_examples=50, deadline=None)
@given(case=logits_and_targets(), loss=LOSSES)
def test_output_delta_is_the_autograd_gradient_of_the_loss(case, loss):
    Z, rng, n, k = case
    if loss == "cross_entropy":
        targets = rng.integers(0, k, size=n)
    else:
        targets = rng.uniform(size=(n, k)) if loss == "bce" else rng.normal(size=(n, k))
    cost, delta = mlp.loss_and_output_delta(Z, targets, loss)
    z = torch.tensor(np.array(Z), requires_grad=True)
    t = torch.tensor(targets)
    ref = {"cross_entropy": lambda: F.cross_entropy(z, t),
           "bce": lambda: F.binary_cross_entropy_with_logits(z, t, reduction="sum") / n,
           "mse": lambda: ((z - t) ** 2).sum() / (2 * n)}[loss]()
    ref.backward()
    assert cost == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(delta, z.grad.numpy(), rtol=1e-10, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(case=logits_and_targets(), loss=st.sampled_from(["bce", "mse"]))
def test_targets_that_do_not_pair_with_the_outputs_are_refused(case, loss):
    Z, rng, n, k = case
    wrong = [rng.uniform(size=(k, n)), rng.uniform(size=(n * k,)), rng.uniform(size=(n, k, 1))]
    for targets in wrong:
        if targets.shape == Z.shape or (k == 1 and targets.shape == (n,)):
            continue  # a square batch, or a single output: these shapes do pair up
        with pytest.raises(ValueError, match="shape of the outputs"):
            mlp.loss_and_output_delta(Z, targets, loss)


@settings(max_examples=30, deadline=None)
@given(y=hnp.arrays(np.int64, st.integers(0, 8), elements=st.integers(0, 4)), extra=st.integers(0, 3))
def test_one_hot_is_the_identity_rows_in_any_layout(y, extra):
    T = mlp.one_hot(laid_out(y, "strided"), 5 + extra)
    assert T.shape == (len(y), 5 + extra)
    np.testing.assert_array_equal(T, np.eye(5 + extra)[y])
