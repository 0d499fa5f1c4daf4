"""The VAE's pieces against independent references: torch.distributions for the Gaussian KL and the
Bernoulli log-likelihood, the NumPy ELBO against the PyTorch loss, and a short training run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from bad_input_table import table_tests
from dlcourse import vae


def test_gaussian_kl_matches_torch_distributions():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    q = Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
    expected = kl_divergence(q, Normal(torch.zeros(7, 4, dtype=torch.float64), 1.0)).sum(1).numpy()
    np.testing.assert_allclose(vae.gaussian_kl(mu, logvar), expected, rtol=1e-12)
    got = vae.gaussian_kl_torch(torch.tensor(mu), torch.tensor(logvar))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_gaussian_kl_worked_values():
    # mu = 1, s^2 = 1: KL = mu^2 / 2 = 0.5; mu = 0, s^2 = e: -1/2 (1 + 1 - e) = (e - 2) / 2
    np.testing.assert_allclose(vae.gaussian_kl([[1.0, 0.0]], [[0.0, 1.0]]), [0.5 + (np.e - 2) / 2], rtol=1e-14)
    assert vae.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3))).tolist() == [0.0, 0.0]


def test_reparameterised_sample_has_the_right_moments_and_gradient():
    rng = np.random.default_rng(1)
    mu, logvar = np.array([[1.5, -2.0]]), np.array([[np.log(0.25), np.log(4.0)]])
    eps = rng.standard_normal((200000, 2))
    z = vae.reparameterise(np.repeat(mu, len(eps), 0), np.repeat(logvar, len(eps), 0), eps)
    np.testing.assert_allclose(z.mean(0), mu[0], atol=0.02)
    np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.01)
    # dz/dmu = 1 and dz/dlogvar = s eps / 2, by autograd through the same formula
    mt, lt = torch.tensor(mu, requires_grad=True), torch.tensor(logvar, requires_grad=True)
    e = torch.tensor(eps[:1])
    (mt + torch.exp(0.5 * lt) * e).sum().backward()
    np.testing.assert_allclose(lt.grad.numpy(), 0.5 * np.exp(0.5 * logvar) * eps[:1], rtol=1e-12)


def test_bernoulli_elbo_matches_torch_distributions_and_the_training_loss():
    rng = np.random.default_rng(2)
    x = (rng.random((5, 6)) < 0.5).astype(float)
    probs = rng.uniform(0.05, 0.95, (5, 6))
    mu, logvar = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    loglik = Bernoulli(probs=torch.tensor(probs)).log_prob(torch.tensor(x)).sum(1).numpy()
    np.testing.assert_allclose(vae.bernoulli_elbo(x, probs, mu, logvar), loglik - vae.gaussian_kl(mu, logvar),
                               rtol=1e-12)


def test_negative_elbo_is_the_numpy_elbo_with_the_same_noise():
    torch.manual_seed(0)
    model = vae.VAE(n_latent=2, n_hidden=8, n_inputs=6).double()
    x = torch.tensor((np.random.default_rng(3).random((4, 6)) < 0.5).astype(float))
    torch.manual_seed(5)
    loss = vae.negative_elbo(model, x).item()
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    probs = torch.sigmoid(model.decode(z)).detach().numpy()
    elbo = vae.bernoulli_elbo(x.numpy(), probs, mu.detach().numpy(), logvar.detach().numpy())
    assert loss == pytest.approx(-elbo.mean(), rel=1e-10)


def test_training_raises_the_validation_elbo():
    rng = np.random.default_rng(4)
    protos = (rng.random((3, 20)) < 0.5).astype(float)
    X = np.abs(protos[rng.integers(0, 3, 300)] - (rng.random((300, 20)) < 0.05))
    model = vae.VAE(n_latent=2, n_hidden=16, n_inputs=20)
    before = vae.evaluate_nelbo(model, X[200:])
    history = vae.train_vae(model, X[:200], X[200:], epochs=30, learning_rate=1e-2, batch_size=32)
    assert history["val_nelbo"][-1] < before - 3 and len(history["train_nelbo"]) == 30
    assert vae.evaluate_nelbo(model, X[200:]) == pytest.approx(vae.evaluate_nelbo(model, X[200:]))


def test_conv_vae_shapes_and_decode():
    model = vae.ConvVAE(n_latent=3, width=2)
    logits, mu, logvar = model(torch.rand(2, 784))
    assert logits.shape == (2, 784) and mu.shape == logvar.shape == (2, 3)
    out = vae.decode(model, np.zeros((4, 3)))
    assert out.shape == (4, 784) and np.all((out > 0) & (out < 1))
    assert vae.encode_means(model, np.random.default_rng(0).random((5, 784))).shape == (5, 3)


def test_interpolate_endpoints_and_midpoint():
    path = vae.interpolate([0.0, 2.0], [4.0, -2.0], 5)
    np.testing.assert_allclose(path, [[0, 2], [1, 1], [2, 0], [3, -1], [4, -2]])
    np.testing.assert_allclose(vae.interpolate([1.0], [3.0], 1), [[1.0]])


def test_plot_latent_point_draws_the_decoded_point():
    import matplotlib.pyplot as plt

    seen = []

    def decoder(z):
        seen.append(z.copy())
        return np.full((1, 784), 0.5)

    codes, labels = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 10
    fig = vae.plot_latent_point(decoder, codes, labels, z1=1.0, z2=-0.5)
    np.testing.assert_allclose(seen[0], [[1.0, -0.5]])
    assert len(fig.axes) == 3 and "decoded at (1.0, -0.5)" in fig.axes[1].get_title()
    plt.close(fig)


def test_gpu_recipe_runs_tiny_on_cpu():
    result = vae.GPU_RECIPES["08_autoencoders.conv_vae_full_mnist"]("cpu", tiny=True)
    assert 0 <= result["test_accuracy"] <= 1 and np.isfinite(result["test_nelbo"]) and result["seconds"] > 0
    assert result["bar"] == 0.90 and result["nelbo_bar"] == 105.0


MU = np.zeros((2, 3))
SMALL = vae.VAE(2, 4, 6)
X6 = np.full((3, 6), 0.5)
TABLE = {
    "gaussian_kl": (vae.gaussian_kl, {"mu": MU, "logvar": MU},
                    {"mu": [np.zeros(3), np.zeros((2, 4)), np.full((2, 3), np.nan), MU.astype(bool)]}),
    "gaussian_kl_torch": (vae.gaussian_kl_torch, {"mu": torch.zeros(2, 3), "logvar": torch.zeros(2, 3)},
                          {"mu": [MU, torch.zeros(3), torch.zeros(2, 3, dtype=torch.long)],
                           "logvar": [torch.zeros(2, 4), torch.full((2, 3), float("inf"))]}),
    "reparameterise": (vae.reparameterise, {"mu": MU, "logvar": MU, "eps": MU},
                       {"eps": [np.zeros((2, 2)), np.zeros(3)], "logvar": [np.zeros((1, 3))]}),
    "bernoulli_elbo": (vae.bernoulli_elbo, {"x": X6[:2], "probs": X6[:2], "mu": MU, "logvar": MU},
                       {"x": [X6[:2] + 1, X6], "probs": [X6[:2] * 2, np.zeros((2, 6))],
                        "mu": [np.zeros((3, 3))]}),
    "VAE": (vae.VAE, {"n_latent": 2}, {"n_latent": [0, 2.5], "n_hidden": [-1], "n_inputs": [True]}),
    "ConvVAE": (vae.ConvVAE, {"n_latent": 2, "width": 2}, {"n_latent": [0], "width": [0, "8"]}),
    "negative_elbo": (vae.negative_elbo, {"model": SMALL, "x": torch.full((3, 6), 0.5)},
                      {"model": ["m"], "x": [X6]}),
    "train_vae": (vae.train_vae, {"model": SMALL, "X_train": X6, "X_val": X6, "epochs": 1},
                  {"model": ["vae"], "X_train": [np.ones(6)], "epochs": [0], "learning_rate": [0.0],
                   "batch_size": [0]}),
    "evaluate_nelbo": (vae.evaluate_nelbo, {"model": SMALL, "X": X6}, {"model": [None], "X": [np.ones(6)]}),
    "encode_means": (vae.encode_means, {"model": SMALL, "X": X6}, {"model": [3], "X": [np.full((3, 6), np.nan)]}),
    "decode": (vae.decode, {"model": SMALL, "Z": np.zeros((2, 2))}, {"Z": [np.zeros((2, 3)), np.zeros(2)],
                                                                     "model": ["m"]}),
    "interpolate": (vae.interpolate, {"z_start": [0.0, 1.0], "z_end": [1.0, 0.0]},
                    {"z_end": [[1.0]], "n_steps": [0, 2.0], "z_start": [[[0.0, 1.0]]]}),
    "plot_latent_point": (vae.plot_latent_point, {"decoder": lambda z: np.zeros((1, 784)),
                                                  "codes": np.zeros((3, 2)), "labels": np.arange(3)},
                          {"codes": [np.zeros((3, 3))], "labels": [np.arange(4)], "decoder": [None],
                           "z1": [np.nan, "0"], "z2": [True]}),
    "gpu_conv_vae_mnist": (vae.gpu_conv_vae_mnist, {"device": "cpu", "tiny": True},
                           {"tiny": ["yes"], "offline": [1]}),
}


def _close_figures():
    import matplotlib.pyplot as plt

    plt.close("all")


globals().update(table_tests(TABLE, [vae], cleanup=_close_figures))


@pytest.mark.parametrize("mu, logvar", [(np.zeros((2, 3)), np.zeros((2, 4))), (np.zeros(3), np.zeros(3)),
                                        (np.full((1, 2), np.nan), np.zeros((1, 2))),
                                        (np.zeros((1, 2)), np.full((1, 2), np.inf))])
def test_kl_twins_reject_the_same_inputs(mu, logvar):
    with pytest.raises(ValueError):
        vae.gaussian_kl(mu, logvar)
    with pytest.raises(ValueError):
        vae.gaussian_kl_torch(torch.tensor(mu), torch.tensor(logvar))


def test_kl_twins_agree_on_an_empty_batch_and_a_batch_of_one():
    for shape in [(0, 3), (1, 3)]:
        mu, logvar = np.full(shape, 0.3), np.full(shape, -0.2)
        np.testing.assert_allclose(vae.gaussian_kl(mu, logvar),
                                   vae.gaussian_kl_torch(torch.tensor(mu), torch.tensor(logvar)).numpy())
