"""Chapter 4: training CNNs on little data: the MNIST-5k recipe, baselines, transfer, and the GPU recipes.

Every experiment here keeps three sets apart: it trains on ``train``, chooses on ``validation`` and
leaves the test set to the caller, who looks at it once.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from .validation import as_float_array, as_int_array, as_labels, check_int, check_positive, check_positive_int

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set


def as_images(X, name: str = "X", side: int = 28) -> np.ndarray:
    """Flattened (N, side^2) or (N, side, side) or (N, 1, side, side) pixels in [0, 1] -> float32 (N, 1, side, side)."""
    X = as_float_array(X, name, ndim=(2, 3, 4), allow_empty=False)
    if X.shape[1:] not in ((side * side,), (side, side), (1, side, side)):
        raise ValueError(f"{name} must hold {side}x{side} images as (N, {side * side}), (N, {side}, {side}) "
                         f"or (N, 1, {side}, {side}), got shape {X.shape}")
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"{name} must hold pixel values in [0, 1], got {X.min():.4g} to {X.max():.4g}")
    return X.reshape(len(X), 1, side, side).astype(np.float32)


class Normalize(nn.Module):
    """x -> (x - mean) / std with fixed numbers: mean subtraction makes the first layer's inputs centred."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        self.mean, self.std = float(mean), check_positive(std, "std")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def mnist_cnn(width: int = 16, n_classes: int = 10) -> nn.Sequential:
    """The chapter's small CNN: three 3x3 conv-ReLU stages (two max-pools), global average pooling, linear.

    (N, 1, 28, 28) -> conv w @28 -> pool @14 -> conv 2w -> pool @7 -> conv 4w @7 -> GAP (4w) -> n_classes.
    The GAP head makes class activation maps (CAM) direct: score_c = sum_k w_ck mean_ij A_k[i, j].
    """
    w = check_positive_int(width, "width")
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, check_positive_int(n_classes, "n_classes")))


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Augmentation: move each image (N, C, H, W) by a random (dy, dx) in [-s, s]^2; pixels shifted in are 0."""
    s = check_int(max_shift, "max_shift", minimum=0)
    if s == 0:
        return x
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (s, s, s, s))
    offsets = torch.randint(0, 2 * s + 1, (n, 2), generator=generator)
    rows = (offsets[:, 0, None] + torch.arange(h))[:, None, :, None]   # (N, 1, H, 1)
    cols = (offsets[:, 1, None] + torch.arange(w))[:, None, None, :]   # (N, 1, 1, W)
    index = torch.arange(n)[:, None, None, None]
    return padded[index, torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def predict(model: nn.Module, X, batch_size: int = 500) -> np.ndarray:
    """Class predictions argmax_k of the model's scores, in eval mode, without gradients."""
    X = torch.from_numpy(as_images(X))
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch_size]).argmax(1) for i in range(0, len(X), batch_size)]).numpy()


def train_cnn(model: nn.Module, X_train, y_train, X_val=None, y_val=None, epochs: int = 8, lr: float = 3e-3,
              batch_size: int = 64, max_shift: int = 2, weight_decay: float = 0.0, seed: int = 0,
              params=None) -> dict:
    """Train ``model`` with Adam and a one-cycle learning rate; returns a history (per epoch).

    X: images in [0, 1] (see :func:`as_images`), y: (N,) labels. ``max_shift`` pixels of random
    translation augment each batch (0: none). ``params``: the parameters to update (default: all;
    pass the head's only to train a frozen feature extractor). The history holds "train_loss",
    "val_acc" (when validation data is given) and "seconds". Deterministic for a seed.
    """
    X_train = torch.from_numpy(as_images(X_train, "X_train"))
    n_classes = model[-1].out_features if isinstance(model, nn.Sequential) else 10
    y_train = torch.from_numpy(as_labels(y_train, "y_train", n_classes, len(X_train)))
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    lr, seed = check_positive(lr, "lr"), check_int(seed, "seed", minimum=0)
    generator = torch.Generator().manual_seed(seed)
    params = list(model.parameters() if params is None else params)
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(X_train) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    history: dict[str, list[float]] = {"train_loss": [], "val_acc": [], "seconds": []}
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order, total = torch.randperm(len(X_train), generator=generator), 0.0
        for i in range(0, len(X_train), batch_size):
            batch = order[i:i + batch_size]
            x = random_shift(X_train[batch], max_shift, generator)
            loss = nn.functional.cross_entropy(model(x), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        history["train_loss"].append(total / len(X_train))
        if X_val is not None:
            history["val_acc"].append(accuracy(model, X_val, y_val))
        history["seconds"].append(time.perf_counter() - start)
    return history


def accuracy(model: nn.Module, X, y) -> float:
    """Fraction of images whose predicted class is the label."""
    predictions = predict(model, X)
    return float(np.mean(predictions == as_int_array(y, "y", shape=(len(predictions),))))


def mnist_5k_splits(val_size: int = 800, seed: int = 0) -> dict:
    """MNIST-5k as train (3,200) / validation (800) / test (1,000) images, flattened in [0, 1]."""
    from .data import load_mnist_5k
    from .data.mnist import stratified_split

    X, y, X_test, y_test = load_mnist_5k()
    train, val = stratified_split(y, check_positive_int(val_size, "val_size"), seed)
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val],
            "X_test": X_test, "y_test": y_test}


def train_mnist_5k_cnn(splits: dict | None = None, epochs: int = 12, width: int = 16, max_shift: int = 1,
                       lr: float = 1e-2, seed: int = 0) -> tuple[nn.Module, dict]:
    """The chapter's CPU recipe: :func:`mnist_cnn` on the 3,200 training images, validated on 800.

    The defaults (12 epochs, learning rate 0.01, 1-pixel shifts) were chosen on the validation set.
    """
    splits = mnist_5k_splits() if splits is None else splits
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = mnist_cnn(width)
    history = train_cnn(model, splits["X_train"], splits["y_train"], splits["X_val"], splits["y_val"],
                        epochs=epochs, lr=lr, max_shift=max_shift, seed=seed)
    return model, history


# ---------------------------------------------------------------- evaluation and baselines

def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts M[i, j] = number of examples of true class i predicted as class j: (n_classes, n_classes)."""
    n_classes = check_positive_int(n_classes, "n_classes")
    y_true = as_labels(y_true, "y_true", n_classes)
    y_pred = as_labels(y_pred, "y_pred", n_classes, len(y_true))
    M = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


def knn_predict(X_train, y_train, X_query, k: int) -> np.ndarray:
    """k-nearest-neighbour vote in Euclidean distance (ties go to the smallest label): (N_query,) labels."""
    X_train = as_float_array(X_train, "X_train", ndim=2, allow_empty=False)
    X_query = as_float_array(X_query, "X_query", shape=(None, X_train.shape[1]))
    y_train = as_labels(y_train, "y_train", int(np.max(y_train)) + 1 if np.size(y_train) else 1, len(X_train))
    k = check_int(k, "k", minimum=1, maximum=len(X_train))
    d2 = (X_query ** 2).sum(1)[:, None] - 2 * X_query @ X_train.T + (X_train ** 2).sum(1)[None, :]
    nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
    votes = np.zeros((len(X_query), y_train.max() + 1))
    np.add.at(votes, (np.arange(len(X_query))[:, None], y_train[nearest]), 1)
    return votes.argmax(axis=1)


def train_linear_classifier(X_train, y_train, epochs: int = 30, lr: float = 0.5, weight_decay: float = 1e-4,
                            seed: int = 0) -> nn.Linear:
    """Softmax regression on raw pixels (784 -> 10), full-batch gradient descent: the first baseline."""
    X = torch.from_numpy(as_float_array(X_train, "X_train", ndim=2, allow_empty=False).astype(np.float32))
    y = torch.from_numpy(as_labels(y_train, "y_train", 10, len(X)))
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = nn.Linear(X.shape[1], 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=check_positive(lr, "lr"), momentum=0.9,
                                weight_decay=weight_decay)
    for _ in range(check_positive_int(epochs, "epochs") * 10):
        loss = nn.functional.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


# ---------------------------------------------------------------- transfer learning

TRANSFER_METHODS = ("scratch", "features", "fine-tune")


def transfer_experiment(splits: dict, n_per_class=(2, 5, 10, 20), source_epochs: int = 4,
                        target_epochs: int = 40, lr: float = 1e-2, fine_tune_lr: float = 3e-3, width: int = 16,
                        seed: int = 0) -> dict:
    """Pretrain on digits 0-4, then learn digits 5-9 from n labelled images per class, three ways.

    "scratch": a fresh CNN; "features": the pretrained convolutions frozen and a new linear head
    trained (transfer learning as feature extraction); "fine-tune": the pretrained network with a
    new head, every layer trained at the smaller learning rate ``fine_tune_lr``. Labels 5-9 are
    stored as 0-4. Returns "source_val_acc" (digits 0-4), "val_acc" (method -> one validation
    accuracy on digits 5-9 per n) and "models" (method -> {n: model}); the caller tests once.
    """
    sizes = [check_positive_int(n, "n_per_class") for n in np.atleast_1d(n_per_class).tolist()]
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    src = splits["y_train"] < 5
    torch.manual_seed(seed)
    source = mnist_cnn(width, n_classes=5)
    train_cnn(source, splits["X_train"][src], splits["y_train"][src], epochs=source_epochs, lr=lr, seed=seed)
    val_src, val_tgt = splits["y_val"] < 5, splits["y_val"] >= 5
    result = {"source_val_acc": accuracy(source, splits["X_val"][val_src], splits["y_val"][val_src]),
              "n_per_class": sizes, "models": {m: {} for m in TRANSFER_METHODS},
              "val_acc": {m: [] for m in TRANSFER_METHODS}}
    order = {c: rng.permutation(np.flatnonzero(splits["y_train"] == c)) for c in range(5, 10)}
    for n in sizes:  # the n images of a class are the first n of one fixed order: smaller sets nest
        few = np.concatenate([order[c][:n] for c in range(5, 10)])
        X_few, y_few = splits["X_train"][few], splits["y_train"][few] - 5
        for method in TRANSFER_METHODS:
            torch.manual_seed(seed + 1)
            model = mnist_cnn(width, n_classes=5) if method == "scratch" else copy.deepcopy(source)
            if method != "scratch":
                model[-1] = nn.Linear(model[-1].in_features, 5)
            if method == "features":  # frozen: no gradients are even computed for the body
                for p in model[:-1].parameters():
                    p.requires_grad_(False)
            params = model[-1].parameters() if method == "features" else None
            train_cnn(model, X_few, y_few, epochs=target_epochs, lr=fine_tune_lr if method == "fine-tune" else lr,
                      batch_size=25, seed=seed, params=params)
            result["models"][method][n] = model
            result["val_acc"][method].append(accuracy(model, splits["X_val"][val_tgt],
                                                      splits["y_val"][val_tgt] - 5))
    return result


# ---------------------------------------------------------------- GPU recipes

def _tiny_images(rng, n: int, side: int, channels: int) -> np.ndarray:
    return rng.integers(0, 256, (n, side, side, channels) if channels == 3 else (n, side, side), dtype=np.uint8)


def _fit_on_device(model, loader_data, test_data, epochs, lr, device, augment, batch_size, label_smoothing=0.0):
    """SGD + Nesterov momentum, one-cycle schedule, mixed precision on CUDA; returns the test accuracy."""
    X, y = loader_data
    X_test, y_test = test_data
    model = model.to(device).to(memory_format=torch.channels_last)
    X, y = X.to(device), y.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = epochs * -(-len(X) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    use_amp = device.type == "cuda"
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), device=device)
        for i in range(0, len(X), batch_size):
            batch = order[i:i + batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = nn.functional.cross_entropy(model(augment(X[batch])), y[batch],
                                                   label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        for i in range(0, len(X_test), 1000):
            xb = X_test[i:i + 1000].to(device)
            correct += (model(xb).argmax(1).cpu() == y_test[i:i + 1000]).sum().item()
    return correct / len(X_test)


def _flip_and_crop(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """CIFAR augmentation on the device: random horizontal flip and a random crop after 4-pixel padding."""
    flip = torch.rand(len(x), device=x.device) < 0.5
    return _shift_on_device(torch.where(flip[:, None, None, None], x.flip(3), x), pad)


def _shift_on_device(x: torch.Tensor, s: int) -> torch.Tensor:
    n, c, h, w = x.shape
    padded = nn.functional.pad(x, (s, s, s, s))
    offsets = torch.randint(0, 2 * s + 1, (n, 2), device=x.device)
    rows = (offsets[:, 0, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (offsets[:, 1, None] + torch.arange(w, device=x.device))[:, None, None, :]
    return padded[torch.arange(n, device=x.device)[:, None, None, None],
                  torch.arange(c, device=x.device)[None, :, None, None], rows, cols]


def gpu_lenet_mnist(device, offline: bool = False, tiny: bool = False) -> dict:
    """LeNet-5 on the 60,000 MNIST training images, tested on the 10,000 test images (bar 99.0%)."""
    from .architectures import lenet5
    from .mlp_training import gpu_recipe_mnist

    device = torch.device(device)
    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=20, download=True)
    to_tensor = lambda a: torch.from_numpy(((a.astype(np.float32) / 255) - MNIST_MEAN) / MNIST_STD)[:, None]  # noqa
    start = time.perf_counter()
    torch.manual_seed(0)
    acc = _fit_on_device(lenet5(), (to_tensor(data[0]), torch.from_numpy(np.asarray(data[1], np.int64))),
                         (to_tensor(data[2]), torch.from_numpy(np.asarray(data[3], np.int64))), epochs, 0.1,
                         device, lambda x: _shift_on_device(x, 2), batch_size=128)
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(acc), "bar": 0.99}


CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def gpu_resnet_cifar10(device, offline: bool = False, tiny: bool = False) -> dict:
    """A ResNet-18-style network on CIFAR-10's 50,000 training images, tested on its 10,000 (bar 90%).

    ``offline`` has no CIFAR-10 to use (it needs the download): it trains on random images of the
    full size, which times the run but whose accuracy means nothing (chance is 10%).
    """
    from .architectures import cifar_resnet
    from .data.cifar import load_cifar10

    device = torch.device(device)
    rng = np.random.default_rng(0)
    if tiny:
        data = (_tiny_images(rng, 128, 32, 3), rng.integers(0, 10, 128), _tiny_images(rng, 64, 32, 3),
                rng.integers(0, 10, 64))
        dataset, epochs, model = "random 128/64 (tiny)", 1, cifar_resnet((8, 16), 1)
    else:
        if offline:
            data = (_tiny_images(rng, 50000, 32, 3), rng.integers(0, 10, 50000),
                    _tiny_images(rng, 10000, 32, 3), rng.integers(0, 10, 10000))
            dataset = "random images of CIFAR-10's size (offline: timing only)"
        else:
            data, dataset = (*load_cifar10("train"), *load_cifar10("test")), "CIFAR-10 50k/10k"
        epochs, model = 30, cifar_resnet()
    mean, std = np.array(CIFAR_MEAN, np.float32), np.array(CIFAR_STD, np.float32)
    to_tensor = lambda a: torch.from_numpy(((a.astype(np.float32) / 255 - mean) / std).transpose(0, 3, 1, 2))  # noqa
    start = time.perf_counter()
    torch.manual_seed(0)
    acc = _fit_on_device(model, (to_tensor(data[0]), torch.from_numpy(np.asarray(data[1], np.int64))),
                         (to_tensor(data[2]), torch.from_numpy(np.asarray(data[3], np.int64))), epochs, 0.1,
                         device, _flip_and_crop, batch_size=256, label_smoothing=0.1)
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(acc), "bar": 0.90}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"04_cnn.lenet5_full_mnist": gpu_lenet_mnist, "04_cnn.resnet_cifar10": gpu_resnet_cifar10}
