"""Batch normalisation from scratch: the forward pass, its backward pass, running statistics, folding.

For a mini-batch X of shape (N, D) (N examples, D features), Ioffe and Szegedy (2015, Algorithm 1)
normalise each feature over the batch and then scale and shift it:

    mu = (1/N) sum_n x_n,   sigma^2 = (1/N) sum_n (x_n - mu)^2   (the biased variance),
    x_hat = (x - mu) / sqrt(sigma^2 + eps),   y = gamma x_hat + beta.

The backward pass is the paper's six equations (dy = dL/dy, all sums over the batch):

    dx_hat = dy gamma
    dsigma^2 = sum_n dx_hat_n (x_n - mu) (-1/2) (sigma^2 + eps)^(-3/2)
    dmu = -sum_n dx_hat_n / sqrt(sigma^2 + eps) + dsigma^2 (-2/N) sum_n (x_n - mu)
    dx = dx_hat / sqrt(sigma^2 + eps) + dsigma^2 2 (x - mu) / N + dmu / N
    dgamma = sum_n dy_n x_hat_n,   dbeta = sum_n dy_n.

At inference the batch statistics are replaced by running averages, so BN is an affine map per
feature and can be folded into the preceding Linear or convolution (:func:`fold_batchnorm`).
"""
from __future__ import annotations

import numpy as np

from .validation import as_float_array, check_float, check_non_negative


def _features(x, name: str = "x") -> np.ndarray:
    x = as_float_array(x, name, ndim=2)
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, D) with N >= 1 and D >= 1, got {x.shape}")
    return x


def _per_feature(value, name: str, d: int) -> np.ndarray:
    """A scalar or a (D,) vector, returned as a (D,) array."""
    array = as_float_array(value, name, ndim=(0, 1))
    if array.ndim == 0:
        return np.full(d, float(array))
    if array.shape != (d,):
        raise ValueError(f"{name} must be a number or have shape ({d},) (one per feature), got {array.shape}")
    return array


def _eps(eps) -> float:
    return check_non_negative(eps, "eps")


def batchnorm_forward(x, gamma, beta, eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """Batch norm in training mode: y = gamma (x - mu) / sqrt(sigma^2 + eps) + beta, per feature.

    x: (N, D); gamma, beta: numbers or (D,); mu and the biased sigma^2 are taken over the N rows.
    Returns (y (N, D), cache) where the cache holds what :func:`batchnorm_backward` needs.
    With eps = 0 a feature that is constant over the batch has sigma^2 = 0: that is refused.
    """
    x = _features(x)
    gamma, beta = _per_feature(gamma, "gamma", x.shape[1]), _per_feature(beta, "beta", x.shape[1])
    eps = _eps(eps)
    mu = x.mean(axis=0)
    centred = x - mu
    var = (centred ** 2).mean(axis=0)
    if np.any(var + eps == 0.0):
        raise ValueError("a feature is constant over the batch and eps = 0: sigma^2 + eps must be > 0")
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centred * inv_std
    y = gamma * x_hat + beta
    return y, {"centred": centred, "var": var, "inv_std": inv_std, "x_hat": x_hat, "gamma": gamma, "eps": eps}


def batchnorm_backward(dy, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx (N, D), dgamma (D,), dbeta (D,)) of batch norm, by Ioffe and Szegedy's six equations.

    dy: (N, D), the gradient of the loss with respect to y; ``cache`` from :func:`batchnorm_forward`.
    """
    if not isinstance(cache, dict) or not {"centred", "var", "inv_std", "x_hat", "gamma", "eps"} <= set(cache):
        raise ValueError("cache must be the dict returned by batchnorm_forward")
    centred, var, inv_std, x_hat = cache["centred"], cache["var"], cache["inv_std"], cache["x_hat"]
    dy = as_float_array(dy, "dy", shape=centred.shape)
    n = centred.shape[0]
    dx_hat = dy * cache["gamma"]
    dvar = np.sum(dx_hat * centred, axis=0) * -0.5 * (var + cache["eps"]) ** -1.5
    dmu = -np.sum(dx_hat, axis=0) * inv_std + dvar * (-2.0 / n) * np.sum(centred, axis=0)
    dx = dx_hat * inv_std + dvar * 2.0 * centred / n + dmu / n
    return dx, np.sum(dy * x_hat, axis=0), np.sum(dy, axis=0)


def update_running_stats(running_mean, running_var, x, momentum: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The running averages after one training batch, as ``torch.nn.BatchNorm1d`` keeps them.

    r_mu <- (1 - m) r_mu + m mu,  r_var <- (1 - m) r_var + m s^2, where s^2 is the *unbiased* batch
    variance (divided by N - 1; the forward pass normalises with the biased one). x: (N, D), N >= 2.
    """
    x = _features(x)
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 rows for an unbiased variance, got shape {x.shape}")
    d = x.shape[1]
    running_mean = as_float_array(running_mean, "running_mean", shape=(d,))
    running_var = as_float_array(running_var, "running_var", shape=(d,))
    m = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
    return (1 - m) * running_mean + m * x.mean(axis=0), (1 - m) * running_var + m * x.var(axis=0, ddof=1)


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps: float = 1e-5) -> np.ndarray:
    """Batch norm in evaluation mode: y = gamma (x - r_mu) / sqrt(r_var + eps) + beta; x: (N, D)."""
    x = _features(x)
    d = x.shape[1]
    gamma, beta = _per_feature(gamma, "gamma", d), _per_feature(beta, "beta", d)
    mean = as_float_array(running_mean, "running_mean", shape=(d,))
    var = _running_var(running_var, d, _eps(eps))
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _running_var(running_var, d: int, eps: float) -> np.ndarray:
    var = as_float_array(running_var, "running_var", shape=(d,))
    if np.any(var < 0) or np.any(var + eps <= 0):
        raise ValueError("running_var must be >= 0 (and > 0 where eps = 0)")
    return var


def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """The weights (W', b') of one layer equal to "layer W, b, then batch norm in evaluation mode".

    With s = gamma / sqrt(r_var + eps): W'_j = s_j W_j (output unit or channel j) and
    b'_j = s_j (b_j - r_mu_j) + beta_j. W: (C_out, C_in) of a Linear or (C_out, C_in, kh, kw) of a
    Conv2d; b: (C_out,) (zeros for a layer without bias); the BN vectors: (C_out,).
    """
    W = as_float_array(W, "W", ndim=(2, 4))
    c_out = W.shape[0]
    if c_out < 1:
        raise ValueError(f"W must have at least one output unit, got shape {W.shape}")
    b = as_float_array(b, "b", shape=(c_out,))
    gamma, beta = _per_feature(gamma, "gamma", c_out), _per_feature(beta, "beta", c_out)
    mean = as_float_array(running_mean, "running_mean", shape=(c_out,))
    eps = _eps(eps)
    scale = gamma / np.sqrt(_running_var(running_var, c_out, eps) + eps)
    return W * scale.reshape((c_out,) + (1,) * (W.ndim - 1)), scale * (b - mean) + beta
