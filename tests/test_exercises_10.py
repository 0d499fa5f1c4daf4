"""Exercises of chapter 10: the solutions score full marks, the stubs zero, plausible mistakes less than
full and with their own hint, the references agree with autograd and torch.nn cells, and the handout runs
clean."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcourse.grading import get_exercise
from exercise_contract import all_inputs, contract_tests, solution_integration_text

STEM = "10_rnn"
NAMES = ["scalar_rnn_grad_w", "bigram_bits_per_char", "lstm_step", "gru_step"]


# ---------------------------------------------------------------- wrong answers, as a learner writes them

def _forward(x, w, u, h0):
    h = [h0]
    for x_t in x:
        h.append(w * h[-1] + u * x_t)
    return h


def grad_uses_current_state(x, w, u, h0):
    h, T = _forward(x, w, u, h0), len(x)
    return float(sum(w ** (T - t) * h[t] for t in range(1, T + 1)))


def grad_power_off_by_one(x, w, u, h0):
    h, T = _forward(x, w, u, h0), len(x)
    return float(sum(w ** (T - t + 1) * h[t - 1] for t in range(1, T + 1)))


def grad_skips_first_step(x, w, u, h0):
    h, T = _forward(x, w, u, h0), len(x)
    return float(sum(w ** (T - t) * h[t - 1] for t in range(2, T + 1)))


def grad_is_w_to_the_t(x, w, u, h0):
    return float(w ** len(x))


def grad_last_step_only(x, w, u, h0):
    return float(_forward(x, w, u, h0)[-2])


def grad_as_array(x, w, u, h0):
    h, T = _forward(x, w, u, h0), len(x)
    return np.array([w ** (T - t) * h[t - 1] for t in range(1, T + 1)])  # the terms, not their sum


def _table(train, V, alpha=1.0):
    table = np.full((V, V), alpha)
    np.add.at(table, (np.asarray(train)[:-1], np.asarray(train)[1:]), 1.0)
    return table


def bigram_unsmoothed(train_ids, eval_ids, vocab_size):
    table = _table(train_ids, vocab_size, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = table / table.sum(1, keepdims=True)
        return float(-np.mean(np.log2(probs[eval_ids[:-1], eval_ids[1:]])))


def bigram_denominator_plus_one(train_ids, eval_ids, vocab_size):
    counts = _table(train_ids, vocab_size, 0.0)
    probs = (counts + 1) / (counts.sum(1, keepdims=True) + 1)
    return float(-np.mean(np.log2(probs[eval_ids[:-1], eval_ids[1:]])))


def bigram_natural_log(train_ids, eval_ids, vocab_size):
    table = _table(train_ids, vocab_size)
    return float(-np.mean(np.log((table / table.sum(1, keepdims=True))[eval_ids[:-1], eval_ids[1:]])))


def bigram_columns(train_ids, eval_ids, vocab_size):
    table = _table(train_ids, vocab_size)
    probs = table / table.sum(0, keepdims=True)  # normalised over the first character: P(a | b)
    return float(-np.mean(np.log2(probs[eval_ids[:-1], eval_ids[1:]])))


def bigram_joint(train_ids, eval_ids, vocab_size):
    table = _table(train_ids, vocab_size)
    return float(-np.mean(np.log2((table / table.sum())[eval_ids[:-1], eval_ids[1:]])))


def bigram_sum(train_ids, eval_ids, vocab_size):
    table = _table(train_ids, vocab_size)
    return float(-np.sum(np.log2((table / table.sum(1, keepdims=True))[eval_ids[:-1], eval_ids[1:]])))


def bigram_unigram(train_ids, eval_ids, vocab_size):
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    return float(-np.mean(np.log2(counts[eval_ids[1:]] / counts.sum())))


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _gates(x, h, W_ih, W_hh, b_ih, b_hh):
    return np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)


def lstm_order_ifog(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_o, a_g = _gates(x, h, W_ih, W_hh, b_ih, b_hh)  # Keras-like order
    c_new = _sig(a_f) * c + _sig(a_i) * np.tanh(a_g)
    return _sig(a_o) * np.tanh(c_new), c_new


def lstm_order_figo(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_f, a_i, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    c_new = _sig(a_f) * c + _sig(a_i) * np.tanh(a_g)
    return _sig(a_o) * np.tanh(c_new), c_new


def lstm_one_bias(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = np.split(x @ W_ih.T + h @ W_hh.T + b_hh, 4, axis=1)
    c_new = _sig(a_f) * c + _sig(a_i) * np.tanh(a_g)
    return _sig(a_o) * np.tanh(c_new), c_new


def lstm_without_input_gate(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    c_new = _sig(a_f) * c + np.tanh(a_g)  # the notes' typo: no input gate on the candidate
    return _sig(a_o) * np.tanh(c_new), c_new


def lstm_without_output_tanh(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    c_new = _sig(a_f) * c + _sig(a_i) * np.tanh(a_g)
    return _sig(a_o) * c_new, c_new


def lstm_all_sigmoid(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    c_new = _sig(a_f) * c + _sig(a_i) * _sig(a_g)
    return _sig(a_o) * np.tanh(c_new), c_new


def lstm_returns_h_only(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    return _sig(a_o) * np.tanh(_sig(a_f) * c + _sig(a_i) * np.tanh(a_g))


def lstm_in_place(x, h, c, W_ih, W_hh, b_ih, b_hh):
    a_i, a_f, a_g, a_o = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
    c *= _sig(a_f)  # updates the caller's memory array
    c += _sig(a_i) * np.tanh(a_g)
    return _sig(a_o) * np.tanh(c), c.copy()


def _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh):
    return np.split(x @ W_ih.T + b_ih, 3, axis=1), np.split(W_hh, 3), np.split(b_hh, 3)


def gru_z_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    (xr, xz, xn), (Wr, Wz, Wn), (br, bz, bn) = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = _sig(xr + h @ Wr.T + br), _sig(xz + h @ Wz.T + bz)
    n = np.tanh(xn + r * (h @ Wn.T + bn))
    return z * n + (1 - z) * h


def gru_order_zrn(x, h, W_ih, W_hh, b_ih, b_hh):
    (xz, xr, xn), (Wz, Wr, Wn), (bz, br, bn) = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = _sig(xr + h @ Wr.T + br), _sig(xz + h @ Wz.T + bz)
    return (1 - z) * np.tanh(xn + r * (h @ Wn.T + bn)) + z * h


def gru_reset_outside_bias(x, h, W_ih, W_hh, b_ih, b_hh):
    (xr, xz, xn), (Wr, Wz, Wn), (br, bz, bn) = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = _sig(xr + h @ Wr.T + br), _sig(xz + h @ Wz.T + bz)
    return (1 - z) * np.tanh(xn + r * (h @ Wn.T) + bn) + z * h


def gru_reset_before_matrix(x, h, W_ih, W_hh, b_ih, b_hh):
    (xr, xz, xn), (Wr, Wz, Wn), (br, bz, bn) = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = _sig(xr + h @ Wr.T + br), _sig(xz + h @ Wz.T + bz)
    return (1 - z) * np.tanh(xn + (r * h) @ Wn.T + bn) + z * h


def gru_without_reset(x, h, W_ih, W_hh, b_ih, b_hh):
    (xr, xz, xn), (Wr, Wz, Wn), (br, bz, bn) = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    z = _sig(xz + h @ Wz.T + bz)
    return (1 - z) * np.tanh(xn + h @ Wn.T + bn) + z * h


WRONG = {
    "scalar_rnn_grad_w": [(grad_uses_current_state, "BEFORE the step"), (grad_power_off_by_one, "not T - t + 1"),
                          (grad_skips_first_step, "The first step counts"), (grad_is_w_to_the_t, "dh_T/dh_0"),
                          (grad_last_step_only, "add every step"), (grad_as_array, None)],
    "bigram_bits_per_char": [(bigram_unsmoothed, None), (bigram_denominator_plus_one, "count(a) + V"),
                             (bigram_natural_log, "log base 2"), (bigram_columns, "STARTING with a"),
                             (bigram_joint, "not the joint"), (bigram_sum, "not the sum"), (bigram_unigram, None)],
    "lstm_step": [(lstm_order_ifog, "g is the THIRD block"), (lstm_order_figo, "the input gate comes first"),
                  (lstm_one_bias, "both biases"), (lstm_without_input_gate, "not f * s + g"),
                  (lstm_without_output_tanh, "squash the memory"), (lstm_all_sigmoid, None),
                  (lstm_returns_h_only, None)],
    "gru_step": [(gru_z_swapped, "share of the OLD state"), (gru_order_zrn, "reset gate is the first block"),
                 (gru_reset_outside_bias, "bias included"), (gru_reset_before_matrix, "original paper"),
                 (gru_without_reset, None)],
}
IN_PLACE = [("lstm_step", lstm_in_place)]
globals().update(contract_tests(STEM, NAMES, WRONG, in_place=IN_PLACE, handout_skips=1))


def _exercise(name: str):
    return get_exercise(f"{STEM}.{name}")


# ---------------------------------------------------------------- the references against autograd and torch

def test_bptt_reference_matches_autograd_on_every_case():
    for case in all_inputs(_exercise("scalar_rnn_grad_w")):
        w = torch.tensor(case["w"], dtype=torch.float64, requires_grad=True)
        h = torch.tensor(case["h0"], dtype=torch.float64)
        for x_t in torch.tensor(np.asarray(case["x"], float)):
            h = w * h + case["u"] * x_t
        h.backward()
        assert _exercise("scalar_rnn_grad_w").reference(**case) == pytest.approx(w.grad.item(), rel=1e-10, abs=1e-12)


def test_lstm_and_gru_references_match_torch_cells_with_copied_weights():
    for name, module in (("lstm_step", torch.nn.LSTMCell), ("gru_step", torch.nn.GRUCell)):
        for case in all_inputs(_exercise(name)):
            n_in, hidden = case["W_ih"].shape[1], case["W_hh"].shape[1]
            cell = module(n_in, hidden).double()
            with torch.no_grad():
                for param, key in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh),
                                      ("W_ih", "W_hh", "b_ih", "b_hh")):
                    param.copy_(torch.tensor(case[key]))
            x, h = torch.tensor(case["x"]), torch.tensor(case["h"])
            got = _exercise(name).reference(**case)
            if name == "lstm_step":
                h_ref, c_ref = cell(x, (h, torch.tensor(case["c"])))
                np.testing.assert_allclose(got[0], h_ref.detach().numpy(), atol=1e-12)
                np.testing.assert_allclose(got[1], c_ref.detach().numpy(), atol=1e-12)
            else:
                np.testing.assert_allclose(got, cell(x, h).detach().numpy(), atol=1e-12)


def test_bigram_reference_matches_a_loop_and_hidden_cases_hold_unseen_pairs():
    unseen = 0
    for case in all_inputs(_exercise("bigram_bits_per_char")):
        train, test, V = case["train_ids"], case["eval_ids"], case["vocab_size"]
        pairs = list(zip(train[:-1].tolist(), train[1:].tolist()))
        bits = [-math.log2((pairs.count((a, b)) + 1) / (sum(p[0] == a for p in pairs) + V))
                for a, b in zip(test[:-1].tolist(), test[1:].tolist())]
        assert _exercise("bigram_bits_per_char").reference(**case) == pytest.approx(np.mean(bits), rel=1e-12)
        unseen += any(pair not in pairs for pair in zip(test[:-1].tolist(), test[1:].tolist()))
    assert unseen >= 10


def test_solution_outputs_come_from_a_clean_run():
    together = solution_integration_text(STEM, NAMES)
    assert "20 LSTM steps vs nn.LSTMCell" in together and "20 GRU steps vs nn.GRUCell" in together
    bits = [line for line in together.splitlines() if line.startswith("bigram bits per character")]
    assert bits and bits[0].split("yours ")[1].split(",")[0] == bits[0].split("pairs ")[1]
