"""Chapter 12's from-scratch attention against independent references: the curriculum's worked value,
torch.nn.functional.scaled_dot_product_attention, nn.MultiheadAttention with copied weights, autograd
formulas written in torch, and closed forms for the positional encoding and the NTM memory."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from bad_input_table import table_tests  # noqa: E402
from dlcourse import attention as att  # noqa: E402
from dlcourse import attention_diagrams  # noqa: E402


def test_scaled_dot_product_attention_reproduces_the_worked_value():
    out, w = att.scaled_dot_product_attention(np.eye(2), np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(w, [[0.669762, 0.330238], [0.330238, 0.669762]], atol=5e-7)
    a = 1 / (1 + np.exp(-1 / np.sqrt(2)))  # softmax(1/sqrt2, 0) in closed form
    np.testing.assert_allclose(out, [[a + 3 * (1 - a), 2 * a + 4 * (1 - a)],
                                     [(1 - a) + 3 * a, 2 * (1 - a) + 4 * a]], atol=1e-12)


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_scaled_dot_product_attention_matches_torch_with_causal_and_padding_masks(batch):
    rng = np.random.default_rng(1)
    Q, K, V = rng.normal(size=batch + (4, 3)), rng.normal(size=batch + (6, 3)), rng.normal(size=batch + (6, 5))
    mask = np.broadcast_to(np.tril(np.ones((4, 6), bool), k=1), batch + (4, 6)).copy()
    if batch:
        mask[..., 0, :] = np.arange(6) < 2  # padding-like row pattern
    out, w = att.scaled_dot_product_attention(Q, K, V, mask=mask)
    ref = F.scaled_dot_product_attention(*(torch.tensor(x) for x in (Q, K, V)), attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-12)
    assert np.all(w[~mask] == 0) and np.allclose(w.sum(-1), 1)


def test_a_fully_masked_query_row_is_refused_not_nan():
    with pytest.raises(ValueError, match="fully masked"):
        att.scaled_dot_product_attention(np.eye(2), np.eye(2), np.eye(2), mask=np.array([[True, True],
                                                                                      [False, False]]))


def test_causal_and_padding_masks_are_the_closed_forms():
    np.testing.assert_array_equal(att.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(att.padding_mask(np.array([1, 3]), 3), [[1, 0, 0], [1, 1, 1]])
    assert att.causal_mask(4).dtype == bool


@pytest.mark.parametrize("n_heads, with_masks", [(1, False), (2, True), (4, True)])
def test_multi_head_attention_matches_nn_multiheadattention_with_copied_weights(n_heads, with_masks):
    torch.manual_seed(n_heads)
    E = 8
    mha = torch.nn.MultiheadAttention(E, n_heads, batch_first=True).double()
    q, k = torch.randn(3, 4, E, dtype=torch.float64), torch.randn(3, 6, E, dtype=torch.float64)
    v = torch.randn(3, 6, E, dtype=torch.float64)
    key_mask = att.padding_mask(np.array([6, 2, 4]), 6) if with_masks else None
    mask = np.tril(np.ones((4, 6), bool), k=2) if with_masks else None
    kwargs = {"key_padding_mask": torch.tensor(~key_mask), "attn_mask": torch.tensor(~mask)} if with_masks else {}
    ref, ref_w = mha(q, k, v, **kwargs)
    params = [p.detach().numpy() for p in (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                           mha.out_proj.bias)]
    out, w = att.multi_head_attention(q.numpy(), k.numpy(), v.numpy(), *params, n_heads=n_heads,
                                      key_mask=key_mask, mask=mask)
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w, ref_w.detach().numpy(), atol=1e-12)


def test_additive_and_luong_scores_match_torch_formulas_and_attend_matches_softmax():
    rng = np.random.default_rng(2)
    H, s = rng.normal(size=(5, 4)), rng.normal(size=3)
    W1, W2, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=2)
    t = [torch.tensor(x) for x in (H, s, W1, W2, v)]
    expected = torch.stack([t[4] @ torch.tanh(t[2] @ t[1] + t[3] @ h) for h in t[0]])
    np.testing.assert_allclose(att.additive_scores(s, H, W1, W2, v), expected.numpy(), atol=1e-12)
    W = rng.normal(size=(3, 4))
    np.testing.assert_allclose(att.luong_scores(s, H, W), [s @ W @ h for h in H], atol=1e-12)
    np.testing.assert_allclose(att.luong_scores(H[0], H), H @ H[0], atol=1e-12)
    e = rng.normal(size=5)
    mask = np.array([True, False, True, True, False])
    alpha, c = att.attend(e, H, mask)
    ref = torch.softmax(torch.tensor(e).masked_fill(torch.tensor(~mask), -torch.inf), 0)
    np.testing.assert_allclose(alpha, ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(c, ref.numpy() @ H, atol=1e-12)


def test_sinusoidal_positional_encoding_is_the_closed_form_and_a_rotation_per_offset():
    pe = att.sinusoidal_positional_encoding(50, 6)
    for p in (0, 7, 49):
        for i in range(3):
            assert pe[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / 6)), abs=1e-12)
            assert pe[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / 6)), abs=1e-12)
    k, w = 5, 10000 ** (-2 / 6)  # PE_{p+k} is PE_p rotated by the angle k * w in the (sin, cos) pair 1
    rotation = np.array([[np.cos(k * w), -np.sin(k * w)], [np.sin(k * w), np.cos(k * w)]])
    np.testing.assert_allclose(pe[10:20, 2:4] @ rotation, pe[15:25, 2:4], atol=1e-12)
    assert att.sinusoidal_positional_encoding(3, 5).shape == (3, 5)


def test_ntm_read_and_write_are_the_closed_forms():
    M = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    w = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(att.ntm_read(M, w), [0.5 + 0.75, 0.5 + 0.75])
    erase, add = np.array([1.0, 0.0]), np.array([4.0, 8.0])
    new = att.ntm_write(M, w, erase, add)
    np.testing.assert_allclose(new, [[0.5 * 1 + 2, 0 + 4], [0 + 1, 2 + 2], [0.75 * 3 + 1, 3 + 2]])
    np.testing.assert_allclose(att.ntm_write(M, w, np.ones(2), add), (1 - w[:, None]) * M + w[:, None] * add)
    assert M[0, 0] == 1.0  # a copy, not in place


def test_ntm_content_weights_are_softmax_of_cosines_and_beta_limits():
    M = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    k = np.array([2.0, 0.0])
    cos = np.array([1.0, 1 / np.sqrt(2), 0.0])
    np.testing.assert_allclose(att.ntm_content_weights(M, k, 3.0), np.exp(3 * cos) / np.exp(3 * cos).sum())
    np.testing.assert_allclose(att.ntm_content_weights(M, k, 0.0), np.full(3, 1 / 3))
    assert att.ntm_content_weights(M, k, 200.0)[0] == pytest.approx(1.0)


def test_saturation_plot_shows_the_spread_and_the_diagrams_draw_their_boxes():
    fig = att.plot_attention_saturation(64, "none")
    assert "d_k = 64" in fig.axes[0].get_title()
    ax = plt.subplots()[1]
    assert len(attention_diagrams.draw_encoder_decoder_attention(ax, n_source=4).patches) == 4 * 2 + 4
    ax = plt.subplots()[1]
    assert len(attention_diagrams.draw_multi_head(ax, n_heads=2).patches) == 3 + 2 * 2 + 2
    ax = plt.subplots()[1]
    assert len(attention_diagrams.draw_transformer_block(ax, norm_first=False).patches) == 5
    plt.close("all")


_AX = plt.figure().add_subplot()  # stays usable after plt.close
_NAN = np.array([[np.nan, 1.0], [0.0, 1.0]])
_BOOL = np.ones((2, 2), bool)
_E, _EB = np.eye(2), np.zeros(6)
_H = np.ones((3, 2))
_M = np.array([[1.0, 0.0], [0.0, 1.0]])
_MHA = dict(query=np.ones((1, 2, 4)), key=np.ones((1, 3, 4)), value=np.ones((1, 3, 4)),
            in_proj_weight=np.ones((12, 4)), in_proj_bias=np.zeros(12), out_proj_weight=np.eye(4),
            out_proj_bias=np.zeros(4), n_heads=2)
TABLE = {
    "softmax": (att.softmax, {"scores": np.ones(3)}, {"scores": [np.array([np.nan, 1.0]), np.ones(0),
                                                                 np.array([-np.inf, -np.inf]), _BOOL]}),
    "additive_scores": (att.additive_scores, dict(s=np.ones(2), H=_H, W1=np.ones((3, 2)), W2=np.ones((3, 2)),
                                                  v=np.ones(3)),
                        {"s": [np.ones(3), _NAN], "H": [np.ones(3), _BOOL], "W2": [np.ones((2, 2))],
                         "v": [np.ones(2), "x"]}),
    "luong_scores": (att.luong_scores, {"h": np.ones(2), "H": _H},
                     {"h": [np.ones(3), _NAN], "H": [np.ones((3, 3)), np.ones(2)], "W": [np.ones((3, 3))]}),
    "attend": (att.attend, {"scores": np.ones(3), "H": _H},
               {"scores": [np.ones(2), _BOOL], "mask": [np.ones(3), np.array([True, False]),
                                                        np.zeros(3, bool)]}),
    "scaled_dot_product_attention": (att.scaled_dot_product_attention, {"Q": _E, "K": _E, "V": _E},
                                     {"Q": [np.ones(2), np.ones((2, 3)), _NAN, _BOOL], "V": [np.ones((3, 2))],
                                      "mask": [np.ones((2, 2)), np.ones((3, 3), bool)]}),
    "causal_mask": (att.causal_mask, {"n": 3}, {"n": [0, -1, 2.5, True, "3"]}),
    "padding_mask": (att.padding_mask, {"lengths": np.array([1, 2]), "max_len": 2},
                     {"lengths": [np.array([0, 1]), np.array([1, 3]), np.array([1.0, 2.0]), np.ones((2, 1), int)],
                      "max_len": [0, 1.5]}),
    "multi_head_attention": (att.multi_head_attention, _MHA,
                             {"query": [np.ones((2, 4)), np.ones((1, 2, 3))], "n_heads": [3, 0, True],
                              "key": [np.ones((2, 3, 4))], "in_proj_weight": [np.ones((4, 4))],
                              "out_proj_bias": [np.zeros(3)], "key_mask": [np.ones((1, 3)), np.ones((1, 2), bool)],
                              "mask": [np.ones((2, 2), bool), np.ones((2, 3))]}),
    "sinusoidal_positional_encoding": (att.sinusoidal_positional_encoding, {"n_positions": 4, "d_model": 4},
                                       {"n_positions": [0, 2.0], "d_model": [-2, None]}),
    "ntm_content_weights": (att.ntm_content_weights, {"memory": _M, "key": np.ones(2), "beta": 1.0},
                            {"memory": [np.zeros((2, 2)), np.ones(2)], "key": [np.zeros(2), np.ones(3)],
                             "beta": [-1.0, np.inf, True, "1"]}),
    "ntm_read": (att.ntm_read, {"memory": _M, "weights": np.array([0.5, 0.5])},
                 {"weights": [np.array([0.7, 0.7]), np.array([1.5, -0.5]), np.ones(3) / 3, _BOOL[0]]}),
    "ntm_write": (att.ntm_write, {"memory": _M, "weights": np.array([0.5, 0.5]), "erase": np.ones(2),
                                  "add": np.ones(2)},
                  {"erase": [np.full(2, 1.5), np.ones(3)], "add": [np.ones(3), np.array([np.nan, 1.0])],
                   "weights": [np.array([1.0, 1.0])]}),
    "plot_attention_saturation": (att.plot_attention_saturation, {"d_k": 4},
                                  {"d_k": [0, 1.5], "scaling": ["sqrt", 1]}),
    "draw_encoder_decoder_attention": (attention_diagrams.draw_encoder_decoder_attention,
                                       {"ax": _AX, "n_source": 3}, {"n_source": [1, 11, 2.0], "ax": ["x"]}),
    "draw_multi_head": (attention_diagrams.draw_multi_head, {"ax": _AX}, {"n_heads": [0, 7], "ax": [3]}),
    "draw_transformer_block": (attention_diagrams.draw_transformer_block, {"ax": _AX},
                               {"norm_first": [1, "yes"], "ax": [None, 1.0]}),
}
globals().update(table_tests(TABLE, [att, attention_diagrams], cleanup=lambda: plt.close("all")))
