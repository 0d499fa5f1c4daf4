"""Diagrams of chapter 12 drawn with matplotlib: an encoder-decoder step with attention, multi-head
attention, and a transformer block (pre- or post-norm)."""
from __future__ import annotations

import numpy as np

from .validation import check_int

_BLUE, _ORANGE, _GREEN, _GREY = "#c6dbef", "#fdd0a2", "#c7e9c0", "#eeeeee"


def _box(ax, x, y, text, colour, w=0.9, h=0.5):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=colour,
                                ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end, width=1.0, colour="black"):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=width, color=colour))


def _check_ax(ax):
    if not hasattr(ax, "add_patch"):
        raise ValueError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def draw_encoder_decoder_attention(ax, n_source: int = 5, seed: int = 0):
    """Encoder states h_1..h_T, their weights alpha_tj (arrow widths), the context c_t, a decoder step."""
    ax, n = _check_ax(ax), check_int(n_source, "n_source", minimum=2, maximum=10)
    alpha = np.exp(np.random.default_rng(check_int(seed, "seed", minimum=0)).normal(size=n) * 1.5)
    alpha /= alpha.sum()
    for j in range(n):
        _box(ax, j, 0, f"$h_{j + 1}$", _BLUE, w=0.7)
        _box(ax, j, -1, f"$x_{j + 1}$", _GREY, w=0.7)
        _arrow(ax, (j, -0.72), (j, -0.27))
        if j:
            _arrow(ax, (j - 0.63, 0), (j - 0.37, 0))
        _arrow(ax, (j, 0.27), (n / 2, 1.73), width=0.5 + 6 * alpha[j], colour="#08519c")
        ax.text(j + 0.08, 0.45, f"α={alpha[j]:.2f}", fontsize=8)
    _box(ax, n / 2, 2, r"$c_t = \sum_j \alpha_{tj} h_j$", _ORANGE, w=1.8)
    _box(ax, n + 1.5, 2, "$s_t = f(s_{t-1}, y_{t-1}, c_t)$", _GREEN, w=2.2)
    _arrow(ax, (n / 2 + 0.93, 2), (n + 0.37, 2))
    _box(ax, n + 1.5, 0.6, "$s_{t-1}$ (scores $e_{tj}$)", _GREEN, w=1.8)
    _arrow(ax, (n + 1.5, 0.87), (n + 1.5, 1.73))
    _box(ax, n + 1.5, 3.2, "$y_t$", _GREY, w=0.7)
    _arrow(ax, (n + 1.5, 2.27), (n + 1.5, 2.93))
    ax.set(xlim=(-0.7, n + 3), ylim=(-1.5, 3.7), title="one decoder step with attention")
    ax.axis("off")
    return ax


def draw_multi_head(ax, n_heads: int = 3):
    """Q, K, V projected per head, scaled dot-product attention per head, concatenation and W_O."""
    ax, h = _check_ax(ax), check_int(n_heads, "n_heads", minimum=1, maximum=6)
    for x, name in zip((1, 2.5, 4), ("Q", "K", "V")):
        _box(ax, x, 0, name, _GREY, w=0.7)
    for i in range(h):
        x = 0.8 + i * 3.6 / max(h - 1, 1) if h > 1 else 2.5
        _box(ax, x, 1.3, f"linear $W^Q_{i + 1}, W^K_{i + 1}, W^V_{i + 1}$", _BLUE, w=1.15)
        _box(ax, x, 2.5, f"Att, head {i + 1}", _ORANGE, w=1.15)
        for src in (1, 2.5, 4):
            _arrow(ax, (src, 0.27), (x, 1.03), width=0.5)
        _arrow(ax, (x, 1.57), (x, 2.23))
        _arrow(ax, (x, 2.77), (2.5, 3.43))
    _box(ax, 2.5, 3.7, "concatenate", _GREEN, w=1.6)
    _box(ax, 2.5, 4.7, "linear $W^O$", _BLUE, w=1.6)
    _arrow(ax, (2.5, 3.97), (2.5, 4.43))
    ax.set(xlim=(-0.2, 5.2), ylim=(-0.5, 5.2), title=f"multi-head attention, {h} heads")
    ax.axis("off")
    return ax


def draw_transformer_block(ax, norm_first: bool = True):
    """An encoder block and a decoder block side by side, with residuals; pre- or post-norm."""
    ax = _check_ax(ax)
    if not isinstance(norm_first, bool):
        raise ValueError(f"norm_first must be True or False, got {norm_first!r}")
    encoder = ["self-attention", "feed-forward"]
    decoder = ["masked self-attention", "cross-attention", "feed-forward"]
    for x, layers, name in ((0, encoder, "encoder block"), (3.6, decoder, "decoder block")):
        y = 0.0
        for layer in layers:
            norm = "LayerNorm, then " if norm_first else ""
            after = "" if norm_first else ", then LayerNorm"
            _box(ax, x, y + 0.6, f"{norm}{layer}\n+ residual{after}", _ORANGE if "att" in layer
                 else _BLUE, w=3.0, h=0.7)
            _arrow(ax, (x, y), (x, y + 0.25))
            y += 1.2
        ax.text(x, y + 0.1, name, ha="center", fontsize=10, weight="bold")
    _arrow(ax, (1.5, 1.8), (2.1, 1.8), colour="#08519c")
    ax.text(1.8, 1.35, "encoder output:\nkeys, values", fontsize=7, color="#08519c", ha="center")
    ax.set(xlim=(-1.7, 5.3), ylim=(-0.3, 4.3),
           title="pre-norm blocks" if norm_first else "post-norm blocks")
    ax.axis("off")
    return ax
