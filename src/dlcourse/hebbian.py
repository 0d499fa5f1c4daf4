"""Chapter 1: Hebbian learning, Oja's rule and the Hopfield network.

Hebb's rule strengthens a weight when its input and the neuron's output are active together,
dw = eta * x * y with y = w . x (a linear neuron). It has no target, unlike the perceptron rule, and
||w|| grows without bound. Oja's rule adds a decay term, dw = eta * y * (x - y * w), which keeps
||w|| near 1 and turns w towards the first principal component of zero-mean data.

A Hopfield network stores P patterns xi^mu in {-1, +1}^N with the Hebbian outer-product rule
W = (1/N) sum_mu xi^mu xi^mu^T, zero diagonal, and recalls by asynchronous updates
s_i <- sign(sum_j W_ij s_j), which never increase the energy E(s) = -1/2 s^T W s.
"""
from __future__ import annotations

import numpy as np
import torch

from .config import get_device
from .perceptron import _check_signs
from .validation import as_float_array, as_int_array, as_rng, check_int, check_non_negative, check_positive_int


def _as_vector(v, name: str, size: int | None = None) -> np.ndarray:
    return as_float_array(v, name, shape=(size,), allow_empty=False)


def _check_step(w, x, eta) -> tuple[np.ndarray, np.ndarray, float]:
    w = _as_vector(w, "w")
    x = _as_vector(x, "x", w.shape[0])
    return w, x, check_non_negative(eta, "eta")


def _finite(w: np.ndarray, rule: str) -> np.ndarray:
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{rule}: the weights overflowed float64; use a smaller eta (or fewer steps)")
    return w


def _hebb_step(w: np.ndarray, x: np.ndarray, eta: float) -> np.ndarray:
    return w + eta * (w @ x) * x


def _oja_step(w: np.ndarray, x: np.ndarray, eta: float) -> np.ndarray:
    y = w @ x
    return w + eta * y * (x - y * w)


def hebbian_update(w, x, eta: float) -> np.ndarray:
    """One step of Hebb's rule for a linear neuron: w + eta * y * x with y = w . x; w, x: (I,), eta >= 0."""
    w, x, eta = _check_step(w, x, eta)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite(_hebb_step(w, x, eta), "Hebb's rule")


def oja_update(w, x, eta: float) -> np.ndarray:
    """One step of Oja's rule: w + eta * y * (x - y * w) with y = w . x; w, x: (I,), eta >= 0.

    For a unit-length w it is Hebb's step followed by renormalising w to unit length, expanded to
    first order in eta.
    """
    w, x, eta = _check_step(w, x, eta)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite(_oja_step(w, x, eta), "Oja's rule")


def _train(step, rule: str, X, w_init, eta: float, n_epochs: int) -> np.ndarray:
    X = as_float_array(X, "X")
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must have shape (N, I) with N, I >= 1, got shape {X.shape}")
    w = _as_vector(w_init, "w_init", X.shape[1])
    eta, n_epochs = check_non_negative(eta, "eta"), check_positive_int(n_epochs, "n_epochs")
    history = np.empty((n_epochs * len(X) + 1, X.shape[1]))
    history[0] = w
    with np.errstate(over="ignore", invalid="ignore"):  # checked once at the end, not at every step
        for k, x in enumerate(np.tile(X, (n_epochs, 1)), start=1):
            history[k] = w = step(w, x, eta)
    return _finite(history, rule)


def hebbian_train(X, w_init, eta: float, n_epochs: int = 1) -> np.ndarray:
    """Apply :func:`hebbian_update` to the rows of X in order, ``n_epochs`` times.

    X: (N, I). Returns the weights before the first step and after every step: (n_epochs * N + 1, I).
    ||w|| grows without bound; once it leaves the float64 range a ValueError says so.
    """
    return _train(_hebb_step, "Hebb's rule", X, w_init, eta, n_epochs)


def oja_train(X, w_init, eta: float, n_epochs: int = 1) -> np.ndarray:
    """Apply :func:`oja_update` to the rows of X in order; returns (n_epochs * N + 1, I) like :func:`hebbian_train`."""
    return _train(_oja_step, "Oja's rule", X, w_init, eta, n_epochs)


def _as_patterns(patterns, name: str = "patterns") -> np.ndarray:
    patterns = as_float_array(patterns, name)
    if patterns.ndim != 2 or patterns.size == 0:
        raise ValueError(f"{name} must have shape (P, N) with P, N >= 1, got shape {patterns.shape}")
    return _check_signs(patterns, name)


def hopfield_store(patterns) -> np.ndarray:
    """Hebbian storage: W = (1/N) sum_mu xi^mu xi^mu^T with W_ii = 0; patterns: (P, N) in {-1, +1} -> (N, N)."""
    patterns = _as_patterns(patterns)
    n_units = patterns.shape[1]
    W = patterns.T @ patterns / n_units
    np.fill_diagonal(W, 0.0)  # no self-coupling: a unit must not hold itself in place
    return W


def _as_weights(W) -> np.ndarray:
    W = as_float_array(W, "W")
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.size == 0:
        raise ValueError(f"W must be a square matrix (N, N) with N >= 1, got shape {W.shape}")
    return W


def _as_states(s, n_units: int) -> np.ndarray:
    s = as_float_array(s, "s")
    if s.ndim not in (1, 2) or s.shape[-1] != n_units or s.size == 0:
        raise ValueError(f"s must have shape ({n_units},) or (B, {n_units}) with B >= 1, got shape {s.shape}")
    return _check_signs(s, "s")


def hopfield_energy(W, s) -> np.ndarray | float:
    """Energy E(s) = -1/2 s^T W s; W: (N, N), s: (N,) -> float, or a batch (B, N) -> (B,)."""
    W = _as_weights(W)
    s = _as_states(s, W.shape[0])
    energy = -0.5 * np.einsum("...i,ij,...j->...", s, W, s)
    return float(energy) if s.ndim == 1 else energy


def _as_order(order, n_units: int) -> np.ndarray:
    order = as_int_array(order, "order")
    if order.shape != (n_units,) or not np.array_equal(np.sort(order), np.arange(n_units)):
        raise ValueError(f"order must be a permutation of 0..{n_units - 1} (integer array of shape ({n_units},)), "
                         f"got shape {order.shape}")
    return order


def _sweep(W: np.ndarray, S: np.ndarray, order: np.ndarray, energies: list | None = None) -> bool:
    """Update the units of every state in S: (B, N) one at a time in ``order``; True if any changed."""
    changed = False
    for i in order:
        field = S @ W[i]  # (B,) local field h_i = sum_j W_ij s_j
        new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, S[:, i]))  # h_i = 0: keep s_i
        changed |= bool(np.any(new != S[:, i]))
        S[:, i] = new
        if energies is not None:
            energies.append(-0.5 * np.einsum("bi,ij,bj->b", S, W, S))
    return changed


def _recall(W, s, order, max_sweeps, seed, energies, single_only: bool = False):
    W = _as_weights(W)
    n_units = W.shape[0]
    S = _as_states(s, n_units)
    if single_only and S.ndim != 1:
        raise ValueError(f"s must have shape ({n_units},) (one state), got shape {S.shape}")
    single = S.ndim == 1
    S = np.atleast_2d(S)  # a fresh array: the caller's s is never modified
    max_sweeps = check_positive_int(max_sweeps, "max_sweeps")
    fixed = None if order is None else _as_order(order, n_units)
    rng = as_rng(seed)
    if energies is not None:
        energies.append(-0.5 * np.einsum("bi,ij,bj->b", S, W, S))
    for _ in range(max_sweeps):
        sweep_order = fixed if fixed is not None else rng.permutation(n_units)
        if not _sweep(W, S, sweep_order, energies):
            break  # a full sweep without a change: s is a fixed point
    return S[0] if single else S


def hopfield_recall(W, s, order=None, max_sweeps: int = 100, seed=None) -> np.ndarray:
    """Asynchronous recall: s_i <- +1 if h_i > 0, -1 if h_i < 0, unchanged if h_i = 0, with h = W s.

    W: (N, N); s: (N,) or a batch (B, N) in {-1, +1}. One sweep updates every unit once, in ``order``
    (a permutation of 0..N-1 used in every sweep) or, when ``order`` is None, in a fresh random
    permutation drawn from ``seed`` (an int or a ``np.random.Generator``) each sweep. Stops after a
    sweep that changes nothing, or after ``max_sweeps``. Returns the final state(s) as floats, same
    shape as s; s itself is not modified.
    """
    return _recall(W, s, order, max_sweeps, seed, None)


def hopfield_recall_trace(W, s, order=None, max_sweeps: int = 100, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hopfield_recall` for one state s: (N,), also returning the energy before and after every
    single-unit update: (n_updates + 1,)."""
    energies: list = []
    final = _recall(W, s, order, max_sweeps, seed, energies, single_only=True)
    return final, np.concatenate(energies)


def flip_bits(s, n_flip: int, seed=None) -> np.ndarray:
    """A float copy of s: (N,) in {-1, +1} with ``n_flip`` (0..N) distinct, randomly chosen entries negated."""
    s = as_float_array(s, "s")
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"s must have shape (N,) with N >= 1, got shape {s.shape}")
    _check_signs(s, "s")
    n_flip = check_int(n_flip, "n_flip", minimum=0, maximum=len(s))
    index = as_rng(seed).choice(len(s), size=n_flip, replace=False)
    s[index] *= -1  # s is already a fresh copy
    return s


def _recall_torch(W: torch.Tensor, S: torch.Tensor, rng: np.random.Generator, max_sweeps: int) -> torch.Tensor:
    """:func:`hopfield_recall` for a batch S: (B, N) on any torch device, orders drawn from ``rng``."""
    for _ in range(max_sweeps):
        changed = torch.zeros((), dtype=torch.bool, device=S.device)
        for i in rng.permutation(S.shape[1]).tolist():
            field = S @ W[i]  # (B,)
            new = torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, S[:, i]))
            changed |= (new != S[:, i]).any()
            S[:, i] = new
        if not changed:  # one device-to-host sync per sweep, not per unit
            break
    return S


def hopfield_capacity(n_units: int, alphas, n_trials: int = 1, max_sweeps: int = 30, seed: int = 0,
                      device=None) -> tuple[np.ndarray, np.ndarray]:
    """Recall quality against the load alpha = P / N, starting from each stored pattern itself.

    For each alpha, store P = round(alpha * N) random patterns (at least 1), run asynchronous recall
    from every stored pattern and compare the result with it. ``device=None`` runs NumPy; a torch
    device (``"cuda"``, ``"cpu"``) runs the same dynamics with PyTorch, identical for the same seed.
    Returns (bit_error: mean fraction of wrong bits, exact: fraction of patterns recalled exactly),
    each (len(alphas),), averaged over ``n_trials`` pattern sets.
    """
    n_units = check_int(n_units, "n_units", minimum=2)
    alphas = as_float_array(alphas, "alphas", ndim=1, allow_empty=False)
    if np.any(alphas <= 0):
        raise ValueError(f"alphas must all be > 0, got {alphas}")
    n_trials, max_sweeps = check_positive_int(n_trials, "n_trials"), check_positive_int(max_sweeps, "max_sweeps")
    rng = as_rng(seed)
    dev = None if device is None else get_device(device)
    bit_error, exact = np.zeros(len(alphas)), np.zeros(len(alphas))
    for k, alpha in enumerate(alphas):
        for _ in range(n_trials):
            patterns = rng.choice([-1.0, 1.0], size=(max(1, round(alpha * n_units)), n_units))
            # Unscaled integer weights (N * W) give the same dynamics with exact local fields, so a
            # tie h_i = 0 is decided identically by NumPy and by any GPU.
            W = patterns.T @ patterns
            np.fill_diagonal(W, 0.0)
            if dev is None:
                final = hopfield_recall(W, patterns, max_sweeps=max_sweeps, seed=rng)
            else:
                to = dict(device=dev, dtype=torch.float64)
                final = _recall_torch(torch.tensor(W, **to), torch.tensor(patterns, **to), rng, max_sweeps).cpu().numpy()
            wrong = final != patterns  # (P, N)
            bit_error[k] += wrong.mean() / n_trials
            exact[k] += (~wrong.any(axis=1)).mean() / n_trials
    return bit_error, exact


GLYPHS = {
    "T": ["##########", "##########", "    ##    ", "    ##    ", "    ##    ",
          "    ##    ", "    ##    ", "    ##    ", "    ##    ", "    ##    "],
    "L": ["##        ", "##        ", "##        ", "##        ", "##        ",
          "##        ", "##        ", "##        ", "##########", "##########"],
    "X": ["##      ##", " ##    ## ", "  ##  ##  ", "   ####   ", "    ##    ",
          "   ####   ", "  ##  ##  ", " ##    ## ", "##      ##", "#        #"],
    "O": ["  ######  ", " ##    ## ", "##      ##", "##      ##", "##      ##",
          "##      ##", "##      ##", "##      ##", " ##    ## ", "  ######  "],
}


def glyph_patterns(names: str = "TLXO") -> np.ndarray:
    """10 x 10 letter images as Hopfield patterns: (len(names), 100) with +1 for ink and -1 for paper."""
    if not isinstance(names, str) or not names or any(c not in GLYPHS for c in names):
        raise ValueError(f"names must be letters from {''.join(GLYPHS)}, got {names!r}")
    return np.array([[1.0 if ch == "#" else -1.0 for row in GLYPHS[c] for ch in row] for c in names])
