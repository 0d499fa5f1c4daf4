"""Chapter 9's GAN functions against PyTorch autograd, scipy quadrature and closed forms (float64)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from bad_input_table import table_tests
from dlcourse import gans

RNG = np.random.default_rng(0)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---------------------------------------------------------------- the value function and the losses

def test_minimax_value_is_minus_the_torch_bce_of_real_as_1_and_fake_as_0():
    d_real, d_fake = RNG.uniform(0.05, 0.95, 7), RNG.uniform(0.05, 0.95, 5)
    bce = (F.binary_cross_entropy(torch.tensor(d_real), torch.ones(7, dtype=torch.float64))
           + F.binary_cross_entropy(torch.tensor(d_fake), torch.zeros(5, dtype=torch.float64)))
    assert gans.minimax_value(d_real, d_fake) == pytest.approx(-bce.item(), abs=1e-13)


def test_value_of_a_clueless_discriminator_is_minus_log_4():
    assert gans.minimax_value([0.5, 0.5], [0.5]) == pytest.approx(-np.log(4.0), abs=1e-15)


def test_discriminator_bce_matches_torch_with_logits_and_equals_minus_v():
    real, fake = RNG.normal(scale=3, size=9), RNG.normal(scale=3, size=4)
    expected = (F.binary_cross_entropy_with_logits(torch.tensor(real), torch.ones(9, dtype=torch.float64))
                + F.binary_cross_entropy_with_logits(torch.tensor(fake), torch.zeros(4, dtype=torch.float64)))
    assert gans.discriminator_bce(real, fake) == pytest.approx(expected.item(), abs=1e-13)
    assert gans.discriminator_bce(real, fake) == pytest.approx(
        -gans.minimax_value(_sigmoid(real), _sigmoid(fake)), abs=1e-12)


def test_discriminator_bce_is_finite_for_huge_logits():
    loss = gans.discriminator_bce([800.0, -800.0], [-900.0, 900.0])
    assert loss == pytest.approx(0.5 * 800 + 0.5 * 900, rel=1e-12)  # mean softplus: 0 and 800, 0 and 900


@pytest.mark.parametrize("kind", gans.GENERATOR_LOSSES)
def test_generator_loss_matches_its_torch_formula(kind):
    a = RNG.normal(scale=2, size=6)
    d = torch.sigmoid(torch.tensor(a))
    expected = torch.log1p(-d).mean() if kind == "saturating" else -torch.log(d).mean()
    assert gans.generator_loss(a, kind) == pytest.approx(expected.item(), abs=1e-12)


@pytest.mark.parametrize("kind", gans.GENERATOR_LOSSES)
@pytest.mark.parametrize("wrt", ["D", "logit"])
def test_generator_loss_grad_matches_autograd(kind, wrt):
    d = np.array([0.01, 0.2, 0.5, 0.9, 0.999])
    if wrt == "D":
        leaf = torch.tensor(d, requires_grad=True)
        prob = leaf
    else:
        leaf = torch.tensor(np.log(d / (1 - d)), requires_grad=True)
        prob = torch.sigmoid(leaf)
    loss = torch.log1p(-prob) if kind == "saturating" else -torch.log(prob)
    loss.sum().backward()
    np.testing.assert_allclose(gans.generator_loss_grad(d, kind, wrt), leaf.grad.numpy(), rtol=1e-10)


def test_the_worked_gradients_at_d_equal_0_01():
    # d/dD log(1 - D) = -1/0.99 and d/dD (-log D) = -1/0.01; w.r.t. the logit: -0.01 and -0.99
    assert gans.generator_loss_grad([0.01], "saturating", "D")[0] == pytest.approx(-1.0101010101, rel=1e-9)
    assert gans.generator_loss_grad([0.01], "non_saturating", "D")[0] == pytest.approx(-100.0, rel=1e-12)
    assert gans.generator_loss_grad([0.01], "saturating", "logit")[0] == pytest.approx(-0.01, rel=1e-12)
    assert gans.generator_loss_grad([0.01], "non_saturating", "logit")[0] == pytest.approx(-0.99, rel=1e-12)


# ---------------------------------------------------------------- the optimal discriminator and JS

def test_optimal_discriminator_maximises_the_pointwise_value():
    # for fixed densities a, b the integrand a log D + b log(1 - D) is largest at D = a / (a + b)
    grid = np.linspace(1e-4, 1 - 1e-4, 200_001)
    for a, b in [(0.3, 0.7), (2.0, 0.1), (1.0, 1.0), (0.0, 0.4)]:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.nan_to_num(a * np.log(grid) + b * np.log1p(-grid), nan=-np.inf)
        assert gans.optimal_discriminator([a], [b])[0] == pytest.approx(grid[np.argmax(values)], abs=1e-4)


def _js_by_quad(m1, s1, m2, s2):
    """JS divergence of two normals by adaptive quadrature with scipy: independent of the package."""
    p, q = stats.norm(m1, s1).pdf, stats.norm(m2, s2).pdf

    def integrand(x):
        m = 0.5 * (p(x) + q(x))
        out = 0.0
        for f in (p, q):
            if f(x) > 0:
                out += 0.5 * f(x) * np.log(f(x) / m)
        return out

    lo, hi = min(m1 - 12 * s1, m2 - 12 * s2), max(m1 + 12 * s1, m2 + 12 * s2)
    return integrate.quad(integrand, lo, hi, limit=400, points=[m1, m2])[0]


@pytest.mark.parametrize("m2, s2", [(0.0, 1.0), (1.0, 1.0), (2.0, 0.5), (-3.0, 2.0), (8.0, 1.0)])
def test_value_at_optimal_discriminator_is_minus_log4_plus_twice_js(m2, s2):
    x = np.linspace(-30, 30, 60_001)
    p, q = gans.gaussian_pdf(x, 0.0, 1.0), gans.gaussian_pdf(x, m2, s2)
    js = _js_by_quad(0.0, 1.0, m2, s2)
    assert gans.js_divergence(x, p, q) == pytest.approx(js, abs=1e-7)
    assert gans.value_at_optimal_discriminator(x, p, q) == pytest.approx(-np.log(4) + 2 * js, abs=1e-7)


def test_js_is_zero_for_equal_and_log2_for_disjoint_densities():
    x = np.linspace(-40, 40, 80_001)
    p = gans.gaussian_pdf(x, 0.0, 1.0)
    assert gans.js_divergence(x, p, p) == pytest.approx(0.0, abs=1e-12)
    assert gans.value_at_optimal_discriminator(x, p, p) == pytest.approx(-np.log(4), abs=1e-9)
    far = gans.js_divergence(x, p, gans.gaussian_pdf(x, 30.0, 1.0))
    assert far == pytest.approx(np.log(2), abs=1e-9)  # JS saturates: no gradient to follow


def test_gaussian_pdf_matches_scipy():
    x = np.linspace(-4, 6, 11)
    np.testing.assert_allclose(gans.gaussian_pdf(x, 1.5, 0.7), stats.norm(1.5, 0.7).pdf(x), rtol=1e-13)


# ---------------------------------------------------------------- the ring and mode coverage

def test_ring_centres_lie_on_the_circle_at_equal_angles():
    centres = gans.ring_centres(8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(np.diff(centres, axis=0), axis=1), 4 * np.sin(np.pi / 8), rtol=1e-12)
    np.testing.assert_allclose(centres[0], [2.0, 0.0], atol=1e-15)


def test_ring_samples_have_the_mixture_statistics():
    X, modes = gans.ring_of_gaussians(40_000, std=0.05, seed=3)
    centres = gans.ring_centres()
    assert np.all(np.abs(np.bincount(modes) / 40_000 - 1 / 8) < 0.01)
    residual = X - centres[modes]
    assert residual.std() == pytest.approx(0.05, rel=0.02) and abs(residual.mean()) < 1e-3


def test_real_ring_samples_cover_8_modes_with_the_chi_square_off_mode_fraction():
    X, _ = gans.ring_of_gaussians(100_000, std=0.05, seed=1)
    covered, off = gans.mode_coverage(X, gans.ring_centres(), 0.05)
    assert covered == 8
    assert off == pytest.approx(np.exp(-4.5), abs=0.002)  # P(|x| > 3 sigma) for a 2-D Gaussian


def test_mode_coverage_counts_a_mode_at_exactly_five_percent():
    centres = gans.ring_centres()
    for n_on, expected in [(500, 3), (499, 2)]:
        n_main = 10_000 - n_on - 500
        samples = np.concatenate([np.repeat(centres[:1], n_main // 2, axis=0),
                                  np.repeat(centres[1:2], n_main - n_main // 2, axis=0),
                                  np.repeat(centres[2:3], n_on, axis=0), np.full((500, 2), 9.0)])
        assert len(samples) == 10_000
        covered, off = gans.mode_coverage(samples, centres, 0.05)
        assert (covered, off) == (expected, 0.05)


def test_assign_modes_uses_the_nearest_centre_within_the_radius():
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    samples = np.array([[0.1, 0.0], [0.9, 0.0], [0.5, 0.6], [0.0, 0.15]])
    np.testing.assert_array_equal(gans.assign_modes(samples, centres, 0.15), [0, 1, -1, 0])


# ---------------------------------------------------------------- latent helpers and the anomaly score

def test_interpolate_latents_linear_and_slerp():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    line = gans.interpolate_latents(z0, z1, 3)
    np.testing.assert_allclose(line, [[1, 0], [0.5, 0.5], [0, 1]], atol=1e-15)
    arc = gans.interpolate_latents(z0, z1, 5, kind="slerp")
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 1.0, rtol=1e-13)  # stays on the sphere
    np.testing.assert_allclose(arc[2], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-13)
    parallel = gans.interpolate_latents(z0, 3 * z0, 3, kind="slerp")
    np.testing.assert_allclose(parallel[:, 0], [1, 2, 3], rtol=1e-13)


def test_latent_arithmetic_averages_each_group():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[1.0, 1.0]])
    c = np.array([[0.0, -2.0], [0.0, 0.0], [3.0, 2.0]])
    np.testing.assert_allclose(gans.latent_arithmetic(a, b, c), [2.0 - 1.0 + 1.0, 3.0 - 1.0 + 0.0])


def test_bigan_anomaly_score_is_the_weighted_sum_of_two_norms():
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    x_rec = np.array([[3.0, 4.0], [1.0, 1.0]])
    f, f_rec = np.array([[0.0], [2.0]]), np.array([[1.0], [-1.0]])
    np.testing.assert_allclose(gans.bigan_anomaly_score(x, x_rec, f, f_rec, alpha=0.25),
                               [0.75 * 5 + 0.25 * 1, 0.75 * 0 + 0.25 * 3])


# ---------------------------------------------------------------- bad input

_P = np.array([0.2, 0.7])
_X = np.linspace(-1, 1, 5)
TABLE = {
    "minimax_value": (gans.minimax_value, {"d_real": _P, "d_fake": _P},
                      {"d_real": [[0.0, 0.5], [1.0], [[0.5]], [], np.array([True]), [np.nan]],
                       "d_fake": [[1.0], "0.5", [-0.1]]}),
    "discriminator_bce": (gans.discriminator_bce, {"real_logits": [1.0], "fake_logits": [0.0]},
                          {"real_logits": [[], [[1.0]], [np.inf], np.array([True])], "fake_logits": [None]}),
    "generator_loss": (gans.generator_loss, {"fake_logits": [1.0, -2.0], "kind": "saturating"},
                       {"kind": ["minimax", 1], "fake_logits": [[], [np.nan], [[1.0]]]}),
    "generator_loss_grad": (gans.generator_loss_grad, {"d_fake": [0.01], "kind": "saturating", "wrt": "D"},
                            {"d_fake": [[0.0], [1.0], [[0.5]]], "kind": ["sat"], "wrt": ["z", None]}),
    "optimal_discriminator": (gans.optimal_discriminator, {"p_data": [0.2, 0.1], "p_g": [0.1, 0.0]},
                              {"p_data": [[-0.1, 0.1], [0.0, 0.0], [0.1]], "p_g": [[0.1, 0.0, 0.2], [np.nan, 0]]}),
    "gaussian_pdf": (gans.gaussian_pdf, {"x": _X, "mean": 0.0, "std": 1.0},
                     {"std": [0.0, -1.0, True], "mean": [np.nan, "0"], "x": [np.array([True])]}),
    "js_divergence": (gans.js_divergence, {"x": _X, "p": np.ones(5), "q": np.ones(5)},
                      {"x": [_X[::-1], [0.0], np.zeros((5, 1))], "p": [np.ones(4), -np.ones(5)],
                       "q": [np.full(5, np.nan)]}),
    "value_at_optimal_discriminator": (gans.value_at_optimal_discriminator,
                                       {"x": _X, "p_data": np.ones(5), "p_g": np.ones(5)},
                                       {"x": [np.ones(5)], "p_data": [np.ones(6)], "p_g": [-np.ones(5)]}),
    "ring_centres": (gans.ring_centres, {"n_modes": 8, "radius": 2.0},
                     {"n_modes": [0, 2.5, True], "radius": [0.0, -1.0]}),
    "ring_of_gaussians": (gans.ring_of_gaussians, {"n": 10, "n_modes": 8, "std": 0.1, "seed": 0},
                          {"n": [0, -1, 1.5], "n_modes": [0], "std": [0.0], "seed": [-1, 0.5]}),
    "assign_modes": (gans.assign_modes, {"samples": np.zeros((3, 2)), "centres": np.ones((2, 2)),
                                         "max_distance": 1.0},
                     {"samples": [np.zeros((3, 3)), np.zeros(3)], "centres": [np.zeros((0, 2))],
                      "max_distance": [0.0, -1.0, np.inf]}),
    "mode_coverage": (gans.mode_coverage, {"samples": np.zeros((3, 2)), "centres": np.ones((2, 2)), "std": 0.1},
                      {"samples": [np.zeros((0, 2)), [[np.nan, 0.0]]], "std": [0.0],
                       "n_sigmas": [-3.0], "min_fraction": [1.5, -0.1]}),
    "interpolate_latents": (gans.interpolate_latents, {"z_start": np.ones(3), "z_end": np.zeros(3), "n_steps": 4},
                            {"z_end": [np.zeros(2)], "n_steps": [1, 2.0], "kind": ["cubic"],
                             "z_start": [np.ones((1, 3)), []]}),
    "latent_arithmetic": (gans.latent_arithmetic, {"z_plus_a": np.ones((2, 3)), "z_minus": np.ones((1, 3)),
                                                   "z_plus_b": np.ones((4, 3))},
                          {"z_minus": [np.ones((1, 2)), np.ones(3), np.zeros((0, 3))]}),
    "bigan_anomaly_score": (gans.bigan_anomaly_score, {"x": np.ones((2, 3)), "x_rec": np.ones((2, 3)),
                                                       "features": np.ones((2, 1)), "features_rec": np.ones((2, 1))},
                            {"x_rec": [np.ones((2, 4))], "features": [np.ones((3, 1))],
                             "features_rec": [np.ones((2, 2))], "alpha": [1.5, -0.1]}),
}
globals().update(table_tests(TABLE, [gans]))
