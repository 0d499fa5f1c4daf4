"""Chapter 7: a Siamese (shared-weight) embedding network trained with the triplet or contrastive loss.

The MNIST-5k recipe keeps three sets apart and one class out: the network is trained on the training
split *without* the images of ``held_out`` (a class it never sees), the epoch is chosen on the
validation split, and the caller looks at the test set once. At test time the held-out class enters
only as templates in the gallery, as a new person enters an access system: no retraining.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from .cnn_training import as_images, mnist_cnn, random_shift
from .metric_learning import (batch_hard_triplet_loss_torch, contrastive_loss_torch, knn_classify,
                              pairwise_distances, pairwise_distances_torch, recall_at_k)
from .validation import (as_float_array, as_int_array, as_labels, as_rng, check_choice, check_int, check_non_negative,
                         check_positive, check_positive_int)

LOSSES = ("triplet", "contrastive")


class L2Normalize(nn.Module):
    """z -> z / ||z||_2 row by row: embeddings on the unit sphere, so every distance lies in [0, 2]."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(z, dim=1)


def embedding_net(dim: int = 32, width: int = 16) -> nn.Sequential:
    """f_W: (N, 1, 28, 28) images -> (N, dim) unit vectors: chapter 4's small CNN with a dim-wide head."""
    return nn.Sequential(mnist_cnn(check_positive_int(width, "width"), check_positive_int(dim, "dim")),
                         L2Normalize())


class Siamese(nn.Module):
    """Two (or three) branches with one set of weights W: forward(x_1, ..., x_k) = (f_W(x_1), ..., f_W(x_k)).

    There is one ``embedding`` module, so the branches share every parameter and the gradients of all
    branches add up in it; a triplet network is the same module called on three inputs.
    """

    def __init__(self, embedding: nn.Module) -> None:
        super().__init__()
        if not isinstance(embedding, nn.Module):
            raise ValueError(f"embedding must be a torch.nn.Module, got {type(embedding).__name__}")
        self.embedding = embedding

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not inputs:
            raise ValueError("Siamese needs at least one batch of inputs")
        return tuple(self.embedding(x) for x in inputs)


def pk_batches(labels, classes_per_batch: int, per_class: int, rng) -> list[np.ndarray]:
    """One epoch of P x K batches (Hermans et al. 2017): each batch holds K images of each of P classes.

    labels: (N,). Every batch draws P distinct classes and K distinct images of each at random, so
    it always has positives and negatives to mine; an epoch has max(1, N // (P K)) batches. Only
    classes with at least K images take part. Returns index arrays of length P * K.
    """
    labels = as_int_array(labels, "labels", ndim=1, allow_empty=False)
    P, K = check_positive_int(classes_per_batch, "classes_per_batch"), check_positive_int(per_class, "per_class")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    classes, counts = np.unique(labels, return_counts=True)
    members = {c: np.flatnonzero(labels == c) for c in classes[counts >= K]}
    if len(members) < P:
        raise ValueError(f"classes_per_batch={P} needs {P} classes with at least per_class={K} images, "
                         f"got {len(members)}")
    eligible = np.array(sorted(members))
    batches = []
    for _ in range(max(1, len(labels) // (P * K))):
        chosen = rng.choice(eligible, P, replace=False)
        batches.append(np.concatenate([rng.choice(members[c], K, replace=False) for c in chosen]))
    return batches


def embed(model: nn.Module, X, batch_size: int = 500) -> np.ndarray:
    """Embeddings f_W(X) in eval mode, without gradients: images (see cnn_training.as_images) -> (N, dim)."""
    X = torch.from_numpy(as_images(X))
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        parts = [model(X[i:i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(parts).double().numpy()


def nn_accuracy(Z_gallery, y_gallery, Z_query, y_query, chunk: int = 1000) -> float:
    """1-nearest-neighbour accuracy of queries against a labelled gallery, in embedding space.

    Queries go ``chunk`` at a time, so a 10,000 x 60,000 distance matrix is never held at once.
    """
    Z_gallery = as_float_array(Z_gallery, "Z_gallery", ndim=2, allow_empty=False)
    Z_query = as_float_array(Z_query, "Z_query", shape=(None, Z_gallery.shape[1]))
    y_gallery = as_int_array(y_gallery, "y_gallery", shape=(len(Z_gallery),))
    y_query = as_int_array(y_query, "y_query", shape=(len(Z_query),))
    chunk = check_positive_int(chunk, "chunk")
    predicted = np.concatenate([knn_classify(pairwise_distances(Z_query[i:i + chunk], Z_gallery), y_gallery, 1)
                                for i in range(0, len(Z_query), chunk)] or [np.zeros(0, np.int64)])
    return float(np.mean(predicted == y_query))


def _batch_loss(Z: torch.Tensor, y: torch.Tensor, loss: str, margin: float) -> torch.Tensor:
    if loss == "triplet":
        return batch_hard_triplet_loss_torch(Z, y, margin)
    i, j = torch.triu_indices(len(Z), len(Z), offset=1)  # every pair of the batch once
    D = pairwise_distances_torch(Z)[i, j]
    return contrastive_loss_torch(D, (y[i] != y[j]).long().cpu().numpy(), margin)


MARGINS = {"triplet": 0.2, "contrastive": 1.0}  # chosen on the validation split (unit-length embeddings)


def train_embedding(X_train, y_train, X_val=None, y_val=None, loss: str = "contrastive", epochs: int = 6,
                    dim: int = 32, width: int = 8, margin: float | None = None, lr: float = 1e-2,
                    classes_per_batch: int = 9, per_class: int = 8, max_shift: int = 1,
                    seed: int = 0, device=None, X_gallery=None,
                    y_gallery=None) -> tuple[nn.Module, dict]:
    """Train :func:`embedding_net` on P x K batches with all-pairs contrastive loss or batch-hard triplet loss.

    ``margin`` None: :data:`MARGINS` of the loss.
    Adam with a one-cycle learning rate; ``max_shift`` pixels of random translation. With validation
    data the history's "val_acc" is the 1-NN accuracy of the validation images against the gallery
    (default: the training images; pass one that also holds templates of classes left out of training)
    after each epoch, and the returned model is the one of the best epoch ("best_epoch", 1-based).
    History: "train_loss", "val_acc", "seconds". ``device``: where the network trains (images are
    shifted on the CPU, then moved batch by batch).
    """
    X = torch.from_numpy(as_images(X_train, "X_train"))
    y = as_int_array(y_train, "y_train", shape=(len(X),))
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if (X_gallery is None) != (y_gallery is None):
        raise ValueError("give both X_gallery and y_gallery, or neither")
    X_gallery, y_gallery = (X, y) if X_gallery is None else (X_gallery, y_gallery)
    loss = check_choice(loss, "loss", LOSSES)
    epochs, seed = check_positive_int(epochs, "epochs"), check_int(seed, "seed", minimum=0)
    margin = MARGINS[loss] if margin is None else check_non_negative(margin, "margin")
    lr = check_positive(lr, "lr")
    rng, generator = as_rng(seed), torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    device = torch.device("cpu" if device is None else device)
    model = embedding_net(dim, width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * len(pk_batches(y, classes_per_batch, per_class, as_rng(seed)))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps + epochs)
    history: dict = {"train_loss": [], "val_acc": [], "seconds": []}
    best, start = (-1.0, None, 0), time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for batch in pk_batches(y, classes_per_batch, per_class, rng):
            images = random_shift(X[batch], max_shift, generator).to(device)
            value = _batch_loss(model(images), torch.from_numpy(y[batch]).to(device), loss, margin)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            schedule.step()
            total, count = total + value.item() * len(batch), count + len(batch)
        history["train_loss"].append(total / count)
        if X_val is not None:
            acc = nn_accuracy(embed(model, X_gallery), y_gallery, embed(model, X_val), y_val)
            history["val_acc"].append(acc)
            if acc > best[0]:
                best = (acc, copy.deepcopy(model.state_dict()), epoch + 1)
        history["seconds"].append(time.perf_counter() - start)
    if best[1] is not None:
        model.load_state_dict(best[1])
        history["best_epoch"] = best[2]
    model.eval()
    return model, history


def mnist_5k_metric_splits(held_out: int = 9, val_size: int = 800, seed: int = 0) -> dict:
    """MNIST-5k for metric learning: the chapter 4 splits plus "seen", the training images of every
    class but ``held_out`` (the class the network never sees)."""
    from .cnn_training import mnist_5k_splits

    splits = mnist_5k_splits(val_size, seed)
    held_out = check_int(held_out, "held_out", minimum=0, maximum=9)
    splits["held_out"] = held_out
    splits["seen"] = np.flatnonzero(splits["y_train"] != held_out)
    return splits


def train_mnist_5k_embedding(splits: dict | None = None, loss: str = "contrastive", epochs: int = 6,
                             seed: int = 0, **kwargs) -> tuple[nn.Module, dict]:
    """The chapter's CPU recipe: the embedding trained on the seen classes of the 3,200 training images.

    Validation: 1-NN accuracy of the 800 validation images against all 3,200 training images, the
    held-out class's among them as templates only. The defaults (contrastive loss with margin 1, or
    batch-hard triplet loss with margin 0.2; 6 epochs of 9 x 8 batches; width 8; learning rate 0.01;
    1-pixel shifts) were chosen on the validation split; the best epoch is chosen there too.
    """
    splits = mnist_5k_metric_splits() if splits is None else splits
    seen = splits["seen"]
    return train_embedding(splits["X_train"][seen], splits["y_train"][seen], splits["X_val"], splits["y_val"],
                           loss=loss, epochs=epochs, seed=seed, X_gallery=splits["X_train"],
                           y_gallery=splits["y_train"], **kwargs)


def evaluate_embedding(model: nn.Module, X_gallery, y_gallery, X_query, y_query, held_out: int) -> dict:
    """1-NN accuracy of queries against the gallery, and recall@1 of the held-out class's queries retrieved
    among the other queries (leave one out: the query itself is excluded)."""
    Zg, Zq = embed(model, X_gallery), embed(model, X_query)
    y_query = as_labels(y_query, "y_query", 10, len(Zq))
    unseen = y_query == check_int(held_out, "held_out", minimum=0, maximum=9)
    if not unseen.any():
        raise ValueError(f"the queries hold no image of the held-out class {held_out}")
    D = pairwise_distances(Zq[unseen], Zq)
    D[np.arange(len(D)), np.flatnonzero(unseen)] = np.inf  # a query may not retrieve itself
    return {"nn_accuracy": nn_accuracy(Zg, y_gallery, Zq, y_query),
            "unseen_recall_at_1": recall_at_k(D, y_query[unseen], y_query, 1)}


# ---------------------------------------------------------------- the GPU recipe

def gpu_metric_full_mnist(device, offline: bool = False, tiny: bool = False) -> dict:
    """The embedding on the full MNIST (digit 9 never seen in training), tested on its 10,000 test images.

    Gallery: the 60,000 training images (the 9s only as templates); the bar is 1-NN test accuracy 0.99.
    Runs the same training loop on ``device``; ``tiny`` checks the path on random images in seconds.
    """
    from .mlp_training import gpu_recipe_mnist

    device = torch.device(device)
    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=15, download=True)
    X, y = (data[0].reshape(len(data[0]), -1) / 255.0), np.asarray(data[1], np.int64)
    X_test, y_test = data[2].reshape(len(data[2]), -1) / 255.0, np.asarray(data[3], np.int64)
    start = time.perf_counter()
    seen = np.flatnonzero(y != 9)
    model, _ = train_embedding(X[seen], y[seen], loss="triplet", epochs=epochs, dim=64,
                               width=8 if tiny else 32, seed=0, device=device)
    metrics = evaluate_embedding(model, X, y, X_test, y_test, held_out=9) if np.any(y_test == 9) else \
        {"nn_accuracy": nn_accuracy(embed(model, X), y, embed(model, X_test), y_test), "unseen_recall_at_1": 0.0}
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start, "device": str(device),
            "test_accuracy": metrics["nn_accuracy"], "unseen_recall_at_1": metrics["unseen_recall_at_1"],
            "bar": 0.99}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"07_metric_learning.embedding_full_mnist": gpu_metric_full_mnist}
