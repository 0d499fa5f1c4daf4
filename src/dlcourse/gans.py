"""Generative adversarial networks (chapter 9): the value function, the optimal discriminator, the two
generator losses, the ring of Gaussians, mode coverage, and latent-space helpers.

Notation: the discriminator D outputs the probability that its input is real, D = sigma(a) with the
logit a; the generator G maps a latent z ~ N(0, I) to a sample. Everything here is NumPy; the
training loop (PyTorch) is in :mod:`dlcourse.gan_training`.
"""
from __future__ import annotations

import numpy as np

from .validation import (as_float_array, check_choice, check_float, check_int, check_positive,
                         check_positive_int, check_same_shape)

GENERATOR_LOSSES = ("saturating", "non_saturating")


def _probabilities(value, name: str) -> np.ndarray:
    p = as_float_array(value, name, ndim=1, allow_empty=False)
    if np.any(p <= 0.0) or np.any(p >= 1.0):
        raise ValueError(f"{name} must hold probabilities strictly between 0 and 1 (log 0 is -inf), "
                         f"got values from {p.min()} to {p.max()}")
    return p


def _softplus(a: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, a)  # log(1 + e^a) without overflow


def minimax_value(d_real, d_fake) -> float:
    """The GAN value V(D, G) = mean_n log D(x_n) + mean_m log(1 - D(G(z_m))), estimated on a batch.

    d_real: (N,) discriminator outputs on real samples, d_fake: (M,) on generated ones, both in (0, 1).
    D maximises V; G minimises it.
    """
    d_real, d_fake = _probabilities(d_real, "d_real"), _probabilities(d_fake, "d_fake")
    return float(np.mean(np.log(d_real)) + np.mean(np.log1p(-d_fake)))


def discriminator_bce(real_logits, fake_logits) -> float:
    """The discriminator's loss: binary cross-entropy with label 1 for real and 0 for generated samples.

    L_D = mean_n -log sigma(a_n) + mean_m -log(1 - sigma(a_m)) = mean softplus(-a_real) + mean softplus(a_fake)
    = -V(D, G). Minimising it is gradient ASCENT on V. real_logits: (N,), fake_logits: (M,).
    """
    real = as_float_array(real_logits, "real_logits", ndim=1, allow_empty=False)
    fake = as_float_array(fake_logits, "fake_logits", ndim=1, allow_empty=False)
    return float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))


def generator_loss(fake_logits, kind: str = "non_saturating") -> float:
    """The generator's loss on logits a = logit D(G(z)), (M,), for the two usual choices.

    saturating: mean log(1 - D(G(z))) = -mean softplus(a) (the minimax game's own term);
    non_saturating: mean -log D(G(z)) = mean softplus(-a) (the same fixed point, strong early gradients).
    """
    kind = check_choice(kind, "kind", GENERATOR_LOSSES)
    a = as_float_array(fake_logits, "fake_logits", ndim=1, allow_empty=False)
    return float(-np.mean(_softplus(a)) if kind == "saturating" else np.mean(_softplus(-a)))


def generator_loss_grad(d_fake, kind: str = "non_saturating", wrt: str = "D") -> np.ndarray:
    """Derivative of one sample's generator loss with respect to D = D(G(z)) or to its logit a.

    saturating, l = log(1 - D):  dl/dD = -1 / (1 - D),  dl/da = -D;
    non_saturating, l = -log D: dl/dD = -1 / D,        dl/da = -(1 - D).
    At D = 0.01: dl/dD = -1.0101 (saturating) vs -100 (non-saturating); dl/da = -0.01 vs -0.99.
    d_fake: (M,) in (0, 1); returns (M,).
    """
    kind = check_choice(kind, "kind", GENERATOR_LOSSES)
    wrt = check_choice(wrt, "wrt", ("D", "logit"))
    d = _probabilities(d_fake, "d_fake")
    if wrt == "D":
        return -1.0 / (1.0 - d) if kind == "saturating" else -1.0 / d
    return -d if kind == "saturating" else -(1.0 - d)


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """The discriminator that maximises V for a fixed G: D*(x) = p_data(x) / (p_data(x) + p_g(x)).

    p_data, p_g: densities at the same points, same shape, >= 0 and never both 0.
    """
    p_data, p_g = as_float_array(p_data, "p_data"), as_float_array(p_g, "p_g")
    check_same_shape(p_data, p_g, "p_data", "p_g")
    if np.any(p_data < 0) or np.any(p_g < 0):
        raise ValueError("p_data and p_g must be densities (>= 0), got a negative value")
    if np.any(p_data + p_g == 0):
        raise ValueError("p_data + p_g must be positive at every point (D* is 0/0 where both are 0)")
    return p_data / (p_data + p_g)


def gaussian_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """The 1-D normal density N(x; mean, std^2) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
    x = as_float_array(x, "x")
    mean, std = check_float(mean, "mean"), check_positive(std, "std")
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def _grid_densities(x, p, q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = as_float_array(x, "x", ndim=1)
    if len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ValueError(f"x must be an increasing grid of at least 2 points, got {len(x)} points")
    p, q = as_float_array(p, "p", shape=(len(x),)), as_float_array(q, "q", shape=(len(x),))
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("p and q must be densities (>= 0), got a negative value")
    return x, p, q


def _xlogy_ratio(p: np.ndarray, total: np.ndarray, scale: float) -> np.ndarray:
    # p log(scale p / total) with 0 log 0 = 0; total >= p > 0 where it is used, so nothing divides by 0
    out = np.zeros_like(p)
    inside = p > 0
    out[inside] = p[inside] * np.log(scale * p[inside] / total[inside])
    return out


def js_divergence(x, p, q) -> float:
    """Jensen-Shannon divergence JS(p || q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, in nats.

    x: (n,) increasing grid, p, q: (n,) densities on it; the integrals by the trapezoidal rule.
    """
    x, p, q = _grid_densities(x, p, q)
    integrand = 0.5 * (_xlogy_ratio(p, p + q, 2.0) + _xlogy_ratio(q, p + q, 2.0))  # log(p / m) = log(2p / (p + q))
    return float(np.trapezoid(integrand, x))


def value_at_optimal_discriminator(x, p_data, p_g) -> float:
    """V(D*, G) = int p_data log D* + p_g log(1 - D*) dx on the grid x (trapezoidal rule).

    Equal to -log 4 + 2 JS(p_data || p_g): the generator's criterion once D is optimal.
    """
    x, p, q = _grid_densities(x, p_data, p_g)
    return float(np.trapezoid(_xlogy_ratio(p, p + q, 1.0) + _xlogy_ratio(q, p + q, 1.0), x))


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The centres (n_modes, 2) of a ring: radius (cos 2 pi k / K, sin 2 pi k / K), k = 0..K-1."""
    n_modes, radius = check_positive_int(n_modes, "n_modes"), check_positive(radius, "radius")
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


def ring_of_gaussians(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples of an equal mixture of isotropic Gaussians (std) on a ring; returns (X (n, 2), modes (n,))."""
    n, std = check_positive_int(n, "n"), check_positive(std, "std")
    centres = ring_centres(n_modes, radius)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    modes = rng.integers(0, len(centres), size=n)
    return centres[modes] + std * rng.normal(size=(n, 2)), modes


def assign_modes(samples, centres, max_distance: float) -> np.ndarray:
    """Index of the nearest centre for each sample, or -1 when it is farther than max_distance.

    samples: (N, D), centres: (K, D); returns (N,) int64.
    """
    samples = as_float_array(samples, "samples", ndim=2)
    centres = as_float_array(centres, "centres", ndim=2, allow_empty=False)
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples and centres must have the same number of columns, got "
                         f"{samples.shape[1]} and {centres.shape[1]}")
    max_distance = check_positive(max_distance, "max_distance")
    if len(samples) == 0:
        return np.zeros(0, dtype=np.int64)
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, K)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= max_distance
    return np.where(close, nearest, -1).astype(np.int64)


def mode_coverage(samples, centres, std: float, n_sigmas: float = 3.0,
                  min_fraction: float = 0.05) -> tuple[int, float]:
    """(modes covered, fraction of off-mode samples) of generated samples (N, 2) against centres (K, 2).

    A sample is *on* mode k when it lies within n_sigmas * std of centre k; a mode is covered when at
    least min_fraction of all N samples are on it. Off-mode: the samples near no centre.
    """
    std, n_sigmas = check_positive(std, "std"), check_positive(n_sigmas, "n_sigmas")
    min_fraction = check_float(min_fraction, "min_fraction", minimum=0.0, maximum=1.0)
    samples = as_float_array(samples, "samples", ndim=2, allow_empty=False)
    modes = assign_modes(samples, centres, n_sigmas * std)
    counts = np.bincount(modes[modes >= 0], minlength=len(np.asarray(centres)))
    return int(np.sum(counts >= min_fraction * len(samples))), float(np.mean(modes < 0))


def interpolate_latents(z_start, z_end, n_steps: int, kind: str = "linear") -> np.ndarray:
    """n_steps latent vectors from z_start to z_end (both (d,)), ends included; returns (n_steps, d).

    linear: (1 - t) z0 + t z1; slerp (spherical): sin((1 - t) W) / sin W z0 + sin(t W) / sin W z1 with
    W the angle between z0 and z1 (linear when they are parallel). Gaussian latents live near a
    sphere of radius sqrt(d), which slerp follows and the straight line cuts through.
    """
    z0 = as_float_array(z_start, "z_start", ndim=1, allow_empty=False)
    z1 = as_float_array(z_end, "z_end", shape=(len(z0),))
    n_steps = check_int(n_steps, "n_steps", minimum=2)
    kind = check_choice(kind, "kind", ("linear", "slerp"))
    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    norms = np.linalg.norm(z0) * np.linalg.norm(z1)
    angle = np.arccos(np.clip(z0 @ z1 / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if kind == "linear" or np.sin(angle) < 1e-8:
        return (1 - t) * z0 + t * z1
    return (np.sin((1 - t) * angle) * z0 + np.sin(t * angle) * z1) / np.sin(angle)


def latent_arithmetic(z_plus_a, z_minus, z_plus_b) -> np.ndarray:
    """Vector arithmetic on averaged latents: mean(z_plus_a) - mean(z_minus) + mean(z_plus_b), shape (d,).

    Each argument: (n_i, d), the latents of a few samples that share an attribute (averaging
    cancels what the samples do not share), as in "man with glasses - man + woman".
    """
    groups = [as_float_array(z, name, ndim=2, allow_empty=False)
              for z, name in ((z_plus_a, "z_plus_a"), (z_minus, "z_minus"), (z_plus_b, "z_plus_b"))]
    if len({g.shape[1] for g in groups}) != 1:
        raise ValueError(f"the three groups must have the same latent size, got {[g.shape[1] for g in groups]}")
    return groups[0].mean(axis=0) - groups[1].mean(axis=0) + groups[2].mean(axis=0)


def bigan_anomaly_score(x, x_rec, features, features_rec, alpha: float = 0.9) -> np.ndarray:
    """The BiGAN-style anomaly score of each sample: (1 - alpha) ||G(E(x)) - x|| + alpha ||f(x) - f(G(E(x)))||.

    x, x_rec = G(E(x)): (N, D); features, features_rec: (N, F), a discriminator's hidden features of the
    pair (x, E(x)) and of (G(E(x)), E(x)); alpha in [0, 1]. Returns (N,): large = anomalous.
    """
    x, x_rec = as_float_array(x, "x", ndim=2), as_float_array(x_rec, "x_rec", ndim=2)
    f, f_rec = as_float_array(features, "features", ndim=2), as_float_array(features_rec, "features_rec", ndim=2)
    check_same_shape(x, x_rec, "x", "x_rec")
    check_same_shape(f, f_rec, "features", "features_rec")
    if len(f) != len(x):
        raise ValueError(f"features must have one row per sample ({len(x)}), got {len(f)}")
    alpha = check_float(alpha, "alpha", minimum=0.0, maximum=1.0)
    return (1 - alpha) * np.linalg.norm(x_rec - x, axis=1) + alpha * np.linalg.norm(f - f_rec, axis=1)
