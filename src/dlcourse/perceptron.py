"""Chapter 1: the threshold neuron and Rosenblatt's perceptron rule.

Notation (as in Didoni (2022), ch. 2): an input x = [x_1, ..., x_I] gets a constant x_0 = 1 in front,
so the bias is the weight w_0 and the neuron computes the weighted sum w . x = sum_{i=0}^{I} w_i x_i.
The neuron fires (+1) when w . x > 0 and outputs -1 otherwise; targets t are in {-1, +1}.

The perceptron rule changes w only on a mistake: w <- w + eta * t * x. One *epoch* is one pass over
the data in its given order; :func:`perceptron_train` counts the passes it made, including the final
pass without mistakes that proves convergence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .validation import (as_float_array, as_int_array, as_rng, check_choice, check_float, check_positive,
                         check_positive_int)

GATE_NAMES = ("AND", "OR", "NAND", "NOR", "XOR", "NOT")
_OVERFLOW = "the weighted sums w . x overflowed; rescale the inputs or the weights"


def _as_inputs(X, name: str = "X") -> np.ndarray:
    X = as_float_array(X, name)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"{name} must have shape (N, I) with N, I >= 1, got shape {X.shape}")
    return X


def _check_signs(values: np.ndarray, name: str) -> np.ndarray:
    """Refuse any entry other than -1 and +1 (``values`` is already a float array)."""
    if not np.all(np.abs(values) == 1):
        raise ValueError(f"{name} must hold only -1 and +1, got values {np.unique(values)[:8]}")
    return values


def _as_targets(t, n: int, name: str = "t") -> np.ndarray:
    t = as_float_array(t, name)
    if t.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one target per row of X, got shape {t.shape}")
    return _check_signs(t, name)


def _as_weights(w, n_weights: int, name: str = "w") -> np.ndarray:
    return as_float_array(w, name, shape=(n_weights,))


def _fire(z: np.ndarray) -> np.ndarray:
    """+1 where z > 0, else -1; an overflowed weighted sum is an error, not a silent -1."""
    if not np.all(np.isfinite(z)):
        raise ValueError(_OVERFLOW)
    return np.where(z > 0, 1.0, -1.0)


def _finite_weights(w: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(w)):
        raise ValueError("the weights overflowed float64 during training; rescale X or use a smaller eta")
    return w


def with_bias(X) -> np.ndarray:
    """Prepend the constant input x_0 = 1 to every row: (N, I) -> (N, I + 1)."""
    X = _as_inputs(X)
    return np.hstack([np.ones((X.shape[0], 1)), X])


def perceptron_predict(X, w) -> np.ndarray:
    """Outputs of a threshold neuron: y_n = +1 if w . x_n > 0 else -1, with x_0 = 1.

    X: (N, I) inputs without the constant column; w: (I + 1,) with the bias weight w_0 first.
    Returns (N,) floats in {-1, +1}.
    """
    X = _as_inputs(X)
    w = _as_weights(w, X.shape[1] + 1)
    with np.errstate(over="ignore", invalid="ignore"):  # _fire reports an overflow as an error
        return _fire(with_bias(X) @ w)


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Truth table of a Boolean gate: inputs in {0, 1} in the order 00, 01, 10, 11, targets in {-1, +1}.

    ``NOT`` has one input (rows 0, 1); the others have two. Returns X: (4, 2) or (2, 1) and t: (4,) or (2,).
    """
    check_choice(name, "name", GATE_NAMES)
    if name == "NOT":
        return np.array([[0.0], [1.0]]), np.array([1.0, -1.0])
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    a, b = X[:, 0].astype(bool), X[:, 1].astype(bool)
    truth = {"AND": a & b, "OR": a | b, "NAND": ~(a & b), "NOR": ~(a | b), "XOR": a ^ b}[name]
    return X, np.where(truth, 1.0, -1.0)


def _check_training_args(X, t, eta, max_epochs, w_init):
    X = _as_inputs(X)
    t = _as_targets(t, X.shape[0])
    eta, max_epochs = check_positive(eta, "eta"), check_positive_int(max_epochs, "max_epochs")
    n_weights = X.shape[1] + 1
    w = np.zeros(n_weights) if w_init is None else _as_weights(w_init, n_weights, "w_init")
    return with_bias(X), t, eta, max_epochs, w


def _epoch(X_aug: np.ndarray, t: np.ndarray, w: np.ndarray, eta: float) -> tuple[np.ndarray, int]:
    """One pass in the given order; returns the new weights and the number of mistakes made."""
    mistakes = 0
    for x, target in zip(X_aug, t):
        output = 1.0 if w @ x > 0 else -1.0
        if output != target:
            w = w + eta * target * x  # the perceptron rule, applied only on a mistake
            mistakes += 1
    return w, mistakes


def perceptron_train(X, t, eta: float = 1.0, max_epochs: int = 100, w_init=None) -> tuple[np.ndarray, int]:
    """Train a perceptron online with w <- w + eta * t_n * x_n on each mistake, x_0 = 1.

    X: (N, I), t: (N,) in {-1, +1}; w_init: (I + 1,) (default all zeros). Samples are visited in
    row order every epoch. Stops after the first epoch without a mistake.
    Returns (w: (I + 1,), epochs): epochs counts every pass made, the final error-free one included,
    and equals ``max_epochs`` when the data were never fitted.
    """
    X_aug, t, eta, max_epochs, w = _check_training_args(X, t, eta, max_epochs, w_init)
    for epoch in range(1, max_epochs + 1):
        w, mistakes = _epoch(X_aug, t, w, eta)
        if mistakes == 0:
            return _finite_weights(w), epoch
    return _finite_weights(w), max_epochs


@dataclass
class PerceptronHistory:
    """Weights before the first epoch and after each epoch (E + 1, I + 1), mistakes per epoch (E,)."""

    weights: np.ndarray
    mistakes: np.ndarray

    def __post_init__(self):
        self.weights = as_float_array(self.weights, "weights", ndim=2)
        self.mistakes = as_int_array(self.mistakes, "mistakes", ndim=1)
        if len(self.weights) != len(self.mistakes) + 1:
            raise ValueError(f"weights must have one row more than mistakes (E + 1 and E), "
                             f"got {len(self.weights)} and {len(self.mistakes)}")

    @property
    def converged(self) -> bool:
        """True when the last epoch recorded made no mistake."""
        return bool(len(self.mistakes) and self.mistakes[-1] == 0)


def perceptron_history(X, t, eta: float = 1.0, max_epochs: int = 100, w_init=None) -> PerceptronHistory:
    """Same training as :func:`perceptron_train`, recording the weights after every epoch."""
    X_aug, t, eta, max_epochs, w = _check_training_args(X, t, eta, max_epochs, w_init)
    weights, mistakes = [w], []
    for _ in range(max_epochs):
        w, n_mistakes = _epoch(X_aug, t, w, eta)
        weights.append(w)
        mistakes.append(n_mistakes)
        if n_mistakes == 0:
            break
    _finite_weights(w)
    return PerceptronHistory(np.array(weights), np.array(mistakes, dtype=np.int64))


def novikoff_bound(X, t, u) -> tuple[float, float, float]:
    """Novikoff's bound on the number of perceptron mistakes: (R / gamma)^2.

    R = max_n ||x_n|| and gamma = min_n t_n (u . x_n) / ||u||, both with x_0 = 1, for a vector u that
    separates the data (gamma > 0). Valid for training from w = 0 with any eta > 0.
    Returns (R, gamma, bound).
    """
    X_aug = with_bias(X)
    t = _as_targets(t, X_aug.shape[0])
    u = _as_weights(u, X_aug.shape[1], "u")
    if not np.any(u):
        raise ValueError("u must be a non-zero vector")
    u = u / np.max(np.abs(u))  # gamma does not depend on the scale of u; this keeps ||u|| from over/underflowing
    u /= np.linalg.norm(u)
    scale = np.max(np.abs(X_aug))  # >= 1 because of x_0 = 1
    radius = float(scale * np.max(np.linalg.norm(X_aug / scale, axis=1)))
    gamma = float(np.min(t * (X_aug @ u)))
    if gamma <= 0:
        raise ValueError(f"u does not separate the data with a positive margin (gamma = {gamma:.3g})")
    return radius, gamma, (radius / gamma) ** 2


def make_separable(n: int, dim: int = 2, margin: float = 0.1, seed: int = 0):
    """Linearly separable data: x uniform in [-1, 1]^dim, t = sign(u . x) for a random unit teacher u.

    Points with |u . x| < margin (x_0 = 1 included) are redrawn, so u separates with margin >= ``margin``.
    Returns X: (n, dim), t: (n,) in {-1, +1}, u: (dim + 1,) with ||u|| = 1.
    """
    n, dim = check_positive_int(n, "n"), check_positive_int(dim, "dim")
    margin = check_float(margin, "margin", minimum=0.0, maximum=1.0, strict_maximum=True)
    rng = as_rng(seed)
    u = rng.normal(size=dim + 1)
    u[0] *= 0.3  # a small bias keeps the boundary inside the box, so both classes usually appear
    u /= np.linalg.norm(u)
    rows: list[np.ndarray] = []
    for _ in range(1000):  # the kept fraction is > 0 for margin < 1, but may be tiny close to 1
        X = rng.uniform(-1, 1, size=(4 * n, dim))
        keep = np.abs(with_bias(X) @ u) >= margin
        rows.extend(X[keep])
        if len(rows) >= n:
            break
    else:
        raise ValueError(f"margin={margin} leaves too few points of the box for this teacher; lower it or change seed")
    X = np.array(rows[:n])
    return X, np.where(with_bias(X) @ u > 0, 1.0, -1.0), u


def add_product_feature(X) -> np.ndarray:
    """Feature lift for XOR: [x_1, x_2] -> [x_1, x_2, x_1 * x_2]; X: (N, 2) -> (N, 3)."""
    X = _as_inputs(X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    return np.hstack([X, X[:, :1] * X[:, 1:]])


def threshold_network_predict(X, hidden_weights, output_weights) -> np.ndarray:
    """A two-layer network of threshold units: h = step(W_h [1, x]), y = step(w_o . [1, h]).

    X: (N, I); hidden_weights: (J, I + 1), one neuron per row; output_weights: (J + 1,).
    Hidden outputs are in {-1, +1}, like every neuron here. Returns (N,) in {-1, +1}.
    """
    X = _as_inputs(X)
    hidden_weights = as_float_array(hidden_weights, "hidden_weights")
    if hidden_weights.ndim != 2 or hidden_weights.shape[0] == 0 or hidden_weights.shape[1] != X.shape[1] + 1:
        raise ValueError(f"hidden_weights must have shape (J, {X.shape[1] + 1}) with J >= 1, "
                         f"got shape {hidden_weights.shape}")
    output_weights = _as_weights(output_weights, len(hidden_weights) + 1, "output_weights")
    H = np.column_stack([perceptron_predict(X, w) for w in hidden_weights])  # (N, J)
    return perceptron_predict(H, output_weights)


class TorchPerceptron(nn.Module):
    """A threshold neuron as an ``nn.Module``: one weight vector (I + 1,) with the bias w_0 first."""

    def __init__(self, n_inputs: int, w_init=None):
        super().__init__()
        n_inputs = check_positive_int(n_inputs, "n_inputs")
        if w_init is None:
            init = torch.zeros(n_inputs + 1, dtype=torch.float64)
        else:
            init = torch.from_numpy(_as_weights(w_init, n_inputs + 1, "w_init"))  # a fresh copy
        self.weight = nn.Parameter(init)

    def _as_batch(self, x) -> torch.Tensor:
        """x: (N, I) as a finite tensor of the weight's dtype and device (a tensor keeps its graph)."""
        n_inputs = self.weight.shape[0] - 1
        if not isinstance(x, torch.Tensor):
            x = torch.from_numpy(as_float_array(x, "x"))
        if x.dtype == torch.bool or x.is_complex():
            raise ValueError(f"x must hold real numbers, got dtype {x.dtype}")
        if x.dim() != 2 or x.shape[1] != n_inputs:
            raise ValueError(f"x must have shape (N, {n_inputs}), got shape {tuple(x.shape)}")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite, got NaN or infinite entries")
        return x.to(device=self.weight.device, dtype=self.weight.dtype)

    def _weighted_sum(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight[0] + x @ self.weight[1:]

    def weighted_sum(self, x: torch.Tensor) -> torch.Tensor:
        """w . [1, x] for a batch x: (N, I) -> (N,)."""
        return self._weighted_sum(self._as_batch(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """+1 where w . [1, x] > 0, else -1: (N, I) -> (N,)."""
        z = self.weighted_sum(x)
        if not bool(torch.isfinite(z).all()):
            raise ValueError(_OVERFLOW)
        return torch.where(z > 0, torch.ones_like(z), -torch.ones_like(z))


def perceptron_train_torch(X, t, eta: float = 1.0, max_epochs: int = 100, w_init=None):
    """The perceptron rule in PyTorch: SGD with lr = eta on the perceptron criterion of each mistake.

    On a mistake the loss -t (w . x) has gradient -t x, so one ``torch.optim.SGD`` step is exactly
    w <- w + eta t x. Same conventions, checks and return values as :func:`perceptron_train`
    (w as a NumPy array).
    """
    X_aug, t_np, eta, max_epochs, w = _check_training_args(X, t, eta, max_epochs, w_init)
    model = TorchPerceptron(X_aug.shape[1] - 1, w)
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    inputs, targets = torch.from_numpy(X_aug[:, 1:]), t_np.tolist()
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(inputs, targets):
            z = model._weighted_sum(x[None])[0]
            if (1.0 if z > 0 else -1.0) != target:
                optimizer.zero_grad()
                (-target * z).backward()  # the perceptron criterion of one mistake
                optimizer.step()
                mistakes += 1
        if mistakes == 0:
            break
    return _finite_weights(model.weight.detach().numpy().copy()), epoch
