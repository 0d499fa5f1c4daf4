"""Variational autoencoders (chapter 8): the Gaussian KL, the reparameterisation trick, the ELBO.

The encoder gives q(z | x) = N(mu, diag(s^2)) (it outputs mu and log s^2), the prior is p(z) = N(0, I),
and the decoder gives Bernoulli pixel probabilities p(x | z). Training *maximises* the evidence lower
bound by stochastic gradient ascent (we minimise its negative):

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x),
    KL(N(mu, s^2) || N(0, 1)) = -1/2 sum_k (1 + log s_k^2 - mu_k^2 - s_k^2),

with the expectation estimated by one sample z = mu + s * eps, eps ~ N(0, I) (reparameterisation).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from .validation import as_float_array, check_float, check_positive, check_positive_int, check_same_shape


def gaussian_kl(mu, logvar) -> np.ndarray:
    """KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum_k (1 + logvar - mu^2 - exp(logvar)); (N, K) -> (N,)."""
    mu, logvar = as_float_array(mu, "mu", ndim=2), as_float_array(logvar, "logvar", ndim=2)
    check_same_shape(mu, logvar, "mu", "logvar")
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=1)


def gaussian_kl_torch(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The PyTorch twin of :func:`gaussian_kl` (differentiable); (N, K) -> (N,)."""
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 2:
            raise ValueError(f"{name} must be a 2-D floating-point torch.Tensor, got {type(t).__name__} "
                             f"{getattr(t, 'shape', '')}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return -0.5 * torch.sum(1.0 + logvar - mu**2 - logvar.exp(), dim=1)


def reparameterise(mu, logvar, eps) -> np.ndarray:
    """z = mu + exp(logvar / 2) * eps: a sample of N(mu, exp(logvar)) that is differentiable in mu, logvar."""
    mu, logvar, eps = (as_float_array(a, n, ndim=2) for a, n in ((mu, "mu"), (logvar, "logvar"), (eps, "eps")))
    check_same_shape(mu, logvar, "mu", "logvar")
    check_same_shape(mu, eps, "mu", "eps")
    return mu + np.exp(0.5 * logvar) * eps


def bernoulli_elbo(x, probs, mu, logvar) -> np.ndarray:
    """One-sample ELBO per image: sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] - KL; x, probs: (N, D) -> (N,).

    x holds targets in [0, 1] (grey levels are allowed, as in the usual binary cross-entropy), probs the
    decoder's Bernoulli probabilities for the sampled z, in (0, 1).
    """
    x, probs = as_float_array(x, "x", ndim=2), as_float_array(probs, "probs", ndim=2)
    check_same_shape(x, probs, "x", "probs")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("x must hold pixel values in [0, 1]")
    if probs.size and (probs.min() <= 0 or probs.max() >= 1):
        raise ValueError("probs must hold probabilities strictly between 0 and 1")
    kl = gaussian_kl(mu, logvar)
    if len(kl) != len(x):
        raise ValueError(f"mu must have one row per image ({len(x)}), got {len(kl)}")
    return np.sum(x * np.log(probs) + (1 - x) * np.log1p(-probs), axis=1) - kl


class VAE(nn.Module):
    """An MLP VAE: 784 -> n_hidden -> (mu, logvar) in R^n_latent; n_latent -> n_hidden -> 784 logits."""

    def __init__(self, n_latent: int = 2, n_hidden: int = 256, n_inputs: int = 784):
        super().__init__()
        n_latent, n_hidden, n_inputs = (check_positive_int(n_latent, "n_latent"),
                                        check_positive_int(n_hidden, "n_hidden"),
                                        check_positive_int(n_inputs, "n_inputs"))
        self.body = nn.Sequential(nn.Linear(n_inputs, n_hidden), nn.ReLU())
        self.head = nn.Linear(n_hidden, 2 * n_latent)
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_inputs))
        self.n_latent = n_latent

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x), each (N, n_latent)."""
        return self.head(self.body(x.flatten(1))).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits (N, 784) of p(x | z)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # the reparameterisation trick
        return self.decode(z), mu, logvar


class ConvVAE(VAE):
    """A convolutional VAE for 28 x 28 images: strided convolutions down, transposed convolutions up."""

    def __init__(self, n_latent: int = 16, width: int = 32):
        nn.Module.__init__(self)
        n_latent, width = check_positive_int(n_latent, "n_latent"), check_positive_int(width, "width")
        self.body = nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                                  nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(),          # 14 x 14
                                  nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),  # 7 x 7
                                  nn.Flatten(), nn.Linear(2 * width * 49, 256), nn.ReLU())
        self.head = nn.Linear(256, 2 * n_latent)
        self.decoder = nn.Sequential(nn.Linear(n_latent, 2 * width * 49), nn.ReLU(),
                                     nn.Unflatten(1, (2 * width, 7, 7)),
                                     nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # 14 x 14
                                     nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Flatten())       # 28 x 28
        self.n_latent = n_latent


def negative_elbo(model: VAE, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Mean over the batch of -ELBO = BCE(x, decoder(z)) summed over pixels + beta * KL, in nats per image."""
    if not isinstance(model, VAE) or not isinstance(x, torch.Tensor):
        raise ValueError(f"model must be a dlcourse.vae.VAE and x a torch.Tensor, got {type(model).__name__} "
                         f"and {type(x).__name__}")
    logits, mu, logvar = model(x)
    recon = nn.functional.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(1)
    return (recon + beta * gaussian_kl_torch(mu, logvar)).mean()


def train_vae(model: VAE, X_train, X_val, epochs: int = 20, learning_rate: float = 2e-3,
              batch_size: int = 64, seed: int = 0, device="cpu") -> dict:
    """Maximise the ELBO with Adam on X_train (N, 784) in [0, 1]; returns per-epoch train/val -ELBO (nats)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a dlcourse.vae.VAE, got {type(model).__name__}")
    X_train, X_val = as_float_array(X_train, "X_train", ndim=2), as_float_array(X_val, "X_val", ndim=2)
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive(learning_rate, "learning_rate")
    torch.manual_seed(seed)
    device = torch.device(device)
    model.to(device)
    Xt = torch.tensor(X_train, dtype=torch.float32, device=device)
    Xv = torch.tensor(X_val, dtype=torch.float32, device=device)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"train_nelbo": [], "val_nelbo": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(Xt), device=device).split(batch_size):
            loss = negative_elbo(model, Xt[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        history["train_nelbo"].append(total / len(Xt))
        history["val_nelbo"].append(evaluate_nelbo(model, Xv))
    return history


@torch.no_grad()
def evaluate_nelbo(model: VAE, X) -> float:
    """Mean -ELBO (nats per image) of ``model`` on X (N, 784), one posterior sample per image, seeded."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a dlcourse.vae.VAE, got {type(model).__name__}")
    device = next(model.parameters()).device
    X = torch.as_tensor(as_float_array(X, "X", ndim=2), dtype=torch.float32, device=device)
    model.eval()
    state = torch.random.get_rng_state()
    torch.manual_seed(1234)  # the same noise every call: validation curves compare like with like
    value = sum(negative_elbo(model, xb).item() * len(xb) for xb in X.split(1000)) / max(len(X), 1)
    torch.random.set_rng_state(state)
    return value


@torch.no_grad()
def encode_means(model: VAE, X) -> np.ndarray:
    """Posterior means mu(x), (N, n_latent), of the images X (N, 784)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a dlcourse.vae.VAE, got {type(model).__name__}")
    device = next(model.parameters()).device
    X = torch.as_tensor(as_float_array(X, "X", ndim=2), dtype=torch.float32, device=device)
    model.eval()
    return torch.cat([model.encode(xb)[0] for xb in X.split(1000)]).cpu().double().numpy()


@torch.no_grad()
def decode(model: VAE, Z) -> np.ndarray:
    """Decoder means sigmoid(logits), (N, 784), of latent points Z (N, n_latent)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a dlcourse.vae.VAE, got {type(model).__name__}")
    Z = as_float_array(Z, "Z", ndim=2)
    if Z.shape[1] != model.n_latent:
        raise ValueError(f"Z must have shape (N, {model.n_latent}), got {Z.shape}")
    device = next(model.parameters()).device
    model.eval()
    return torch.sigmoid(model.decode(torch.tensor(Z, dtype=torch.float32, device=device))).cpu().double().numpy()


def interpolate(z_start, z_end, n_steps: int = 8) -> np.ndarray:
    """Points (1 - t) z_start + t z_end for t = 0, 1/(n-1), ..., 1: (n_steps, K)."""
    z_start, z_end = as_float_array(z_start, "z_start", ndim=1), as_float_array(z_end, "z_end", ndim=1)
    check_same_shape(z_start, z_end, "z_start", "z_end")
    n = check_positive_int(n_steps, "n_steps")
    t = np.linspace(0.0, 1.0, n)[:, None] if n > 1 else np.zeros((1, 1))
    return (1 - t) * z_start + t * z_end


def plot_latent_point(decoder, codes, labels, z1: float = 0.0, z2: float = 0.0):
    """Explorer frame: the 2-D latent map of ``codes`` (N, 2) coloured by digit, a cross at (z1, z2), and
    the image ``decoder`` returns for that point (decoder: (1, 2) -> (1, 784)). Returns the Figure."""
    import matplotlib.pyplot as plt

    codes = as_float_array(codes, "codes", ndim=2)
    if codes.shape[1] != 2:
        raise ValueError(f"codes must have shape (N, 2), got {codes.shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(codes),):
        raise ValueError(f"labels must have shape ({len(codes)},), got {labels.shape}")
    if not callable(decoder):
        raise ValueError(f"decoder must be callable, got {type(decoder).__name__}")
    z1, z2 = check_float(z1, "z1"), check_float(z2, "z2")
    image = np.asarray(decoder(np.array([[float(z1), float(z2)]]))).reshape(28, 28)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7, 3.4), gridspec_kw={"width_ratios": [1.4, 1]})
    points = ax0.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    ax0.plot([z1], [z2], "k+", ms=16, mew=2.5)
    ax0.set(xlabel="latent z1", ylabel="latent z2", title="validation digits, posterior means")
    fig.colorbar(points, ax=ax0, ticks=range(10), label="digit")
    ax1.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax1.set_title(f"decoded at ({z1:.1f}, {z2:.1f})")
    ax1.axis("off")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- GPU recipe

def _linear_probe(Z_train, y_train, Z_test, y_test, device, epochs: int = 100) -> float:
    """Test accuracy of softmax regression on latent means (full-batch Adam): how linearly the codes separate."""
    Zt, Zs = (torch.tensor(a, dtype=torch.float32, device=device) for a in (Z_train, Z_test))
    mean, std = Zt.mean(0), Zt.std(0) + 1e-6
    yt = torch.as_tensor(np.asarray(y_train), device=device)
    probe = nn.Linear(Zt.shape[1], 10).to(device)
    optimiser = torch.optim.Adam(probe.parameters(), lr=0.05)
    for _ in range(epochs):
        loss = nn.functional.cross_entropy(probe((Zt - mean) / std), yt)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        predicted = probe((Zs - mean) / std).argmax(1).cpu().numpy()
    return float(np.mean(predicted == np.asarray(y_test)))


def gpu_conv_vae_mnist(device, offline: bool = False, tiny: bool = False) -> dict:
    """A 16-D convolutional VAE on the 60,000 MNIST training images, scored on the 10,000 test images.

    Metrics: test -ELBO in nats per image (bar <= 105) and the test accuracy of a linear probe on the
    latent means (bar >= 0.90). ``tiny``: 256 random images, one epoch (checks the path on a CPU).
    """
    from .mlp_training import gpu_recipe_mnist

    device = torch.device(device)
    data, dataset, epochs = gpu_recipe_mnist(offline, tiny, epochs=30, download=True)
    X_train, X_test = (data[i].reshape(len(data[i]), -1).astype(np.float32) / 255 for i in (0, 2))
    start = time.perf_counter()
    model = ConvVAE(n_latent=16, width=8 if tiny else 32)
    n_val = len(X_train) // 12  # the last 5,000 training images watch training; the test set is used once
    history = train_vae(model, X_train[:-n_val], X_train[-n_val:], epochs=epochs, learning_rate=1e-3,
                        batch_size=128, device=device)
    nelbo = evaluate_nelbo(model, X_test)
    accuracy = _linear_probe(encode_means(model, X_train), data[1], encode_means(model, X_test), data[3], device)
    return {"dataset": dataset, "epochs": epochs, "seconds": time.perf_counter() - start,
            "test_nelbo": nelbo, "val_nelbo": history["val_nelbo"][-1], "nelbo_bar": 105.0,
            "test_accuracy": accuracy, "bar": 0.90}


# Full-mode recipes that benchmarks/gpu_sections.py runs: name -> recipe(device, offline, tiny) -> metrics.
GPU_RECIPES = {"08_autoencoders.conv_vae_full_mnist": gpu_conv_vae_mnist}
