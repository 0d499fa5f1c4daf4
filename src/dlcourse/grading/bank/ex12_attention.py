"""Exercises of ``solutions/12_attention.ipynb``: causal attention weights, the sinusoidal positional encoding,
masked scaled dot-product attention, Bahdanau's attention weights, and (not printed in the chapter) the
Neural Turing Machine's location shift, a circular convolution of the weights, easiest first.

Hidden cases are built so that each slip shows: causal score matrices are random and large enough
that zeroing the future after the softmax (without renormalising) or taking the upper triangle
differs; masks leave every query at least one allowed and one
blocked key (an inverted or ignored mask cannot pass); keys are wide and scaled so that forgetting or
squaring the sqrt(d_k) changes the weights; Bahdanau's matrices are square (swapping W1 and W2 is a
value error, not a shape error) and scores are large enough for tanh to bend; shift weights are
asymmetric and the attended rows sit at the ends of the memory, so a reversed or non-circular shift
differs.
"""
from __future__ import annotations

import numpy as np

from ...attention import additive_scores as _additive
from ...attention import causal_mask as _causal
from ...attention import scaled_dot_product_attention as _sdpa
from ...attention import sinusoidal_positional_encoding as _pe
from ...attention import softmax as _softmax
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.attention)


def causal_weights(scores):
    """Row softmax of an (L, L) score matrix over the keys j <= i only (the future gets weight 0)."""
    scores = np.asarray(scores, dtype=float)
    return _softmax(np.where(_causal(len(scores)), scores, -np.inf))


def positional_encoding(n_positions, d_model):
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""
    return _pe(n_positions, d_model)


def masked_attention(Q, K, V, mask):
    """softmax(Q K^T / sqrt(d_k)) V with the scores of blocked (False) pairs set to -inf."""
    return _sdpa(Q, K, V, mask=np.asarray(mask, dtype=bool))[0]


def bahdanau_weights(s, H, W1, W2, v):
    """alpha = softmax_j(v^T tanh(W1 s + W2 h_j))."""
    return _softmax(_additive(s, H, W1, W2, v))


def location_shift(weights, shift):
    """Circular convolution w~_i = sum_k w_{(i - k) mod N} shift_k, shift over offsets (-1, 0, +1)."""
    return _shift_terms(weights, shift)


# ---------------------------------------------------------------- wrong versions

def _shift_terms(weights, shift, reverse=False, circular=True):
    w, s = np.asarray(weights, dtype=float), np.asarray(shift, dtype=float)
    out = np.zeros_like(w)
    for k, amount in zip((-1, 0, 1), s):
        k = -k if reverse else k
        moved = np.roll(w, k)
        if not circular and k:
            moved[0 if k > 0 else -1] = 0.0
        out += amount * moved
    return out


def _causal_terms(scores, upper=False, unmasked=False, zero_after=False, axis=-1):
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    allowed = np.triu(np.ones((n, n), dtype=bool)) if upper else np.tril(np.ones((n, n), dtype=bool))
    if unmasked or zero_after:
        weights = _softmax(scores, axis=axis)
        return weights * allowed if zero_after else weights
    return _softmax(np.where(allowed, scores, -np.inf), axis=axis)


def _pe_terms(n_positions, d_model, swap=False, exponent_i=False, start=0, interleave=True):
    p = np.arange(start, start + n_positions)[:, None]
    two_i = np.arange(0, d_model, 2)
    freq = 10000.0 ** (-(two_i / 2 if exponent_i else two_i) / d_model)
    first, second = (np.cos, np.sin) if swap else (np.sin, np.cos)
    pe = np.zeros((n_positions, d_model))
    if interleave:
        pe[:, 0::2], pe[:, 1::2] = first(p * freq), second(p * freq[: d_model // 2])
    else:  # all sines, then all cosines
        half = len(freq)
        pe[:, :half], pe[:, half:] = first(p * freq), second(p * freq[: d_model - half])
    return pe


def _attention_terms(Q, K, V, mask, scale="sqrt", axis=-1, invert=False, use_mask=True):
    Q, K, V = (np.asarray(x, dtype=float) for x in (Q, K, V))
    mask = np.asarray(mask, dtype=bool)
    d = Q.shape[-1]
    scores = Q @ K.T / {"sqrt": np.sqrt(d), "d": d, "none": 1.0}[scale]
    if use_mask:
        scores = np.where(~mask if invert else mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    weights = e / e.sum(axis=axis, keepdims=True)
    return np.nan_to_num(weights) @ V


def _bahdanau_terms(s, H, W1, W2, v, swap=False, activation=np.tanh, normalise=True):
    s, H, W1, W2, v = (np.asarray(x, dtype=float) for x in (s, H, W1, W2, v))
    if swap:
        W1, W2 = W2, W1
    e = activation(W1 @ s + H @ W2.T) @ v
    return _softmax(e) if normalise else e


# ---------------------------------------------------------------- hidden cases

def _causal_hidden(rng):
    cases = [{"scores": rng.normal(size=(n, n)) * 2} for n in rng.integers(2, 9, 10)]
    # Scores of a few hundred, with a different offset per row: exp overflows unless each row's own
    # maximum is subtracted first (a softmax without the shift, or shifted by the global maximum, fails).
    offsets = np.array([900.0, -900.0, 0.0, 750.0, -750.0, 300.0])
    cases.append({"scores": rng.normal(size=(6, 6)) * 2 + offsets[:, None]})
    return cases


def _pe_hidden(rng):
    return [{"n_positions": int(rng.integers(2, 20)), "d_model": int(rng.integers(2, 10))} for _ in range(8)]


def _attention_hidden(rng):
    cases = []
    for _ in range(10):
        lq, lk, d, dv = (int(x) for x in rng.integers(2, 6, 4))
        mask = rng.random((lq, lk)) < 0.5
        mask[:, 0], mask[:, -1] = True, False  # every query: one allowed key, one blocked key
        cases.append({"Q": rng.normal(size=(lq, d * 2)) * 1.5, "K": rng.normal(size=(lk, d * 2)) * 1.5,
                      "V": rng.normal(size=(lk, dv)), "mask": mask})
    # Scores q.k / sqrt(d) near +-1200 in rows 0 and 1 and small in row 2: a softmax that does not
    # subtract each row's own maximum overflows (no shift) or underflows to 0 / 0 (the global maximum).
    cases.append({"Q": np.array([[40.0], [-40.0], [1.0]]), "K": np.array([[30.0], [-29.0], [2.0]]),
                  "V": rng.normal(size=(3, 2)), "mask": np.array([[True, True, False]] * 3)})
    return cases


def _bahdanau_hidden(rng):
    cases = []
    for _ in range(10):
        T, d = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        cases.append({"s": rng.normal(size=d), "H": rng.normal(size=(T, d)), "W1": rng.normal(size=(d, d)),
                      "W2": rng.normal(size=(d, d)), "v": rng.normal(size=d) * 2})
    # Saturated tanh (W2 = 10 I, W1 small) and |v| in the thousands: the scores e_j are about 2500, -2500,
    # 7500 and 0, wider than exp's range, so the softmax must subtract their maximum
    cases.append({"s": rng.normal(size=3), "H": np.array([[1.0, 1, 1], [-1, -1, -1], [1, -1, 1], [0, 0, 0]]),
                  "W1": 0.01 * rng.normal(size=(3, 3)), "W2": 10.0 * np.eye(3), "v": np.array([3000.0, -2500, 2000])})
    return cases


def _shift_hidden(rng):
    cases = []
    for _ in range(10):
        n = int(rng.integers(4, 9))
        w = rng.dirichlet(np.ones(n))
        w[[0, -1]] += 1.0  # mass at both ends, where wrapping matters
        shift = rng.dirichlet([1.0, 1.0, 1.0])
        shift[0] += 0.5  # asymmetric: a reversed shift differs
        cases.append({"weights": w / w.sum(), "shift": shift / shift.sum()})
    return cases


# ---------------------------------------------------------------- the registry

_Q = _K = np.eye(2)
_V = np.array([[1.0, 2.0], [3.0, 4.0]])
_S, _H = np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
_W1, _W2, _v = np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, -1.0])

EXERCISES = [
    Exercise(
        id="12_attention.causal_weights",
        reference=causal_weights,
        public_cases=[
            Case({"scores": np.zeros((3, 3))}, "equal scores: query i spreads 1/(i+1) over keys 0..i",
                 (np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]),)),
            Case({"scores": np.array([[0.0, 5.0], [np.log(3.0), 0.0]])}, "the future score 5 is ignored",
                 (np.array([[1.0, 0.0], [0.75, 0.25]]),)),
            Case({"scores": np.arange(16.0).reshape(4, 4) / 4}, "four positions"),
        ],
        hidden_cases=_causal_hidden,
        output_names=("weights",),
        description="Causal attention weights: row softmax over keys j <= i, zero on the future.",
        mistakes=[
            Mistake("Mask BEFORE the softmax (scores of the future at -inf): zeroing weights afterwards "
                    "leaves rows that no longer sum to 1.", lambda scores: _causal_terms(scores, zero_after=True)),
            Mistake("Rows are queries, columns keys: query i sees keys j <= i, the LOWER triangle.",
                    lambda scores: _causal_terms(scores, upper=True)),
            Mistake("Apply the causal mask: a query must not see later keys.",
                    lambda scores: _causal_terms(scores, unmasked=True)),
            Mistake("Take the softmax over the keys (each row, axis=-1), not over the queries.",
                    lambda scores: _causal_terms(scores, axis=0)),
        ],
    ),
    Exercise(
        id="12_attention.positional_encoding",
        reference=positional_encoding,
        public_cases=[
            Case({"n_positions": 1, "d_model": 4}, "position 0: sin 0 = 0, cos 0 = 1",
                 (np.array([[0.0, 1.0, 0.0, 1.0]]),)),
            Case({"n_positions": 2, "d_model": 2}, "d = 2: (sin p, cos p)",
                 (np.array([[0.0, 1.0], [np.sin(1.0), np.cos(1.0)]]),)),
            Case({"n_positions": 6, "d_model": 5}, "odd width: the last column is a sine"),
        ],
        hidden_cases=_pe_hidden,
        output_names=("pe",),
        description="Sinusoidal positional encoding, sines in even columns, cosines in odd ones.",
        mistakes=[
            Mistake("Even columns (0, 2, ...) hold the sines, odd columns the cosines.",
                    lambda n_positions, d_model: _pe_terms(n_positions, d_model, swap=True)),
            Mistake("The exponent is 2i/d for the column pair (2i, 2i+1): use the even column index "
                    "over d, not i/d.", lambda n_positions, d_model: _pe_terms(n_positions, d_model,
                                                                               exponent_i=True)),
            Mistake("Positions start at 0, not 1.",
                    lambda n_positions, d_model: _pe_terms(n_positions, d_model, start=1)),
            Mistake("Interleave: column 2i is a sine and column 2i+1 the cosine of the same frequency, "
                    "not all sines first.",
                    lambda n_positions, d_model: _pe_terms(n_positions, d_model, interleave=False)),
        ],
    ),
    Exercise(
        id="12_attention.masked_attention",
        reference=masked_attention,
        public_cases=[
            Case({"Q": _Q, "K": _K, "V": _V, "mask": np.ones((2, 2), dtype=bool)},
                 "the chapter's worked value: weights 0.669762 / 0.330238",
                 (np.array([[1.660477, 2.660477], [2.339523, 3.339523]]),)),
            Case({"Q": _Q, "K": _K, "V": _V, "mask": np.array([[True, False], [True, True]])},
                 "causal: the first query sees only the first key"),
            Case({"Q": np.array([[1.0, 0.0, 2.0]]), "K": np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 3.0], [2.0, 0.0, 0.0]]),
                  "V": np.array([[1.0], [10.0], [100.0]]), "mask": np.array([[True, True, False]])},
                 "the third key is blocked"),
        ],
        hidden_cases=_attention_hidden,
        output_names=("output",),
        description="softmax(Q K^T / sqrt(d_k)) V with blocked (False) pairs at -inf.",
        mistakes=[
            Mistake("Divide the scores by sqrt(d_k), the square root of the key width.",
                    lambda Q, K, V, mask: _attention_terms(Q, K, V, mask, scale="none")),
            Mistake("Divide by sqrt(d_k), not by d_k.",
                    lambda Q, K, V, mask: _attention_terms(Q, K, V, mask, scale="d")),
            Mistake("Take the softmax over the keys (axis=-1, each row), not over the queries.",
                    lambda Q, K, V, mask: _attention_terms(Q, K, V, mask, axis=0)),
            Mistake("mask is True where a query MAY attend: set the scores where it is False to -inf.",
                    lambda Q, K, V, mask: _attention_terms(Q, K, V, mask, invert=True)),
            Mistake("Apply the mask: blocked pairs must get weight exactly 0.",
                    lambda Q, K, V, mask: _attention_terms(Q, K, V, mask, use_mask=False)),
        ],
    ),
    Exercise(
        id="12_attention.bahdanau_weights",
        reference=bahdanau_weights,
        public_cases=[
            Case({"s": _S, "H": _H, "W1": _W1, "W2": _W2, "v": _v}, "three source states"),
            Case({"s": np.zeros(2), "H": _H, "W1": _W1, "W2": np.zeros((2, 2)), "v": _v},
                 "W2 = 0: every score is equal, uniform weights", (np.full(3, 1 / 3),)),
            Case({"s": np.array([0.5, -1.0, 2.0]), "H": np.ones((4, 2)), "W1": np.ones((2, 3)),
                  "W2": np.eye(2), "v": np.array([1.0, 2.0])}, "equal source states, d_s = 3"),
        ],
        hidden_cases=_bahdanau_hidden,
        output_names=("alpha",),
        description="Bahdanau attention weights softmax_j(v^T tanh(W1 s + W2 h_j)).",
        mistakes=[
            Mistake("Return the weights alpha = softmax(e), not the raw scores e.",
                    lambda s, H, W1, W2, v: _bahdanau_terms(s, H, W1, W2, v, normalise=False)),
            Mistake("W1 multiplies the decoder state s and W2 each encoder state h_j.",
                    lambda s, H, W1, W2, v: _bahdanau_terms(s, H, W1, W2, v, swap=True)),
            Mistake("The non-linearity is tanh.",
                    lambda s, H, W1, W2, v: _bahdanau_terms(s, H, W1, W2, v,
                                                            activation=lambda x: 1 / (1 + np.exp(-x)))),
            Mistake("Apply tanh before the product with v: v^T tanh(...), not tanh(v^T ...).",
                    lambda s, H, W1, W2, v: _softmax(np.tanh((np.asarray(W1, float) @ np.asarray(s, float)
                                                              + np.asarray(H, float) @ np.asarray(W2, float).T)
                                                             @ np.asarray(v, float)))),
        ],
    ),
    Exercise(
        id="12_attention.location_shift",
        reference=location_shift,
        public_cases=[
            Case({"weights": np.array([0.0, 1.0, 0.0, 0.0]), "shift": np.array([0.0, 0.0, 1.0])},
                 "shift by +1: the focus moves from row 1 to row 2", (np.array([0.0, 0.0, 1.0, 0.0]),)),
            Case({"weights": np.array([0.0, 0.0, 0.0, 1.0]), "shift": np.array([0.0, 0.0, 1.0])},
                 "shift by +1 from the last row wraps round to row 0", (np.array([1.0, 0.0, 0.0, 0.0]),)),
            Case({"weights": np.array([0.7, 0.1, 0.2]), "shift": np.array([0.2, 0.5, 0.3])}, "a blurred shift"),
        ],
        hidden_cases=_shift_hidden,
        output_names=("shifted",),
        description="NTM location shift: circular convolution of the weights with a shift over (-1, 0, +1).",
        mistakes=[
            Mistake("shift[2] is the weight of a move by +1: the focus goes from row i to row i + 1.",
                    lambda weights, shift: _shift_terms(weights, shift, reverse=True)),
            Mistake("The convolution is circular: weight moved past the last row wraps to row 0 "
                    "(np.roll), it is not lost.",
                    lambda weights, shift: _shift_terms(weights, shift, circular=False)),
        ],
    ),
]
