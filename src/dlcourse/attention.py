"""Attention from scratch in NumPy: additive (Bahdanau) and multiplicative (Luong) scores, scaled
dot-product attention with padding and causal masks, multi-head attention, the sinusoidal positional
encoding, and the content-based read and erase/add write of a Neural Turing Machine.

Mask convention throughout: a boolean mask is True where a query MAY attend to a key (the convention of
``torch.nn.functional.scaled_dot_product_attention``; ``nn.MultiheadAttention`` uses the opposite one,
True = blocked, so pass it ``~mask``).
"""
from __future__ import annotations

import numpy as np

from .validation import as_array, as_float_array, check_choice, check_positive_int

__all__ = ["softmax", "additive_scores", "luong_scores", "attend", "scaled_dot_product_attention",
           "causal_mask", "padding_mask", "multi_head_attention", "sinusoidal_positional_encoding",
           "ntm_content_weights", "ntm_read", "ntm_write", "plot_attention_saturation"]


def _check_dim(array: np.ndarray, name: str, ndim: int | tuple[int, ...]) -> None:
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                         f"got shape {array.shape}")


def _check_size(size: int, expected: int, what: str) -> None:
    if size != expected:
        raise ValueError(f"{what}: expected {expected}, got {size}")


def _as_mask(mask, name: str) -> np.ndarray:
    return as_array(mask, name, kind="bool")  # True = may attend


def softmax(scores, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``: exp(e_j - max e) / sum_k exp(e_k - max e); -inf entries get weight 0."""
    scores = as_float_array(scores, "scores", finite=False)
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise ValueError("scores must not hold NaN or +inf")
    if scores.ndim == 0 or scores.shape[axis] == 0:
        raise ValueError(f"scores need at least one entry along axis {axis}, got shape {scores.shape}")
    top = scores.max(axis=axis, keepdims=True)
    if np.isneginf(top).any():
        raise ValueError("every row of scores needs at least one finite entry (a fully masked row)")
    e = np.exp(scores - top)
    return e / e.sum(axis=axis, keepdims=True)


def additive_scores(s, H, W1, W2, v) -> np.ndarray:
    """Bahdanau's additive scores e_j = v^T tanh(W1 s + W2 h_j), one per source position.

    s: (d_s,) decoder state (Bahdanau use the previous one, s_{t-1}); H: (T, d_h) encoder states;
    W1: (d_a, d_s); W2: (d_a, d_h); v: (d_a,). Returns e: (T,).
    """
    s, H, v = as_float_array(s, "s"), as_float_array(H, "H"), as_float_array(v, "v")
    W1, W2 = as_float_array(W1, "W1"), as_float_array(W2, "W2")
    for a, name, nd in ((s, "s", 1), (H, "H", 2), (W1, "W1", 2), (W2, "W2", 2), (v, "v", 1)):
        _check_dim(a, name, nd)
    _check_size(W1.shape[1], len(s), "W1 columns must match the length of s")
    _check_size(W2.shape[1], H.shape[1], "W2 columns must match the width of H")
    _check_size(W2.shape[0], W1.shape[0], "W2 rows must match W1 rows (d_a)")
    _check_size(len(v), W1.shape[0], "v must have d_a entries")
    return np.tanh(W1 @ s + H @ W2.T) @ v  # (T, d_a) @ (d_a,)


def luong_scores(h, H, W=None) -> np.ndarray:
    """Luong's multiplicative scores: dot h^T h_j (W None) or general h^T W h_j. h: (d,); H: (T, d')."""
    h, H = as_float_array(h, "h"), as_float_array(H, "H")
    _check_dim(h, "h", 1)
    _check_dim(H, "H", 2)
    if W is None:
        _check_size(H.shape[1], len(h), "dot scores need H as wide as h")
        return H @ h
    W = as_float_array(W, "W")
    _check_dim(W, "W", 2)
    if W.shape != (len(h), H.shape[1]):
        raise ValueError(f"W must have shape {(len(h), H.shape[1])}, got {W.shape}")
    return H @ (W.T @ h)


def attend(scores, H, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Attention weights alpha = softmax(e) (masked keys get 0) and the context c = sum_j alpha_j h_j.

    scores: (T,); H: (T, d); mask: (T,) bool, True = may attend. Returns (alpha (T,), c (d,)).
    """
    scores, H = as_float_array(scores, "scores"), as_float_array(H, "H")
    _check_dim(scores, "scores", 1)
    _check_dim(H, "H", 2)
    _check_size(len(H), len(scores), "H must have one row per score")
    if mask is not None:
        mask = _as_mask(mask, "mask")
        if mask.shape != scores.shape:
            raise ValueError(f"mask must have shape {scores.shape}, got {mask.shape}")
        scores = np.where(mask, scores, -np.inf)
    alpha = softmax(scores)
    return alpha, alpha @ H


def scaled_dot_product_attention(Q, K, V, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q K^T / sqrt(d_k)) V, with masked (False) scores set to -inf before the softmax.

    Q: (..., L_q, d_k); K: (..., L_k, d_k); V: (..., L_k, d_v); mask: bool broadcastable to
    (..., L_q, L_k). Returns (output (..., L_q, d_v), weights (..., L_q, L_k)).
    """
    Q, K, V = as_float_array(Q, "Q"), as_float_array(K, "K"), as_float_array(V, "V")
    for a, name in ((Q, "Q"), (K, "K"), (V, "V")):
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., L, d), got shape {a.shape}")
    _check_size(K.shape[-1], Q.shape[-1], "K's last dimension must equal Q's (d_k)")
    _check_size(V.shape[-2], K.shape[-2], "V must have one row per key (L_k)")
    if Q.shape[-1] == 0 or K.shape[-2] == 0:
        raise ValueError(f"need d_k >= 1 and at least one key, got Q {Q.shape}, K {K.shape}")
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])  # (..., L_q, L_k)
    if mask is not None:
        mask = _as_mask(mask, "mask")
        try:
            mask = np.broadcast_to(mask, scores.shape)
        except ValueError:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores' "
                             f"shape {scores.shape}") from None
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights


def causal_mask(n: int) -> np.ndarray:
    """(n, n) boolean mask, True on and below the diagonal: position i may attend to j <= i."""
    n = check_positive_int(n, "n")
    return np.tril(np.ones((n, n), dtype=bool))


def padding_mask(lengths, max_len: int) -> np.ndarray:
    """(B, max_len) boolean mask, True at the real tokens j < lengths[b] of each sequence."""
    lengths = as_array(lengths, "lengths", kind="int", ndim=1)
    max_len = check_positive_int(max_len, "max_len")
    if lengths.size and (lengths.min() < 1 or lengths.max() > max_len):
        raise ValueError(f"lengths must lie in 1..{max_len}, got {lengths.min()}..{lengths.max()}")
    return np.arange(max_len)[None, :] < lengths[:, None]


def _split_heads(X: np.ndarray, n_heads: int) -> np.ndarray:
    B, L, E = X.shape
    return X.reshape(B, L, n_heads, E // n_heads).transpose(0, 2, 1, 3)  # (B, h, L, E/h)


def multi_head_attention(query, key, value, in_proj_weight, in_proj_bias, out_proj_weight,
                         out_proj_bias, n_heads: int, key_mask=None, mask=None):
    """Multi-head attention Concat(head_1..head_h) W_O^T + b_O, head_i = Att(Q W_i^Q, K W_i^K, V W_i^V).

    Shapes as ``nn.MultiheadAttention(E, n_heads, batch_first=True)``: query (B, L_q, E), key and value
    (B, L_k, E); in_proj_weight (3E, E) stacks W_Q, W_K, W_V (rows), in_proj_bias (3E,);
    out_proj_weight (E, E), out_proj_bias (E,). key_mask: (B, L_k) bool, True = a real key;
    mask: (L_q, L_k) bool, True = may attend. Returns (output (B, L_q, E), weights averaged over
    heads (B, L_q, L_k)).
    """
    q, k, v = (as_float_array(a, n) for a, n in ((query, "query"), (key, "key"), (value, "value")))
    for a, name in ((q, "query"), (k, "key"), (v, "value")):
        _check_dim(a, name, 3)
    n_heads = check_positive_int(n_heads, "n_heads")
    B, _, E = q.shape
    if E % n_heads:
        raise ValueError(f"the embedding width {E} must be divisible by n_heads={n_heads}")
    if k.shape != v.shape or k.shape[0] != B or k.shape[2] != E:
        raise ValueError(f"key and value must have shape ({B}, L_k, {E}), got {k.shape} and {v.shape}")
    W_in, b_in = as_float_array(in_proj_weight, "in_proj_weight"), as_float_array(in_proj_bias,
                                                                                  "in_proj_bias")
    W_out, b_out = as_float_array(out_proj_weight, "out_proj_weight"), as_float_array(
        out_proj_bias, "out_proj_bias")
    for a, name, shape in ((W_in, "in_proj_weight", (3 * E, E)), (b_in, "in_proj_bias", (3 * E,)),
                           (W_out, "out_proj_weight", (E, E)), (b_out, "out_proj_bias", (E,))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    allowed = np.ones((B, 1, q.shape[1], k.shape[1]), dtype=bool)
    if mask is not None:
        mask = _as_mask(mask, "mask")
        if mask.shape != (q.shape[1], k.shape[1]):
            raise ValueError(f"mask must have shape {(q.shape[1], k.shape[1])}, got {mask.shape}")
        allowed = allowed & mask
    if key_mask is not None:
        key_mask = _as_mask(key_mask, "key_mask")
        if key_mask.shape != (B, k.shape[1]):
            raise ValueError(f"key_mask must have shape {(B, k.shape[1])}, got {key_mask.shape}")
        allowed = allowed & key_mask[:, None, None, :]
    heads = [_split_heads(x @ W_in[i * E:(i + 1) * E].T + b_in[i * E:(i + 1) * E], n_heads)
             for i, x in enumerate((q, k, v))]
    out, weights = scaled_dot_product_attention(*heads, mask=allowed)  # (B, h, L_q, E/h)
    out = out.transpose(0, 2, 1, 3).reshape(B, q.shape[1], E)  # concatenate the heads
    return out @ W_out.T + b_out, weights.mean(axis=1)


def sinusoidal_positional_encoding(n_positions: int, d_model: int) -> np.ndarray:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)); shape (n_positions, d)."""
    n_positions = check_positive_int(n_positions, "n_positions")
    d_model = check_positive_int(d_model, "d_model")
    position = np.arange(n_positions)[:, None]
    frequency = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)  # (ceil(d/2),)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2] = np.sin(position * frequency)
    pe[:, 1::2] = np.cos(position * frequency[: d_model // 2])
    return pe


def ntm_content_weights(memory, key, beta: float) -> np.ndarray:
    """NTM content addressing w_i = softmax_i(beta cos(k, M_i)). memory: (N, M); key: (M,)."""
    memory, key = as_float_array(memory, "memory"), as_float_array(key, "key")
    _check_dim(memory, "memory", 2)
    _check_dim(key, "key", 1)
    _check_size(len(key), memory.shape[1], "key must be as wide as a memory row")
    beta = _check_beta(beta)
    norms = np.linalg.norm(memory, axis=1) * np.linalg.norm(key)
    if len(memory) == 0 or np.any(norms == 0):
        raise ValueError("memory needs at least one row, and neither a row nor the key may be all zeros")
    return softmax(beta * (memory @ key) / norms)


def _check_beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise ValueError(f"beta must be a number >= 0, got {type(beta).__name__} {beta!r}")
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    return float(beta)


def ntm_read(memory, weights) -> np.ndarray:
    """NTM read r = sum_i w_i M_i. memory: (N, M); weights: (N,), non-negative, summing to 1."""
    memory, weights = as_float_array(memory, "memory"), _check_weights(weights, "weights")
    _check_dim(memory, "memory", 2)
    _check_size(len(weights), len(memory), "weights need one entry per memory row")
    return weights @ memory


def ntm_write(memory, weights, erase, add) -> np.ndarray:
    """NTM write: M_i <- M_i * (1 - w_i e) + w_i a, erase e in [0, 1]^M, add a: (M,). Returns a copy."""
    memory, weights = as_float_array(memory, "memory"), _check_weights(weights, "weights")
    erase, add = as_float_array(erase, "erase"), as_float_array(add, "add")
    _check_dim(memory, "memory", 2)
    _check_size(len(weights), len(memory), "weights need one entry per memory row")
    for a, name in ((erase, "erase"), (add, "add")):
        if a.shape != (memory.shape[1],):
            raise ValueError(f"{name} must have shape ({memory.shape[1]},), got {a.shape}")
    if erase.min(initial=0.0) < 0 or erase.max(initial=0.0) > 1:
        raise ValueError("erase must lie in [0, 1]")
    w = weights[:, None]
    return memory * (1 - w * erase) + w * add


def _check_weights(weights, name: str) -> np.ndarray:
    weights = as_float_array(weights, name)
    _check_dim(weights, name, 1)
    if weights.size == 0 or weights.min() < 0 or abs(weights.sum() - 1) > 1e-6:
        raise ValueError(f"{name} must be non-negative and sum to 1, got sum {weights.sum():.6g}")
    return weights


def plot_attention_saturation(d_k: int, scaling: str = "1/sqrt(d_k)", n_keys: int = 10,
                              seed: int = 0):
    """Histogram of the largest attention weight per query for random unit-variance q, k of width d_k.

    With the scale 1/sqrt(d_k) the scores keep variance 1 at every width; without it their variance is
    d_k and the softmax saturates (one weight near 1, gradients near 0).
    """
    import matplotlib.pyplot as plt

    d_k = check_positive_int(d_k, "d_k")
    scaling = check_choice(scaling, "scaling", ("1/sqrt(d_k)", "none"))
    rng = np.random.default_rng(seed)
    Q, K = rng.normal(size=(400, d_k)), rng.normal(size=(n_keys, d_k))
    scores = Q @ K.T / (np.sqrt(d_k) if scaling != "none" else 1.0)
    top = softmax(scores).max(axis=1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(top, bins=np.linspace(0, 1, 21), color="#1f77b4", edgecolor="black", label="400 queries")
    ax.axvline(1 / n_keys, color="#d62728", ls="--", label=f"uniform 1/{n_keys}")
    ax.set(xlabel="largest attention weight of a query", ylabel="number of queries", xlim=(0, 1),
           title=f"d_k = {d_k}, scale {scaling}: score std {scores.std():.1f}")
    ax.legend(loc="upper center")
    fig.tight_layout()
    return fig
