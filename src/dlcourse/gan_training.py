"""Training GANs (chapter 9): alternating updates with k discriminator steps, the CPU recipes (ring of
Gaussians, an MLP GAN on MNIST-5k), a Frechet distance in a small classifier's feature space, and the
DCGAN GPU recipe.

The discriminator ASCENDS V(D, G) = E log D(x) + E log(1 - D(G(z))). We write that, as every library
does, as minimising the binary cross-entropy L_D = -V with label 1 for real and 0 for generated samples.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .gans import GENERATOR_LOSSES, mode_coverage, ring_centres, ring_of_gaussians
from .validation import (as_float_array, as_labels, check_bool, check_choice, check_float, check_int, check_positive,
                         check_positive_int)


def _sizes(hidden, name: str = "hidden") -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (tuple, list)) or not hidden:
        raise ValueError(f"{name} must be a non-empty tuple of layer widths, got {hidden!r}")
    return tuple(check_positive_int(h, f"{name}[{i}]") for i, h in enumerate(hidden))


_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}
_OUTPUTS = {"linear": None, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def mlp_generator(latent_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), output: str = "linear",
                  activation: str = "relu") -> nn.Sequential:
    """G: z (N, latent_dim) -> x (N, out_dim); hidden activation "relu" or "leaky_relu" (slope 0.2),
    output "linear", "sigmoid" (pixels in [0, 1]) or "tanh" (pixels in [-1, 1])."""
    sizes = (check_positive_int(latent_dim, "latent_dim"), *_sizes(hidden))
    out_dim = check_positive_int(out_dim, "out_dim")
    output, activation = check_choice(output, "output", _OUTPUTS), check_choice(activation, "activation", _ACTIVATIONS)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), _ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], out_dim))
    if _OUTPUTS[output] is not None:
        layers.append(_OUTPUTS[output]())
    return nn.Sequential(*layers)


def mlp_discriminator(in_dim: int, hidden: Sequence[int] = (128, 128), dropout: float = 0.0) -> nn.Sequential:
    """D: x (N, in_dim) -> logit a (N, 1), D(x) = sigmoid(a); LeakyReLU(0.2) hidden layers, optional dropout."""
    sizes = (check_positive_int(in_dim, "in_dim"), *_sizes(hidden))
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, strict_maximum=True)
    layers: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
    layers.append(nn.Linear(sizes[-1], 1))
    return nn.Sequential(*layers)


class _ToUnitRange(nn.Module):
    """Maps tanh outputs in [-1, 1] back to pixels in [0, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2


def _as_data(data, device, dtype) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        data = data.detach().to("cpu", torch.float64).numpy()
    array = as_float_array(data, "data", allow_empty=False)
    if array.ndim < 2 or len(array) < 2:
        raise ValueError(f"data must be (N, ...) with N >= 2 samples, got shape {array.shape}")
    return torch.as_tensor(array, dtype=dtype, device=device)


def _check_batch(batch, name: str) -> None:
    if not isinstance(batch, torch.Tensor) or batch.ndim < 2 or len(batch) == 0 or not batch.is_floating_point():
        shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(f"{name} must be a non-empty float tensor (B, ...), got {shape}")


def discriminator_step(generator: nn.Module, discriminator: nn.Module, optimizer: torch.optim.Optimizer,
                       real: torch.Tensor, z: torch.Tensor) -> tuple[float, float, float]:
    """One discriminator update: ascend V(D, G) by descending L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) = -V.

    G is frozen (its samples are computed without a graph), so only D's parameters move.
    real: a batch (B, ...) of data, z: (B', latent_dim). Returns (L_D, mean D(x), mean D(G(z))).
    """
    _check_batch(real, "real")
    _check_batch(z, "z")
    with torch.no_grad():
        fake = generator(z)
    logits_real, logits_fake = discriminator(real), discriminator(fake)
    loss = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return (loss.item(), torch.sigmoid(logits_real.detach()).mean().item(),
            torch.sigmoid(logits_fake.detach()).mean().item())


def generator_step(generator: nn.Module, discriminator: nn.Module, optimizer: torch.optim.Optimizer,
                   z: torch.Tensor, kind: str = "non_saturating") -> float:
    """One generator update with D frozen: descend mean log(1 - D(G(z))) (saturating) or mean -log D(G(z)).

    On logits a: -softplus(a) and softplus(-a). The optimizer holds only G's parameters, so D does
    not move (its .grad is filled, and cleared by D's next zero_grad). Returns the loss.
    """
    kind = check_choice(kind, "kind", GENERATOR_LOSSES)
    _check_batch(z, "z")
    logits = discriminator(generator(z))
    loss = -F.softplus(logits).mean() if kind == "saturating" else F.softplus(-logits).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


@contextmanager
def _one_cpu_thread(device: torch.device):
    """Run small CPU training on one thread: for these layer sizes a second thread saves little on a
    quiet machine and costs several times the run time on a busy one (threads wait on each other)."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_gan(generator: nn.Module, discriminator: nn.Module, data, latent_dim: int, steps: int,
              k_steps: int = 1, batch_size: int = 256, lr: float = 2e-3, generator_loss: str = "non_saturating",
              lr_decay: bool = True, record_every: int = 0, n_record: int = 2000, seed: int = 0,
              device=None) -> dict:
    """Alternating GAN training: per step, k_steps discriminator updates, then one generator update.

    Discriminator update (ascends V): minimise L_D = BCE(D(x), 1) + BCE(D(G(z)), 0) with G frozen
    (its samples are detached). Generator update: minimise the chosen generator loss with D frozen
    (only G's optimiser steps). Adam(lr, betas=(0.5, 0.999)) for both; lr_decay: linear to 0.
    data: (N, ...) real samples shaped as the generator's output. Returns a history dict with
    per-step "d_loss", "g_loss", "d_real", "d_fake" (mean D on the last batches) and, every
    record_every steps (0: never), "snapshots": list of (step, n_record generated samples as NumPy).
    """
    latent_dim, steps = check_positive_int(latent_dim, "latent_dim"), check_positive_int(steps, "steps")
    k_steps, batch_size = check_positive_int(k_steps, "k_steps"), check_positive_int(batch_size, "batch_size")
    lr, lr_decay = check_positive(lr, "lr"), check_bool(lr_decay, "lr_decay")
    kind = check_choice(generator_loss, "generator_loss", GENERATOR_LOSSES)
    record_every = check_int(record_every, "record_every", minimum=0)
    n_record = check_positive_int(n_record, "n_record")
    device = torch.device(device or "cpu")
    real = _as_data(data, device, next(generator.parameters()).dtype)
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    generator, discriminator = generator.to(device), discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    schedule = (lambda i: 1.0 - i / steps) if lr_decay else (lambda i: 1.0)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (opt_g, opt_d)]
    z_record = torch.randn(n_record, latent_dim, device=device, dtype=real.dtype)  # fixed: snapshots are comparable
    history: dict = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": [], "snapshots": []}

    def noise() -> torch.Tensor:
        return torch.randn(batch_size, latent_dim, device=device, dtype=real.dtype)

    with _one_cpu_thread(device):
        for step in range(steps):
            for _ in range(k_steps):
                batch = real[torch.randint(0, len(real), (batch_size,), device=device)]
                d_loss, d_real, d_fake = discriminator_step(generator, discriminator, opt_d, batch, noise())
            g_loss = generator_step(generator, discriminator, opt_g, noise(), kind)
            for scheduler in schedulers:
                scheduler.step()
            for key, value in (("d_loss", d_loss), ("g_loss", g_loss), ("d_real", d_real), ("d_fake", d_fake)):
                history[key].append(value)
            if record_every and (step + 1) % record_every == 0:
                with torch.no_grad():
                    history["snapshots"].append((step + 1, generator(z_record).cpu().numpy()))
    return history


def generate(generator: nn.Module, n: int, latent_dim: int, seed: int = 0, z=None) -> np.ndarray:
    """n samples G(z), z ~ N(0, I) drawn with ``seed`` (or the given latents z (n, latent_dim)), as NumPy."""
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    if z is None:
        n = check_positive_int(n, "n")
        z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(check_int(seed, "seed", minimum=0)))
    else:
        z = torch.as_tensor(as_float_array(z, "z", ndim=2, shape=(None, latent_dim)), dtype=torch.float32)
    parameter = next(generator.parameters())
    device, z = parameter.device, z.to(parameter.dtype)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        samples = generator(z.to(device)).cpu().numpy()
    generator.train(was_training)
    return samples


# The CPU recipe on the ring, chosen on seeds 0..4 of the *training* sampler (the figures come from fresh samples).
RING = {"n_modes": 8, "radius": 2.0, "std": 0.05}
RING_RECIPE = {"latent_dim": 2, "hidden": (128, 128), "steps": 1500, "batch_size": 512, "lr": 2e-3}


def train_ring_gan(steps: int = RING_RECIPE["steps"], k_steps: int = 1, generator_loss: str = "non_saturating",
                   lr: float = RING_RECIPE["lr"], lr_decay: bool = True, batch_size: int = RING_RECIPE["batch_size"],
                   hidden: Sequence[int] = RING_RECIPE["hidden"], record_every: int = 0, n_train: int = 20_000,
                   seed: int = 0) -> tuple[nn.Module, dict]:
    """The CPU recipe: an MLP GAN (latent 2) on n_train samples of the ring of 8 Gaussians; returns (G, history)."""
    X, _ = ring_of_gaussians(check_positive_int(n_train, "n_train"), seed=check_int(seed, "seed", minimum=0), **RING)
    torch.manual_seed(seed)
    generator = mlp_generator(RING_RECIPE["latent_dim"], 2, hidden)
    discriminator = mlp_discriminator(2, hidden)
    history = train_gan(generator, discriminator, X, RING_RECIPE["latent_dim"], steps, k_steps=k_steps,
                        batch_size=batch_size, lr=lr, generator_loss=generator_loss, lr_decay=lr_decay,
                        record_every=record_every, n_record=10_000, seed=seed)
    return generator, history


def ring_quality(generator: nn.Module, n: int = 10_000, seed: int = 1) -> tuple[int, float]:
    """(modes covered, off-mode fraction) of n fresh samples of a ring generator (see gans.mode_coverage)."""
    samples = generate(generator, n, RING_RECIPE["latent_dim"], seed=seed)
    return mode_coverage(samples, ring_centres(RING["n_modes"], RING["radius"]), RING["std"])



# Chosen among four settings by the digit classes that a classifier trained on the training images assigns
# to 1,000 samples: the only setting with every class at >= 2.5 % of them (no test image was used).
MNIST_RECIPE = {"latent_dim": 32, "hidden": (128, 256), "steps": 1000, "batch_size": 64, "lr": 5e-4, "dropout": 0.3}


def train_mnist_gan(X, steps: int = MNIST_RECIPE["steps"], lr: float = MNIST_RECIPE["lr"],
                    batch_size: int = MNIST_RECIPE["batch_size"], seed: int = 0) -> tuple[nn.Module, dict]:
    """The CPU recipe on MNIST: an MLP GAN, G: z (32) -> 128 -> 256 -> 784 (LeakyReLU, tanh), D mirrored with
    dropout 0.3; trained on pixels rescaled to [-1, 1], returned with a last layer mapping back to [0, 1].

    X: (N, 784) pixels in [0, 1] (training images only). Returns (G, history).
    """
    X = as_float_array(X, "X", ndim=2, shape=(None, 784), allow_empty=False)
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"X must hold pixels in [0, 1], got values from {X.min()} to {X.max()}")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    latent_dim, hidden = MNIST_RECIPE["latent_dim"], MNIST_RECIPE["hidden"]
    generator = mlp_generator(latent_dim, 784, hidden, output="tanh", activation="leaky_relu")
    discriminator = mlp_discriminator(784, tuple(reversed(hidden)), dropout=MNIST_RECIPE["dropout"])
    history = train_gan(generator, discriminator, 2 * X - 1, latent_dim, steps, batch_size=batch_size, lr=lr,
                        seed=seed)
    return nn.Sequential(generator, _ToUnitRange()), history


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N_a, F) and (N_b, F):

    FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}), covariances with 1/(N - 1).
    The matrix square roots come from symmetric eigendecompositions (tiny negative eigenvalues of
    rounding are set to 0), so no general sqrtm is needed.
    """
    a = as_float_array(features_a, "features_a", ndim=2)
    b = as_float_array(features_b, "features_b", ndim=2)
    if a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"features_a and features_b must be (N, F) with the same F and N >= 2, got "
                         f"{a.shape} and {b.shape}")
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sum(np.sqrt(np.clip(middle, 0, None)))
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    return float(mean_term + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def feature_classifier(n_features: int = 64) -> nn.Sequential:
    """A small MNIST classifier 784 -> 256 -> n_features -> 10 (ReLU); its n_features layer is the feature space."""
    n_features = check_positive_int(n_features, "n_features")
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, n_features), nn.ReLU(),
                         nn.Linear(n_features, 10))


def train_feature_classifier(X, y, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
                             seed: int = 0, device=None) -> nn.Sequential:
    """Train :func:`feature_classifier` with Adam on pixels X (N, 784) in [0, 1] and labels y (N,)."""
    X = as_float_array(X, "X", ndim=2, shape=(None, 784), allow_empty=False)
    y = as_labels(y, "y", 10, len(X))
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    device = torch.device(device or "cpu")
    torch.manual_seed(check_int(seed, "seed", minimum=0))
    model = feature_classifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, device=device)
    with _one_cpu_thread(device):
        for _ in range(epochs):
            for batch in torch.randperm(len(Xt), device=device).split(batch_size):
                loss = F.cross_entropy(model(Xt[batch]), yt[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return model.eval()


def classifier_features(model: nn.Sequential, X) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F) of the layer before the output, predicted classes (N,)) of images X.

    X: (N, 784) or (N, 1, 28, 28) pixels in [0, 1].
    """
    X = as_float_array(X, "X", allow_empty=False)
    if X.ndim not in (2, 4) or X[0].size != 784:
        raise ValueError(f"X must be (N, 784) or (N, 1, 28, 28) images, got shape {X.shape}")
    device = next(model.parameters()).device
    with torch.no_grad():
        features = model[:-1](torch.as_tensor(X.reshape(len(X), 784), dtype=torch.float32, device=device))
        predicted = model[-1](features).argmax(dim=1)
    return features.cpu().numpy().astype(np.float64), predicted.cpu().numpy()


def dcgan_generator(latent_dim: int = 64, width: int = 64) -> nn.Sequential:
    """DCGAN generator for 28x28 images: z -> (2w, 7, 7) -> ConvT to (w, 14, 14) -> ConvT to (1, 28, 28), sigmoid."""
    latent_dim, width = check_positive_int(latent_dim, "latent_dim"), check_positive_int(width, "width")
    return nn.Sequential(
        nn.Linear(latent_dim, 2 * width * 49), nn.Unflatten(1, (2 * width, 7, 7)), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),  # 14x14
        nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Sigmoid())  # 28x28


def dcgan_discriminator(width: int = 64) -> nn.Sequential:
    """DCGAN discriminator: (1, 28, 28) -> strided convs to (w, 14, 14) and (2w, 7, 7) -> one logit."""
    width = check_positive_int(width, "width")
    return nn.Sequential(
        nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 14x14
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),  # 7x7
        nn.Flatten(), nn.Linear(2 * width * 49, 1))


def _gpu_dcgan(device, offline: bool = False, tiny: bool = False) -> dict:
    """Chapter 9's GPU section: a DCGAN on MNIST, scored by a Frechet distance and class coverage.

    The feature classifier is trained on the training images and its accuracy measured on the test
    images; the Frechet distance compares 10,000 generated images with the test images, next to the
    distance between the training and the test images (what a perfect generator would get).
    """
    from .mlp_training import gpu_recipe_mnist, mnist_as_vectors

    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=20, download=True)
    train_images, train_labels, test_images, test_labels = data
    X_train, X_test = mnist_as_vectors(train_images), mnist_as_vectors(test_images)
    batch_size, latent_dim = (64, 16) if tiny else (128, 64)
    start = time.perf_counter()
    width = 8 if tiny else 64
    generator, discriminator = dcgan_generator(latent_dim, width), dcgan_discriminator(width)
    steps = max(1, epochs * len(X_train) // batch_size)
    train_gan(generator, discriminator, X_train.reshape(-1, 1, 28, 28), latent_dim, steps,
              batch_size=batch_size, lr=2e-4, lr_decay=False, seed=0, device=device)
    classifier = train_feature_classifier(X_train, train_labels, epochs=1 if tiny else 10, device=device)
    n_fake = 256 if tiny else 10_000
    fake = generate(generator, n_fake, latent_dim, seed=1)
    test_features, test_predicted = classifier_features(classifier, X_test)
    fake_features, fake_classes = classifier_features(classifier, fake)
    train_features, _ = classifier_features(classifier, X_train[: len(X_test)])
    shares = np.bincount(fake_classes, minlength=10) / n_fake
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_accuracy": float(np.mean(test_predicted == test_labels)),
            "frechet_distance": frechet_distance(fake_features, test_features),
            "frechet_distance_train_vs_test": frechet_distance(train_features, test_features),
            "classes_covered": int(np.sum(shares >= 0.05)),
            "bar": "all 10 digit classes >= 5% of the samples; Frechet distance reported, no bar"}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"09_gans.dcgan_mnist": _gpu_dcgan}
