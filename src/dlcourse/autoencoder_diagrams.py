"""Diagrams and figures of chapter 8: a convolutional autoencoder's shapes, the VAE's computation, a stack
of RBMs, rows of images, and the sparsity penalties (an explorer's frame).

Each function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns it. Boxes
carry the ``gid`` "block" and arrows "arrow", so a test can count what was drawn (:func:`blocks`).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .diagrams import EDGE_COLOUR, HIDDEN_COLOUR, INPUT_COLOUR, OUTPUT_COLOUR
from .validation import as_float_array, check_axes, check_float, check_positive_int

NOISE_COLOUR = "#f4cccc"


def blocks(ax) -> list[FancyBboxPatch]:
    """The boxes of a diagram drawn by this module."""
    return [p for p in ax.patches if p.get_gid() == "block"]


def arrows(ax) -> list[FancyArrowPatch]:
    """The arrows of a diagram drawn by this module."""
    return [p for p in ax.patches if p.get_gid() == "arrow"]


def _axes(ax, figsize, xlim, ylim):
    if check_axes(ax) is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    return ax


def _box(ax, x, y, w, h, text, colour, fontsize=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", facecolor=colour,
                                edgecolor="black", linewidth=1.1, gid="block"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None, style="-|>", dashed=False):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=EDGE_COLOUR,
                                 linestyle="--" if dashed else "-", linewidth=1.2, gid="arrow"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", va="bottom",
                fontsize=8, color="#333333")


def draw_conv_autoencoder(n_code: int = 16, width: int = 8, ax=None):
    """The convolutional autoencoder of the chapter: shapes (channels x height x width) from input to output."""
    n_code, width = check_positive_int(n_code, "n_code"), check_positive_int(width, "width")
    stages = [("input\n1x28x28", 2.0, INPUT_COLOUR), (f"{width}x14x14", 1.4, HIDDEN_COLOUR),
              (f"{2 * width}x7x7", 1.0, HIDDEN_COLOUR), (f"code\n{n_code}", 0.6, OUTPUT_COLOUR),
              (f"{2 * width}x7x7", 1.0, HIDDEN_COLOUR), (f"{width}x14x14", 1.4, HIDDEN_COLOUR),
              ("output\n1x28x28", 2.0, INPUT_COLOUR)]
    ops = ["conv 3x3, s 2", "conv 3x3, s 2", "flatten, linear", "linear", "conv$^T$ 3x3, s 2",
           "conv$^T$ 3x3, s 2"]
    ax = _axes(ax, (9.5, 2.6), (-0.8, 6 * 1.6 + 0.8), (-1.4, 1.4))
    for i, (text, h, colour) in enumerate(stages):
        _box(ax, i * 1.6, 0, 0.95, h, text, colour, fontsize=8)
    for i, op in enumerate(ops):
        _arrow(ax, (i * 1.6 + 0.5, -0.05), (i * 1.6 + 1.1, -0.05))
        ax.text(i * 1.6 + 0.8, -1.25 if i % 2 else 1.1, op, ha="center", fontsize=7.5, color="#333333")
    ax.set_title("convolutional autoencoder: encoder (strided convs), decoder (transposed convs)", fontsize=10)
    return ax


def draw_vae(ax=None):
    """The VAE as a computation: x -> encoder -> (mu, log s^2); z = mu + s * eps; z -> decoder -> p(x | z)."""
    ax = _axes(ax, (9.0, 3.0), (-0.7, 9.9), (-1.6, 1.6))
    _box(ax, 0, 0, 1.0, 0.7, "image $x$", INPUT_COLOUR)
    _box(ax, 1.9, 0, 1.3, 0.8, "encoder\n$q_\\phi(z|x)$", HIDDEN_COLOUR)
    _box(ax, 3.9, 0.6, 1.0, 0.55, "$\\mu$", HIDDEN_COLOUR)
    _box(ax, 3.9, -0.6, 1.0, 0.55, "$\\log s^2$", HIDDEN_COLOUR)
    _box(ax, 3.9, -1.35, 1.6, 0.45, "$\\epsilon \\sim N(0, I)$", NOISE_COLOUR, fontsize=8.5)
    _box(ax, 5.9, 0, 1.6, 0.7, "$z = \\mu + s \\odot \\epsilon$", OUTPUT_COLOUR)
    _box(ax, 7.6, 0, 1.2, 0.8, "decoder\n$p_\\theta(x|z)$", HIDDEN_COLOUR)
    _box(ax, 9.2, 0, 0.8, 0.7, "$\\hat{x}$", INPUT_COLOUR)
    for start, end in [((0.5, 0), (1.25, 0)), ((2.55, 0.15), (3.4, 0.6)), ((2.55, -0.15), (3.4, -0.6)),
                       ((4.4, 0.6), (5.1, 0.15)), ((4.4, -0.6), (5.1, -0.1)), ((4.7, -1.35), (5.4, -0.35)),
                       ((6.7, 0), (7.0, 0)), ((8.2, 0), (8.8, 0))]:
        _arrow(ax, start, end)
    ax.text(3.9, 1.15, "KL$(q(z|x)\\,\\|\\,N(0, I))$ acts here", ha="center", fontsize=8, color="#990000")
    ax.text(8.4, -0.75, "$\\log p(x|z)$: reconstruction", ha="center", fontsize=8, color="#990000")
    ax.set_title("VAE: the noise enters from the side, so gradients reach $\\mu$ and $s$", fontsize=10)
    return ax


def draw_dbn(layer_sizes: Sequence[int] = (784, 500, 500, 2000), ax=None):
    """A deep belief net as a stack of RBMs: each pair of adjacent layers is an RBM trained on the codes
    of the one below (greedy, layer by layer), then the stack initialises a deep network."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__") or len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes must be a sequence of at least 2 positive integers, got {layer_sizes!r}")
    sizes = [check_positive_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]
    ax = _axes(ax, (6.0, 1.1 + 1.05 * len(sizes)), (-3.2, 3.6), (-0.6, 1.2 * (len(sizes) - 1) + 0.6))
    for i, n in enumerate(sizes):
        label = "visible $v$ (pixels)" if i == 0 else f"hidden layer $h^{{{i}}}$"
        _box(ax, 0, 1.2 * i, 3.6, 0.5, f"{label}: {n} units", INPUT_COLOUR if i == 0 else HIDDEN_COLOUR)
    for i in range(len(sizes) - 1):
        _arrow(ax, (0, 1.2 * i + 0.3), (0, 1.2 * i + 0.9), style="<|-|>")
        ax.text(2.2, 1.2 * i + 0.6, f"RBM {i + 1}: trained {'on the data' if i == 0 else f'on $h^{{{i}}}$'}",
                va="center", fontsize=8.5)
    ax.set_title("a deep belief net: RBMs stacked and trained one at a time", fontsize=10)
    return ax


def plot_image_rows(rows: dict, title: str | None = None):
    """One row of 28 x 28 images per entry of ``rows`` (name -> (n, 784) array in [0, 1]), named at the left."""
    if not isinstance(rows, dict) or not rows:
        raise ValueError(f"rows must be a non-empty dict name -> (n, 784) images, got {type(rows).__name__}")
    images = {str(k): as_float_array(v, f"rows[{k!r}]", ndim=2) for k, v in rows.items()}
    n = max(len(v) for v in images.values())
    if any(v.shape[1] != 784 for v in images.values()) or n == 0 or n > 10:
        raise ValueError("rows must hold 1 to 10 images of 784 pixels each")
    fig, axes = plt.subplots(len(images), n, figsize=(0.95 * n + 1.3, 1.0 * len(images) + 0.4), squeeze=False)
    for r, (name, block) in enumerate(images.items()):
        for j in range(n):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(block):
                ax.imshow(block[j].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_sparsity_penalty(rho: float = 0.05):
    """Explorer frame: the penalties on one unit's mean activation rho_hat for a target rate ``rho``:
    KL(rho || rho_hat) (the sparse autoencoder's), the reversed KL(rho_hat || rho), and L1 (= rho_hat)."""
    rho = check_float(rho, "rho", minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    r = np.linspace(0.002, 0.998, 400)
    forward = rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))
    backward = r * np.log(r / rho) + (1 - r) * np.log((1 - r) / (1 - rho))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(r, forward, color="#d62728", lw=2, label="KL(ρ || ρ̂), used")
    ax.plot(r, backward, color="#1f77b4", lw=2, ls="--", label="KL(ρ̂ || ρ), reversed")
    ax.plot(r, r, color="#7f7f7f", lw=1.5, ls=":", label="L1 on a unit in (0, 1): ρ̂")
    ax.axvline(rho, color="black", lw=0.8)
    ax.set(xlabel="mean activation ρ̂ of a unit", ylabel="penalty (nats)", ylim=(0, 3),
           title=f"sparsity penalties, target ρ = {rho:g}")
    ax.legend(loc="upper center", fontsize=8)
    fig.tight_layout()
    return fig
