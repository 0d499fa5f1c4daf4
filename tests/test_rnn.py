"""Chapter 10's from-scratch recurrent networks against torch.nn with copied weights, autograd and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bad_input_table import table_tests
from dlcourse import rnn

RNG = np.random.default_rng(0)


def _weights(module, suffix="_l0"):
    return tuple(getattr(module, f"{name}{suffix}").detach().numpy()
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def _cell_weights(cell):
    return tuple(p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))


def test_windows_pair_each_target_with_the_p_values_before_it():
    X, y = rnn.windows([1.0, 2.0, 3.0, 4.0, 5.0], 2)
    np.testing.assert_array_equal(X, [[1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5])
    ar = np.zeros(40)  # an AR(2) process is recovered exactly from its windows
    ar[:2] = [1.0, 0.5]
    for t in range(2, 40):
        ar[t] = 0.6 * ar[t - 1] - 0.3 * ar[t - 2]
    X, y = rnn.windows(ar, 2)
    np.testing.assert_allclose(np.linalg.lstsq(X, y, rcond=None)[0], [-0.3, 0.6], atol=1e-10)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_forward_matches_nn_rnn_with_copied_weights(activation):
    torch.manual_seed(0)
    net = torch.nn.RNN(3, 5, nonlinearity=activation).double()
    x, h0 = RNG.normal(size=(7, 4, 3)), RNG.normal(size=(4, 5))
    expected, h_last = net(torch.tensor(x), torch.tensor(h0)[None])
    got = rnn.rnn_forward(x, *_weights(net), h0=h0, activation=activation)
    np.testing.assert_allclose(got, expected.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(got[-1], h_last[0].detach().numpy(), atol=1e-12)


def test_stacked_and_bidirectional_rnns_match_torch():
    torch.manual_seed(1)
    x = RNG.normal(size=(6, 2, 3))
    deep = torch.nn.RNN(3, 4, num_layers=3).double()
    layers = [_weights(deep, f"_l{k}") for k in range(3)]
    h0 = RNG.normal(size=(3, 2, 4))
    np.testing.assert_allclose(rnn.stacked_rnn_forward(x, layers, h0),
                               deep(torch.tensor(x), torch.tensor(h0))[0].detach().numpy(), atol=1e-12)
    both = torch.nn.RNN(3, 4, bidirectional=True).double()
    got = rnn.bidirectional_rnn_forward(x, _weights(both), _weights(both, "_l0_reverse"))
    np.testing.assert_allclose(got, both(torch.tensor(x))[0].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("w", [0.9, -1.1, 0.5])
def test_scalar_bptt_gives_w_to_the_t_and_matches_autograd(w):
    x = RNG.normal(size=12)
    out = rnn.scalar_rnn_bptt(x, w, 0.7, h0=0.3)
    assert out["dh_dh0"] == pytest.approx(w ** 12, rel=1e-12)
    wt, ut, h0 = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w, 0.7, 0.3))
    h = h0
    for x_t in torch.tensor(x):
        h = wt * h + ut * x_t
    h.backward()
    assert out["h"][-1] == pytest.approx(h.item(), rel=1e-12)
    assert out["dh_dw"] == pytest.approx(wt.grad.item(), rel=1e-10, abs=1e-12)
    assert out["dh_du"] == pytest.approx(ut.grad.item(), rel=1e-10, abs=1e-12)
    assert out["dh_dh0"] == pytest.approx(h0.grad.item(), rel=1e-10)


def test_state_jacobian_norms_match_autograd_and_respect_the_bound():
    torch.manual_seed(2)
    net = torch.nn.RNN(2, 4).double()
    with torch.no_grad():
        net.weight_hh_l0.mul_(0.5)
    params = _weights(net)
    x = RNG.normal(size=(10, 1, 2))
    norms = rnn.state_jacobian_norms(x, *params)
    for k in (0, 4, 9):
        h_k = torch.tensor(rnn.rnn_forward(x[:k], *params)[-1] if k else np.zeros((1, 4)), requires_grad=True)
        h_T = net(torch.tensor(x[k:]), h_k[None])[0][-1, 0]
        jac = torch.autograd.functional.jacobian(lambda h: net(torch.tensor(x[k:]), h[None])[0][-1, 0], h_k)
        assert norms[k] == pytest.approx(np.linalg.norm(jac[:, 0].numpy(), 2), rel=1e-10)
        assert h_T.shape == (4,)
    bound = rnn.vanishing_bound(params[1], 10)
    assert np.all(norms <= bound[::-1] * (1 + 1e-12))
    np.testing.assert_allclose(bound, np.linalg.norm(params[1], 2) ** np.arange(11))
    assert rnn.vanishing_bound(np.eye(2), 3, gamma_h=0.25)[3] == pytest.approx(0.25 ** 3)


def test_lstm_cell_matches_nn_lstmcell_and_its_gates_follow_pytorch_order():
    torch.manual_seed(3)
    cell = torch.nn.LSTMCell(3, 5).double()
    x, h, c = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    h_ref, c_ref = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    h_new, c_new, gates = rnn.lstm_cell(x, h, c, *_cell_weights(cell), return_gates=True)
    np.testing.assert_allclose(h_new, h_ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_new, c_ref.detach().numpy(), atol=1e-12)
    W_ih, W_hh, b_ih, b_hh = _cell_weights(cell)
    pre_f = x @ W_ih[5:10].T + b_ih[5:10] + h @ W_hh[5:10].T + b_hh[5:10]  # the second block is f
    np.testing.assert_allclose(gates["f"], 1 / (1 + np.exp(-pre_f)), atol=1e-12)
    np.testing.assert_allclose(c_new, gates["f"] * c + gates["i"] * gates["g"], atol=1e-12)


def test_lstm_memory_derivative_along_the_cell_is_the_forget_gate():
    torch.manual_seed(4)
    cell = torch.nn.LSTMCell(2, 3).double()
    x, h = torch.tensor(RNG.normal(size=(1, 2))), torch.tensor(RNG.normal(size=(1, 3)))
    c = torch.tensor(RNG.normal(size=(1, 3)), requires_grad=True)
    _, c_new = cell(x, (h, c))
    jac = torch.autograd.functional.jacobian(lambda s: cell(x, (h, s))[1], c)[0, :, 0]
    _, _, gates = rnn.lstm_cell(x.numpy(), h.numpy(), c.detach().numpy(), *_cell_weights(cell), return_gates=True)
    np.testing.assert_allclose(jac.numpy(), np.diag(gates["f"][0]), atol=1e-12)
    assert c_new.shape == (1, 3)


def test_lstm_forward_matches_nn_lstm_over_a_sequence():
    torch.manual_seed(5)
    net = torch.nn.LSTM(3, 4).double()
    x, h0, c0 = RNG.normal(size=(9, 2, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=(2, 4))
    out, (h_T, c_T) = net(torch.tensor(x), (torch.tensor(h0)[None], torch.tensor(c0)[None]))
    got, (h, c) = rnn.lstm_forward(x, *_weights(net), h0=h0, c0=c0)
    np.testing.assert_allclose(got, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h, h_T[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c, c_T[0].detach().numpy(), atol=1e-12)


def test_gru_cell_matches_nn_grucell():
    torch.manual_seed(6)
    cell = torch.nn.GRUCell(3, 4).double()
    x, h = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 4))
    expected = cell(torch.tensor(x), torch.tensor(h)).detach().numpy()
    np.testing.assert_allclose(rnn.gru_cell(x, h, *_cell_weights(cell)), expected, atol=1e-12)


@pytest.mark.parametrize("dilation", [1, 2])
def test_conv1d_time_matches_f_conv1d_causal_and_valid(dilation):
    x, w, b = RNG.normal(size=(2, 3, 11)), RNG.normal(size=(4, 3, 3)), RNG.normal(size=4)
    tx, tw, tb = (torch.tensor(a) for a in (x, w, b))
    valid = torch.nn.functional.conv1d(tx, tw, tb, dilation=dilation).numpy()
    np.testing.assert_allclose(rnn.conv1d_time(x, w, b, dilation, causal=False), valid, atol=1e-12)
    padded = torch.nn.functional.pad(tx, (2 * dilation, 0))
    causal = torch.nn.functional.conv1d(padded, tw, tb, dilation=dilation).numpy()
    got = rnn.conv1d_time(x, w, b, dilation)
    np.testing.assert_allclose(got, causal, atol=1e-12)
    x_future = x.copy()
    x_future[:, :, 6:] = 0.0  # causal: the output up to t = 5 cannot see later inputs
    np.testing.assert_allclose(rnn.conv1d_time(x_future, w, b, dilation)[:, :, :6], got[:, :, :6], atol=1e-12)


def test_sigmoid_is_stable_for_large_arguments():
    np.testing.assert_allclose(rnn.sigmoid([-800.0, 0.0, 800.0]), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(rnn.sigmoid([1.5]), torch.sigmoid(torch.tensor([1.5], dtype=torch.float64)).numpy())


_X, _H = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(2, 5))
_R = tuple(RNG.normal(size=s) for s in ((5, 3), (5, 5), (5,), (5,)))
_L = tuple(RNG.normal(size=s) for s in ((20, 3), (20, 5), (20,), (20,)))
_G = tuple(RNG.normal(size=s) for s in ((15, 3), (15, 5), (15,), (15,)))
_BAD = [np.array([[[True]]]), np.array([[[np.nan, 1.0, 1.0]]]), np.zeros((4, 3)), "x"]
_W = dict(zip(("W_ih", "W_hh", "b_ih", "b_hh"), _R))
_WL = dict(zip(("W_ih", "W_hh", "b_ih", "b_hh"), _L))
_WG = dict(zip(("W_ih", "W_hh", "b_ih", "b_hh"), _G))
TABLE = {
    "sigmoid": (rnn.sigmoid, {"a": [0.0]}, {"a": [[True], [np.nan], "a"]}),
    "windows": (rnn.windows, {"series": [1.0, 2.0, 3.0], "order": 2},
                {"series": [[[1.0, 2.0]], [np.nan, 1.0, 2.0], [True, False, True]], "order": [0, 3, 1.5, True]}),
    "rnn_forward": (rnn.rnn_forward, {"x": _X, **_W},
                    {"x": _BAD, "W_ih": [np.zeros((5, 2))], "W_hh": [np.zeros((5, 4)), np.zeros((0, 0))],
                     "b_ih": [np.zeros(4)], "h0": [np.zeros((3, 5))], "activation": ["sigmoid"]}),
    "stacked_rnn_forward": (rnn.stacked_rnn_forward, {"x": _X, "layers": [_R, (_R[0][:, :3] @ np.zeros((3, 5)),
                                                                          *_R[1:])]},
                            {"layers": [[], [_R[:3]], "rnn"], "h0": [np.zeros((1, 2, 5))], "x": _BAD}),
    "bidirectional_rnn_forward": (rnn.bidirectional_rnn_forward,
                                  {"x": _X, "forward_params": _R, "backward_params": _R},
                                  {"x": _BAD, "backward_params": [_L]}),
    "scalar_rnn_bptt": (rnn.scalar_rnn_bptt, {"x": [1.0, 2.0], "w": 0.5, "u": 1.0},
                        {"x": [[[1.0]], [np.nan]], "w": [True, np.nan, "0.5"], "u": [None], "h0": [np.inf]}),
    "state_jacobian_norms": (rnn.state_jacobian_norms, {"x": _X[:, :1], **_W},
                             {"x": [_X, *_BAD], "W_hh": [np.zeros((5, 3))]}),
    "vanishing_bound": (rnn.vanishing_bound, {"W_hh": np.eye(3), "steps": 4},
                        {"W_hh": [np.zeros((2, 3)), np.zeros((0, 0)), [[np.nan]]], "steps": [-1, 2.5],
                         "gamma_h": [-0.1, np.nan]}),
    "lstm_cell": (rnn.lstm_cell, {"x": _X[0], "h": _H, "c": _H, **_WL},
                  {"x": [_X, np.zeros((2, 4))], "h": [np.zeros((3, 5))], "c": [np.zeros((2, 4)), [[np.inf] * 5] * 2],
                   "W_hh": [_R[1]], "b_hh": [np.zeros(5)]}),
    "lstm_forward": (rnn.lstm_forward, {"x": _X, **_WL},
                     {"x": _BAD, "W_ih": [_R[0]], "h0": [np.zeros((2, 4))], "c0": [np.zeros(5)]}),
    "gru_cell": (rnn.gru_cell, {"x": _X[0], "h": _H, **_WG},
                 {"x": [_X], "h": [np.zeros((2, 3))], "W_hh": [_L[1]], "b_ih": [np.zeros(20)]}),
    "conv1d_time": (rnn.conv1d_time, {"x": np.zeros((1, 2, 5)), "weight": np.zeros((3, 2, 2))},
                    {"x": [np.zeros((2, 5)), np.full((1, 2, 5), np.nan)], "weight": [np.zeros((3, 1, 2)),
                                                                                     np.zeros((3, 2, 0))],
                     "bias": [np.zeros(2)], "dilation": [0, 1.5], "causal": [1, "yes"]}),
}
globals().update(table_tests(TABLE, [rnn]))


def test_valid_convolution_with_too_long_a_kernel_is_refused():
    with pytest.raises(ValueError, match="at least 5 time steps"):
        rnn.conv1d_time(np.zeros((1, 1, 3)), np.zeros((1, 1, 5)), causal=False)
