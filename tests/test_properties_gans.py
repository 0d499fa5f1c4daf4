"""Property tests of chapter 9's NumPy functions: any shape, layout, scale and batch of one, against
PyTorch (float64) or a brute-force version written here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import gan_diagrams, gans
from layouts import LAYOUTS, relayout

SEEDS = st.integers(0, 2**16)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), m=st.integers(1, 20), scale=st.sampled_from([0.01, 1.0, 30.0, 800.0]),
       layout=st.sampled_from(LAYOUTS), seed=SEEDS)
def test_discriminator_bce_matches_torch_for_any_size_scale_and_layout(n, m, scale, layout, seed):
    rng = np.random.default_rng(seed)
    real, fake = scale * rng.normal(size=n), scale * rng.normal(size=m)
    expected = (F.binary_cross_entropy_with_logits(torch.tensor(real), torch.ones(n, dtype=torch.float64))
                + F.binary_cross_entropy_with_logits(torch.tensor(fake), torch.zeros(m, dtype=torch.float64)))
    got = gans.discriminator_bce(relayout(real, layout), relayout(fake, layout))
    assert got == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 15), kind=st.sampled_from(gans.GENERATOR_LOSSES), wrt=st.sampled_from(["D", "logit"]),
       seed=SEEDS)
def test_generator_loss_grad_is_autograd_of_generator_loss(n, kind, wrt, seed):
    # the per-sample derivative of generator_loss's summand, by autograd of torch's own formulas
    a = np.random.default_rng(seed).uniform(-6, 6, size=n)
    d = 1 / (1 + np.exp(-a))
    leaf = torch.tensor(a if wrt == "logit" else d, requires_grad=True)
    prob = torch.sigmoid(leaf) if wrt == "logit" else leaf
    (torch.log1p(-prob) if kind == "saturating" else -torch.log(prob)).sum().backward()
    np.testing.assert_allclose(gans.generator_loss_grad(d, kind, wrt), leaf.grad.numpy(), rtol=1e-9, atol=1e-12)
    mean_grad = np.mean(gans.generator_loss_grad(d, kind, "logit"))
    eps = 1e-6
    numeric = (gans.generator_loss(a + eps, kind) - gans.generator_loss(a - eps, kind)) / (2 * eps)
    assert numeric == pytest.approx(mean_grad, rel=1e-5, abs=1e-8)  # shifting every logit by eps


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(1,), (7,), (3, 4), (2, 2, 2)]), layout=st.sampled_from(LAYOUTS), seed=SEEDS)
def test_optimal_discriminator_is_a_probability_and_one_half_where_densities_agree(shape, layout, seed):
    rng = np.random.default_rng(seed)
    p, q = rng.exponential(size=shape), rng.exponential(size=shape)
    d = gans.optimal_discriminator(relayout(p, layout), relayout(q, layout))
    assert d.shape == shape and np.all((d >= 0) & (d <= 1))
    np.testing.assert_allclose(d + gans.optimal_discriminator(q, p), 1.0, rtol=1e-14)
    np.testing.assert_allclose(gans.optimal_discriminator(p, p), 0.5, rtol=1e-15)


@settings(max_examples=30, deadline=None)
@given(m1=st.floats(-3, 3), s1=st.floats(0.3, 2), m2=st.floats(-3, 3), s2=st.floats(0.3, 2))
def test_value_at_d_star_is_minus_log4_plus_2js_and_js_is_bounded(m1, s1, m2, s2):
    x = np.linspace(-20, 20, 8001)
    p, q = gans.gaussian_pdf(x, m1, s1), gans.gaussian_pdf(x, m2, s2)
    js = gans.js_divergence(x, p, q)
    assert -1e-12 <= js <= np.log(2) + 1e-12
    assert gans.value_at_optimal_discriminator(x, p, q) == pytest.approx(-np.log(4) + 2 * js, abs=1e-9)
    assert gans.js_divergence(x, q, p) == pytest.approx(js, abs=1e-12)  # symmetric


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), k=st.integers(1, 6), radius=st.floats(0.05, 2.0), layout=st.sampled_from(LAYOUTS),
       seed=SEEDS)
def test_assign_modes_agrees_with_a_brute_force_loop(n, k, radius, layout, seed):
    rng = np.random.default_rng(seed)
    samples, centres = rng.normal(size=(n, 2)), rng.normal(size=(k, 2))
    expected = []
    for s in samples:
        distances = [np.hypot(*(s - c)) for c in centres]
        best = int(np.argmin(distances))
        expected.append(best if distances[best] <= radius else -1)
    got = gans.assign_modes(relayout(samples, layout) if n else samples, centres, radius)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.int64))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), seed=SEEDS)
def test_mode_coverage_is_invariant_to_sample_order(n, seed):
    rng = np.random.default_rng(seed)
    samples = gans.ring_centres()[rng.integers(0, 8, n)] + rng.normal(scale=0.1, size=(n, 2))
    shuffled = samples[rng.permutation(n)]
    assert gans.mode_coverage(samples, gans.ring_centres(), 0.05) == \
        gans.mode_coverage(shuffled, gans.ring_centres(), 0.05)


@settings(max_examples=30, deadline=None)
@given(d=st.integers(1, 8), steps=st.integers(2, 9), seed=SEEDS)
def test_interpolations_start_and_end_at_the_endpoints(d, steps, seed):
    rng = np.random.default_rng(seed)
    z0, z1 = rng.normal(size=d), rng.normal(size=d)
    for kind in ("linear", "slerp"):
        path = gans.interpolate_latents(z0, z1, steps, kind)
        assert path.shape == (steps, d)
        np.testing.assert_allclose(path[[0, -1]], [z0, z1], rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 10), dim=st.integers(1, 5), alpha=st.floats(0, 1), seed=SEEDS)
def test_bigan_score_is_non_negative_and_interpolates_its_two_terms(n, dim, alpha, seed):
    rng = np.random.default_rng(seed)
    x, x_rec, f, f_rec = (rng.normal(size=(n, dim)) for _ in range(4))
    score = gans.bigan_anomaly_score(x, x_rec, f, f_rec, alpha)
    rec, feat = np.linalg.norm(x - x_rec, axis=1), np.linalg.norm(f - f_rec, axis=1)
    np.testing.assert_allclose(score, (1 - alpha) * rec + alpha * feat, rtol=1e-12)
    assert np.all(score >= 0)


def test_the_diagram_has_five_boxes_and_four_arrows():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ax = gan_diagrams.draw_gan_diagram()
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 5
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 4
    plt.close(ax.figure)


def test_ring_plot_colours_on_and_off_mode_samples():
    import matplotlib.pyplot as plt

    centres = gans.ring_centres()
    samples = np.vstack([centres, [[0.0, 0.0], [5.0, 5.0]]])
    ax = gan_diagrams.plot_ring_samples(samples, centres, 0.05)
    on, off = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    assert len(on) == 8 and len(off) == 2
    shapes = [tuple(np.round(c.get_paths()[0].vertices, 6).ravel()) for c in ax.collections[:2]]
    assert shapes[0] != shapes[1]  # off-mode samples are crosses, not only red
    plt.close("all")


# ---------------------------------------------------------------- bad input of the figure functions

from bad_input_table import table_tests  # noqa: E402

_CENTRES = gans.ring_centres()
DIAGRAM_TABLE = {
    "draw_gan_diagram": (gan_diagrams.draw_gan_diagram, {}, {"ax": [1, "axes"]}),
    "plot_ring_samples": (gan_diagrams.plot_ring_samples, {"samples": _CENTRES, "centres": _CENTRES, "std": 0.05},
                          {"samples": [np.zeros((3, 3)), np.zeros((0, 2)), [[np.nan, 0.0]]],
                           "centres": [np.zeros(2)], "std": [0.0, -1.0], "ax": ["axes"]}),
}
def _close_figures():
    import matplotlib.pyplot as plt

    plt.close("all")


globals().update(table_tests(DIAGRAM_TABLE, [gan_diagrams], cleanup=_close_figures))
