"""Chapter 1: the threshold neuron and Rosenblatt's perceptron rule.

Notation (seed 001, ch. 2): an input x = [x_1, ..., x_I] gets a constant x_0 = 1 in front, so the
bias is the weight w_0 and the neuron computes the weighted sum w . x = sum_{i=0}^{I} w_i x_i.
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

GATE_NAMES = ("AND", "OR", "NAND", "NOR", "XOR", "NOT")


def _as_inputs(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, I) with N >= 1, got {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    return X


def _as_targets(t, n: int) -> np.ndarray:
    t = np.asarray(t)
    if t.shape != (n,):
        raise ValueError(f"t must have shape ({n},), one target per row of X, got {t.shape}")
    if not np.all(np.isin(t, (-1, 1))):
        raise ValueError(f"t must hold only -1 and +1, got values {np.unique(t)}")
    return t.astype(np.float64)


def _as_weights(w, n_weights: int, name: str = "w") -> np.ndarray:
    w = np.asarray(w)
    if w.dtype.kind not in "biuf" or w.shape != (n_weights,):
        raise ValueError(f"{name} must be a numeric vector of shape ({n_weights},) = (I + 1,), "
                         f"got shape {w.shape} and dtype {w.dtype}")
    return w.astype(np.float64)


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
    return np.where(with_bias(X) @ w > 0, 1.0, -1.0)


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Truth table of a Boolean gate: inputs in {0, 1} in the order 00, 01, 10, 11, targets in {-1, +1}.

    ``NOT`` has one input (rows 0, 1); the others have two. Returns X: (4, 2) or (2, 1) and t: (4,) or (2,).
    """
    if name not in GATE_NAMES:
        raise ValueError(f"gate must be one of {GATE_NAMES}, got {name!r}")
    if name == "NOT":
        return np.array([[0.0], [1.0]]), np.array([1.0, -1.0])
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    a, b = X[:, 0].astype(bool), X[:, 1].astype(bool)
    truth = {"AND": a & b, "OR": a | b, "NAND": ~(a & b), "NOR": ~(a | b), "XOR": a ^ b}[name]
    return X, np.where(truth, 1.0, -1.0)


def _check_training_args(X, t, eta, max_epochs, w_init):
    X = _as_inputs(X)
    t = _as_targets(t, X.shape[0])
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be a positive number, got {eta!r}")
    if int(max_epochs) != max_epochs or max_epochs < 1:
        raise ValueError(f"max_epochs must be an integer >= 1, got {max_epochs!r}")
    n_weights = X.shape[1] + 1
    w = np.zeros(n_weights) if w_init is None else _as_weights(w_init, n_weights, "w_init").copy()
    return with_bias(X), t, float(eta), int(max_epochs), w


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
            return w, epoch
    return w, max_epochs


@dataclass
class PerceptronHistory:
    """Weights before the first epoch and after each epoch (E + 1, I + 1), mistakes per epoch (E,)."""

    weights: np.ndarray
    mistakes: np.ndarray

    @property
    def converged(self) -> bool:
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
    return PerceptronHistory(np.array(weights), np.array(mistakes, dtype=int))


def novikoff_bound(X, t, u) -> tuple[float, float, float]:
    """Novikoff's bound on the number of perceptron mistakes: (R / gamma)^2.

    R = max_n ||x_n|| and gamma = min_n t_n (u . x_n) / ||u||, both with x_0 = 1, for a vector u that
    separates the data (gamma > 0). Valid for training from w = 0 with any eta > 0.
    Returns (R, gamma, bound).
    """
    X_aug = with_bias(X)
    t = _as_targets(t, X_aug.shape[0])
    u = _as_weights(u, X_aug.shape[1], "u")
    norm = np.linalg.norm(u)
    if norm == 0:
        raise ValueError("u must be a non-zero vector")
    radius = float(np.max(np.linalg.norm(X_aug, axis=1)))
    gamma = float(np.min(t * (X_aug @ u)) / norm)
    if gamma <= 0:
        raise ValueError(f"u does not separate the data with a positive margin (gamma = {gamma:.3g})")
    return radius, gamma, (radius / gamma) ** 2


def make_separable(n: int, dim: int = 2, margin: float = 0.1, seed: int = 0):
    """Linearly separable data: x uniform in [-1, 1]^dim, t = sign(u . x) for a random unit teacher u.

    Points with |u . x| < margin (x_0 = 1 included) are redrawn, so u separates with margin >= ``margin``.
    Returns X: (n, dim), t: (n,) in {-1, +1}, u: (dim + 1,) with ||u|| = 1.
    """
    if n < 1 or dim < 1:
        raise ValueError(f"n and dim must be >= 1, got n={n}, dim={dim}")
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    rng = np.random.default_rng(seed)
    u = rng.normal(size=dim + 1)
    u[0] *= 0.3  # a small bias keeps the boundary inside the box, so both classes appear
    u /= np.linalg.norm(u)
    rows: list[np.ndarray] = []
    while len(rows) < n:
        X = rng.uniform(-1, 1, size=(4 * n, dim))
        keep = np.abs(with_bias(X) @ u) >= margin
        rows.extend(X[keep])
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
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    if hidden_weights.ndim != 2 or hidden_weights.shape[1] != X.shape[1] + 1:
        raise ValueError(f"hidden_weights must have shape (J, {X.shape[1] + 1}), got {hidden_weights.shape}")
    H = np.column_stack([perceptron_predict(X, w) for w in hidden_weights])  # (N, J)
    return perceptron_predict(H, output_weights)


class TorchPerceptron(nn.Module):
    """A threshold neuron as an ``nn.Module``: one weight vector (I + 1,) with the bias w_0 first."""

    def __init__(self, n_inputs: int, w_init=None):
        super().__init__()
        if w_init is None:
            init = torch.zeros(n_inputs + 1, dtype=torch.float64)
        else:
            init = torch.as_tensor(_as_weights(w_init, n_inputs + 1, "w_init")).clone()
        self.weight = nn.Parameter(init)

    def weighted_sum(self, x: torch.Tensor) -> torch.Tensor:
        """w . [1, x] for a batch x: (N, I) -> (N,)."""
        return self.weight[0] + x @ self.weight[1:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """+1 where w . [1, x] > 0, else -1: (N, I) -> (N,)."""
        z = self.weighted_sum(x)
        return torch.where(z > 0, torch.ones_like(z), -torch.ones_like(z))


def perceptron_train_torch(X, t, eta: float = 1.0, max_epochs: int = 100, w_init=None):
    """The perceptron rule in PyTorch: SGD with lr = eta on the perceptron criterion of each mistake.

    On a mistake the loss -t (w . x) has gradient -t x, so one ``torch.optim.SGD`` step is exactly
    w <- w + eta t x. Same conventions and return values as :func:`perceptron_train` (w as a NumPy array).
    """
    X_aug, t_np, eta, max_epochs, w = _check_training_args(X, t, eta, max_epochs, w_init)
    model = TorchPerceptron(X_aug.shape[1] - 1, w)
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    inputs, targets = torch.from_numpy(X_aug[:, 1:]), torch.from_numpy(t_np)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(inputs, targets):
            if model(x[None])[0] != target:
                optimizer.zero_grad()
                loss = -target * model.weighted_sum(x[None])[0]  # perceptron criterion of one mistake
                loss.backward()
                optimizer.step()
                mistakes += 1
        if mistakes == 0:
            return model.weight.detach().numpy().copy(), epoch
    return model.weight.detach().numpy().copy(), max_epochs
