"""dlcourse.embeddings against autograd, closed forms and hand-counted values, and its bad-input table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import embeddings as emb


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- counting models

def test_bag_of_words_counts_the_phrase_and_ignores_unknown_words():
    vocab = ["the", "a", "cat", "is", "are", "on", "table", "kitchen"]
    x = emb.bag_of_words("the cat is on the table".split(), vocab)
    assert x.tolist() == [2, 0, 1, 1, 0, 1, 1, 0]
    assert emb.bag_of_words(["dog", "the"], vocab).tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_bag_of_words_refuses_a_vocabulary_with_a_repeated_word():
    with pytest.raises(ValueError, match="'cat' more than once"):
        emb.bag_of_words(["cat"], ["the", "cat", "on", "cat"])


def test_ngram_counts_and_unseen_fraction_by_hand():
    train = "a b a b c".split()
    assert emb.ngram_counts(train, 2) == {("a", "b"): 2, ("b", "a"): 1, ("b", "c"): 1}
    assert sum(emb.ngram_counts(train, 5).values()) == 1 and emb.ngram_counts(train, 6) == {}
    val = "a b c a".split()  # bigrams ab (seen), bc (seen), ca (unseen)
    assert emb.unseen_ngram_fraction(train, val, 2) == pytest.approx(1 / 3)
    assert emb.unseen_ngram_fraction(train, val, 1) == 0.0


def test_unseen_fraction_never_falls_as_n_grows():
    rng = _rng(1)
    words = [str(w) for w in rng.integers(0, 6, 400)]
    fractions = [emb.unseen_ngram_fraction(words[:300], words[300:], n) for n in range(1, 6)]
    assert all(a <= b + 1e-12 for a, b in zip(fractions, fractions[1:]))
    assert fractions[-1] > fractions[0]


# ---------------------------------------------------------------- the neural language model

def test_nnlm_matches_torch_and_its_input_is_n_minus_1_times_m_wide():
    rng = _rng(2)
    V, m, h, n, B = 11, 3, 5, 4, 6
    C, H, d = rng.normal(size=(V, m)), rng.normal(size=(h, (n - 1) * m)), rng.normal(size=h)
    U, b = rng.normal(size=(V, h)), rng.normal(size=V)
    context = rng.integers(0, V, (B, n - 1))
    got = emb.nnlm_log_probs(context, C, H, d, U, b)
    emb_t = torch.nn.Embedding.from_pretrained(torch.tensor(C))
    hidden = torch.nn.Linear((n - 1) * m, h).double()
    out = torch.nn.Linear(h, V).double()
    with torch.no_grad():
        hidden.weight.copy_(torch.tensor(H)), hidden.bias.copy_(torch.tensor(d))
        out.weight.copy_(torch.tensor(U)), out.bias.copy_(torch.tensor(b))
        x = emb_t(torch.tensor(context)).flatten(1)
        assert x.shape == (B, (n - 1) * m)
        want = torch.log_softmax(out(torch.tanh(hidden(x))), dim=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)
    with pytest.raises(ValueError, match="H must have shape"):
        emb.nnlm_log_probs(context, C, rng.normal(size=(h, n * m)), d, U, b)  # |V|m or n m: wrong width


# ---------------------------------------------------------------- negative sampling

def _sgns_torch(v, u_pos, u_neg):
    v, u_pos, u_neg = (torch.tensor(a, requires_grad=True) for a in (v, u_pos, u_neg))
    pos = (u_pos * v).sum(-1)
    neg = torch.einsum("bkm,bm->bk", u_neg, v)
    loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
    loss.backward()
    return loss.item(), v.grad.numpy(), u_pos.grad.numpy(), u_neg.grad.numpy()


@pytest.mark.parametrize("B, K, m", [(1, 1, 1), (4, 5, 3), (7, 2, 8)])
def test_sgns_loss_and_gradients_match_autograd(B, K, m):
    rng = _rng(B * K)
    v, u_pos, u_neg = rng.normal(size=(B, m)), rng.normal(size=(B, m)), rng.normal(size=(B, K, m))
    for got, want in zip(emb.sgns_loss_and_grads(v, u_pos, u_neg), _sgns_torch(v, u_pos, u_neg)):
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_sgns_worked_value_at_zero_vectors_is_k_plus_one_log_two():
    loss, dv, du, dn = emb.sgns_loss_and_grads(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4, 3)))
    assert loss == pytest.approx(5 * np.log(2), abs=1e-12)
    assert not dv.any() and not du.any() and not dn.any()


def test_sgns_is_stable_for_huge_scores():
    v = np.full((1, 2), 100.0)
    loss, dv, _, _ = emb.sgns_loss_and_grads(v, -v, v[:, None, :])  # both terms wrong by 20,000
    assert loss == pytest.approx(40000.0) and np.all(np.isfinite(dv))


def test_cbow_loss_and_gradients_match_autograd():
    rng = _rng(5)
    B, C, K, m = 3, 4, 2, 5
    vc, u_pos, u_neg = rng.normal(size=(B, C, m)), rng.normal(size=(B, m)), rng.normal(size=(B, K, m))
    t = [torch.tensor(a, requires_grad=True) for a in (vc, u_pos, u_neg)]
    h = t[0].mean(1)
    pos, neg = (t[1] * h).sum(-1), torch.einsum("bkm,bm->bk", t[2], h)
    loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
    loss.backward()
    got = emb.cbow_loss_and_grads(vc, u_pos, u_neg)
    assert got[0] == pytest.approx(loss.item(), abs=1e-12)
    for g, tensor in zip(got[1:], t):
        np.testing.assert_allclose(g, tensor.grad.numpy(), atol=1e-10)


def test_noise_distribution_is_the_unigram_to_the_three_quarters():
    counts = np.array([16.0, 1.0, 0.0, 81.0])
    p = emb.noise_distribution(counts)
    np.testing.assert_allclose(p, np.array([8.0, 1.0, 0.0, 27.0]) / 36.0, atol=1e-15)
    np.testing.assert_allclose(emb.noise_distribution(counts, power=1.0), counts / counts.sum())
    assert p[1] > counts[1] / counts.sum()  # rare words are drawn more often than their frequency


def test_keep_probability_discards_only_frequent_words():
    counts = np.array([900.0, 90.0, 10.0, 0.0])
    keep = emb.keep_probability(counts, t=0.01)
    np.testing.assert_allclose(keep, [np.sqrt(0.01 / 0.9), np.sqrt(0.01 / 0.09), 1.0, 1.0])


# ---------------------------------------------------------------- GloVe

def test_glove_weight_worked_values():
    f = emb.glove_weight(np.array([0.0, 1.0, 50.0, 100.0, 400.0]), x_max=100.0, alpha=0.75)
    np.testing.assert_allclose(f, [0.0, 0.01 ** 0.75, 0.5 ** 0.75, 1.0, 1.0])


def test_glove_loss_and_gradients_match_autograd_and_skip_zero_counts():
    rng = _rng(7)
    V, m = 6, 3
    X = rng.integers(0, 150, (V, V)).astype(float)
    X[rng.random((V, V)) < 0.3] = 0.0
    params = [rng.normal(size=(V, m)), rng.normal(size=(V, m)), rng.normal(size=V), rng.normal(size=V)]
    t = [torch.tensor(p, requires_grad=True) for p in params]
    Xt = torch.tensor(X)
    f = torch.where(Xt < 100, (Xt / 100) ** 0.75, torch.ones_like(Xt))
    err = t[0] @ t[1].T + t[2][:, None] + t[3][None, :] - torch.log(torch.where(Xt > 0, Xt, torch.ones_like(Xt)))
    J = (f * err ** 2 * (Xt > 0)).sum()
    J.backward()
    got = emb.glove_loss_and_grads(*params, X)
    assert got[0] == pytest.approx(J.item(), rel=1e-12)
    for g, tensor in zip(got[1:], t):
        np.testing.assert_allclose(g, tensor.grad.numpy(), atol=1e-10)


# ---------------------------------------------------------------- neighbours and analogies

def test_cosine_similarity_matches_torch():
    rng = _rng(8)
    E, Q = rng.normal(size=(9, 4)), rng.normal(size=(3, 4))
    want = torch.nn.functional.cosine_similarity(torch.tensor(Q)[:, None], torch.tensor(E)[None], dim=-1)
    np.testing.assert_allclose(emb.cosine_similarity(E, Q), want.numpy(), atol=1e-12)


def test_nearest_neighbours_excludes_the_word_and_the_excluded():
    E = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.05], [-1.0, 0.0]])
    assert emb.nearest_neighbours(E, 0, 2).tolist() == [3, 1]
    assert emb.nearest_neighbours(E, 0, 2, exclude=[3]).tolist() == [1, 2]


def test_analogy_excludes_the_query_words_where_the_raw_argmax_is_a_query_word():
    # man and woman nearly parallel: b - a + c is almost king itself, which must not be the answer
    E = np.array([[1.0, 0.1], [1.0, 1.0], [1.0, 0.2], [0.5, 1.0], [-1.0, 0.3]])
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    sims = emb.cosine_similarity(E, (unit[1] - unit[0] + unit[2])[None])[0]
    assert np.argmax(sims) in (0, 1, 2)
    brute = max((i for i in range(5) if i not in (0, 1, 2)), key=lambda i: sims[i])
    assert emb.analogy(E, 0, 1, 2).tolist() == [brute] == [3]
    assert emb.analogy(E, 0, 1, 2, k=2).tolist() == [3, 4]


# ---------------------------------------------------------------- the count-based baseline

def test_cooccurrence_matrix_by_hand():
    X = emb.cooccurrence_matrix(np.array([0, 1, 2, 1]), 4, 1)
    want = np.zeros((4, 4))
    for i, j in [(0, 1), (1, 2), (2, 1)]:
        want[i, j] += 1
        want[j, i] += 1
    np.testing.assert_array_equal(X, want)
    assert emb.cooccurrence_matrix(np.array([0, 1, 2]), 3, 2)[0, 2] == 1.0


def test_ppmi_matches_its_definition():
    X = np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 4.0]])
    N, rows = X.sum(), X.sum(1)
    want = np.zeros_like(X)
    for i in range(3):
        for j in range(3):
            if X[i, j] > 0:
                want[i, j] = max(0.0, np.log(X[i, j] * N / (rows[i] * rows[j])))
    np.testing.assert_allclose(emb.ppmi(X), want, atol=1e-14)


@pytest.mark.parametrize("shape, symmetric", [((7, 7), True), ((7, 7), False), ((9, 6), False)])
def test_svd_embeddings_are_u_times_root_s_of_numpy_svd_up_to_column_signs(shape, symmetric):
    rng = _rng(10)
    M = rng.normal(size=shape)
    if symmetric:
        M = M + M.T  # indefinite: negative eigenvalues give singular values |lambda|
    U, S, _ = np.linalg.svd(M)
    want = U[:, :3] * np.sqrt(S[:3])
    got = emb.svd_embeddings(M, 3)
    np.testing.assert_allclose(np.abs(got), np.abs(want), atol=1e-10)
    assert np.all(np.abs(got).argmax(0) == np.abs(want).argmax(0))
    assert np.all(got[np.abs(got).argmax(0), range(3)] > 0)


def test_svd_embeddings_reconstruct_a_low_rank_matrix():
    rng = _rng(9)
    A = rng.normal(size=(8, 2))
    M = A @ A.T  # symmetric PSD of rank 2: E E^T = M
    E = emb.svd_embeddings(M, 2)
    np.testing.assert_allclose(E @ E.T, M, atol=1e-10)


# ---------------------------------------------------------------- the bad-input table

_R = np.random.default_rng(0)
_V2 = _R.normal(size=(2, 3))
_UN = _R.normal(size=(2, 4, 3))
_CTX = np.array([[0, 1], [2, 3]])
_C, _H, _D, _U, _B = _R.normal(size=(5, 2)), _R.normal(size=(3, 4)), np.zeros(3), _R.normal(size=(5, 3)), np.zeros(5)
_E = _R.normal(size=(6, 3))
_X = np.array([[0.0, 2.0], [2.0, 1.0]])

TABLE = {
    "bag_of_words": (emb.bag_of_words, {"tokens": ["a"], "vocabulary": ["a", "b"]},
                     {"tokens": ["a b", [1, 2], None], "vocabulary": [["a", "a"], "ab", [None]]}),
    "ngram_counts": (emb.ngram_counts, {"tokens": ["a", "b"], "n": 2},
                     {"n": [0, -1, 1.5, True], "tokens": [3, [b"x"]]}),
    "unseen_ngram_fraction": (emb.unseen_ngram_fraction,
                              {"train_tokens": ["a", "b"], "validation_tokens": ["a", "b"], "n": 2},
                              {"validation_tokens": [["a"], []], "n": [0, "2"]}),
    "nnlm_log_probs": (emb.nnlm_log_probs, {"context": _CTX, "C": _C, "H": _H, "d": _D, "U": _U, "b": _B},
                       {"context": [_CTX + 4, -_CTX - 1, _CTX.astype(float), _CTX > 0, _CTX[0]],
                        "H": [_H[:, :3], np.full((3, 4), np.nan)], "d": [np.zeros(4)],
                        "U": [_U.T], "b": [np.zeros(4)], "C": [_C[0]]}),
    "sgns_loss_and_grads": (emb.sgns_loss_and_grads, {"v": _V2, "u_pos": _V2, "u_neg": _UN},
                            {"v": [_V2[0], np.zeros((0, 3)), _V2 > 0], "u_pos": [_V2[:1], _V2.T],
                             "u_neg": [_UN[:1], _UN[..., :2], np.full((2, 4, 3), np.inf)]}),
    "cbow_loss_and_grads": (emb.cbow_loss_and_grads, {"v_context": _UN, "u_pos": _V2, "u_neg": _UN},
                            {"v_context": [_V2, np.zeros((2, 0, 3)), _UN[..., :2]], "u_pos": [_V2[:1]]}),
    "noise_distribution": (emb.noise_distribution, {"counts": np.array([3.0, 1.0])},
                           {"counts": [np.zeros(2), np.array([-1.0, 2.0]), np.ones((2, 2)), [True, False]],
                            "power": [-0.5, True, float("nan")]}),
    "keep_probability": (emb.keep_probability, {"counts": np.array([3.0, 1.0])},
                         {"counts": [np.zeros(2), np.array([-1.0, 2.0])], "t": [0.0, -1e-5, "small"]}),
    "glove_weight": (emb.glove_weight, {"x": np.array([0.0, 5.0])},
                     {"x": [np.array([-1.0]), np.array([np.nan])], "x_max": [0.0, -1.0], "alpha": [0, True]}),
    "glove_loss_and_grads": (emb.glove_loss_and_grads,
                             {"W": _X, "W_tilde": _X, "b": np.zeros(2), "b_tilde": np.zeros(2), "X": _X},
                             {"X": [-_X, np.ones((3, 3))], "W_tilde": [_X[:1]], "b": [np.zeros(3)],
                              "b_tilde": [np.zeros((2, 1))], "x_max": [0.0]}),
    "cosine_similarity": (emb.cosine_similarity, {"E": _E, "queries": _E[:2]},
                          {"E": [_E[0], np.full((2, 3), np.nan)], "queries": [_E[:, :2], _E[0]]}),
    "nearest_neighbours": (emb.nearest_neighbours, {"E": _E, "word": 0, "k": 2},
                           {"word": [6, -1, 1.0, True], "k": [0, 6, 2.5], "exclude": [[9], [0.5]]}),
    "analogy": (emb.analogy, {"E": _E, "a": 0, "b": 1, "c": 2},
                {"a": [6, -1], "b": [True], "c": ["2"], "k": [0, 4]}),
    "cooccurrence_matrix": (emb.cooccurrence_matrix, {"ids": np.array([0, 1, 2]), "vocab_size": 3, "window": 1},
                            {"ids": [np.array([0, 3]), np.array([0.0, 1.0]), np.array([[0, 1]])],
                             "vocab_size": [0, 2.0], "window": [0, True]}),
    "ppmi": (emb.ppmi, {"X": _X}, {"X": [-_X, np.zeros((2, 2)), _X[0], np.full((2, 2), np.inf)]}),
    "svd_embeddings": (emb.svd_embeddings, {"M": _X, "dim": 1}, {"dim": [0, 3, 1.0], "M": [_X[0]]}),
}
globals().update(table_tests(TABLE, [emb]))
