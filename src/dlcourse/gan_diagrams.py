"""Figures of chapter 9, drawn in code: the generator/discriminator diagram and samples on the ring."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .gans import assign_modes
from .validation import as_float_array, check_axes, check_positive

# (label, x, y, colour) of each box; the arrows below connect them by index
_BOXES = [("noise $z \\sim \\mathcal{N}(0, I)$", 0.10, 0.72, "#dddddd"),
          ("generator $G$", 0.36, 0.72, "#9ecae1"),
          ("real data $x \\sim p_{data}$", 0.36, 0.22, "#dddddd"),
          ("discriminator $D$", 0.64, 0.47, "#fdae6b"),
          ("$D(\\cdot) = P(\\mathrm{real})$", 0.89, 0.47, "#dddddd")]
_ARROWS = [(0, 1, ""), (1, 3, "$G(z)$"), (2, 3, "$x$"), (3, 4, "")]


def draw_gan_diagram(ax=None):
    """Draw the two networks of a GAN: z -> G -> G(z) -> D <- x, D -> probability of "real". Returns the Axes.

    The boxes are FancyBboxPatches (5) and the arrows FancyArrowPatches (4).
    """
    ax = check_axes(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    for label, x, y, colour in _BOXES:
        ax.add_patch(FancyBboxPatch((x - 0.1, y - 0.09), 0.2, 0.18, boxstyle="round,pad=0.01",
                                    facecolor=colour, edgecolor="black", linewidth=1.2))
        ax.text(x, y, label, ha="center", va="center", fontsize=10)
    for start, end, label in _ARROWS:
        (_, x0, y0, _), (_, x1, y1, _) = _BOXES[start], _BOXES[end]
        ax.add_patch(FancyArrowPatch((x0 + 0.1, y0), (x1 - 0.1, y1), arrowstyle="-|>", mutation_scale=15,
                                     linewidth=1.4, color="black"))
        if label:
            ax.text((x0 + x1) / 2 + 0.02, (y0 + y1) / 2 + 0.05, label, fontsize=10)
    ax.text(0.5, 0.0, "D ascends V = E log D(x) + E log(1 - D(G(z)));  G descends it "
            "(or, non-saturating, ascends E log D(G(z)))", ha="center", fontsize=9)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.05, 0.9))
    ax.axis("off")
    return ax


def plot_ring_samples(samples, centres, std: float, title: str = "", ax=None):
    """Scatter generated samples (N, 2) over the ring's centres (K, 2), with 3-std circles; returns the Axes.

    Samples within 3 std of a centre are drawn as blue dots, off-mode samples as red crosses; the title gets the
    number of modes hit and the off-mode fraction appended.
    """
    samples = as_float_array(samples, "samples", ndim=2, shape=(None, 2), allow_empty=False)
    centres = as_float_array(centres, "centres", ndim=2, shape=(None, 2), allow_empty=False)
    std = check_positive(std, "std")
    ax = check_axes(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    on_mode = assign_modes(samples, centres, 3 * std) >= 0
    shown = slice(0, 2000)  # enough points to see the shape, few enough to keep frames small
    ax.scatter(*samples[shown][on_mode[shown]].T, s=3, color="tab:blue", alpha=0.5, label="within 3 std of a mode")
    ax.scatter(*samples[shown][~on_mode[shown]].T, s=9, color="tab:red", marker="x", linewidths=0.6, alpha=0.7,
               label="off-mode")  # a cross, not only another colour
    angles = np.linspace(0, 2 * np.pi, 60)
    for cx, cy in centres:
        ax.plot(cx + 3 * std * np.cos(angles), cy + 3 * std * np.sin(angles), color="black", lw=0.8)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title, fontsize=10)
    return ax
