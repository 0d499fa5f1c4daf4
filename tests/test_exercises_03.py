"""Exercises of chapter 3: the solutions score full marks, the stubs zero, plausible mistakes less than full
and with their own hint, the references agree with torch, and the handout runs clean.
"""
from __future__ import annotations

import numpy as np
import torch

from dlcourse.grading import check, get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "03_training"
NAMES = ["clip_by_norm", "early_stopping_index", "inverted_dropout", "batchnorm_forward", "adamw_steps"]
SEEDS = [0, 1, 2]


# ---------------------------------------------------------------- plausible wrong answers, as a learner writes them

def clip_each_entry(g, max_norm):
    return np.clip(np.asarray(g, dtype=float), -max_norm, max_norm)


def clip_always_rescales(g, max_norm):
    g = np.asarray(g, dtype=float)
    return g * max_norm / np.linalg.norm(g)


def clip_returns_unit_vector(g, max_norm):
    g = np.asarray(g, dtype=float)
    norm = np.linalg.norm(g)
    return g / norm if norm > max_norm else g  # forgets the factor max_norm


def early_stop_one_epoch_late(val_losses, patience):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited > patience:
                return best, epoch
    return best, len(val_losses) - 1


def early_stop_one_epoch_early(val_losses, patience):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited == patience - 1:
                return best, epoch
    return best, len(val_losses) - 1


def early_stop_ties_improve(val_losses, patience):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] <= val_losses[best]:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                return best, epoch
    return best, len(val_losses) - 1


def early_stop_returns_floats(val_losses, patience):
    best, stop = early_stop_ties_improve(val_losses, patience)
    return float(best), float(stop)


def dropout_not_inverted(x, mask, keep_prob):
    return np.asarray(x, dtype=float) * mask


def dropout_divides_by_drop_probability(x, mask, keep_prob):
    return np.asarray(x, dtype=float) * mask / (1 - keep_prob)


def dropout_multiplies_by_keep(x, mask, keep_prob):
    return np.asarray(x, dtype=float) * mask * keep_prob


def dropout_in_place(x, mask, keep_prob):
    x = np.asarray(x, dtype=float)
    x *= mask  # the caller's x is changed
    x /= keep_prob
    return x.copy()


def batchnorm_unbiased_variance(x, gamma, beta, eps):
    x = np.asarray(x, dtype=float)
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta


def batchnorm_over_features(x, gamma, beta, eps):
    x = np.asarray(x, dtype=float)
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def batchnorm_eps_outside(x, gamma, beta, eps):
    x = np.asarray(x, dtype=float)
    return gamma * (x - x.mean(0)) / (x.std(0) + eps) + beta


def adamw_as_adam_with_l2(theta0, grads, lr, beta1, beta2, eps, weight_decay):
    theta = np.array(theta0, dtype=float)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=float), start=1):
        g = g + weight_decay * theta
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return theta


def adamw_without_bias_correction(theta0, grads, lr, beta1, beta2, eps, weight_decay):
    theta = np.array(theta0, dtype=float)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for g in np.asarray(grads, dtype=float):
        theta = theta - lr * weight_decay * theta
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * m / (np.sqrt(v) + eps)
    return theta


def adamw_decay_without_lr(theta0, grads, lr, beta1, beta2, eps, weight_decay):
    theta = np.array(theta0, dtype=float)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=float), start=1):
        theta = theta - weight_decay * theta
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return theta


def adamw_modifies_theta0(theta0, grads, lr, beta1, beta2, eps, weight_decay):
    theta = np.asarray(theta0, dtype=float)  # no copy
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=float), start=1):
        theta *= 1 - lr * weight_decay
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        theta -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return theta.copy()


# Each wrong version with a distinctive part of the hint it must get; None: no registered mistake
# (the grader's own checks catch it: a wrong kind, an argument modified in place).
WRONG = {
    "clip_by_norm": [(clip_each_entry, "Clipping each entry"), (clip_always_rescales, "already shorter"),
                     (clip_returns_unit_vector, None)],
    "early_stopping_index": [(early_stop_one_epoch_late, "not one epoch later"),
                             (early_stop_one_epoch_early, "the other way"),
                             (early_stop_ties_improve, "A tie is not an improvement"),
                             (early_stop_returns_floats, None)],
    "inverted_dropout": [(dropout_not_inverted, "That is plain dropout"),
                         (dropout_divides_by_drop_probability, "the drop probability"),
                         (dropout_multiplies_by_keep, "test-time scaling"), (dropout_in_place, None)],
    "batchnorm_forward": [(batchnorm_unbiased_variance, "biased batch variance"),
                          (batchnorm_over_features, "axis=0"), (batchnorm_eps_outside, "inside the square root")],
    "adamw_steps": [(adamw_as_adam_with_l2, "That is Adam with L2"),
                    (adamw_without_bias_correction, "bias correction"),
                    (adamw_decay_without_lr, "scaled by the learning rate"), (adamw_modifies_theta0, None)],
}
IN_PLACE = [("inverted_dropout", dropout_in_place), ("adamw_steps", adamw_modifies_theta0)]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, seeds=SEEDS, handout_skips=None))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the discrimination contract


def test_float_indices_are_told_to_be_ints(capsys):
    check(early_stop_returns_floats, f"{STEM}.early_stopping_index")
    assert "int" in capsys.readouterr().out


# ---------------------------------------------------------------- the references against torch

def test_adamw_reference_matches_torch_on_every_case():
    exercise = _exercise("adamw_steps")
    for case in all_inputs(exercise):
        theta = torch.tensor(np.asarray(case["theta0"], dtype=float), requires_grad=True)
        opt = torch.optim.AdamW([theta], lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"],
                                weight_decay=case["weight_decay"])
        for g in case["grads"]:
            theta.grad = torch.tensor(g)
            opt.step()
        np.testing.assert_allclose(exercise.reference(*case.values()), theta.detach().numpy(), rtol=1e-10)


def test_batchnorm_reference_matches_torch_on_every_case_with_eps():
    exercise = _exercise("batchnorm_forward")
    for case in all_inputs(exercise):
        if case["eps"] == 0.0 or len(case["x"]) < 2:
            continue  # torch refuses eps = 0 and a batch of one in training mode
        layer = torch.nn.BatchNorm1d(case["x"].shape[1], eps=case["eps"]).double()
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(case["gamma"]))
            layer.bias.copy_(torch.tensor(case["beta"]))
        expected = layer(torch.tensor(case["x"])).detach().numpy()
        np.testing.assert_allclose(exercise.reference(*case.values()), expected, rtol=1e-9, atol=1e-12)


def test_dropout_reference_matches_torch_dropout_with_p_one_minus_keep():
    torch.manual_seed(0)
    x = torch.rand(30, 8, dtype=torch.float64) + 0.1
    out = torch.nn.functional.dropout(x, p=0.25)
    mask = (out != 0).double().numpy()
    np.testing.assert_allclose(_exercise("inverted_dropout").reference(x.numpy(), mask, 0.75), out.numpy(),
                               rtol=1e-12)


# ---------------------------------------------------------------- the notebooks


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert together.count("passes its checks") == len(NAMES)
    best = int(together.split("best epoch ")[1].split()[0])
    stop = int(together.split("stop after epoch ")[1].split()[0])
    assert stop == best + 4 or stop == 24
