"""Property-based tests of chapter 10's from-scratch cells: any layout, dtype, scale and batch size gives
torch's answer; NaN is refused; empty sequences and batches of one work."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import rnn
from layouts import relayout

LAYOUTS = st.sampled_from(["C", "F", "transposed", "strided", "reversed", "list"])
DTYPES = st.sampled_from([np.float64, np.float32])
SCALES = st.sampled_from([1e-3, 1.0, 30.0])


def _cell_weights(cell):
    return [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), n_in=st.integers(1, 4), hidden=st.integers(1, 4), layout=LAYOUTS, dtype=DTYPES,
       scale=SCALES, seed=st.integers(0, 2**16))
def test_lstm_and_gru_cells_match_torch_for_any_layout_dtype_and_scale(n, n_in, hidden, layout, dtype, scale,
                                                                       seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x, h, c = ((rng.normal(size=s) * scale).astype(dtype) for s in ((n, n_in), (n, hidden), (n, hidden)))
    lstm, gru = torch.nn.LSTMCell(n_in, hidden).double(), torch.nn.GRUCell(n_in, hidden).double()
    tx, th, tc = (torch.tensor(a.astype(float)) for a in (x, h, c))
    h_ref, c_ref = lstm(tx, (th, tc))
    weights = [relayout(w, layout) for w in _cell_weights(lstm)]
    h_new, c_new = rnn.lstm_cell(relayout(x, layout), relayout(h, layout), relayout(c, layout), *weights)
    np.testing.assert_allclose(h_new, h_ref.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(c_new, c_ref.detach().numpy(), atol=1e-10 * scale)
    g_ref = gru(tx, th).detach().numpy()
    np.testing.assert_allclose(rnn.gru_cell(relayout(x, layout), relayout(h, layout), *_cell_weights(gru)),
                               g_ref, atol=1e-10 * max(scale, 1))


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(0, 6), n=st.integers(1, 3), layout=LAYOUTS, seed=st.integers(0, 2**16))
def test_rnn_and_lstm_sequences_match_torch_including_empty_ones(steps, n, layout, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x = rng.normal(size=(steps, n, 2))
    net, lstm = torch.nn.RNN(2, 3).double(), torch.nn.LSTM(2, 3).double()
    w_rnn = [getattr(net, f"{k}_l0").detach().numpy() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    w_lstm = [getattr(lstm, f"{k}_l0").detach().numpy() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    got = rnn.rnn_forward(relayout(x, layout) if steps else x, *w_rnn)
    out, _ = rnn.lstm_forward(x, *w_lstm)
    assert got.shape == out.shape == (steps, n, 3)
    if steps:
        np.testing.assert_allclose(got, net(torch.tensor(x))[0].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(out, lstm(torch.tensor(x))[0].detach().numpy(), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(0, 15), w=st.floats(-1.5, 1.5), u=st.floats(-2, 2), seed=st.integers(0, 2**16))
def test_scalar_bptt_gradient_to_the_first_state_is_w_to_the_t(steps, w, u, seed):
    x = np.random.default_rng(seed).normal(size=steps)
    out = rnn.scalar_rnn_bptt(x, w, u)
    assert out["dh_dh0"] == pytest.approx(w ** steps, rel=1e-12, abs=1e-300)
    assert out["h"].shape == (steps + 1,)


@settings(max_examples=25, deadline=None)
@given(length=st.integers(6, 20), kernel=st.integers(1, 4), layout=LAYOUTS, dtype=DTYPES,
       seed=st.integers(0, 2**16))
def test_conv1d_time_matches_torch_for_any_layout(length, kernel, layout, dtype, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(2, 3, length)).astype(dtype), rng.normal(size=(2, 3, kernel)).astype(dtype)
    expected = torch.nn.functional.conv1d(torch.tensor(x.astype(float)), torch.tensor(w.astype(float))).numpy()
    got = rnn.conv1d_time(relayout(x, layout), relayout(w, layout), causal=False)
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("fn, args", [
    (rnn.lstm_cell, lambda: ([[np.nan]], None, None, *[np.zeros(s) for s in ((4, 1), (4, 1), (4,), (4,))])),
    (rnn.gru_cell, lambda: ([[np.inf]], None, *[np.zeros(s) for s in ((3, 1), (3, 1), (3,), (3,))])),
    (rnn.scalar_rnn_bptt, lambda: ([1.0, np.nan], 0.5, 1.0)),
])
def test_nan_and_infinity_are_refused(fn, args):
    with pytest.raises(ValueError, match="finite"):
        fn(*args())
