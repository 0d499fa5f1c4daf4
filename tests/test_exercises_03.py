"""Exercises of chapter 3: the solutions score full marks, the stubs zero, plausible mistakes less than full
and with their own hint, the references agree with torch, and the handout runs clean.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.grading import check, get_exercise, grade_function
from dlcourse.grading.assign import strip_solution
from exercise_helpers import (EXERCISES, SOLUTIONS, assert_same_outcome, error_outputs, execute_notebook,
                              find_mistake, load_function, printed_text, solution_sources)

STEM = "03_training"
NAMES = ["clip_by_norm", "early_stopping_index", "inverted_dropout", "batchnorm_forward", "adamw_steps"]
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return solution_sources(STEM, NAMES)


@pytest.fixture(scope="module")
def solved(sources) -> dict:
    return {name: load_function(sources[name], name) for name in NAMES}


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
HINTED = [(name, fn, key) for name, versions in WRONG.items() for fn, key in versions if key]
IN_PLACE = [("inverted_dropout", dropout_in_place), ("adamw_steps", adamw_modifies_theta0)]


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


def _all_inputs(exercise) -> list[dict]:
    return [dict(c.inputs) for c in exercise.public_cases] + [c for s in SEEDS for c in exercise.draw_hidden(s)]


# ---------------------------------------------------------------- the discrimination contract

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_solution_gets_full_marks(solved, name, seed):
    result = grade_function(f"{STEM}.{name}", solved[name], seed=seed)
    assert result.score == result.max_score, result.output


@pytest.mark.parametrize("name", NAMES)
def test_stub_scores_zero(sources, name):
    stub = load_function(strip_solution(sources[name]), name)
    result = grade_function(f"{STEM}.{name}", stub, seed=0)
    assert result.score == 0.0
    assert "not implemented yet" in result.output


@pytest.mark.parametrize("name, wrong", [(n, fn) for n, versions in WRONG.items() for fn, _ in versions],
                         ids=[fn.__name__ for versions in WRONG.values() for fn, _ in versions])
def test_plausible_mistake_scores_less_than_full(name, wrong):
    for seed in SEEDS:
        result = grade_function(f"{STEM}.{name}", wrong, seed=seed)
        assert result.score < result.max_score, f"{wrong.__name__} got {result.score}/{result.max_score} (seed {seed})"


@pytest.mark.parametrize("name", NAMES)
def test_check_passes_every_public_case_of_the_solution(solved, name, capsys):
    report = check(solved[name])
    assert report.all_passed and report.total >= 3
    assert "[FAIL]" not in capsys.readouterr().out


@pytest.mark.parametrize("name, wrong, key", HINTED, ids=[fn.__name__ for _, fn, _ in HINTED])
def test_registered_mistake_computes_what_the_wrong_version_returns(name, wrong, key):
    exercise = _exercise(name)
    mistake = find_mistake(exercise, key)
    for inputs in _all_inputs(exercise):
        assert_same_outcome(mistake.compute, wrong, inputs, exercise.rtol, exercise.atol)


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_mistake_has_a_wrong_version_here(name):
    covered = {id(find_mistake(_exercise(name), key)) for n, _, key in HINTED if n == name}
    assert covered == {id(m) for m in _exercise(name).mistakes}


@pytest.mark.parametrize("name, wrong, key", HINTED, ids=[fn.__name__ for _, fn, _ in HINTED])
def test_mistake_hint_shows_in_the_check_output(name, wrong, key, capsys):
    report = check(wrong, f"{STEM}.{name}")
    out = capsys.readouterr().out
    assert not report.all_passed
    assert find_mistake(_exercise(name), key).hint in out, out


@pytest.mark.parametrize("name, wrong, key", HINTED, ids=[fn.__name__ for _, fn, _ in HINTED])
def test_mistake_hint_shows_in_hidden_case_feedback(name, wrong, key):
    result = grade_function(f"{STEM}.{name}", wrong, seed=0)
    assert find_mistake(_exercise(name), key).hint in result.output, result.output


@pytest.mark.parametrize("name, wrong", IN_PLACE, ids=[fn.__name__ for _, fn in IN_PLACE])
def test_modifying_an_argument_in_place_loses_marks_and_says_so(name, wrong, capsys):
    assert not check(wrong, f"{STEM}.{name}").all_passed, capsys.readouterr().out
    result = grade_function(f"{STEM}.{name}", wrong, seed=0)
    assert result.score < result.max_score
    assert "modif" in result.output.lower(), result.output


def test_float_indices_are_told_to_be_ints(capsys):
    check(early_stop_returns_floats, f"{STEM}.early_stopping_index")
    assert "int" in capsys.readouterr().out


# ---------------------------------------------------------------- the references against torch

def test_adamw_reference_matches_torch_on_every_case():
    exercise = _exercise("adamw_steps")
    for case in _all_inputs(exercise):
        theta = torch.tensor(np.asarray(case["theta0"], dtype=float), requires_grad=True)
        opt = torch.optim.AdamW([theta], lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"],
                                weight_decay=case["weight_decay"])
        for g in case["grads"]:
            theta.grad = torch.tensor(g)
            opt.step()
        np.testing.assert_allclose(exercise.reference(*case.values()), theta.detach().numpy(), rtol=1e-10)


def test_batchnorm_reference_matches_torch_on_every_case_with_eps():
    exercise = _exercise("batchnorm_forward")
    for case in _all_inputs(exercise):
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

@pytest.mark.slow
def test_untouched_handout_runs_top_to_bottom_without_a_traceback():
    nb = execute_notebook(EXERCISES / f"{STEM}.ipynb")
    assert error_outputs(nb) == []
    assert "skipping" in printed_text(nb, "integration")


def test_solution_outputs_come_from_a_clean_run():
    from dlcourse.nbtools import read_notebook

    nb = read_notebook(SOLUTIONS / f"{STEM}.ipynb")
    assert error_outputs(nb) == []
    assert printed_text(nb, "check").count("all public cases pass") == len(NAMES)
    together = printed_text(nb, "integration")
    assert "skipping" not in together and together.count("passes its checks") == len(NAMES)
    best = int(together.split("best epoch ")[1].split()[0])
    stop = int(together.split("stop after epoch ")[1].split()[0])
    assert stop == best + 4 or stop == 24
