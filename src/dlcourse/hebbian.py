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


def _as_vector(v, name: str, size: int | None = None) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype.kind not in "biuf" or v.ndim != 1 or (size is not None and v.shape != (size,)):
        want = f"({size},)" if size is not None else "(I,)"
        raise ValueError(f"{name} must be a numeric vector of shape {want}, got shape {v.shape}, dtype {v.dtype}")
    return v.astype(np.float64)


def _check_step(w, x, eta) -> tuple[np.ndarray, np.ndarray, float]:
    w = _as_vector(w, "w")
    x = _as_vector(x, "x", w.shape[0])
    if not np.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be a non-negative number, got {eta!r}")
    return w, x, float(eta)


def hebbian_update(w, x, eta: float) -> np.ndarray:
    """One step of Hebb's rule for a linear neuron: w + eta * y * x with y = w . x; w, x: (I,)."""
    w, x, eta = _check_step(w, x, eta)
    y = w @ x
    return w + eta * y * x


def oja_update(w, x, eta: float) -> np.ndarray:
    """One step of Oja's rule: w + eta * y * (x - y * w) with y = w . x; w, x: (I,).

    It is Hebb's step followed by renormalising w to unit length, expanded to first order in eta.
    """
    w, x, eta = _check_step(w, x, eta)
    y = w @ x
    return w + eta * y * (x - y * w)


def _train(update, X, w_init, eta: float, n_epochs: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, I), got {X.shape}")
    w = _as_vector(w_init, "w_init", X.shape[1])
    if int(n_epochs) != n_epochs or n_epochs < 1:
        raise ValueError(f"n_epochs must be an integer >= 1, got {n_epochs!r}")
    history = [w]
    for _ in range(int(n_epochs)):
        for x in X:
            w = update(w, x, eta)
            history.append(w)
    return np.array(history)


def hebbian_train(X, w_init, eta: float, n_epochs: int = 1) -> np.ndarray:
    """Apply :func:`hebbian_update` to the rows of X in order, ``n_epochs`` times.

    X: (N, I). Returns the weights before the first step and after every step: (n_epochs * N + 1, I).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # the blow-up is the lesson, not an error
        return _train(hebbian_update, X, w_init, eta, n_epochs)


def oja_train(X, w_init, eta: float, n_epochs: int = 1) -> np.ndarray:
    """Apply :func:`oja_update` to the rows of X in order; returns (n_epochs * N + 1, I) like :func:`hebbian_train`."""
    return _train(oja_update, X, w_init, eta, n_epochs)


def _as_patterns(patterns, name: str = "patterns") -> np.ndarray:
    patterns = np.asarray(patterns)
    if patterns.ndim != 2 or patterns.shape[0] == 0:
        raise ValueError(f"{name} must have shape (P, N) with P >= 1, got {patterns.shape}")
    if not np.all(np.isin(patterns, (-1, 1))):
        raise ValueError(f"{name} must hold only -1 and +1, got values {np.unique(patterns)}")
    return patterns.astype(np.float64)


def hopfield_store(patterns) -> np.ndarray:
    """Hebbian storage: W = (1/N) sum_mu xi^mu xi^mu^T with W_ii = 0; patterns: (P, N) in {-1, +1} -> (N, N)."""
    patterns = _as_patterns(patterns)
    n_units = patterns.shape[1]
    W = patterns.T @ patterns / n_units
    np.fill_diagonal(W, 0.0)  # no self-coupling: a unit must not hold itself in place
    return W


def _as_weights(W) -> np.ndarray:
    W = np.asarray(W)
    if W.dtype.kind not in "biuf" or W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square numeric matrix (N, N), got shape {W.shape}")
    return W.astype(np.float64)


def _as_states(s, n_units: int) -> np.ndarray:
    s = np.asarray(s)
    if s.ndim not in (1, 2) or s.shape[-1] != n_units:
        raise ValueError(f"s must have shape ({n_units},) or (B, {n_units}), got {s.shape}")
    if not np.all(np.isin(s, (-1, 1))):
        raise ValueError(f"s must hold only -1 and +1, got values {np.unique(s)}")
    return s.astype(np.float64)


def hopfield_energy(W, s) -> np.ndarray | float:
    """Energy E(s) = -1/2 s^T W s; W: (N, N), s: (N,) -> float, or a batch (B, N) -> (B,)."""
    W = _as_weights(W)
    s = _as_states(s, W.shape[0])
    energy = -0.5 * np.einsum("...i,ij,...j->...", s, W, s)
    return float(energy) if s.ndim == 1 else energy


def _as_order(order, n_units: int) -> np.ndarray:
    order = np.asarray(order)
    if order.shape != (n_units,) or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(n_units)):
        raise ValueError(f"order must be a permutation of 0..{n_units - 1} (integer array of shape ({n_units},)), "
                         f"got shape {order.shape}, dtype {order.dtype}")
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


def _recall(W, s, order, max_sweeps, seed, energies):
    W = _as_weights(W)
    n_units = W.shape[0]
    S = _as_states(s, n_units)
    single = S.ndim == 1
    S = np.atleast_2d(S).copy()
    if int(max_sweeps) != max_sweeps or max_sweeps < 1:
        raise ValueError(f"max_sweeps must be an integer >= 1, got {max_sweeps!r}")
    fixed = None if order is None else _as_order(order, n_units)
    rng = np.random.default_rng(seed)
    if energies is not None:
        energies.append(-0.5 * np.einsum("bi,ij,bj->b", S, W, S))
    for _ in range(int(max_sweeps)):
        sweep_order = fixed if fixed is not None else rng.permutation(n_units)
        if not _sweep(W, S, sweep_order, energies):
            break  # a full sweep without a change: s is a fixed point
    return S[0] if single else S


def hopfield_recall(W, s, order=None, max_sweeps: int = 100, seed=None) -> np.ndarray:
    """Asynchronous recall: s_i <- +1 if h_i > 0, -1 if h_i < 0, unchanged if h_i = 0, with h = W s.

    W: (N, N); s: (N,) or a batch (B, N) in {-1, +1}. One sweep updates every unit once, in ``order``
    (a permutation of 0..N-1 used in every sweep) or, when ``order`` is None, in a fresh random
    permutation drawn from ``seed`` (an int or a ``np.random.Generator``) each sweep. Stops after a
    sweep that changes nothing, or after ``max_sweeps``. Returns the final state(s), same shape as s.
    """
    return _recall(W, s, order, max_sweeps, seed, None)


def hopfield_recall_trace(W, s, order=None, max_sweeps: int = 100, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hopfield_recall` for one state s: (N,), also returning the energy before and after every
    single-unit update: (n_updates + 1,)."""
    if np.ndim(s) != 1:
        raise ValueError(f"s must have shape (N,), got {np.shape(s)}")
    energies: list = []
    final = _recall(W, s, order, max_sweeps, seed, energies)
    return final, np.concatenate(energies)


def flip_bits(s, n_flip: int, seed=None) -> np.ndarray:
    """A copy of s: (N,) in {-1, +1} with ``n_flip`` distinct, randomly chosen entries negated."""
    s = np.asarray(s)
    if s.ndim != 1 or not 0 <= n_flip <= s.shape[0]:
        raise ValueError(f"need s of shape (N,) and 0 <= n_flip <= N, got {s.shape} and {n_flip}")
    s = _as_states(s, s.shape[0])
    flipped = s.copy()
    index = np.random.default_rng(seed).choice(s.shape[0], size=int(n_flip), replace=False)
    flipped[index] *= -1
    return flipped


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
    alphas = np.asarray(alphas, dtype=np.float64)
    if n_units < 2 or alphas.ndim != 1 or np.any(alphas <= 0) or n_trials < 1:
        raise ValueError(f"need n_units >= 2, a 1-D array of alphas > 0 and n_trials >= 1, "
                         f"got {n_units}, {alphas}, {n_trials}")
    rng = np.random.default_rng(seed)
    bit_error, exact = np.zeros(len(alphas)), np.zeros(len(alphas))
    for k, alpha in enumerate(alphas):
        for _ in range(n_trials):
            patterns = rng.choice([-1.0, 1.0], size=(max(1, round(alpha * n_units)), n_units))
            # Unscaled integer weights (N * W) give the same dynamics with exact local fields, so a
            # tie h_i = 0 is decided identically by NumPy and by any GPU.
            W = patterns.T @ patterns
            np.fill_diagonal(W, 0.0)
            if device is None:
                final = hopfield_recall(W, patterns, max_sweeps=max_sweeps, seed=rng)
            else:
                to = dict(device=device, dtype=torch.float64)
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
    unknown = [c for c in names if c not in GLYPHS]
    if unknown or not names:
        raise ValueError(f"names must be letters from {''.join(GLYPHS)}, got {names!r}")
    return np.array([[1.0 if ch == "#" else -1.0 for row in GLYPHS[c] for ch in row] for c in names])
