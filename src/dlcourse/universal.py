"""Chapter 2, universal approximation: one hidden layer of random units, output weights by least squares.

The one-hidden-layer network of the universal approximation theorem (Cybenko 1989) with its hidden
units drawn at random and frozen, so that only the output weights are fitted, in closed form.
Re-exported by :mod:`dlcourse.mlp`.
"""
from __future__ import annotations

import math

import numpy as np

from .activations import get_activation
from .validation import as_float_array, check_float, check_int, check_non_negative


def random_hidden_units(x_min: float, x_max: float, n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Slopes w_j and centres c_j of n random hidden units h_j(x) = s(w_j (x - c_j)) on [x_min, x_max].

    Centres are uniform on the interval, so every unit bends somewhere inside it; |w_j| is log-uniform
    between 2 and 50 per interval length, with a random sign. Units are drawn one row at a time, so the
    first m of n units are the m units drawn for n = m: bigger layers extend smaller ones.
    """
    x_min, x_max = check_float(x_min, "x_min"), check_float(x_max, "x_max")
    if not (x_max > x_min and math.isfinite(x_max - x_min)):
        raise ValueError(f"need x_min < x_max with a finite difference, got {x_min} and {x_max}")
    n_features = check_int(n_features, "n_features", minimum=0)
    u = np.random.default_rng(check_int(seed, "seed", minimum=0)).uniform(size=(n_features, 3))  # one row per unit
    centres = x_min + (x_max - x_min) * u[:, 0]
    slopes = np.where(u[:, 1] < 0.5, -1.0, 1.0) * np.exp(np.log(2.0) + u[:, 2] * np.log(25.0)) / (x_max - x_min)
    return slopes, centres


def random_feature_matrix(x, slopes: np.ndarray, centres: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Design matrix Phi = [1, s(w_1 (x - c_1)), ..., s(w_n (x - c_n))]: x (N,) -> Phi (N, n + 1)."""
    x, slopes = as_float_array(x, "x", ndim=1), as_float_array(slopes, "slopes", ndim=1)
    centres = as_float_array(centres, "centres", shape=slopes.shape)
    sigma, _ = get_activation(activation)
    return np.column_stack([np.ones_like(x), sigma(slopes[None, :] * (x[:, None] - centres[None, :]))])


def random_feature_approximation(x_train, t_train, x_eval, n_features: int, seed: int = 0,
                                 activation: str = "tanh", ridge: float = 1e-10) -> np.ndarray:
    """Fit o(x) = alpha_0 + sum_j alpha_j s(w_j (x - c_j)) to (x_train, t_train); return o(x_eval).

    The hidden units are random and fixed (:func:`random_hidden_units`); only the output weights alpha
    are learned, by least squares with a tiny ridge term: min ||Phi alpha - t||^2 + ridge ||alpha||^2.
    This is the one-hidden-layer network of the universal approximation theorem (Cybenko 1989).
    x_train, t_train: (N,) with at least two distinct x values; x_eval: (M,).
    """
    x_train = as_float_array(x_train, "x_train", ndim=1)
    t_train = as_float_array(t_train, "t_train", shape=x_train.shape)
    if np.unique(x_train).size < 2:
        raise ValueError(f"x_train needs at least two distinct values to span an interval, got {x_train.size} "
                         f"points with {np.unique(x_train).size} distinct")
    x_eval, ridge = as_float_array(x_eval, "x_eval", ndim=1), check_non_negative(ridge, "ridge")
    get_activation(activation)
    slopes, centres = random_hidden_units(x_train.min(), x_train.max(), n_features, seed)
    Phi = random_feature_matrix(x_train, slopes, centres, activation)  # (N, n + 1)
    # the ridge term as extra rows keeps lstsq well posed when units are nearly collinear
    A = np.vstack([Phi, np.sqrt(ridge) * np.eye(Phi.shape[1])])
    b = np.concatenate([t_train, np.zeros(Phi.shape[1])])
    alpha = np.linalg.lstsq(A, b, rcond=None)[0]
    return random_feature_matrix(x_eval, slopes, centres, activation) @ alpha
