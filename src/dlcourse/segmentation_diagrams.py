"""Chapter 5 figures: small matrices with their numbers, label maps in colour, and the U-Net diagram."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from .unet import unet_sizes
from .validation import as_float_array, as_int_array, check_axes, check_bool, check_int, check_positive_int

# background, square, disc, triangle, digit: dark grey and four well-separated hues
CLASS_COLOURS = ("#303030", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def colorize(mask, colours=CLASS_COLOURS) -> np.ndarray:
    """A label map (H, W) of class ids -> an RGB image (H, W, 3) with one colour per class."""
    mask = as_int_array(mask, "mask", ndim=2)
    if mask.size and (mask.min() < 0 or mask.max() >= len(colours)):
        raise ValueError(f"mask must hold class ids in 0..{len(colours) - 1}, got {mask.min()} to {mask.max()}")
    table = np.array([plt.matplotlib.colors.to_rgb(c) for c in colours])
    return table[mask]


def plot_matrices(matrices, titles) -> plt.Figure:
    """Small matrices side by side (at most 3), each cell labelled with its value."""
    mats = [as_float_array(m, "matrices", ndim=2, allow_empty=False) for m in matrices]
    if not 1 <= len(mats) <= 3 or len(titles) != len(mats):
        raise ValueError(f"give 1 to 3 matrices and one title each, got {len(mats)} and {len(titles)}")
    fig, axes = plt.subplots(1, len(mats), figsize=(3.1 * len(mats), 3.0), squeeze=False)
    for ax, m, title in zip(axes[0], mats, titles):
        ax.imshow(m, cmap="Blues", vmin=min(0, m.min()), vmax=max(m.max(), 1e-9))
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=10,
                    color="white" if v > 0.6 * m.max() else "black")
        ax.set(title=title, xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def plot_segmentations(images, rows: dict, titles, class_names) -> plt.Figure:
    """One row per scene: the input, then each label map of ``rows`` (name -> (N, H, W)) over it."""
    images = as_float_array(images, "images", ndim=3, allow_empty=False)
    maps = {name: as_int_array(m, name, shape=images.shape) for name, m in rows.items()}
    if not 1 <= len(maps) <= 2 or len(titles) != len(images):
        raise ValueError("give one or two label-map rows and one title per image")
    n_cols = 1 + len(maps)
    fig, axes = plt.subplots(len(images), n_cols, figsize=(2.6 * n_cols, 2.5 * len(images) + 0.5), squeeze=False)
    for r, image in enumerate(images):
        axes[r, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(titles[r], fontsize=9)
        for c, (name, m) in enumerate(maps.items(), start=1):
            axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[r, c].imshow(colorize(m[r]), alpha=0.55)
            axes[r, c].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    handles = [Patch(color=CLASS_COLOURS[k], label=n) for k, n in enumerate(class_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _box(ax, x, y, w, h, colour, label):
    ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="black", lw=0.8))
    ax.text(x + w / 2, y - 0.25, label, ha="center", va="top", fontsize=7)


def _arrow(ax, start, end, colour, style="-|>"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, color=colour, lw=1.3))


def draw_unet(depth: int = 2, width: int = 8, input_size: int = 48, valid: bool = False, ax=None):
    """Draw a U-Net: one box per feature map (height ~ side, width ~ channels), with its arrows.

    Blue arrows: 3x3 conv + ReLU; red: 2x2 max-pool; green: 2x2 up-convolution; grey: copy (and crop,
    when valid) of the pre-pooling map into the decoder; black: the 1x1 output convolution.
    Returns the Axes; ``ax.patches`` holds the boxes and arrows.
    """
    depth, width = check_int(depth, "depth", minimum=1, maximum=5), check_positive_int(width, "width")
    valid, ax = check_bool(valid, "valid"), check_axes(ax)
    if valid:
        sides = dict(unet_sizes(input_size, depth))
    else:
        if check_positive_int(input_size, "input_size") % 2 ** depth:
            raise ValueError(f"input_size must be divisible by 2^depth = {2 ** depth} with padded convs, "
                             f"got {input_size}")
        sides = {f"{part}{level}.conv{k}": input_size // 2 ** level for part in ("enc", "dec")
                 for level in range(depth + 1) for k in (1, 2)}
        sides.update({f"up{level + 1}": input_size // 2 ** level for level in range(depth)})
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.6))
    step, level_y = 1.3, lambda level: -2.2 * level
    height = lambda level: 1.6 / (1 + 0.35 * level)  # noqa: E731 - boxes shrink as the maps do
    x = 0.0
    enc_x = {}
    for level in range(depth + 1):                       # the contracting path, left to right and down
        c = width * 2 ** level
        y = level_y(level)
        for k in (1, 2):
            _box(ax, x, y, 0.25, height(level), "#9ecae1", f"{c}\n{sides[f'enc{level}.conv{k}']}²")
            if k == 1 and level == 0:
                _box(ax, x - step, y, 0.08, height(0), "white", f"input\n{sides['input'] if valid else input_size}²")
                _arrow(ax, (x - step + 0.08, y + height(level) / 2), (x, y + height(level) / 2), "#1f77b4")
            if k == 2:
                _arrow(ax, (x - step + 0.25, y + height(level) / 2), (x, y + height(level) / 2), "#1f77b4")
                enc_x[level] = x
            x += step if k == 1 else 0
        if level < depth:
            _arrow(ax, (x + 0.12, y), (x + 0.12 + step / 2, level_y(level + 1) + height(level + 1)), "#d62728")
            x += step / 2 + 0.12
    for level in reversed(range(depth)):                 # the expanding path, left to right and up
        c, y = width * 2 ** level, level_y(level)
        x += step / 2
        _arrow(ax, (x - step / 2 + 0.25, level_y(level + 1) + height(level + 1)), (x, y), "#2ca02c")
        _box(ax, x, y, 0.25, height(level), "#c7e9c0", f"{c}\n{sides[f'up{level + 1}']}²")
        _arrow(ax, (enc_x[level] + 0.25, y + height(level) * 0.8), (x, y + height(level) * 0.8), "#7f7f7f")
        for k in (1, 2):
            x += step
            _box(ax, x, y, 0.25, height(level), "#fdd0a2", f"{c}\n{sides[f'dec{level}.conv{k}']}²")
            _arrow(ax, (x - step + 0.25, y + height(level) / 2), (x, y + height(level) / 2), "#1f77b4")
    _arrow(ax, (x + 0.25, height(0) / 2), (x + 0.9, height(0) / 2), "black")
    ax.text(x + 1.0, height(0) / 2, "1x1 conv\nK scores\nper pixel", va="center", fontsize=7)
    legend = [("3x3 conv + ReLU", "#1f77b4"), ("2x2 max-pool", "#d62728"), ("2x2 up-conv", "#2ca02c"),
              ("copy and crop" if valid else "copy (skip)", "#7f7f7f")]
    ax.legend(handles=[Patch(color=c, label=t) for t, c in legend], loc="lower right", fontsize=8)
    ax.set(xlim=(-step - 0.5, x + 2.2), ylim=(level_y(depth) - 1.0, 2.2), aspect="equal")
    ax.axis("off")
    ax.set_title(f"U-Net, depth {depth}, {'valid' if valid else 'padded'} convolutions: "
                 "channels and side under each map", fontsize=9)
    return ax
