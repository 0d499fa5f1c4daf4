"""Chapter 10's drawings: an RNN unrolled through time, the LSTM cell, and the Jordan / Elman lineage.

Artists carry a ``gid``: "input", "state", "output" and "gate" for boxes, "arrow" for arrows (a
recurrent arrow also has gid "recurrent"), so tests can count what a drawing holds.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import numpy as np

from .diagrams import HIDDEN_COLOUR, INPUT_COLOUR, OUTPUT_COLOUR
from .rnn import state_jacobian_norms, vanishing_bound
from .validation import check_axes, check_choice, check_int, check_positive

GATE_COLOUR, CELL_COLOUR = "#fde0c5", "#d9f0d3"


def _box(ax, x, y, text, colour, gid, width=0.9, height=0.6, fontsize=10):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
                                facecolor=colour, edgecolor="black", gid=gid))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, a, b, gid="arrow", **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=11, color="black", gid=gid, **kw))


def _loop(ax, corners, head):
    """A recurrent connection drawn as straight segments through ``corners``, ending in an arrow at head."""
    xs, ys = zip(*corners)
    ax.plot(xs, ys, color="black", lw=1)
    _arrow(ax, corners[-1], head, gid="recurrent")


def _axes(ax, figsize):
    if check_axes(ax) is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.axis("off")
    ax.set_aspect("equal")
    return ax


def draw_unrolled_rnn(steps: int = 4, ax=None, title: str | None = None):
    """The folded RNN (a state with a loop) and the same network unrolled over ``steps`` time steps.

    Unrolled, step t reads x_t and h_{t-1} and emits y_t; every copy shares W_ih, W_hh and W_hy.
    """
    steps = check_int(steps, "steps", minimum=1, maximum=8)
    ax = _axes(ax, (1.6 + 1.5 * steps, 3.2))
    _box(ax, 0, 0, "$x_t$", INPUT_COLOUR, "input")
    _box(ax, 0, 1.3, "$h_t$", HIDDEN_COLOUR, "state")
    _box(ax, 0, 2.6, "$y_t$", OUTPUT_COLOUR, "output")
    _arrow(ax, (0, 0.3), (0, 1.0))
    _arrow(ax, (0, 1.6), (0, 2.3))
    _loop(ax, [(0.45, 1.2), (0.8, 1.2), (0.8, 1.85), (0.25, 1.85)], (0.25, 1.6))
    ax.text(0.85, 1.5, "$W_{hh}$", fontsize=9, va="center")
    ax.text(1.15, 1.3, "=", fontsize=16, va="center")
    for t in range(1, steps + 1):
        x = 1.0 + 1.5 * t
        _box(ax, x, 0, f"$x_{t}$", INPUT_COLOUR, "input")
        _box(ax, x, 1.3, f"$h_{t}$", HIDDEN_COLOUR, "state")
        _box(ax, x, 2.6, f"$y_{t}$", OUTPUT_COLOUR, "output")
        _arrow(ax, (x, 0.3), (x, 1.0))
        _arrow(ax, (x, 1.6), (x, 2.3))
        _arrow(ax, (x - 1.05, 1.3), (x - 0.45, 1.3), gid="recurrent")
    ax.text(1.0 + 0.55, 1.45, "$h_0$", fontsize=9)
    ax.set_xlim(-0.8, 1.8 + 1.5 * steps)
    ax.set_ylim(-0.5, 3.1)
    if title:
        ax.set_title(title)
    return ax


def draw_lstm_cell(ax=None, title: str | None = None):
    """The LSTM cell: gates i, f, o and the candidate g from [x_t, h_{t-1}]; s_t = f s_{t-1} + i g.

    The memory line s_{t-1} -> s_t along the top passes only a product with f and a sum: its
    derivative is f_t, which is what lets gradients travel far when f stays near 1.
    """
    ax = _axes(ax, (7.5, 3.8))
    ax.plot([-0.2, 6.8], [3.0, 3.0], color="#2ca02c", lw=2.5, gid="memory")
    ax.text(-0.3, 3.0, "$s_{t-1}$", ha="right", va="center")
    ax.text(6.9, 3.0, "$s_t$", ha="left", va="center")
    for x, name, fn in ((1.0, "f", "σ"), (2.4, "i", "σ"), (3.5, "g", "tanh"), (5.0, "o", "σ")):
        _box(ax, x, 1.1, f"${name}$ ({fn})", GATE_COLOUR, "gate", width=1.0, fontsize=9)
        _arrow(ax, (x, 0.1), (x, 0.8))
    ax.plot([-0.2, 5.0], [0.1, 0.1], color="black", lw=1)
    ax.text(-0.3, 0.1, "$[x_t, h_{t-1}]$", ha="right", va="center")
    for x, sign in ((1.0, "×"), (3.0, "+")):
        _box(ax, x, 3.0, sign, CELL_COLOUR, "operation", width=0.45, height=0.45)
    _arrow(ax, (1.0, 1.4), (1.0, 2.78))
    _box(ax, 3.0, 2.1, "×", CELL_COLOUR, "operation", width=0.45, height=0.45)
    _arrow(ax, (2.4, 1.4), (2.8, 1.95))
    _arrow(ax, (3.5, 1.4), (3.2, 1.95))
    _arrow(ax, (3.0, 2.33), (3.0, 2.78))
    _box(ax, 5.9, 2.1, "tanh", CELL_COLOUR, "operation", width=0.7, height=0.4)
    _box(ax, 5.9, 1.1, "×", CELL_COLOUR, "operation", width=0.45, height=0.45)
    _arrow(ax, (5.9, 3.0), (5.9, 2.3))
    _arrow(ax, (5.9, 1.9), (5.9, 1.33))
    _arrow(ax, (5.5, 1.1), (5.67, 1.1))
    _arrow(ax, (6.12, 1.1), (6.8, 1.1))
    ax.text(6.9, 1.1, "$h_t$", ha="left", va="center")
    ax.set_xlim(-1.6, 7.4)
    ax.set_ylim(-0.3, 3.5)
    if title:
        ax.set_title(title)
    return ax


def draw_recurrent_lineage(kind: str = "elman", ax=None, title: str | None = None):
    """A three-layer network with context units fed back from the outputs (Jordan 1986) or the hidden
    layer (Elman 1990): the context holds the previous step's values and feeds the hidden layer."""
    kind = check_choice(kind, "kind", ("jordan", "elman"))
    ax = _axes(ax, (3.6, 3.4))
    _box(ax, 0, 0, "input $x_t$", INPUT_COLOUR, "input", width=1.4)
    _box(ax, 0, 1.4, "hidden $h_t$", HIDDEN_COLOUR, "state", width=1.4)
    _box(ax, 0, 2.8, "output $y_t$", OUTPUT_COLOUR, "output", width=1.4)
    _box(ax, 2.1, 1.4, "context", "white", "context", width=1.2)
    _arrow(ax, (0, 0.3), (0, 1.1))
    _arrow(ax, (0, 1.7), (0, 2.5))
    _arrow(ax, (1.5, 1.4), (0.7, 1.4))  # context -> hidden, weighted
    source = (0.7, 2.8) if kind == "jordan" else (0.55, 1.7)
    _arrow(ax, source, (2.1, 1.7), gid="recurrent", connectionstyle="arc3,rad=-0.3")
    if kind == "jordan":  # Jordan's context units also feed themselves
        _loop(ax, [(2.4, 1.1), (2.4, 0.75), (1.8, 0.75)], (1.8, 1.1))
    ax.set_xlim(-1.0, 3.0)
    ax.set_ylim(-0.5, 3.3)
    ax.set_title(title or ("Jordan: context from the output" if kind == "jordan" else
                           "Elman: context from the hidden layer"), fontsize=10)
    return ax


def plot_gradient_flow(scale: float = 1.0, input_scale: float = 0.1, steps: int = 40, hidden: int = 16,
                       seed: int = 0):
    """How ||dh_T/dh_k|| falls with T - k in a tanh RNN whose W_hh = scale x (a random orthogonal matrix).

    Then ||W_hh||_2 = scale, and the bound (gamma_w gamma_h)^(T - k) with gamma_h = 1 is scale^(T - k);
    larger inputs (``input_scale``) saturate tanh, make 1 - h^2 small and the gradient smaller still.
    Returns the Figure (log scale).
    """
    scale, input_scale = check_positive(scale, "scale"), check_positive(input_scale, "input_scale")
    steps, hidden = check_int(steps, "steps", minimum=1), check_int(hidden, "hidden", minimum=1)
    rng = np.random.default_rng(seed)
    W_hh = scale * np.linalg.qr(rng.normal(size=(hidden, hidden)))[0]
    W_ih = rng.normal(size=(hidden, 1))
    x = input_scale * rng.normal(size=(steps, 1, 1))
    norms = state_jacobian_norms(x, W_ih, W_hh, np.zeros(hidden), np.zeros(hidden))[::-1]  # by T - k
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lags = np.arange(steps + 1)
    ax.semilogy(lags, vanishing_bound(W_hh, steps), "--", color="#7f7f7f", label="bound $\\gamma_w^{T-k}$")
    ax.semilogy(lags, norms, "o-", ms=3, color="#1f77b4", label="$\\|\\partial h_T / \\partial h_k\\|_2$")
    ax.set_ylim(1e-12, 1e6)
    ax.set_xlabel("distance back in time T - k (steps)")
    ax.set_ylabel("gradient norm")
    ax.set_title(f"tanh RNN, ||W_hh|| = {scale:g}, inputs x {input_scale:g}", fontsize=10)
    ax.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig
