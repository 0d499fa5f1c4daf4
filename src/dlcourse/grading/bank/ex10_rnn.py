"""Exercises of ``solutions/10_rnn.ipynb``: the BPTT gradient of a scalar linear RNN, the bits per
character of an add-one bigram model (not printed in the chapter), one LSTM step in PyTorch's gate order
and one GRU step (not printed in the chapter), easiest first.

Hidden cases are built so that each slip shows: BPTT sequences start from h_0 != 0 with |w| != 1 (a
dropped first term or a shifted power cannot pass); bigram texts leave some pairs unseen and repeat
others (no smoothing gives infinity, refused as not finite; a missing + V in the denominator or a joint count cannot match);
LSTM and GRU weights are random with four different gate blocks and both biases non-zero (a swapped gate
order, a single bias or a reset gate in the wrong place changes the result).
"""
from __future__ import annotations

import numpy as np

from ...rnn import gru_cell as _gru
from ...rnn import lstm_cell as _lstm
from ...rnn import scalar_rnn_bptt as _bptt
from ...rnn_training import ngram_bits_per_char as _ngram
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.rnn)


def scalar_rnn_grad_w(x, w, u, h0):
    """dh_T/dw for h_t = w h_{t-1} + u x_t: sum_t w^(T - t) h_{t-1}."""
    return float(_bptt(x, w, u, h0)["dh_dw"])


def bigram_bits_per_char(train_ids, eval_ids, vocab_size):
    """-mean log2 P(x_t | x_{t-1}) on eval_ids, P(b | a) = (count(a, b) + 1) / (count(a) + V)."""
    return _ngram(train_ids, eval_ids, vocab_size, order=2, alpha=1.0)


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step, gates i, f, g, o: returns (h', c')."""
    return tuple(_lstm(x, h, c, W_ih, W_hh, b_ih, b_hh))


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step, gates r, z, n: returns h'."""
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh)


# ---------------------------------------------------------------- wrong versions

def _states(x, w, u, h0):
    h = [float(h0)]
    for x_t in np.asarray(x, dtype=float):
        h.append(w * h[-1] + u * x_t)
    return np.array(h)


def _grad_terms(x, w, u, h0, shift=0, current_state=False, skip_first=False):
    h, T = _states(x, w, u, h0), len(x)
    terms = [w ** (T - t + shift) * (h[t] if current_state else h[t - 1]) for t in range(1, T + 1)]
    return float(np.sum(terms[1:] if skip_first else terms))


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _bigram(train_ids, eval_ids, vocab_size, alpha=1.0, plus_v=True, log=np.log2, transpose=False,
            joint=False, total=False):
    train, test = np.asarray(train_ids), np.asarray(eval_ids)
    table = np.full((vocab_size, vocab_size), alpha)
    np.add.at(table, (train[:-1], train[1:]), 1.0)
    if transpose:  # normalised over the first character of the pair (a column), not the second
        probs = table / table.sum(0, keepdims=True)
    elif joint:
        probs = table / table.sum()
    else:
        denominator = table.sum(1, keepdims=True) if plus_v else table.sum(1, keepdims=True) - alpha * (vocab_size - 1)
        probs = table / denominator
    with np.errstate(divide="ignore"):
        values = -log(probs[test[:-1], test[1:]])
    return float(values.sum() if total else values.mean())


def _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh, order="ifgo", one_bias=False, no_input_gate=False,
                no_tanh=False):
    pre = x @ W_ih.T + (0 if one_bias else b_ih) + h @ W_hh.T + b_hh
    blocks = dict(zip(order, np.split(pre, 4, axis=1)))
    i, f, g, o = _sigmoid(blocks["i"]), _sigmoid(blocks["f"]), np.tanh(blocks["g"]), _sigmoid(blocks["o"])
    c_new = f * c + (g if no_input_gate else i * g)
    return o * (c_new if no_tanh else np.tanh(c_new)), c_new


def _gru_wrong(x, h, W_ih, W_hh, b_ih, b_hh, swap_z=False, order="rzn", reset_outside_bias=False,
               reset_before_matrix=False):
    xs = dict(zip(order, np.split(x @ W_ih.T + b_ih, 3, axis=1)))
    W = dict(zip(order, np.split(W_hh, 3, axis=0)))
    b = dict(zip(order, np.split(b_hh, 3)))
    r = _sigmoid(xs["r"] + h @ W["r"].T + b["r"])
    z = _sigmoid(xs["z"] + h @ W["z"].T + b["z"])
    if reset_before_matrix:
        hn = (r * h) @ W["n"].T + b["n"]
    elif reset_outside_bias:
        hn = r * (h @ W["n"].T) + b["n"]
    else:
        hn = r * (h @ W["n"].T + b["n"])
    n = np.tanh(xs["n"] + (hn if reset_before_matrix or reset_outside_bias else hn))
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


# ---------------------------------------------------------------- hidden cases

def _bptt_hidden(rng):
    return [{"x": rng.normal(size=int(rng.integers(2, 15))), "w": float(rng.choice([-1.2, -0.7, 0.6, 0.9, 1.1])),
             "u": float(rng.uniform(0.3, 1.5)), "h0": float(rng.choice([-1.0, 0.5, 2.0]))} for _ in range(10)]


def _bigram_hidden(rng):
    cases = []
    for _ in range(10):
        V = int(rng.integers(3, 7))
        train = rng.integers(0, V, int(rng.integers(8, 40)))
        cases.append({"train_ids": train, "eval_ids": rng.integers(0, V, int(rng.integers(4, 20))), "vocab_size": V})
    return cases


def _weights(rng, n_in, hidden, gates):
    return {"W_ih": rng.normal(size=(gates * hidden, n_in)), "W_hh": rng.normal(size=(gates * hidden, hidden)),
            "b_ih": rng.normal(size=gates * hidden), "b_hh": rng.normal(size=gates * hidden)}


def _lstm_hidden(rng):
    cases = []
    for _ in range(8):
        n, n_in, hidden = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        cases.append({"x": rng.normal(size=(n, n_in)), "h": rng.normal(size=(n, hidden)),
                      "c": 2 * rng.normal(size=(n, hidden)), **_weights(rng, n_in, hidden, 4)})
    return cases


def _gru_hidden(rng):
    cases = []
    for _ in range(8):
        n, n_in, hidden = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        cases.append({"x": rng.normal(size=(n, n_in)), "h": rng.normal(size=(n, hidden)),
                      **_weights(rng, n_in, hidden, 3)})
    return cases


# ---------------------------------------------------------------- the registry

_R = np.random.default_rng(10)
_LSTM_PUBLIC = {"x": np.array([[1.0, -1.0]]), "h": np.array([[0.5]]), "c": np.array([[2.0]]),
                "W_ih": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]]),
                "W_hh": np.array([[1.0], [-1.0], [2.0], [0.0]]),
                "b_ih": np.array([0.0, 1.0, 0.0, 0.0]), "b_hh": np.array([0.0, 0.0, 0.5, 1.0])}
_LSTM_RANDOM = {"x": _R.normal(size=(2, 3)), "h": _R.normal(size=(2, 2)), "c": _R.normal(size=(2, 2)),
                **_weights(_R, 3, 2, 4)}
_GRU_PUBLIC = {"x": np.array([[1.0]]), "h": np.array([[0.5]]), "W_ih": np.array([[1.0], [-1.0], [2.0]]),
               "W_hh": np.array([[0.5], [1.0], [-1.0]]), "b_ih": np.array([0.0, 0.0, 0.5]),
               "b_hh": np.array([0.0, 0.5, 1.0])}
_GRU_RANDOM = {"x": _R.normal(size=(2, 3)), "h": _R.normal(size=(2, 2)), **_weights(_R, 3, 2, 3)}
_TRAIN = np.array([0, 1, 0, 1, 2, 0])

EXERCISES = [
    Exercise(
        id="10_rnn.scalar_rnn_grad_w",
        reference=scalar_rnn_grad_w,
        public_cases=[
            Case({"x": np.array([1.0]), "w": 0.5, "u": 1.0, "h0": 2.0}, "one step: dh_1/dw = h_0", (2.0,)),
            Case({"x": np.array([1.0, 0.0]), "w": 0.5, "u": 1.0, "h0": 2.0},
                 "two steps: w h_0 + h_1 = 0.5 * 2 + 2", (3.0,)),
            Case({"x": np.array([0.5, -1.0, 2.0]), "w": -0.8, "u": 0.7, "h0": 1.0},
                 "three steps, w < 0: w^2 h_0 + w h_1 + h_2", (0.66,)),
        ],
        hidden_cases=_bptt_hidden,
        output_names=("dh_dw",),
        description="dh_T/dw of the scalar linear RNN h_t = w h_{t-1} + u x_t by backpropagation through time.",
        mistakes=[
            Mistake("Step t contributes w^(T - t) h_{t-1}: the state BEFORE the step, not h_t.",
                    lambda x, w, u, h0: _grad_terms(x, w, u, h0, current_state=True)),
            Mistake("The last step contributes w^0 = 1 times its input state; the power is T - t, not T - t + 1.",
                    lambda x, w, u, h0: _grad_terms(x, w, u, h0, shift=1)),
            Mistake("The first step counts too: its term is w^(T - 1) h_0.",
                    lambda x, w, u, h0: _grad_terms(x, w, u, h0, skip_first=True)),
            Mistake("w^T is dh_T/dh_0, the derivative with respect to the first state; the task asks for dh_T/dw.",
                    lambda x, w, u, h0: float(w ** len(x))),
            Mistake("Only the last step's local derivative h_{T-1} is not enough: w is used at every step, "
                    "so add every step's contribution.",
                    lambda x, w, u, h0: float(_states(x, w, u, h0)[-2])),
        ],
    ),
    Exercise(
        id="10_rnn.bigram_bits_per_char",
        reference=bigram_bits_per_char,
        public_cases=[
            Case({"train_ids": _TRAIN, "eval_ids": np.array([0, 1]), "vocab_size": 3},
                 "2 pairs start with 0, both 0 -> 1: -log2((2 + 1) / (2 + 3))", (float(-np.log2(0.6)),)),
            Case({"train_ids": _TRAIN, "eval_ids": np.array([2, 2]), "vocab_size": 3},
                 "2 -> 2 never seen: -log2(1/4)", (2.0,)),
            Case({"train_ids": np.array([0, 1, 2, 3, 1, 2, 0]), "eval_ids": np.array([1, 2, 0, 3, 3]),
                  "vocab_size": 4}, "four predictions"),
        ],
        hidden_cases=_bigram_hidden,
        output_names=("bits",),
        description="Bits per character of an add-one bigram model fitted on train_ids, scored on eval_ids.",
        mistakes=[
            Mistake("With add-one smoothing the denominator is count(a) + V: every one of the V possible next "
                    "characters got an extra count.",
                    lambda train_ids, eval_ids, vocab_size: _bigram(train_ids, eval_ids, vocab_size, plus_v=False)),
            Mistake("Bits use log base 2, not the natural logarithm (that would be nats).",
                    lambda train_ids, eval_ids, vocab_size: _bigram(train_ids, eval_ids, vocab_size, log=np.log)),
            Mistake("P(b | a) divides the count of the pair (a, b) by the count of pairs STARTING with a "
                    "(the sum over a row of the table), not by the pairs ending with b (a column).",
                    lambda train_ids, eval_ids, vocab_size: _bigram(train_ids, eval_ids, vocab_size, transpose=True)),
            Mistake("Use the conditional probability P(b | a), not the joint frequency of the pair.",
                    lambda train_ids, eval_ids, vocab_size: _bigram(train_ids, eval_ids, vocab_size, joint=True)),
            Mistake("Return the mean over the predicted characters, not the sum.",
                    lambda train_ids, eval_ids, vocab_size: _bigram(train_ids, eval_ids, vocab_size, total=True)),
        ],
    ),
    Exercise(
        id="10_rnn.lstm_step",
        reference=lstm_step,
        public_cases=[
            Case(_LSTM_PUBLIC, "one unit: s' = f s + i g, h' = o tanh(s')"),
            Case({**_LSTM_PUBLIC, "c": np.array([[0.0]]), "h": np.array([[0.0]])}, "from a zero state"),
            Case(_LSTM_RANDOM, "two sequences, two units"),
        ],
        hidden_cases=_lstm_hidden,
        output_names=("h_new", "c_new"),
        description="One LSTM step in PyTorch's gate order i, f, g, o with two biases: returns (h', c').",
        mistakes=[
            Mistake("PyTorch's gate order is i, f, g, o: the candidate g is the THIRD block of rows, the output "
                    "gate the fourth.",
                    lambda x, h, c, W_ih, W_hh, b_ih, b_hh: _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh, "ifog")),
            Mistake("The order is i, f, g, o: the input gate comes first, the forget gate second.",
                    lambda x, h, c, W_ih, W_hh, b_ih, b_hh: _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh, "figo")),
            Mistake("Add both biases, b_ih and b_hh.",
                    lambda x, h, c, W_ih, W_hh, b_ih, b_hh: _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh,
                                                                        one_bias=True)),
            Mistake("The input gate scales what is written: s' = f * s + i * g, not f * s + g.",
                    lambda x, h, c, W_ih, W_hh, b_ih, b_hh: _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh,
                                                                        no_input_gate=True)),
            Mistake("The output is h' = o * tanh(s'): squash the memory before the output gate.",
                    lambda x, h, c, W_ih, W_hh, b_ih, b_hh: _lstm_wrong(x, h, c, W_ih, W_hh, b_ih, b_hh,
                                                                        no_tanh=True)),
        ],
    ),
    Exercise(
        id="10_rnn.gru_step",
        reference=gru_step,
        public_cases=[
            Case(_GRU_PUBLIC, "one unit"),
            Case({**_GRU_PUBLIC, "h": np.array([[0.0]])}, "from a zero state"),
            Case(_GRU_RANDOM, "two sequences, two units"),
        ],
        hidden_cases=_gru_hidden,
        output_names=("h_new",),
        description="One GRU step in PyTorch's gate order r, z, n: h' = (1 - z) * n + z * h.",
        mistakes=[
            Mistake("h' = (1 - z) * n + z * h: z is the share of the OLD state that is kept.",
                    lambda x, h, W_ih, W_hh, b_ih, b_hh: _gru_wrong(x, h, W_ih, W_hh, b_ih, b_hh, swap_z=True)),
            Mistake("PyTorch's gate order is r, z, n: the reset gate is the first block of rows.",
                    lambda x, h, W_ih, W_hh, b_ih, b_hh: _gru_wrong(x, h, W_ih, W_hh, b_ih, b_hh, order="zrn")),
            Mistake("The reset gate multiplies W_hn h + b_hn, bias included: r * (W_hn h + b_hn).",
                    lambda x, h, W_ih, W_hh, b_ih, b_hh: _gru_wrong(x, h, W_ih, W_hh, b_ih, b_hh,
                                                                    reset_outside_bias=True)),
            Mistake("PyTorch applies the reset gate after the matrix product, r * (W_hn h + b_hn), not to h "
                    "before it (the original paper's variant).",
                    lambda x, h, W_ih, W_hh, b_ih, b_hh: _gru_wrong(x, h, W_ih, W_hh, b_ih, b_hh,
                                                                    reset_before_matrix=True)),
        ],
    ),
]
