"""Recurrent networks from scratch in NumPy: windows, the Elman RNN, BPTT, LSTM and GRU cells.

Shapes follow PyTorch (``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` with ``batch_first=False``): a sequence is
``x: (T, N, I)`` (time, batch, input features), a state ``h: (N, H)``. The weights are PyTorch's too,
``W_ih: (G*H, I)``, ``W_hh: (G*H, H)`` and two biases ``b_ih, b_hh: (G*H,)``, with G = 1 (RNN),
4 (LSTM, gates in the order i, f, g, o) or 3 (GRU, r, z, n), so that a test can copy the weights of a
``torch.nn`` module into these functions and compare every number.
"""
from __future__ import annotations

import numpy as np

from .validation import as_float_array, check_choice, check_float, check_int, check_positive_int

Params = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-a), computed without overflow for large |a|."""
    a = as_float_array(a, "a")
    return np.exp(-np.logaddexp(0.0, -a))


def windows(series, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autoregressive training pairs of a series: inputs (x_{t-p}, ..., x_{t-1}) and target x_t.

    series: (L,); returns X: (L - p, p) with row t = series[t : t + p] and y: (L - p,) = series[p:].
    """
    series = as_float_array(series, "series", ndim=1)
    order = check_positive_int(order, "order")
    if order >= len(series):
        raise ValueError(f"order must be smaller than the series length {len(series)}, got {order}")
    X = np.lib.stride_tricks.sliding_window_view(series, order)[:-1]  # (L - p, p)
    return np.ascontiguousarray(X), series[order:].copy()


def _check_sequence(x, name: str = "x") -> np.ndarray:
    x = as_float_array(x, name, ndim=3)
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{name} must have shape (T, N, I) with N >= 1 and I >= 1, got shape {x.shape}")
    return x


def _check_params(W_ih, W_hh, b_ih, b_hh, kind: str, n_in: int) -> Params:
    """Validate PyTorch-layout weights of one layer of ``kind``; returns float64 copies."""
    gates = _GATES[kind]
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    hidden = W_hh.shape[1]
    if hidden == 0 or W_hh.shape[0] != gates * hidden:
        raise ValueError(f"W_hh must have shape ({gates}*H, H) = (G*H, H) for a {kind} layer, got {W_hh.shape}")
    W_ih = as_float_array(W_ih, "W_ih", shape=(gates * hidden, n_in))
    b_ih = as_float_array(b_ih, "b_ih", shape=(gates * hidden,))
    b_hh = as_float_array(b_hh, "b_hh", shape=(gates * hidden,))
    return W_ih, W_hh, b_ih, b_hh


def _check_state(h, name: str, n: int, hidden: int) -> np.ndarray:
    if h is None:
        return np.zeros((n, hidden))
    return as_float_array(h, name, shape=(n, hidden))


def _rnn_layer(x: np.ndarray, h: np.ndarray, params: Params, activation: str) -> np.ndarray:
    W_ih, W_hh, b_ih, b_hh = params
    phi = np.tanh if activation == "tanh" else (lambda a: np.maximum(a, 0.0))
    states = []
    for x_t in x:
        h = phi(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return np.stack(states) if states else np.zeros((0,) + h.shape)


def rnn_forward(x, W_ih, W_hh, b_ih, b_hh, h0=None, activation: str = "tanh") -> np.ndarray:
    """The states of an Elman RNN over a sequence: h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    x: (T, N, I), W_ih: (H, I), W_hh: (H, H), biases (H,), h0: (N, H) (zeros when None);
    returns H: (T, N, H), the state after each step (``nn.RNN``'s ``output``).
    """
    x = _check_sequence(x)
    params = _check_params(W_ih, W_hh, b_ih, b_hh, "rnn", x.shape[2])
    activation = check_choice(activation, "activation", ("tanh", "relu"))
    h = _check_state(h0, "h0", x.shape[1], params[1].shape[1])
    return _rnn_layer(x, h, params, activation)


def stacked_rnn_forward(x, layers: list, h0=None) -> np.ndarray:
    """A stack of tanh RNN layers: layer l reads the states of layer l - 1 as its input sequence.

    layers: a list of (W_ih, W_hh, b_ih, b_hh), one per layer; h0: (L, N, H) or None.
    Returns the top layer's states (T, N, H), as ``nn.RNN(num_layers=L)``.
    """
    x = _check_sequence(x)
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"layers must be a non-empty list of (W_ih, W_hh, b_ih, b_hh), got {layers!r:.60}")
    out = x
    for depth, weights in enumerate(layers):
        if not isinstance(weights, (list, tuple)) or len(weights) != 4:
            raise ValueError(f"layers[{depth}] must be a tuple (W_ih, W_hh, b_ih, b_hh)")
        params = _check_params(*weights, "rnn", out.shape[2])
        hidden = params[1].shape[1]
        h = None if h0 is None else as_float_array(h0, "h0", shape=(len(layers), x.shape[1], hidden))[depth]
        out = _rnn_layer(out, _check_state(h, "h0", x.shape[1], hidden), params, "tanh")
    return out


def bidirectional_rnn_forward(x, forward_params: tuple, backward_params: tuple) -> np.ndarray:
    """A bidirectional tanh RNN: one RNN reads x_1..x_T, another x_T..x_1; their states are concatenated.

    Returns (T, N, 2H) with [h_t forward, h_t backward] at step t, as ``nn.RNN(bidirectional=True)``.
    """
    x = _check_sequence(x)
    forward = rnn_forward(x, *forward_params)
    backward = rnn_forward(x[::-1], *backward_params)[::-1]  # reversed back: row t saw x_t..x_T
    return np.concatenate([forward, backward], axis=2)


def scalar_rnn_bptt(x, w: float, u: float, h0: float = 0.0) -> dict:
    """Backpropagation through time for the scalar linear RNN h_t = w h_{t-1} + u x_t.

    x: (T,). Walks back from t = T with the adjoint a_t = dh_T/dh_t (a_T = 1, a_{t-1} = w a_t), adding
    each step's local derivatives: dh_T/dw = sum_t a_t h_{t-1}, dh_T/du = sum_t a_t x_t, and
    dh_T/dh_0 = a_0 = w^T. Returns {"h": (T + 1,) states h_0..h_T, "dh_dh0", "dh_dw", "dh_du"}.
    """
    x = as_float_array(x, "x", ndim=1)
    w, u, h0 = check_float(w, "w"), check_float(u, "u"), check_float(h0, "h0")
    h = np.empty(len(x) + 1)
    h[0] = h0
    for t, x_t in enumerate(x, start=1):
        h[t] = w * h[t - 1] + u * x_t
    adjoint, dh_dw, dh_du = 1.0, 0.0, 0.0
    for t in range(len(x), 0, -1):
        dh_dw += adjoint * h[t - 1]
        dh_du += adjoint * x[t - 1]
        adjoint *= w  # dh_T/dh_{t-1} = dh_T/dh_t * dh_t/dh_{t-1}
    return {"h": h, "dh_dh0": adjoint, "dh_dw": dh_dw, "dh_du": dh_du}


def state_jacobian_norms(x, W_ih, W_hh, b_ih, b_hh, h0=None) -> np.ndarray:
    """Spectral norms ||dh_T/dh_k||_2 for k = 0..T of a tanh RNN on one sequence (N = 1).

    dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh, and dh_T/dh_k is the product of these T - k factors.
    Returns (T + 1,), entry k; entry T is ||I|| = 1.
    """
    x = _check_sequence(x)
    if x.shape[1] != 1:
        raise ValueError(f"x must hold one sequence, shape (T, 1, I), got shape {x.shape}")
    states = rnn_forward(x, W_ih, W_hh, b_ih, b_hh, h0)[:, 0]  # (T, H)
    W_hh = np.asarray(W_hh, dtype=float)
    product, norms = np.eye(W_hh.shape[0]), [1.0]
    for h_t in states[::-1]:
        product = product @ ((1 - h_t**2)[:, None] * W_hh)  # dh_T/dh_{t-1}
        norms.append(np.linalg.norm(product, 2))
    return np.array(norms[::-1])


def vanishing_bound(W_hh, steps: int, gamma_h: float = 1.0) -> np.ndarray:
    """The bound ||dh_t/dh_k|| <= (gamma_w gamma_h)^(t - k) for t - k = 0..steps.

    gamma_w = ||W_hh||_2 (the largest singular value), gamma_h = max |phi'| (1 for tanh, 1/4 for the
    logistic function). Returns (steps + 1,), entry j = (gamma_w gamma_h)^j.
    """
    W_hh = as_float_array(W_hh, "W_hh", ndim=2)
    if W_hh.shape[0] != W_hh.shape[1] or W_hh.size == 0:
        raise ValueError(f"W_hh must be a non-empty square matrix, got shape {W_hh.shape}")
    steps = check_int(steps, "steps", minimum=0)
    gamma_h = check_float(gamma_h, "gamma_h", minimum=0.0)
    return (np.linalg.norm(W_hh, 2) * gamma_h) ** np.arange(steps + 1)


def _check_cell(x, h, W_ih, W_hh, b_ih, b_hh, kind: str):
    x = as_float_array(x, "x", ndim=2)
    params = _check_params(W_ih, W_hh, b_ih, b_hh, kind, x.shape[1])
    return x, _check_state(h, "h", x.shape[0], params[1].shape[1]), params


def _lstm_step(x, h, c, params: Params):
    W_ih, W_hh, b_ih, b_hh = params
    i, f, g, o = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)  # PyTorch's order
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c + i * g  # the cell: keep a share f of the old memory, write the share i of g
    return o * np.tanh(c), c, {"i": i, "f": f, "g": g, "o": o}


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh, return_gates: bool = False):
    """One LSTM step (PyTorch's ``nn.LSTMCell``), gates in the order i, f, g, o.

    [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh, split in four; i, f, o pass a logistic, g a tanh;
    s' = f * s + i * g (the memory cell ``c``), h' = o * tanh(s'). x: (N, I), h, c: (N, H) (zeros when
    None), W_ih: (4H, I), W_hh: (4H, H), biases (4H,). Returns (h', c'), plus the gates when asked.
    """
    x, h, params = _check_cell(x, h, W_ih, W_hh, b_ih, b_hh, "lstm")
    c = _check_state(c, "c", *h.shape)
    h, c, gates = _lstm_step(x, h, c, params)
    return (h, c, gates) if return_gates else (h, c)


def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, h0=None, c0=None):
    """An LSTM layer over a sequence: ``lstm_cell`` at every step. x: (T, N, I).

    Returns (H, (h_T, c_T)) with H: (T, N, H), the shapes of ``nn.LSTM``'s output (one layer).
    """
    x = _check_sequence(x)
    params = _check_params(W_ih, W_hh, b_ih, b_hh, "lstm", x.shape[2])
    h = _check_state(h0, "h0", x.shape[1], params[1].shape[1])
    c = _check_state(c0, "c0", *h.shape)
    states = []
    for x_t in x:
        h, c, _ = _lstm_step(x_t, h, c, params)
        states.append(h)
    return (np.stack(states) if states else np.zeros((0,) + h.shape)), (h, c)


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh) -> np.ndarray:
    """One GRU step (PyTorch's ``nn.GRUCell``), gates in the order r, z, n.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h' = (1 - z) * n + z * h. x: (N, I), h: (N, H), W_ih: (3H, I), W_hh: (3H, H), biases (3H,).
    """
    x, h, (W_ih, W_hh, b_ih, b_hh) = _check_cell(x, h, W_ih, W_hh, b_ih, b_hh, "gru")
    xr, xz, xn = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    hr, hz, hn = np.split(h @ W_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)  # the reset gate scales the recurrent part only, bias b_hn included
    return (1 - z) * n + z * h


def conv1d_time(x, weight, bias=None, dilation: int = 1, causal: bool = True) -> np.ndarray:
    """A 1-D convolution over time: y[n, o, t] = b_o + sum_{c, k} w[o, c, k] x[n, c, t + d k - pad].

    x: (N, C, T), weight: (O, C, K). ``causal``: pad d (K - 1) zeros on the left only, so y at t sees
    x up to t and the output keeps length T; otherwise no padding (length T - d (K - 1)).
    This is ``F.conv1d`` (a cross-correlation, as in PyTorch) after the padding.
    """
    x = as_float_array(x, "x", ndim=3)
    weight = as_float_array(weight, "weight", ndim=3)
    if weight.shape[1] != x.shape[1] or 0 in weight.shape:
        raise ValueError(f"weight must have shape (O, {x.shape[1]}, K) with O, K >= 1, got {weight.shape}")
    bias = np.zeros(weight.shape[0]) if bias is None else as_float_array(bias, "bias", shape=(weight.shape[0],))
    dilation = check_positive_int(dilation, "dilation")
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    span = dilation * (weight.shape[2] - 1)
    if causal:
        x = np.concatenate([np.zeros(x.shape[:2] + (span,)), x], axis=2)
    length = x.shape[2] - span
    if length < 0:
        raise ValueError(f"x must have at least {span + 1} time steps for this kernel, got {x.shape[2]}")
    taps = np.stack([x[:, :, k * dilation:k * dilation + length] for k in range(weight.shape[2])], -1)
    return np.einsum("nctk,ock->not", taps, weight) + bias[None, :, None]  # taps: (N, C, T', K)
