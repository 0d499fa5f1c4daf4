"""Exercises of ``solutions/09_gans.ipynb``: the two generator losses' derivatives, the discriminator's
loss from logits, the mode-coverage count, and the optimal discriminator when real and generated
samples come in unequal numbers (a derivation the chapter does not print), easiest first.

Hidden cases separate the method from its usual slips: logits up to 800 in size (where
log(sigmoid(a)) overflows), batches with N != M (so one mean over the concatenated batch differs from
the sum of the two means), samples placed exactly at 5 % of the batch on a mode and at distances of
2-4 std (so >= vs > and 3 std vs 2 std or squared distances decide the count), and unequal counts
for the weighted discriminator. Mode-coverage samples sit on exact rational distances from the
centres, never on the 3-std boundary, so rounding cannot decide a count.
"""
from __future__ import annotations

import numpy as np

from ...gans import generator_loss_grad, mode_coverage as _mode_coverage, optimal_discriminator, ring_centres
from ..spec import Case, Exercise, Mistake


# ---------------------------------------------------------------- references


def generator_loss_grads(d_fake):
    """Per-sample derivatives of the two generator losses at D = D(G(z)), d_fake: (M,) in (0, 1).

    Returns (sat_dD, nonsat_dD, sat_da, nonsat_da): d/dD of log(1 - D) and of -log D, and the same
    with respect to the logit a (D = sigmoid(a)).
    """
    return tuple(generator_loss_grad(d_fake, kind, wrt) for wrt in ("D", "logit")
                 for kind in ("saturating", "non_saturating"))


def _softplus(a):
    return np.logaddexp(0.0, a)


def discriminator_loss(real_logits, fake_logits):
    """L_D = mean softplus(-a_real) + mean softplus(a_fake): BCE with real = 1, fake = 0, from logits."""
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))


def mode_coverage(samples, centres, std):
    """(modes covered, off-mode fraction): within 3 std; a mode counts with >= 5 % of all samples."""
    return _mode_coverage(samples, centres, std)


def weighted_optimal_discriminator(p_data, p_g, n_real, n_fake):
    """The D minimising the summed BCE over n_real real and n_fake generated samples:
    D*(x) = n_real p_data(x) / (n_real p_data(x) + n_fake p_g(x))."""
    return optimal_discriminator(n_real * np.asarray(p_data, dtype=float), n_fake * np.asarray(p_g, dtype=float))


# ---------------------------------------------------------------- wrong versions with a hint

def _coverage_with(samples, centres, std, *, n_sigmas=3.0, strict=False, squared=False, of_on_mode=False,
                   count=False):
    samples, centres = np.asarray(samples, dtype=float), np.asarray(centres, dtype=float)
    distances = np.linalg.norm(samples[:, None] - centres[None], axis=2)
    nearest, smallest = distances.argmin(axis=1), distances.min(axis=1)
    on = (smallest**2 if squared else smallest) <= n_sigmas * std
    counts = np.bincount(nearest[on], minlength=len(centres))
    total = on.sum() if of_on_mode else len(samples)
    covered = int(np.sum(counts > 0.05 * total if strict else counts >= 0.05 * total))
    off = int(np.sum(~on)) if count else float(np.mean(~on))
    return covered, off


def _grads_with(d_fake, *, flip_sign=False, logit_equals_d=False, swap=False):
    sat_d, ns_d, sat_a, ns_a = generator_loss_grads(d_fake)
    if flip_sign:
        sat_d, ns_d, sat_a, ns_a = -sat_d, -ns_d, -sat_a, -ns_a
    if logit_equals_d:
        sat_a, ns_a = sat_d, ns_d
    if swap:
        sat_d, ns_d, sat_a, ns_a = ns_d, sat_d, ns_a, sat_a
    return sat_d, ns_d, sat_a, ns_a


def _loss_swapped_labels(real_logits, fake_logits):
    return discriminator_loss(fake_logits, real_logits)


def _loss_is_value(real_logits, fake_logits):
    return -discriminator_loss(real_logits, fake_logits)


def _loss_summed(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(np.sum(_softplus(-real)) + np.sum(_softplus(fake)))


def _loss_one_mean(real_logits, fake_logits):
    real, fake = np.asarray(real_logits, dtype=float), np.asarray(fake_logits, dtype=float)
    return float(np.mean(np.concatenate([_softplus(-real), _softplus(fake)])))


_GRAD_MISTAKES = [
    Mistake("Both losses fall as D rises, so both derivatives are negative: d/dD log(1 - D) = -1/(1 - D), "
            "d/dD (-log D) = -1/D.", lambda d: _grads_with(d, flip_sign=True)),
    Mistake("The logit derivatives include the sigmoid's slope dD/da = D (1 - D): -D and -(1 - D), not the "
            "derivatives with respect to D again.", lambda d: _grads_with(d, logit_equals_d=True)),
    Mistake("Saturating and non-saturating are swapped: log(1 - D) is the saturating loss (flat near D = 0).",
            lambda d: _grads_with(d, swap=True)),
]
_LOSS_MISTAKES = [
    Mistake("Real samples have label 1 (softplus(-a)), generated ones label 0 (softplus(a)): the labels are "
            "swapped.", _loss_swapped_labels),
    Mistake("That is V(D, G) itself. The loss that the discriminator minimises is -V: D ascends V.",
            _loss_is_value),
    Mistake("Each term is a mean over its own batch, not a sum.", _loss_summed),
    Mistake("Average the real and the generated terms separately and add the two means; one mean over the "
            "concatenated batch weights them by batch size.", _loss_one_mean),
]
_COVERAGE_MISTAKES = [
    Mistake("A mode counts with at least 5 % of the samples: >=, not >.", lambda *a: _coverage_with(*a, strict=True)),
    Mistake("Within 3 std means a distance of at most 3 * std, not 2 * std.",
            lambda *a: _coverage_with(*a, n_sigmas=2.0)),
    Mistake("Compare the distance itself with 3 * std, not the squared distance.",
            lambda *a: _coverage_with(*a, squared=True)),
    Mistake("The 5 % are of ALL samples, off-mode ones included, not of the on-mode samples.",
            lambda *a: _coverage_with(*a, of_on_mode=True)),
]
_WEIGHTED_MISTAKES = [
    Mistake("The counts matter: with a summed loss each real sample pulls D up with weight 1, so the real "
            "density is weighted by n_real and the generated by n_fake.",
            lambda p, q, n, m: optimal_discriminator(p, q)),
    Mistake("The weights are swapped: n_real multiplies p_data.",
            lambda p, q, n, m: optimal_discriminator(m * np.asarray(p, dtype=float), n * np.asarray(q, dtype=float))),
    Mistake("D is the probability of REAL: p_data (times n_real) goes in the numerator.",
            lambda p, q, n, m: optimal_discriminator(m * np.asarray(q, dtype=float), n * np.asarray(p, dtype=float))),
]


# ---------------------------------------------------------------- hidden cases

def _grad_hidden(rng: np.random.Generator) -> list[dict]:
    cases = [{"d_fake": rng.uniform(0.001, 0.999, size=int(rng.integers(1, 12)))} for _ in range(5)]
    cases.append({"d_fake": np.array([1e-4, 0.01, 0.5, 0.99, 0.9999])})
    return cases


def _loss_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for scale in (0.5, 3.0, 40.0, 800.0):
        n, m = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        if n == m:
            m += 1
        cases.append({"real_logits": scale * rng.normal(size=n), "fake_logits": scale * rng.normal(size=m)})
    cases.append({"real_logits": np.array([900.0, -900.0]), "fake_logits": np.array([-850.0])})
    return cases


def _ring_samples(rng: np.random.Generator, counts, std: float, off: int) -> np.ndarray:
    """Samples at distances k/4 std (k = 1..11, never exactly 12/4 = 3) from chosen centres, plus far ones."""
    centres = ring_centres(8, 2.0)
    parts = []
    for mode, n in enumerate(counts):
        radius = std * rng.choice([0.25, 0.5, 1.0, 1.5, 2.25, 2.5, 2.75], size=n)
        angle = rng.uniform(0, 2 * np.pi, size=n)
        parts.append(centres[mode] + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    between = std * rng.choice([3.25, 3.5, 4.0], size=off)  # off-mode, but within 2 x 3 std of a centre
    angle = rng.uniform(0, 2 * np.pi, size=off)
    parts.append(centres[rng.integers(0, 8, size=off)] + np.column_stack([between * np.cos(angle),
                                                                          between * np.sin(angle)]))
    return np.concatenate(parts)[rng.permutation(sum(counts) + off)]


def _coverage_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for std in (0.05, 0.1, 0.02):
        counts = [int(c) for c in rng.integers(0, 60, size=8)]
        cases.append({"samples": _ring_samples(rng, counts, std, int(rng.integers(5, 40))),
                      "centres": ring_centres(8, 2.0), "std": std})
    # 200 samples, 40 off-mode: 10 on a mode is exactly 5 % of all (covered); 9 is >= 5 % of the 160
    # on-mode samples only (not covered)
    exact = [30, 30, 30, 21, 20, 10, 9, 10]
    cases.append({"samples": _ring_samples(rng, exact, 0.05, 40), "centres": ring_centres(8, 2.0), "std": 0.05})
    # Five modes of the ring, away from the origin: the full ring's symmetry (x -> -x maps modes to modes)
    # hides a nearest centre taken as the farthest, or distances computed with samples + centres.
    shift = np.array([3.0, -1.0])
    counts = [int(c) for c in rng.integers(0, 60, size=5)] + [0, 0, 0]
    cases.append({"samples": _ring_samples(rng, counts, 0.1, 20) + shift, "centres": ring_centres(8, 2.0)[:5] + shift,
                  "std": 0.1})
    return cases


def _weighted_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for _ in range(5):
        k = int(rng.integers(1, 10))
        cases.append({"p_data": rng.exponential(size=k), "p_g": rng.exponential(size=k),
                      "n_real": int(rng.integers(1, 200)), "n_fake": int(rng.integers(1, 200))})
    cases.append({"p_data": np.array([0.0, 1.0, 0.3]), "p_g": np.array([2.0, 0.0, 0.3]), "n_real": 64,
                  "n_fake": 192})
    return cases


# ---------------------------------------------------------------- public cases and the registry

_COVER_PUBLIC = _ring_samples(np.random.default_rng(4), [25, 25, 25, 25, 25, 8, 1, 10], 0.05, 56)

EXERCISES = [
    Exercise(
        id="09_gans.generator_loss_grads",
        reference=generator_loss_grads,
        public_cases=[
            Case({"d_fake": np.array([0.01])}, "D(G(z)) = 0.01: about -1.01 vs -100 with respect to D",
                 (np.array([-1.0 / 0.99]), np.array([-100.0]), np.array([-0.01]), np.array([-0.99]))),
            Case({"d_fake": np.array([0.5, 0.9])}, "D = 0.5 and 0.9"),
        ],
        hidden_cases=_grad_hidden,
        output_names=("sat_dD", "nonsat_dD", "sat_da", "nonsat_da"),
        rtol=1e-9, atol=1e-12,
        description="d/dD and d/da of log(1 - D) and -log D at D = D(G(z)).",
        mistakes=_GRAD_MISTAKES,
    ),
    Exercise(
        id="09_gans.discriminator_loss",
        reference=discriminator_loss,
        public_cases=[
            Case({"real_logits": np.array([0.0]), "fake_logits": np.array([0.0])}, "D = 1/2 everywhere: log 4",
                 (np.log(4.0),)),
            Case({"real_logits": np.array([2.0, -1.0, 0.5]), "fake_logits": np.array([-3.0])}, "N = 3, M = 1"),
            Case({"real_logits": np.array([1000.0]), "fake_logits": np.array([-1000.0, 1000.0])},
                 "huge logits: finite (one fake fools D completely: 1000 / 2)", (500.0,)),
        ],
        hidden_cases=_loss_hidden,
        output_names=("loss",),
        rtol=1e-10, atol=1e-12,
        description="BCE of the discriminator from logits, real = 1, fake = 0, as two batch means.",
        mistakes=_LOSS_MISTAKES,
    ),
    Exercise(
        id="09_gans.mode_coverage",
        reference=mode_coverage,
        public_cases=[
            Case({"samples": _COVER_PUBLIC, "centres": ring_centres(8, 2.0), "std": 0.05},
                 "200 samples: 5 modes with 25, one with 10 (exactly 5 %), one with 8, one with 1, 56 off-mode",
                 (6, 0.28)),
            Case({"samples": ring_centres(8, 2.0), "centres": ring_centres(8, 2.0), "std": 0.1},
                 "one sample on each centre", (8, 0.0)),
        ],
        hidden_cases=_coverage_hidden,
        output_names=("n_covered", "off_mode_fraction"),
        rtol=1e-12, atol=1e-12,
        description="Modes with >= 5 % of the samples within 3 std, and the off-mode fraction.",
        mistakes=_COVERAGE_MISTAKES,
    ),
    Exercise(
        id="09_gans.weighted_optimal_discriminator",
        reference=weighted_optimal_discriminator,
        public_cases=[
            Case({"p_data": np.array([0.4, 0.1]), "p_g": np.array([0.4, 0.3]), "n_real": 1, "n_fake": 1},
                 "equal counts: the chapter's D*", (np.array([0.5, 0.25]),)),
            Case({"p_data": np.array([0.4, 0.1]), "p_g": np.array([0.4, 0.3]), "n_real": 64, "n_fake": 192},
                 "three times more fakes", (np.array([0.25, 0.1]),)),
        ],
        hidden_cases=_weighted_hidden,
        output_names=("D",),
        rtol=1e-10, atol=1e-12,
        description="Optimal D for a summed BCE over n_real real and n_fake generated samples.",
        mistakes=_WEIGHTED_MISTAKES,
    ),
]
