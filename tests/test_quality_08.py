"""Chapter 8 quality bars in CPU mode, with the notebook's recipes and its protocol (3,200 training
images, 800 for validation, the 1,000 test images touched once, here as in the notebook):

- the linear autoencoder spans PCA's 8-dimensional subspace to within 1e-2 rad;
- the MLP autoencoder and the 2-D VAE reconstruct held-out test digits far better than the mean image,
  and the VAE's test ELBO rose in training;
- an encoder pre-trained as an autoencoder beats the same classifier trained from scratch on 5 labels
  per class (mean test accuracy over three draws).
"""
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from dlcourse import autoencoders as ae
from dlcourse import vae
from dlcourse.cnn_training import mnist_5k_splits


@pytest.fixture(scope="module")
def splits():
    torch.set_num_threads(1)  # as the notebook: small networks, a shared CPU
    return mnist_5k_splits()


@pytest.mark.quality
def test_linear_autoencoder_spans_the_pca_subspace_of_mnist(splits):
    with threadpool_limits(1):
        _, U = ae.pca_subspace(splits["X_train"], 8)
        _, W_dec = ae.fit_linear_autoencoder(splits["X_train"], 8, steps=200)
    assert ae.principal_angles(U, W_dec).max() < 1e-2


@pytest.mark.quality
def test_autoencoder_vae_and_pretraining_on_mnist_5k(splits):
    Xtr, ytr, Xva, yva, Xte, yte = (splits[k] for k in ("X_train", "y_train", "X_val", "y_val",
                                                         "X_test", "y_test"))
    baseline = np.mean((Xte - Xtr.mean(0)) ** 2)
    torch.manual_seed(0)
    model = ae.Autoencoder(n_code=32, n_hidden=128)
    ae.train_autoencoder(model, Xtr, Xva, epochs=10, learning_rate=2e-3)
    assert ae.reconstruction_mse(model, Xte) < 0.45 * baseline

    torch.manual_seed(0)
    v = vae.VAE(n_latent=2, n_hidden=256)
    before = vae.evaluate_nelbo(v, Xte)
    vae.train_vae(v, Xtr, Xva, epochs=15, learning_rate=2e-3)
    assert vae.evaluate_nelbo(v, Xte) < min(180.0, before - 300)
    recon = vae.decode(v, vae.encode_means(v, Xte))
    assert np.mean((recon - Xte) ** 2) < 0.8 * baseline
    samples = vae.decode(v, np.random.default_rng(0).standard_normal((100, 2)))
    assert np.all(np.isfinite(samples)) and samples.std(0).mean() > 0.05  # the samples differ

    pre = ae.pretraining_experiment(model, 32, Xtr, ytr, Xva, yva, n_per_class=(5,), epochs=30, n_draws=3)
    with torch.no_grad():
        acc = {m: np.mean([(c(torch.tensor(Xte)).argmax(1).numpy() == yte).mean() for c in pre["models"][m][5]])
               for m in ("scratch", "pretrained")}
    assert acc["pretrained"] > acc["scratch"] + 0.02, acc
