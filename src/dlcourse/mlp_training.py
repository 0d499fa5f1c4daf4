"""Chapter 2: training an MLP by gradient descent, learning-rate schedules, and the MNIST recipes.

Vocabulary (Didoni 2022, sec. 3.2.3): an *iteration* (step) updates the weights once, from the gradient
of the cost on one batch; an *epoch* is one full pass over the training set. Batch gradient descent uses
all N examples per step (1 step per epoch), stochastic gradient descent one example (N steps per epoch),
mini-batch gradient descent B examples (ceil(N / B) steps per epoch).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .activations import _as_real
from .mlp import (Params, _as_batch, _as_sizes, _as_targets, _backward, _forward, _loss_and_delta, _predict,
                  init_mlp)
from .validation import (as_array, check_bool, as_float_array, as_labels, check_choice, check_float, check_int,
                         check_positive, check_positive_int)

SCHEDULES = ("constant", "step", "exponential", "cosine")


def learning_rate(schedule: str, step: int, total_steps: int, lr0: float, gamma: float = 0.5,
                  n_drops: int = 3, final_ratio: float = 0.01, lr_min: float = 0.0) -> float:
    """The learning rate eta_k at step k = ``step`` of ``total_steps`` under a schedule.

    * "constant":    eta_k = eta_0
    * "step":        eta_k = eta_0 gamma^floor(k / s), with s = ceil(T / (n_drops + 1)): n_drops drops
    * "exponential": eta_k = eta_0 e^{-lambda k}, lambda = -ln(final_ratio) / T (Barcelo Ordinas et al. 2024)
    * "cosine":      eta_k = eta_min + (eta_0 - eta_min) (1 + cos(pi k / T)) / 2

    Every schedule decays: 0 < gamma <= 1, 0 < final_ratio <= 1 and 0 <= lr_min <= lr0.
    """
    schedule = check_choice(schedule, "schedule", SCHEDULES)
    total_steps = check_positive_int(total_steps, "total_steps")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step <= total_steps:
        raise ValueError(f"need total_steps >= 1 and an integer 0 <= step <= total_steps, "
                         f"got step={step!r}, total_steps={total_steps}")
    lr0 = check_positive(lr0, "lr0")
    gamma = check_float(gamma, "gamma", minimum=0.0, maximum=1.0, strict_minimum=True)
    n_drops = check_int(n_drops, "n_drops", minimum=0)
    final_ratio = check_float(final_ratio, "final_ratio", minimum=0.0, maximum=1.0, strict_minimum=True)
    lr_min = check_float(lr_min, "lr_min", minimum=0.0, maximum=lr0)
    if schedule == "constant":
        return lr0
    if schedule == "step":
        return float(lr0 * gamma ** (step // math.ceil(total_steps / (n_drops + 1))))
    if schedule == "exponential":
        return float(lr0 * math.exp(math.log(final_ratio) * step / total_steps))
    return float(lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * step / total_steps)))


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch: a random permutation of 0..n-1 cut into batches of ``batch_size`` (the last may be smaller)."""
    n, batch_size = check_positive_int(n, "n"), check_positive_int(batch_size, "batch_size")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _validation_set(X_val, y_val, n_inputs: int, n_outputs: int):
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is None:
        return None, None
    X_val = _as_real(X_val, "X_val", shape=(None, n_inputs), allow_empty=False)
    return X_val, as_labels(y_val, "y_val", max(n_outputs, 2), len(X_val))


def train_numpy_mlp(X, targets, layer_sizes: Sequence[int], activation: str = "tanh",
                    loss: str = "cross_entropy", epochs: int = 10, batch_size: int = 32, lr: float = 0.1,
                    schedule: str = "constant", seed: int = 0, X_val=None, y_val=None,
                    record_steps: bool = True) -> tuple[Params, dict]:
    """Train the NumPy MLP by mini-batch gradient descent: W^l <- W^l - eta_k dC/dW^l on each batch.

    ``batch_size = len(X)`` is batch gradient descent, ``1`` is stochastic gradient descent.
    X: (N, layer_sizes[0]); targets as :func:`dlcourse.mlp.loss_and_output_delta` takes them; y_val:
    (N_val,) integer labels. Returns the parameters and a history: "step_loss" (cost of each batch
    before its update), "epoch_loss" (cost on the whole training set after each epoch), "lr" (per step)
    and, with validation data, "val_acc" (per epoch). Deterministic for a given ``seed``; float32 X
    trains in float32. Raises ValueError when the weights stop being finite (a learning rate too large).
    """
    X = _as_batch(X)  # float32 stays float32: twice as fast
    sizes = _as_sizes(layer_sizes, "layer_sizes")
    if sizes[0] != X.shape[1]:
        raise ValueError(f"layer_sizes[0] must be the number of input features {X.shape[1]}, got {sizes[0]}")
    T = _as_targets(targets, (len(X), sizes[-1]), loss)
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    lr, schedule = check_positive(lr, "lr"), check_choice(schedule, "schedule", SCHEDULES)
    X_val, y_val = _validation_set(X_val, y_val, sizes[0], sizes[-1])
    record_steps = check_bool(record_steps, "record_steps")
    params = [(W.astype(X.dtype), b.astype(X.dtype)) for W, b in init_mlp(sizes, activation, seed)]
    rng = np.random.default_rng(seed)
    total_steps = epochs * math.ceil(len(X) / batch_size)
    history: dict[str, list[float]] = {"step_loss": [], "epoch_loss": [], "lr": [], "val_acc": []}
    step = 0
    for _ in range(epochs):
        for batch in minibatch_indices(len(X), batch_size, rng):
            ZL, cache = _forward(params, X[batch], activation)
            cost, delta_L = _loss_and_delta(ZL, T[batch], loss)
            grads = _backward(params, cache, delta_L, activation)
            eta = learning_rate(schedule, step, total_steps, lr)
            params = [(W - eta * dW, b - eta * db) for (W, b), (dW, db) in zip(params, grads)]
            if not all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in params):
                raise ValueError(f"training diverged at step {step}: the weights are no longer finite "
                                 f"(batch cost {cost:.3g}); try a smaller learning rate than lr={lr}")
            if record_steps:
                history["step_loss"].append(cost)
                history["lr"].append(eta)
            step += 1
        history["epoch_loss"].append(_loss_and_delta(_forward(params, X, activation)[0], T, loss)[0])
        if X_val is not None:
            history["val_acc"].append(float(np.mean(_predict(_forward(params, X_val, activation)[0]) == y_val)))
    return params, history


# --- the MNIST recipe in PyTorch -----------------------------------------------------------------------

class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed statistics of the training set (stored with the model).

    mean and std: numbers or arrays that broadcast against one input row (e.g. (784,)); std > 0.
    """

    def __init__(self, mean, std) -> None:
        super().__init__()
        mean, std = as_float_array(mean, "mean"), as_float_array(std, "std")
        if std.size == 0 or np.any(std <= 0):
            raise ValueError("std must be > 0 everywhere (a constant pixel has std 0: use one std for all "
                             f"pixels, or add a small epsilon), got values from {std.min(initial=0):.3g}")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = max(self.mean.numel(), self.std.numel())
        if width > 1 and (x.ndim == 0 or x.shape[-1] != width):
            raise ValueError(f"Standardize holds statistics of {width} features, got input of shape {tuple(x.shape)}")
        return (x - self.mean) / self.std


class RandomShift(nn.Module):
    """Training-time augmentation: move each 28x28 image by a random (dy, dx) in [-s, s]^2 pixels.

    Active only in ``train()`` mode; in ``eval()`` mode it is the identity. Pixels shifted in are 0.
    Input: (N, side * side) flattened images; 0 <= max_shift < side.
    """

    def __init__(self, max_shift: int = 1, side: int = 28) -> None:
        super().__init__()
        self.side = check_positive_int(side, "side")
        self.max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=self.side - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.side * self.side:
            raise ValueError(f"RandomShift needs flattened images of shape (N, {self.side * self.side}), "
                             f"got {tuple(x.shape)}")
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
    widths = _as_sizes(hidden, "hidden", min_len=0)
    layers: list[nn.Module] = [RandomShift(max_shift), Standardize(mean, std)]
    n_in = 784
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    layers.append(nn.Linear(n_in, 10))
    return nn.Sequential(*layers)


def _pixels(X, name: str) -> np.ndarray:
    """Flattened images (N, 784) with values in [0, 1], as float32."""
    X = as_float_array(X, name, shape=(None, 784), allow_empty=False)
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"{name} must hold pixel values in [0, 1] (mnist_as_vectors scales uint8 images), "
                         f"got values from {X.min():.4g} to {X.max():.4g}")
    return X.astype(np.float32)


def train_mnist_mlp(X_train, y_train, X_val, y_val, hidden: Sequence[int] = (512, 256), epochs: int = 20,
                    lr: float = 0.05, momentum: float = 0.9, batch_size: int = 64, max_shift: int = 1,
                    seed: int = 0, device=None, progress: bool = False):
    """Train :func:`mnist_mlp` with SGD + momentum and a cosine learning-rate schedule; returns (model, history).

    X: (N, 784) floats in [0, 1], y: (N,) labels in 0..9. The history's "val" curves are measured on
    (X_val, y_val) after every epoch: pass a validation split to choose settings on, never the test set.
    """
    from .training import fit

    X_train, X_val = _pixels(X_train, "X_train"), _pixels(X_val, "X_val")
    y_train, y_val = as_labels(y_train, "y_train", 10, len(X_train)), as_labels(y_val, "y_val", 10, len(X_val))
    epochs, lr = check_positive_int(epochs, "epochs"), check_positive(lr, "lr")
    momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0, strict_maximum=True)
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = mnist_mlp(hidden, X_train.mean(axis=0), X_train.std(), max_shift)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history = fit(model, (X_train, y_train), nn.CrossEntropyLoss(), optimizer, epochs, val_data=(X_val, y_val),
                  batch_size=batch_size, device=device, progress=progress, seed=seed, scheduler=scheduler)
    return model, history


def mnist_as_vectors(images) -> np.ndarray:
    """Integer images (N, 28, 28) with pixel values 0..255 (uint8, as loaded) -> float32 vectors (N, 784) in [0, 1].

    Float images are refused: they are usually scaled already, and dividing by 255 again would
    silently make them almost black.
    """
    array = as_array(images, "images", kind="any", allow_empty=False)
    if array.dtype.kind not in "iu":
        raise ValueError(f"images must be integer pixel values 0..255 (uint8, as load_mnist returns), got dtype "
                         f"{array.dtype}; float images are usually in [0, 1] already: reshape them to (N, 784)")
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {array.shape}")
    if array.min() < 0 or array.max() > 255:
        raise ValueError(f"images must hold pixel values 0..255, got values from {array.min()} to {array.max()}")
    return array.reshape(len(array), -1).astype(np.float32) / np.float32(255.0)


def train_full_mnist(epochs: int = 30, hidden: Sequence[int] = (1024, 1024), batch_size: int = 128,
                     lr: float = 0.05, data=None, root=None, device=None, progress: bool = True, seed: int = 0,
                     val_size: int = 5000):
    """The GPU-mode run: the MNIST recipe on the 60,000 training images, tested once on the 10,000 test images.

    ``val_size`` of the training images (stratified) are held out: the history's "val" curves are
    measured on them, never on the test set, which is evaluated once at the end.
    ``data`` = (train_images, train_labels, test_images, test_labels) with images (N, 28, 28) uint8;
    by default both splits come from :func:`dlcourse.data.load_mnist` (downloaded once, cached under
    ``root``). Returns (model, history, test_accuracy).
    """
    from .data import load_mnist, stratified_split
    from .training import evaluate

    # check the arguments before a download, not after
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive(lr, "lr")
    check_int(seed, "seed", minimum=0)
    val_size = check_positive_int(val_size, "val_size")
    _as_sizes(hidden, "hidden", min_len=0)
    if data is not None and (not isinstance(data, (tuple, list)) or len(data) != 4):
        raise ValueError("data must be (train_images, train_labels, test_images, test_labels)")
    if data is None:
        data = (*load_mnist("train", root=root), *load_mnist("test", root=root))
    train_images, train_labels, test_images, test_labels = data
    X_pool, X_test = mnist_as_vectors(train_images), mnist_as_vectors(test_images)
    y_pool = as_labels(train_labels, "train_labels", 10, len(X_pool))
    if val_size >= len(y_pool):
        raise ValueError(f"val_size must be smaller than the {len(y_pool)} training images, got {val_size}")
    fit_idx, val_idx = stratified_split(y_pool, val_size, seed)
    model, history = train_mnist_mlp(X_pool[fit_idx], y_pool[fit_idx], X_pool[val_idx], y_pool[val_idx],
                                     hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                     device=device, progress=progress)
    _, test_accuracy = evaluate(model, (X_test, as_labels(test_labels, "test_labels", 10)), device=device)
    return model, history, test_accuracy


def gpu_recipe_mnist(offline: bool = False, tiny: bool = False, epochs: int = 30, download: bool = False):
    """The data of a GPU recipe on MNIST: (train_images, train_labels, test_images, test_labels) or None.

    ``tiny``: 256/64 random uint8 images and one epoch, to check a recipe's path on a CPU in seconds;
    ``offline``: the MNIST-5k subset as uint8 images (so its figures are NOT full-MNIST figures);
    otherwise the full set: None (the recipe downloads it) or, with ``download``, the loaded arrays.
    Returns (data, dataset name, epochs).
    """
    from .data import load_mnist, load_mnist_5k

    offline, tiny, download = (check_bool(offline, "offline"), check_bool(tiny, "tiny"),
                               check_bool(download, "download"))
    epochs = check_positive_int(epochs, "epochs")
    if tiny:
        rng = np.random.default_rng(0)
        data = (rng.integers(0, 256, (256, 28, 28), dtype=np.uint8), np.arange(256) % 10,
                rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64))
        return data, "random 256/64 (tiny)", 1
    if offline:
        X_train, y_train, X_test, y_test = load_mnist_5k()
        as_images = lambda X: np.rint(X * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
        return (as_images(X_train), y_train, as_images(X_test), y_test), "MNIST-5k (offline)", epochs
    data = (*load_mnist("train"), *load_mnist("test")) if download else None
    return data, "MNIST 60k/10k", epochs


def _gpu_full_mnist(device, offline: bool = False, tiny: bool = False) -> dict:
    """Chapter 2's GPU section as one measured run (used by ``benchmarks/gpu_sections.py``); see gpu_recipe_mnist."""
    import time

    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=30)
    start = time.perf_counter()
    val_size = 64 if tiny else (500 if offline else 5000)
    _, _, accuracy = train_full_mnist(epochs=epochs, data=data, device=device, progress=False, val_size=val_size)
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(accuracy), "bar": 0.98}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"02_mlp.full_mnist_mlp": _gpu_full_mnist}
