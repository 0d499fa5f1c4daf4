"""Chapter 11 quality bars (CPU mode): on the planted corpus skip-gram answers king - man + woman with queen
(top-1, query words excluded) for several seeds; on the Python documentation, skip-gram's validation pair
accuracy is well above chance and its word-similarity correlation is positive, as is PPMI + SVD's."""
from __future__ import annotations

import pytest
import torch

from dlcourse import embeddings as emb
from dlcourse import word2vec as w2v
from dlcourse.data import Vocabulary, load_python_docs, tokenize


@pytest.mark.quality
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_analogy_is_exact_after_training(seed):
    torch.set_num_threads(1)
    tokens = w2v.planted_corpus(3000, seed=seed)
    vocab = Vocabulary(tokens)
    model, _ = w2v.train_skipgram(vocab.encode(tokens), len(vocab), dim=16, epochs=5, subsample=None, seed=seed)
    E = w2v.input_vectors(model)
    assert emb.analogy(E, vocab.id("man"), vocab.id("king"), vocab.id("woman")).tolist() == [vocab.id("queen")]
    assert emb.analogy(E, vocab.id("man"), vocab.id("boy"), vocab.id("woman")).tolist() == [vocab.id("girl")]


@pytest.mark.quality
def test_docs_skipgram_beats_chance_and_ranks_word_pairs_like_people():
    torch.set_num_threads(1)
    train, val = tokenize(load_python_docs("train")), tokenize(load_python_docs("validation"))
    vocab = Vocabulary(train, min_count=5)
    model, history = w2v.train_skipgram(vocab.encode(train), len(vocab), dim=50, epochs=3, batch_size=1024,
                                        learning_rate=0.02, validation_ids=vocab.encode(val), subsample=1e-3)
    assert max(history["val_accuracy"]) >= 0.55  # chance: 0.5 per (true context, noise word) comparison
    E = w2v.input_vectors(model)
    rho, used = w2v.word_similarity_spearman(E, vocab.itos)
    assert used >= 20 and rho >= 0.3
    assert vocab.id("false") in emb.nearest_neighbours(E, vocab.id("true"), 5).tolist()
