"""One small training loop for the whole course: ``fit`` with a tqdm progress bar, ``evaluate``, and a history.

Chapters that teach training write their loop inline; the others call :func:`fit`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .config import get_device


@dataclass
class History:
    """Per-epoch metrics recorded by :func:`fit`."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _as_tensor(values, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor):
        raise ValueError(f"{name} must be a NumPy array or a torch tensor, got {type(values).__name__}")
    return values.to(dtype) if dtype is not None else values


def make_loader(X, y, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """A DataLoader over ``(X, y)``; float inputs become float32 and integer labels int64."""
    X, y = _as_tensor(X, "X"), _as_tensor(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if X.is_floating_point():
        X = X.float()
    if not y.is_floating_point():
        y = y.long()
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=generator)


def _loader(data, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("data must be a DataLoader or a pair (X, y)")
    return make_loader(data[0], data[1], batch_size=batch_size, shuffle=shuffle, seed=seed)


def _correct(output: torch.Tensor, target: torch.Tensor) -> int:
    """Correct predictions in a batch: argmax for class scores, threshold 0 for one logit per sample."""
    if target.is_floating_point():
        if output.shape != target.shape:  # regression or mismatched shapes: accuracy is not defined
            return 0
        return int(((output > 0).float() == target).sum())
    return int((output.argmax(dim=1) == target).sum())


@torch.no_grad()
def evaluate(model: nn.Module, data, loss_fn: Callable | None = None, batch_size: int = 512, device=None):
    """Mean loss (``nan`` without ``loss_fn``) and accuracy of ``model`` on ``(X, y)`` or a DataLoader."""
    device = get_device() if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for xb, yb in _loader(data, batch_size, False, 0):
        xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
        if loss_fn is not None:
            loss_sum += float(loss_fn(out, yb)) * len(xb)
        correct += _correct(out, yb)
        total += len(xb)
    model.train(was_training)
    return (loss_sum / total if loss_fn is not None else float("nan")), correct / total


def fit(model: nn.Module, train_data, loss_fn: Callable, optimizer: torch.optim.Optimizer, epochs: int,
        val_data=None, batch_size: int = 64, device=None, progress: bool = True, seed: int = 0,
        scheduler=None) -> History:
    """Train ``model`` for ``epochs`` full passes over ``train_data``; return the :class:`History`.

    ``train_data``/``val_data`` are ``(X, y)`` pairs (arrays or tensors) or DataLoaders. The training
    loss and accuracy of an epoch are averaged over its mini-batches as they were seen.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    device = get_device() if device is None else torch.device(device)
    model.to(device)
    loader = _loader(train_data, batch_size, True, seed)
    history = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=True)
    for _ in bar:
        start = time.perf_counter()
        model.train()
        total, correct, loss_sum = 0, 0, 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(xb)
            correct += _correct(out.detach(), yb)
            total += len(xb)
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(loss_sum / total)
        history.train_acc.append(correct / total)
        if val_data is not None:
            val_loss, val_acc = evaluate(model, val_data, loss_fn, device=device)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        history.epoch_time.append(time.perf_counter() - start)
        postfix = {"loss": f"{history.train_loss[-1]:.4f}", "acc": f"{history.train_acc[-1]:.3f}"}
        if history.val_acc:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
        bar.set_postfix(postfix)
    return history
