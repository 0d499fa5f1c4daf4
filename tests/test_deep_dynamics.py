"""Initialisation statistics, the sigmoid chain, the logistic map and the explorer figures, against references."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse import deep_dynamics as dd  # noqa: E402


def test_init_std_matches_torch_init_formulas():
    w = torch.empty(300, 500, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.xavier_normal_(w)
    assert float(w.std()) == pytest.approx(dd.init_std(500, 300, "xavier"), rel=0.01)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")  # fan_in mode: sqrt(2 / fan_in)
    assert float(w.std()) == pytest.approx(dd.init_std(500, 300, "he"), rel=0.01)
    assert dd.init_std(3, 4, "small") == 0.01


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("residual", [False, True])
def test_statistics_forward_and_backward_match_autograd(activation, residual):
    stats = dd.deep_mlp_statistics(6, 8, activation, "xavier", residual=residual, n=10, seed=3)
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda z: z}[activation]
    weights = [torch.tensor(W, requires_grad=True) for W in stats["weights"]]
    h = torch.tensor(stats["x"])
    stds = []
    for W in weights:
        a = f(h @ W.T)
        h = h + a if residual else a
        stds.append(float(h.detach().std(unbiased=False)))
    (h * torch.tensor(stats["G"])).sum().div(10).backward()
    np.testing.assert_allclose(stats["activation_std"], stds, rtol=1e-10)
    np.testing.assert_allclose(stats["grad_norm"], [float(W.grad.norm()) for W in weights], rtol=1e-10)


def test_variance_argument_he_keeps_relu_activations_and_small_init_kills_them():
    he = dd.deep_mlp_statistics(30, 128, "relu", "he")["activation_std"]
    small = dd.deep_mlp_statistics(30, 128, "relu", "small")["activation_std"]
    assert 0.3 < he[-1] / he[0] < 3  # about constant over 30 layers
    assert small[-1] < 1e-30  # 0.01 * sqrt(128 / 2) = 0.08 per layer: gone
    xavier_relu = dd.deep_mlp_statistics(30, 128, "relu", "xavier")["activation_std"]
    assert xavier_relu[-1] / xavier_relu[0] < 1e-3  # a factor sqrt(1/2) per layer: 2^-15 over 30


def test_sigmoid_gradients_vanish_in_a_plain_net_but_not_a_residual_one():
    plain = dd.deep_mlp_statistics(30, 64, "sigmoid", "xavier")["grad_norm"]
    residual = dd.deep_mlp_statistics(30, 64, "sigmoid", "xavier", residual=True)["grad_norm"]
    assert plain[0] / plain[-1] < 1e-10
    assert residual[0] / residual[-1] > 0.05


def test_scalar_chain_matches_autograd_and_the_quarter_bound():
    rng = np.random.default_rng(0)
    w, b = rng.normal(scale=3, size=12), rng.normal(size=12)
    a0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    a = a0
    for wi, bi in zip(w, b):
        a = torch.sigmoid(wi * a + bi)
    a.backward()
    gradient, derivatives = dd.scalar_chain(w, b, 0.3)
    assert gradient == pytest.approx(float(a0.grad), rel=1e-10)
    assert derivatives <= 0.25 ** 12
    amplified, product = dd.scalar_chain(np.full(10, 8.0), np.full(10, -4.0), 0.5)
    assert amplified == pytest.approx(2.0 ** 10) and product == pytest.approx(0.25 ** 10)


def test_logistic_map_fixed_points_and_the_four_cycle_at_3_5():
    points = dd.logistic_fixed_points(3.5)
    assert points[0] == (0.0, 3.5)
    assert points[1][0] == pytest.approx(1 - 1 / 3.5) and points[1][1] == pytest.approx(-1.5)
    cycle, multiplier = dd.attracting_cycle(3.5)
    assert len(cycle) == 4 and abs(multiplier) < 1
    f = lambda x: 3.5 * x * (1 - x)  # noqa: E731
    np.testing.assert_allclose(f(f(f(f(cycle)))), cycle, atol=1e-8)  # a 4-cycle, checked by composing f
    assert not np.allclose(f(f(cycle)), cycle, atol=1e-3)  # and not a 2-cycle
    fixed, slope = dd.attracting_cycle(2.8)
    assert fixed == pytest.approx([1 - 1 / 2.8]) and slope == pytest.approx(2 - 2.8)
    with pytest.raises(ValueError, match="no attracting cycle"):
        dd.attracting_cycle(3.9)


def test_logistic_orbit_values():
    np.testing.assert_allclose(dd.logistic_orbit(2.0, 0.25, 2), [0.25, 0.375, 0.46875], rtol=1e-15)


@pytest.mark.parametrize("fig_fn, kwargs, n_axes", [
    (dd.plot_cobweb, {"r": 3.5}, 2), (dd.plot_cobweb, {"r": 2.5, "x0": 0.9, "steps": 5}, 2),
    (dd.plot_optimiser_paths, {"optimiser": "adam", "lr": 0.3}, 2),
    (dd.plot_optimiser_paths, {"optimiser": "sgd", "lr": 0.2}, 2),  # diverges: still draws
    (dd.plot_gradient_norms, {"depth": 5, "activation": "relu", "init": "he"}, 2),
])
def test_explorer_figures_draw(fig_fn, kwargs, n_axes):
    fig = fig_fn(**kwargs)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == n_axes
    plt.close(fig)


def test_momentum_beats_gradient_descent_on_the_elongated_quadratic():
    from dlcourse.optim import optimise_path

    f, grad = dd.elongated_quadratic(50.0)
    gd = optimise_path("sgd", grad, [-4.0, 1.5], 0.039, 50)  # lr near 2 / kappa: zig-zags across x_2
    assert np.sum(np.diff(np.sign(gd[:, 1])) != 0) > 45  # the sign of x_2 flips at almost every step

    def best(name):
        finals = [f(p[-1]) for lr in np.geomspace(1e-3, 0.2, 25)
                  if len(p := optimise_path(name, grad, [-4.0, 1.5], lr, 50)) == 51]
        return min(finals)

    assert best("momentum") < best("sgd") / 2  # the best learning rate of each, 50 steps
    assert best("nesterov") < best("sgd") / 100


BAD = [
    (lambda: dd.init_std(0, 3, "he"), "fan_in"),
    (lambda: dd.init_std(3, 3, "orthogonal"), "scheme"),
    (lambda: dd.deep_mlp_statistics(0), "depth"),
    (lambda: dd.deep_mlp_statistics(3, activation="gelu"), "activation"),
    (lambda: dd.deep_mlp_statistics(3, residual=1), "residual"),
    (lambda: dd.deep_mlp_statistics(3, n=True), "n must"),
    (lambda: dd.scalar_chain([]), "empty"),
    (lambda: dd.scalar_chain([1.0, np.nan]), "finite"),
    (lambda: dd.scalar_chain([1.0, 2.0], [0.0]), "biases"),
    (lambda: dd.logistic_orbit(4.5, 0.2, 3), "r must"),
    (lambda: dd.logistic_orbit(3.0, 1.2, 3), "x0"),
    (lambda: dd.logistic_orbit(3.0, 0.2, 0), "steps"),
    (lambda: dd.logistic_fixed_points("3"), "r must"),
    (lambda: dd.elongated_quadratic(0.5), "condition"),
    (lambda: dd.plot_optimiser_paths("lbfgs"), "optimiser"),
    (lambda: dd.plot_optimiser_paths("sgd", lr=0.0), "lr"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
