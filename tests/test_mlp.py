"""The NumPy MLP, its losses and backprop against PyTorch autograd (float64), closed forms and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse import activations, mlp
from dlcourse.grading import fixtures

RNG = np.random.default_rng(0)


def random_params(sizes, seed=0):
    """Random weights AND biases: zero biases can put a ReLU exactly on its kink, where no derivative exists."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n_out, n_in)) / np.sqrt(n_in), rng.normal(scale=0.5, size=n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def targets_for(loss, n, k, rng):
    if loss == "cross_entropy":
        return rng.integers(0, k, size=n)
    if loss == "bce":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def autograd_reference(params, X, targets, activation, loss):
    """Written independently of dlcourse.mlp: the forward pass by hand in torch, gradients by autograd."""
    fn = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "elu": F.elu,
          "leaky_relu": lambda t: F.leaky_relu(t, 0.01)}[activation]
    tensors = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    a = torch.tensor(X)
    for l, (W, b) in enumerate(tensors):
        z = a @ W.T + b
        a = fn(z) if l < len(tensors) - 1 else z
    n = a.shape[0]
    if loss == "cross_entropy":
        cost = F.cross_entropy(a, torch.tensor(targets))
    elif loss == "bce":
        cost = F.binary_cross_entropy_with_logits(a, torch.tensor(targets), reduction="sum") / n
    else:
        cost = ((a - torch.tensor(targets)) ** 2).sum() / (2 * n)
    cost.backward()
    return cost.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in tensors]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "elu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "bce", "mse"])
def test_backprop_matches_autograd_float64(activation, loss):
    rng = np.random.default_rng(1)
    sizes = [5, 7, 6, 4]
    params = random_params(sizes, seed=2)
    X = rng.normal(size=(9, 5))
    targets = targets_for(loss, 9, 4, rng)
    cost, grads = mlp.mlp_loss_and_grads(params, X, targets, activation, loss)
    ref_cost, ref_grads = autograd_reference(params, X, targets, activation, loss)
    assert abs(cost - ref_cost) < 1e-12
    for (dW, db), (rW, rb) in zip(grads, ref_grads):
        np.testing.assert_allclose(dW, rW, rtol=0, atol=1e-10)
        np.testing.assert_allclose(db, rb, rtol=0, atol=1e-10)


def test_torch_twin_agrees_with_numpy_to_1e_10():
    params = random_params([3, 8, 8, 3], seed=5)
    X, y = RNG.normal(size=(20, 3)), RNG.integers(0, 3, size=20)
    cost, grads = mlp.mlp_loss_and_grads(params, X, y, "tanh")
    t_cost, t_grads = mlp.torch_loss_and_grads(params, X, y, "tanh")
    assert abs(cost - t_cost) < 1e-12
    assert max(np.max(np.abs(g - t)) for pair, tpair in zip(grads, t_grads) for g, t in zip(pair, tpair)) < 1e-10
    ZL, _ = mlp.mlp_forward(params, X, "tanh")
    with torch.no_grad():
        np.testing.assert_allclose(mlp.torch_mlp_from_params(params, "tanh")(torch.tensor(X)).numpy(), ZL, atol=1e-13)


def test_backprop_two_layer_matches_autograd_float64():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(11, 4)), rng.integers(0, 3, size=11)
    W1, b1, W2, b2 = rng.normal(size=(6, 4)), rng.normal(size=6), rng.normal(size=(3, 6)), rng.normal(size=3)
    grads = mlp.backprop_two_layer(X, mlp.one_hot(y, 3), W1, b1, W2, b2)
    tensors = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    h = torch.tanh(torch.tensor(X) @ tensors[0].T + tensors[1])
    F.cross_entropy(h @ tensors[2].T + tensors[3], torch.tensor(y)).backward()
    for got, t in zip(grads, tensors):
        assert got.shape == t.shape
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=0, atol=1e-12)


def test_bp4_is_delta_times_previous_activation_transposed():
    # Seed 004 writes dL/dW_l = delta_l . o_l; the gradient is sum_n delta_n^l (a_n^{l-1})^T, shaped like W^l.
    params = random_params([4, 5, 3], seed=7)
    X, y = RNG.normal(size=(6, 4)), RNG.integers(0, 3, size=6)
    ZL, cache = mlp.mlp_forward(params, X, "tanh")
    _, delta_L = mlp.loss_and_output_delta(ZL, y, "cross_entropy")
    grads = mlp.mlp_backward(params, cache, delta_L, "tanh")
    A1 = cache["A"][1]
    outer_sum = sum(np.outer(delta_L[n], A1[n]) for n in range(len(X)))
    assert grads[1][0].shape == params[1][0].shape == (3, 5)
    np.testing.assert_allclose(grads[1][0], outer_sum, atol=1e-15)
    # BP1 for softmax + mean cross-entropy: (P - T) / N, a closed form
    P = np.exp(ZL) / np.exp(ZL).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(delta_L, (P - mlp.one_hot(y, 3)) / 6, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_gradient_check_is_tiny_for_a_correct_backprop(activation):
    params = random_params([3, 4, 2], seed=11)
    X, y = RNG.normal(size=(5, 3)), RNG.integers(0, 2, size=5)
    assert mlp.gradient_check(params, X, y, activation, "cross_entropy") < 1e-6


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    params = random_params([3, 4, 2], seed=11)
    X, y = RNG.normal(size=(5, 3)), RNG.integers(0, 2, size=5)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh",
                        (np.tanh, lambda z: 1.0 - np.tanh(z)))  # a plausible slip: 1 - tanh instead of 1 - tanh^2
    assert mlp.gradient_check(params, X, y, "tanh") > 1e-3


def rosenbrock_gradient(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


@pytest.mark.parametrize("name, exact", [
    ("sum_of_squares", lambda x: 2 * x),
    ("rosenbrock", rosenbrock_gradient),
    ("sin_product", lambda x: np.cos(x) * np.cos(2 * x) - 2 * np.sin(x) * np.sin(2 * x)),
    ("log_sum_exp", lambda x: np.exp(x) / np.exp(x).sum()),
])
def test_numerical_gradient_matches_closed_forms(name, exact):
    x = np.array([0.3, -1.2, 0.8, 1.5])
    got = mlp.numerical_gradient(fixtures.FIXTURES[name], x, eps=1e-5)
    np.testing.assert_allclose(got, exact(x), rtol=1e-7, atol=1e-7)


def test_central_differences_error_shrinks_like_eps_squared():
    x = np.array([0.7])
    f, exact = (lambda v: float(np.sin(v[0]))), np.cos(0.7)
    errors = [abs(mlp.numerical_gradient(f, x, eps)[0] - exact) for eps in (1e-2, 1e-3)]
    # Taylor: error = eps^2 |f'''| / 6 = eps^2 cos(0.7) / 6
    np.testing.assert_allclose(errors, [1e-4 * np.cos(0.7) / 6, 1e-6 * np.cos(0.7) / 6], rtol=1e-2)


def test_numerical_gradient_keeps_shape_and_leaves_input_untouched():
    x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    before = x.copy()
    g = mlp.numerical_gradient(fixtures.sum_of_squares, x, 1e-4)
    assert g.shape == (2, 3)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(ValueError, match="eps"):
        mlp.numerical_gradient(fixtures.sum_of_squares, x, 0.0)


def test_losses_match_torch_and_the_negative_log_likelihoods():
    rng = np.random.default_rng(4)
    Z, y = 3 * rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    np.testing.assert_allclose(mlp.cross_entropy(Z, y), F.cross_entropy(torch.tensor(Z), torch.tensor(y)).item(),
                               rtol=1e-14)
    soft = rng.dirichlet(np.ones(5), size=8)
    np.testing.assert_allclose(mlp.cross_entropy(Z, soft),
                               F.cross_entropy(torch.tensor(Z), torch.tensor(soft)).item(), rtol=1e-14)
    # Bernoulli: the binary cross-entropy is the mean negative log-likelihood, also at extreme logits
    z, t = np.array([-800.0, -3.0, 0.0, 2.0, 900.0]), np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    nll = -torch.distributions.Bernoulli(logits=torch.tensor(z)).log_prob(torch.tensor(t)).sum().item()
    np.testing.assert_allclose(mlp.binary_cross_entropy(z, t), nll / 5, rtol=1e-14)
    # Gaussian: -log likelihood = squared error / (2 sigma^2) + N log(sqrt(2 pi) sigma)
    mean, target = rng.normal(size=7), rng.normal(size=7)
    ref = -torch.distributions.Normal(torch.tensor(mean), 0.7).log_prob(torch.tensor(target)).sum().item()
    np.testing.assert_allclose(mlp.gaussian_nll(mean, target, 0.7), ref, rtol=1e-13)
    np.testing.assert_allclose(mlp.mse_loss(mean, target), np.sum((mean - target) ** 2) / 14, rtol=1e-15)


def test_log_softmax_cross_entropy_is_finite_for_huge_logits():
    log_p, loss = mlp.log_softmax_cross_entropy(np.array([[1e5, 0.0], [0.0, 1e5]]), np.array([1, 1]))
    np.testing.assert_array_equal(log_p, [[0.0, -1e5], [-1e5, 0.0]])
    assert loss == 5e4


def test_init_mlp_shapes_and_scale():
    params = mlp.init_mlp([400, 300, 10], "relu", seed=0)
    assert [(W.shape, b.shape) for W, b in params] == [((300, 400), (300,)), ((10, 300), (10,))]
    np.testing.assert_allclose(params[0][0].std(), np.sqrt(2 / 400), rtol=0.02)
    assert np.all(params[0][1] == 0)
    np.testing.assert_allclose(mlp.init_mlp([400, 300], "tanh")[0][0].std(), np.sqrt(1 / 400), rtol=0.02)


def test_one_hot_and_predict():
    np.testing.assert_array_equal(mlp.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    params = [(np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2))]
    np.testing.assert_array_equal(mlp.mlp_predict(params, np.array([[2.0, 1.0], [0.0, 3.0]])), [0, 1])


def test_invalid_inputs_raise_value_errors():
    params = mlp.init_mlp([3, 4, 2])
    with pytest.raises(ValueError, match=r"layer 1: expected W of shape \(n_1, 5\)"):
        mlp.mlp_forward(params, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        mlp.mlp_loss_and_grads(params, np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="loss must be one of"):
        mlp.loss_and_output_delta(np.zeros((2, 2)), np.zeros((2, 2)), "hinge")
    with pytest.raises(ValueError, match="Y must have shape"):
        mlp.backprop_two_layer(np.zeros((2, 3)), np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(4),
                               np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="layer_sizes"):
        mlp.init_mlp([3])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        mlp.binary_cross_entropy(np.zeros(2), np.array([0.0, 2.0]))


def test_random_features_approximate_a_smooth_function_better_with_more_units():
    x = np.linspace(-3, 3, 400)
    target = np.sin(2 * x) + 0.3 * x**2
    errors = [np.max(np.abs(mlp.random_feature_approximation(x, target, x, n) - target)) for n in (2, 10, 50, 200)]
    assert errors[0] > 0.5 and errors[-1] < 1e-3
    assert all(a > b for a, b in zip(errors, errors[1:]))


def test_random_hidden_units_extend_smaller_layers():
    small, big = mlp.random_hidden_units(-1, 1, 5, seed=3), mlp.random_hidden_units(-1, 1, 12, seed=3)
    np.testing.assert_array_equal(big[0][:5], small[0])
    np.testing.assert_array_equal(big[1][:5], small[1])
    assert np.all((big[1] >= -1) & (big[1] <= 1))
    # least squares over nested feature sets: the training residual can only go down
    x = np.linspace(0, 1, 50)
    t = np.abs(x - 0.4)
    residuals = [np.sum((mlp.random_feature_approximation(x, t, x, n, seed=3) - t) ** 2) for n in range(1, 15)]
    assert all(b <= a + 1e-9 for a, b in zip(residuals, residuals[1:]))
