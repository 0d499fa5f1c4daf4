"""Chapter 3's PyTorch recipes: MNIST MLPs with dropout, weight decay, batch norm and residual blocks.

Every experiment trains on a training set and measures on a validation set; nothing here looks at a
test set except :func:`train_full_mnist_deep` (and the GPU recipe), whose settings are fixed in advance.
Dropout is given as ``keep_prob`` (the probability of keeping a unit); ``nn.Dropout`` is built with
its drop probability p = 1 - keep_prob.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .mlp_training import RandomShift, Standardize
from .training import evaluate, fit
from .validation import (as_float_array, as_labels, check_bool, check_choice, check_float, check_int,
                         check_non_negative, check_positive, check_positive_int)

OPTIMISERS = ("sgd", "momentum", "adam", "adamw")


def _sizes(hidden, name: str = "hidden") -> list[int]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of layer widths, got {type(hidden).__name__}")
    return [check_positive_int(h, f"{name}[{i}]") for i, h in enumerate(hidden)]


def make_mlp(hidden: Sequence[int] = (256, 256), keep_prob: float = 1.0, batchnorm: bool = False,
             max_shift: int = 0, mean: float = 0.0, std: float = 1.0) -> nn.Sequential:
    """784 -> hidden... -> 10 ReLU MLP: Linear, [BatchNorm1d], ReLU, [Dropout(p = 1 - keep_prob)] per layer.

    ``max_shift`` > 0 adds random whole-pixel shifts of the input while training (augmentation);
    inputs are standardised with ``mean`` and ``std``.
    """
    widths = _sizes(hidden)
    keep_prob = check_float(keep_prob, "keep_prob", minimum=0.0, maximum=1.0, strict_minimum=True)
    batchnorm = check_bool(batchnorm, "batchnorm")
    layers: list[nn.Module] = [RandomShift(max_shift), Standardize(mean, std)]
    n_in = 784
    for width in widths:
        layers.append(nn.Linear(n_in, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if keep_prob < 1.0:
            layers.append(nn.Dropout(p=1.0 - keep_prob))  # torch's p is the DROP probability
        n_in = width
    layers.append(nn.Linear(n_in, 10))
    return nn.Sequential(*layers)


class DeepMLP(nn.Module):
    """784 -> width, then ``depth`` square layers (plain h = f(W h + b) or residual h = h + f(W h + b)), -> 10.

    Weights are Xavier-normal, biases zero. ``layer_grad_norms`` reads ||dL/dW|| of the square layers.
    """

    def __init__(self, depth: int = 20, width: int = 64, activation: str = "tanh", residual: bool = False):
        super().__init__()
        depth, width = check_positive_int(depth, "depth"), check_positive_int(width, "width")
        self.act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[
            check_choice(activation, "activation", ("tanh", "relu", "sigmoid"))]
        self.residual = check_bool(residual, "residual")
        self.inp, self.out = nn.Linear(784, width), nn.Linear(width, 10)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in [self.inp, *self.blocks, self.out]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + self.act(block(h)) if self.residual else self.act(block(h))
        return self.out(h)

    def layer_grad_norms(self) -> np.ndarray:
        """||dL/dW^l|| of the square layers after a backward pass, first layer first; (depth,)."""
        return np.array([float(b.weight.grad.norm()) if b.weight.grad is not None else np.nan
                         for b in self.blocks])


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """torch.optim optimiser by name: 'sgd', 'momentum' (0.9), 'adam' (L2 in the gradient), 'adamw' (decoupled)."""
    name = check_choice(name, "optimizer", OPTIMISERS)
    lr, weight_decay = check_positive(lr, "lr"), check_non_negative(weight_decay, "weight_decay")
    if name in ("sgd", "momentum"):
        return torch.optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0,
                               weight_decay=weight_decay)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, weight_decay=weight_decay)


def train_model(model: nn.Module, train, val, epochs: int = 10, lr: float = 0.05, optimizer: str = "momentum",
                weight_decay: float = 0.0, batch_size: int = 64, seed: int = 0, device=None):
    """Train ``model`` on ``train`` = (X (N, 784), y (N,)) with cross-entropy; validate on ``val`` each epoch.

    Returns the :class:`dlcourse.training.History` (train and validation loss and accuracy per epoch).
    """
    X_train, y_train = _xy(train, "train")
    X_val, y_val = _xy(val, "val")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    return fit(model, (X_train, y_train), nn.CrossEntropyLoss(), opt, check_positive_int(epochs, "epochs"),
               val_data=(X_val, y_val), batch_size=batch_size, device=device, progress=False, seed=seed)


def _xy(pair, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{name} must be a pair (X, y), got {type(pair).__name__}")
    X = as_float_array(pair[0], f"{name} X", ndim=2).astype(np.float32)
    if X.shape[1] != 784 or len(X) == 0:
        raise ValueError(f"{name} X must have shape (N, 784) with N >= 1, got {X.shape}")
    return X, as_labels(pair[1], f"{name} y", 10, len(X))


def gradient_norms_on_batch(model: DeepMLP, X, y) -> np.ndarray:
    """||dL/dW^l|| per square layer of ``model`` for the mean cross-entropy on one batch (X (N, 784), y (N,))."""
    X, y = _xy((X, y), "batch")
    model.zero_grad()
    nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    return model.layer_grad_norms()


def interpolation_losses(start: dict, end: dict, model: nn.Module, X, y, alphas) -> np.ndarray:
    """Loss along the line theta(a) = (1 - a) theta_start + a theta_end (Goodfellow et al. 2015); (len(alphas),).

    ``start``/``end``: state dicts of ``model``'s architecture; the loss is the mean cross-entropy on (X, y)
    in evaluation mode.
    """
    X, y = _xy((X, y), "data")
    alphas = as_float_array(alphas, "alphas", ndim=1, allow_empty=False)
    losses = []
    for a in alphas:
        mixed = {k: (1 - a) * start[k] + a * end[k] if start[k].is_floating_point() else end[k] for k in start}
        model.load_state_dict(mixed)
        loss, _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
        losses.append(loss)
    model.load_state_dict(end)
    return np.array(losses)


def filter_normalised_direction(state: dict, seed: int = 0) -> dict:
    """A random direction in weight space, scaled filter by filter (Li et al. 2018).

    For every weight matrix W (a "filter" is a row: one unit's incoming weights), draw d ~ N(0, I) of
    W's shape and rescale each row so that ||d_j|| = ||W_j||; biases and batch-norm parameters (1-D
    tensors) get a zero direction, as in the paper. The slice then has the same scale in every layer.
    """
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    direction = {}
    for name, weight in state.items():
        if not weight.is_floating_point() or weight.ndim < 2:
            direction[name] = torch.zeros_like(weight)
            continue
        d = torch.randn(weight.shape, generator=generator, dtype=weight.dtype)
        rows, w_rows = d.reshape(len(d), -1), weight.reshape(len(weight), -1)  # (n_out, n_in)
        scale = w_rows.norm(dim=1, keepdim=True) / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        direction[name] = (rows * scale).reshape(weight.shape)
    return direction


def loss_surface(model: nn.Module, centre: dict, d1: dict, d2: dict, X, y, span: float = 1.0,
                 steps: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Loss on the plane theta(a, b) = centre + a d1 + b d2 for a, b in [-span, span]; (coords, (steps, steps)).

    ``losses[i, j]`` is the mean cross-entropy on (X, y), in evaluation mode, at a = coords[j], b = coords[i].
    ``model`` is left holding ``centre``.
    """
    X, y = _xy((X, y), "data")
    span, steps = check_positive(span, "span"), check_positive_int(steps, "steps")
    for name, direction in (("d1", d1), ("d2", d2)):
        if set(direction) != set(centre):
            raise ValueError(f"{name} must have the keys of centre (a state dict of the same model)")
    coords = np.linspace(-span, span, steps)
    losses = np.empty((steps, steps))
    for i, b in enumerate(coords):
        for j, a in enumerate(coords):
            point = {k: centre[k] + a * d1[k] + b * d2[k] if centre[k].is_floating_point() else centre[k]
                     for k in centre}
            model.load_state_dict(point)
            losses[i, j], _ = evaluate(model, (X, y), nn.CrossEntropyLoss())
    model.load_state_dict(centre)
    return coords, losses


# ---------------------------------------------------------------- the GPU ("full") run


def train_full_mnist_deep(epochs: int = 30, data=None, root=None, device=None, seed: int = 0) -> tuple:
    """784-1024-1024-1024-10 with batch norm, dropout (keep 0.8) and 1-pixel shifts on all of MNIST.

    Settings fixed in advance (SGD momentum 0.9, lr 0.05, weight decay 5e-4, batch 128); ``data`` =
    (train_images, train_labels, test_images, test_labels), (N, 28, 28) uint8, by default downloaded
    by :func:`dlcourse.data.load_mnist`. Returns (model, history, test_accuracy).
    """
    from .data import load_mnist
    from .mlp_training import mnist_as_vectors

    epochs = check_positive_int(epochs, "epochs")
    check_int(seed, "seed", minimum=0)
    if data is None:
        data = (*load_mnist("train", root=root), *load_mnist("test", root=root))
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be (train_images, train_labels, test_images, test_labels)")
    X_train, X_test = mnist_as_vectors(data[0]), mnist_as_vectors(data[2])
    y_train, y_test = as_labels(data[1], "train_labels", 10), as_labels(data[3], "test_labels", 10)
    torch.manual_seed(seed)
    model = make_mlp((1024, 1024, 1024), keep_prob=0.8, batchnorm=True, max_shift=1,
                     mean=float(X_train.mean()), std=float(X_train.std()))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    history = fit(model, (X_train, y_train), nn.CrossEntropyLoss(), opt, epochs, batch_size=128, device=device,
                  progress=False, seed=seed, scheduler=scheduler)
    _, accuracy = evaluate(model, (X_test, y_test), device=device)
    return model, history, accuracy


def _gpu_deep_mnist(device, offline: bool = False, tiny: bool = False) -> dict:
    """Chapter 3's GPU section as one measured run (``benchmarks/gpu_sections.py``); bar: 98.5% test accuracy.

    ``tiny``: 256 random images, one epoch (checks the path on a CPU); ``offline``: MNIST-5k, not the full set.
    """
    from .mlp_training import gpu_recipe_mnist

    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=30)
    start = time.perf_counter()
    _, _, accuracy = train_full_mnist_deep(epochs=epochs, data=data, device=device)
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(accuracy), "bar": 0.985}


GPU_RECIPES = {"03_training.deep_mnist_bn_dropout": _gpu_deep_mnist}
