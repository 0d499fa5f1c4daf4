"""Chapter 2: activation functions, their derivatives, and the numerically stable softmax.

Notation (seed 001 ch. 3.1, seed 000): a neuron computes the pre-activation ``z = w . a + b`` and
outputs ``a = sigma(z)``; backpropagation needs ``sigma'(z)``. Every function here works element-wise
on an array of any shape, except :func:`softmax` and :func:`log_softmax`, which normalise along one
axis (the class axis, last by default).

Conventions at the kinks (the same as PyTorch's autograd, so the two can be compared):
``relu'(0) = 0`` and ``leaky_relu'(0) = alpha``; ``elu'(0) = alpha`` (= 1 for the default alpha = 1).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


def _as_float_array(z, name: str = "z") -> np.ndarray:
    z = np.asarray(z)
    if z.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {z.dtype}")
    return z.astype(np.float64) if z.dtype.kind != "f" else z


def sigmoid(z) -> np.ndarray:
    """Logistic sigmoid sigma(z) = 1 / (1 + e^{-z}), computed without overflow for any z.

    For z < 0 it uses the equal form e^{z} / (1 + e^{z}), so exp never sees a large positive argument.
    """
    z = _as_float_array(z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def sigmoid_grad(z) -> np.ndarray:
    """sigma'(z) = sigma(z) (1 - sigma(z)); its maximum is exactly 1/4, at z = 0."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z) -> np.ndarray:
    """Hyperbolic tangent tanh(z) = (e^z - e^{-z}) / (e^z + e^{-z}) = 2 sigma(2z) - 1."""
    return np.tanh(_as_float_array(z))


def tanh_grad(z) -> np.ndarray:
    """tanh'(z) = 1 - tanh(z)^2; its maximum is 1, at z = 0."""
    t = tanh(z)
    return 1.0 - t * t


def relu(z) -> np.ndarray:
    """Rectified linear unit relu(z) = max(0, z)."""
    z = _as_float_array(z)
    return np.maximum(z, 0.0)


def relu_grad(z) -> np.ndarray:
    """relu'(z) = 1 for z > 0 and 0 for z <= 0 (0 at the kink, as in PyTorch)."""
    z = _as_float_array(z)
    return (z > 0).astype(z.dtype)


def leaky_relu(z, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z for z > 0, alpha z for z <= 0 (alpha is PyTorch's ``negative_slope``)."""
    z = _as_float_array(z)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 for z > 0, alpha for z <= 0."""
    z = _as_float_array(z)
    return np.where(z > 0, 1.0, alpha).astype(z.dtype)


def elu(z, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: z for z > 0, alpha (e^z - 1) for z <= 0."""
    z = _as_float_array(z)
    # expm1 is accurate near 0; clipping at 0 keeps exp from overflowing on the branch np.where discards
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_grad(z, alpha: float = 1.0) -> np.ndarray:
    """Derivative of ELU: 1 for z > 0, alpha e^z for z <= 0."""
    z = _as_float_array(z)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype)


def identity(z) -> np.ndarray:
    """The linear output unit g(z) = z (regression)."""
    return _as_float_array(z).copy()


def identity_grad(z) -> np.ndarray:
    """g'(z) = 1."""
    return np.ones_like(_as_float_array(z))


ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "elu": (elu, elu_grad),
    "identity": (identity, identity_grad),
}


def get_activation(name: str) -> tuple[Activation, Activation]:
    """The pair (sigma, sigma') registered under ``name`` (see :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def activation_and_grad(z, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (sigma(z), sigma'(z)) for the activation called ``name``; same shape as ``z``.

    Names: "sigmoid", "tanh", "relu", "leaky_relu" (alpha = 0.01), "elu" (alpha = 1), "identity".
    """
    forward, derivative = get_activation(name)
    return forward(z), derivative(z)


def _check_axis(z: np.ndarray, axis: int) -> None:
    if z.ndim == 0:
        raise ValueError("softmax needs at least one axis of scores, got a scalar")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {z.shape}")
    if z.shape[axis] == 0:
        raise ValueError(f"softmax needs at least one score along axis {axis}, got shape {z.shape}")


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log softmax(z)_k = (z_k - m) - log sum_j e^{z_j - m}, with m = max_j z_j (never overflows).

    z: scores (logits), e.g. (N, K); the result has the same shape.
    """
    z = _as_float_array(z)
    _check_axis(z, axis)
    shifted = z - np.max(z, axis=axis, keepdims=True)  # largest entry becomes 0: e^{shifted} <= 1
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z, axis: int = -1) -> np.ndarray:
    """softmax(z)_k = e^{z_k - m} / sum_j e^{z_j - m} with m = max_j z_j; rows sum to 1.

    Subtracting m changes nothing mathematically (it cancels) but keeps every exponent <= 0.
    """
    z = _as_float_array(z)
    _check_axis(z, axis)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def naive_softmax(z, axis: int = -1) -> np.ndarray:
    """softmax without the max-shift: e^{z_k} / sum_j e^{z_j}. For teaching only: overflows to nan."""
    z = _as_float_array(z)
    _check_axis(z, axis)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / np.sum(e, axis=axis, keepdims=True)
