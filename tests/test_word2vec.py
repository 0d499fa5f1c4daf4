"""dlcourse.word2vec: pairs by hand, the torch loss against the NumPy gradients, training at tiny size,
the planted corpus, the comparison helpers, the GPU recipe on CPU, and the bad-input table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import embeddings as emb
from dlcourse import word2vec as w2v
from dlcourse.data import Vocabulary


def test_skipgram_pairs_by_hand():
    c, o = w2v.skipgram_pairs(np.array([5, 6, 7]), 1)
    assert sorted(zip(c.tolist(), o.tolist())) == [(5, 6), (6, 5), (6, 7), (7, 6)]
    c, o = w2v.skipgram_pairs(np.array([5, 6, 7]), 2)
    assert len(c) == 6 and (5, 7) in set(zip(c.tolist(), o.tolist()))


def test_the_torch_loss_has_the_numpy_gradients():
    torch.manual_seed(0)
    model = w2v.SkipGram(7, 4).double()
    torch.nn.init.normal_(model.out.weight)
    centre, context, noise = torch.tensor([0, 3, 3]), torch.tensor([1, 2, 6]), torch.tensor([[4, 5], [1, 0], [2, 2]])
    loss = model(centre, context, noise)
    loss.backward()
    v, u = model.inp.weight.detach().numpy(), model.out.weight.detach().numpy()
    got, dv, du_pos, du_neg = emb.sgns_loss_and_grads(v[centre], u[context], u[noise])
    assert loss.item() == pytest.approx(got, abs=1e-12)
    want_in, want_out = np.zeros_like(v), np.zeros_like(u)
    np.add.at(want_in, centre.numpy(), dv)
    np.add.at(want_out, context.numpy(), du_pos)
    np.add.at(want_out, noise.numpy(), du_neg)
    np.testing.assert_allclose(model.inp.weight.grad.numpy(), want_in, atol=1e-12)
    np.testing.assert_allclose(model.out.weight.grad.numpy(), want_out, atol=1e-12)


def test_planted_corpus_pairs_each_person_with_its_own_markers_only():
    tokens = w2v.planted_corpus(200, seed=3)
    sentences = " ".join(tokens).split(" . ")
    for sentence in sentences:
        words = set(sentence.replace(" .", "").split())
        if "queen" in words:
            assert words & {"she", "her", "hers"} and words & {"crown", "throne", "palace"}
            assert not words & {"he", "his", "him", "street", "school"}
    assert tokens.count(".") == 200


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_analogy_comes_out_exactly_after_tiny_training(seed):
    torch.set_num_threads(1)
    tokens = w2v.planted_corpus(1500, seed=seed)
    vocab = Vocabulary(tokens)
    model, history = w2v.train_skipgram(vocab.encode(tokens), len(vocab), dim=16, epochs=3, subsample=None,
                                        seed=seed)
    E = w2v.input_vectors(model)
    assert history["loss"][-1] < history["loss"][0]
    assert emb.analogy(E, vocab.id("man"), vocab.id("king"), vocab.id("woman")).tolist() == [vocab.id("queen")]


def test_training_keeps_the_epoch_best_on_validation():
    rng = np.random.default_rng(0)
    ids, val = rng.integers(0, 20, 600), rng.integers(0, 20, 200)
    model, history = w2v.train_skipgram(ids, 20, dim=4, epochs=3, validation_ids=val, batch_size=256)
    best = history["best_epoch"]
    assert history["val_accuracy"][best - 1] == max(history["val_accuracy"])
    c, o, noise = w2v._validation_pairs(val, 20, 2, 5, emb.noise_distribution(np.bincount(ids, minlength=20)),
                                        np.random.default_rng(123))
    assert 0.0 <= w2v.pair_accuracy(model, c, o, noise) <= 1.0


def test_pair_accuracy_by_hand():
    model = w2v.SkipGram(3, 1)
    with torch.no_grad():
        model.inp.weight.copy_(torch.tensor([[1.0], [1.0], [1.0]]))
        model.out.weight.copy_(torch.tensor([[2.0], [0.0], [-1.0]]))
    acc = w2v.pair_accuracy(model, np.array([0, 0]), np.array([0, 1]), np.array([[1, 2], [0, 2]]))
    assert acc == pytest.approx(3 / 4)  # 2 > 0, 2 > -1, 0 < 2, 0 > -1


def test_ppmi_svd_and_skipgram_both_solve_the_planted_analogy_and_the_comparison_helpers():
    tokens = w2v.planted_corpus(1500, seed=0)
    vocab = Vocabulary(tokens)
    S = w2v.ppmi_svd_embeddings(vocab.encode(tokens), len(vocab), 6, window=2)
    assert emb.analogy(S, vocab.id("man"), vocab.id("king"), vocab.id("woman")).tolist() == [vocab.id("queen")]
    assert w2v.neighbour_agreement(S, S, [4, 5, 6], k=3) == 1.0
    rho, used = w2v.word_similarity_spearman(S, vocab.itos, [("king", "queen", 9), ("king", "man", 5),
                                                              ("king", "toy", 0), ("x", "y", 1)])
    assert used == 3 and -1.0 <= rho <= 1.0


def test_word_similarity_spearman_matches_scipy_on_a_hand_embedding():
    from scipy.stats import spearmanr

    E = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [-1.0, 0.1]])
    words = ["a", "b", "c", "d"]
    pairs = [("a", "b", 9), ("a", "c", 3), ("a", "d", 4), ("b", "c", 5)]
    cos = [0.9 / np.hypot(0.9, 0.2), 0.0, -1.0 / np.hypot(1.0, 0.1), 0.2 / np.hypot(0.9, 0.2)]
    rho, used = w2v.word_similarity_spearman(E, words, pairs)
    assert used == 4 and rho == pytest.approx(spearmanr(cos, [9, 3, 4, 5]).statistic)


def test_neighbour_agreement_by_hand():
    E1 = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    E2 = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    assert w2v.neighbour_agreement(E1, E2, [0], k=1) == 0.0  # 1 versus 2
    assert w2v.neighbour_agreement(E1, E2, [0], k=3) == 1.0


def test_gpu_recipe_runs_tiny_on_cpu_offline():
    torch.set_num_threads(1)
    result = w2v.GPU_RECIPES["11_word_embeddings.skipgram_wikitext2"]("cpu", offline=True, tiny=True)
    assert result["dataset"].startswith("python docs") and result["bar"] == 0.85
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["seconds"] > 0


def test_gpu_recipe_falls_back_to_the_docs_when_wikitext2_is_unreachable(monkeypatch):
    from dlcourse import data

    def unreachable(split):
        raise data.DatasetUnavailableError("could not download wikitext-2-v1.zip (are you offline?)")

    monkeypatch.setattr(data, "load_wikitext2", unreachable)
    result = w2v.gpu_skipgram_wikitext2("cpu", offline=False, tiny=True)
    assert result["dataset"] == "python docs (offline)" and 0.0 <= result["test_accuracy"] <= 1.0


def test_gpu_recipe_reads_wikitext2_through_the_loader(monkeypatch):
    from dlcourse import data

    calls = []

    def fake(split):
        calls.append(split)
        return " ".join(np.random.default_rng(len(calls)).choice([f"w{i}" for i in range(30)], 3000))

    monkeypatch.setattr(data, "load_wikitext2", fake)
    result = w2v.gpu_skipgram_wikitext2("cpu", offline=False, tiny=True)
    assert calls == ["train", "validation", "test"] and result["dataset"] == "WikiText-2"


_IDS = np.array([0, 1, 2, 1, 0, 2, 1])
TABLE = {
    "skipgram_pairs": (w2v.skipgram_pairs, {"ids": _IDS, "window": 1},
                       {"ids": [_IDS.astype(float), _IDS[None]], "window": [0, 1.0]}),
    "SkipGram": (w2v.SkipGram, {"vocab_size": 3, "dim": 2}, {"vocab_size": [0, 2.5], "dim": [-1, True]}),
    "pair_accuracy": (w2v.pair_accuracy, {"model": w2v.SkipGram(3, 2), "centres": np.array([0]),
                                          "contexts": np.array([1]), "noise": np.array([[2]])},
                      {"model": [None, "model"], "centres": [np.array([0.5]), np.array([3])],
                       "contexts": [np.array([0, 1])], "noise": [np.array([2])]}),
    "train_skipgram": (w2v.train_skipgram, {"ids": _IDS, "vocab_size": 3, "dim": 2, "epochs": 1},
                       {"ids": [_IDS + 3, _IDS[:1], _IDS.astype(float)], "vocab_size": [0], "dim": [0],
                        "epochs": [0], "learning_rate": [0.0], "subsample": [-1.0],
                        "validation_ids": [np.array([5, 6]), np.array([0.5, 1.0])], "negatives": [0]}),
    "planted_corpus": (w2v.planted_corpus, {"n_sentences": 3}, {"n_sentences": [0, 2.0], "seed": [-1, "x"]}),
    "word_similarity_spearman": (w2v.word_similarity_spearman,
                                 {"E": np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), "itos": ["a", "b", "c"],
                                  "pairs": [("a", "b", 1), ("a", "c", 2), ("b", "c", 3)]},
                                 {"itos": [["a", "a", "b"]], "pairs": [[("a", "b", 1)]],
                                  "E": [np.full((3, 3), np.nan), np.eye(3)]}),
    "neighbour_agreement": (w2v.neighbour_agreement, {"E1": np.eye(3), "E2": np.eye(3), "words": [0], "k": 1},
                            {"words": [[], [3], [0.5]], "k": [0, 3], "E2": [np.eye(2)]}),
    "ppmi_svd_embeddings": (w2v.ppmi_svd_embeddings, {"ids": _IDS, "vocab_size": 3, "dim": 2},
                            {"ids": [_IDS + 5], "dim": [0, 4], "window": [0]}),
    "input_vectors": (w2v.input_vectors, {"model": w2v.SkipGram(3, 2)}, {"model": [np.eye(3), None]}),
    "gpu_skipgram_wikitext2": (w2v.gpu_skipgram_wikitext2, {"device": "cpu", "offline": True, "tiny": True},
                               {"device": ["nonsense-device"]}),
}
globals().update(table_tests(TABLE, [w2v]))
