"""Chapter 2: the multi-layer perceptron, its losses and backpropagation (BP1-BP4), in NumPy and PyTorch.

Notation (the chapter's, in matrix form for a mini-batch of N examples):

* layer l has n_l units; W^l has shape (n_l, n_{l-1}), so w^l_{jk} links unit k of layer l-1 to unit
  j of layer l (the layout of ``torch.nn.Linear.weight``); b^l has shape (n_l,).
* examples are rows: A^0 = X is (N, n_0), Z^l = A^{l-1} (W^l)^T + b^l and A^l = sigma(Z^l) are (N, n_l).
  The output layer L is linear: Z^L are the scores (logits) the loss turns into probabilities.
* the cost is a mean over the batch, C = (1/N) sum_n C_n, and Delta^l = dC/dZ^l is (N, n_l).

  BP1  Delta^L = dC/dA^L * sigma'(Z^L)             (= (Yhat - T) / N for the three matched losses)
  BP2  Delta^l = (Delta^{l+1} W^{l+1}) * sigma'(Z^l)
  BP3  dC/db^l = sum_n Delta^l[n, :]
  BP4  dC/dW^l = (Delta^l)^T A^{l-1}               (= sum_n delta_n^l (a_n^{l-1})^T, shape (n_l, n_{l-1}))

Every public function validates its inputs (finite real arrays of the documented shapes, any memory
layout; an empty batch, NaN weights or targets that do not pair up with the outputs raise a
``ValueError``). The NumPy functions and their PyTorch twins accept and reject the same inputs.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .activations import _as_real, get_activation, log_softmax, sigmoid, softmax
from .gradcheck import numerical_gradient, relative_error  # noqa: F401  (re-exported)
from .validation import (as_float_array, as_labels, check_choice, check_int, check_positive,
                         check_positive_int, check_same_shape)

Params = list[tuple[np.ndarray, np.ndarray]]  # [(W^1, b^1), ..., (W^L, b^L)]
LOSSES = ("cross_entropy", "bce", "mse")


# --- validation shared by the NumPy functions and their PyTorch twins ---------------------------------

def _as_sizes(sizes: Any, name: str, min_len: int = 2) -> list[int]:
    """A list of layer widths: integers >= 1 (never bools or floats), at least ``min_len`` of them."""
    if not isinstance(sizes, (list, tuple, range, np.ndarray)):
        raise ValueError(f"{name} must be a list of integer widths, got {type(sizes).__name__} {sizes!r}")
    widths = [check_positive_int(s, f"{name}[{i}]") for i, s in enumerate(sizes)]
    if len(widths) < min_len:
        raise ValueError(f"{name} needs at least {min_len} widths (inputs first, outputs last), got {list(sizes)}")
    return widths


def _as_params(params: Any, n_inputs: int | None = None) -> Params:
    """[(W^1, b^1), ...] as finite float arrays whose shapes chain: W^l (n_l, n_{l-1}), b^l (n_l,)."""
    if not isinstance(params, (list, tuple)) or not params:
        raise ValueError(f"params must be a non-empty list of (W, b) pairs, got {type(params).__name__}")
    checked, expected = [], n_inputs
    for l, pair in enumerate(params, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"params[{l - 1}] must be a pair (W^{l}, b^{l}), got {type(pair).__name__}")
        W, b = _as_real(pair[0], f"W^{l}", ndim=2, allow_empty=False), _as_real(pair[1], f"b^{l}", ndim=1)
        expected = W.shape[1] if expected is None else expected
        if W.shape[1] != expected or b.shape != (W.shape[0],):
            raise ValueError(f"layer {l}: expected W of shape (n_{l}, {expected}) and b of shape (n_{l},), "
                             f"got W {W.shape} and b {b.shape}")
        checked.append((W, b))
        expected = W.shape[0]
    return checked


def _as_batch(X: Any, name: str = "X") -> np.ndarray:
    """A non-empty batch of examples, one per row: (N, features), finite; float32 stays float32."""
    return _as_real(X, name, ndim=2, allow_empty=False)


def _check_probabilities(T: np.ndarray, name: str) -> None:
    sums = T.sum(axis=1)
    if np.any((T < 0) | (T > 1)) or not np.allclose(sums, 1.0, rtol=0, atol=1e-5):
        raise ValueError(f"{name} given as probabilities must lie in [0, 1] with every row summing to 1 "
                         f"(the gradient (P - T) / N needs it), got values from {T.min():.6g} to {T.max():.6g} "
                         f"and row sums from {sums.min():.6g} to {sums.max():.6g}")


def _targets_matrix(y: Any, shape: tuple[int, int], name: str = "targets") -> np.ndarray:
    """Class targets as an (N, K) matrix: labels (N,) become one-hot rows, probabilities (N, K) stay."""
    n, k = shape
    if np.ndim(y) == 1:
        return one_hot(as_labels(y, name, k, n), k)
    T = _as_real(y, name)
    if T.shape != shape:
        raise ValueError(f"{name} must be labels of shape ({n},) or probabilities of shape {shape}, got {T.shape}")
    _check_probabilities(T, name)
    return T


def _as_targets(targets: Any, shape: tuple[int, int], loss: str) -> np.ndarray:
    """Targets of ``loss`` paired entry by entry with outputs of ``shape`` (N, K): an (N, K) float matrix.

    Only exact shapes pair up: (N, K), or (N,) labels for the cross-entropy, or (N,) when K = 1.
    A transposed (K, N) target is refused, never reshaped into the wrong pairs.
    """
    if check_choice(loss, "loss", LOSSES) == "cross_entropy":
        return _targets_matrix(targets, shape)
    T = _as_real(targets, "targets")
    n, k = shape
    if k == 1 and T.shape == (n,):
        T = T.reshape(n, 1)  # one output per example: targets (N,) pair with outputs (N, 1)
    if T.shape != shape:
        extra = f" or ({n},)" if k == 1 else ""
        raise ValueError(f"targets must have the shape of the outputs {shape}{extra}, got {T.shape}")
    if loss == "bce":
        _check_unit_interval(T)
    return T


def _check_unit_interval(t: np.ndarray) -> None:
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"targets t of the binary cross-entropy must lie in [0, 1], "
                         f"got values from {t.min():.6g} to {t.max():.6g}")


def _prepare(params, X, targets, activation: str, loss: str):
    """Validated (params, X, T) for a loss on a batch; T is (N, n_L) and pairs with the outputs."""
    get_activation(activation)
    X = _as_batch(X)
    params = _as_params(params, X.shape[1])
    return params, X, _as_targets(targets, (X.shape[0], params[-1][0].shape[0]), loss)


def one_hot(y, n_classes: int) -> np.ndarray:
    """One-hot targets: T[n, k] = 1 if y_n = k else 0. y: (N,) ints in 0..K-1 -> T: (N, K) float64."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y = as_labels(y, "y", n_classes)
    T = np.zeros((len(y), n_classes))
    T[np.arange(len(y)), y] = 1.0
    return T


# --- losses: negative log-likelihoods (Didoni 2022, sec. 3.3) -------------------------------------

def _pair(a, b, name_a: str, name_b: str, min_ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_float_array(a, name_a, allow_empty=False), as_float_array(b, name_b, allow_empty=False)
    check_same_shape(a, b, name_a, name_b)  # entries pair up one to one: no broadcasting
    if a.ndim < min_ndim:
        raise ValueError(f"{name_a} and {name_b} must be arrays of shape (N, ...), got scalars")
    return a, b


def gaussian_nll(mean, t, sigma: float = 1.0) -> float:
    """-log prod_n N(t_n | g_n, sigma^2) = sum_n (t_n - g_n)^2 / (2 sigma^2) + N log(sqrt(2 pi) sigma).

    The first term is the squared error scaled by 1/(2 sigma^2); the second does not depend on the
    network, so maximising the Gaussian likelihood and minimising the squared error give the same weights.
    mean and t: the same shape (any, non-empty); N counts all their entries. Residuals are divided by
    sigma before squaring, so sigma = 1e-200 does not underflow sigma^2 to 0.
    """
    mean, t = _pair(mean, t, "mean", "t", min_ndim=0)
    sigma = check_positive(sigma, "sigma")
    return float(np.sum(((t - mean) / sigma) ** 2) / 2 + t.size * (0.5 * np.log(2 * np.pi) + np.log(sigma)))


def _mse(y_pred: np.ndarray, t: np.ndarray) -> float:
    return float(np.sum((y_pred - t) ** 2) / (2 * len(t)))


def mse_loss(y_pred, t) -> float:
    """Squared error C = (1 / 2N) sum_n ||yhat_n - t_n||^2 (the 1/(2N) convention of Barcelo Ordinas et al.

    2024). y_pred and t: the same shape (N, ...), N >= 1.
    """
    return _mse(*_pair(y_pred, t, "y_pred", "t"))


def _bce(z: np.ndarray, t: np.ndarray) -> float:
    return float(np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))) / len(t))


def binary_cross_entropy(logits, t) -> float:
    """Mean Bernoulli negative log-likelihood -(1/N) sum_n [t_n log s_n + (1 - t_n) log(1 - s_n)], s = sigma(z).

    Computed from the logits z as max(z, 0) - z t + log(1 + e^{-|z|}), which never takes log(0).
    With several outputs per example (multi-label) the terms of one example are summed, then averaged over N.
    logits and t: the same shape (N, ...), t in [0, 1].
    """
    z, t = _pair(logits, t, "logits", "t")
    _check_unit_interval(t)
    return _bce(z, t)


def cross_entropy(logits, y) -> float:
    """Mean categorical negative log-likelihood C = -(1/N) sum_n log softmax(z_n)[y_n].

    logits: (N, K); y: (N,) integer labels, or (N, K) target probabilities (rows in [0, 1] summing to 1).
    """
    return log_softmax_cross_entropy(logits, y)[1]


def log_softmax_cross_entropy(logits, y) -> tuple[np.ndarray, float]:
    """Both halves of the classifier's loss: log softmax(Z) row by row, (N, K), and the mean cross-entropy.

    Working with log-probabilities (never with softmax, then log) keeps every term finite: with logits
    [1000, 0] the naive softmax overflows to nan, while log softmax is exactly [0, -1000].
    """
    Z = _as_batch(logits, "logits")
    T = _targets_matrix(y, Z.shape, "y")
    log_p = log_softmax(Z, axis=1)
    return log_p, float(-np.sum(T * log_p) / Z.shape[0])


def _loss_and_delta(Z: np.ndarray, T: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """The cost and Delta^L = (Yhat - T) / N for validated outputs Z and targets T, both (N, K)."""
    n, T_net = Z.shape[0], T.astype(Z.dtype)  # Delta keeps float32 nets in float32; costs sum in float64
    if loss == "cross_entropy":
        log_p = log_softmax(Z, axis=1)
        return float(-np.sum(T * log_p) / n), (np.exp(log_p) - T_net) / n
    cost = (_bce if loss == "bce" else _mse)(Z.astype(np.float64), T_net.astype(np.float64))
    return cost, ((sigmoid(Z) if loss == "bce" else Z) - T_net) / n


def loss_and_output_delta(ZL, targets, loss: str) -> tuple[float, np.ndarray]:
    """The cost C and BP1's Delta^L = dC/dZ^L for a linear output layer followed by ``loss``.

    Each loss comes with its matching output unit, and then dC/dZ^L = (Yhat - T) / N in all three cases:
    "cross_entropy" (softmax, targets: labels (N,) or probabilities (N, K)), "bce" (sigmoid, t in [0, 1])
    and "mse" (identity output, real targets). Targets of "bce"/"mse" have the shape of ZL, (N, K), or
    (N,) when K = 1.
    """
    check_choice(loss, "loss", LOSSES)
    Z = _as_batch(ZL, "ZL")
    return _loss_and_delta(Z, _as_targets(targets, Z.shape, loss), loss)


# --- the NumPy MLP: forward pass and BP1-BP4 ------------------------------------------------------

def init_mlp(layer_sizes: Sequence[int], activation: str = "tanh", seed: int = 0) -> Params:
    """Random weights W^l ~ N(0, g^2 / n_{l-1}) and zero biases for layers of the given sizes.

    The gain g = sqrt(2) for ReLU-like units and 1 otherwise keeps activations at a steady scale from
    layer to layer (chapter 3 derives it). ``layer_sizes = [n_0, ..., n_L]``: inputs first, outputs last.
    """
    sizes = _as_sizes(layer_sizes, "layer_sizes")
    get_activation(activation)
    gain = np.sqrt(2.0) if activation in ("relu", "leaky_relu", "elu") else 1.0
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    return [(rng.normal(0.0, gain / np.sqrt(n_in), size=(n_out, n_in)), np.zeros(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _forward(params: Params, X: np.ndarray, activation: str) -> tuple[np.ndarray, dict]:
    sigma, _ = get_activation(activation)
    A, activations, pre_activations = X, [X], []
    for l, (W, b) in enumerate(params, start=1):
        Z = A @ W.T + b  # (N, n_l)
        pre_activations.append(Z)
        if l < len(params):
            A = sigma(Z)
            activations.append(A)
    return pre_activations[-1], {"A": activations, "Z": pre_activations}


def mlp_forward(params: Params, X, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """Forward pass: Z^l = A^{l-1} (W^l)^T + b^l, A^l = sigma(Z^l) for hidden layers; the output is linear.

    X: (N, n_0). Returns the scores Z^L: (N, n_L) and a cache {"A": [A^0..A^{L-1}], "Z": [Z^1..Z^L]}
    that the backward pass needs.
    """
    get_activation(activation)
    X = _as_batch(X)
    return _forward(_as_params(params, X.shape[1]), X, activation)


def _backward(params: Params, cache: dict, delta_L: np.ndarray, activation: str) -> Params:
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


def _as_cache(cache: Any, params: Params) -> dict:
    L = len(params)
    if not isinstance(cache, dict) or not all(isinstance(cache.get(k), (list, tuple)) for k in "AZ") \
            or len(cache["A"]) != L or len(cache["Z"]) != L:
        raise ValueError(f"cache must be the dict of mlp_forward: 'A' with {L} arrays A^0..A^{L - 1} and "
                         f"'Z' with {L} arrays Z^1..Z^{L}")
    n = _as_batch(cache["A"][0], "cache['A'][0]").shape[0]
    return {"A": [_as_real(a, f"cache['A'][{l}]", shape=(n, W.shape[1])) for l, (a, (W, _)) in
                  enumerate(zip(cache["A"], params))],
            "Z": [_as_real(z, f"cache['Z'][{l}]", shape=(n, W.shape[0])) for l, (z, (W, _)) in
                  enumerate(zip(cache["Z"], params))]}


def mlp_backward(params: Params, cache: dict, delta_L: np.ndarray, activation: str = "tanh") -> Params:
    """Backward pass: from BP1's Delta^L, apply BP2 down the layers and read off BP3 and BP4.

    delta_L: (N, n_L), the shape of Z^L (a (N,) vector is refused even when n_L = 1: BP4 would lose
    its outer product). Returns [(dC/dW^1, dC/db^1), ..., (dC/dW^L, dC/db^L)], each the shape of its
    parameter.
    """
    get_activation(activation)
    params = _as_params(params)
    cache = _as_cache(cache, params)
    delta_L = _as_real(delta_L, "delta_L", shape=cache["Z"][-1].shape)
    return _backward(params, cache, delta_L, activation)


def mlp_loss_and_grads(params: Params, X, targets, activation: str = "tanh",
                       loss: str = "cross_entropy") -> tuple[float, Params]:
    """The cost C on the batch (X, targets) and its gradient with respect to every W^l and b^l."""
    params, X, T = _prepare(params, X, targets, activation, loss)
    ZL, cache = _forward(params, X, activation)
    cost, delta_L = _loss_and_delta(ZL, T, loss)
    return cost, _backward(params, cache, delta_L, activation)


def _predict(ZL: np.ndarray) -> np.ndarray:
    return (ZL[:, 0] > 0).astype(np.int64) if ZL.shape[1] == 1 else ZL.argmax(axis=1)


def mlp_predict(params: Params, X, activation: str = "tanh") -> np.ndarray:
    """Predicted class per row: argmax_k Z^L[n, k] (or Z^L > 0 when there is a single output). (N,) int64."""
    return _predict(mlp_forward(params, X, activation)[0])


def backprop_two_layer(X, Y, W1, b1, W2, b2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a tanh hidden layer + softmax output with the mean cross-entropy, written out.

    H = tanh(X W1^T + b1), P = softmax(H W2^T + b2), C = -(1/N) sum_n sum_k Y_nk log P_nk.
    X: (N, D), Y: (N, K) target probabilities (one-hot, rows summing to 1), W1: (H, D), b1: (H,),
    W2: (K, H), b2: (K,). Returns (dW1, db1, dW2, db2) with the shapes of (W1, b1, W2, b2).
    """
    X = as_float_array(X, "X", ndim=2, allow_empty=False)
    (W1, b1), (W2, b2) = _as_params([(W1, b1), (W2, b2)], X.shape[1])
    Y = as_float_array(Y, "Y")
    if Y.shape != (X.shape[0], W2.shape[0]):
        raise ValueError(f"Y must have shape (N, K) = {(X.shape[0], W2.shape[0])}, got {Y.shape}")
    _check_probabilities(Y, "Y")
    n = X.shape[0]
    H = np.tanh(X @ W1.T + b1)               # (N, H)
    P = softmax(H @ W2.T + b2, axis=1)       # (N, K)
    delta2 = (P - Y) / n                     # BP1 for softmax + mean cross-entropy
    delta1 = (delta2 @ W2) * (1.0 - H**2)    # BP2 with tanh' = 1 - tanh^2
    return delta1.T @ X, delta1.sum(axis=0), delta2.T @ H, delta2.sum(axis=0)  # BP4, BP3 per layer


# --- checking gradients (numerical_gradient and relative_error live in dlcourse.gradcheck) --------

def gradient_check(params: Params, X, targets, activation: str = "tanh", loss: str = "cross_entropy",
                   eps: float = 1e-6) -> float:
    """Largest relative error between backprop's gradients and central differences, over all parameters.

    Returns ``inf`` when backprop produces a NaN or infinite entry: such a gradient is never correct.
    """
    params, X, T = _prepare(params, X, targets, activation, loss)
    eps = check_positive(eps, "eps")
    ZL, cache = _forward(params, X, activation)
    grads = _backward(params, cache, _loss_and_delta(ZL, T, loss)[1], activation)
    if not all(np.all(np.isfinite(g)) for pair in grads for g in pair):
        return math.inf
    worst = 0.0
    for l, (W, b) in enumerate(params):
        for index, value in enumerate((W, b)):
            def cost(v: np.ndarray, l: int = l, index: int = index) -> float:
                trial = [list(p) for p in params]
                trial[l][index] = v
                return _loss_and_delta(_forward(trial, X, activation)[0], T, loss)[0]
            worst = max(worst, relative_error(grads[l][index], numerical_gradient(cost, value, eps)))
    return worst


# --- the same network in PyTorch ----------------------------------------------------------------------

_TORCH_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity,
                      "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": lambda: nn.ELU(1.0)}


def torch_mlp(layer_sizes: Sequence[int], activation: str = "tanh") -> nn.Sequential:
    """The PyTorch twin: Linear, activation, ..., Linear (the softmax lives in the loss, as in numpy)."""
    sizes = _as_sizes(layer_sizes, "layer_sizes")
    make_activation = _TORCH_ACTIVATIONS[check_choice(activation, "activation", _TORCH_ACTIVATIONS)]
    layers: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        layers.append(nn.Linear(n_in, n_out))
        if l < len(sizes) - 1:
            layers.append(make_activation())
    return nn.Sequential(*layers)


def torch_mlp_from_params(params: Params, activation: str = "tanh", dtype=torch.float64) -> nn.Sequential:
    """A :func:`torch_mlp` holding copies of the NumPy weights (same layout: W^l is ``Linear.weight``).

    Accepts exactly the params :func:`mlp_forward` accepts; dtype: torch.float32 or torch.float64.
    """
    params = _as_params(params)
    dtype = check_choice(dtype, "dtype", (torch.float32, torch.float64))
    model = torch_mlp([params[0][0].shape[1]] + [W.shape[0] for W, _ in params], activation).to(dtype)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for linear, (W, b) in zip(linears, params):
            linear.weight.copy_(torch.as_tensor(W, dtype=dtype))
            linear.bias.copy_(torch.as_tensor(b, dtype=dtype))
    return model


def torch_loss_and_grads(params: Params, X, targets, activation: str = "tanh",
                         loss: str = "cross_entropy") -> tuple[float, Params]:
    """The cost and its gradients computed by PyTorch autograd in float64, as NumPy arrays.

    Validates exactly as :func:`mlp_loss_and_grads`, so the twins accept and reject the same inputs.
    """
    params, X, T = _prepare(params, X, targets, activation, loss)
    model = torch_mlp_from_params(params, activation)
    Z, t = model(torch.as_tensor(X, dtype=torch.float64)), torch.as_tensor(T, dtype=torch.float64)
    if loss == "cross_entropy":
        cost = nn.functional.cross_entropy(Z, t)  # t: (N, K) probabilities (one-hot for labels)
    elif loss == "bce":
        # sum over outputs, mean over examples, as in binary_cross_entropy (PyTorch's "mean" averages both)
        cost = nn.functional.binary_cross_entropy_with_logits(Z, t, reduction="sum") / Z.shape[0]
    else:
        cost = 0.5 * nn.functional.mse_loss(Z, t, reduction="sum") / Z.shape[0]
    cost.backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return float(cost.detach()), [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in linears]


from .universal import random_feature_approximation, random_feature_matrix, random_hidden_units  # noqa: E402,F401
