"""Exercises of ``solutions/01_perceptron.ipynb``: perceptron training, Oja's rule, Hopfield storage and recall.

Hidden inputs are chosen so that every answer is computed exactly in floating point (integer or
dyadic inputs and learning rates for the perceptron, power-of-two N for Hopfield recall): a test
w . x > 0 or h_i > 0 then cannot flip because of rounding, and the grade depends on the method only.
"""
from __future__ import annotations

import numpy as np

from ...hebbian import hopfield_recall, hopfield_store, oja_update
from ...perceptron import logic_gate, perceptron_train
from ..spec import Case, Exercise

_ETAS = (0.25, 0.5, 1.0, 2.0)


def _gate_case(name: str, **extra) -> dict:
    X, t = logic_gate(name)
    return {"X": X, "t": t.astype(np.int64), "eta": 1.0, "max_epochs": 100, **extra}


def _separable_integer_data(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer inputs in [-3, 3]^dim labelled by an integer teacher; points on its boundary are dropped."""
    teacher = rng.integers(-3, 4, size=dim + 1)
    teacher[1 + rng.integers(dim)] = rng.choice([-2, -1, 1, 2])  # never the all-zero teacher
    X = rng.integers(-3, 4, size=(4 * n, dim)).astype(np.float64)
    score = teacher[0] + X @ teacher[1:]
    X, score = X[score != 0][:n], score[score != 0][:n]
    return X, np.where(score > 0, 1, -1).astype(np.int64)


def _perceptron_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for name in ("AND", "OR", "NAND", "NOR", "NOT"):
        case = _gate_case(name, eta=float(rng.choice(_ETAS)))
        n_weights = case["X"].shape[1] + 1
        case["w_init"] = rng.integers(-4, 5, size=n_weights) * 0.5  # a different starting point
        cases.append(case)
    cases.append(_gate_case("XOR", max_epochs=int(rng.integers(1, 8))))  # never converges
    X, t = logic_gate("OR")
    cases.append({"X": X, "t": t.astype(np.int64), "eta": 1.0, "max_epochs": 5,
                  "w_init": np.array([-1.0, 2.0, 2.0])})  # correct from the start: one pass
    for dim in (1, 2, 3, 4, 5, 2, 3):
        X, t = _separable_integer_data(rng, int(rng.integers(4, 25)), dim)
        case = {"X": X, "t": t, "eta": float(rng.choice(_ETAS)), "max_epochs": 200}
        if rng.random() < 0.5:
            case["w_init"] = rng.integers(-4, 5, size=dim + 1) * 0.5
        cases.append(case)
    return cases


def _oja_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for dim in (1, 2, 3, 5, 8, 13):
        cases.append({"w": rng.normal(size=dim), "x": rng.normal(scale=2.0, size=dim),
                      "eta": float(rng.uniform(1e-3, 0.5))})
    unit = rng.normal(size=4)
    unit /= np.linalg.norm(unit)
    cases.append({"w": unit, "x": 3.0 * unit, "eta": 0.1})  # x along w: only the length changes
    cases.append({"w": np.zeros(3), "x": rng.normal(size=3), "eta": 0.2})  # y = 0: no change
    cases.append({"w": rng.normal(size=3), "x": np.zeros(3), "eta": 0.2})
    cases.append({"w": 0.1 * rng.normal(size=6), "x": rng.normal(size=6), "eta": 1.0})
    return cases


def _random_patterns(rng: np.random.Generator, n_patterns: int, n_units: int) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int64), size=(n_patterns, n_units))


def _store_hidden(rng: np.random.Generator) -> list[dict]:
    sizes = [(1, 1), (1, 5), (2, 6), (3, 10), (5, 16), (4, 30), (12, 20), (7, 7)]
    return [{"patterns": _random_patterns(rng, p, n)} for p, n in sizes]


def _halfway_case(rng: np.random.Generator, n_units: int) -> dict:
    """One stored pattern and a start that agrees with it on exactly half the units.

    The first unit updated always flips, so the end state is xi when the first unit of ``order``
    disagreed and -xi when it agreed. Unit 0 agrees and ``order[0]`` disagrees: visiting the units
    in index order instead of ``order`` ends at the wrong one of the two.
    """
    xi = _random_patterns(rng, 1, n_units)
    order = rng.permutation(n_units)
    if order[0] == 0:
        order[[0, 1]] = order[[1, 0]]
    others = np.setdiff1d(np.arange(n_units), [0, order[0]])
    agree = np.concatenate([[0], rng.choice(others, size=n_units // 2 - 1, replace=False)])
    start = -xi[0].astype(np.float64)
    start[agree] *= -1
    return {"W": hopfield_store(xi), "s": start, "order": order, "max_sweeps": 10}


def _recall_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    # N is a power of two so that W = (1/N) sum xi xi^T and every local field are exact in binary floating
    # point; ties h_i = 0 (common with P = 2) are then real ties for every correct implementation.
    for n_units, n_patterns, n_flip, sweeps in [(8, 1, 3, 50), (8, 2, 2, 50), (16, 2, 5, 50), (16, 3, 0, 50),
                                                (32, 3, 6, 1), (32, 8, 4, 2), (64, 5, 12, 50), (64, 20, 8, 3),
                                                (16, 6, 4, 50), (32, 2, 10, 50)]:
        patterns = _random_patterns(rng, n_patterns, n_units)
        start = patterns[0].astype(np.float64)
        start[rng.choice(n_units, size=n_flip, replace=False)] *= -1
        cases.append({"W": hopfield_store(patterns), "s": start, "order": rng.permutation(n_units),
                      "max_sweeps": sweeps})
    for n_units in (8, 16):
        cases.append(_halfway_case(rng, n_units))
    n_units = 16
    W = hopfield_store(_random_patterns(rng, 4, n_units))
    cases.append({"W": W, "s": rng.choice([-1.0, 1.0], size=n_units), "order": rng.permutation(n_units),
                  "max_sweeps": 50})  # a random start may end in a spurious state
    cases.append({"W": np.zeros((5, 5)), "s": rng.choice([-1.0, 1.0], size=5), "order": rng.permutation(5),
                  "max_sweeps": 3})  # every field is zero: nothing may change
    return cases


_XI = np.array([-1, 1, 1, 1, 1, -1, 1, -1])
_HALFWAY = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0])  # 4 of 8 bits differ from _XI
_THREE = np.array([[-1, 1, 1, 1, -1, 1, 1, 1], [1, -1, 1, -1, 1, -1, -1, -1], [-1, 1, -1, -1, 1, 1, -1, 1]])

EXERCISES = [
    Exercise(
        id="01_perceptron.perceptron_train",
        reference=perceptron_train,
        public_cases=[
            Case(_gate_case("OR"), "OR gate from w = 0 (check value)", (np.array([0.0, 1.0, 1.0]), 4)),
            Case(_gate_case("AND"), "AND gate from w = 0 (check value)", (np.array([-2.0, 2.0, 1.0]), 6)),
            Case(_gate_case("NOT"), "NOT gate (one input)"),
            Case(_gate_case("XOR", max_epochs=10), "XOR is not separable: stop after max_epochs"),
            Case({**_gate_case("OR", max_epochs=5), "w_init": np.array([-1.0, 2.0, 2.0])},
                 "start already correct: one error-free pass", (np.array([-1.0, 2.0, 2.0]), 1)),
            Case(_gate_case("AND", eta=0.5, w_init=np.array([0.5, -1.0, 1.0])), "AND, eta = 0.5, given start"),
        ],
        hidden_cases=_perceptron_hidden,
        output_names=("w", "epochs"),
        rtol=1e-9,
        atol=1e-12,
        description="Online perceptron rule on mistakes; weights and number of epochs (final error-free pass included).",
    ),
    Exercise(
        id="01_perceptron.oja_update",
        reference=oja_update,
        public_cases=[
            Case({"w": np.array([1.0, 0.0]), "x": np.array([1.0, 1.0]), "eta": 0.5},
                 "hand-computed: y = 1", (np.array([1.0, 0.5]),)),
            Case({"w": np.array([0.6, 0.8]), "x": np.array([0.8, -0.6]), "eta": 0.3},
                 "x orthogonal to w: y = 0, no change", (np.array([0.6, 0.8]),)),
            Case({"w": np.array([0.5, -0.25, 2.0]), "x": np.array([1.0, 2.0, -1.0]), "eta": 0.1}, "3-D step"),
        ],
        hidden_cases=_oja_hidden,
        output_names=("w_new",),
        rtol=1e-8,
        atol=1e-10,
        description="One step of Oja's rule w + eta*y*(x - y*w), y = w.x.",
    ),
    Exercise(
        id="01_perceptron.hopfield_store",
        reference=hopfield_store,
        public_cases=[
            Case({"patterns": np.array([[1, -1, 1, -1]])}, "one pattern, N = 4",
                 (np.array([[0, -1, 1, -1], [-1, 0, -1, 1], [1, -1, 0, -1], [-1, 1, -1, 0]]) / 4,)),
            Case({"patterns": np.array([[1, 1, 1], [1, -1, -1]])}, "two patterns, N = 3",
                 (np.array([[0, 0, 0], [0, 0, 2], [0, 2, 0]]) / 3,)),
            Case({"patterns": _THREE}, "three patterns, N = 8"),
        ],
        hidden_cases=_store_hidden,
        output_names=("W",),
        rtol=1e-9,
        atol=1e-12,
        description="Hebbian outer-product storage with 1/N scaling and zero diagonal.",
    ),
    Exercise(
        id="01_perceptron.hopfield_recall",
        reference=hopfield_recall,
        public_cases=[
            Case({"W": hopfield_store(_XI[None]), "s": np.where(np.arange(8) == 2, -1.0, 1.0) * _XI,
                  "order": np.arange(8), "max_sweeps": 10}, "one flipped bit is repaired", (_XI.astype(float),)),
            Case({"W": np.zeros((3, 3)), "s": np.array([1.0, -1.0, 1.0]), "order": np.array([2, 0, 1]),
                  "max_sweeps": 5}, "all fields zero: keep every unit", (np.array([1.0, -1.0, 1.0]),)),
            Case({"W": hopfield_store(_XI[None]), "s": _HALFWAY, "order": np.arange(8), "max_sweeps": 10},
                 "halfway between xi and -xi, order 0..7: ends at -xi", (-_XI.astype(float),)),
            Case({"W": hopfield_store(_XI[None]), "s": _HALFWAY, "order": np.arange(8)[::-1].copy(),
                  "max_sweeps": 10}, "same start, order 7..0: ends at xi", (_XI.astype(float),)),
            Case({"W": hopfield_store(_THREE), "s": np.array([1.0, -1, 1, -1, 1, -1, -1, 1]),
                  "order": np.arange(8), "max_sweeps": 1}, "max_sweeps = 1: stop after one sweep"),
        ],
        hidden_cases=_recall_hidden,
        output_names=("s",),
        rtol=0.0,
        atol=1e-12,
        description="Asynchronous Hopfield recall in a given unit order until a sweep changes nothing.",
    ),
]
