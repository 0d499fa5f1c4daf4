"""Chapter 2: the multi-layer perceptron, its losses and backpropagation (BP1-BP4), in NumPy and PyTorch.

Notation (seed 000's backprop section, in matrix form for a mini-batch of N examples):

* layer l has n_l units; W^l has shape (n_l, n_{l-1}), so w^l_{jk} links unit k of layer l-1 to unit
  j of layer l (the layout of ``torch.nn.Linear.weight``); b^l has shape (n_l,).
* examples are rows: A^0 = X is (N, n_0), Z^l = A^{l-1} (W^l)^T + b^l and A^l = sigma(Z^l) are (N, n_l).
  The output layer L is linear: Z^L are the scores (logits) the loss turns into probabilities.
* the cost is a mean over the batch, C = (1/N) sum_n C_n, and Delta^l = dC/dZ^l is (N, n_l).

  BP1  Delta^L = dC/dA^L * sigma'(Z^L)             (= (Yhat - T) / N for the three matched losses)
  BP2  Delta^l = (Delta^{l+1} W^{l+1}) * sigma'(Z^l)
  BP3  dC/db^l = sum_n Delta^l[n, :]
  BP4  dC/dW^l = (Delta^l)^T A^{l-1}               (= sum_n delta_n^l (a_n^{l-1})^T, shape (n_l, n_{l-1}))
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .activations import get_activation, log_softmax, sigmoid, softmax

Params = list[tuple[np.ndarray, np.ndarray]]  # [(W^1, b^1), ..., (W^L, b^L)]
LOSSES = ("cross_entropy", "bce", "mse")


def _as_matrix(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf" or X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a numeric array of shape (N, features) with N >= 1, "
                         f"got shape {X.shape} and dtype {X.dtype}")
    return X.astype(np.float64) if X.dtype.kind != "f" else X


def _as_labels(y, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(f"y must be integer class labels of shape ({n},), got shape {y.shape} and dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got values from {y.min()} to {y.max()}")
    return y


def one_hot(y, n_classes: int) -> np.ndarray:
    """One-hot targets: T[n, k] = 1 if y_n = k else 0. y: (N,) ints in 0..K-1 -> T: (N, K) float64."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a vector of labels of shape (N,), got shape {y.shape}")
    y = _as_labels(y, len(y), n_classes)
    T = np.zeros((len(y), n_classes))
    T[np.arange(len(y)), y] = 1.0
    return T


# --- losses: negative log-likelihoods (seed 001, 3.3) ---------------------------------------------

def gaussian_nll(mean, t, sigma: float = 1.0) -> float:
    """-log prod_n N(t_n | g_n, sigma^2) = sum_n (t_n - g_n)^2 / (2 sigma^2) + N log(sqrt(2 pi) sigma).

    The first term is the squared error scaled by 1/(2 sigma^2); the second does not depend on the
    network, so maximising the Gaussian likelihood and minimising the squared error give the same weights.
    """
    mean, t = np.asarray(mean, dtype=float), np.asarray(t, dtype=float)
    if mean.shape != t.shape:
        raise ValueError(f"mean and t must have the same shape, got {mean.shape} and {t.shape}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return float(np.sum((t - mean) ** 2) / (2 * sigma**2) + t.size * np.log(np.sqrt(2 * np.pi) * sigma))


def mse_loss(y_pred, t) -> float:
    """Squared error C = (1 / 2N) sum_n ||yhat_n - t_n||^2 (seed 002's 1/(2N) convention). Shapes (N, ...)."""
    y_pred, t = np.asarray(y_pred, dtype=float), np.asarray(t, dtype=float)
    if y_pred.shape != t.shape or y_pred.ndim == 0:
        raise ValueError(f"y_pred and t must have the same shape (N, ...), got {y_pred.shape} and {t.shape}")
    return float(np.sum((y_pred - t) ** 2) / (2 * len(t)))


def binary_cross_entropy(logits, t) -> float:
    """Mean Bernoulli negative log-likelihood -(1/N) sum_n [t_n log s_n + (1 - t_n) log(1 - s_n)], s = sigma(z).

    Computed from the logits z as max(z, 0) - z t + log(1 + e^{-|z|}), which never takes log(0).
    With several outputs per example (multi-label) the terms of one example are summed, then averaged over N.
    """
    z, t = np.asarray(logits, dtype=float), np.asarray(t, dtype=float)
    if z.shape != t.shape or z.ndim == 0:
        raise ValueError(f"logits and t must have the same shape (N, ...), got {z.shape} and {t.shape}")
    if np.any((t < 0) | (t > 1)):
        raise ValueError("targets t of the binary cross-entropy must lie in [0, 1]")
    return float(np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))) / len(t))


def cross_entropy(logits, y) -> float:
    """Mean categorical negative log-likelihood C = -(1/N) sum_n log softmax(z_n)[y_n].

    logits: (N, K); y: (N,) integer labels, or (N, K) target probabilities (one-hot or soft).
    """
    return log_softmax_cross_entropy(logits, y)[1]


def log_softmax_cross_entropy(logits, y) -> tuple[np.ndarray, float]:
    """Both halves of the classifier's loss: log softmax(Z) row by row, (N, K), and the mean cross-entropy.

    Working with log-probabilities (never with softmax, then log) keeps every term finite: with logits
    [1000, 0] the naive softmax overflows to nan, while log softmax is exactly [0, -1000].
    """
    Z = _as_matrix(logits, "logits")
    log_p = log_softmax(Z, axis=1)
    return log_p, float(-np.sum(_targets_matrix(y, Z.shape) * log_p) / Z.shape[0])


def _targets_matrix(y, shape: tuple[int, int]) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 1:
        return one_hot(_as_labels(y, shape[0], shape[1]), shape[1])
    if y.shape != shape:
        raise ValueError(f"targets must be labels of shape ({shape[0]},) or probabilities of shape {shape}, "
                         f"got {y.shape}")
    return y.astype(float)


def loss_and_output_delta(ZL, targets, loss: str) -> tuple[float, np.ndarray]:
    """The cost C and BP1's Delta^L = dC/dZ^L for a linear output layer followed by ``loss``.

    Each loss comes with its matching output unit, and then dC/dZ^L = (Yhat - T) / N in all three cases:
    "cross_entropy" (softmax, targets: labels (N,) or probabilities (N, K)), "bce" (sigmoid, t in [0, 1])
    and "mse" (identity output, real targets).
    """
    Z = _as_matrix(ZL, "ZL")
    n = Z.shape[0]
    if loss == "cross_entropy":
        T = _targets_matrix(targets, Z.shape).astype(Z.dtype)  # keeps float32 nets in float32
        log_p, cost = log_softmax_cross_entropy(Z, T)
        return cost, (np.exp(log_p) - T) / n
    if np.size(targets) != Z.size:
        raise ValueError(f"targets must have {Z.size} entries to match the outputs {Z.shape}, "
                         f"got shape {np.shape(targets)}")
    T = np.asarray(targets, dtype=Z.dtype).reshape(Z.shape)
    if loss == "bce":
        return binary_cross_entropy(Z, T), (sigmoid(Z) - T) / n
    if loss == "mse":
        return mse_loss(Z, T), (Z - T) / n
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


# --- the NumPy MLP: forward pass and BP1-BP4 ------------------------------------------------------

def init_mlp(layer_sizes: Sequence[int], activation: str = "tanh", seed: int = 0) -> Params:
    """Random weights W^l ~ N(0, g^2 / n_{l-1}) and zero biases for layers of the given sizes.

    The gain g = sqrt(2) for ReLU-like units and 1 otherwise keeps activations at a steady scale from
    layer to layer (chapter 3 derives it). ``layer_sizes = [n_0, ..., n_L]``: inputs first, outputs last.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least an input and an output size, all >= 1, got {list(layer_sizes)}")
    get_activation(activation)
    gain = np.sqrt(2.0) if activation in ("relu", "leaky_relu", "elu") else 1.0
    rng = np.random.default_rng(seed)
    return [(rng.normal(0.0, gain / np.sqrt(n_in), size=(n_out, n_in)), np.zeros(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _check_params(params: Params, n_inputs: int) -> None:
    expected_in = n_inputs
    for l, (W, b) in enumerate(params, start=1):
        if W.ndim != 2 or W.shape[1] != expected_in or b.shape != (W.shape[0],):
            raise ValueError(f"layer {l}: expected W of shape (n_{l}, {expected_in}) and b of shape (n_{l},), "
                             f"got W {W.shape} and b {b.shape}")
        expected_in = W.shape[0]


def mlp_forward(params: Params, X, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """Forward pass: Z^l = A^{l-1} (W^l)^T + b^l, A^l = sigma(Z^l) for hidden layers; the output is linear.

    X: (N, n_0). Returns the scores Z^L: (N, n_L) and a cache {"A": [A^0..A^{L-1}], "Z": [Z^1..Z^L]}
    that the backward pass needs.
    """
    X = _as_matrix(X)
    _check_params(params, X.shape[1])
    sigma, _ = get_activation(activation)
    A, activations, pre_activations = X, [X], []
    for l, (W, b) in enumerate(params, start=1):
        Z = A @ W.T + b  # (N, n_l)
        pre_activations.append(Z)
        if l < len(params):
            A = sigma(Z)
            activations.append(A)
    return pre_activations[-1], {"A": activations, "Z": pre_activations}


def mlp_backward(params: Params, cache: dict, delta_L: np.ndarray, activation: str = "tanh") -> Params:
    """Backward pass: from BP1's Delta^L, apply BP2 down the layers and read off BP3 and BP4.

    Returns [(dC/dW^1, dC/db^1), ..., (dC/dW^L, dC/db^L)], each the shape of its parameter.
    """
    _, sigma_grad = get_activation(activation)
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    delta = delta_L
    for l in range(len(params), 0, -1):
        A_prev = cache["A"][l - 1]
        grads[l - 1] = (delta.T @ A_prev, delta.sum(axis=0))  # BP4 (n_l, n_{l-1}) and BP3 (n_l,)
        if l > 1:
            W = params[l - 1][0]
            delta = (delta @ W) * sigma_grad(cache["Z"][l - 2])  # BP2: (N, n_{l-1})
    return grads


def mlp_loss_and_grads(params: Params, X, targets, activation: str = "tanh",
                       loss: str = "cross_entropy") -> tuple[float, Params]:
    """The cost C on the batch (X, targets) and its gradient with respect to every W^l and b^l."""
    ZL, cache = mlp_forward(params, X, activation)
    cost, delta_L = loss_and_output_delta(ZL, targets, loss)
    return cost, mlp_backward(params, cache, delta_L, activation)


def mlp_predict(params: Params, X, activation: str = "tanh") -> np.ndarray:
    """Predicted class per row: argmax_k Z^L[n, k] (or Z^L > 0 when there is a single output)."""
    ZL, _ = mlp_forward(params, X, activation)
    return (ZL[:, 0] > 0).astype(np.int64) if ZL.shape[1] == 1 else ZL.argmax(axis=1)


def backprop_two_layer(X, Y, W1, b1, W2, b2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a tanh hidden layer + softmax output with the mean cross-entropy, written out.

    H = tanh(X W1^T + b1), P = softmax(H W2^T + b2), C = -(1/N) sum_n sum_k Y_nk log P_nk.
    X: (N, D), Y: (N, K) target probabilities (one-hot), W1: (H, D), b1: (H,), W2: (K, H), b2: (K,).
    Returns (dW1, db1, dW2, db2) with the shapes of (W1, b1, W2, b2).
    """
    X, Y = _as_matrix(X), _as_matrix(Y, "Y")
    _check_params([(np.asarray(W1), np.asarray(b1)), (np.asarray(W2), np.asarray(b2))], X.shape[1])
    if Y.shape != (X.shape[0], np.shape(W2)[0]):
        raise ValueError(f"Y must have shape (N, K) = {(X.shape[0], np.shape(W2)[0])}, got {Y.shape}")
    n = X.shape[0]
    H = np.tanh(X @ W1.T + b1)               # (N, H)
    P = softmax(H @ W2.T + b2, axis=1)       # (N, K)
    delta2 = (P - Y) / n                     # BP1 for softmax + mean cross-entropy
    delta1 = (delta2 @ W2) * (1.0 - H**2)    # BP2 with tanh' = 1 - tanh^2
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ H, delta2.sum(axis=0)  # BP4, BP3 per layer


# --- checking gradients -----------------------------------------------------------------------------

def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central differences: g_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), one entry of x at a time.

    The error is O(eps^2) (forward differences have O(eps)). x: any shape; returns the same shape.
    """
    x = np.array(x, dtype=np.float64)  # a private copy: the caller's array is never touched
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a|, |b|), a scale-free distance between two gradients (0 when both are 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    return float(np.max(np.abs(a - b), initial=0.0) / scale) if scale > 0 else 0.0


def gradient_check(params: Params, X, targets, activation: str = "tanh", loss: str = "cross_entropy",
                   eps: float = 1e-6) -> float:
    """Largest relative error between backprop's gradients and central differences, over all parameters."""
    _, grads = mlp_loss_and_grads(params, X, targets, activation, loss)
    worst = 0.0
    for l, (W, b) in enumerate(params):
        for index, value in enumerate((W, b)):
            def cost(v: np.ndarray, l: int = l, index: int = index) -> float:
                trial = [list(p) for p in params]
                trial[l][index] = v
                return loss_and_output_delta(mlp_forward([tuple(p) for p in trial], X, activation)[0],
                                             targets, loss)[0]
            worst = max(worst, relative_error(grads[l][index], numerical_gradient(cost, value, eps)))
    return worst


# --- the same network in PyTorch ----------------------------------------------------------------------

_TORCH_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity,
                      "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": lambda: nn.ELU(1.0)}


def torch_mlp(layer_sizes: Sequence[int], activation: str = "tanh") -> nn.Sequential:
    """The PyTorch twin: Linear, activation, ..., Linear (the softmax lives in the loss, as in numpy)."""
    if activation not in _TORCH_ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_TORCH_ACTIVATIONS)}, got {activation!r}")
    sizes = [int(s) for s in layer_sizes]
    layers: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        layers.append(nn.Linear(n_in, n_out))
        if l < len(sizes) - 1:
            layers.append(_TORCH_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def torch_mlp_from_params(params: Params, activation: str = "tanh", dtype=torch.float64) -> nn.Sequential:
    """A :func:`torch_mlp` holding copies of the NumPy weights (same layout: W^l is ``Linear.weight``)."""
    sizes = [params[0][0].shape[1]] + [W.shape[0] for W, _ in params]
    model = torch_mlp(sizes, activation).to(dtype)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for linear, (W, b) in zip(linears, params):
            linear.weight.copy_(torch.as_tensor(W, dtype=dtype))
            linear.bias.copy_(torch.as_tensor(b, dtype=dtype))
    return model


def torch_loss_and_grads(params: Params, X, targets, activation: str = "tanh",
                         loss: str = "cross_entropy") -> tuple[float, Params]:
    """The cost and its gradients computed by PyTorch autograd in float64, as NumPy arrays."""
    model = torch_mlp_from_params(params, activation)
    Z = model(torch.as_tensor(np.asarray(X, dtype=np.float64)))
    t = torch.as_tensor(np.asarray(targets))
    if loss == "cross_entropy":
        cost = nn.functional.cross_entropy(Z, t if t.ndim == 1 else t.double())
    elif loss == "bce":
        # sum over outputs, mean over examples, as in binary_cross_entropy (PyTorch's "mean" averages both)
        target = t.double().reshape(Z.shape)
        cost = nn.functional.binary_cross_entropy_with_logits(Z, target, reduction="sum") / Z.shape[0]
    elif loss == "mse":
        cost = 0.5 * nn.functional.mse_loss(Z, t.double().reshape(Z.shape), reduction="sum") / Z.shape[0]
    else:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    cost.backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return float(cost.detach()), [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in linears]


# --- universal approximation: one hidden layer of random units, output weights by least squares -----

def random_hidden_units(x_min: float, x_max: float, n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Slopes w_j and centres c_j of n random hidden units h_j(x) = s(w_j (x - c_j)) on [x_min, x_max].

    Centres are uniform on the interval, so every unit bends somewhere inside it; |w_j| is log-uniform
    between 2 and 50 per interval length, with a random sign. Units are drawn one row at a time, so the
    first m of n units are the m units drawn for n = m: bigger layers extend smaller ones.
    """
    if not (np.isfinite(x_min) and np.isfinite(x_max) and x_max > x_min):
        raise ValueError(f"need finite x_min < x_max, got {x_min} and {x_max}")
    if int(n_features) < 0:
        raise ValueError(f"n_features must be >= 0, got {n_features}")
    u = np.random.default_rng(seed).uniform(size=(int(n_features), 3))  # one row per unit
    centres = x_min + (x_max - x_min) * u[:, 0]
    slopes = np.where(u[:, 1] < 0.5, -1.0, 1.0) * np.exp(np.log(2.0) + u[:, 2] * np.log(25.0)) / (x_max - x_min)
    return slopes, centres


def random_feature_matrix(x, slopes: np.ndarray, centres: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Design matrix Phi = [1, s(w_1 (x - c_1)), ..., s(w_n (x - c_n))]: x (N,) -> Phi (N, n + 1)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector of shape (N,), got {x.shape}")
    sigma, _ = get_activation(activation)
    return np.column_stack([np.ones_like(x), sigma(slopes[None, :] * (x[:, None] - centres[None, :]))])


def random_feature_approximation(x_train, t_train, x_eval, n_features: int, seed: int = 0,
                                 activation: str = "tanh", ridge: float = 1e-10) -> np.ndarray:
    """Fit o(x) = alpha_0 + sum_j alpha_j s(w_j (x - c_j)) to (x_train, t_train); return o(x_eval).

    The hidden units are random and fixed (:func:`random_hidden_units`); only the output weights alpha
    are learned, by least squares with a tiny ridge term: min ||Phi alpha - t||^2 + ridge ||alpha||^2.
    This is the one-hidden-layer network of the universal approximation theorem (Cybenko 1989).
    """
    x_train, t_train = np.asarray(x_train, dtype=float), np.asarray(t_train, dtype=float)
    if x_train.ndim != 1 or t_train.shape != x_train.shape or len(x_train) < 2:
        raise ValueError(f"x_train and t_train must be vectors of the same length >= 2, "
                         f"got {x_train.shape} and {t_train.shape}")
    slopes, centres = random_hidden_units(x_train.min(), x_train.max(), n_features, seed)
    Phi = random_feature_matrix(x_train, slopes, centres, activation)  # (N, n + 1)
    # the ridge term as extra rows keeps lstsq well posed when units are nearly collinear
    A = np.vstack([Phi, np.sqrt(ridge) * np.eye(Phi.shape[1])])
    b = np.concatenate([t_train, np.zeros(Phi.shape[1])])
    alpha = np.linalg.lstsq(A, b, rcond=None)[0]
    return random_feature_matrix(x_eval, slopes, centres, activation) @ alpha
