"""Exercises of chapter 9: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint; the references agree with autograd and with an explicit pointwise
optimisation; the handout runs clean and the solution's integration cell finds w close to N/M."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.grading import get_exercise
from dlcourse.grading.bank import ex09_gans as bank
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "09_gans"
NAMES = ["generator_loss_grads", "discriminator_loss", "mode_coverage", "weighted_optimal_discriminator"]


# ---------------------------------------------------------------- plausible wrong answers, as a learner writes them

def grads_positive(d_fake):
    D = np.asarray(d_fake, dtype=float)
    return 1 / (1 - D), 1 / D, D, 1 - D  # signs dropped everywhere


def grads_logit_forgets_chain_rule(d_fake):
    D = np.asarray(d_fake, dtype=float)
    return -1 / (1 - D), -1 / D, -1 / (1 - D), -1 / D


def grads_swapped(d_fake):
    D = np.asarray(d_fake, dtype=float)
    return -1 / D, -1 / (1 - D), -(1 - D), -D


def loss_naive_log_sigmoid(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    sig_real, sig_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
    return float(-np.mean(np.log(sig_real)) - np.mean(np.log(1 - sig_fake)))  # -inf/nan at |a| ~ 800


def loss_labels_swapped(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(np.mean(np.logaddexp(0, real)) + np.mean(np.logaddexp(0, -fake)))


def loss_returns_value(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(-np.mean(np.logaddexp(0, -real)) - np.mean(np.logaddexp(0, fake)))  # V, not -V


def loss_sums(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(np.sum(np.logaddexp(0, -real)) + np.sum(np.logaddexp(0, fake)))


def loss_one_mean(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    terms = np.concatenate([np.logaddexp(0, -real), np.logaddexp(0, fake)])
    return float(terms.mean())


def _coverage(samples, centres, std, radius_of, threshold_of, strict=False):
    samples, centres = np.asarray(samples, dtype=float), np.asarray(centres, dtype=float)
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    on = radius_of(distances.min(axis=1), std)
    counts = np.bincount(distances.argmin(axis=1)[on], minlength=len(centres))
    limit = threshold_of(on)
    covered = np.sum(counts > limit) if strict else np.sum(counts >= limit)
    return int(covered), float(np.mean(~on))


def coverage_strict(samples, centres, std):
    return _coverage(samples, centres, std, lambda d, s: d <= 3 * s, lambda on: 0.05 * len(on), strict=True)


def coverage_two_sigma(samples, centres, std):
    return _coverage(samples, centres, std, lambda d, s: d <= 2 * s, lambda on: 0.05 * len(on))


def coverage_squared_distance(samples, centres, std):
    return _coverage(samples, centres, std, lambda d, s: d**2 <= 3 * s, lambda on: 0.05 * len(on))


def coverage_of_on_mode_samples(samples, centres, std):
    return _coverage(samples, centres, std, lambda d, s: d <= 3 * s, lambda on: 0.05 * on.sum())


def coverage_float_count(samples, centres, std):
    covered, off = bank.mode_coverage(samples, centres, std)
    return float(covered), off  # a float where an integer count is expected


def coverage_off_as_count(samples, centres, std):
    samples, centres = np.asarray(samples, dtype=float), np.asarray(centres, dtype=float)
    covered, off = bank.mode_coverage(samples, centres, std)
    return covered, int(round(off * len(samples)))  # the number of off-mode samples, not the fraction


def weighted_ignores_counts(p_data, p_g, n_real, n_fake):
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    return p / (p + q)


def weighted_swapped_counts(p_data, p_g, n_real, n_fake):
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    return n_fake * p / (n_fake * p + n_real * q)


def weighted_probability_of_fake(p_data, p_g, n_real, n_fake):
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    return n_fake * q / (n_real * p + n_fake * q)


def weighted_in_place(p_data, p_g, n_real, n_fake):
    p, q = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    p *= n_real  # right values, but the caller's p_data is scaled too
    q *= n_fake
    return p / (p + q)


WRONG = {
    "generator_loss_grads": [(grads_positive, "both derivatives are negative"),
                             (grads_logit_forgets_chain_rule, "sigmoid's slope"),
                             (grads_swapped, "are swapped")],
    "discriminator_loss": [(loss_naive_log_sigmoid, None),
                           (loss_labels_swapped, "the labels are swapped"),
                           (loss_returns_value, "D ascends V"),
                           (loss_sums, "not a sum"),
                           (loss_one_mean, "concatenated batch")],
    "mode_coverage": [(coverage_strict, ">=, not >"),
                      (coverage_two_sigma, "not 2 * std"),
                      (coverage_squared_distance, "not the squared distance"),
                      (coverage_of_on_mode_samples, "ALL samples"),
                      (coverage_float_count, None),
                      (coverage_off_as_count, None)],
    "weighted_optimal_discriminator": [(weighted_ignores_counts, "The counts matter"),
                                       (weighted_swapped_counts, "weights are swapped"),
                                       (weighted_probability_of_fake, "probability of REAL"),
                                       (weighted_in_place, None)],
}
IN_PLACE = [("weighted_optimal_discriminator", weighted_in_place)]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, handout_skips=1))


# ---------------------------------------------------------------- the references against independent ones

def test_generator_grads_reference_matches_autograd_on_every_case():
    for case in all_inputs(get_exercise(f"{STEM}.generator_loss_grads")):
        d = np.asarray(case["d_fake"], dtype=float)
        ours = bank.generator_loss_grads(d)
        a = torch.tensor(np.log(d) - np.log1p(-d), requires_grad=True)
        for i, (kind, wrt) in enumerate([("sat", "D"), ("ns", "D"), ("sat", "a"), ("ns", "a")]):
            leaf = a if wrt == "a" else torch.tensor(d, requires_grad=True)
            prob = torch.sigmoid(leaf) if wrt == "a" else leaf
            (torch.log1p(-prob) if kind == "sat" else -torch.log(prob)).sum().backward()
            np.testing.assert_allclose(ours[i], leaf.grad.numpy(), rtol=1e-8)
            a.grad = None


def test_discriminator_loss_reference_matches_torch_on_every_case():
    for case in all_inputs(get_exercise(f"{STEM}.discriminator_loss")):
        real, fake = torch.tensor(case["real_logits"]), torch.tensor(case["fake_logits"])
        expected = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                    + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        assert bank.discriminator_loss(**case) == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)


def test_weighted_optimum_minimises_the_pointwise_summed_loss():
    grid = np.linspace(1e-6, 1 - 1e-6, 400_001)
    for case in all_inputs(get_exercise(f"{STEM}.weighted_optimal_discriminator")):
        ours = bank.weighted_optimal_discriminator(**case)
        for p, q, d in zip(case["p_data"], case["p_g"], ours):
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = -(case["n_real"] * p * np.log(grid) + case["n_fake"] * q * np.log1p(-grid))
            assert d == pytest.approx(grid[np.nanargmin(loss)], abs=1e-5)


def test_hidden_coverage_cases_include_a_mode_at_exactly_five_percent():
    cases = get_exercise(f"{STEM}.mode_coverage").draw_hidden(0)
    assert any(bank.mode_coverage(**c) != coverage_strict(**c) for c in cases)
    assert any(bank.mode_coverage(**c) != coverage_of_on_mode_samples(**c) for c in cases)


def test_solution_integration_finds_the_weight_n_over_m():
    together = solution_integration_text(STEM, NAMES)
    assert together.count("passes its checks") == 2
    best = float(together.split("smallest summed loss: ")[1].split()[0])
    assert abs(best - 1 / 3) < 0.1
