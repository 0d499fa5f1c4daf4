"""The NumPy MLP, its losses and backprop against PyTorch autograd (float64), closed forms and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bad_input_table import table_tests
from dlcourse import activations, gradcheck, mlp, universal
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
    # Patil (2017) writes dL/dW_l = delta_l . o_l; the gradient is sum_n delta_n^l (a_n^{l-1})^T, shaped like W^l.
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
    with pytest.raises(ValueError, match="class labels in 0..1"):
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


# --- regressions: silent wrong answers found by probing ---------------------------------------------

@pytest.mark.parametrize("layout", [np.asfortranarray, lambda a: np.ascontiguousarray(a.T).T,
                                    lambda a: np.repeat(a, 2, axis=1)[:, ::2]])
def test_numerical_gradient_of_a_non_c_contiguous_array_is_not_zero(layout):
    # np.array(x) kept Fortran order, so x.reshape(-1) was a copy and every perturbation was lost
    x = layout(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(mlp.numerical_gradient(fixtures.sum_of_squares, x, 1e-5), 2 * np.asarray(x),
                               rtol=1e-8)


def test_gradient_check_passes_a_correct_backprop_with_fortran_ordered_weights():
    params = [(np.asfortranarray(W), b) for W, b in random_params([3, 4, 2], seed=11)]
    X, y = np.asfortranarray(RNG.normal(size=(5, 3))), RNG.integers(0, 2, size=5)
    assert mlp.gradient_check(params, X, y, "tanh") < 1e-6


def test_numerical_gradient_refuses_a_cost_that_is_not_a_finite_number():
    with pytest.raises(ValueError, match="array of shape"):
        mlp.numerical_gradient(lambda v: v**2, np.ones(3))
    with pytest.raises(ValueError, match=r"nan"):
        mlp.numerical_gradient(lambda v: float("nan"), np.ones(3))
    with pytest.raises(ValueError, match="finite real number"):
        mlp.numerical_gradient(lambda v: bool(v.sum() > 0), np.ones(3))
    assert mlp.numerical_gradient(lambda v: torch.tensor(v).pow(2).sum(), np.ones(2))[0] == pytest.approx(2)


def test_numerical_gradient_does_not_let_f_modify_its_argument():
    def sloppy(v):
        v *= 2  # would corrupt every later difference
        return float(np.sum(v))

    with pytest.raises(ValueError, match="read-only"):
        mlp.numerical_gradient(sloppy, np.ones(3))


def test_numerical_gradient_divides_by_the_step_actually_taken_far_from_the_origin():
    # x + 1e-6 rounds to a multiple of 1.5e-8 near 1e8: dividing by 2 eps was 0.16 % off here
    x = np.array([1e8 + 0.5, 3e7, -2e6])
    x0 = x.copy()
    grad = mlp.numerical_gradient(lambda v: float(np.sum((v - x0) ** 2 + 3 * (v - x0))), x, 1e-6)
    np.testing.assert_allclose(grad, 3.0, rtol=1e-9)


def test_gaussian_nll_is_finite_for_tiny_and_huge_sigma():
    # closed form: N / 2 + N log(sqrt(2 pi) sigma) when every residual equals sigma
    for sigma in (1e-200, 1e-8, 1e8, 1e200):
        t = np.full(3, sigma)
        expected = 1.5 + 3 * (0.5 * np.log(2 * np.pi) + np.log(sigma))
        assert mlp.gaussian_nll(np.zeros(3), t, sigma) == pytest.approx(expected, rel=1e-13)  # sigma^2 was 0 or inf


def test_relative_error_refuses_nan_and_shapes_that_only_broadcast():
    with pytest.raises(ValueError, match="finite"):
        mlp.relative_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="same shape"):
        mlp.relative_error(np.ones((3, 1)), np.ones(3))
    # near the largest float: max|a - b| / scale = 2, not inf
    assert mlp.relative_error(np.array([1e308]), np.array([-1e308])) == 2.0
    assert mlp.relative_error(np.array([3e-320]), np.array([1e-320])) == pytest.approx(2 / 3, rel=1e-3)


def test_gradient_check_reports_a_nan_backprop_gradient_as_infinitely_wrong(monkeypatch):
    params = random_params([3, 4, 2], seed=11)
    X, y = RNG.normal(size=(5, 3)), RNG.integers(0, 2, size=5)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", (np.tanh, lambda z: np.full_like(z, np.nan)))
    assert mlp.gradient_check(params, X, y, "tanh") == np.inf


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_targets_that_only_reshape_into_the_outputs_are_refused(loss):
    Z = RNG.normal(size=(4, 2))
    T = RNG.integers(0, 2, size=(2, 4)).astype(float)  # transposed: reshaping pairs the wrong entries
    for function in (mlp.loss_and_output_delta, lambda Z, T, loss: mlp.torch_loss_and_grads(
            [(np.eye(2), np.zeros(2))], Z, T, "tanh", loss)):
        with pytest.raises(ValueError, match=r"shape of the outputs \(4, 2\)"):
            function(Z, T, loss)
    # one output per example: (N,) targets pair with (N, 1) outputs
    cost, delta = mlp.loss_and_output_delta(Z[:, :1], T[0], loss)
    assert delta.shape == (4, 1)
    assert cost == mlp.loss_and_output_delta(Z[:, :1], T[0][:, None], loss)[0]


def test_soft_targets_must_be_probabilities_so_numpy_and_torch_agree():
    params = random_params([2, 3, 2], seed=1)
    X = RNG.normal(size=(2, 2))
    unnormalised = np.array([[0.5, 0.2], [0.1, 0.1]])  # the old numpy gradient (P - T) / N disagreed with torch's
    for function in (mlp.mlp_loss_and_grads, mlp.torch_loss_and_grads):
        with pytest.raises(ValueError, match="summing to 1"):
            function(params, X, unnormalised)
    soft = unnormalised / unnormalised.sum(axis=1, keepdims=True)
    (c1, g1), (c2, g2) = mlp.mlp_loss_and_grads(params, X, soft), mlp.torch_loss_and_grads(params, X, soft)
    assert abs(c1 - c2) < 1e-13
    np.testing.assert_allclose(g1[0][0], g2[0][0], atol=1e-13)


def test_widths_must_be_positive_integers_not_truncated_floats_or_bools():
    for sizes in ([2, 2.7, 1], [2, True, 1], [2, -1], [2, 0, 1], "23", [2]):
        for function in (mlp.init_mlp, mlp.torch_mlp):
            with pytest.raises(ValueError, match="layer_sizes"):
                function(sizes)
    assert [W.shape for W, _ in mlp.init_mlp(np.array([2, 3, 1]))] == [(3, 2), (1, 3)]


def test_twins_refuse_nan_weights_and_widths_that_do_not_chain():
    nan_params = [(np.full((3, 2), np.nan), np.zeros(3)), (np.ones((1, 3)), np.zeros(1))]
    broken = [(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 5)), np.zeros(1))]
    X, t = np.ones((4, 2)), np.ones(4)
    for params, match in ((nan_params, "W\\^1 must be finite"), (broken, r"layer 2: expected W of shape \(n_2, 3\)")):
        for call in (lambda: mlp.mlp_forward(params, X), lambda: mlp.torch_mlp_from_params(params),
                     lambda: mlp.mlp_loss_and_grads(params, X, t, loss="mse"),
                     lambda: mlp.torch_loss_and_grads(params, X, t, loss="mse")):
            with pytest.raises(ValueError, match=match):
                call()


def test_mlp_backward_needs_delta_of_the_output_shape():
    params = mlp.init_mlp([2, 3, 1])
    _, cache = mlp.mlp_forward(params, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"delta_L must have shape \(4, 1\)"):
        mlp.mlp_backward(params, cache, np.ones(4))
    with pytest.raises(ValueError, match="cache must be the dict of mlp_forward"):
        mlp.mlp_backward(params, {"A": cache["A"]}, np.ones((4, 1)))


def test_mean_losses_refuse_empty_batches_instead_of_returning_nan():
    for function in (mlp.mse_loss, mlp.binary_cross_entropy, mlp.gaussian_nll):
        with pytest.raises(ValueError, match="empty"):
            function(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="empty"):
        mlp.cross_entropy(np.ones((0, 2)), np.zeros(0, dtype=int))


def test_random_feature_helpers_refuse_truncated_counts_and_degenerate_intervals():
    with pytest.raises(ValueError, match="n_features"):
        mlp.random_hidden_units(0.0, 1.0, 2.5)
    with pytest.raises(ValueError, match="two distinct values"):
        mlp.random_feature_approximation(np.ones(5), np.ones(5), np.ones(3), 4)
    with pytest.raises(ValueError, match="x_eval must be 1-dimensional"):
        mlp.random_feature_approximation(np.linspace(0, 1, 5), np.ones(5), np.ones((2, 2)), 3)


# --- every public function refuses bad input with a ValueError ----------------------------------------

P = [(np.ones((3, 2)) / 3, np.zeros(3)), (np.ones((2, 3)) / 3, np.zeros(2))]
X2 = np.array([[0.5, -1.0], [1.0, 2.0], [0.0, 0.3]])
Y2 = np.array([0, 1, 1])
NOT_ARRAYS = [None, ["a", "b"], "text"]
BAD_MATRIX = NOT_ARRAYS + [np.ones((3, 2), bool), np.full((3, 2), np.nan), np.ones(2), np.ones((3, 2, 1)),
                           np.ones((0, 2))]
BAD_LABELS = NOT_ARRAYS + [np.array([True, False, True]), np.array([0.0, 1.0, 1.0]), Y2[:, None],
                           np.array([0, 1, 2]), np.array([-1, 0, 1]), np.array([0, 1])]
BAD_SIZE = [0, -1, True, 2.5, None, "3"]
BAD_PARAMS = [None, [], "W", [(np.ones((3, 2)), np.zeros(3))] * 2, [(np.full((3, 2), np.nan), np.zeros(3))] + P[1:],
              [(np.ones((3, 2), bool), np.zeros(3))] + P[1:], [(np.ones((3, 2)), np.zeros(2))] + P[1:],
              [(np.ones((3, 2)),)] + P[1:]]
BAD_NAME = ["swish", None, ["tanh"], 3]
BAD_POSITIVE = [0.0, -1.0, np.nan, np.inf, True, None, "1"]
cache2 = mlp.mlp_forward(P, X2)[1]

TABLE = {
    "one_hot": (mlp.one_hot, dict(y=Y2, n_classes=2), dict(y=BAD_LABELS[:-1], n_classes=BAD_SIZE)),
    "gaussian_nll": (mlp.gaussian_nll, dict(mean=np.zeros(3), t=np.ones(3), sigma=1.0),
                     dict(mean=NOT_ARRAYS + [np.zeros(3, bool), np.array([np.nan, 0, 0]), np.zeros((3, 1))],
                          t=[np.ones(2), np.ones((1, 3))], sigma=BAD_POSITIVE)),
    "mse_loss": (mlp.mse_loss, dict(y_pred=np.zeros((3, 2)), t=np.ones((3, 2))),
                 dict(y_pred=BAD_MATRIX, t=[np.ones((2, 3)), np.ones(6), np.full((3, 2), np.inf)])),
    "binary_cross_entropy": (mlp.binary_cross_entropy, dict(logits=np.zeros(3), t=np.ones(3)),
                             dict(logits=NOT_ARRAYS + [np.zeros(3, bool), np.array([0, np.nan, 0])],
                                  t=[np.ones((3, 1)), np.array([0.0, 2.0, 1.0]), np.ones(3, bool)])),
    "cross_entropy": (mlp.cross_entropy, dict(logits=X2, y=Y2), dict(logits=BAD_MATRIX, y=BAD_LABELS)),
    "log_softmax_cross_entropy": (mlp.log_softmax_cross_entropy, dict(logits=X2, y=Y2),
                                  dict(logits=BAD_MATRIX, y=BAD_LABELS + [np.ones((3, 2))])),
    "loss_and_output_delta": (mlp.loss_and_output_delta, dict(ZL=X2, targets=Y2, loss="cross_entropy"),
                              dict(ZL=BAD_MATRIX, targets=BAD_LABELS, loss=BAD_NAME)),
    "init_mlp": (mlp.init_mlp, dict(layer_sizes=[2, 3, 2], activation="tanh", seed=0),
                 dict(layer_sizes=[[2], [2, 0], [2, -3], [2, 2.0], None, "22"], activation=BAD_NAME,
                      seed=[-1, 1.5, True, None])),
    "mlp_forward": (mlp.mlp_forward, dict(params=P, X=X2, activation="tanh"),
                    dict(params=BAD_PARAMS, X=BAD_MATRIX + [np.ones((3, 5))], activation=BAD_NAME)),
    "mlp_backward": (mlp.mlp_backward, dict(params=P, cache=cache2, delta_L=np.ones((3, 2)), activation="tanh"),
                     dict(params=BAD_PARAMS, cache=[None, {}, {"A": cache2["A"], "Z": cache2["Z"][:1]}, [1, 2]],
                          delta_L=BAD_MATRIX + [np.ones(3), np.ones((2, 3))], activation=BAD_NAME)),
    "mlp_loss_and_grads": (mlp.mlp_loss_and_grads, dict(params=P, X=X2, targets=Y2),
                           dict(params=BAD_PARAMS, X=BAD_MATRIX, targets=BAD_LABELS, activation=BAD_NAME,
                                loss=BAD_NAME)),
    "mlp_predict": (mlp.mlp_predict, dict(params=P, X=X2), dict(params=BAD_PARAMS, X=BAD_MATRIX,
                                                                 activation=BAD_NAME)),
    "backprop_two_layer": (mlp.backprop_two_layer,
                           dict(X=X2, Y=mlp.one_hot(Y2, 2), W1=P[0][0], b1=P[0][1], W2=P[1][0], b2=P[1][1]),
                           dict(X=BAD_MATRIX, Y=BAD_MATRIX + [np.ones((3, 2)), np.ones((3, 3)) / 3],
                                W1=BAD_MATRIX + [np.ones((3, 4))], b1=NOT_ARRAYS + [np.zeros(2), np.zeros((3, 1))],
                                W2=[np.ones((2, 4)), np.full((2, 3), np.nan)], b2=[np.zeros(3), np.zeros(2, bool)])),
    "numerical_gradient": (mlp.numerical_gradient, dict(f=fixtures.sum_of_squares, x=np.ones(3), eps=1e-6),
                           dict(f=[None, 3, lambda v: v, lambda v: np.nan, lambda v: "1.0"],
                                x=NOT_ARRAYS + [np.ones(2, bool), np.array([np.nan, 1.0])], eps=BAD_POSITIVE)),
    "relative_error": (mlp.relative_error, dict(a=np.ones(3), b=np.ones(3)),
                       dict(a=NOT_ARRAYS + [np.ones(3, bool), np.array([1, np.nan, 1]), np.ones((3, 1)),
                                            np.ones(0)], b=[np.ones(2), np.array([np.inf, 1, 1])])),
    "gradient_check": (mlp.gradient_check, dict(params=P, X=X2, targets=Y2),
                       dict(params=BAD_PARAMS, X=BAD_MATRIX, targets=BAD_LABELS, activation=BAD_NAME,
                            loss=BAD_NAME, eps=BAD_POSITIVE)),
    "torch_mlp": (mlp.torch_mlp, dict(layer_sizes=[2, 3, 2], activation="tanh"),
                  dict(layer_sizes=[[2], [2, 0], [2, 2.0], None], activation=BAD_NAME)),
    "torch_mlp_from_params": (mlp.torch_mlp_from_params, dict(params=P, activation="tanh"),
                              dict(params=BAD_PARAMS, activation=BAD_NAME,
                                   dtype=[np.float64, "float64", torch.int64, None])),
    "torch_loss_and_grads": (mlp.torch_loss_and_grads, dict(params=P, X=X2, targets=Y2),
                             dict(params=BAD_PARAMS, X=BAD_MATRIX, targets=BAD_LABELS, activation=BAD_NAME,
                                  loss=BAD_NAME)),
    "random_hidden_units": (mlp.random_hidden_units, dict(x_min=0.0, x_max=1.0, n_features=3, seed=0),
                            dict(x_min=[np.nan, None, True, 1.0, 2.0], x_max=[np.inf, "1", -1.0],
                                 n_features=[-1, 2.5, True, None], seed=[-1, 0.5, None])),
    "random_feature_matrix": (mlp.random_feature_matrix,
                              dict(x=np.linspace(0, 1, 4), slopes=np.ones(2), centres=np.zeros(2)),
                              dict(x=NOT_ARRAYS + [np.ones((2, 2)), np.array([np.nan, 0.0])],
                                   slopes=[np.ones((2, 1)), np.array([np.inf, 1.0])],
                                   centres=[np.zeros(3), np.zeros(2, bool)], activation=BAD_NAME)),
    "random_feature_approximation": (mlp.random_feature_approximation,
                                     dict(x_train=np.linspace(0, 1, 5), t_train=np.ones(5), x_eval=np.ones(2),
                                          n_features=3),
                                     dict(x_train=NOT_ARRAYS + [np.ones(5), np.ones((5, 1)), np.zeros(5, bool)],
                                          t_train=[np.ones(4), np.full(5, np.nan)], x_eval=[np.ones((2, 2)), None],
                                          n_features=[-1, 2.5], ridge=[-1.0, np.nan], activation=BAD_NAME,
                                          seed=[-1, None])),
}


globals().update(table_tests(TABLE, [mlp], homes=[gradcheck.__name__, universal.__name__]))


