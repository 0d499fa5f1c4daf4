"""Autoencoders (chapter 8): undercomplete, linear (= PCA), convolutional, denoising, sparse, contractive.

An autoencoder is an encoder f: x (D,) -> h (K,) and a decoder g: h -> x_hat (D,) trained to reconstruct
its input, min E ||x - g(f(x))||^2 (or the binary cross-entropy for pixels in [0, 1]). With K < D
(undercomplete) the code must keep what matters. Regularised variants add a penalty Omega(h):

    sparse, L1:     lambda * sum_j |h_j|
    sparse, KL:     beta * sum_j KL(rho || rho_hat_j),  rho_hat_j = mean over the batch of h_j in (0, 1)
    contractive:    lambda * ||J_f(x)||_F^2, J_f = dh/dx (K, D)

and the denoising autoencoder reconstructs the clean x from a corrupted x~ = x + noise.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .validation import (as_float_array, as_labels, check_choice, check_int, check_non_negative, check_positive,
                         check_positive_int)


# ---------------------------------------------------------------- linear autoencoders and PCA

def pca_subspace(X, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), U (D, k)): the data mean and the top-k principal directions (orthonormal columns)."""
    X = as_float_array(X, "X", ndim=2)
    k = check_int(n_components, "n_components", minimum=1, maximum=min(X.shape))
    mean = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, Vt[:k].T.copy()


def principal_angles(A, B) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of A (D, k) and B (D, k).

    Orthonormalise both (QR), then cos(theta_i) are the singular values of Q_A^T Q_B (small angles are
    read from their sines instead, which keeps them accurate).
    """
    A, B = as_float_array(A, "A", ndim=2, allow_empty=False), as_float_array(B, "B", ndim=2, allow_empty=False)
    if A.shape[0] != B.shape[0] or A.shape[1] > A.shape[0]:
        raise ValueError(f"A and B must be (D, k) with the same D and k <= D, got {A.shape} and {B.shape}")
    (Qa, Ra), (Qb, Rb) = np.linalg.qr(A), np.linalg.qr(B)
    for name, R in (("A", Ra), ("B", Rb)):
        if np.min(np.abs(np.diag(R))) <= 1e-12 * max(np.abs(R).max(), 1e-300):
            raise ValueError(f"{name} must have linearly independent columns")
    M = Qa.T @ Qb
    cosines = np.linalg.svd(M, compute_uv=False)  # descending: the smallest angles first
    # arccos loses digits near 0 (cos = 1 - theta^2 / 2): there the sines, the singular values of the part
    # of Q_B outside span(A), are exact (the same split scipy.linalg.subspace_angles makes)
    sines = np.linalg.svd(Qb - Qa @ M, compute_uv=False)[::-1]
    return np.where(cosines**2 <= 0.5, np.arccos(np.clip(cosines, -1.0, 1.0)), np.arcsin(np.clip(sines, 0, 1)))


def fit_linear_autoencoder(X, n_code: int, steps: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train x_hat = W_dec W_enc (x - mean) on X (N, D) by L-BFGS in float64 (full batch, squared error).

    Returns (W_enc (k, D), W_dec (D, k)); at the optimum the columns of W_dec span the top-k principal
    subspace of X, though they are neither orthonormal nor the principal directions themselves.
    """
    X = as_float_array(X, "X", ndim=2)
    k = check_int(n_code, "n_code", minimum=1, maximum=min(X.shape))
    steps = check_positive_int(steps, "steps")
    generator = torch.Generator().manual_seed(seed)
    Xc = X - X.mean(axis=0)
    C = torch.tensor(Xc.T @ Xc / len(X))  # (D, D): the loss needs only the covariance
    scale = 1.0 / np.sqrt(X.shape[1])
    W_enc = (scale * torch.randn(k, X.shape[1], generator=generator, dtype=torch.float64)).requires_grad_()
    W_dec = (scale * torch.randn(X.shape[1], k, generator=generator, dtype=torch.float64)).requires_grad_()
    optimiser = torch.optim.LBFGS([W_enc, W_dec], max_iter=steps, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure():
        # mean ||x - W_dec W_enc x||^2 = tr C - 2 tr(W_dec W_enc C) + tr(W_enc C W_enc^T W_dec^T W_dec)
        optimiser.zero_grad()
        A = W_enc @ C
        loss = torch.trace(C) - 2 * torch.sum(W_dec * A.T) + torch.sum((A @ W_enc.T) * (W_dec.T @ W_dec))
        loss.backward()
        return loss

    optimiser.step(closure)
    return W_enc.detach().numpy(), W_dec.detach().numpy()


# ---------------------------------------------------------------- models

_CODE_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


class Autoencoder(nn.Module):
    """MLP autoencoder D -> n_hidden -> n_code -> n_hidden -> D (n_hidden=0: one layer each way).

    ``code_activation``: 'relu', 'sigmoid' (codes in (0, 1), needed by the KL sparsity penalty) or
    'linear'. The decoder returns pixel *logits*; sigmoid(logits) is the reconstruction.
    """

    def __init__(self, n_code: int = 16, n_hidden: int = 128, n_inputs: int = 784, code_activation: str = "relu"):
        super().__init__()
        n_code, n_inputs = check_positive_int(n_code, "n_code"), check_positive_int(n_inputs, "n_inputs")
        n_hidden = check_int(n_hidden, "n_hidden", minimum=0)
        act = _CODE_ACTIVATIONS[check_choice(code_activation, "code_activation", sorted(_CODE_ACTIVATIONS))]
        if n_hidden:
            self.encoder = nn.Sequential(nn.Linear(n_inputs, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_code), act())
            self.decoder = nn.Sequential(nn.Linear(n_code, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_inputs))
        else:
            self.encoder = nn.Sequential(nn.Linear(n_inputs, n_code), act())
            self.decoder = nn.Sequential(nn.Linear(n_code, n_inputs))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.flatten(1))
        return self.decoder(h), h


class ConvAutoencoder(Autoencoder):
    """Convolutional autoencoder for 28 x 28 images: two stride-2 convolutions down to 7 x 7, a linear
    bottleneck of n_code units, and two stride-2 *transposed* convolutions back up to 28 x 28."""

    def __init__(self, n_code: int = 16, width: int = 8):
        nn.Module.__init__(self)
        n_code, width = check_positive_int(n_code, "n_code"), check_positive_int(width, "width")
        self.encoder = nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                                     nn.Conv2d(1, width, 3, stride=2, padding=1), nn.ReLU(),          # 14 x 14
                                     nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),  # 7 x 7
                                     nn.Flatten(), nn.Linear(2 * width * 49, n_code), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(n_code, 2 * width * 49), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
                                     nn.ConvTranspose2d(2 * width, width, 3, 2, 1, output_padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(width, 1, 3, 2, 1, output_padding=1),         # 28 x 28
                                     nn.Flatten())


# ---------------------------------------------------------------- penalties (NumPy, then PyTorch)

def _rates(rho, rho_hat, name="rho_hat"):
    rho = check_positive(rho, "rho")
    if rho >= 1:
        raise ValueError(f"rho must be a target activation rate in (0, 1), got {rho}")
    rho_hat = as_float_array(rho_hat, name, ndim=1)
    if rho_hat.size and (rho_hat.min() <= 0 or rho_hat.max() >= 1):
        raise ValueError(f"{name} must hold mean activations strictly between 0 and 1")
    return rho, rho_hat


def sparsity_kl(rho: float, rho_hat) -> float:
    """sum_j KL(rho || rho_hat_j) = sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)).

    The first argument is the *target* rate rho, the second the measured mean activations rho_hat (H,):
    the KL of Bernoulli(rho) from Bernoulli(rho_hat_j). Zero only when every rho_hat_j = rho.
    """
    rho, rho_hat = _rates(rho, rho_hat)
    return float(np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))))


def sparsity_kl_torch(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """The PyTorch twin of :func:`sparsity_kl` (differentiable in rho_hat)."""
    if not isinstance(rho_hat, torch.Tensor) or not rho_hat.is_floating_point():
        raise ValueError(f"rho_hat must be a floating-point torch.Tensor, got {type(rho_hat).__name__}")
    _rates(rho, rho_hat.detach())
    return torch.sum(rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat)))


def contractive_penalty(W, h) -> float:
    """Mean over the batch of ||J||_F^2 for a sigmoid encoder h = sigmoid(W x + b), W: (K, D), h: (N, K).

    dh_j/dx_i = h_j (1 - h_j) W_ji, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2 (Rifai et al. 2011).
    """
    W, h = as_float_array(W, "W", ndim=2), as_float_array(h, "h", ndim=2)
    if h.shape[1] != W.shape[0]:
        raise ValueError(f"h must have shape (N, {W.shape[0]}) for W of shape {W.shape}, got {h.shape}")
    if h.size and (h.min() < 0 or h.max() > 1):
        raise ValueError("h must hold sigmoid activations in [0, 1]")
    return float(np.mean(((h * (1 - h)) ** 2) @ np.sum(W**2, axis=1))) if len(h) else 0.0


def _contractive_torch(W: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return (((h * (1 - h)) ** 2) @ (W**2).sum(1)).mean()


# ---------------------------------------------------------------- training

def corrupt(X, noise_std: float, seed: int = 0) -> np.ndarray:
    """x~ = clip(x + noise_std * N(0, 1), 0, 1): Gaussian corruption of images in [0, 1], (N, D)."""
    X = as_float_array(X, "X", ndim=2)
    noise_std = check_non_negative(noise_std, "noise_std")
    return np.clip(X + noise_std * np.random.default_rng(seed).standard_normal(X.shape), 0.0, 1.0)


def _penalty(model, h, x, l1, kl_weight, rho, contractive):
    loss = h.new_zeros(())
    if l1:
        loss = loss + l1 * h.abs().sum(1).mean()
    if kl_weight:
        loss = loss + kl_weight * sparsity_kl_torch(rho, h.mean(0).clamp(1e-6, 1 - 1e-6))
    if contractive:
        loss = loss + contractive * _contractive_torch(model.encoder[0].weight, h)
    return loss


def train_autoencoder(model: Autoencoder, X_train, X_val, epochs: int = 10, learning_rate: float = 2e-3,
                      batch_size: int = 64, noise_std: float = 0.0, l1: float = 0.0, kl_weight: float = 0.0,
                      rho: float = 0.05, contractive: float = 0.0, seed: int = 0, device="cpu") -> dict:
    """Train ``model`` with Adam on the binary cross-entropy (summed over pixels) plus the chosen penalty.

    ``noise_std`` > 0 makes it a denoising autoencoder (input corrupted, target clean); ``l1``,
    ``kl_weight`` (with target rate ``rho``) and ``contractive`` weight the penalties of the module
    docstring (the contractive one needs ``Autoencoder(n_hidden=0, code_activation='sigmoid')``).
    Returns per-epoch ``train_loss`` and ``val_mse`` (clean validation images, per pixel).
    """
    if not isinstance(model, Autoencoder):
        raise ValueError(f"model must be a dlcourse.autoencoders.Autoencoder, got {type(model).__name__}")
    X_train, X_val = as_float_array(X_train, "X_train", ndim=2), as_float_array(X_val, "X_val", ndim=2)
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive(learning_rate, "learning_rate")
    noise_std, l1, kl_weight, contractive = (check_non_negative(v, n) for v, n in (
        (noise_std, "noise_std"), (l1, "l1"), (kl_weight, "kl_weight"), (contractive, "contractive")))
    if kl_weight:
        _rates(rho, np.array([0.5]))
    if contractive and not (len(model.encoder) == 2 and isinstance(model.encoder[1], nn.Sigmoid)):
        raise ValueError("the contractive penalty needs a one-layer sigmoid encoder: "
                         "Autoencoder(n_hidden=0, code_activation='sigmoid')")
    torch.manual_seed(seed)
    device = torch.device(device)
    model.to(device)
    Xt = torch.tensor(X_train, dtype=torch.float32, device=device)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {"train_loss": [], "val_mse": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(Xt), device=device).split(batch_size):
            x = Xt[batch]
            x_in = (x + noise_std * torch.randn_like(x)).clamp(0, 1) if noise_std else x
            logits, h = model(x_in)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
            loss = loss + _penalty(model, h, x_in, l1, kl_weight, rho, contractive)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(x)
        history["train_loss"].append(total / len(Xt))
        history["val_mse"].append(reconstruction_mse(model, X_val))
    return history


def _model(model) -> Autoencoder:
    if not isinstance(model, Autoencoder):
        raise ValueError(f"model must be a dlcourse.autoencoders.Autoencoder, got {type(model).__name__}")
    return model


@torch.no_grad()
def reconstruct(model: Autoencoder, X) -> np.ndarray:
    """sigmoid(decoder(encoder(x))) for images X (N, D): (N, D) in (0, 1)."""
    model = _model(model).eval()
    X = torch.tensor(as_float_array(X, "X", ndim=2), dtype=torch.float32, device=next(model.parameters()).device)
    return torch.sigmoid(model(X)[0]).cpu().double().numpy()


@torch.no_grad()
def encode(model: Autoencoder, X) -> np.ndarray:
    """The codes h = f(x), (N, K), of images X (N, D)."""
    model = _model(model).eval()
    X = torch.tensor(as_float_array(X, "X", ndim=2), dtype=torch.float32, device=next(model.parameters()).device)
    return model.encoder(X).cpu().double().numpy()


def reconstruction_mse(model: Autoencoder, X_in, X_target=None) -> float:
    """Mean squared error per pixel between reconstruct(model, X_in) and X_target (default X_in)."""
    X_in = as_float_array(X_in, "X_in", ndim=2)
    X_target = X_in if X_target is None else as_float_array(X_target, "X_target", shape=X_in.shape)
    return float(np.mean((reconstruct(model, X_in) - X_target) ** 2))


# ---------------------------------------------------------------- pre-training, then few labels

def _few_labels(y, n_per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n_per_class] for c in range(10)])


def fine_tune_classifier(encoder: nn.Module | None, n_code: int, X, y, X_val, y_val, epochs: int = 60,
                         learning_rate: float = 1e-3, seed: int = 0) -> tuple[nn.Module, list[float]]:
    """Encoder (a copy of a pre-trained one, or a fresh ``Autoencoder(n_code).encoder`` if None) + a linear
    head of 10 classes, all trained with Adam on (X, y); keeps the epoch with the best validation accuracy.

    Returns (classifier, validation accuracy per epoch).
    """
    X, X_val = as_float_array(X, "X", ndim=2), as_float_array(X_val, "X_val", ndim=2)
    y, y_val = as_labels(y, "y", 10, len(X)), as_labels(y_val, "y_val", 10, len(X_val))
    epochs, n_code = check_positive_int(epochs, "epochs"), check_positive_int(n_code, "n_code")
    learning_rate = check_positive(learning_rate, "learning_rate")
    torch.manual_seed(seed)
    body = Autoencoder(n_code, n_inputs=X.shape[1]).encoder if encoder is None else copy.deepcopy(encoder)
    model = nn.Sequential(body, nn.Linear(n_code, 10))
    nn.init.zeros_(model[1].weight)  # zero logits at the start: the head's first gradients leave the body intact
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    Xt, yt, Xv = torch.tensor(X, dtype=torch.float32), torch.tensor(y), torch.tensor(X_val, dtype=torch.float32)
    accuracies, best = [], None
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(Xt)).split(32):
            loss = nn.functional.cross_entropy(model(Xt[batch]), yt[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            accuracies.append(float((model(Xv).argmax(1).numpy() == y_val).mean()))
        if accuracies[-1] == max(accuracies):
            best = copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    return model.eval(), accuracies


def pretraining_experiment(autoencoder: Autoencoder, n_code: int, X_train, y_train, X_val, y_val,
                           n_per_class=(5, 20), epochs: int = 30, n_draws: int = 3) -> dict:
    """Few labels per class from X_train: a classifier from the pre-trained encoder vs one from scratch.

    For each n in ``n_per_class`` and each of ``n_draws`` random draws of n labelled images per class,
    both classifiers are trained (:func:`fine_tune_classifier`, best epoch chosen on validation).
    Returns {"n_per_class", "val_acc": {"scratch": [mean over draws per n], "pretrained": [...]},
    "models": {"scratch": {n: [model per draw]}, "pretrained": {...}}}; the test set is not touched.
    """
    _model(autoencoder)
    X_train = as_float_array(X_train, "X_train", ndim=2)
    y_train = as_labels(y_train, "y_train", 10, len(X_train))
    counts = [check_positive_int(n, "n_per_class") for n in n_per_class]
    n_draws = check_positive_int(n_draws, "n_draws")
    result = {"n_per_class": counts, "val_acc": {"scratch": [], "pretrained": []},
              "models": {"scratch": {}, "pretrained": {}}}
    for n in counts:
        for name, encoder in (("scratch", None), ("pretrained", autoencoder.encoder)):
            accs, models = [], []
            for draw in range(n_draws):
                chosen = _few_labels(y_train, n, draw)
                model, curve = fine_tune_classifier(encoder, n_code, X_train[chosen], y_train[chosen], X_val,
                                                    y_val, epochs, seed=draw)
                accs.append(max(curve))
                models.append(model)
            result["val_acc"][name].append(float(np.mean(accs)))
            result["models"][name][n] = models
    return result
