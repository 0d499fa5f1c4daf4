"""Diagrams drawn in code: a layered network, a threshold neuron, a Hopfield network, a timeline.

Each function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns it, so a
chapter shows the drawing where its text needs it and a test can count what was drawn. Every artist
carries a ``gid`` saying what it is: ``"unit"`` for a unit's circle, ``"edges"`` for the collection of
weight lines (one segment per drawn weight), so ``unit_circles(ax)`` and ``edge_segments(ax)`` find them.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle
from matplotlib.transforms import blended_transform_factory

from .validation import as_float_array, check_axes, check_int, check_positive_int

# Fill colours per role, light enough for black text and black outlines on top.
INPUT_COLOUR = "#cfe2f3"
HIDDEN_COLOUR = "#fde9c9"
OUTPUT_COLOUR = "#d9ead3"
EDGE_COLOUR = "#555555"

MAX_SHOWN_UNITS = 8  # a layer wider than this is drawn as its first 3 units, a column of dots, its last 2


def unit_circles(ax) -> list[Circle]:
    """The circles that stand for units in a diagram drawn by this module."""
    return [p for p in ax.patches if p.get_gid() == "unit"]


def edge_segments(ax) -> list[np.ndarray]:
    """The weight lines of a diagram drawn by this module, one (2, 2) segment per drawn weight."""
    return [seg for c in ax.collections if c.get_gid() == "edges" for seg in c.get_segments()]


def visible_units(n_units: int, max_shown: int = MAX_SHOWN_UNITS) -> list[int]:
    """Indices of the units drawn for a layer of ``n_units``: all of them, or the first 3 and last 2."""
    n_units = check_positive_int(n_units, "n_units")
    if n_units <= max_shown:
        return list(range(n_units))
    return [0, 1, 2, n_units - 2, n_units - 1]


def _new_axes(ax, figsize: tuple[float, float]):
    if check_axes(ax) is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _unit(ax, xy, radius: float, colour: str) -> None:
    ax.add_patch(Circle(xy, radius, facecolor=colour, edgecolor="black", linewidth=1.2, zorder=3, gid="unit"))


def _layer_positions(n_units: int, x: float, spacing: float) -> tuple[list[tuple[float, float]], bool]:
    """Where the drawn units of a layer go (centred on y = 0, top to bottom), and whether dots go between."""
    n_shown = len(visible_units(n_units))
    elided = n_shown < n_units
    slots = n_shown + (1 if elided else 0)  # the dots take one slot between the 3rd and 4th circle
    ys = (np.arange(slots)[::-1] - (slots - 1) / 2) * spacing
    if elided:
        ys = np.delete(ys, 3)
    return [(x, float(y)) for y in ys], elided


_MATH_MARKUP = str.maketrans("", "", "$^{}\\")  # characters of mathtext that take no width


def _default_labels(n_layers: int) -> list[str]:
    hidden = [f"hidden $a^{{{l}}}$" for l in range(1, n_layers - 1)]
    return ["input $x$", *hidden, "output $y$"]


def draw_layered_network(layer_sizes: Sequence[int], ax=None, labels: Sequence[str] | None = None,
                         title: str | None = None, show_weights: bool = True, show_sizes: bool = True):
    """Draw a fully connected layered network: one circle per unit, one line per weight.

    ``layer_sizes = (n_0, n_1, ..., n_L)`` from input to output; layer ``l`` has ``n_l`` units and the
    weights ``W^l`` (shape (n_l, n_{l-1})) join every unit of layer ``l - 1`` to every unit of layer ``l``.
    A layer wider than 8 units is drawn as its first 3 units, a column of dots and its last 2, with its
    width written under it. ``labels`` names the layers (default "input x", "hidden a^1", ..., "output y");
    ``show_weights`` writes ``W^l`` above each band of weights, ``show_sizes`` the width under each layer.
    """
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise ValueError(f"layer_sizes must be a sequence of positive integers, got {layer_sizes!r}")
    sizes = [check_positive_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes must list at least 2 layers (input and output), got {len(sizes)}")
    labels = _default_labels(len(sizes)) if labels is None else list(labels)
    if len(labels) != len(sizes) or not all(isinstance(s, str) for s in labels):
        raise ValueError(f"labels must be {len(sizes)} strings (one per layer), got {labels!r}")

    widest = max(len(line.translate(_MATH_MARKUP)) for label in labels for line in label.split("\n"))
    gap, spacing, radius = max(2.8, 0.24 * widest + 0.6), 0.9, 0.3  # a gap wide enough for the labels
    layers = [_layer_positions(n, l * gap, spacing) for l, n in enumerate(sizes)]
    bottom = min(y for positions, _ in layers for _, y in positions) - radius
    top = max(y for positions, _ in layers for _, y in positions) + radius
    lines = max(label.count("\n") + 1 for label in labels) + (1 if show_sizes else 0)
    xlim, ylim = (-1.0, (len(sizes) - 1) * gap + 1.0), (bottom - 0.5 - 0.45 * lines, top + 0.7)
    inch = min(0.42, 10.0 / (xlim[1] - xlim[0]))  # inches per data unit: text stays legible, width <= 10
    ax = _new_axes(ax, (inch * (xlim[1] - xlim[0]), inch * (ylim[1] - ylim[0])))
    colours = [INPUT_COLOUR] + [HIDDEN_COLOUR] * (len(sizes) - 2) + [OUTPUT_COLOUR]
    segments = [[a, b] for (left, _), (right, _) in zip(layers, layers[1:]) for a in left for b in right]
    ax.add_collection(LineCollection(segments, colors=EDGE_COLOUR, linewidths=0.7, alpha=0.7, zorder=1,
                                     gid="edges"))
    for l, ((positions, elided), n, colour) in enumerate(zip(layers, sizes, colours)):
        for xy in positions:
            _unit(ax, xy, radius, colour)
        if elided:
            ax.text(l * gap, (positions[2][1] + positions[3][1]) / 2, r"$\vdots$", ha="center", va="center",
                    fontsize=16)
        ax.text(l * gap, bottom - 0.35, labels[l], ha="center", va="top", fontsize=11)
        if show_sizes:
            ax.text(l * gap, bottom - 0.35 - 0.45 * (labels[l].count("\n") + 1), f"{n} unit{'s' if n > 1 else ''}",
                    ha="center", va="top", fontsize=9, color="#333333")
        if show_weights and l > 0:
            ax.text((l - 0.5) * gap, top + 0.15, f"$W^{{{l}}}$", ha="center", va="bottom", fontsize=11)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    return ax


def _arrow(ax, start, end, **kwargs) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="black",
                                 linewidth=1.2, zorder=2, **kwargs))


def _input_labels(n_inputs: int) -> list[str]:
    """Labels of the inputs drawn for a neuron with inputs x_1..x_I (plus the constant x_0 = 1)."""
    if n_inputs <= 3:
        return ["$x_0 = 1$", *[f"$x_{{{i}}}$" for i in range(1, n_inputs + 1)]]
    return ["$x_0 = 1$", "$x_1$", "$x_2$", "$x_I$"]


def draw_threshold_neuron(n_inputs: int = 3, ax=None, title: str | None = None, low: int = -1):
    """Draw a threshold neuron: y = step(sum_{i=0}^{I} w_i x_i), with x_0 = 1 so that w_0 is the bias.

    Inputs ``x_0 = 1, x_1, ..., x_I`` (circles) feed weights ``w_i`` (labelled lines) into a sum
    ``a = sum_i w_i x_i``, then the threshold step ``y = 1 if a > 0 else low`` (``low`` is -1 in the
    +-1 convention, 0 in the 0/1 one), then the output ``y``. More than 3 inputs are drawn as
    ``x_1, x_2, ..., x_I``.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1, maximum=10_000)
    low = check_int(low, "low", minimum=-1, maximum=0)  # -1 or 0; bools are refused
    labels = _input_labels(n_inputs)
    weights = ["$w_0$", "$w_1$", "$w_2$", "$w_I$"] if n_inputs > 3 else [f"$w_{{{i}}}$" for i in range(n_inputs + 1)]
    ax = _new_axes(ax, (8.0, 3.6))
    spacing, radius = 1.0, 0.2
    ys = (np.arange(len(labels))[::-1] - (len(labels) - 1) / 2) * spacing
    if n_inputs > 3:  # leave a slot for the dots between x_2 and x_I
        ys = np.array([1.5, 0.5, -0.5, -2.0]) * spacing
    sum_xy, step_xy = (3.0, 0.0), (4.8, 0.0)
    segments = []
    for label, weight, y in zip(labels, weights, ys):
        _unit(ax, (0.0, y), radius, "#eeeeee" if label == "$x_0 = 1$" else INPUT_COLOUR)
        ax.text(-radius - 0.12, y, label, ha="right", va="center", fontsize=12)
        segments.append([(radius, y), (sum_xy[0] - 0.45, sum_xy[1])])
        line_y = y * (1 - (1.0 - radius) / (sum_xy[0] - 0.45 - radius))  # the line's height at x = 1
        above = y >= 0  # write each weight on the side of its line away from the others
        ax.text(1.0, line_y + (0.08 if above else -0.08), weight, ha="center", va="bottom" if above else "top",
                fontsize=12, color="#1f4e79")
    if n_inputs > 3:
        ax.text(0.0, (ys[2] + ys[3]) / 2, r"$\vdots$", ha="center", va="center", fontsize=16)
    ax.add_collection(LineCollection(segments, colors=EDGE_COLOUR, linewidths=1.2, zorder=1, gid="edges"))
    ax.add_patch(Circle(sum_xy, 0.45, facecolor=HIDDEN_COLOUR, edgecolor="black", linewidth=1.2, zorder=3,
                        gid="sum"))
    ax.text(*sum_xy, r"$\Sigma$", ha="center", va="center", fontsize=16, zorder=4)
    ax.text(sum_xy[0], -0.65, r"$a = \sum_{i=0}^{I} w_i x_i$", ha="center", va="top", fontsize=10)
    _arrow(ax, (sum_xy[0] + 0.45, 0.0), (step_xy[0] - 0.45, 0.0))
    ax.add_patch(Rectangle((step_xy[0] - 0.45, -0.45), 0.9, 0.9, facecolor=OUTPUT_COLOUR, edgecolor="black",
                           linewidth=1.2, zorder=3, gid="step"))
    ax.plot([step_xy[0] - 0.32, step_xy[0], step_xy[0], step_xy[0] + 0.32], [-0.25, -0.25, 0.25, 0.25],
            color="black", linewidth=1.6, zorder=4)
    ax.text(step_xy[0], -0.65, f"$y = {'+1' if low == -1 else '1'}$ if $a > 0$\nelse ${low}$", ha="center",
            va="top", fontsize=10)
    _arrow(ax, (step_xy[0] + 0.45, 0.0), (step_xy[0] + 1.4, 0.0))
    ax.text(step_xy[0] + 1.55, 0.0, "$y$", ha="left", va="center", fontsize=14)
    ax.set_xlim(-1.6, step_xy[0] + 2.1)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.6)
    if title:
        ax.set_title(title)
    return ax


def draw_hopfield_network(n_units: int = 5, ax=None, states: Sequence[int] | None = None,
                          title: str | None = None):
    """Draw a Hopfield network: ``n_units`` units on a circle, one undirected line per pair, no self-loops.

    Each line stands for one symmetric weight ``w_ij = w_ji`` (so there are n(n-1)/2 lines), and
    ``w_ii = 0`` (no loop from a unit to itself). ``states`` (one of +1/-1 per unit) fills +1 units dark
    and -1 units white; without it every unit is drawn plain. ``n_units`` must be 2..16 to stay legible.
    """
    n_units = check_int(n_units, "n_units", minimum=2, maximum=16)
    if states is not None:
        try:
            values = as_float_array(states, "states", shape=(n_units,))  # refuses bools, text, ragged lists
        except ValueError:
            values = None
        if values is None or not np.all(np.isin(values, (-1.0, 1.0))):
            raise ValueError(f"states must be {n_units} values, each +1 or -1, got {states!r}")
    ax = _new_axes(ax, (4.2, 4.2))
    angles = np.pi / 2 - 2 * np.pi * np.arange(n_units) / n_units
    xy = np.column_stack([np.cos(angles), np.sin(angles)]) * 1.6  # (n_units, 2), clockwise from the top
    pairs = [(i, j) for i in range(n_units) for j in range(i + 1, n_units)]
    ax.add_collection(LineCollection([xy[[i, j]] for i, j in pairs], colors=EDGE_COLOUR, linewidths=1.0,
                                     alpha=0.8, zorder=1, gid="edges"))
    radius = 0.3 if n_units <= 10 else 0.22
    for i in range(n_units):
        dark = states is not None and values[i] == 1
        colour = "#1f1f1f" if dark else ("white" if states is not None else HIDDEN_COLOUR)
        _unit(ax, xy[i], radius, colour)
        ax.text(*(xy[i] * (1 + (radius + 0.22) / 1.6)), f"$s_{{{i + 1}}}$", ha="center", va="center",
                fontsize=10)
    mid = (xy[0] + xy[1]) / 2
    ax.text(*(mid * 1.18), "$w_{12} = w_{21}$", ha="left", va="bottom", fontsize=10, color="#1f4e79")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.4, 2.4)
    if title:
        ax.set_title(title)
    return ax


# One colour and one marker per kind of event, so that the kinds stay apart in grey-scale print too.
_KIND_STYLES = (("#1f77b4", "o"), ("#ff7f0e", "s"), ("#2ca02c", "^"), ("#d62728", "D"), ("#9467bd", "v"),
                ("#8c564b", "P"), ("#e377c2", "X"), ("#7f7f7f", "h"))


def _check_events(events, kinds: Mapping[str, str]) -> list[tuple[int, str, str]]:
    if not isinstance(kinds, Mapping) or not kinds or len(kinds) > len(_KIND_STYLES):
        raise ValueError(f"kinds must map 1 to {len(_KIND_STYLES)} kind names to legend labels, got {kinds!r}")
    checked = []
    for i, event in enumerate(events):
        if not isinstance(event, (tuple, list)) or len(event) != 3 or not isinstance(event[1], str):
            raise ValueError(f"events[{i}] must be a (year, label, kind) triple, got {event!r}")
        year = check_int(event[0], f"events[{i}] year")
        if event[2] not in kinds:
            raise ValueError(f"events[{i}] kind must be one of {list(kinds)}, got {event[2]!r}")
        checked.append((year, event[1], event[2]))
    if not checked:
        raise ValueError("events must hold at least one (year, label, kind) triple, got none")
    return sorted(checked, key=lambda e: e[0])


def draw_timeline(events: Sequence[tuple[int, str, str]], kinds: Mapping[str, str],
                  spans: Sequence[tuple[int, int, str]] = (), until: int | None = None, ax=None,
                  title: str | None = None):
    """Draw dated events as one row each: a marker at its year, its label in a column to the right.

    ``events`` are ``(year, label, kind)`` triples (sorted by year here); ``kinds`` maps each kind to
    its legend label (colour and marker per kind); ``spans`` are ``(start, end, label)`` periods drawn
    as grey bands. With ``until``, only events up to that year are drawn, on the same axes as the full
    timeline (so that a slider over ``until`` does not make the figure jump).
    """
    events = _check_events(events, kinds)
    if until is not None:
        until = check_int(until, "until")
    styles = dict(zip(kinds, _KIND_STYLES))
    if check_axes(ax) is None:
        fig = plt.figure(figsize=(10, 0.31 * len(events) + 1.8))
        ax = fig.add_axes((0.02, 0.1, 0.3, 0.84))
    first, last = events[0][0], events[-1][0]
    x_min, x_max = 10 * (first // 10) - 2, 10 * (last // 10 + 1) + 2
    guides = blended_transform_factory(ax.transAxes, ax.transData)  # x in axes fractions, y in rows
    for start, end, label in spans:
        ax.axvspan(start, end, color="0.88", zorder=0)
        ax.text((start + end) / 2, -1.0, label.replace(" ", "\n"), ha="center", va="center", fontsize=10,
                color="0.3")
    for row, (year, label, kind) in enumerate(events):
        if until is not None and year > until:
            continue
        colour, marker = styles[kind]
        ax.plot([year, x_max], [row, row], ls=":", lw=0.8, color="0.6", zorder=1)
        ax.plot(year, row, marker=marker, ls="", ms=7, color=colour, markeredgecolor="black",
                markeredgewidth=0.6, zorder=3, gid="event")
        ax.text(1.02, row, f"{year}  {label}", transform=guides, ha="left", va="center", fontsize=12.5,
                clip_on=False)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(len(events) - 0.4, -1.9)
    ax.set_yticks([])
    ax.xaxis.set_major_locator(plt.MultipleLocator(20))
    ax.tick_params(labelsize=11)
    ax.set_xlabel("year", fontsize=11)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    handles = [plt.Line2D([], [], marker=styles[k][1], ls="", ms=7, color=styles[k][0], markeredgecolor="black",
                          markeredgewidth=0.6, label=v) for k, v in kinds.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.06), ncol=2, fontsize=11.5,
              frameon=False)
    if title:
        ax.set_title(title, loc="left", fontsize=13)
    return ax


__all__ = [
    "draw_hopfield_network", "draw_layered_network", "draw_threshold_neuron", "draw_timeline", "edge_segments",
    "unit_circles", "visible_units",
]
