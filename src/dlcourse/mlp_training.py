"""Chapter 2: training an MLP by gradient descent, learning-rate schedules, and the MNIST recipes.

Vocabulary (seed 001, 3.2.3): an *iteration* (step) updates the weights once, from the gradient of
the cost on one batch; an *epoch* is one full pass over the training set. Batch gradient descent uses
all N examples per step (1 step per epoch), stochastic gradient descent one example (N steps per epoch),
mini-batch gradient descent B examples (ceil(N / B) steps per epoch).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .mlp import Params, init_mlp, loss_and_output_delta, mlp_backward, mlp_forward, mlp_predict

SCHEDULES = ("constant", "step", "exponential", "cosine")


def learning_rate(schedule: str, step: int, total_steps: int, lr0: float, gamma: float = 0.5,
                  n_drops: int = 3, final_ratio: float = 0.01, lr_min: float = 0.0) -> float:
    """The learning rate eta_k at step k = ``step`` of ``total_steps`` under a schedule.

    * "constant":    eta_k = eta_0
    * "step":        eta_k = eta_0 gamma^floor(k / s), with s = ceil(T / (n_drops + 1)): n_drops drops
    * "exponential": eta_k = eta_0 e^{-lambda k}, lambda = -ln(final_ratio) / T (seed 002, 2.3)
    * "cosine":      eta_k = eta_min + (eta_0 - eta_min) (1 + cos(pi k / T)) / 2
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if total_steps < 1 or not 0 <= step <= total_steps:
        raise ValueError(f"need total_steps >= 1 and 0 <= step <= total_steps, "
                         f"got step={step}, total_steps={total_steps}")
    if not lr0 > 0:
        raise ValueError(f"lr0 must be > 0, got {lr0}")
    if schedule == "constant":
        return float(lr0)
    if schedule == "step":
        return float(lr0 * gamma ** (step // math.ceil(total_steps / (n_drops + 1))))
    if schedule == "exponential":
        return float(lr0 * math.exp(math.log(final_ratio) * step / total_steps))
    return float(lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * step / total_steps)))


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch: a random permutation of 0..n-1 cut into batches of ``batch_size`` (the last may be smaller)."""
    if n < 1 or not 1 <= batch_size:
        raise ValueError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_numpy_mlp(X, targets, layer_sizes: Sequence[int], activation: str = "tanh",
                    loss: str = "cross_entropy", epochs: int = 10, batch_size: int = 32, lr: float = 0.1,
                    schedule: str = "constant", seed: int = 0, X_val=None, y_val=None,
                    record_steps: bool = True) -> tuple[Params, dict]:
    """Train the NumPy MLP by mini-batch gradient descent: W^l <- W^l - eta_k dC/dW^l on each batch.

    ``batch_size = len(X)`` is batch gradient descent, ``1`` is stochastic gradient descent.
    Returns the parameters and a history: "step_loss" (cost of each batch before its update),
    "epoch_loss" (cost on the whole training set after each epoch), "lr" (per step) and, with
    validation data, "val_acc" (per epoch). Deterministic for a given ``seed``.
    """
    X = np.asarray(X)
    X = X if X.dtype == np.float32 else X.astype(np.float64)  # float32 stays float32: twice as fast
    targets = np.asarray(targets)
    if X.ndim != 2 or len(targets) != len(X):
        raise ValueError(f"X must be (N, features) with one target per row, got X {X.shape}, targets {targets.shape}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    rng = np.random.default_rng(seed)
    params = [(W.astype(X.dtype), b.astype(X.dtype)) for W, b in init_mlp(layer_sizes, activation, seed)]
    total_steps = epochs * math.ceil(len(X) / batch_size)
    history: dict[str, list[float]] = {"step_loss": [], "epoch_loss": [], "lr": [], "val_acc": []}
    step = 0
    for _ in range(epochs):
        for batch in minibatch_indices(len(X), batch_size, rng):
            ZL, cache = mlp_forward(params, X[batch], activation)
            cost, delta_L = loss_and_output_delta(ZL, targets[batch], loss)
            grads = mlp_backward(params, cache, delta_L, activation)
            eta = learning_rate(schedule, step, total_steps, lr)
            params = [(W - eta * dW, b - eta * db) for (W, b), (dW, db) in zip(params, grads)]
            if record_steps:
                history["step_loss"].append(cost)
                history["lr"].append(eta)
            step += 1
        history["epoch_loss"].append(loss_and_output_delta(mlp_forward(params, X, activation)[0], targets, loss)[0])
        if X_val is not None:
            history["val_acc"].append(float(np.mean(mlp_predict(params, X_val, activation) == np.asarray(y_val))))
    return params, history


# --- the MNIST recipe in PyTorch -----------------------------------------------------------------------

class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed statistics of the training set (stored with the model)."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class RandomShift(nn.Module):
    """Training-time augmentation: move each 28x28 image by a random (dy, dx) in [-s, s]^2 pixels.

    Active only in ``train()`` mode; in ``eval()`` mode it is the identity. Pixels shifted in are 0.
    """

    def __init__(self, max_shift: int = 1, side: int = 28) -> None:
        super().__init__()
        self.max_shift, self.side = int(max_shift), int(side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.max_shift == 0:
            return x
        s, n = self.max_shift, x.shape[0]
        images = nn.functional.pad(x.reshape(n, self.side, self.side), (s, s, s, s))  # (N, side+2s, side+2s)
        offsets = torch.randint(0, 2 * s + 1, (n, 2), device=x.device)
        rows = offsets[:, 0, None] + torch.arange(self.side, device=x.device)  # (N, side)
        cols = offsets[:, 1, None] + torch.arange(self.side, device=x.device)
        out = images[torch.arange(n, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
        return out.reshape(n, -1)


def mnist_mlp(hidden: Sequence[int] = (512, 256), mean=0.0, std=1.0, max_shift: int = 1) -> nn.Sequential:
    """784 -> hidden... -> 10 ReLU MLP with input standardisation and random 1-pixel shifts when training."""
    layers: list[nn.Module] = [RandomShift(max_shift), Standardize(mean, std)]
    n_in = 784
    for width in hidden:
        layers += [nn.Linear(n_in, int(width)), nn.ReLU()]
        n_in = int(width)
    layers.append(nn.Linear(n_in, 10))
    return nn.Sequential(*layers)


def train_mnist_mlp(X_train, y_train, X_test, y_test, hidden: Sequence[int] = (512, 256), epochs: int = 20,
                    lr: float = 0.05, momentum: float = 0.9, batch_size: int = 64, max_shift: int = 1,
                    seed: int = 0, device=None, progress: bool = False):
    """Train :func:`mnist_mlp` with SGD + momentum and a cosine learning-rate schedule; returns (model, history).

    X: (N, 784) floats in [0, 1], y: (N,) labels. The history's "val" curves are measured on
    (X_test, y_test) after every epoch; nothing is tuned on them.
    """
    from .training import fit

    X_train = np.asarray(X_train, dtype=np.float32)
    if X_train.ndim != 2 or X_train.shape[1] != 784:
        raise ValueError(f"X_train must have shape (N, 784), got {X_train.shape}")
    torch.manual_seed(seed)
    model = mnist_mlp(hidden, X_train.mean(axis=0), X_train.std(), max_shift)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history = fit(model, (X_train, np.asarray(y_train)), nn.CrossEntropyLoss(), optimizer, epochs,
                  val_data=(np.asarray(X_test, dtype=np.float32), np.asarray(y_test)), batch_size=batch_size,
                  device=device, progress=progress, seed=seed, scheduler=scheduler)
    return model, history


def mnist_as_vectors(images) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 vectors (N, 784) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {images.shape}")
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def train_full_mnist(epochs: int = 30, hidden: Sequence[int] = (1024, 1024), batch_size: int = 128,
                     lr: float = 0.05, data=None, root=None, device=None, progress: bool = True, seed: int = 0):
    """The GPU-mode run: the MNIST recipe on all 60,000 training images, tested on the 10,000 test images.

    ``data`` = (train_images, train_labels, test_images, test_labels) with images (N, 28, 28) uint8;
    by default both splits come from :func:`dlcourse.data.load_mnist` (downloaded once, cached under
    ``root``). Returns (model, history, test_accuracy).
    """
    from .data import load_mnist
    from .training import evaluate

    if data is None:
        data = (*load_mnist("train", root=root), *load_mnist("test", root=root))
    train_images, train_labels, test_images, test_labels = data
    X_train, X_test = mnist_as_vectors(train_images), mnist_as_vectors(test_images)
    model, history = train_mnist_mlp(X_train, train_labels, X_test, test_labels, hidden=hidden, epochs=epochs,
                                     lr=lr, batch_size=batch_size, seed=seed, device=device, progress=progress)
    _, test_accuracy = evaluate(model, (X_test, np.asarray(test_labels)), device=device)
    return model, history, test_accuracy
