"""Chapter 12 quality bar (CPU mode): the small transformer reverses >= 95% of 1,000 held-out 8-digit
strings exactly (epoch chosen on validation), and a GRU with attention beats the same GRU without it."""
from __future__ import annotations

import pytest
import torch

from dlcourse import transformer as tf


@pytest.mark.quality
def test_cpu_recipe_reverses_held_out_strings_and_attention_removes_the_bottleneck():
    torch.set_num_threads(1)
    splits = tf.reverse_task_splits(n_train=3000, n_val=500, n_test=1000, min_len=8, max_len=8)
    torch.manual_seed(0)
    model = tf.Seq2SeqTransformer(d_model=32, n_heads=2, n_layers=1, d_ff=64)
    history = tf.train_seq2seq(model, splits, epochs=4, batch_size=32, learning_rate=3e-3)
    assert max(history["val_exact"]) >= 0.95
    assert tf.exact_match(model, *splits["test"]) >= 0.95
    scores = {}
    for use in (True, False):
        torch.manual_seed(0)
        gru = tf.GRUSeq2Seq(d_embed=16, hidden=48, attention=use)
        tf.train_seq2seq(gru, splits, epochs=3, batch_size=32, learning_rate=3e-3)
        scores[use] = tf.exact_match(gru, *splits["test"])
    assert scores[True] >= 0.95 and scores[False] < 0.5
