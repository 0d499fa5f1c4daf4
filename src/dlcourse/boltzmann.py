"""Boltzmann machines and restricted Boltzmann machines (chapter 8), from scratch in NumPy.

A Boltzmann machine over binary units ``x in {0, 1}^N`` has the energy

    E(x) = -b^T x - sum_{i<j} w_ij x_i x_j = -b^T x - 1/2 x^T W x     (W symmetric, zero diagonal)

and the Boltzmann distribution p(x) = exp(-E(x)) / Z, Z = sum over all 2^N states (exact here for
N <= 12). A restricted Boltzmann machine (RBM) splits the units into visible v (D,) and hidden h (H,)
with connections only between the two layers: E(v, h) = -b^T v - c^T h - v^T W h, W: (D, H). Its
conditionals factorise, p(h_j = 1 | v) = sigmoid(c_j + v^T W_:j) and p(v_i = 1 | h) =
sigmoid(b_i + W_i: h), which is what block Gibbs sampling and contrastive divergence (CD-k) use.
"""
from __future__ import annotations

import numpy as np

from .validation import as_float_array, as_rng, check_int, check_positive, check_positive_int

MAX_ENUMERATED = 12  # 2^12 = 4096 states: exact sums stay instant


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # overflow-free logistic function


def _binary(x, name: str, ndim=(1, 2)) -> np.ndarray:
    x = as_float_array(x, name, ndim=ndim)
    if not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{name} must hold binary states 0 or 1, got other values")
    return x


def _coupling(W, n: int | None = None) -> np.ndarray:
    W = as_float_array(W, "W", ndim=2)
    if W.shape[0] != W.shape[1] or (n is not None and W.shape[0] != n):
        want = f"({n}, {n})" if n is not None else "square"
        raise ValueError(f"W must be {want}, got shape {W.shape}")
    if not np.allclose(W, W.T, rtol=0, atol=1e-12) or np.any(np.diag(W) != 0):
        raise ValueError("W must be symmetric with a zero diagonal (w_ij = w_ji, w_ii = 0)")
    return W


def energy(x, W, b) -> np.ndarray | float:
    """Energy E(x) = -b^T x - 1/2 x^T W x of a Boltzmann machine; x: (N,) or (B, N) binary, W: (N, N)."""
    b = as_float_array(b, "b", ndim=1, allow_empty=False)
    W = _coupling(W, len(b))
    x = _binary(x, "x")
    if x.shape[-1] != len(b):
        raise ValueError(f"x must have {len(b)} units in its last axis, got shape {x.shape}")
    E = -x @ b - 0.5 * np.einsum("...i,ij,...j->...", x, W, x)
    return float(E) if x.ndim == 1 else E


def unit_conditionals(x, W, b) -> np.ndarray:
    """p(x_i = 1 | all other units) = sigmoid(b_i + sum_j w_ij x_j) for every unit i; x: (B, N) -> (B, N).

    Only the terms of E that contain x_i differ between x_i = 1 and x_i = 0, and Z cancels: one
    unit's update in a (sequential) Gibbs sweep.
    """
    b = as_float_array(b, "b", ndim=1, allow_empty=False)
    W = _coupling(W, len(b))
    x = _binary(x, "x", ndim=2)
    if x.shape[1] != len(b):
        raise ValueError(f"x must have shape (B, {len(b)}), got shape {x.shape}")
    return _sigmoid(b + x @ W)


def all_states(n_units: int) -> np.ndarray:
    """Every binary state of ``n_units`` units, (2^N, N), in binary counting order (unit 0 = last bit)."""
    n = check_int(n_units, "n_units", minimum=1, maximum=MAX_ENUMERATED)
    codes = np.arange(2**n)[:, None]
    return ((codes >> np.arange(n)[::-1]) & 1).astype(float)


def boltzmann_distribution(W, b) -> tuple[np.ndarray, np.ndarray]:
    """Exact p(x) = exp(-E(x)) / Z over all 2^N states (N <= 12): returns (states (2^N, N), p (2^N,))."""
    b = as_float_array(b, "b", ndim=1, allow_empty=False)
    if len(b) > MAX_ENUMERATED:
        raise ValueError(f"b must have at most {MAX_ENUMERATED} units to enumerate, got {len(b)}")
    states = all_states(len(b))
    logits = -energy(states, W, b)
    p = np.exp(logits - logits.max())  # shift for stability; Z cancels it
    return states, p / p.sum()


# ---------------------------------------------------------------- restricted Boltzmann machines

def _rbm(W, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W = as_float_array(W, "W", ndim=2, allow_empty=False)
    b = as_float_array(b, "b", shape=(W.shape[0],))
    c = as_float_array(c, "c", shape=(W.shape[1],))
    return W, b, c


def _visible(v, D: int) -> np.ndarray:
    v = _binary(v, "v", ndim=2)
    if v.shape[1] != D:
        raise ValueError(f"v must have shape (B, {D}), got shape {v.shape}")
    return v


def hidden_probs(v, W, c) -> np.ndarray:
    """p(h_j = 1 | v) = sigmoid(c_j + sum_i v_i W_ij); v: (B, D) binary, W: (D, H) -> (B, H)."""
    W = as_float_array(W, "W", ndim=2, allow_empty=False)
    c = as_float_array(c, "c", shape=(W.shape[1],))
    return _sigmoid(c + _visible(v, W.shape[0]) @ W)


def visible_probs(h, W, b) -> np.ndarray:
    """p(v_i = 1 | h) = sigmoid(b_i + sum_j W_ij h_j); h: (B, H) binary, W: (D, H) -> (B, D)."""
    W = as_float_array(W, "W", ndim=2, allow_empty=False)
    b = as_float_array(b, "b", shape=(W.shape[0],))
    h = _binary(h, "h", ndim=2)
    if h.shape[1] != W.shape[1]:
        raise ValueError(f"h must have shape (B, {W.shape[1]}), got shape {h.shape}")
    return _sigmoid(b + h @ W.T)


def free_energy(v, W, b, c) -> np.ndarray:
    """F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j), so that p(v) = exp(-F(v)) / Z; v: (B, D) -> (B,)."""
    W, b, c = _rbm(W, b, c)
    v = _visible(v, W.shape[0])
    return -v @ b - np.logaddexp(0.0, c + v @ W).sum(axis=1)


def _gibbs(v, W, b, c, k, rng):
    """k rounds of block Gibbs sampling v -> h -> v; returns the last v sample and p(h | v_0)."""
    ph0 = _sigmoid(c + v @ W)
    for _ in range(k):
        h = (rng.random((len(v), len(c))) < _sigmoid(c + v @ W)).astype(float)
        v = (rng.random(v.shape) < _sigmoid(b + h @ W.T)).astype(float)
    return v, ph0


def gibbs_chain(v0, W, b, c, n_steps: int, seed=0) -> np.ndarray:
    """Run ``n_steps`` rounds of block Gibbs sampling from v0 (B, D); returns the last visible samples."""
    W, b, c = _rbm(W, b, c)
    v0 = _visible(v0, W.shape[0])
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    return _gibbs(v0, W, b, c, n_steps, as_rng(seed))[0]


def cd_gradient(v0, W, b, c, k: int = 1, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CD-k estimate of the log-likelihood gradient (dW, db, dc), averaged over the batch v0 (B, D).

    dW = <v p(h|v)^T>_data - <v p(h|v)^T>_k, with the negative phase at the chain's state after k
    Gibbs rounds started at the data (Hinton 2002). Ascend it: W += lr * dW.
    """
    W, b, c = _rbm(W, b, c)
    v0 = _visible(v0, W.shape[0])
    k = check_positive_int(k, "k")
    vk, ph0 = _gibbs(v0, W, b, c, k, as_rng(seed))
    phk = _sigmoid(c + vk @ W)
    n = len(v0)
    return (v0.T @ ph0 - vk.T @ phk) / n, (v0 - vk).mean(axis=0), (ph0 - phk).mean(axis=0)


def _check_small(W) -> None:
    if W.shape[0] > MAX_ENUMERATED:
        raise ValueError(f"W must have at most {MAX_ENUMERATED} visible units to enumerate, got {W.shape[0]}")


def log_likelihood(v, W, b, c) -> float:
    """Exact mean log p(v) = -F(v) - log Z over the batch (D <= 12 visible units, Z by enumeration)."""
    W, b, c = _rbm(W, b, c)
    _check_small(W)
    F_all = free_energy(all_states(W.shape[0]), W, b, c)
    log_Z = np.logaddexp.reduce(-F_all)
    return float(np.mean(-free_energy(v, W, b, c)) - log_Z)


def exact_gradient(v, W, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact gradient of the mean log-likelihood, (dW, db, dc), by enumerating all 2^D visible states.

    d log p(v) / dW = v p(h|v)^T - sum_v' p(v') v' p(h|v')^T (data term minus model expectation).
    """
    W, b, c = _rbm(W, b, c)
    _check_small(W)
    v = _visible(v, W.shape[0])
    states = all_states(W.shape[0])
    logits = -free_energy(states, W, b, c)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    ph_data, ph_model = _sigmoid(c + v @ W), _sigmoid(c + states @ W)
    dW = v.T @ ph_data / len(v) - (states * p[:, None]).T @ ph_model
    return dW, v.mean(axis=0) - p @ states, ph_data.mean(axis=0) - p @ ph_model


def train_rbm(V, n_hidden: int = 64, epochs: int = 10, learning_rate: float = 0.05, k: int = 1,
              batch_size: int = 50, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Train an RBM on binary data V (N, D) by CD-k with minibatch gradient ascent.

    Returns (W (D, H), b (D,), c (H,), reconstruction error per epoch): the mean squared difference
    between the data and p(v | h ~ p(h | v)), a cheap progress signal (not the likelihood).
    """
    V = _binary(V, "V", ndim=2)
    n_hidden, epochs, k = (check_positive_int(n_hidden, "n_hidden"), check_positive_int(epochs, "epochs"),
                           check_positive_int(k, "k"))
    learning_rate, batch_size = check_positive(learning_rate, "learning_rate"), check_positive_int(
        batch_size, "batch_size")
    rng = as_rng(seed)
    W = rng.normal(0.0, 0.01, (V.shape[1], n_hidden))
    mean = np.clip(V.mean(axis=0), 1e-3, 1 - 1e-3)
    b, c = np.log(mean / (1 - mean)), np.zeros(n_hidden)  # visible biases start at the data's log-odds
    errors = []
    for _ in range(epochs):
        order = rng.permutation(len(V))
        for start in range(0, len(V), batch_size):
            v0 = V[order[start:start + batch_size]]
            vk, ph0 = _gibbs(v0, W, b, c, k, rng)
            phk = _sigmoid(c + vk @ W)
            W += learning_rate * (v0.T @ ph0 - vk.T @ phk) / len(v0)
            b += learning_rate * (v0 - vk).mean(axis=0)
            c += learning_rate * (ph0 - phk).mean(axis=0)
        h = (rng.random((len(V), n_hidden)) < _sigmoid(c + V @ W)).astype(float)
        errors.append(float(np.mean((V - _sigmoid(b + h @ W.T)) ** 2)))
    return W, b, c, errors
