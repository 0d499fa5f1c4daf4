"""Chapter 12's PyTorch models: the toy task's splits, masks that really hide the future and the
padding, pre- and post-norm blocks, the GRU's Bahdanau attention against the NumPy formula, bits per
character against a closed form, equal parameter counts, and the GPU recipe at tiny size."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import attention as att
from dlcourse import rnn_training as rt
from dlcourse import transformer as tf
from dlcourse.data import Vocabulary


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_reverse_splits_are_disjoint_and_targets_are_the_reversals():
    splits = tf.reverse_task_splits(n_train=50, n_val=20, n_test=30, min_len=2, max_len=5, seed=3)
    seen = [set(map(tuple, splits[name][0].tolist())) for name in ("train", "validation", "test")]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    src, tgt = splits["test"]
    for s, t in zip(src.tolist(), tgt.tolist()):
        digits = [d for d in s if d != tf.PAD]
        assert t[:len(digits)] == digits[::-1] and t[len(digits)] == tf.EOS
    assert tf.decoder_input(tgt)[:, 0].eq(tf.BOS).all()
    assert torch.equal(tf.decoder_input(tgt)[:, 1:], tgt[:, :-1])


@pytest.mark.parametrize("norm_first", [True, False])
def test_the_decoder_never_sees_the_future_and_the_encoder_ignores_padding(norm_first):
    torch.manual_seed(0)
    model = tf.Seq2SeqTransformer(d_model=16, n_heads=2, n_layers=2, d_ff=32, norm_first=norm_first).eval()
    src = torch.tensor([[3, 4, 5, 0, 0]])
    tgt_in = torch.tensor([[1, 5, 4, 3]])
    base = model(src, tgt_in)
    changed = tgt_in.clone()
    changed[0, 2:] = 7  # a later token must not change earlier predictions
    np.testing.assert_allclose(model(src, changed)[0, :2].detach(), base[0, :2].detach(), atol=1e-6)
    shorter = src[:, :3]  # dropping the padding changes nothing
    np.testing.assert_allclose(model(shorter, tgt_in).detach(), base.detach(), atol=1e-5)
    model(src, tgt_in)
    assert torch.all(model.cross_attention()[0][:, 3:] == 0)  # no weight on the padding keys
    assert (model.final is None) == (not norm_first)


def test_post_norm_block_normalises_after_the_residual():
    torch.manual_seed(0)
    block = tf.Block(8, 2, 16, norm_first=False).eval()
    y = block(torch.randn(2, 3, 8))
    np.testing.assert_allclose(y.mean(-1).detach(), 0, atol=1e-6)  # LayerNorm is last
    np.testing.assert_allclose(y.std(-1, unbiased=False).detach(), 1, atol=1e-3)


def test_gru_bahdanau_weights_equal_the_numpy_additive_scores():
    torch.manual_seed(1)
    model = tf.GRUSeq2Seq(d_embed=4, hidden=6).double()
    src = torch.tensor([[3, 4, 5, 6]])
    model(src, torch.tensor([[tf.BOS]]))
    H = model.encoder(model.embed(src))[0][0].detach().numpy()
    s = H[-1]  # the decoder starts from the last encoder state
    W1 = np.c_[model.W1.weight.detach().numpy(), model.W2.bias.detach().numpy()]  # the bias as a column
    e = att.additive_scores(np.r_[s, 1.0], H, W1, model.W2.weight.detach().numpy(),
                            model.v.weight.detach().numpy()[0])
    np.testing.assert_allclose(model.weights[0, 0].detach().numpy(), att.softmax(e), atol=1e-10)


def test_gru_without_attention_reads_only_the_last_state():
    torch.manual_seed(0)
    model = tf.GRUSeq2Seq(d_embed=4, hidden=6, attention=False).eval()
    a = model(torch.tensor([[3, 4, 5]]), torch.tensor([[1, 2]]))
    assert model.weights is None and a.shape == (1, 2, tf.N_TOKENS)


def test_lstm_width_matches_the_transformer_parameter_count():
    model = tf.CharTransformer(60, d_model=32, n_heads=2, n_layers=1, d_ff=64, context=16)
    n = tf.count_parameters(model)
    hidden = tf.lstm_hidden_for(n, 60, d_embed=16)
    lstm = rt.CharLSTM(60, embedding_dim=16, hidden_size=hidden)  # chapter 10's model
    assert abs(tf.count_parameters(lstm) - n) <= 8 * hidden + 100  # the nearest width
    for width in (hidden - 1, hidden + 1):  # and no other width is closer
        other = tf.count_parameters(rt.CharLSTM(60, embedding_dim=16, hidden_size=width))
        assert abs(other - n) >= abs(tf.count_parameters(lstm) - n)


def test_chapter_10s_training_lowers_a_transformers_validation_bpc_and_samples_text():
    text = "abcabcabd " * 200
    vocab = Vocabulary(list(text))
    ids = vocab.encode(list(text))
    torch.manual_seed(0)
    model = tf.CharTransformer(len(vocab), d_model=16, n_heads=2, n_layers=1, d_ff=32, context=16)
    before = rt.bits_per_char(model, ids, seq_len=16)
    history = rt.train_char_model(model, ids, ids, steps=60, seq_len=16, batch_size=16, eval_every=30,
                                  eval_seq_len=16)
    assert history["step"] == [30, 60] and min(history["val_bpc"]) < before - 0.5
    sample = rt.sample_text(model, vocab, "ab", 20, context=16)
    assert len(sample) == 20 and set(sample) <= set(text)


def test_the_gpu_recipe_runs_tiny_on_cpu_offline():
    result = tf.gpu_char_transformer("cpu", offline=True, tiny=True)
    assert result["dataset"] == "python_docs" and result["bar"] == 1.6
    assert 0 < result["test_bits_per_char"] < 10 and 0 <= result["test_accuracy"] <= 1
    assert "12_attention.char_transformer_wikitext2" in tf.GPU_RECIPES


_SPLITS = tf.reverse_task_splits(n_train=8, n_val=4, n_test=4, min_len=2, max_len=3)
_GRU = tf.GRUSeq2Seq(d_embed=2, hidden=3)
_LONG = torch.ones(2, 3, dtype=torch.long)
TABLE = {
    "reverse_task_splits": (tf.reverse_task_splits, dict(n_train=4, n_val=2, n_test=2, min_len=2, max_len=3),
                            {"n_train": [0, 2.5], "min_len": [0], "max_len": [1], "seed": [-1, "x"]}),
    "decoder_input": (tf.decoder_input, {"tgt": _LONG}, {"tgt": [np.ones((2, 3)), _LONG.float(), _LONG[0]]}),
    "Block": (tf.Block, dict(d_model=4, n_heads=2, d_ff=8), {"n_heads": [3, 0], "d_ff": [0]}),
    "Seq2SeqTransformer": (tf.Seq2SeqTransformer, dict(d_model=4, n_heads=2, n_layers=1, d_ff=8),
                           {"d_model": [5, 0], "n_layers": [0], "max_len": [1.5]}),
    "GRUSeq2Seq": (tf.GRUSeq2Seq, dict(d_embed=2, hidden=3), {"hidden": [0, 2.0], "d_embed": [True]}),
    "CharTransformer": (tf.CharTransformer, dict(n_tokens=5, d_model=4, n_heads=2, d_ff=8, context=4),
                        {"n_tokens": [0], "context": [0], "n_heads": [3]}),
    "greedy_decode": (tf.greedy_decode, {"model": _GRU, "src": _SPLITS["test"][0], "steps": 2},
                      {"steps": [0], "src": [np.ones((2, 2))], "model": ["x"]}),
    "exact_match": (tf.exact_match, {"model": _GRU, "src": _SPLITS["test"][0], "tgt": _SPLITS["test"][1]},
                    {"tgt": [_SPLITS["test"][1][:2], np.ones((4, 4))]}),
    "train_seq2seq": (tf.train_seq2seq, {"model": _GRU, "splits": _SPLITS, "epochs": 1},
                      {"epochs": [0], "learning_rate": [-1.0], "splits": [{"train": 1}], "model": [None]}),
    "count_parameters": (tf.count_parameters, {"model": _GRU}, {"model": ["x", None]}),
    "lstm_hidden_for": (tf.lstm_hidden_for, {"n_parameters": 1000, "n_tokens": 5},
                        {"n_parameters": [0], "n_tokens": [1.5]}),
    "gpu_char_transformer": (tf.gpu_char_transformer, {"device": "cpu", "offline": True, "tiny": True},
                             {"offline": [1], "tiny": ["yes"]}),
}
globals().update(table_tests(TABLE, [tf]))


def test_the_gpu_recipe_falls_back_to_the_offline_corpus_when_the_download_fails(monkeypatch):
    from dlcourse import data
    from dlcourse.data.mnist import DatasetUnavailableError

    def unavailable(split):
        raise DatasetUnavailableError("no network")

    monkeypatch.setattr(data, "load_wikitext2", unavailable)
    assert tf.gpu_char_transformer("cpu", offline=False, tiny=True)["dataset"] == "python_docs"
