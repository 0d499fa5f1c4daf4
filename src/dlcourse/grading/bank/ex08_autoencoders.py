"""Exercises of ``solutions/08_autoencoders.ipynb``: the Gaussian KL of a VAE, the sparse autoencoder's
KL penalty (argument order), the energy of a Boltzmann machine, and the conditional probabilities of
one Gibbs sweep over its units (the last is not printed in the chapter), easiest first.

Hidden cases use log-variances far from 0 (where using s instead of s^2 shows), target rates far from
the measured ones (where swapping the KL's arguments shows), and Boltzmann machines with small integer
weights and binary states, so energies are exact and a missing 1/2 or a flipped sign cannot hide.
"""
from __future__ import annotations

import numpy as np

from ...autoencoders import sparsity_kl as _sparsity_kl
from ...boltzmann import energy as _energy
from ...boltzmann import unit_conditionals as _unit_conditionals
from ...vae import gaussian_kl as _gaussian_kl
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from the package)


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row: -1/2 sum_k (1 + logvar - mu^2 - exp(logvar))."""
    return _gaussian_kl(mu, logvar)


def sparsity_kl(rho, rho_hat):
    """sum_j KL(rho || rho_hat_j) for a target rate rho and mean activations rho_hat (H,)."""
    return _sparsity_kl(rho, rho_hat)


def boltzmann_energy(X, W, b):
    """E(x) = -b^T x - 1/2 x^T W x for each row x of X (B, N): returns (B,)."""
    return np.asarray(_energy(np.asarray(X, dtype=float), W, b), dtype=float).reshape(-1)


def unit_conditionals(X, W, b):
    """p(x_i = 1 | x_-i) = sigmoid(b_i + sum_j w_ij x_j) for every unit of each row of X (B, N)."""
    return _unit_conditionals(X, W, b)


# ---------------------------------------------------------------- wrong versions

def _kl(mu, logvar, var):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return mu, logvar, var(logvar)


def _kl_std_for_var(mu, logvar):
    mu, logvar, s = _kl(mu, logvar, lambda lv: np.exp(0.5 * lv))
    return -0.5 * np.sum(1 + logvar - mu**2 - s, axis=1)


def _kl_no_half(mu, logvar):
    return 2 * _gaussian_kl(mu, logvar)


def _kl_sign(mu, logvar):
    return -_gaussian_kl(mu, logvar)


def _kl_mean(mu, logvar):
    return _gaussian_kl(mu, logvar) / np.shape(mu)[1]


def _kl_no_one(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return -0.5 * np.sum(logvar - mu**2 - np.exp(logvar), axis=1)


def _sparse_swapped(rho, rho_hat):
    r = np.asarray(rho_hat, dtype=float)
    return float(np.sum(r * np.log(r / rho) + (1 - r) * np.log((1 - r) / (1 - rho))))


def _sparse_one_term(rho, rho_hat):
    return float(np.sum(rho * np.log(rho / np.asarray(rho_hat, dtype=float))))


def _sparse_mean(rho, rho_hat):
    return _sparsity_kl(rho, rho_hat) / len(np.asarray(rho_hat))


def _energy_no_half(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return -X @ b - np.einsum("ni,ij,nj->n", X, W, X)


def _energy_plus_bias(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return X @ b - 0.5 * np.einsum("ni,ij,nj->n", X, W, X)


def _energy_sign(X, W, b):
    return -boltzmann_energy(X, W, b)


def _cond_half(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return 1 / (1 + np.exp(-(b + 0.5 * X @ W)))


def _cond_sign(X, W, b):
    return 1 - unit_conditionals(X, W, b)


def _cond_logit(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return b + X @ W


def _cond_no_bias(X, W, b):
    X, W = np.asarray(X, dtype=float), np.asarray(W, dtype=float)
    return 1 / (1 + np.exp(-(X @ W)))


# ---------------------------------------------------------------- hidden cases

def _kl_hidden(rng):
    cases = []
    for _ in range(8):
        n, k = int(rng.integers(1, 6)), int(rng.integers(2, 6))
        cases.append({"mu": rng.normal(0, 2, (n, k)), "logvar": rng.uniform(-4, 3, (n, k))})
    return cases


def _sparse_hidden(rng):
    cases = []
    for _ in range(8):
        rho = float(rng.choice([0.01, 0.05, 0.1, 0.3]))
        cases.append({"rho": rho, "rho_hat": rng.uniform(0.02, 0.9, int(rng.integers(2, 10)))})
    return cases


def _machine(rng, n):
    A = rng.integers(-3, 4, (n, n)).astype(float)
    W = np.triu(A, 1) + np.triu(A, 1).T
    return W, rng.integers(-3, 4, n).astype(float)


def _energy_hidden(rng):
    cases = []
    for _ in range(8):
        n = int(rng.integers(2, 8))
        W, b = _machine(rng, n)
        X = (rng.random((int(rng.integers(1, 6)), n)) < 0.6).astype(float)
        X[0] = 1.0  # every pair on: a missing 1/2 always shows
        cases.append({"X": X, "W": W, "b": b})
    return cases


def _conditional_hidden(rng):
    cases = []
    for _ in range(8):
        n = int(rng.integers(2, 8))
        W, b = _machine(rng, n)
        cases.append({"X": (rng.random((int(rng.integers(1, 5)), n)) < 0.5).astype(float), "W": 0.5 * W,
                      "b": 0.5 * b + 0.25})
    return cases


# ---------------------------------------------------------------- the registry

_W3 = np.array([[0.0, 2, -1], [2, 0, 3], [-1, 3, 0]])
_B3 = np.array([1.0, -2, 0.5])

EXERCISES = [
    Exercise(
        id="08_autoencoders.gaussian_kl",
        reference=gaussian_kl,
        public_cases=[
            Case({"mu": np.zeros((1, 3)), "logvar": np.zeros((1, 3))}, "q is the prior: KL = 0", (np.zeros(1),)),
            Case({"mu": np.array([[1.0, 0.0]]), "logvar": np.array([[0.0, 1.0]])}, "mu = 1; then s^2 = e",
                 (np.array([0.5 + (np.e - 2) / 2]),)),
            Case({"mu": np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]]),
                  "logvar": np.array([[-1.0, 0.5, 0.0], [2.0, -2.0, 0.0]])}, "two rows, one KL each"),
        ],
        hidden_cases=_kl_hidden,
        output_names=("kl",),
        description="Closed-form KL of a diagonal Gaussian from N(0, I), one value per row.",
        mistakes=[
            Mistake("exp(logvar) is the variance s^2; exp(logvar / 2) is s, which does not belong in the formula.",
                    _kl_std_for_var),
            Mistake("Keep the factor -1/2 in front of the sum.", _kl_no_half),
            Mistake("The sign is flipped: a KL divergence is never negative.", _kl_sign),
            Mistake("Sum over the K latent dimensions; do not average them.", _kl_mean),
            Mistake("Each latent dimension contributes 1 + logvar - mu^2 - exp(logvar): the 1 is missing.",
                    _kl_no_one),
        ],
    ),
    Exercise(
        id="08_autoencoders.sparsity_kl",
        reference=sparsity_kl,
        public_cases=[
            Case({"rho": 0.1, "rho_hat": np.array([0.1, 0.1])}, "every unit at the target: 0", (0.0,)),
            Case({"rho": 0.05, "rho_hat": np.array([0.5])}, "one unit, far above the target",
                 (0.05 * np.log(0.1) + 0.95 * np.log(1.9),)),
            Case({"rho": 0.05, "rho_hat": np.array([0.01, 0.05, 0.2, 0.7])}, "the chapter's four units"),
        ],
        hidden_cases=_sparse_hidden,
        output_names=("penalty",),
        description="sum_j KL(rho || rho_hat_j) of Bernoulli distributions, target rate first.",
        mistakes=[
            Mistake("The arguments are swapped: the target rho comes first, KL(rho || rho_hat_j) = "
                    "rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)).", _sparse_swapped),
            Mistake("A Bernoulli KL has two terms: add (1 - rho) log((1 - rho) / (1 - rho_hat_j)).",
                    _sparse_one_term),
            Mistake("Sum the penalty over the units; do not average it.", _sparse_mean),
        ],
    ),
    Exercise(
        id="08_autoencoders.boltzmann_energy",
        reference=boltzmann_energy,
        public_cases=[
            Case({"X": np.array([[1.0, 1, 1]]), "W": _W3, "b": _B3}, "the chapter's three units, all on",
                 (np.array([-3.5]),)),
            Case({"X": np.array([[0.0, 0, 0], [0, 1, 1], [1, 0, 0]]), "W": _W3, "b": _B3},
                 "three states of the same machine", (np.array([0.0, -1.5, -1.0]),)),
        ],
        hidden_cases=_energy_hidden,
        output_names=("E",),
        description="Energy -b^T x - 1/2 x^T W x of each binary row x.",
        mistakes=[
            Mistake("x^T W x counts every pair i < j twice (w_ij = w_ji): multiply it by 1/2, or sum over "
                    "i < j only.", _energy_no_half),
            Mistake("The bias term enters with a minus sign: E = -b^T x - ...", _energy_plus_bias),
            Mistake("The energy is the negative of the 'goodness' b^T x + 1/2 x^T W x: flip the sign.",
                    _energy_sign),
        ],
    ),
    Exercise(
        id="08_autoencoders.unit_conditionals",
        reference=unit_conditionals,
        public_cases=[
            Case({"X": np.array([[1.0, 1, 1]]), "W": _W3, "b": _B3}, "the chapter's machine, all units on"),
            Case({"X": np.zeros((1, 2)), "W": np.array([[0.0, 1], [1, 0]]), "b": np.zeros(2)},
                 "no bias, the other unit off: a fair coin", (np.array([[0.5, 0.5]]),)),
        ],
        hidden_cases=_conditional_hidden,
        output_names=("p_on",),
        description="p(x_i = 1 | all other units) for every unit i of each row: sigmoid(b_i + sum_j w_ij x_j).",
        mistakes=[
            Mistake("Flipping x_i changes every pair term w_ij x_i x_j once: the input to the sigmoid is "
                    "b_i + sum_j w_ij x_j, without a factor 1/2.", _cond_half),
            Mistake("That is p(x_i = 0 | ...): the probability of being on is sigmoid(+(b_i + ...)).", _cond_sign),
            Mistake("Return probabilities: apply the logistic sigmoid to b_i + sum_j w_ij x_j.", _cond_logit),
            Mistake("The bias b_i is part of the energy difference: sigmoid(b_i + sum_j w_ij x_j).", _cond_no_bias),
        ],
    ),
]
