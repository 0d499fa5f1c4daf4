"""Boltzmann machines and RBMs against independent references: the pairwise sum over i < j, brute-force
sums over joint states (v, h), PyTorch autograd of the exact log-likelihood, and sampling statistics."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import boltzmann as bm


def _random_machine(n, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    W = np.triu(A, 1) + np.triu(A, 1).T
    return W, rng.normal(size=n)


def _rbm(d=5, h=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(d, h)), rng.normal(size=d), rng.normal(size=h)


def test_energy_matrix_form_equals_the_sum_over_pairs_i_lt_j():
    W, b = _random_machine(6)
    for x in itertools.product([0, 1], repeat=6):
        x = np.array(x, float)
        pairs = sum(W[i, j] * x[i] * x[j] for i in range(6) for j in range(i + 1, 6))
        assert bm.energy(x, W, b) == pytest.approx(-b @ x - pairs, abs=1e-12)


def test_energy_worked_value_and_the_missing_half():
    W = np.array([[0.0, 2, -1], [2, 0, 3], [-1, 3, 0]])
    b = np.array([1.0, -2, 0.5])
    x = np.array([1.0, 1, 1])
    # -b^T x = 0.5; pairs w12 + w13 + w23 = 4 -> E = 0.5 - 4 = -3.5 (x^T W x would double-count: -7.5)
    assert bm.energy(x, W, b) == pytest.approx(-3.5)
    assert -b @ x - x @ W @ x == pytest.approx(-7.5)


def test_boltzmann_distribution_is_exp_minus_energy_normalised_over_all_states():
    W, b = _random_machine(4, seed=1)
    states, p = bm.boltzmann_distribution(W, b)
    assert states.shape == (16, 4) and len({tuple(s) for s in states}) == 16
    brute = np.array([np.exp(-bm.energy(s, W, b)) for s in states])
    np.testing.assert_allclose(p, brute / brute.sum(), rtol=1e-12)
    np.testing.assert_array_equal(states[5], [0, 1, 0, 1])  # binary counting, unit 0 = highest bit


def test_unit_conditionals_match_the_exact_distribution():
    W, b = _random_machine(4, seed=7)
    states, p = bm.boltzmann_distribution(W, b)
    x = np.array([[1.0, 0, 1, 1], [0, 0, 0, 0]])
    got = bm.unit_conditionals(x, W, b)
    index = {tuple(s): k for k, s in enumerate(states)}
    for r, row in enumerate(x):
        for i in range(4):
            on, off = row.copy(), row.copy()
            on[i], off[i] = 1, 0
            p_on, p_off = p[index[tuple(on)]], p[index[tuple(off)]]
            assert got[r, i] == pytest.approx(p_on / (p_on + p_off), rel=1e-12)


def test_enumeration_is_capped_at_twelve_units():
    assert bm.all_states(12).shape == (4096, 12)
    with pytest.raises(ValueError, match="at most 12"):
        bm.boltzmann_distribution(np.zeros((13, 13)), np.zeros(13))


def test_rbm_conditionals_match_the_joint_distribution_by_brute_force():
    W, b, c = _rbm(3, 2, seed=2)
    joint = {}
    for v in itertools.product([0, 1], repeat=3):
        for h in itertools.product([0, 1], repeat=2):
            v_, h_ = np.array(v, float), np.array(h, float)
            joint[v, h] = np.exp(b @ v_ + c @ h_ + v_ @ W @ h_)
    v = (1, 0, 1)
    p_h1 = [sum(p for (vv, hh), p in joint.items() if vv == v and hh[j] == 1)
            / sum(p for (vv, _), p in joint.items() if vv == v) for j in range(2)]
    np.testing.assert_allclose(bm.hidden_probs(np.array([v], float), W, c)[0], p_h1, rtol=1e-12)
    h = (0, 1)
    p_v1 = [sum(p for (vv, hh), p in joint.items() if hh == h and vv[i] == 1)
            / sum(p for (_, hh), p in joint.items() if hh == h) for i in range(3)]
    np.testing.assert_allclose(bm.visible_probs(np.array([h], float), W, b)[0], p_v1, rtol=1e-12)


def test_free_energy_marginalises_the_hidden_units():
    W, b, c = _rbm(4, 3, seed=3)
    v = bm.all_states(4)
    brute = [np.log(sum(np.exp(b @ x + c @ np.array(h) + x @ W @ np.array(h))
                        for h in itertools.product([0, 1], repeat=3))) for x in v]
    np.testing.assert_allclose(-bm.free_energy(v, W, b, c), brute, rtol=1e-12)


def test_exact_gradient_matches_autograd_of_the_exact_log_likelihood():
    W, b, c = _rbm(5, 3, seed=4)
    data = bm.all_states(5)[[1, 7, 12, 30, 30, 18]]
    Wt, bt, ct = (torch.tensor(a, requires_grad=True) for a in (W, b, c))
    states, V = torch.tensor(bm.all_states(5)), torch.tensor(data)

    def neg_free(x):
        return x @ bt + torch.nn.functional.softplus(ct + x @ Wt).sum(1)

    ll = neg_free(V).mean() - torch.logsumexp(neg_free(states), 0)
    ll.backward()
    assert bm.log_likelihood(data, W, b, c) == pytest.approx(ll.item(), abs=1e-12)
    for mine, ref in zip(bm.exact_gradient(data, W, b, c), (Wt.grad, bt.grad, ct.grad)):
        np.testing.assert_allclose(mine, ref.numpy(), atol=1e-12)


def test_cd_k_approaches_the_exact_gradient_as_k_grows():
    W, b, c = _rbm(6, 4, seed=5, scale=1.5)
    data = np.repeat(bm.all_states(6)[[3, 12, 40, 63]], 5000, axis=0)
    exact = np.concatenate([g.ravel() for g in bm.exact_gradient(data, W, b, c)])
    errors = {}
    for k in (1, 50):
        cd = np.concatenate([g.ravel() for g in bm.cd_gradient(data, W, b, c, k=k, seed=0)])
        errors[k] = np.linalg.norm(cd - exact) / np.linalg.norm(exact)
    assert errors[50] < 0.1 < errors[1]


def test_gibbs_chain_samples_the_rbm_marginal():
    W, b, c = _rbm(3, 2, seed=6)
    samples = bm.gibbs_chain(np.zeros((20000, 3)), W, b, c, n_steps=30, seed=1)
    states = bm.all_states(3)
    logits = -bm.free_energy(states, W, b, c)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    codes = (samples @ [4, 2, 1]).astype(int)
    np.testing.assert_allclose(np.bincount(codes, minlength=8) / len(codes), p, atol=0.015)


def test_train_rbm_raises_the_likelihood_of_a_small_data_set():
    rng = np.random.default_rng(0)
    patterns = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], float)
    V = np.abs(patterns[rng.integers(0, 2, 400)] - (rng.random((400, 6)) < 0.05))
    W0, b0, c0 = 0.01 * rng.normal(size=(6, 4)), np.zeros(6), np.zeros(4)
    W, b, c, errors = bm.train_rbm(V, n_hidden=4, epochs=30, learning_rate=0.1, batch_size=20)
    assert bm.log_likelihood(V, W, b, c) > bm.log_likelihood(V, W0, b0, c0) + 1.5
    assert errors[-1] < errors[0]


W6, B6 = _random_machine(3)
WR, BR, CR = _rbm(3, 2)
V2 = np.array([[1.0, 0, 1], [0, 1, 1]])
TABLE = {
    "energy": (bm.energy, {"x": np.array([1.0, 0, 1]), "W": W6, "b": B6},
               {"x": [np.array([1, 2, 0.0]), np.array([True, False, True]), np.ones(4), np.array([np.nan, 0, 1])],
                "W": [np.ones((3, 3)), np.triu(W6), np.zeros((2, 2))], "b": [np.array([]), "b", np.ones((3, 1))]}),
    "unit_conditionals": (bm.unit_conditionals, {"x": V2, "W": W6, "b": B6},
                          {"x": [V2[0], np.ones((2, 4)), V2 * 2], "W": [np.ones((3, 3))], "b": [np.ones(2)]}),
    "all_states": (bm.all_states, {"n_units": 3}, {"n_units": [0, 13, 2.0, True]}),
    "boltzmann_distribution": (bm.boltzmann_distribution, {"W": W6, "b": B6},
                               {"W": [W6 + np.eye(3)], "b": [np.zeros(13), np.array([np.inf, 0, 0])]}),
    "hidden_probs": (bm.hidden_probs, {"v": V2, "W": WR, "c": CR},
                     {"v": [V2[0], np.ones((2, 4)), V2 * 0.5], "c": [np.ones(3)], "W": [np.ones(3)]}),
    "visible_probs": (bm.visible_probs, {"h": np.array([[1.0, 0]]), "W": WR, "b": BR},
                      {"h": [np.array([[1.0, 0, 1]]), np.array([[2.0, 0]])], "b": [np.ones(2)]}),
    "free_energy": (bm.free_energy, {"v": V2, "W": WR, "b": BR, "c": CR},
                    {"v": [np.ones((2, 5))], "b": [np.ones(4)], "c": [np.full(2, np.nan)]}),
    "gibbs_chain": (bm.gibbs_chain, {"v0": V2, "W": WR, "b": BR, "c": CR, "n_steps": 2},
                    {"n_steps": [-1, 1.5], "seed": [-3, "x"], "v0": [np.ones((2, 2))]}),
    "cd_gradient": (bm.cd_gradient, {"v0": V2, "W": WR, "b": BR, "c": CR, "k": 1},
                    {"k": [0, 1.0, True], "v0": [V2 + 1]}),
    "log_likelihood": (bm.log_likelihood, {"v": V2, "W": WR, "b": BR, "c": CR},
                       {"W": [np.ones((13, 2))], "v": [np.ones((2, 2))]}),
    "exact_gradient": (bm.exact_gradient, {"v": V2, "W": WR, "b": BR, "c": CR},
                       {"W": [np.ones((13, 2))], "c": [np.ones(5)]}),
    "train_rbm": (bm.train_rbm, {"V": V2, "n_hidden": 2, "epochs": 1},
                  {"V": [V2 * 0.3, np.ones(3)], "n_hidden": [0], "epochs": [0, 1.0], "learning_rate": [0, -1],
                   "k": [0], "batch_size": [0]}),
}
globals().update(table_tests(TABLE, [bm]))
