"""Why deep networks are hard to train: initialisation, vanishing and exploding gradients, iterated maps,
residual connections, ill-conditioning, and the figures of chapter 3's explorers.

A deep MLP here is D square layers of width W without biases: z^l = h^{l-1} (W^l)^T,
h^l = f(z^l) (plain) or h^l = h^{l-1} + f(z^l) (residual), fed with standard normal inputs, and
backpropagated from a fixed random gradient G at the top (the loss L = sum(h^D * G) / N), so that
only the depth, the activation and the initialisation decide what reaches the bottom layers.
"""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from .optim import optimise_path
from .validation import (as_float_array, check_bool, check_choice, check_float, check_int, check_positive,
                         check_positive_int)

INITS = ("small", "xavier", "he")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")

# ---------------------------------------------------------------- initialisation


def init_std(fan_in: int, fan_out: int, scheme: str) -> float:
    """The standard deviation of N(0, s^2) weights under an initialisation scheme.

    'small': s = 0.01; 'xavier' (Glorot and Bengio 2010): s = sqrt(2 / (fan_in + fan_out)), which keeps the
    variance of activations and of gradients about constant for tanh-like units; 'he' (He et al. 2015):
    s = sqrt(2 / fan_in), which keeps E[h^2] constant for ReLU units, because ReLU zeroes half of z.
    """
    fan_in, fan_out = check_positive_int(fan_in, "fan_in"), check_positive_int(fan_out, "fan_out")
    scheme = check_choice(scheme, "scheme", INITS)
    return {"small": 0.01, "xavier": np.sqrt(2.0 / (fan_in + fan_out)), "he": np.sqrt(2.0 / fan_in)}[scheme]


def _act(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "tanh":
        a = np.tanh(z)
        return a, 1.0 - a * a
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float)
    if name == "sigmoid":
        a = 0.5 * (1.0 + np.tanh(0.5 * z))
        return a, a * (1.0 - a)
    return z, np.ones_like(z)


def deep_mlp_statistics(depth: int, width: int = 64, activation: str = "tanh", init: str = "xavier",
                        residual: bool = False, n: int = 256, seed: int = 0) -> dict:
    """Per-layer statistics of a deep square MLP at initialisation, forward and backward, from scratch.

    Returns a dict of (depth,) arrays: 'activation_std' std of h^l, 'delta_std' std of dL/dz^l,
    'grad_norm' Frobenius norm of dL/dW^l (layer 1 first), and the weights 'weights' (list) and the
    inputs 'x' (N, W) and top gradient 'G' (N, W) used, so that another implementation can redo it.
    """
    depth, width = check_positive_int(depth, "depth"), check_positive_int(width, "width")
    activation, init = check_choice(activation, "activation", ACTIVATIONS), check_choice(init, "init", INITS)
    residual, n = check_bool(residual, "residual"), check_positive_int(n, "n")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    s = init_std(width, width, init)
    weights = [s * rng.normal(size=(width, width)) for _ in range(depth)]
    x, G = rng.normal(size=(n, width)), rng.normal(size=(n, width))
    hs, slopes = [x], []
    with np.errstate(over="ignore", invalid="ignore"):
        for W in weights:
            a, slope = _act(activation, hs[-1] @ W.T)
            hs.append(hs[-1] + a if residual else a)
            slopes.append(slope)
        dh = G / n
        deltas, grads = [None] * depth, [None] * depth
        for l in range(depth - 1, -1, -1):
            deltas[l] = dh * slopes[l]
            grads[l] = deltas[l].T @ hs[l]
            dh = (dh if residual else 0.0) + deltas[l] @ weights[l]
    return {"activation_std": np.array([h.std() for h in hs[1:]]),
            "delta_std": np.array([d.std() for d in deltas]),
            "grad_norm": np.array([np.linalg.norm(g) for g in grads]), "weights": weights, "x": x, "G": G}


def plot_gradient_norms(depth: int = 20, activation: str = "tanh", init: str = "xavier") -> plt.Figure:
    """Explorer figure: std of the activations and norm of dL/dW per layer, plain and residual (log scale)."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    layers = np.arange(1, check_positive_int(depth, "depth") + 1)
    for residual, colour, marker in ((False, "tab:red", "o"), (True, "tab:blue", "s")):
        stats = deep_mlp_statistics(depth, 64, activation, init, residual=residual)
        label = "residual" if residual else "plain"
        for ax, key in zip(axes, ("activation_std", "grad_norm")):
            values = np.where(np.isfinite(stats[key]) & (stats[key] > 0), stats[key], np.nan)
            ax.semilogy(layers, values, marker=marker, color=colour, ms=4, label=label)
    axes[0].set(xlabel="layer l", ylabel="std of activations h^l", title="forward: activations")
    axes[1].set(xlabel="layer l", ylabel="||dL/dW^l||", title="backward: weight gradients")
    for ax in axes:
        ax.legend()
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"{depth} layers of width 64, {activation}, {init} initialisation")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the sigmoid chain


def scalar_chain(weights, biases=None, x0: float = 0.5, activation: str = "sigmoid") -> tuple[float, float]:
    """d a_L / d a_0 of a chain of single units a_l = f(w_l a_{l-1} + b_l), and the product of the f'(z_l).

    d a_L / d a_0 = prod_l w_l f'(z_l). For the sigmoid f' <= 1/4, so the product of the derivatives
    alone is at most 0.25^L, but the weights multiply in too: with |w_l| > 4 (and biases that keep
    z_l near 0) the chain grows instead. weights, biases: (L,); biases default to 0.
    """
    weights = as_float_array(weights, "weights", ndim=1, allow_empty=False)
    biases = np.zeros_like(weights) if biases is None else as_float_array(biases, "biases", shape=weights.shape)
    a = check_float(x0, "x0")
    activation = check_choice(activation, "activation", ACTIVATIONS)
    gradient, derivatives = 1.0, 1.0
    for w, b in zip(weights, biases):
        a, slope = _act(activation, np.array(w * a + b))
        gradient, derivatives = gradient * w * float(slope), derivatives * float(slope)
    return gradient, derivatives


# ---------------------------------------------------------------- fixed points and the logistic map


def logistic_orbit(r: float, x0: float, steps: int) -> np.ndarray:
    """The orbit x_0, x_1, ..., x_steps of the logistic map x_{t+1} = r x_t (1 - x_t); (steps + 1,)."""
    r = check_float(r, "r", minimum=0.0, maximum=4.0)
    x = check_float(x0, "x0", minimum=0.0, maximum=1.0)
    out = [x]
    for _ in range(check_positive_int(steps, "steps")):
        x = r * x * (1.0 - x)
        out.append(x)
    return np.array(out)


def logistic_fixed_points(r: float) -> list[tuple[float, float]]:
    """The fixed points x* = r x* (1 - x*) in [0, 1] with their slopes f'(x*) = r (1 - 2 x*).

    x* = 0 (slope r) and, for r > 1, x* = 1 - 1/r (slope 2 - r). A fixed point attracts when |f'| < 1
    and repels when |f'| > 1: at r = 3.5 both repel (slopes 3.5 and -1.5).
    """
    r = check_float(r, "r", minimum=0.0, maximum=4.0)
    points = [(0.0, r)]
    if r > 1.0:
        points.append((1.0 - 1.0 / r, 2.0 - r))
    return points


def attracting_cycle(r: float, x0: float = 0.2, transient: int = 2000, max_period: int = 64,
                     tol: float = 1e-9) -> tuple[np.ndarray, float]:
    """The attracting cycle the orbit settles on (its points, smallest first) and its multiplier.

    The multiplier prod_i f'(x_i) = prod_i r (1 - 2 x_i) has |.| < 1 for an attracting cycle. Raises
    ValueError if no period up to ``max_period`` is found (chaos, or too short a transient).
    """
    max_period = check_positive_int(max_period, "max_period")
    orbit = logistic_orbit(r, x0, check_positive_int(transient, "transient") + 3 * max_period)[transient:]
    for period in range(1, max_period + 1):
        if np.all(np.abs(orbit[period:2 * period + period] - orbit[:2 * period]) < tol):
            cycle = np.sort(orbit[:period])
            return cycle, float(np.prod(r * (1.0 - 2.0 * cycle)))
    raise ValueError(f"no attracting cycle of period <= {max_period} found at r = {r} (chaos?)")


def plot_cobweb(r: float = 3.5, x0: float = 0.2, steps: int = 60) -> plt.Figure:
    """Explorer figure: the cobweb of x -> r x (1 - x) from x0, and the orbit against time."""
    orbit = logistic_orbit(r, x0, steps)
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(9.5, 4.0))
    grid = np.linspace(0, 1, 201)
    ax.plot(grid, r * grid * (1 - grid), color="black", lw=2, label="f(x) = r x (1 - x)")
    ax.plot([0, 1], [0, 1], color="gray", ls="--", label="y = x")
    # (x_0, 0) -> (x_0, x_1) -> (x_1, x_1) -> (x_1, x_2) -> ...: up to the curve, across to the diagonal
    web_x = np.repeat(orbit, 2)[:-1]
    web_y = np.concatenate([[0.0], np.repeat(orbit[1:], 2)])
    ax.plot(web_x, web_y, color="tab:blue", lw=0.8, label="orbit")
    for x_star, slope in logistic_fixed_points(r):
        kind = "attracts" if abs(slope) < 1 else "repels"
        ax.plot(x_star, x_star, "o", ms=8, color="tab:green" if kind == "attracts" else "tab:red",
                label=f"x* = {x_star:.3f}, f' = {slope:.2f} ({kind})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="x_t", ylabel="x_{t+1}", title=f"cobweb, r = {r:g}")
    ax.legend(fontsize=7, loc="upper left")
    ax_t.plot(orbit, "o-", ms=3, color="tab:blue")
    ax_t.set(xlabel="step t", ylabel="x_t", ylim=(0, 1), title="orbit")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- ill-conditioning and optimiser paths


def elongated_quadratic(condition: float = 50.0) -> tuple[Callable, Callable]:
    """f(x) = (x_1^2 + kappa x_2^2) / 2 and its gradient: Hessian diag(1, kappa), condition number kappa."""
    kappa = check_float(condition, "condition", minimum=1.0)
    scales = np.array([1.0, kappa])
    return (lambda x: 0.5 * np.sum(scales * np.asarray(x) ** 2, axis=-1)), (lambda x: scales * x)


OPTIMISER_STYLES = {"sgd": ("tab:red", "o"), "momentum": ("tab:blue", "s"), "nesterov": ("tab:purple", "D"),
                    "rmsprop": ("tab:orange", "^"), "adam": ("tab:green", "v")}


def plot_optimiser_paths(optimiser: str = "sgd", lr: float = 0.03, steps: int = 50,
                         condition: float = 50.0) -> plt.Figure:
    """Explorer figure: the path of one optimiser on the elongated quadratic, over its contour lines."""
    optimiser = check_choice(optimiser, "optimiser", tuple(OPTIMISER_STYLES))
    f, grad = elongated_quadratic(condition)
    path = optimise_path(optimiser, grad, [-4.0, 1.5], check_positive(lr, "lr"), steps)
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    xs, ys = np.meshgrid(np.linspace(-4.5, 4.5, 200), np.linspace(-2, 2, 200))
    ax.contour(xs, ys, f(np.stack([xs, ys], axis=-1)), levels=np.geomspace(0.02, 60, 12), cmap="Greys",
               linewidths=0.8)
    colour, marker = OPTIMISER_STYLES[optimiser]
    shown = path[np.all(np.abs(path) < 10, axis=1)]
    ax.plot(shown[:, 0], shown[:, 1], marker=marker, ms=3, color=colour, lw=1.2, label=optimiser)
    ax.plot(0, 0, "k*", ms=12, label="minimum")
    ax.set(xlim=(-4.5, 4.5), ylim=(-2, 2), xlabel="x_1", ylabel="x_2",
           title=f"{optimiser}, lr = {lr:g}, kappa = {condition:g}")
    ax.legend(loc="lower right", fontsize=8)
    losses = f(path)
    ax_loss.semilogy(np.arange(len(path)), np.maximum(losses, 1e-16), color=colour, marker=marker, ms=3)
    ax_loss.set(xlabel="step", ylabel="f(x_t)", title=f"loss after {len(path) - 1} steps: {losses[-1]:.2g}")
    ax_loss.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
