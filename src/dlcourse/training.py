"""One small training loop for the whole course: ``fit`` with a tqdm progress bar, ``evaluate``, and a history.

Chapters that teach training write their loop inline; the others call :func:`fit`.

Accuracy, the same in :func:`fit` and :func:`evaluate`:

* class scores (N, K), K >= 2, with integer labels (N,) in 0..K-1: argmax_k z_nk == y_n;
* one logit per example, (N,) or (N, 1), with 0/1 targets (N,) or (N, 1), int or float: (z_n > 0) == y_n;
* anything else (regression, soft or multi-label targets): accuracy is not defined and is ``nan``.
  Integer labels that cannot pair with the outputs ((N, 1) labels for K scores, labels out of range)
  raise a ``ValueError`` instead of broadcasting into a wrong number.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .config import get_device
from .validation import as_array, check_bool, check_int, check_positive_int


@dataclass
class History:
    """Per-epoch metrics recorded by :func:`fit`."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time"):
            values = getattr(self, name)
            if not isinstance(values, (list, tuple)) or any(
                    isinstance(v, (bool, np.bool_)) or not isinstance(v, Real) for v in values):
                raise ValueError(f"History.{name} must be a list of numbers (NaN allowed), got {values!r}")
            setattr(self, name, [float(v) for v in values])

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _as_data(values: Any, name: str) -> np.ndarray:
    """Numbers (ints or floats, finite, at least one example) as a C-contiguous NumPy array of their dtype."""
    array = as_array(values, name, kind="any", allow_empty=False)
    if array.dtype.kind == "b" or array.ndim == 0:
        raise ValueError(f"{name} must be an array of numbers with one row per example (bools are not numbers: "
                         f"convert with .astype(int) or .astype(float)), got shape {array.shape} and dtype "
                         f"{array.dtype}")
    return array


def make_loader(X, y, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """A DataLoader over ``(X, y)``: arrays, tensors or nested lists of numbers, one example per row.

    Float X and float y become float32, integer y (class labels) int64; integer X keeps its dtype.
    """
    X, y = _as_data(X, "X"), _as_data(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    batch_size, shuffle = check_positive_int(batch_size, "batch_size"), check_bool(shuffle, "shuffle")
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    X_t = X_t.float() if X_t.is_floating_point() else X_t
    y_t = y_t.float() if y_t.is_floating_point() else y_t.long()
    generator = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    return DataLoader(TensorDataset(X_t, y_t), batch_size=batch_size, shuffle=shuffle, generator=generator)


def _loader(data, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data must be a DataLoader or a pair (X, y), got {type(data).__name__}")
    return make_loader(data[0], data[1], batch_size=batch_size, shuffle=shuffle, seed=seed)


def _correct(output: torch.Tensor, target: torch.Tensor) -> int | None:
    """Correct predictions in a batch (see the module docstring), or None where accuracy is not defined."""
    n = output.shape[0]
    one_logit = output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)
    if output.ndim > 2:
        return None  # per-position outputs (e.g. images): no single accuracy defined here
    if target.is_floating_point():
        binary = bool(torch.all((target == 0) | (target == 1)))
        if not (one_logit and binary and target.shape in ((n,), (n, 1))):
            return None  # regression, soft or multi-label targets
    elif one_logit:
        if target.shape not in ((n,), (n, 1)) or not bool(torch.all((target == 0) | (target == 1))):
            raise ValueError(f"labels of a one-logit model must be 0 or 1 with shape ({n},) or ({n}, 1), "
                             f"got shape {tuple(target.shape)} and values {torch.unique(target)[:5].tolist()}")
    else:
        k = output.shape[1]
        if target.shape != (n,):
            raise ValueError(f"integer labels must have shape ({n},) to pair with scores of shape "
                             f"{tuple(output.shape)}, got {tuple(target.shape)}")
        if bool(torch.any((target < 0) | (target >= k))):
            raise ValueError(f"labels must lie in 0..{k - 1} for {k} class scores, "
                             f"got values from {int(target.min())} to {int(target.max())}")
        return int((output.argmax(dim=1) == target).sum())
    return int(((output.reshape(n) > 0) == (target.reshape(n) == 1)).sum())


def _check_model(model: Any, loss_fn: Any, optional_loss: bool) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (callable(loss_fn) or (optional_loss and loss_fn is None)):
        raise ValueError(f"loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {type(loss_fn).__name__}")


def _accuracy(correct: int | None, total: int) -> float:
    return float("nan") if correct is None else correct / total


@torch.no_grad()
def evaluate(model: nn.Module, data, loss_fn: Callable | None = None, batch_size: int = 512, device=None):
    """Mean loss (``nan`` without ``loss_fn``) and accuracy of ``model`` on ``(X, y)`` or a DataLoader.

    Accuracy follows the rules of the module docstring: argmax for class scores, logit > 0 for a
    one-logit (binary) model, ``nan`` where it is not defined.
    """
    _check_model(model, loss_fn, optional_loss=True)
    device = get_device(device)
    loader = _loader(data, check_positive_int(batch_size, "batch_size"), False, 0)
    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    try:
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            batch_correct = _correct(out, yb)
            correct = None if correct is None or batch_correct is None else correct + batch_correct
            if loss_fn is not None:
                loss_sum += float(loss_fn(out, yb)) * len(xb)
            total += len(xb)
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("data holds no examples: nothing to evaluate")
    return (loss_sum / total if loss_fn is not None else float("nan")), _accuracy(correct, total)


def fit(model: nn.Module, train_data, loss_fn: Callable, optimizer: torch.optim.Optimizer, epochs: int,
        val_data=None, batch_size: int = 64, device=None, progress: bool = True, seed: int = 0,
        scheduler=None) -> History:
    """Train ``model`` for ``epochs`` full passes over ``train_data``; return the :class:`History`.

    ``train_data``/``val_data`` are ``(X, y)`` pairs (arrays or tensors) or DataLoaders. The training
    loss and accuracy of an epoch are averaged over its mini-batches as they were seen. A loss that
    becomes NaN is recorded as NaN (it shows in the history and on the progress bar).
    """
    from tqdm.auto import tqdm

    _check_model(model, loss_fn, optional_loss=False)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise ValueError(f"scheduler must have a step() method (a torch LR scheduler), got {type(scheduler).__name__}")
    epochs, progress = check_positive_int(epochs, "epochs"), check_bool(progress, "progress")
    device = get_device(device)
    model.to(device)
    loader = _loader(train_data, check_positive_int(batch_size, "batch_size"), True, seed)
    val_loader = None if val_data is None else _loader(val_data, 512, False, 0)  # built (and checked) once
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
            batch_correct = _correct(out.detach(), yb)  # before the loss: a clear error for bad labels
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(xb)
            correct = None if correct is None or batch_correct is None else correct + batch_correct
            total += len(xb)
        if total == 0:
            raise ValueError("train_data holds no examples: nothing to train on")
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(loss_sum / total)
        history.train_acc.append(_accuracy(correct, total))
        if val_loader is not None:
            val_loss, val_acc = evaluate(model, val_loader, loss_fn, device=device)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        history.epoch_time.append(time.perf_counter() - start)
        postfix = {"loss": f"{history.train_loss[-1]:.4f}", "acc": f"{history.train_acc[-1]:.3f}"}
        if history.val_acc:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
        bar.set_postfix(postfix)
    return history
