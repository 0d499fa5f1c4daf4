"""Chapter 3's diagrams, drawn in code: a network with dropped units, and a residual block."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .diagrams import EDGE_COLOUR, HIDDEN_COLOUR, INPUT_COLOUR, OUTPUT_COLOUR
from .validation import as_array, check_axes, check_positive_int


def _axes(ax, figsize):
    if check_axes(ax) is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_dropout_network(layer_sizes: Sequence[int], kept: Sequence[Sequence[bool]], ax=None,
                         title: str | None = None):
    """A fully connected network in which the hidden units with ``kept[l][j] = False`` are dropped.

    ``layer_sizes``: (n_0, ..., n_L), each at most 8; ``kept``: one bool sequence per hidden layer
    (n_1, ..., n_{L-1}). A dropped unit is drawn hollow and crossed out, and none of its weights are
    drawn: for this mini-batch the network is the thinned one that remains.
    Returns the Axes; its units have gid 'unit' (kept) or 'dropped', its weights gid 'edges'.
    """
    sizes = [check_positive_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]
    if len(sizes) < 3 or max(sizes) > 8:
        raise ValueError(f"layer_sizes must have at least 3 layers of at most 8 units, got {sizes}")
    if len(kept) != len(sizes) - 2:
        raise ValueError(f"kept must hold one mask per hidden layer ({len(sizes) - 2}), got {len(kept)}")
    masks = [np.ones(sizes[0], bool)]
    for l, mask in enumerate(kept, start=1):
        mask = as_array(mask, f"kept[{l - 1}]", kind="bool", shape=(sizes[l],))
        masks.append(mask)
    masks.append(np.ones(sizes[-1], bool))
    ax = _axes(ax, (2.2 * len(sizes), 0.75 * max(sizes) + 1))
    pos = [[(2.0 * l, (n - 1) / 2 - j) for j in range(n)] for l, n in enumerate(sizes)]
    segments = [[a, b] for l in range(len(sizes) - 1) for i, a in enumerate(pos[l]) for j, b in enumerate(pos[l + 1])
                if masks[l][i] and masks[l + 1][j]]
    ax.add_collection(LineCollection(segments, colors=EDGE_COLOUR, linewidths=0.8, alpha=0.7, gid="edges"))
    colours = [INPUT_COLOUR] + [HIDDEN_COLOUR] * (len(sizes) - 2) + [OUTPUT_COLOUR]
    for l, layer in enumerate(pos):
        for j, (x, y) in enumerate(layer):
            on = bool(masks[l][j])
            ax.add_patch(Circle((x, y), 0.28, facecolor=colours[l] if on else "white", edgecolor="black",
                                linestyle="-" if on else "--", zorder=3, gid="unit" if on else "dropped"))
            if not on:
                ax.plot([x - 0.2, x + 0.2], [y - 0.2, y + 0.2], color="tab:red", lw=2, zorder=4)
                ax.plot([x - 0.2, x + 0.2], [y + 0.2, y - 0.2], color="tab:red", lw=2, zorder=4)
    ax.set_xlim(-0.6, 2.0 * (len(sizes) - 1) + 0.6)
    ax.set_ylim(-max(sizes) / 2 - 0.2, max(sizes) / 2 + 0.2)
    if title:
        ax.set_title(title)
    return ax


def _box(ax, xy, text, colour):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - 1.1, y - 0.3), 2.2, 0.6, boxstyle="round,pad=0.05", facecolor=colour,
                                edgecolor="black", gid="box"))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=14, color="black", gid="arrow", **kw))


def draw_residual_block(ax=None, title: str | None = "a residual block: h + F(h)"):
    """A residual block, bottom to top: h -> Linear -> f -> Linear -> (+ h) -> f, with the identity skip.

    Returns the Axes; its boxes have gid 'box' and its arrows gid 'arrow' (one of them the skip).
    """
    ax = _axes(ax, (4.5, 5.0))
    ys = [0.0, 1.2, 2.4, 3.6]
    ax.text(0, -1.0, r"$h^{l-1}$", ha="center", va="center", fontsize=13)
    _box(ax, (0, ys[0]), r"Linear $W_1$", HIDDEN_COLOUR)
    _box(ax, (0, ys[1]), r"activation $f$", HIDDEN_COLOUR)
    _box(ax, (0, ys[2]), r"Linear $W_2$", HIDDEN_COLOUR)
    ax.add_patch(Circle((0, ys[3]), 0.3, facecolor="white", edgecolor="black", gid="sum"))
    ax.text(0, ys[3], "+", ha="center", va="center", fontsize=16)
    _box(ax, (0, 4.8), r"activation $f$", OUTPUT_COLOUR)
    ax.text(0, 5.8, r"$h^{l} = f(h^{l-1} + F(h^{l-1}))$", ha="center", va="center", fontsize=12)
    _arrow(ax, (0, -0.75), (0, ys[0] - 0.35))
    for y0, y1 in zip(ys[:2], ys[1:3]):
        _arrow(ax, (0, y0 + 0.35), (0, y1 - 0.35))
    _arrow(ax, (0, ys[2] + 0.35), (0, ys[3] - 0.3))
    _arrow(ax, (0, ys[3] + 0.3), (0, 4.8 - 0.35))
    _arrow(ax, (0, -0.6), (0.3, ys[3]), connectionstyle="arc3,rad=0.9", linestyle="--")  # the identity skip
    ax.text(2.35, 1.8, "identity\n(skip)", ha="center", va="center", fontsize=10, color="#333333")
    ax.text(-1.9, 1.2, r"$F(h^{l-1})$", ha="center", va="center", fontsize=11, rotation=90)
    ax.set_xlim(-2.5, 2.8)
    ax.set_ylim(-1.4, 6.2)
    if title:
        ax.set_title(title)
    return ax
