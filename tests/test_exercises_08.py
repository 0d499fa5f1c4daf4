"""Exercises of chapter 8: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with torch.distributions and brute-force sums, and
the handout runs clean."""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from dlcourse.grading import get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "08_autoencoders"
NAMES = ["gaussian_kl", "sparsity_kl", "boltzmann_energy", "unit_conditionals"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def kl_with_s_for_the_variance(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar / 2), axis=1)


def kl_without_the_half(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return -np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)


def kl_with_the_sign_flipped(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)


def kl_averaged_over_dimensions(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return -0.5 * np.mean(1 + logvar - mu**2 - np.exp(logvar), axis=1)


def kl_without_the_one(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return -0.5 * np.sum(logvar - mu**2 - np.exp(logvar), axis=1)


def kl_summed_over_the_batch(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    return float(-0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar)))  # one number, not one per row


def sparse_with_swapped_arguments(rho, rho_hat):
    r = np.asarray(rho_hat, dtype=float)
    return float(np.sum(r * np.log(r / rho) + (1 - r) * np.log((1 - r) / (1 - rho))))


def sparse_with_one_term(rho, rho_hat):
    return float(np.sum(rho * np.log(rho / np.asarray(rho_hat, dtype=float))))


def sparse_averaged(rho, rho_hat):
    r = np.asarray(rho_hat, dtype=float)
    return float(np.mean(rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))))


def sparse_per_unit(rho, rho_hat):
    r = np.asarray(rho_hat, dtype=float)
    return rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))  # not summed: an array


def energy_without_the_half(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return -X @ b - np.sum((X @ W) * X, axis=1)


def energy_with_a_plus_bias(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return X @ b - 0.5 * np.sum((X @ W) * X, axis=1)


def energy_with_the_sign_flipped(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return X @ b + 0.5 * np.sum((X @ W) * X, axis=1)


def energy_of_the_first_row_only(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    x = X[0]
    return np.array([-b @ x - 0.5 * x @ W @ x])


def conditionals_with_a_half(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return 1 / (1 + np.exp(-(b + 0.5 * X @ W)))


def conditionals_for_off(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return 1 / (1 + np.exp(b + X @ W))


def conditionals_as_logits(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    return b + X @ W


def conditionals_without_bias(X, W, b):
    X, W = np.asarray(X, dtype=float), np.asarray(W, dtype=float)
    return 1 / (1 + np.exp(-(X @ W)))


def conditionals_sampled(X, W, b):
    X, W, b = (np.asarray(a, dtype=float) for a in (X, W, b))
    p = 1 / (1 + np.exp(-(b + X @ W)))
    return (np.random.default_rng(0).random(p.shape) < p).astype(float)  # a sample, not the probability


WRONG = {
    "gaussian_kl": [(kl_with_s_for_the_variance, "exp(logvar / 2) is s"), (kl_without_the_half, "-1/2"),
                    (kl_with_the_sign_flipped, "never negative"), (kl_averaged_over_dimensions, "do not average"),
                    (kl_without_the_one, "the 1 is missing"), (kl_summed_over_the_batch, None)],
    "sparsity_kl": [(sparse_with_swapped_arguments, "arguments are swapped"), (sparse_with_one_term, "two terms"),
                    (sparse_averaged, "do not average"), (sparse_per_unit, None)],
    "boltzmann_energy": [(energy_without_the_half, "counts every pair"), (energy_with_a_plus_bias, "minus sign"),
                         (energy_with_the_sign_flipped, "flip the sign"), (energy_of_the_first_row_only, None)],
    "unit_conditionals": [(conditionals_with_a_half, "without a factor 1/2"), (conditionals_for_off, "p(x_i = 0"),
                          (conditionals_as_logits, "Return probabilities"),
                          (conditionals_without_bias, "The bias b_i"), (conditionals_sampled, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), seeds=SEEDS, handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the references against independent ones

def test_gaussian_kl_reference_matches_torch_distributions_on_every_case():
    for case in all_inputs(_exercise("gaussian_kl")):
        mu, logvar = np.asarray(case["mu"], dtype=float), np.asarray(case["logvar"], dtype=float)
        q = Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
        expected = kl_divergence(q, Normal(torch.zeros_like(torch.tensor(mu)), 1.0)).sum(1).numpy()
        np.testing.assert_allclose(_exercise("gaussian_kl").reference(mu, logvar), expected, rtol=1e-12,
                                   atol=1e-14)


def test_sparsity_reference_matches_the_bernoulli_kl_on_every_case():
    for case in all_inputs(_exercise("sparsity_kl")):
        r = torch.tensor(np.asarray(case["rho_hat"], dtype=float))
        expected = kl_divergence(Bernoulli(probs=torch.full_like(r, case["rho"])), Bernoulli(probs=r)).sum()
        assert abs(_exercise("sparsity_kl").reference(case["rho"], case["rho_hat"]) - expected.item()) < 1e-12


def test_energy_and_conditional_references_match_brute_force_on_every_case():
    for case in all_inputs(_exercise("boltzmann_energy")):
        X, W, b = (np.asarray(case[k], dtype=float) for k in ("X", "W", "b"))
        n = len(b)
        pairs = [sum(W[i, j] * x[i] * x[j] for i, j in itertools.combinations(range(n), 2)) for x in X]
        np.testing.assert_allclose(_exercise("boltzmann_energy").reference(X, W, b), -X @ b - np.array(pairs),
                                   atol=1e-12)
    for case in all_inputs(_exercise("unit_conditionals")):
        X, W, b = (np.asarray(case[k], dtype=float) for k in ("X", "W", "b"))
        got = _exercise("unit_conditionals").reference(X, W, b)
        energy = _exercise("boltzmann_energy").reference
        for r, i in itertools.product(range(len(X)), range(len(b))):
            on, off = X[r:r + 1].copy(), X[r:r + 1].copy()
            on[0, i], off[0, i] = 1, 0
            expected = 1 / (1 + np.exp(energy(on, W, b)[0] - energy(off, W, b)[0]))
            assert abs(got[r, i] - expected) < 1e-12


# ---------------------------------------------------------------- the notebooks

def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "from the energies 0.952574" in together and "from unit_conditionals 0.952574" in together
