"""Autoencoders against independent references: scipy's subspace angles, PCA, the Bernoulli KL of
torch.distributions, torch.autograd.functional.jacobian, F.conv_transpose2d, and short training runs."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.distributions import Bernoulli, kl_divergence

from bad_input_table import table_tests
from dlcourse import autoencoder_diagrams as diag
from dlcourse import autoencoders as ae
from dlcourse import segmentation as seg


def _low_rank_data(n=400, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, k)))[0]
    return rng.normal(size=(n, k)) * [5.0, 3.0, 2.0] @ basis.T + 0.1 * rng.normal(size=(n, d)) + 1.0, basis


def test_principal_angles_match_scipy():
    rng = np.random.default_rng(1)
    for k in (1, 3, 5):
        A, B = rng.normal(size=(9, k)), rng.normal(size=(9, k))
        np.testing.assert_allclose(ae.principal_angles(A, B), np.sort(scipy.linalg.subspace_angles(A, B)),
                                   atol=1e-10)
    A = rng.normal(size=(9, 2))
    np.testing.assert_allclose(ae.principal_angles(A, A @ np.array([[2.0, 1], [0, 3]])), 0, atol=1e-7)


def test_pca_subspace_recovers_the_planted_subspace_and_numpy_eigenvectors():
    X, basis = _low_rank_data()
    mean, U = ae.pca_subspace(X, 3)
    np.testing.assert_allclose(mean, X.mean(0))
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-12)
    assert ae.principal_angles(U, basis).max() < 0.02
    evals, evecs = np.linalg.eigh(np.cov(X.T))
    assert ae.principal_angles(U, evecs[:, -3:]).max() < 1e-8


def test_linear_autoencoder_spans_the_pca_subspace():
    X, _ = _low_rank_data(d=20)
    X[:, 5] += np.random.default_rng(2).normal(size=len(X))  # a 4th direction, weaker than the planted 3
    _, U = ae.pca_subspace(X, 3)
    W_enc, W_dec = ae.fit_linear_autoencoder(X, 3, steps=200)
    angles = ae.principal_angles(U, W_dec)
    assert angles.max() < 1e-4
    np.testing.assert_allclose(angles, np.sort(scipy.linalg.subspace_angles(U, W_dec)), atol=1e-6)


def test_sparsity_kl_is_the_bernoulli_kl_with_the_target_first():
    rho, rho_hat = 0.05, np.array([0.01, 0.05, 0.2, 0.7])
    expected = kl_divergence(Bernoulli(probs=torch.full((4,), rho, dtype=torch.float64)),
                             Bernoulli(probs=torch.tensor(rho_hat))).sum().item()
    assert ae.sparsity_kl(rho, rho_hat) == pytest.approx(expected, rel=1e-12)
    swapped = kl_divergence(Bernoulli(probs=torch.tensor(rho_hat)),
                            Bernoulli(probs=torch.full((4,), rho, dtype=torch.float64))).sum().item()
    assert abs(ae.sparsity_kl(rho, rho_hat) - swapped) > 0.1  # the order matters
    t = torch.tensor(rho_hat, requires_grad=True)
    value = ae.sparsity_kl_torch(rho, t)
    value.backward()
    assert value.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), -rho / rho_hat + (1 - rho) / (1 - rho_hat), rtol=1e-12,
                               atol=1e-12)
    assert ae.sparsity_kl(0.1, [0.1, 0.1]) == 0.0


def test_contractive_penalty_matches_the_autograd_jacobian():
    rng = np.random.default_rng(3)
    W, b, X = rng.normal(size=(4, 7)), rng.normal(size=4), rng.normal(size=(5, 7))
    Wt, bt = torch.tensor(W), torch.tensor(b)
    norms = [torch.autograd.functional.jacobian(lambda x: torch.sigmoid(Wt @ x + bt), torch.tensor(x)).pow(2).sum()
             for x in X]
    h = 1 / (1 + np.exp(-(X @ W.T + b)))
    assert ae.contractive_penalty(W, h) == pytest.approx(float(np.mean(norms)), rel=1e-12)


def test_conv_transpose_is_the_input_gradient_of_a_strided_correlation():
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.normal(size=(1, 1, 7, 7)), requires_grad=True)
    K = torch.tensor(rng.normal(size=(1, 1, 3, 3)))
    y = torch.nn.functional.conv2d(x, K, stride=2, padding=1)
    dY = rng.normal(size=y.shape[2:])
    (y * torch.tensor(dY)).sum().backward()
    # the decoder's up-sampling is chapter 5's transposed convolution
    np.testing.assert_allclose(seg.conv_transpose2d(dY[None, None], K.numpy(), stride=2, padding=1)[0, 0],
                               x.grad[0, 0].numpy(), atol=1e-12)


def test_models_shapes_and_code_activations():
    x = torch.rand(3, 784)
    for model, k in [(ae.Autoencoder(5, 16), 5), (ae.Autoencoder(4, 0, code_activation="sigmoid"), 4),
                     (ae.ConvAutoencoder(6, 2), 6)]:
        logits, h = model(x)
        assert logits.shape == (3, 784) and h.shape == (3, k)
    assert torch.all(ae.Autoencoder(4, 0, code_activation="sigmoid")(x)[1] < 1)


def test_corrupt_adds_clipped_gaussian_noise():
    X = np.full((2000, 10), 0.5)
    noisy = ae.corrupt(X, 0.1, seed=0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.std(noisy - X) == pytest.approx(0.1, rel=0.02)
    np.testing.assert_array_equal(ae.corrupt(X, 0.0), X)


def _digits(n=300, seed=0):
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 64)) < 0.3).astype(float)
    y = np.arange(n) % 10
    return np.clip(protos[y] + 0.1 * rng.normal(size=(n, 64)), 0, 1), y


def test_training_reduces_the_reconstruction_error_with_each_penalty():
    X, _ = _digits()
    for kwargs, model in [({}, ae.Autoencoder(8, 16, 64)), ({"noise_std": 0.2}, ae.Autoencoder(8, 16, 64)),
                          ({"l1": 0.01}, ae.Autoencoder(8, 0, 64)),
                          ({"kl_weight": 0.5, "rho": 0.1}, ae.Autoencoder(8, 0, 64, "sigmoid")),
                          ({"contractive": 0.1}, ae.Autoencoder(8, 0, 64, "sigmoid"))]:
        before = ae.reconstruction_mse(model, X[200:])
        history = ae.train_autoencoder(model, X[:200], X[200:], epochs=15, learning_rate=1e-2, **kwargs)
        assert history["val_mse"][-1] < 0.7 * before, kwargs


def test_kl_penalty_pulls_the_mean_activation_to_rho():
    X, _ = _digits()
    rates = {}
    for weight in (0.0, 5.0):
        model = ae.Autoencoder(16, 0, 64, "sigmoid")
        ae.train_autoencoder(model, X, X, epochs=30, learning_rate=1e-2, kl_weight=weight, rho=0.05)
        rates[weight] = ae.encode(model, X).mean()
    assert abs(rates[5.0] - 0.05) < 0.03 and rates[0.0] > 0.15


def test_contractive_penalty_needs_a_one_layer_sigmoid_encoder():
    with pytest.raises(ValueError, match="one-layer sigmoid"):
        ae.train_autoencoder(ae.Autoencoder(4, 8, 64), np.zeros((4, 64)), np.zeros((4, 64)), contractive=1.0)


def test_pretraining_experiment_returns_models_and_mean_accuracies():
    X, y = _digits(400)
    model = ae.Autoencoder(8, 16, 64)
    ae.train_autoencoder(model, X, X, epochs=5)
    result = ae.pretraining_experiment(model, 8, X[:300], y[:300], X[300:], y[300:], n_per_class=(2,), epochs=3,
                                       n_draws=2)
    assert len(result["models"]["pretrained"][2]) == 2
    assert all(0 <= a <= 1 for accs in result["val_acc"].values() for a in accs)
    clf = result["models"]["scratch"][2][0]
    assert clf(torch.tensor(X[:2], dtype=torch.float32)).shape == (2, 10)


def test_diagrams_draw_their_parts():
    import matplotlib.pyplot as plt

    assert len(diag.blocks(diag.draw_conv_autoencoder())) == 7
    assert len(diag.arrows(diag.draw_vae())) == 8
    ax = diag.draw_dbn((784, 500, 500))
    assert len(diag.blocks(ax)) == 3 and len(diag.arrows(ax)) == 2
    plt.close("all")


X4 = np.random.default_rng(0).random((6, 4))
M4 = ae.Autoencoder(2, 0, 4)
TABLE = {
    "pca_subspace": (ae.pca_subspace, {"X": X4, "n_components": 2},
                     {"X": [np.ones(4), X4 > 0.5, np.full((6, 4), np.nan)], "n_components": [0, 5, 2.0]}),
    "principal_angles": (ae.principal_angles, {"A": X4[:, :2], "B": X4[:, 2:]},
                         {"B": [X4[:4, :2], np.zeros((6, 2)), np.ones(6)], "A": [X4.T]}),
    "fit_linear_autoencoder": (ae.fit_linear_autoencoder, {"X": X4, "n_code": 1, "steps": 2},
                               {"n_code": [0, 7], "steps": [0], "X": [[1.0, 2.0]]}),
    "Autoencoder": (ae.Autoencoder, {"n_code": 2}, {"n_code": [0], "n_hidden": [-1, 1.5],
                                                     "code_activation": ["tanh", None]}),
    "ConvAutoencoder": (ae.ConvAutoencoder, {"n_code": 2, "width": 1}, {"width": [0], "n_code": [True]}),
    "sparsity_kl": (ae.sparsity_kl, {"rho": 0.1, "rho_hat": [0.2, 0.3]},
                    {"rho": [0, 1, 1.5, True], "rho_hat": [[0.0, 0.2], [1.0], [[0.2]], ["a"]]}),
    "sparsity_kl_torch": (ae.sparsity_kl_torch, {"rho": 0.1, "rho_hat": torch.tensor([0.2, 0.3])},
                          {"rho_hat": [np.array([0.2]), torch.tensor([0.0, 0.5]), torch.tensor([1, 0])],
                           "rho": [0.0]}),
    "contractive_penalty": (ae.contractive_penalty, {"W": np.ones((2, 3)), "h": np.full((4, 2), 0.5)},
                            {"h": [np.full((4, 3), 0.5), np.full((4, 2), 2.0)], "W": [np.ones(3)]}),
    "corrupt": (ae.corrupt, {"X": X4, "noise_std": 0.1}, {"noise_std": [-0.1, np.nan], "X": [np.ones(3)]}),
    "train_autoencoder": (ae.train_autoencoder, {"model": M4, "X_train": X4, "X_val": X4, "epochs": 1},
                          {"model": [None], "epochs": [0], "learning_rate": [-1], "noise_std": [-1],
                           "l1": [-0.1], "kl_weight": [-1.0], "contractive": [True], "batch_size": [0],
                           "X_val": [np.ones(4)]}),
    "reconstruct": (ae.reconstruct, {"model": M4, "X": X4}, {"model": ["m"], "X": [np.ones((2, 4, 1))]}),
    "encode": (ae.encode, {"model": M4, "X": X4}, {"model": [M4.encoder], "X": [np.full((2, 4), np.inf)]}),
    "reconstruction_mse": (ae.reconstruction_mse, {"model": M4, "X_in": X4},
                           {"X_target": [X4[:3]], "X_in": [X4[0]]}),
    "fine_tune_classifier": (ae.fine_tune_classifier, {"encoder": None, "n_code": 2, "X": X4,
                                                       "y": np.arange(6), "X_val": X4, "y_val": np.arange(6),
                                                       "epochs": 1},
                             {"y": [np.arange(5), np.arange(6) + 5], "epochs": [0], "n_code": [0],
                              "learning_rate": [0]}),
    "pretraining_experiment": (ae.pretraining_experiment, {"autoencoder": M4, "n_code": 2, "X_train": X4,
                                                           "y_train": np.arange(6), "X_val": X4,
                                                           "y_val": np.arange(6), "n_per_class": (1,),
                                                           "epochs": 1, "n_draws": 1},
                               {"autoencoder": [None], "n_per_class": [(0,), (1.5,)], "n_draws": [0],
                                "y_train": [np.arange(6) * 1.0]}),
}
globals().update(table_tests(TABLE, [ae]))

DIAGRAMS = {
    "blocks": (diag.blocks, {"ax": diag.draw_vae()}, {}),
    "arrows": (diag.arrows, {"ax": diag.draw_vae()}, {}),
    "draw_conv_autoencoder": (diag.draw_conv_autoencoder, {}, {"n_code": [0], "width": [1.5], "ax": ["ax"]}),
    "draw_vae": (diag.draw_vae, {}, {"ax": [3]}),
    "draw_dbn": (diag.draw_dbn, {}, {"layer_sizes": [(784,), "784", (784, 0)]}),
    "plot_image_rows": (diag.plot_image_rows, {"rows": {"a": np.zeros((2, 784))}},
                        {"rows": [{}, {"a": np.zeros((2, 783))}, {"a": np.zeros((11, 784))}, [np.zeros(784)]]}),
    "plot_sparsity_penalty": (diag.plot_sparsity_penalty, {"rho": 0.1}, {"rho": [0, 1, np.nan, "0.1", True]}),
}


def _close():
    import matplotlib.pyplot as plt

    plt.close("all")


globals().update({f"{k}_diagrams": v for k, v in table_tests(DIAGRAMS, [diag], cleanup=_close).items()})


def test_image_rows_and_sparsity_penalty_figures():
    import matplotlib.pyplot as plt

    fig = diag.plot_image_rows({"clean": np.zeros((3, 784)), "noisy": np.ones((2, 784))}, title="t")
    assert len(fig.axes) == 6 and fig.axes[3].get_ylabel() == "noisy"
    fig = diag.plot_sparsity_penalty(0.2)
    forward = fig.axes[0].lines[0].get_ydata()
    r = fig.axes[0].lines[0].get_xdata()
    assert r[np.argmin(forward)] == pytest.approx(0.2, abs=0.01) and forward.min() < 1e-4
    plt.close("all")


@pytest.mark.parametrize("rho, rho_hat", [(0.0, [0.2]), (1.0, [0.2]), (0.1, [0.0, 0.5]), (0.1, [1.0]),
                                          (0.1, [np.nan]), (0.1, [[0.2, 0.3]])])
def test_sparsity_twins_reject_the_same_inputs(rho, rho_hat):
    with pytest.raises(ValueError):
        ae.sparsity_kl(rho, rho_hat)
    with pytest.raises(ValueError):
        ae.sparsity_kl_torch(rho, torch.tensor(rho_hat, dtype=torch.float64))
