"""GAN training: the discriminator step ascends V (checked against autograd of V written here), the
generator step moves G only, k discriminator steps per generator step, the Frechet distance against
scipy's sqrtm, the models' shapes, and the GPU recipe at tiny size on the CPU."""
import numpy as np
import pytest
import torch
from scipy import linalg

from bad_input_table import table_tests
from dlcourse import gan_training as gt



def _randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def _pair(seed=0):
    """A small G and D in float64, where gradients are compared."""
    torch.manual_seed(seed)
    return gt.mlp_generator(2, 2, (8,)).double(), gt.mlp_discriminator(2, (8,)).double()


def _value(generator, discriminator, real, z):
    """V(D, G) = mean log D(x) + mean log(1 - D(G(z))), written directly with sigmoid and log."""
    d_real = torch.sigmoid(discriminator(real))
    d_fake = torch.sigmoid(discriminator(generator(z)))
    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()


def test_discriminator_step_is_gradient_ascent_on_v_and_leaves_g_alone():
    generator, discriminator = _pair()
    real, z = _randn(16, 2), _randn(12, 2)
    before_d = [p.detach().clone() for p in discriminator.parameters()]
    before_g = [p.detach().clone() for p in generator.parameters()]
    grads = torch.autograd.grad(_value(generator, discriminator, real, z), list(discriminator.parameters()))
    eta = 0.01
    value_before = _value(generator, discriminator, real, z).item()
    gt.discriminator_step(generator, discriminator, torch.optim.SGD(discriminator.parameters(), lr=eta), real, z)
    for p, p0, g in zip(discriminator.parameters(), before_d, grads):
        torch.testing.assert_close(p.detach(), p0 + eta * g, rtol=1e-12, atol=1e-14)  # + : ascent
    for p, p0 in zip(generator.parameters(), before_g):
        assert torch.equal(p.detach(), p0)
    assert _value(generator, discriminator, real, z).item() > value_before


@pytest.mark.parametrize("kind", ["saturating", "non_saturating"])
def test_generator_step_descends_its_loss_and_leaves_d_alone(kind):
    generator, discriminator = _pair(1)
    z = _randn(10, 2)
    before_d = [p.detach().clone() for p in discriminator.parameters()]
    before_g = [p.detach().clone() for p in generator.parameters()]
    d_fake = torch.sigmoid(discriminator(generator(z)))
    loss = torch.log(1 - d_fake).mean() if kind == "saturating" else -torch.log(d_fake).mean()
    grads = torch.autograd.grad(loss, list(generator.parameters()))
    returned = gt.generator_step(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=0.05), z, kind)
    assert returned == pytest.approx(loss.item(), rel=1e-12)
    for p, p0, g in zip(generator.parameters(), before_g, grads):
        torch.testing.assert_close(p.detach(), p0 - 0.05 * g, rtol=1e-12, atol=1e-14)
    for p, p0 in zip(discriminator.parameters(), before_d):
        assert torch.equal(p.detach(), p0)


@pytest.mark.parametrize("k_steps", [1, 3])
def test_train_gan_makes_k_discriminator_steps_per_generator_step(k_steps, monkeypatch):
    calls = []
    real_d, real_g = gt.discriminator_step, gt.generator_step
    monkeypatch.setattr(gt, "discriminator_step", lambda *a: calls.append("D") or real_d(*a))
    monkeypatch.setattr(gt, "generator_step", lambda *a: calls.append("G") or real_g(*a))
    generator, discriminator = _pair()
    history = gt.train_gan(generator, discriminator, np.random.default_rng(0).normal(size=(50, 2)), 2, 4,
                           k_steps=k_steps, batch_size=8, record_every=2, n_record=5)
    assert calls == (["D"] * k_steps + ["G"]) * 4
    assert len(history["d_loss"]) == 4 and [s for s, _ in history["snapshots"]] == [2, 4]
    assert history["snapshots"][0][1].shape == (5, 2)


def test_discriminator_alone_learns_to_separate_shifted_data():
    # G frozen at the origin (many D steps, SGD on the logistic loss): D(x) -> 1 on data at +3, -> 0 at G's points
    generator, discriminator = _pair(2)
    real, z = _randn(64, 2) + 3.0, _randn(64, 2)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=0.05)
    for _ in range(200):
        loss, d_real, d_fake = gt.discriminator_step(generator, discriminator, optimizer, real, z)
    assert d_real > 0.95 and d_fake < 0.05 and loss < 0.1


def test_generate_is_reproducible_and_accepts_given_latents():
    generator, _ = _pair()
    a, b = gt.generate(generator, 6, 2, seed=3), gt.generate(generator, 6, 2, seed=3)
    np.testing.assert_array_equal(a, b)
    z = np.zeros((2, 2))
    with torch.no_grad():
        expected = generator(torch.zeros(2, 2, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(gt.generate(generator, 2, 2, z=z), expected, rtol=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 0.5
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert gt.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert gt.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    # equal-size samples whitened exactly: FD = |dmu|^2 + sum (s_a - s_b)^2 for diagonal covariances
    rng = np.random.default_rng(1)
    white = rng.normal(size=(1000, 3))
    white = (white - white.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(white, rowvar=False))).T
    s_a, s_b, shift = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5]), np.array([1.0, 0.0, -2.0])
    fd = gt.frechet_distance(white * s_a, white * s_b + shift)
    assert fd == pytest.approx(np.sum(shift**2) + np.sum((s_a - s_b) ** 2), rel=1e-9)


def test_models_have_the_documented_shapes():
    assert gt.mlp_generator(4, 784, (16, 32), output="sigmoid")(torch.randn(3, 4)).shape == (3, 784)
    assert gt.mlp_discriminator(784, (32,), dropout=0.3)(torch.rand(3, 1, 28, 28)).shape == (3, 1)
    images = gt.dcgan_generator(8, 4)(torch.randn(5, 8))
    assert images.shape == (5, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert gt.dcgan_discriminator(4)(images).shape == (5, 1)
    features, classes = gt.classifier_features(gt.feature_classifier(16), np.random.rand(7, 784))
    assert features.shape == (7, 16) and classes.shape == (7,)


def test_mnist_gan_returns_pixels_in_the_unit_range():
    generator, history = gt.train_mnist_gan(np.random.default_rng(0).random((64, 784)), steps=3)
    samples = gt.generate(generator, 10, gt.MNIST_RECIPE["latent_dim"])
    assert samples.shape == (10, 784) and samples.min() >= 0 and samples.max() <= 1
    assert len(history["g_loss"]) == 3


def test_gpu_recipe_runs_tiny_on_the_cpu():
    result = gt.GPU_RECIPES["09_gans.dcgan_mnist"](torch.device("cpu"), tiny=True)
    assert result["dataset"].endswith("(tiny)") and result["seconds"] > 0
    assert 0 <= result["test_accuracy"] <= 1 and 0 <= result["classes_covered"] <= 10
    assert np.isfinite(result["frechet_distance"]) and result["frechet_distance"] >= 0


# ---------------------------------------------------------------- bad input

def _g():
    return gt.mlp_generator(2, 2, (4,))


def _d():
    return gt.mlp_discriminator(2, (4,))


def _opt(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)


_G, _D = _g(), _d()
TABLE = {
    "mlp_generator": (gt.mlp_generator, {"latent_dim": 2, "out_dim": 2, "hidden": (4,)},
                      {"latent_dim": [0, 1.5], "out_dim": [-1], "hidden": [(), (0,), "4", 4],
                       "output": ["relu"], "activation": ["tanh"]}),
    "mlp_discriminator": (gt.mlp_discriminator, {"in_dim": 2, "hidden": (4,)},
                          {"in_dim": [0, True], "hidden": [[], (4, -1)], "dropout": [1.0, -0.1]}),
    "discriminator_step": (gt.discriminator_step, {"generator": _G, "discriminator": _D, "optimizer": _opt(_D),
                                                   "real": torch.randn(4, 2), "z": torch.randn(4, 2)},
                           {"real": [np.zeros((4, 2)), torch.zeros(4), torch.zeros(0, 2)],
                            "z": [torch.zeros(4, 2, dtype=torch.int64)]}),
    "generator_step": (gt.generator_step, {"generator": _G, "discriminator": _D, "optimizer": _opt(_G),
                                           "z": torch.randn(4, 2)},
                       {"z": [np.zeros((4, 2)), torch.zeros(3)], "kind": ["wasserstein"]}),
    "train_gan": (gt.train_gan, {"generator": _G, "discriminator": _D, "data": np.zeros((8, 2)), "latent_dim": 2,
                                 "steps": 1, "batch_size": 4},
                  {"data": [np.zeros(8), np.zeros((1, 2)), [[np.nan, 0.0]] * 3], "steps": [0, 1.0],
                   "k_steps": [0], "batch_size": [-2], "lr": [0.0], "generator_loss": ["wgan"],
                   "lr_decay": [1], "record_every": [-1], "n_record": [0], "seed": [-1]}),
    "generate": (gt.generate, {"generator": _G, "n": 3, "latent_dim": 2},
                 {"n": [0], "latent_dim": [0], "seed": [-1], "z": [np.zeros((3, 3)), np.zeros(2)]}),
    "train_ring_gan": (gt.train_ring_gan, {"steps": 1, "batch_size": 8, "n_train": 16},
                       {"steps": [0], "n_train": [0], "seed": [-1], "generator_loss": ["x"], "k_steps": [0]}),
    "ring_quality": (gt.ring_quality, {"generator": _G, "n": 50},
                     {"n": [0, 2.5], "seed": [-3]}),
    "train_mnist_gan": (gt.train_mnist_gan, {"X": np.zeros((4, 784)), "steps": 1, "batch_size": 2},
                        {"X": [np.zeros((4, 783)), np.full((4, 784), 2.0), np.zeros((0, 784))], "steps": [0],
                         "lr": [-1.0], "seed": [1.5]}),
    "frechet_distance": (gt.frechet_distance, {"features_a": np.eye(3), "features_b": np.eye(3)},
                         {"features_a": [np.ones(3), np.ones((1, 3)), np.ones((3, 2))],
                          "features_b": [[[np.inf] * 3] * 3]}),
    "feature_classifier": (gt.feature_classifier, {"n_features": 8}, {"n_features": [0, 8.0]}),
    "train_feature_classifier": (gt.train_feature_classifier, {"X": np.zeros((4, 784)), "y": [0, 1, 2, 3],
                                                               "epochs": 1},
                                 {"X": [np.zeros((4, 10))], "y": [[0, 1, 2], [0, 1, 2, 10]], "epochs": [0],
                                  "batch_size": [0], "lr": [0.0], "seed": [-1]}),
    "classifier_features": (gt.classifier_features, {"model": gt.feature_classifier(8), "X": np.zeros((2, 784))},
                            {"X": [np.zeros((2, 10)), np.zeros(784), np.zeros((0, 784))]}),
    "dcgan_generator": (gt.dcgan_generator, {"latent_dim": 4, "width": 2}, {"latent_dim": [0], "width": [1.5]}),
    "dcgan_discriminator": (gt.dcgan_discriminator, {"width": 2}, {"width": [0, True]}),
}
globals().update(table_tests(TABLE, [gt]))


def test_training_runs_on_one_cpu_thread_and_restores_the_setting(monkeypatch):
    seen = []
    real_step = gt.generator_step
    monkeypatch.setattr(gt, "generator_step", lambda *a: seen.append(torch.get_num_threads()) or real_step(*a))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generator, discriminator = _pair()
        gt.train_gan(generator, discriminator, np.zeros((10, 2)), 2, 2, batch_size=4)
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
