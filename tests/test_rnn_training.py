"""Chapter 10's training code at tiny size: the adding problem, the counting baselines against direct
counts, bits per character against a model of known probabilities, sampling, and the GPU recipe's path."""
from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from bad_input_table import table_tests
from dlcourse import rnn_training as rt
from dlcourse.data import Vocabulary


def test_adding_problem_targets_are_the_sums_of_the_two_marked_values():
    X, y = rt.adding_problem(200, 10, seed=1)
    assert X.shape == (200, 10, 2) and y.shape == (200,)
    assert np.all(X[:, :, 1].sum(1) == 2) and np.all(X[:, :5, 1].sum(1) == 1)
    np.testing.assert_allclose(y, (X[:, :, 0] * X[:, :, 1]).sum(1), rtol=1e-6)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.03)


def test_sequence_regressor_reads_out_the_last_state_and_lstm_starts_with_forget_bias_one():
    torch.manual_seed(0)
    model = rt.SequenceRegressor("lstm", 2, 3)
    np.testing.assert_array_equal(model.recurrent.bias_hh_l0[3:6].detach().numpy(), 1.0)
    x = torch.rand(4, 5, 2)
    states, _ = model.recurrent(x)
    torch.testing.assert_close(model(x), model.readout(states[:, -1]).squeeze(-1))


def test_train_adding_records_a_falling_loss_at_tiny_size():
    model, history = rt.train_adding("gru", 4, steps=150, hidden=8, eval_every=50, learning_rate=1e-2)
    assert history["step"] == [50, 100, 150] and len(history["train_mse"]) == 150
    assert history["val_mse"][-1] < 0.08  # length 4 is easy; predicting the mean scores 1/6


def test_ngram_baselines_match_direct_counts():
    train, test, V = np.array([0, 1, 1, 2, 1, 0]), np.array([1, 2, 0]), 4
    counts = np.array([2, 3, 1, 0]) + 1.0
    unigram = -np.mean(np.log2(counts[test] / counts.sum()))
    assert rt.ngram_bits_per_char(train, test, V, order=1) == pytest.approx(unigram, rel=1e-12)
    p12 = (1 + 1) / (3 + 4)  # after 1: 1 -> 1, 1 -> 2, 1 -> 0 seen once each, 3 transitions
    p20 = (0 + 1) / (1 + 4)  # after 2: only 2 -> 1 seen
    assert rt.ngram_bits_per_char(train, test, V, order=2) == pytest.approx(-(math.log2(p12) + math.log2(p20)) / 2)
    assert rt.ngram_bits_per_char(train, test, V, order=2, alpha=0.5) != rt.ngram_bits_per_char(train, test, V)


class _Fixed(nn.Module):
    """Next-character model with fixed probabilities: bits per character are known in closed form."""

    def __init__(self, probs):
        super().__init__()
        self.logits = nn.Parameter(torch.log(torch.tensor(probs, dtype=torch.float32)))
        self.vocab_size = len(probs)

    def forward(self, ids):
        return self.logits.expand(ids.shape[0], ids.shape[1], -1)


@pytest.mark.parametrize("seq_len", [1, 3, 7, 100])
def test_bits_per_char_predicts_every_id_but_the_first_once(seq_len):
    probs = [0.5, 0.25, 0.25]
    ids = np.array([0, 1, 2, 0, 0, 1, 0, 2, 2, 1])
    expected = -np.mean(np.log2(np.array(probs)[ids[1:]]))
    assert rt.bits_per_char(_Fixed(probs), ids, seq_len=seq_len, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert rt.next_char_accuracy(_Fixed(probs), ids, seq_len=seq_len) == pytest.approx(np.mean(ids[1:] == 0))


def test_char_lstm_shapes_and_a_uniform_start():
    torch.manual_seed(0)
    model = rt.CharLSTM(11, 4, 6, num_layers=2)
    assert model(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 5, 11)
    ids = np.random.default_rng(0).integers(0, 11, 300)
    assert rt.bits_per_char(model, ids) == pytest.approx(math.log2(11), abs=0.3)


def test_train_char_model_learns_a_periodic_text_and_keeps_the_best_validation_step():
    vocab = Vocabulary(list("abcd"))
    text = vocab.encode(list("abcd" * 200))
    torch.manual_seed(0)
    model = rt.CharLSTM(len(vocab), 4, 16)
    history = rt.train_char_model(model, text, text[:200], steps=80, seq_len=12, batch_size=8,
                                  learning_rate=2e-2, eval_every=20)
    assert history["step"] == [20, 40, 60, 80]
    best = int(np.argmin(history["val_bpc"]))
    assert history["best_step"] == history["step"][best]
    assert rt.bits_per_char(model, text[:200], seq_len=128) == pytest.approx(history["val_bpc"][best], rel=1e-5)
    assert history["val_bpc"][best] < 0.3  # chance: log2(8) = 3 bits
    assert rt.sample_text(model, vocab, "ab", 8, temperature=0.2) == "cdabcdab"
    short = rt.train_char_model(model, text, text[:200], steps=2, seq_len=12, batch_size=8, eval_every=1,
                                eval_seq_len=5)
    assert min(short["val_bpc"]) == pytest.approx(rt.bits_per_char(model, text[:200], seq_len=5), rel=1e-5)
    assert min(short["val_bpc"]) != pytest.approx(rt.bits_per_char(model, text[:200], seq_len=128), rel=1e-3)


def test_sampling_temperature_sharpens_and_flattens_the_distribution():
    vocab = Vocabulary(list("xy"))  # ids: specials 0-3, then x, y
    probs = np.full(len(vocab), 1e-9)
    probs[vocab.id("x")], probs[vocab.id("y")] = 0.7, 0.3
    model = _Fixed(probs / probs.sum())
    cold = rt.sample_text(model, vocab, "x", 400, temperature=0.05, seed=1)
    warm = rt.sample_text(model, vocab, "x", 400, temperature=1.0, seed=1)
    assert cold.count("x") == 400
    assert warm.count("x") / 400 == pytest.approx(0.7, abs=0.07)
    assert rt.sample_text(model, vocab, "x", 50, seed=3) == rt.sample_text(model, vocab, "x", 50, seed=3)


def test_char_corpus_builds_the_vocabulary_on_train_only():
    corpus = rt.char_corpus({"train": "abca", "validation": "abz", "test": "c"})
    assert corpus["vocab"].decode(corpus["validation"]) == ["a", "b", "<unk>"]
    assert len(corpus["train"]) == 4 and corpus["vocab"].counts["a"] == 2
    with pytest.raises(ValueError, match="missing"):
        rt.char_corpus({"train": "ab"})


def test_gpu_recipe_runs_tiny_offline_on_cpu():
    result = rt.gpu_char_lm_wikitext2("cpu", offline=True, tiny=True)
    assert result["dataset"].startswith("python docs")
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["test_bits_per_char"] > 0 and result["bar"] == 1.6
    assert "10_rnn.char_lstm_wikitext2" in rt.GPU_RECIPES


def test_gpu_recipe_reads_wikitext2_when_it_is_cached(tmp_path, monkeypatch):
    from dlcourse.data import text

    archive = tmp_path / "wikitext-2-v1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for member in ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"):
            zf.writestr(f"wikitext-2/{member}", " = Valkyria Chronicles = \n the game is a role playing game . \n" * 80)
    from dlcourse.data.mnist import md5sum

    monkeypatch.setattr(text, "WIKITEXT2", (archive.name, md5sum(archive)))
    real = text.load_wikitext2
    monkeypatch.setattr(text, "load_wikitext2", lambda split: real(split, root=tmp_path, download=False,
                                                                   archive=(archive.name, md5sum(archive))))
    import dlcourse.data as data

    monkeypatch.setattr(data, "load_wikitext2", text.load_wikitext2)
    result = rt.gpu_char_lm_wikitext2("cpu", tiny=True)
    assert result["dataset"].startswith("WikiText-2")


_IDS = np.arange(10) % 4
TABLE = {
    "adding_problem": (rt.adding_problem, {"n": 3, "length": 4}, {"n": [0, 1.5, True], "length": [1, "4"]}),
    "SequenceRegressor": (rt.SequenceRegressor, {"cell": "rnn"}, {"cell": ["transformer"], "hidden": [0, 2.0]}),
    "train_adding": (rt.train_adding, {"cell": "rnn", "length": 3, "steps": 1, "hidden": 2, "n_val": 4},
                     {"steps": [0], "learning_rate": [0.0, -1.0], "batch_size": [0], "seed": [-1]}),
    "ngram_bits_per_char": (rt.ngram_bits_per_char, {"train_ids": _IDS, "eval_ids": _IDS, "vocab_size": 4},
                            {"train_ids": [_IDS + 1, _IDS * 0.5, [0]], "eval_ids": [[-1, 0], np.zeros((2, 2), int)],
                             "order": [3, 0], "alpha": [0.0, np.nan], "vocab_size": [0]}),
    "CharLSTM": (rt.CharLSTM, {"vocab_size": 5}, {"vocab_size": [0, 2.5], "hidden_size": [-1],
                                                  "num_layers": [0], "embedding_dim": [True]}),
    "bits_per_char": (rt.bits_per_char, {"model": rt.CharLSTM(4, 2, 2), "ids": _IDS},
                      {"ids": [_IDS + 1, [1], _IDS * 1.0], "seq_len": [0], "batch_size": [0]}),
    "next_char_accuracy": (rt.next_char_accuracy, {"model": rt.CharLSTM(4, 2, 2), "ids": _IDS},
                           {"ids": [_IDS + 1, [1]], "seq_len": [0]}),
    "train_char_model": (rt.train_char_model, {"model": rt.CharLSTM(4, 2, 2), "train_ids": _IDS, "val_ids": _IDS,
                                               "steps": 1, "seq_len": 3, "batch_size": 2},
                         {"train_ids": [_IDS + 1, _IDS[:3]], "seq_len": [0, 9], "steps": [0], "eval_seq_len": [0],
                          "learning_rate": [0.0], "val_ids": [[0]]}),
    "sample_text": (rt.sample_text, {"model": rt.CharLSTM(6, 2, 2), "vocab": Vocabulary(list("ab")),
                                     "prompt": "a", "n_chars": 2},
                    {"prompt": ["", 3], "n_chars": [-1], "temperature": [0.0, -1.0], "context": [0]}),
    "char_corpus": (rt.char_corpus, {"text_by_split": {"train": "ab", "validation": "a", "test": "b"}},
                    {"text_by_split": [{"train": "ab"}], "max_chars": [0, 1.5]}),
    "gpu_char_lm_wikitext2": (rt.gpu_char_lm_wikitext2, {"device": "cpu", "offline": True, "tiny": True},
                              {"device": ["no-such-device"]}),
}
globals().update(table_tests(TABLE, [rt]))


def test_sampling_never_emits_a_special_token_even_when_the_model_prefers_it():
    vocab = Vocabulary(list("ab"))

    class LovesEos(torch.nn.Module):  # puts almost all probability on <eos>, the rest on "b"
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # a model has parameters (their device is used)

        def forward(self, window):
            logits = torch.full((1, window.shape[1], len(vocab)), -20.0)
            logits[..., vocab.stoi["<eos>"]] = 20.0
            logits[..., vocab.stoi["b"]] = 0.0
            return logits

    sample = rt.sample_text(LovesEos(), vocab, "a", 30, seed=0)
    assert sample == "b" * 30
