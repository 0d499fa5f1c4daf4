"""Chapter 7's drawings: the Siamese and triplet networks with shared weights, and the verification
explorer's figure (distance histograms with a threshold, and the ROC curve with its operating point).

Diagram artists carry a ``gid``: "branch" for a copy of the network f_W, "input" and "embedding" for
the boxes around it, "arrow" for arrows and "share" for the dashed lines that tie the shared weights.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .diagrams import HIDDEN_COLOUR, INPUT_COLOUR, OUTPUT_COLOUR
from .metric_learning import _distances, _pair_labels, roc_curve
from .validation import check_axes, check_choice, check_float

SAME_COLOUR, DIFFERENT_COLOUR = "#1f77b4", "#d62728"


def _box(ax, x, y, text, colour, gid, width=1.5):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.32), width, 0.64, boxstyle="round,pad=0.05",
                                facecolor=colour, edgecolor="black", gid=gid))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax, a, b, **kw):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="black", gid="arrow", **kw))


def draw_siamese_network(n_branches: int = 2, ax=None, title: str | None = None):
    """k copies of one network f_W (k = 2: Siamese, k = 3: triplet), their embeddings, and the loss.

    Each row: input -> f_W -> embedding; dashed lines join the copies (one set of weights W); the
    embeddings' distances feed the contrastive (k = 2) or triplet (k = 3) loss. Returns the Axes.
    """
    k = check_choice(n_branches, "n_branches", (2, 3))
    if check_axes(ax) is None:
        _, ax = plt.subplots(figsize=(7.5, 1.5 + 1.1 * k))
    ax.axis("off")
    names = ["$I_i$", "$I_j$"] if k == 2 else ["anchor $a$", "positive $p$", "negative $n$"]
    ys = np.linspace(1.2 * (k - 1), 0, k)
    for name, y in zip(names, ys):
        _box(ax, 0, y, name, INPUT_COLOUR, "input", width=1.6)
        _box(ax, 2.6, y, "CNN $f_W$", HIDDEN_COLOUR, "branch")
        _box(ax, 5.0, y, "$f_W(" + name.split("$")[1] + ")$", OUTPUT_COLOUR, "embedding", width=1.7)
        _arrow(ax, (0.85, y), (1.8, y))
        _arrow(ax, (3.4, y), (4.1, y))
    for y0, y1 in zip(ys[:-1], ys[1:]):
        ax.plot([2.6, 2.6], [y0 - 0.37, y1 + 0.37], ls="--", color="#555555", gid="share")
    ax.text(2.7, (ys[0] + ys[1]) / 2, "same weights W", ha="left", va="center", fontsize=9, color="#333333")
    loss = ("contrastive loss\n$L(d_{ij}, y_{ij})$" if k == 2 else
            "triplet loss\n$\\max(0, m + d_{ap} - d_{an})$")
    _box(ax, 8.1, ys.mean(), loss, "white", "loss", width=2.8)
    for y in ys:
        _arrow(ax, (5.9, y), (6.6, ys.mean() + 0.15 * np.sign(y - ys.mean())))
    ax.set_xlim(-1.0, 9.7)
    ax.set_ylim(-0.7, ys[0] + 0.7)
    if title:
        ax.set_title(title)
    return ax


def plot_verification(distances, y, threshold: float, title: str = "verification by a threshold",
                      max_distance: float | None = None) -> plt.Figure:
    """Histograms of same (y = 0) and different (y = 1) pair distances with the threshold tau, and the ROC
    curve with the point (FPR, TPR) that tau gives; the title line reports both rates and the accuracy."""
    d = _distances(distances)
    y = _pair_labels(y, len(d))
    tau = check_float(threshold, "threshold")
    top = float(d.max()) if max_distance is None else check_float(max_distance, "max_distance", minimum=0.0)
    fpr, tpr, _ = roc_curve(d, y)
    tp, fp = np.mean(d[y == 0] <= tau), np.mean(d[y == 1] <= tau)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.4), gridspec_kw={"width_ratios": [1.6, 1]})
    bins = np.linspace(0, max(top, 1e-9), 31)
    ax1.hist(d[y == 0], bins=bins, alpha=0.6, color=SAME_COLOUR, label="same class (y = 0)")
    ax1.hist(d[y == 1], bins=bins, alpha=0.6, color=DIFFERENT_COLOUR, label="different (y = 1)")
    ax1.axvline(tau, color="black", lw=2, label=f"threshold τ = {tau:.2f}")
    ax1.set(xlabel="distance d between the two embeddings", ylabel="pairs")
    ax1.legend(fontsize=8, loc="upper right")
    ax2.plot(fpr, tpr, color="#444444", lw=1.5, label="ROC")
    ax2.plot([fp], [tp], "o", color="black", ms=8, label="τ")
    ax2.plot([0, 1], [0, 1], ":", color="#999999")
    ax2.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax2.legend(fontsize=8, loc="lower right")
    accuracy = (np.sum(d[y == 0] <= tau) + np.sum(d[y == 1] > tau)) / len(d)
    fig.suptitle(f"{title}: TPR {tp:.2f}, FPR {fp:.2f}, accuracy {accuracy:.3f}", fontsize=10)
    fig.tight_layout()
    return fig
