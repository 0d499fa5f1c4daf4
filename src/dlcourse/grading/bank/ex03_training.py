"""Exercises of ``solutions/03_training.ipynb``: gradient clipping, early stopping, inverted dropout, batch norm,
and AdamW's decoupled weight decay (a variant the chapter does not print), easiest first.

Hidden cases are built to separate the method from its usual slips: gradients both longer and shorter
than the threshold, with entries larger than it (so per-entry clipping differs from clipping the
norm); validation curves rounded to two decimals, so ties (which do not count as improvements) occur
and every comparison is exact; keep probabilities far from 1/2 (so q and 1 - q differ); batches with
eps up to 0.5 (so eps inside and outside the square root differ) and N small (biased vs unbiased
variance); and AdamW runs with strong decay over several steps (so L2-in-the-gradient, a missing bias
correction, or decay without the learning rate all move theta elsewhere).
"""
from __future__ import annotations

import numpy as np

from ...normalization import batchnorm_forward as _bn_forward
from ...optim import AdamW
from ...optim import clip_by_norm as _clip
from ...regularization import early_stopping_index as _early_stopping
from ..spec import Case, Exercise, Mistake

# ---------------------------------------------------------------- references (from the package)


def clip_by_norm(g, max_norm):
    """g rescaled to Euclidean norm at most max_norm: g * min(1, max_norm / ||g||)."""
    return _clip(g, max_norm)


def early_stopping_index(val_losses, patience):
    """(best, stop): the epoch of the lowest validation loss and the epoch training stops after (0-based)."""
    return _early_stopping(val_losses, patience)


def inverted_dropout(x, mask, keep_prob):
    """Inverted dropout with a given 0/1 mask: y = x * mask / keep_prob."""
    x, mask = np.asarray(x, dtype=float), np.asarray(mask, dtype=float)
    return x * mask / keep_prob


def batchnorm_forward(x, gamma, beta, eps):
    """Batch norm in training mode over the rows of x (N, D): gamma (x - mu) / sqrt(var + eps) + beta."""
    return _bn_forward(x, gamma, beta, eps)[0]


def adamw_steps(theta0, grads, lr, beta1, beta2, eps, weight_decay):
    """theta after AdamW steps with the gradients grads[0], grads[1], ... (T, D), from theta0 (D,)."""
    opt = AdamW([theta0], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    for g in np.asarray(grads, dtype=float):
        opt.step([g])
    return opt.params[0]


# ---------------------------------------------------------------- the wrong versions that get a hint


def _clip_per_entry(g, max_norm):
    return np.clip(np.asarray(g, dtype=float), -max_norm, max_norm)


def _clip_always(g, max_norm):
    g = np.asarray(g, dtype=float)
    norm = np.linalg.norm(g.ravel())
    return g * max_norm / norm if norm > 0 else g


def _early_with(val_losses, patience, *, ties_improve=False, extra=0):
    losses = list(np.asarray(val_losses, dtype=float))
    best, waited = 0, 0
    for epoch in range(1, len(losses)):
        better = losses[epoch] <= losses[best] if ties_improve else losses[epoch] < losses[best]
        if better:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited == patience + extra:
                return best, epoch
    return best, len(losses) - 1


def _bn_with(x, gamma, beta, eps, *, ddof=0, axis=0, eps_outside=False):
    x = np.asarray(x, dtype=float)
    mu = x.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # N - ddof = 0 for a batch of one
        var = ((x - mu) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
    x_hat = (x - mu) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
    return gamma * x_hat + beta


def _adamw_with(theta0, grads, lr, beta1, beta2, eps, weight_decay, *, l2=False, bias_correction=True,
                decay_without_lr=False):
    theta = np.array(theta0, dtype=float)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=float), start=1):
        if l2:
            g = g + weight_decay * theta
        elif decay_without_lr:
            theta = theta - weight_decay * theta
        else:
            theta = theta - lr * weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if bias_correction else (m, v)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


_CLIP_MISTAKES = [
    Mistake("Clipping each entry to [-c, c] changes the direction of g. Rescale the whole vector: "
            "g * c / ||g|| when ||g|| > c.", _clip_per_entry),
    Mistake("A gradient that is already shorter than the threshold must stay as it is: scale only when "
            "||g|| > max_norm.", _clip_always),
]

_EARLY_MISTAKES = [
    Mistake("Off by one: training stops after the patience-th epoch in a row without improvement "
            "(stop = best + patience), not one epoch later.", lambda v, p: _early_with(v, p, extra=1)),
    Mistake("Off by one the other way: with patience p you wait p epochs without improvement; "
            "stop = best + patience.", lambda v, p: _early_with(v, p, extra=-1)),
    Mistake("A tie is not an improvement: a new best needs a loss strictly below the best so far.",
            lambda v, p: _early_with(v, p, ties_improve=True)),
]

_DROPOUT_MISTAKES = [
    Mistake("That is plain dropout: inverted dropout divides the kept units by keep_prob, so that "
            "E[y] = x and nothing changes at test time.", lambda x, m, q: np.asarray(x, float) * m),
    Mistake("You divided by the drop probability 1 - keep_prob (PyTorch's p). Divide by keep_prob, the "
            "probability of keeping a unit.", lambda x, m, q: np.asarray(x, float) * m / (1 - q)),
    Mistake("Multiplying by keep_prob is the test-time scaling of the original (not inverted) dropout. "
            "In training, inverted dropout divides by keep_prob.", lambda x, m, q: np.asarray(x, float) * m * q),
]

_BN_MISTAKES = [
    Mistake("Batch norm uses the biased batch variance, the mean of (x - mu)^2 over the N rows "
            "(np.var's default ddof=0), not the unbiased one divided by N - 1.",
            lambda x, g, b, e: _bn_with(x, g, b, e, ddof=1)),
    Mistake("Normalise each feature (column) over the batch, axis=0: you normalised each example (row) "
            "over its features.", lambda x, g, b, e: _bn_with(x, g, b, e, axis=1)),
    Mistake("eps goes inside the square root: (x - mu) / sqrt(var + eps), not / (sqrt(var) + eps).",
            lambda x, g, b, e: _bn_with(x, g, b, e, eps_outside=True)),
]

_ADAMW_MISTAKES = [
    Mistake("That is Adam with L2: adding lambda * theta to the gradient puts the decay through the "
            "moments. AdamW decouples it: theta <- theta - lr * lambda * theta, then the Adam step on g.",
            lambda *a: _adamw_with(*a, l2=True)),
    Mistake("The moments need bias correction: divide m by (1 - beta1^t) and v by (1 - beta2^t), t = 1, 2, ...",
            lambda *a: _adamw_with(*a, bias_correction=False)),
    Mistake("The decoupled decay is scaled by the learning rate: theta <- (1 - lr * lambda) theta.",
            lambda *a: _adamw_with(*a, decay_without_lr=True)),
]

# ---------------------------------------------------------------- hidden cases


def _clip_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for shape, scale, max_norm in [((5,), 3.0, 1.0), ((3, 4), 2.0, 5.0), ((7,), 0.1, 1.0), ((2, 2, 3), 4.0, 0.5),
                                   ((10,), 5.0, 8.0), ((1,), 3.0, 1.0), ((6,), 0.01, 0.5)]:
        g = scale * rng.normal(size=shape)
        if scale > 1:
            g.flat[0] = 3 * max_norm  # an entry above the threshold: per-entry clipping differs
        cases.append({"g": g, "max_norm": max_norm})
    return cases


def _early_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n, patience in [(12, 2), (20, 3), (15, 1), (25, 5), (8, 4), (30, 3), (10, 2)]:
        trend = np.linspace(1.0, 0.4, n) + 0.5 * np.linspace(0, 1, n) ** 3
        cases.append({"val_losses": np.round(trend + 0.03 * rng.normal(size=n), 2), "patience": patience})
    cases.append({"val_losses": np.array([0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4]), "patience": 3})  # ties
    cases.append({"val_losses": np.array([0.9, 0.8, 0.7, 0.6]), "patience": 2})  # never stops early
    # the first epoch is the best (the loss rises at once): the run ends before the patience runs out,
    # and, with a shorter patience, the count of epochs without improvement starts at epoch 1
    cases.append({"val_losses": np.array([1.0, 1.5, 1.2, 1.3, 1.1]), "patience": 10})
    cases.append({"val_losses": np.array([1.0, 1.5, 1.2, 1.3, 1.1]), "patience": 2})
    return cases


def _dropout_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for shape, keep in [((6,), 0.8), ((4, 5), 0.9), ((3, 7), 0.25), ((2, 3, 4), 0.6), ((10,), 0.95), ((5, 2), 0.3)]:
        mask = (rng.random(shape) < keep).astype(float)
        cases.append({"x": rng.normal(size=shape), "mask": mask, "keep_prob": keep})
    return cases


def _bn_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n, d, eps in [(4, 3, 1e-5), (3, 2, 0.5), (8, 4, 0.1), (2, 5, 1e-3), (16, 3, 0.2), (5, 1, 0.3), (3, 3, 0.0)]:
        x = rng.normal(loc=2.0, scale=rng.uniform(0.3, 3.0), size=(n, d))
        cases.append({"x": x, "gamma": rng.normal(size=d), "beta": rng.normal(size=d), "eps": eps})
    return cases


def _adamw_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for t, d, lr, wd, (b1, b2) in [(1, 3, 0.1, 0.5, (0.9, 0.999)), (5, 4, 0.05, 0.2, (0.9, 0.999)),
                                   (10, 2, 0.01, 1.0, (0.8, 0.99)), (3, 5, 0.2, 0.1, (0.5, 0.9)),
                                   (20, 3, 0.03, 0.3, (0.9, 0.999)), (8, 1, 0.1, 0.05, (0.95, 0.99))]:
        cases.append({"theta0": 2 * rng.normal(size=d), "grads": rng.normal(size=(t, d)), "lr": lr,
                      "beta1": b1, "beta2": b2, "eps": 1e-8, "weight_decay": wd})
    grads = rng.normal(size=(4, 3))
    grads[:, 1] = 0.0  # a parameter with zero gradient: m_hat = v_hat = 0, so eps keeps 0 / 0 from the step
    cases.append({"theta0": 2 * rng.normal(size=3), "grads": grads, "lr": 0.1, "beta1": 0.9, "beta2": 0.999,
                  "eps": 1e-8, "weight_decay": 0.1})
    return cases


# ---------------------------------------------------------------- public cases and the registry

_RNG = np.random.default_rng(3)
_X_BN = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 0.0], [5.0, 10.0]])
_ADAMW_ONE = {"theta0": np.array([1.0, -2.0]), "grads": np.array([[0.5, -1.0]]), "lr": 0.1, "beta1": 0.9,
              "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.5}

EXERCISES = [
    Exercise(
        id="03_training.clip_by_norm",
        reference=clip_by_norm,
        public_cases=[
            Case({"g": np.array([3.0, 4.0]), "max_norm": 1.0}, "(3, 4) at threshold 1", (np.array([0.6, 0.8]),)),
            Case({"g": np.array([0.3, 0.4]), "max_norm": 1.0}, "already short: unchanged", (np.array([0.3, 0.4]),)),
            Case({"g": np.array([[6.0, 0.0], [0.0, -8.0]]), "max_norm": 5.0}, "a matrix: its whole norm 10",
                 (np.array([[3.0, 0.0], [0.0, -4.0]]),)),
        ],
        hidden_cases=_clip_hidden,
        output_names=("clipped",),
        rtol=1e-9,
        atol=1e-12,
        description="Rescale a gradient of any shape so that its Euclidean norm is at most max_norm.",
        mistakes=_CLIP_MISTAKES,
    ),
    Exercise(
        id="03_training.early_stopping_index",
        reference=early_stopping_index,
        public_cases=[
            Case({"val_losses": np.array([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9]), "patience": 3},
                 "best at epoch 2, three epochs without improvement", (2, 5)),
            Case({"val_losses": np.array([0.5, 0.6, 0.4, 0.4, 0.45]), "patience": 2}, "a tie is no improvement",
                 (2, 4)),
            Case({"val_losses": np.array([1.0, 0.9, 0.8]), "patience": 2}, "always improving: runs to the end",
                 (2, 2)),
        ],
        hidden_cases=_early_hidden,
        output_names=("best", "stop"),
        rtol=0.0,
        atol=0.0,
        description="Early stopping with patience: the best epoch and the epoch training stops after.",
        mistakes=_EARLY_MISTAKES,
    ),
    Exercise(
        id="03_training.inverted_dropout",
        reference=inverted_dropout,
        public_cases=[
            Case({"x": np.array([1.0, 2.0, 3.0, 4.0]), "mask": np.array([1.0, 0.0, 1.0, 1.0]), "keep_prob": 0.8},
                 "keep_prob 0.8: kept units are divided by 0.8", (np.array([1.25, 0.0, 3.75, 5.0]),)),
            Case({"x": _RNG.normal(size=(3, 4)), "mask": (_RNG.random((3, 4)) < 0.5).astype(float),
                  "keep_prob": 0.5}, "a (3, 4) batch, keep_prob 0.5"),
            Case({"x": np.ones((2, 2)), "mask": np.ones((2, 2)), "keep_prob": 1.0}, "keep everything: y = x",
                 (np.ones((2, 2)),)),
        ],
        hidden_cases=_dropout_hidden,
        output_names=("y",),
        rtol=1e-10,
        atol=1e-12,
        description="Inverted dropout in training mode with a given mask: y = x * mask / keep_prob.",
        mistakes=_DROPOUT_MISTAKES,
    ),
    Exercise(
        id="03_training.batchnorm_forward",
        reference=batchnorm_forward,
        public_cases=[
            Case({"x": np.array([[1.0], [2.0], [3.0], [4.0]]), "gamma": np.array([2.0]), "beta": np.array([0.5]),
                  "eps": 0.0}, "x = [1, 2, 3, 4], gamma = 2, beta = 0.5, eps = 0",
                 (np.array([[-2.183282], [-0.394427], [1.394427], [3.183282]]),)),
            Case({"x": _X_BN, "gamma": np.array([1.0, 0.5]), "beta": np.array([0.0, 1.0]), "eps": 0.1},
                 "two features with different scales, eps = 0.1"),
            Case({"x": np.array([[3.0, -1.0, 2.0]]), "gamma": np.ones(3), "beta": np.array([0.1, 0.2, 0.3]),
                  "eps": 1e-5}, "a batch of one: x_hat = 0, so y = beta", (np.array([[0.1, 0.2, 0.3]]),)),
        ],
        hidden_cases=_bn_hidden,
        output_names=("y",),
        rtol=1e-6,
        atol=1e-6,
        description="Batch normalisation in training mode over the rows of x, with scale gamma and shift beta.",
        mistakes=_BN_MISTAKES,
    ),
    Exercise(
        id="03_training.adamw_steps",
        reference=adamw_steps,
        public_cases=[
            Case(_ADAMW_ONE, "one step: decay 0.95 theta, then about -lr sign(g)",
                 (np.array([0.85, -1.8]),)),
            Case({**_ADAMW_ONE, "weight_decay": 0.0, "grads": np.array([[0.5, -1.0], [0.5, -1.0]])},
                 "no decay, two equal gradients: two steps of lr", (np.array([0.8, -1.8]),)),
            Case({"theta0": np.array([1.0, 0.5, -1.0]), "grads": _RNG.normal(size=(6, 3)), "lr": 0.05,
                  "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}, "six steps, D = 3"),
        ],
        hidden_cases=_adamw_hidden,
        output_names=("theta",),
        rtol=1e-7,
        atol=1e-9,
        description="AdamW (Adam with decoupled weight decay and bias correction) over a sequence of gradients.",
        mistakes=_ADAMW_MISTAKES,
    ),
]
