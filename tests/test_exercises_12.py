"""Exercises of chapter 12: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with torch and closed forms, and the handout runs clean."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from dlcourse.grading import get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "12_attention"
NAMES = ["causal_weights", "positional_encoding", "masked_attention", "bahdanau_weights", "location_shift"]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def _rows(scores, axis=1):
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def causal_zero_after_softmax(scores):
    scores = np.asarray(scores, float)
    return _rows(scores) * np.tril(np.ones(scores.shape))  # masked after, not renormalised


def causal_upper(scores):
    scores = np.asarray(scores, float)
    return _rows(np.where(np.triu(np.ones(scores.shape, bool)), scores, -np.inf))


def causal_unmasked(scores):
    return _rows(np.asarray(scores, float))


def causal_over_queries(scores):
    scores = np.asarray(scores, float)
    return _rows(np.where(np.tril(np.ones(scores.shape, bool)), scores, -np.inf), axis=0)


def causal_mask_only(scores):
    return np.tril(np.ones(np.shape(scores), dtype=bool))  # the mask, not the weights


def pe_swapped(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    f = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.cos(p * f), np.sin(p * f[: d_model // 2])
    return pe


def pe_exponent_i(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    f = 10000.0 ** (-np.arange(0, (d_model + 1) // 2) / d_model)  # i/d instead of 2i/d
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(p * f), np.cos(p * f[: d_model // 2])
    return pe


def pe_from_one(n_positions, d_model):
    p = np.arange(1, n_positions + 1)[:, None]
    f = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(p * f), np.cos(p * f[: d_model // 2])
    return pe


def pe_halves(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    f = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)
    return np.concatenate([np.sin(p * f), np.cos(p * f[: d_model // 2])], axis=1)


def pe_base_1000(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    f = 1000.0 ** (-np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(p * f), np.cos(p * f[: d_model // 2])
    return pe


def _softmax_rows(scores, axis=1):
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attention_unscaled(Q, K, V, mask):
    scores = np.where(mask, np.asarray(Q, float) @ np.asarray(K, float).T, -np.inf)
    return _softmax_rows(scores) @ V


def attention_divide_by_d(Q, K, V, mask):
    Q = np.asarray(Q, float)
    scores = np.where(mask, Q @ np.asarray(K, float).T / Q.shape[1], -np.inf)
    return _softmax_rows(scores) @ V


def attention_softmax_over_queries(Q, K, V, mask):
    Q = np.asarray(Q, float)
    scores = np.where(mask, Q @ np.asarray(K, float).T / np.sqrt(Q.shape[1]), -np.inf)
    return np.nan_to_num(_softmax_rows(scores, axis=0)) @ V


def attention_inverted_mask(Q, K, V, mask):
    Q = np.asarray(Q, float)
    scores = np.where(~np.asarray(mask, bool), Q @ np.asarray(K, float).T / np.sqrt(Q.shape[1]), -np.inf)
    return np.nan_to_num(_softmax_rows(scores)) @ V


def attention_mask_ignored(Q, K, V, mask):
    Q = np.asarray(Q, float)
    return _softmax_rows(Q @ np.asarray(K, float).T / np.sqrt(Q.shape[1])) @ V


def attention_mask_times_zero(Q, K, V, mask):
    Q = np.asarray(Q, float)
    scores = Q @ np.asarray(K, float).T / np.sqrt(Q.shape[1]) * np.asarray(mask, float)  # 0, not -inf
    return _softmax_rows(scores) @ V


def bahdanau_scores_only(s, H, W1, W2, v):
    return np.tanh(np.asarray(W1) @ s + np.asarray(H) @ np.asarray(W2).T) @ v


def bahdanau_swapped(s, H, W1, W2, v):
    return _softmax_rows((np.tanh(np.asarray(W2) @ s + np.asarray(H) @ np.asarray(W1).T) @ v)[None])[0]


def bahdanau_sigmoid(s, H, W1, W2, v):
    z = np.asarray(W1) @ s + np.asarray(H) @ np.asarray(W2).T
    return _softmax_rows((1 / (1 + np.exp(-z)) @ v)[None])[0]


def bahdanau_tanh_outside(s, H, W1, W2, v):
    return _softmax_rows(np.tanh((np.asarray(W1) @ s + np.asarray(H) @ np.asarray(W2).T) @ v)[None])[0]


def bahdanau_no_nonlinearity(s, H, W1, W2, v):
    return _softmax_rows(((np.asarray(W1) @ s + np.asarray(H) @ np.asarray(W2).T) @ v)[None])[0]


def shift_reversed(weights, shift):
    w = np.asarray(weights, float)
    return shift[0] * np.roll(w, 1) + shift[1] * w + shift[2] * np.roll(w, -1)


def shift_not_circular(weights, shift):
    w = np.asarray(weights, float)
    return np.convolve(w, np.asarray(shift, float), mode="same")  # zero padding at the ends


def shift_renormalised_wrong(weights, shift):
    w = np.asarray(weights, float)
    out = shift[0] * np.roll(w, -1) + shift[1] * w + shift[2] * np.roll(w, 1)
    return out / out.max()


WRONG = {
    "causal_weights": [(causal_zero_after_softmax, "Mask BEFORE the softmax"), (causal_upper, "LOWER triangle"),
                       (causal_unmasked, "Apply the causal mask"), (causal_over_queries, "over the keys"),
                       (causal_mask_only, None)],
    "positional_encoding": [(pe_swapped, "Even columns"), (pe_exponent_i, "not i/d"),
                            (pe_from_one, "start at 0"), (pe_halves, "Interleave"), (pe_base_1000, None)],
    "masked_attention": [(attention_unscaled, "Divide the scores by sqrt(d_k)"),
                         (attention_divide_by_d, "not by d_k"),
                         (attention_softmax_over_queries, "over the keys"),
                         (attention_inverted_mask, "MAY attend"), (attention_mask_ignored, "Apply the mask"),
                         (attention_mask_times_zero, None)],
    "bahdanau_weights": [(bahdanau_scores_only, "not the raw scores"), (bahdanau_swapped, "W1 multiplies"),
                         (bahdanau_sigmoid, "is tanh"), (bahdanau_tanh_outside, "before the product"),
                         (bahdanau_no_nonlinearity, None)],
    "location_shift": [(shift_reversed, "from row i to row i + 1"), (shift_not_circular, "is circular"),
                       (shift_renormalised_wrong, None)],
}
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=(), handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the references against torch and closed forms

def test_masked_attention_reference_matches_torch_on_every_case():
    for case in all_inputs(_exercise("masked_attention")):
        ref = F.scaled_dot_product_attention(*(torch.tensor(np.asarray(case[k], float)) for k in "QKV"),
                                             attn_mask=torch.tensor(case["mask"]))
        np.testing.assert_allclose(_exercise("masked_attention").reference(**case), ref.numpy(), atol=1e-12)


def test_hidden_masks_leave_every_query_an_allowed_and_a_blocked_key():
    for case in all_inputs(_exercise("masked_attention"))[3:]:
        assert case["mask"].any(1).all() and (~case["mask"]).any(1).all()


def test_causal_weights_reference_matches_torch_with_the_nn_transformer_mask():
    for case in all_inputs(_exercise("causal_weights")):
        scores = torch.tensor(case["scores"])
        blocked = torch.ones(scores.shape, dtype=torch.bool).triu(1)  # what nn.Transformer blocks
        expected = torch.softmax(scores.masked_fill(blocked, -torch.inf), dim=-1)
        np.testing.assert_allclose(_exercise("causal_weights").reference(**case), expected.numpy(), atol=1e-12)


def test_location_shift_reference_is_a_circular_convolution_by_fft():
    for case in all_inputs(_exercise("location_shift")):
        w, s = case["weights"], case["shift"]
        kernel = np.zeros(len(w))
        kernel[[-1, 0, 1]] = s  # offsets -1, 0, +1
        expected = np.real(np.fft.ifft(np.fft.fft(w) * np.fft.fft(kernel)))
        np.testing.assert_allclose(_exercise("location_shift").reference(**case), expected, atol=1e-12)


def test_bahdanau_reference_matches_torch_softmax_of_additive_scores():
    for case in all_inputs(_exercise("bahdanau_weights")):
        t = {k: torch.tensor(np.asarray(v, float)) for k, v in case.items()}
        e = torch.tanh(t["W1"] @ t["s"] + t["H"] @ t["W2"].T) @ t["v"]
        np.testing.assert_allclose(_exercise("bahdanau_weights").reference(**case), torch.softmax(e, 0).numpy(),
                                   atol=1e-12)


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "first output row equals the first input row: True" in together
    assert "causal weights times X agree with masked attention: True" in together
    assert "NTM focus after three shifts of +1 (prob. 0.9): [0.001 0.027 0.243 0.729 0.   ]" in together
