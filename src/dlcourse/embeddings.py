"""Word embeddings from scratch in NumPy: bag of words, n-gram sparsity, Bengio's neural language model,
word2vec's negative-sampling losses and their gradients, GloVe's objective, cosine neighbours and
analogies, and the count-based baseline PPMI + truncated SVD (chapter 11).

Notation: V words in the vocabulary, m the embedding width, B a batch, K negative samples per pair.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from .validation import as_float_array, as_int_array, check_float, check_int, check_positive, check_positive_int

# ---------------------------------------------------------------- counting models


def _tokens(tokens, name: str) -> list[str]:
    if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__iter__"):
        raise ValueError(f"{name} must be a sequence of str tokens, got {type(tokens).__name__}")
    tokens = list(tokens)
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} must hold str tokens only, got a {type(bad[0]).__name__} ({bad[0]!r})")
    return tokens


def bag_of_words(tokens: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """Counts of each vocabulary word in ``tokens``: x_v = #{t : tokens[t] = vocabulary[v]}, shape (V,).

    Words outside the vocabulary are ignored. A vocabulary listing a word twice is refused: its count
    would be split ambiguously between two slots.
    """
    tokens, vocabulary = _tokens(tokens, "tokens"), _tokens(vocabulary, "vocabulary")
    repeated = [w for w, c in Counter(vocabulary).items() if c > 1]
    if repeated:
        raise ValueError(f"vocabulary must list each word once, got {repeated[0]!r} more than once")
    counts = Counter(tokens)
    return np.array([counts[w] for w in vocabulary], dtype=np.int64)


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """How often each n-gram (a tuple of n consecutive tokens) occurs in ``tokens``."""
    tokens, n = _tokens(tokens, "tokens"), check_positive_int(n, "n")
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def unseen_ngram_fraction(train_tokens: Sequence[str], validation_tokens: Sequence[str], n: int) -> float:
    """Fraction of the validation n-grams (counted with repetition) that never occur in the training text.

    A count-based n-gram model gives them probability 0: the sparsity that grows with n.
    """
    seen = ngram_counts(train_tokens, n)
    held = ngram_counts(validation_tokens, n)
    total = sum(held.values())
    if total == 0:
        raise ValueError(f"validation_tokens must hold at least n = {n} tokens, got {sum(1 for _ in held)} n-grams")
    return float(sum(c for g, c in held.items() if g not in seen) / total)


# ---------------------------------------------------------------- Bengio's neural language model


def nnlm_log_probs(context, C, H, d, U, b) -> np.ndarray:
    """Log-probabilities of the next word in Bengio's neural language model, shape (B, V).

    x = [C[w_{t-n+1}], ..., C[w_{t-1}]] (the n-1 context rows concatenated: width (n-1)m),
    y = b + U tanh(d + H x), log P(w_t = i | context) = y_i - log sum_j exp(y_j).
    context: (B, n-1) word ids; C: (V, m); H: (h, (n-1)m); d: (h,); U: (V, h); b: (V,).
    """
    C = as_float_array(C, "C", ndim=2)
    context = as_int_array(context, "context", ndim=2)
    V, m = C.shape
    if context.size and (context.min() < 0 or context.max() >= V):
        raise ValueError(f"context must hold word ids in 0..{V - 1}, got {context.min()}..{context.max()}")
    width = context.shape[1] * m
    H = as_float_array(H, "H", shape=(None, width))
    d = as_float_array(d, "d", shape=(H.shape[0],))
    U = as_float_array(U, "U", shape=(V, H.shape[0]))
    b = as_float_array(b, "b", shape=(V,))
    x = C[context].reshape(len(context), width)  # (B, (n-1)m)
    y = b + np.tanh(d + x @ H.T) @ U.T  # (B, V)
    top = y.max(axis=1, keepdims=True) if len(y) else 0.0
    return y - (top + np.log(np.exp(y - top).sum(axis=1, keepdims=True)))


# ---------------------------------------------------------------- word2vec with negative sampling


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def _sgns_arrays(v, u_pos, u_neg):
    v = as_float_array(v, "v", ndim=2)
    u_pos = as_float_array(u_pos, "u_pos", shape=v.shape)
    u_neg = as_float_array(u_neg, "u_neg", shape=(len(v), None, v.shape[1]))
    if len(v) == 0:
        raise ValueError("v must hold at least one pair, got shape (0, m)")
    return v, u_pos, u_neg


def sgns_loss_and_grads(v, u_pos, u_neg) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Skip-gram negative-sampling loss, mean over B pairs, and its gradients.

    L = (1/B) sum_b [ -log s(u_o . v) - sum_k log s(-u_k . v) ], s the logistic sigmoid;
    dL/dv = (s(u_o.v) - 1) u_o + sum_k s(u_k.v) u_k, dL/du_o = (s(u_o.v) - 1) v, dL/du_k = s(u_k.v) v
    (each divided by B). v: (B, m) centre (input) vectors; u_pos: (B, m) context (output) vectors;
    u_neg: (B, K, m) output vectors of the K noise words. Returns (loss, dv, du_pos, du_neg).
    """
    v, u_pos, u_neg = _sgns_arrays(v, u_pos, u_neg)
    B = len(v)
    s_pos = np.einsum("bm,bm->b", u_pos, v)  # (B,)
    s_neg = np.einsum("bkm,bm->bk", u_neg, v)  # (B, K)
    loss = -(_log_sigmoid(s_pos).sum() + _log_sigmoid(-s_neg).sum()) / B
    g_pos = (_sigmoid(s_pos) - 1.0) / B  # dL/ds_pos
    g_neg = _sigmoid(s_neg) / B  # dL/ds_neg
    dv = g_pos[:, None] * u_pos + np.einsum("bk,bkm->bm", g_neg, u_neg)
    return float(loss), dv, g_pos[:, None] * v, g_neg[:, :, None] * v[:, None, :]


def cbow_loss_and_grads(v_context, u_pos, u_neg) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """CBOW negative-sampling loss, mean over B windows, and its gradients.

    h = (1/C) sum_c v_c (the mean of the C context input vectors), then the skip-gram loss with h in
    place of v; dL/dv_c = dL/dh / C. v_context: (B, C, m); u_pos: (B, m) output vector of the centre
    word; u_neg: (B, K, m). Returns (loss, dv_context (B, C, m), du_pos, du_neg).
    """
    v_context = as_float_array(v_context, "v_context", ndim=3)
    if v_context.shape[1] == 0:
        raise ValueError(f"v_context must hold at least one context word, got shape {v_context.shape}")
    loss, dh, du_pos, du_neg = sgns_loss_and_grads(v_context.mean(axis=1), u_pos, u_neg)
    dv = np.repeat(dh[:, None, :] / v_context.shape[1], v_context.shape[1], axis=1)
    return loss, dv, du_pos, du_neg


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """word2vec's noise distribution P_n(w) = c_w^power / sum_v c_v^power over word counts c, shape (V,)."""
    counts = as_float_array(counts, "counts", ndim=1)
    power = check_float(power, "power", minimum=0.0)
    if np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError("counts must be >= 0 with a positive total, "
                         f"got min {counts.min() if counts.size else 'none'} and total {counts.sum()}")
    weights = np.where(counts > 0, counts ** power, 0.0)
    return weights / weights.sum()


def keep_probability(counts, t: float = 1e-5) -> np.ndarray:
    """Subsampling of frequent words: each occurrence of w is kept with probability min(1, sqrt(t / f_w)).

    f_w = c_w / sum_v c_v is the word's frequency; the discard probability 1 - sqrt(t / f_w) of Mikolov et
    al. (2013) hits the most frequent words ("the", "of") and spares rare ones. counts: (V,); returns (V,).
    """
    counts = as_float_array(counts, "counts", ndim=1)
    t = check_positive(t, "t")
    if np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(f"counts must be >= 0 with a positive total, got total {counts.sum()}")
    f = counts / counts.sum()
    with np.errstate(divide="ignore"):
        return np.where(f > 0, np.minimum(1.0, np.sqrt(t / np.where(f > 0, f, 1.0))), 1.0)


# ---------------------------------------------------------------- GloVe


def glove_weight(x, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    """GloVe's weighting f(x) = (x / x_max)^alpha for x < x_max, else 1 (and f(0) = 0); same shape as x."""
    x = as_float_array(x, "x")
    x_max, alpha = check_positive(x_max, "x_max"), check_positive(alpha, "alpha")
    if np.any(x < 0):
        raise ValueError(f"x must hold co-occurrence counts >= 0, got min {x.min()}")
    return np.where(x < x_max, (x / x_max) ** alpha, 1.0)


def glove_loss_and_grads(W, W_tilde, b, b_tilde, X, x_max: float = 100.0, alpha: float = 0.75):
    """GloVe's weighted least squares and its gradients.

    J = sum_{i,j: X_ij > 0} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 (the square is essential: without
    it J is unbounded below). W, W_tilde: (V, m); b, b_tilde: (V,); X: (V, V) counts.
    Returns (J, dW, dW_tilde, db, db_tilde).
    """
    W = as_float_array(W, "W", ndim=2)
    V = len(W)
    W_tilde = as_float_array(W_tilde, "W_tilde", shape=W.shape)
    b, b_tilde = as_float_array(b, "b", shape=(V,)), as_float_array(b_tilde, "b_tilde", shape=(V,))
    X = as_float_array(X, "X", shape=(V, V))
    f = glove_weight(X, x_max, alpha)
    seen = X > 0
    log_x = np.log(np.where(seen, X, 1.0))
    err = np.where(seen, W @ W_tilde.T + b[:, None] + b_tilde[None, :] - log_x, 0.0)  # (V, V)
    g = 2.0 * f * err
    return float((f * err ** 2).sum()), g @ W_tilde, g.T @ W, g.sum(axis=1), g.sum(axis=0)


# ---------------------------------------------------------------- neighbours and analogies


def cosine_similarity(E, queries) -> np.ndarray:
    """Cosine similarities cos(q, e_v) = q . e_v / (|q| |e_v|) of each query row with each row of E: (Q, V).

    E: (V, m) embeddings; queries: (Q, m). A zero vector has similarity 0 with everything.
    """
    E = as_float_array(E, "E", ndim=2)
    queries = as_float_array(queries, "queries", shape=(None, E.shape[1]))

    def unit(A):
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        return A / np.where(norms > 0, norms, 1.0)

    return unit(queries) @ unit(E).T


def nearest_neighbours(E, word: int, k: int = 5, exclude: Sequence[int] = ()) -> np.ndarray:
    """The k rows of E most cosine-similar to row ``word``, best first, never ``word`` itself nor ``exclude``."""
    E = as_float_array(E, "E", ndim=2)
    word = check_int(word, "word", minimum=0, maximum=len(E) - 1)
    return _top_k(E, E[word][None, :], k, [word, *exclude])


def analogy(E, a: int, b: int, c: int, k: int = 1) -> np.ndarray:
    """The k words d that best complete "a is to b as c is to d": argmax_d cos(e_d, e_b - e_a + e_c).

    Rows are normalised to unit length first (3CosAdd of Levy and Goldberg) and the three query words are
    excluded, as in Mikolov et al. (2013): otherwise e_b itself often wins. king - man + woman: a=man, b=king,
    c=woman.
    """
    E = as_float_array(E, "E", ndim=2)
    a, b, c = (check_int(x, name, minimum=0, maximum=len(E) - 1) for x, name in ((a, "a"), (b, "b"), (c, "c")))
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    unit = E / np.where(norms > 0, norms, 1.0)
    return _top_k(unit, (unit[b] - unit[a] + unit[c])[None, :], k, [a, b, c])


def _top_k(E: np.ndarray, query: np.ndarray, k, exclude) -> np.ndarray:
    exclude = as_int_array(list(exclude), "exclude", ndim=1)
    if exclude.size and (exclude.min() < 0 or exclude.max() >= len(E)):
        raise ValueError(f"exclude must hold word ids in 0..{len(E) - 1}, got {exclude.min()}..{exclude.max()}")
    k = check_int(k, "k", minimum=1, maximum=len(E) - len(set(exclude.tolist())))
    sims = cosine_similarity(E, query)[0]
    sims[exclude] = -np.inf
    return np.argsort(-sims, kind="stable")[:k]


# ---------------------------------------------------------------- the count-based baseline


def cooccurrence_matrix(ids, vocab_size: int, window: int) -> np.ndarray:
    """Symmetric co-occurrence counts X_ij = #{(t, s): ids[t] = i, ids[s] = j, 0 < |t - s| <= window}: (V, V)."""
    ids = as_int_array(ids, "ids", ndim=1)
    V, window = check_positive_int(vocab_size, "vocab_size"), check_positive_int(window, "window")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids must be word ids in 0..{V - 1}, got {ids.min()}..{ids.max()}")
    X = np.zeros((V, V))
    for offset in range(1, window + 1):
        np.add.at(X, (ids[:-offset], ids[offset:]), 1.0)
    return X + X.T


def ppmi(X) -> np.ndarray:
    """Positive pointwise mutual information max(0, log(X_ij N / (X_i. X_.j))), 0 where X_ij = 0: (V, V).

    N = sum_ij X_ij; X_i. and X_.j are row and column sums of the (V, V) counts X.
    """
    X = as_float_array(X, "X", ndim=2)
    if np.any(X < 0) or X.sum() <= 0:
        raise ValueError(f"X must hold counts >= 0 with a positive total, got total {X.sum()}")
    rows, cols = X.sum(axis=1, keepdims=True), X.sum(axis=0, keepdims=True)
    seen = X > 0
    pmi = np.log(np.where(seen, X, 1.0) * X.sum() / np.where(seen, rows * cols, 1.0))
    return np.where(seen, np.maximum(pmi, 0.0), 0.0)


def svd_embeddings(M, dim: int) -> np.ndarray:
    """Word vectors from a truncated SVD M ~ U_k S_k V_k^T: the rows of U_k S_k^{1/2}, shape (V, dim).

    A symmetric M (a PPMI matrix of symmetric counts) has M = Q diag(lambda) Q^T, so U = Q and
    S = |lambda| sorted by size: the eigendecomposition gives the same vectors several times faster.
    Each column's sign is fixed (its largest entry positive), as the SVD leaves it free.
    """
    M = as_float_array(M, "M", ndim=2)
    dim = check_int(dim, "dim", minimum=1, maximum=min(M.shape))
    if M.shape[0] == M.shape[1] and np.array_equal(M, M.T):
        eigenvalues, Q = np.linalg.eigh(M)
        order = np.argsort(-np.abs(eigenvalues), kind="stable")[:dim]
        U, S = Q[:, order], np.abs(eigenvalues[order])
    else:
        U, S, _ = np.linalg.svd(M, full_matrices=False)
        U, S = U[:, :dim], S[:dim]
    signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(dim)])
    signs[signs == 0] = 1.0
    return U * signs * np.sqrt(S)
