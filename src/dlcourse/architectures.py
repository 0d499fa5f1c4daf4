"""Chapter 4: a tour of CNN architectures, built on PyTorch's meta device so counting costs no memory.

``with torch.device("meta"):`` creates parameters that have shapes but no storage, so even VGG16's
138 million weights are counted instantly; :func:`layer_table` pushes a meta tensor through the model
to read every layer's output shape. The building blocks (LeNet-5, AlexNet, VGG16, an inception
block, a ResNet basic block, Network in Network, a dense block) follow the original papers; the small
ResNet for CIFAR-10 is what the GPU section trains.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .validation import check_float, check_int, check_positive_int


def count_parameters(model: nn.Module) -> int:
    """Number of learnable scalars: sum over parameters of their numel (works on the meta device)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


def on_meta(build: Callable[..., nn.Module], *args, **kwargs) -> nn.Module:
    """``build(*args, **kwargs)`` with every parameter on the meta device (shapes only, no memory)."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[tuple[str, tuple, int]]:
    """(name, output shape, own parameters) of each leaf layer for one input of ``input_shape`` (C, H, W).

    The input is a meta tensor on a meta model: nothing is computed, only shapes propagate.
    """
    shape = tuple(check_positive_int(s, "input_shape") for s in input_shape)
    rows: list[tuple[str, tuple, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if not list(module.children()):
            def record(mod, _inputs, output, name=name):
                rows.append((name, tuple(output.shape[1:]), sum(p.numel() for p in mod.parameters())))
            hooks.append(module.register_forward_hook(record))
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.empty((1, *shape), device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return rows


def conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    """Parameters of a k x k convolution: c_out (c_in k^2 + 1) with a bias, c_out c_in k^2 without."""
    c_in, c_out, k = (check_positive_int(v, n) for v, n in ((c_in, "c_in"), (c_out, "c_out"), (k, "k")))
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    return c_out * (c_in * k * k + int(bias))


# ---------------------------------------------------------------- classic networks

def lenet5(n_classes: int = 10) -> nn.Sequential:
    """LeNet-5, modern variant: 28x28 input padded to 32x32, ReLU, max pooling, full C3 (61,706 parameters).

    C1 6@28x28 (5x5) -> S2 6@14x14 -> C3 16@10x10 (5x5) -> S4 16@5x5 -> C5 120 -> F6 84 -> 10.
    LeCun et al. (1998) used tanh-like squashing, trainable subsampling and a sparse C3 table
    (Table I, 1,516 weights instead of 2,416), giving about 60,000 parameters.
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_classes))


def alexnet(n_classes: int = 1000) -> nn.Sequential:
    """AlexNet without the two-GPU grouping, on 227x227 RGB input: 62,378,344 parameters for 1000 classes."""
    n_classes = check_positive_int(n_classes, "n_classes")
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, n_classes))


VGG16_CHANNELS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg16(n_classes: int = 1000) -> nn.Sequential:
    """VGG16 (configuration D) on 224x224 RGB input: 13 3x3 convolutions, 3 FC layers, 138,357,544 parameters."""
    n_classes = check_positive_int(n_classes, "n_classes")
    layers: list[nn.Module] = []
    c_in = 3
    for block in VGG16_CHANNELS:
        for c_out in block:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
            c_in = c_out
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
               nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, n_classes)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- blocks

class Inception(nn.Module):
    """GoogLeNet's inception block: four parallel branches concatenated along the channels.

    1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1; the 1x1 "reductions" cut the channels
    before the expensive convolutions. Output channels: c1 + c3 + c5 + pool_proj.
    """

    def __init__(self, c_in: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int) -> None:
        super().__init__()
        c = [check_positive_int(v, "channels") for v in (c_in, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)]
        c_in, c1, c3_reduce, c3, c5_reduce, c5, pool_proj = c
        relu = nn.ReLU
        self.branch1 = nn.Sequential(nn.Conv2d(c_in, c1, 1), relu())
        self.branch3 = nn.Sequential(nn.Conv2d(c_in, c3_reduce, 1), relu(),
                                     nn.Conv2d(c3_reduce, c3, 3, padding=1), relu())
        self.branch5 = nn.Sequential(nn.Conv2d(c_in, c5_reduce, 1), relu(),
                                     nn.Conv2d(c5_reduce, c5, 5, padding=2), relu())
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         nn.Conv2d(c_in, pool_proj, 1), relu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class BasicBlock(nn.Module):
    """ResNet's basic block: y = relu(F(x) + shortcut(x)), F = conv3x3-BN-ReLU-conv3x3-BN.

    The shortcut is the identity, or a 1x1 convolution with stride + BN when the shape changes.
    Convolutions carry no bias: the batch norm after them has its own shift beta.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        c_in, c_out = check_positive_int(c_in, "c_in"), check_positive_int(c_out, "c_out")
        stride = check_positive_int(stride, "stride")
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def nin_block(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    """Network in Network's block: a k x k convolution then two 1x1 convolutions (a per-pixel MLP)."""
    c_in, c_out = check_positive_int(c_in, "c_in"), check_positive_int(c_out, "c_out")
    kernel, stride = check_positive_int(kernel, "kernel"), check_positive_int(stride, "stride")
    padding = check_int(padding, "padding", minimum=0)
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 1), nn.ReLU(), nn.Conv2d(c_out, c_out, 1), nn.ReLU())


class DenseBlock(nn.Module):
    """DenseNet's dense block: layer l sees the concatenation of the input and all earlier outputs.

    Each layer is BN-ReLU-conv3x3 adding ``growth`` channels: output channels c_in + n_layers growth.
    """

    def __init__(self, c_in: int, growth: int, n_layers: int) -> None:
        super().__init__()
        c_in, growth = check_positive_int(c_in, "c_in"), check_positive_int(growth, "growth")
        n_layers = check_positive_int(n_layers, "n_layers")
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(c_in + i * growth), nn.ReLU(),
                          nn.Conv2d(c_in + i * growth, growth, 3, padding=1, bias=False))
            for i in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)
        return x


def compound_scaling(phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> dict:
    """EfficientNet's compound scaling: depth alpha^phi, width beta^phi, resolution gamma^phi.

    With alpha beta^2 gamma^2 ~ 2 the cost (FLOPs, proportional to depth width^2 resolution^2) grows
    by about 2^phi. Returns the three multipliers and that FLOP factor.
    """
    phi = check_float(phi, "phi", minimum=0.0)
    alpha, beta, gamma = (check_float(v, n, minimum=1.0) for v, n in ((alpha, "alpha"), (beta, "beta"),
                                                                       (gamma, "gamma")))
    return {"depth": alpha ** phi, "width": beta ** phi, "resolution": gamma ** phi,
            "flops": (alpha * beta ** 2 * gamma ** 2) ** phi}


def cifar_resnet(widths: Sequence[int] = (64, 128, 256, 512), blocks_per_stage: int = 2,
                 n_classes: int = 10) -> nn.Sequential:
    """A ResNet for 32x32 images: a 3x3 stem, stages of BasicBlocks (stride 2 between), GAP, a linear head.

    The defaults are ResNet-18's widths and depth (about 11.2 million parameters).
    """
    widths = [check_positive_int(w, "widths") for w in widths]
    if not widths:
        raise ValueError("widths must hold at least one stage width")
    blocks_per_stage = check_positive_int(blocks_per_stage, "blocks_per_stage")
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                               nn.ReLU()]
    c_in = widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            layers.append(BasicBlock(c_in, width, stride=2 if stage > 0 and block == 0 else 1))
            c_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, check_positive_int(n_classes, "n_classes"))]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- diagrams

def draw_feature_maps(stack: Sequence[tuple[str, int, int]], ax=None, title: str = ""):
    """Draw a CNN as a row of feature-map boxes: each (label, channels, side) a box sized by its side.

    Returns the Axes; one box per entry, labelled "channels@side x side" and ``label``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    if not stack:
        raise ValueError("stack must hold at least one (label, channels, side) entry")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.2))
    biggest, x = max(side for _, _, side in stack), 0.0
    for k, (label, channels, side) in enumerate(stack):
        check_positive_int(channels, "channels"), check_positive_int(side, "side")
        h = 0.3 + 2.2 * side / biggest
        depth = min(0.15 + 0.04 * channels ** 0.5, 0.8)  # a thicker slab for more channels
        for layer in range(3):
            ax.add_patch(Rectangle((x + 0.08 * layer, -h / 2 + 0.08 * layer), depth, h, fc="#9ecae1"
                                   if side > 1 else "#fdae6b", ec="black", lw=1))
        ax.text(x + depth / 2, h / 2 + 0.35, f"{channels}@{side}x{side}" if side > 1 else f"{channels}",
                ha="center", fontsize=9)
        ax.text(x + depth / 2, -1.75, label, ha="center", fontsize=9)
        if k + 1 < len(stack):
            ax.add_patch(FancyArrowPatch((x + depth + 0.25, 0), (x + depth + 0.75, 0), arrowstyle="->",
                                         mutation_scale=12))
        x += depth + 1.0
    ax.set(xlim=(-0.3, x), ylim=(-2.1, 2.0), title=title)
    ax.axis("off")
    return ax


LENET5_STACK = (("input", 1, 32), ("C1 conv 5x5", 6, 28), ("S2 pool", 6, 14), ("C3 conv 5x5", 16, 10),
                ("S4 pool", 16, 5), ("C5 full", 120, 1), ("F6 full", 84, 1), ("output", 10, 1))


def draw_residual_block(ax=None):
    """Draw a ResNet basic block: two conv-BN stages on the main path and the identity skip around them."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.6))
    boxes = [("x", 0.0, 0.45), ("conv 3x3\nBN, ReLU", 2.1, 0.7), ("conv 3x3\nBN", 4.3, 0.7), ("+", 6.1, 0.3),
             ("ReLU", 7.5, 0.5)]  # (label, centre, half width)
    for label, x, half in boxes:
        if label == "+":
            ax.add_patch(Circle((x, 0), half, fc="#fdd0a2", ec="black"))
        else:
            ax.add_patch(FancyBboxPatch((x - half, -0.4), 2 * half, 0.8, boxstyle="round,pad=0.1",
                                        fc="#fdd0a2" if label == "x" else "#c6dbef", ec="black"))
        ax.text(x, 0, label, ha="center", va="center", fontsize=10)
    for (_, a, ha), (_, b, hb) in zip(boxes, boxes[1:]):
        ax.add_patch(FancyArrowPatch((a + ha + 0.15, 0), (b - hb - 0.15, 0), arrowstyle="->",
                                     mutation_scale=14))
    ax.add_patch(FancyArrowPatch((0.0, 0.55), (6.1, 0.35), connectionstyle="arc3,rad=-0.25",
                                 arrowstyle="->", mutation_scale=14, color="#d62728", lw=2))
    ax.text(3.1, 1.3, "identity shortcut: y = relu(F(x) + x)", ha="center", color="#d62728", fontsize=10)
    ax.text(3.2, -0.85, "residual branch F(x)", ha="center", fontsize=10)
    ax.set(xlim=(-0.7, 8.2), ylim=(-1.2, 1.6))
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
