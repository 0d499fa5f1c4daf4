"""Chapter 2: activation functions, their derivatives, and the numerically stable softmax.

Notation (as in Didoni 2022, ch. 3.1): a neuron computes the pre-activation ``z = w . a + b`` and
outputs ``a = sigma(z)``; backpropagation needs ``sigma'(z)``. Every function here works element-wise
on an array of any shape (empty and 0-d included), except :func:`softmax` and :func:`log_softmax`,
which normalise along one axis (the class axis, last by default).

Inputs: real numbers (ints or floats, any memory layout; NaN, infinity and booleans are refused with
a ``ValueError``). float32 (and float16) input gives float32 output, anything else float64; the
result is always a new array, never a view of the input.

Conventions at the kinks (the same as PyTorch's autograd, so the two can be compared):
``relu'(0) = 0`` and ``leaky_relu'(0) = alpha``; ``elu'(0) = alpha`` (= 1 for the default alpha = 1).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .validation import as_float_array, check_choice, check_float, check_int

Activation = Callable[[np.ndarray], np.ndarray]
_SINGLE = ("float16", "float32", "torch.float16", "torch.float32")


def _as_real(z: Any, name: str = "z", **checks: Any) -> np.ndarray:
    """``z`` as a finite, C-contiguous, owned float array: float32 (or float16) in gives float32, else float64.

    ``checks`` go to :func:`dlcourse.validation.as_float_array` (``ndim``, ``shape``, ``allow_empty``).
    """
    out = as_float_array(z, name, **checks)
    return out.astype(np.float32) if str(getattr(z, "dtype", "")) in _SINGLE else out


def sigmoid(z) -> np.ndarray:
    """Logistic sigmoid sigma(z) = 1 / (1 + e^{-z}), computed without overflow for any z.

    With e = e^{-|z|} (never above 1): sigma(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    """
    z = _as_real(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype)


def sigmoid_grad(z) -> np.ndarray:
    """sigma'(z) = sigma(z) (1 - sigma(z)); its maximum is exactly 1/4, at z = 0.

    Computed as e / (1 + e)^2 with e = e^{-|z|}: the form s (1 - s) cancels to 0 once s rounds to 1
    (z > 37), while the true value e^{-z} is still far above the smallest float.
    """
    z = _as_real(z)
    e = np.exp(-np.abs(z))
    return (e / (1.0 + e) ** 2).astype(z.dtype)


def tanh(z) -> np.ndarray:
    """Hyperbolic tangent tanh(z) = (e^z - e^{-z}) / (e^z + e^{-z}) = 2 sigma(2z) - 1."""
    return np.tanh(_as_real(z))


def tanh_grad(z) -> np.ndarray:
    """tanh'(z) = 1 - tanh(z)^2; its maximum is 1, at z = 0.

    Computed as 4 e / (1 + e)^2 with e = e^{-2|z|}, which equals 1 - tanh^2 but does not cancel to 0
    for |z| > 19, where tanh(z) rounds to +-1.
    """
    z = _as_real(z)
    e = np.exp(-2.0 * np.abs(z))
    return (4.0 * e / (1.0 + e) ** 2).astype(z.dtype)


def relu(z) -> np.ndarray:
    """Rectified linear unit relu(z) = max(0, z)."""
    z = _as_real(z)
    return np.maximum(z, 0.0).astype(z.dtype)


def relu_grad(z) -> np.ndarray:
    """relu'(z) = 1 for z > 0 and 0 for z <= 0 (0 at the kink, as in PyTorch)."""
    z = _as_real(z)
    return (z > 0).astype(z.dtype)


def leaky_relu(z, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z for z > 0, alpha z for z <= 0 (alpha is PyTorch's ``negative_slope``)."""
    z, alpha = _as_real(z), check_float(alpha, "alpha")
    return np.where(z > 0, z, alpha * z).astype(z.dtype)


def leaky_relu_grad(z, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 for z > 0, alpha for z <= 0."""
    z, alpha = _as_real(z), check_float(alpha, "alpha")
    return np.where(z > 0, 1.0, alpha).astype(z.dtype)


def elu(z, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: z for z > 0, alpha (e^z - 1) for z <= 0."""
    z, alpha = _as_real(z), check_float(alpha, "alpha")
    # expm1 is accurate near 0; clipping at 0 keeps exp from overflowing on the branch np.where discards
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))).astype(z.dtype)


def elu_grad(z, alpha: float = 1.0) -> np.ndarray:
    """Derivative of ELU: 1 for z > 0, alpha e^z for z <= 0."""
    z, alpha = _as_real(z), check_float(alpha, "alpha")
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype)


def identity(z) -> np.ndarray:
    """The linear output unit g(z) = z (regression)."""
    return _as_real(z)


def identity_grad(z) -> np.ndarray:
    """g'(z) = 1."""
    return np.ones_like(_as_real(z))


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
    return ACTIVATIONS[check_choice(name, "activation", ACTIVATIONS)]


def activation_and_grad(z, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (sigma(z), sigma'(z)) for the activation called ``name``; same shape as ``z``.

    Names: "sigmoid", "tanh", "relu", "leaky_relu" (alpha = 0.01), "elu" (alpha = 1), "identity".
    """
    forward, derivative = get_activation(name)
    return forward(z), derivative(z)


def _scores(z, axis: int, what: str) -> tuple[np.ndarray, int]:
    z, axis = _as_real(z), check_int(axis, "axis")
    if z.ndim == 0:
        raise ValueError(f"z of {what} must have at least one axis of scores, got a scalar")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {z.shape}")
    if z.shape[axis] == 0:
        raise ValueError(f"z of {what} needs at least one score along axis {axis}, got shape {z.shape}")
    return z, axis


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log softmax(z)_k = (z_k - m) - log sum_j e^{z_j - m}, with m = max_j z_j (never overflows).

    z: scores (logits), e.g. (N, K); the result has the same shape and float dtype.
    """
    z, axis = _scores(z, axis, "log_softmax")
    with np.errstate(over="ignore"):  # z_k - m below -1.8e308 rounds to -inf: log p_k is below that too
        shifted = z - np.max(z, axis=axis, keepdims=True)  # largest entry becomes 0: e^{shifted} <= 1
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z, axis: int = -1) -> np.ndarray:
    """softmax(z)_k = e^{z_k - m} / sum_j e^{z_j - m} with m = max_j z_j; rows sum to 1.

    Subtracting m changes nothing mathematically (it cancels) but keeps every exponent <= 0.
    """
    z, axis = _scores(z, axis, "softmax")
    with np.errstate(over="ignore"):
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def naive_softmax(z, axis: int = -1) -> np.ndarray:
    """softmax without the max-shift: e^{z_k} / sum_j e^{z_j}. For teaching only: overflows to nan."""
    z, axis = _scores(z, axis, "naive_softmax")
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / np.sum(e, axis=axis, keepdims=True)
