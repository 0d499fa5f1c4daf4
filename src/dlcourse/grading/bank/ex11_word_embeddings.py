"""Exercises of ``solutions/11_word_embeddings.ipynb``: GloVe's weighting function, cosine nearest
neighbours, the analogy by vector arithmetic with the query words excluded, PPMI with context-distribution
smoothing (the smoothing is not printed in the chapter) and the skip-gram negative-sampling loss with its
gradient with respect to the centre vector, easiest first.

Hidden cases are built so that each slip shows: GloVe counts lie on both sides of x_max; embeddings have
rows of very different norms (so a dot product or a Euclidean distance ranks differently from the cosine)
and no ties; analogy matrices hold a query word nearest to the target; co-occurrence matrices have zeros
and cells with PMI of both signs; negative-sampling batches have scores of both signs and K > 1.
"""
from __future__ import annotations

import numpy as np

from ...embeddings import analogy as _analogy
from ...embeddings import glove_weight as _glove_weight
from ...embeddings import nearest_neighbours as _nearest
from ...embeddings import sgns_loss_and_grads as _sgns
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from dlcourse.embeddings)


def glove_weight(x, x_max, alpha):
    """f(x) = (x / x_max)^alpha below x_max, 1 from x_max on."""
    return _glove_weight(x, x_max, alpha)


def cosine_neighbours(E, word, k):
    """The k rows most cosine-similar to row ``word`` (never itself), most similar first."""
    return _nearest(E, word, k)


def analogy(E, a, b, c):
    """The word d (not a, b or c) maximising cos(e_d, u_b - u_a + u_c), rows normalised to unit length."""
    return int(_analogy(E, a, b, c, 1)[0])


def ppmi(X, alpha):
    """max(0, log(P(i, j) / (P(i) P_alpha(j)))), P_alpha(j) = c_j^alpha / sum c^alpha; 0 where X_ij = 0."""
    return _ppmi_terms(X, alpha)


def sgns_loss_grad(v, u_pos, u_neg):
    """Mean skip-gram negative-sampling loss over the batch and its gradient with respect to v."""
    loss, dv, _, _ = _sgns(v, u_pos, u_neg)
    return loss, dv


# ---------------------------------------------------------------- wrong versions

def _ppmi_terms(X, alpha, clip=True, smooth_rows=False, conditional=False, log=np.log):
    X = np.asarray(X, dtype=float)
    rows, cols = X.sum(1), X.sum(0)
    p_i = rows / X.sum()
    p_j = cols ** alpha / np.sum(cols ** alpha)
    if smooth_rows:
        p_i = rows ** alpha / np.sum(rows ** alpha)
    seen = X > 0
    denominator = p_i[:, None] if conditional else p_i[:, None] * p_j[None, :]
    pmi = log(np.where(seen, X / X.sum(), 1.0) / denominator)
    return np.where(seen, np.maximum(pmi, 0.0) if clip else pmi, 0.0)


def _glove_inverted(x, x_max, alpha):
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(x < x_max, (x_max / x) ** alpha, 1.0)


def _unit(E):
    E = np.asarray(E, dtype=float)
    return E / np.linalg.norm(E, axis=1, keepdims=True)


def _rank(scores, exclude, k, reverse=False):
    scores = np.array(scores, dtype=float)
    scores[list(exclude)] = np.inf if reverse else -np.inf
    order = np.argsort(scores if reverse else -scores, kind="stable")
    return order[:k].astype(np.int64)


def _neighbours_dot(E, word, k):
    E = np.asarray(E, dtype=float)
    return _rank(E @ E[word], [word], k)


def _neighbours_euclidean(E, word, k):
    E = np.asarray(E, dtype=float)
    return _rank(-np.linalg.norm(E - E[word], axis=1), [word], k)


def _neighbours_with_self(E, word, k):
    U = _unit(E)
    return _rank(U @ U[word], [], k)


def _neighbours_least_similar(E, word, k):
    U = _unit(E)
    return _rank(U @ U[word], [word], k, reverse=True)


def _analogy_terms(E, a, b, c, exclude=True, normalise=True, swap=False):
    U = _unit(E) if normalise else np.asarray(E, dtype=float)
    target = U[a] - U[b] + U[c] if swap else U[b] - U[a] + U[c]
    scores = _unit(U) @ (target / np.linalg.norm(target))
    return int(_rank(scores, [a, b, c] if exclude else [], 1)[0])


def _sgns_terms(v, u_pos, u_neg, negative_sign=True, total=False, drop_negatives=False):
    v, u_pos, u_neg = (np.asarray(x, dtype=float) for x in (v, u_pos, u_neg))
    s_pos, s_neg = (u_pos * v).sum(1), np.einsum("bkm,bm->bk", u_neg, v)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    neg_arg = -s_neg if negative_sign else s_neg
    loss = -np.log(sig(s_pos)) - np.log(sig(neg_arg)).sum(1)
    dv = (sig(s_pos) - 1)[:, None] * u_pos
    if not drop_negatives:
        dv = dv + np.einsum("bk,bkm->bm", sig(s_neg) if negative_sign else sig(s_neg) - 1, u_neg)
    scale = 1.0 if total else 1.0 / len(v)
    return float(loss.sum() * scale), dv * scale


# ---------------------------------------------------------------- hidden cases

def _glove_hidden(rng):
    cases = []
    for _ in range(10):
        x_max = float(rng.choice([10.0, 50.0, 100.0]))
        x = np.r_[rng.integers(0, int(x_max), 5), rng.integers(int(x_max) + 1, 4 * int(x_max), 3)].astype(float)
        cases.append({"x": rng.permutation(x), "x_max": x_max, "alpha": float(rng.choice([0.5, 0.75]))})
    return cases


def _spread_embeddings(rng, V, m):
    E = rng.normal(size=(V, m))
    return E * rng.choice([0.2, 1.0, 5.0], size=(V, 1))  # norms differ: cosine, dot and distance disagree


def _neighbours_hidden(rng):
    return [{"E": _spread_embeddings(rng, int(rng.integers(6, 12)), int(rng.integers(2, 5))),
             "word": int(rng.integers(0, 6)), "k": int(rng.integers(2, 5))} for _ in range(10)]


def _analogy_hidden(rng):
    cases = []
    while len(cases) < 10:
        V, m = int(rng.integers(6, 12)), int(rng.integers(2, 5))
        E = _spread_embeddings(rng, V, m)
        a, b, c = (int(i) for i in rng.choice(V, 3, replace=False))
        target = _unit(E)[b] - _unit(E)[a] + _unit(E)[c]
        if int(np.argmax(_unit(E) @ target)) in (a, b, c) or len(cases) % 2:  # half: a query word wins raw
            cases.append({"E": E, "a": a, "b": b, "c": c})
    return cases


def _ppmi_hidden(rng):
    cases = []
    for _ in range(10):
        V = int(rng.integers(3, 7))
        X = rng.integers(0, 6, (V, V)).astype(float)
        X = X + X.T
        X[0, 0] = 0.0
        X[1, 1] = 7.0  # a frequent self pair: PMI of both signs
        cases.append({"X": X, "alpha": float(rng.choice([0.75, 0.5, 1.0]))})
    # Words x contexts need not be square or symmetric (rows and columns must not be mixed up), and a
    # pair seen once, between a rare word and a rare context, has a positive PMI (a count of 1 is "seen").
    X = rng.integers(0, 6, (4, 6)).astype(float)
    X[3, :], X[:, 5] = 0.0, 0.0
    X[3, 5] = 1.0
    cases.append({"X": X, "alpha": 0.75})
    return cases


def _sgns_hidden(rng):
    cases = []
    for _ in range(10):
        B, K, m = int(rng.integers(2, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 5))
        cases.append({"v": rng.normal(size=(B, m)), "u_pos": rng.normal(size=(B, m)),
                      "u_neg": rng.normal(size=(B, K, m))})
    return cases


# ---------------------------------------------------------------- the registry

_E = np.array([[1.0, 0.0], [3.0, 0.3], [0.0, 2.0], [0.6, 0.8], [-1.0, 0.0]])
_PAR = np.array([[1.0, 0.1], [1.0, 1.0], [1.0, 0.2], [0.5, 1.0], [-1.0, 0.3]])
_MIXED = np.array([[0.4, -1.2], [0.0, 0.7], [-3.9, 1.2], [0.2, 0.3], [-3.6, -2.0]])
_X = np.array([[0.0, 4.0, 1.0], [4.0, 2.0, 0.0], [1.0, 0.0, 6.0]])

EXERCISES = [
    Exercise(
        id="11_word_embeddings.glove_weight",
        reference=glove_weight,
        public_cases=[
            Case({"x": np.array([0.0, 25.0, 100.0, 300.0]), "x_max": 100.0, "alpha": 0.5},
                 "below, at and above x_max", (np.array([0.0, 0.5, 1.0, 1.0]),)),
            Case({"x": np.array([1.0, 50.0]), "x_max": 100.0, "alpha": 0.75}, "GloVe's defaults"),
        ],
        hidden_cases=_glove_hidden,
        output_names=("f",),
        description="GloVe's weighting (x / x_max)^alpha, capped at 1.",
        mistakes=[
            Mistake("Cap the weight at 1: f(x) = 1 for x >= x_max, so very frequent pairs do not dominate.",
                    lambda x, x_max, alpha: (np.asarray(x, float) / x_max) ** alpha),
            Mistake("The exponent alpha is a power, (x / x_max)^alpha, not a factor.",
                    lambda x, x_max, alpha: np.minimum(1.0, alpha * np.asarray(x, float) / x_max)),
            Mistake("Divide x by x_max: f(x) = (x / x_max)^alpha, not (x_max / x)^alpha.",
                    _glove_inverted),
        ],
    ),
    Exercise(
        id="11_word_embeddings.cosine_neighbours",
        reference=cosine_neighbours,
        public_cases=[
            Case({"E": _E, "word": 0, "k": 2}, "row 1 is long but nearly parallel to row 0",
                 (np.array([1, 3]),)),
            Case({"E": _E, "word": 3, "k": 3}, "three neighbours of row 3"),
        ],
        hidden_cases=_neighbours_hidden,
        output_names=("ids",),
        description="The k most cosine-similar rows, best first, the word itself excluded.",
        mistakes=[
            Mistake("Normalise the rows: the cosine divides the dot product by both norms, so long vectors "
                    "(frequent words) do not win by length alone.", _neighbours_dot),
            Mistake("Rank by cosine similarity, not by Euclidean distance: the two disagree when norms differ.",
                    _neighbours_euclidean),
            Mistake("Exclude the word itself: it is always its own nearest neighbour (cosine 1).",
                    _neighbours_with_self),
            Mistake("Sort by DEcreasing similarity: the nearest neighbours have the largest cosine.",
                    _neighbours_least_similar),
        ],
    ),
    Exercise(
        id="11_word_embeddings.analogy",
        reference=analogy,
        public_cases=[
            Case({"E": _PAR, "a": 0, "b": 1, "c": 2}, "man : king = woman : ?, where king itself is nearest "
                 "to the target", (3,)),
            Case({"E": _E, "a": 0, "b": 2, "c": 1}, "another analogy"),
            Case({"E": _MIXED, "a": 0, "b": 1, "c": 2}, "rows of different lengths", (3,)),
        ],
        hidden_cases=_analogy_hidden,
        output_names=("d",),
        description="argmax over d not in {a, b, c} of cos(e_d, u_b - u_a + u_c), rows normalised.",
        mistakes=[
            Mistake("Exclude the three query words a, b and c: b - a + c is often closest to b itself.",
                    lambda E, a, b, c: _analogy_terms(E, a, b, c, exclude=False)),
            Mistake("The target is e_b - e_a + e_c (king - man + woman), not e_a - e_b + e_c.",
                    lambda E, a, b, c: _analogy_terms(E, a, b, c, swap=True)),
            Mistake("Normalise the rows to unit length before adding and subtracting them.",
                    lambda E, a, b, c: _analogy_terms(E, a, b, c, normalise=False)),
        ],
    ),
    Exercise(
        id="11_word_embeddings.ppmi",
        reference=ppmi,
        public_cases=[
            Case({"X": _X, "alpha": 1.0}, "alpha = 1: the chapter's PPMI"),
            Case({"X": _X, "alpha": 0.75}, "context distribution smoothed with alpha = 0.75"),
            Case({"X": np.array([[0.0, 1.0], [1.0, 0.0]]), "alpha": 1.0}, "two words that only meet each other",
                 (np.array([[0.0, np.log(2.0)], [np.log(2.0), 0.0]]),)),
        ],
        hidden_cases=_ppmi_hidden,
        output_names=("M",),
        description="PPMI with the context distribution raised to alpha (Levy, Goldberg and Dagan, 2015).",
        mistakes=[
            Mistake("Clip at 0: PPMI = max(0, PMI); negative PMI (pairs rarer than chance) is unreliable.",
                    lambda X, alpha: _ppmi_terms(X, alpha, clip=False)),
            Mistake("Smooth only the CONTEXT (column) distribution, P_alpha(j); the word probabilities P(i) "
                    "stay plain frequencies.", lambda X, alpha: _ppmi_terms(X, alpha, smooth_rows=True)),
            Mistake("PMI divides P(i, j) by P(i) P(j): dividing by P(i) only gives the conditional P(j | i).",
                    lambda X, alpha: _ppmi_terms(X, alpha, conditional=True)),
            Mistake("Use the natural logarithm np.log.", lambda X, alpha: _ppmi_terms(X, alpha, log=np.log2)),
        ],
    ),
    Exercise(
        id="11_word_embeddings.sgns_loss_grad",
        reference=sgns_loss_grad,
        public_cases=[
            Case({"v": np.zeros((1, 2)), "u_pos": np.ones((1, 2)), "u_neg": np.ones((1, 3, 2))},
                 "v = 0: every score is 0, loss (1 + K) log 2", (4 * np.log(2.0), np.array([[1.0, 1.0]]))),
            Case({"v": np.array([[1.0, 0.0], [0.0, 2.0]]), "u_pos": np.array([[0.5, 0.5], [1.0, 1.0]]),
                  "u_neg": np.array([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]]])}, "two pairs, K = 2"),
        ],
        hidden_cases=_sgns_hidden,
        output_names=("loss", "dv"),
        description="Skip-gram negative-sampling loss (mean over pairs) and dL/dv.",
        mistakes=[
            Mistake("A noise word enters as log s(-u_k . v): its score must be pushed DOWN (and its gradient "
                    "is s(u_k . v) u_k).", lambda v, u_pos, u_neg: _sgns_terms(v, u_pos, u_neg, False)),
            Mistake("Return the mean over the B pairs (loss and gradient), not the sum.",
                    lambda v, u_pos, u_neg: _sgns_terms(v, u_pos, u_neg, total=True)),
            Mistake("The gradient with respect to v has a term from every noise word: + sum_k s(u_k . v) u_k.",
                    lambda v, u_pos, u_neg: _sgns_terms(v, u_pos, u_neg, drop_negatives=True)),
        ],
    ),
]
