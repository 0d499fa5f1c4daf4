"""Exercises of chapter 11: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with torch and the package, and the handout runs clean."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.grading import get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "11_word_embeddings"
NAMES = ["glove_weight", "cosine_neighbours", "analogy", "ppmi", "sgns_loss_grad"]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def glove_uncapped(x, x_max, alpha):
    return (np.asarray(x, float) / x_max) ** alpha


def glove_alpha_as_factor(x, x_max, alpha):
    return np.minimum(1.0, alpha * np.asarray(x, float) / x_max)


def glove_inverted(x, x_max, alpha):
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x < x_max, (x_max / x) ** alpha, 1.0)


def glove_linear(x, x_max, alpha):
    x = np.asarray(x, float)
    return np.where(x < x_max, x / x_max, 1.0)  # alpha forgotten


def neighbours_dot(E, word, k):
    E = np.asarray(E, float)
    scores = E @ E[word]
    scores[word] = -np.inf
    return np.argsort(-scores)[:k]


def neighbours_euclidean(E, word, k):
    E = np.asarray(E, float)
    d = np.linalg.norm(E - E[word], axis=1)
    d[word] = np.inf
    return np.argsort(d)[:k]


def neighbours_with_self(E, word, k):
    U = np.asarray(E, float) / np.linalg.norm(E, axis=1, keepdims=True)
    return np.argsort(-(U @ U[word]))[:k]


def neighbours_least_similar(E, word, k):
    U = np.asarray(E, float) / np.linalg.norm(E, axis=1, keepdims=True)
    scores = U @ U[word]
    scores[word] = np.inf
    return np.argsort(scores)[:k]


def neighbours_as_list_of_floats(E, word, k):
    U = np.asarray(E, float) / np.linalg.norm(E, axis=1, keepdims=True)
    scores = U @ U[word]
    scores[word] = -np.inf
    return np.argsort(-scores)[:k].astype(float)  # indices as floats: the wrong kind


def _unit(E):
    E = np.asarray(E, float)
    return E / np.linalg.norm(E, axis=1, keepdims=True)


def analogy_not_excluding(E, a, b, c):
    U = _unit(E)
    return int(np.argmax(U @ (U[b] - U[a] + U[c])))


def analogy_swapped(E, a, b, c):
    U = _unit(E)
    scores = U @ (U[a] - U[b] + U[c])
    scores[[a, b, c]] = -np.inf
    return int(np.argmax(scores))


def analogy_unnormalised(E, a, b, c):
    E = np.asarray(E, float)
    t = E[b] - E[a] + E[c]
    scores = _unit(E) @ (t / np.linalg.norm(t))
    scores[[a, b, c]] = -np.inf
    return int(np.argmax(scores))


def analogy_index_after_delete(E, a, b, c):
    U = _unit(E)
    rest = np.delete(U, [a, b, c], axis=0)  # the index into `rest` is returned, not into E
    return int(np.argmax(rest @ (U[b] - U[a] + U[c])))


def _ppmi_parts(X, alpha):
    X = np.asarray(X, float)
    N, c = X.sum(), X.sum(0)
    return X, N, X.sum(1) / N, c ** alpha / np.sum(c ** alpha)


def ppmi_unclipped(X, alpha):
    X, N, p_i, p_j = _ppmi_parts(X, alpha)
    pmi = np.log(np.where(X > 0, X / N, 1.0) / np.outer(p_i, p_j))
    return np.where(X > 0, pmi, 0.0)


def ppmi_smoothing_rows_too(X, alpha):
    X, N, _, p_j = _ppmi_parts(X, alpha)
    r = X.sum(1)
    p_i = r ** alpha / np.sum(r ** alpha)
    pmi = np.log(np.where(X > 0, X / N, 1.0) / np.outer(p_i, p_j))
    return np.where(X > 0, np.maximum(pmi, 0), 0.0)


def ppmi_conditional(X, alpha):
    X, N, p_i, _ = _ppmi_parts(X, alpha)
    pmi = np.log(np.where(X > 0, X / N, 1.0) / p_i[:, None])
    return np.where(X > 0, np.maximum(pmi, 0), 0.0)


def ppmi_log2(X, alpha):
    X, N, p_i, p_j = _ppmi_parts(X, alpha)
    pmi = np.log2(np.where(X > 0, X / N, 1.0) / np.outer(p_i, p_j))
    return np.where(X > 0, np.maximum(pmi, 0), 0.0)


def ppmi_ignoring_alpha(X, alpha):
    X, N, p_i, _ = _ppmi_parts(X, alpha)
    p_j = X.sum(0) / N
    pmi = np.log(np.where(X > 0, X / N, 1.0) / np.outer(p_i, p_j))
    return np.where(X > 0, np.maximum(pmi, 0), 0.0)


def _scores(v, u_pos, u_neg):
    v, u_pos, u_neg = (np.asarray(a, float) for a in (v, u_pos, u_neg))
    return v, u_pos, u_neg, (u_pos * v).sum(1), np.einsum("bkm,bm->bk", u_neg, v)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def sgns_wrong_noise_sign(v, u_pos, u_neg):
    v, u_pos, u_neg, sp, sn = _scores(v, u_pos, u_neg)
    loss = np.mean(-np.log(_sig(sp)) - np.log(_sig(sn)).sum(1))
    dv = ((_sig(sp) - 1)[:, None] * u_pos + np.einsum("bk,bkm->bm", _sig(sn) - 1, u_neg)) / len(v)
    return float(loss), dv


def sgns_sum(v, u_pos, u_neg):
    v, u_pos, u_neg, sp, sn = _scores(v, u_pos, u_neg)
    loss = np.sum(-np.log(_sig(sp)) - np.log(_sig(-sn)).sum(1))
    dv = (_sig(sp) - 1)[:, None] * u_pos + np.einsum("bk,bkm->bm", _sig(sn), u_neg)
    return float(loss), dv


def sgns_gradient_without_noise(v, u_pos, u_neg):
    v, u_pos, u_neg, sp, sn = _scores(v, u_pos, u_neg)
    loss = np.mean(-np.log(_sig(sp)) - np.log(_sig(-sn)).sum(1))
    return float(loss), (_sig(sp) - 1)[:, None] * u_pos / len(v)


def sgns_gradient_sign_flipped(v, u_pos, u_neg):
    v, u_pos, u_neg, sp, sn = _scores(v, u_pos, u_neg)
    loss = np.mean(-np.log(_sig(sp)) - np.log(_sig(-sn)).sum(1))
    dv = -((_sig(sp) - 1)[:, None] * u_pos + np.einsum("bk,bkm->bm", _sig(sn), u_neg)) / len(v)
    return float(loss), dv  # the ascent direction


WRONG = {
    "glove_weight": [(glove_uncapped, "Cap the weight"), (glove_alpha_as_factor, "not a factor"),
                     (glove_inverted, "not (x_max / x)"), (glove_linear, None)],
    "cosine_neighbours": [(neighbours_dot, "Normalise the rows"), (neighbours_euclidean, "not by Euclidean"),
                          (neighbours_with_self, "Exclude the word itself"),
                          (neighbours_least_similar, "DEcreasing"), (neighbours_as_list_of_floats, None)],
    "analogy": [(analogy_not_excluding, "Exclude the three"), (analogy_swapped, "not e_a - e_b + e_c"),
                (analogy_unnormalised, "Normalise the rows"), (analogy_index_after_delete, None)],
    "ppmi": [(ppmi_unclipped, "Clip at 0"), (ppmi_smoothing_rows_too, "Smooth only the CONTEXT"),
             (ppmi_conditional, "conditional"), (ppmi_log2, "natural logarithm"), (ppmi_ignoring_alpha, None)],
    "sgns_loss_grad": [(sgns_wrong_noise_sign, "pushed DOWN"), (sgns_sum, "not the sum"),
                       (sgns_gradient_without_noise, "a term from every noise word"),
                       (sgns_gradient_sign_flipped, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the references against torch

def test_sgns_reference_matches_autograd_on_every_case():
    for case in all_inputs(_exercise("sgns_loss_grad")):
        v, u, n = (torch.tensor(np.asarray(case[k], float), requires_grad=k == "v") for k in ("v", "u_pos", "u_neg"))
        pos, neg = (u * v).sum(-1), torch.einsum("bkm,bm->bk", n, v)
        loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
        loss.backward()
        got_loss, got_dv = _exercise("sgns_loss_grad").reference(**case)
        assert got_loss == pytest.approx(loss.item(), abs=1e-12)
        np.testing.assert_allclose(got_dv, v.grad.numpy(), atol=1e-12)


def test_cosine_reference_matches_torch_ranking_on_every_case():
    for case in all_inputs(_exercise("cosine_neighbours")):
        E = torch.tensor(np.asarray(case["E"], float))
        sims = torch.nn.functional.cosine_similarity(E[case["word"]][None], E, dim=1)
        sims[case["word"]] = -torch.inf
        want = torch.topk(sims, case["k"]).indices.numpy()
        np.testing.assert_array_equal(_exercise("cosine_neighbours").reference(**case), want)


def test_ppmi_reference_with_alpha_one_is_the_package_ppmi_and_hidden_cases_have_negative_pmi():
    from dlcourse import embeddings as emb

    negative = 0
    for case in all_inputs(_exercise("ppmi")):
        got = _exercise("ppmi").reference(**case)
        if case["alpha"] == 1.0:
            np.testing.assert_allclose(got, emb.ppmi(case["X"]), atol=1e-14)
        negative += int(np.any((ppmi_unclipped(**case) < 0)))
    assert negative >= 10


def test_analogy_hidden_cases_often_have_a_query_word_nearest_to_the_target():
    won = sum(analogy_not_excluding(**case) in (case["a"], case["b"], case["c"])
              for case in all_inputs(_exercise("analogy")))
    assert won >= 10


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "king - man + woman = queen" in together
    assert "your PPMI equals the package's: True" in together
    assert "your loss and dv equal the package's: True" in together
