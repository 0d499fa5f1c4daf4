"""Diagrams of chapter 11 drawn with matplotlib: Bengio's neural language model, word2vec's CBOW and
skip-gram, and the explorer's figure of the noise distribution."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from .embeddings import noise_distribution
from .validation import as_float_array, check_axes, check_choice, check_float, check_int


def _box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="black"))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "lw": 1.2})


def draw_nnlm(n: int = 4, ax=None):
    """Bengio's model: n-1 context words -> shared table C -> concatenation ((n-1)m) -> tanh -> softmax."""
    n = check_int(n, "n", minimum=2, maximum=6)
    ax = check_axes(ax) or plt.subplots(figsize=(7, 4))[1]
    xs = np.linspace(-3, 3, n - 1) if n > 2 else np.array([0.0])
    for i, x in enumerate(xs):
        _box(ax, x, 0, 1.3, 0.5, f"$w_{{t-{n - 1 - i}}}$" if i < n - 2 else "$w_{t-1}$", "#dddddd")
        _box(ax, x, 1.2, 1.3, 0.5, f"$C[w_{{t-{n - 1 - i}}}]$ ($m$)", "#9ecae1")
        _arrow(ax, (x, 0.25), (x, 0.95))
        _arrow(ax, (x, 1.45), (0, 2.15))
    ax.text(4.6, 0.6, "shared table $C$\n($|V| \\times m$)", fontsize=8, ha="center")
    _box(ax, 0, 2.4, 5.0, 0.5, f"$x$: concatenation, width $(n-1)m = {n - 1}m$", "#c6dbef")
    _box(ax, 0, 3.5, 3.6, 0.5, "hidden: $\\tanh(d + Hx)$", "#fdd0a2")
    _box(ax, 0, 4.6, 3.6, 0.5, "softmax$(b + U \\cdot)$: $|V|$ outputs", "#fc9272")
    _arrow(ax, (0, 2.65), (0, 3.25))
    _arrow(ax, (0, 3.75), (0, 4.35))
    ax.set_xlim(-4.5, 5.6)
    ax.set_ylim(-0.5, 5.1)
    ax.axis("off")
    ax.set_title(f"neural language model, n = {n}: predict $w_t$ from the {n - 1} previous words", fontsize=10)
    return ax


def draw_word2vec(kind: str = "skip-gram", window: int = 2, ax=None):
    """CBOW (context -> mean of input vectors -> centre word) or skip-gram (centre word -> each context word)."""
    kind = check_choice(kind, "kind", ("skip-gram", "CBOW"))
    window = check_int(window, "window", minimum=1, maximum=3)
    ax = check_axes(ax) or plt.subplots(figsize=(5, 3.5))[1]
    offsets = [o for o in range(-window, window + 1) if o != 0]
    ys = np.linspace(-2, 2, len(offsets))
    left, right = (0.0, 4.0)
    if kind == "CBOW":
        for y, o in zip(ys, offsets):
            _box(ax, left, y, 1.4, 0.45, f"$w_{{t{o:+d}}}$", "#dddddd")
            _arrow(ax, (left + 0.7, y), (1.6, 0))
        _box(ax, 2.0, 0, 1.0, 0.6, "mean\n$h$", "#9ecae1")
        _box(ax, right, 0, 1.4, 0.5, "$w_t$", "#fc9272")
        _arrow(ax, (2.5, 0), (right - 0.7, 0))
        ax.text(2.0, -0.75, "input vectors $v$", ha="center", fontsize=8)
        ax.text(3.1, 0.35, "output\nvectors $u$", ha="center", fontsize=8)
    else:
        _box(ax, left, 0, 1.4, 0.5, "$w_t$", "#dddddd")
        _box(ax, 2.0, 0, 1.0, 0.6, "$v_{w_t}$", "#9ecae1")
        _arrow(ax, (0.7, 0), (1.5, 0))
        for y, o in zip(ys, offsets):
            _box(ax, right, y, 1.4, 0.45, f"$w_{{t{o:+d}}}$", "#fc9272")
            _arrow(ax, (2.5, 0), (right - 0.7, y))
        ax.text(2.0, -0.75, "input vector", ha="center", fontsize=8)
        ax.text(right, -2.65, "output vectors $u$", ha="center", fontsize=8)
    ax.set_xlim(-1, 5)
    ax.set_ylim(-2.9, 2.5)
    ax.axis("off")
    ax.set_title(f"{kind}, window {window}", fontsize=10)
    return ax


def plot_noise_distribution(counts, words, power: float = 0.75):
    """Bars of unigram frequency and of the noise distribution c^power / sum c^power for a few words."""
    counts = as_float_array(counts, "counts", ndim=1)
    if not isinstance(words, (list, tuple)) or len(words) != len(counts):
        raise ValueError(f"words must be a list of {len(counts)} labels, got {words!r}")
    power = check_float(power, "power", minimum=0.0, maximum=1.0)
    noise = noise_distribution(counts, power)  # validates the counts before anything is drawn
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(counts))
    ax.bar(x - 0.2, counts / counts.sum(), 0.4, label="unigram frequency", color="#3182bd")
    ax.bar(x + 0.2, noise, 0.4, label=f"noise, power {power:g}", color="#e6550d")
    ax.set_xticks(x, words, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1)
    ax.set_ylabel("probability (log scale)")
    ax.set_title("frequency and noise probability, normalised over these words", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
