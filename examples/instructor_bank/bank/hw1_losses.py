"""An instructor's own exercises for the notebook ``hw1_losses.ipynb``: a worked example of a bank.

This file is trusted instructor code. It stays with the instructor (never in the handout, never in
the sandbox): ``dlcourse assign --bank`` and ``dlcourse grade --bank`` import it on the trusted side.
Each Exercise id is ``"<notebook stem>.<function name>"``; the references below are the only
implementations, so a student cannot look the answers up in the course package.
"""
from __future__ import annotations

import numpy as np

from dlcourse.grading import Case, Exercise, Mistake


def mse_loss(y_pred, y):
    """Mean squared error over every entry: mean((y_pred - y)^2)."""
    return float(np.mean((np.asarray(y_pred, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def clip_by_norm(g, max_norm):
    """g scaled down to Euclidean norm max_norm when it is longer; otherwise g unchanged (a new array)."""
    g = np.array(g, dtype=float)
    norm = np.linalg.norm(g)
    return g * (max_norm / norm) if norm > max_norm else g


def count_errors(scores, labels):
    """How many rows of scores (N, K) have their largest entry somewhere else than at labels (N,)."""
    return int(np.sum(np.argmax(scores, axis=1) != np.asarray(labels)))


def _mse_hidden(rng: np.random.Generator) -> list[dict]:
    shapes = [(1,), (4,), (7,), (3, 2), (5, 3), (16,)]
    return [{"y_pred": rng.normal(size=s), "y": rng.normal(size=s)} for s in shapes]


def _clip_hidden(rng: np.random.Generator) -> list[dict]:
    cases = [{"g": rng.normal(scale=3.0, size=n), "max_norm": float(rng.uniform(0.5, 2.0))} for n in (2, 5, 9)]
    cases += [{"g": 0.1 * rng.normal(size=n), "max_norm": 5.0} for n in (3, 6)]  # short already: unchanged
    cases.append({"g": rng.normal(size=(3, 4)), "max_norm": 1.0})  # the norm of every entry together
    return cases


def _errors_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n, k in [(5, 3), (8, 2), (1, 4), (12, 5), (6, 6)]:
        cases.append({"scores": rng.normal(size=(n, k)), "labels": rng.integers(0, k, size=n)})
    return cases


EXERCISES = [
    Exercise(
        id="hw1_losses.mse_loss",
        reference=mse_loss,
        public_cases=[
            Case({"y_pred": np.array([1.0, 2.0, 3.0]), "y": np.array([1.0, 0.0, 0.0])}, "hand-computed: 13/3",
                 (13.0 / 3.0,)),
            Case({"y_pred": np.array([[0.5, 0.0], [1.0, -1.0]]), "y": np.zeros((2, 2))}, "a 2-D batch"),
        ],
        hidden_cases=_mse_hidden,
        output_names=("loss",),
        mistakes=[
            Mistake("you summed the squared errors; the loss is their mean", lambda p, y: float(np.sum((p - y) ** 2))),
            Mistake("square each error before averaging, not the average error",
                    lambda p, y: float(np.mean(p - y)) ** 2),
            Mistake("the errors are squared, not taken in absolute value", lambda p, y: float(np.mean(np.abs(p - y)))),
        ],
        description="Mean squared error over every entry of a batch.",
    ),
    Exercise(
        id="hw1_losses.clip_by_norm",
        reference=clip_by_norm,
        public_cases=[
            Case({"g": np.array([3.0, 4.0]), "max_norm": 1.0}, "norm 5 scaled to 1", (np.array([0.6, 0.8]),)),
            Case({"g": np.array([0.3, -0.4]), "max_norm": 1.0}, "norm 0.5 <= 1: unchanged", (np.array([0.3, -0.4]),)),
        ],
        hidden_cases=_clip_hidden,
        output_names=("g_clipped",),
        mistakes=[
            Mistake("np.clip clips each entry; clip the norm of the whole gradient", lambda g, m: np.clip(g, -m, m)),
            Mistake("a gradient that is already short enough stays as it is", lambda g, m: g * (m / np.linalg.norm(g))),
        ],
        pure=True,  # the task says: return a new array, leave g alone
        description="Gradient clipping by the Euclidean norm.",
    ),
    Exercise(
        id="hw1_losses.count_errors",
        reference=count_errors,
        public_cases=[
            Case({"scores": np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.5]]), "labels": np.array([0, 0, 0])},
                 "one error in three", (1,)),
        ],
        hidden_cases=_errors_hidden,
        output_names=("errors",),
        mistakes=[
            Mistake("that is the number of correct rows; count the errors",
                    lambda s, t: int(np.sum(np.argmax(s, axis=1) == t))),
        ],
        description="Number of misclassified rows (an int).",
    ),
]
