"""Exercises of ``solutions/02_mlp.ipynb``: activations, a stable cross-entropy, backprop, a gradient checker.

Hidden cases are built to separate the method from its usual slips: z = 0 and |z| up to 40 for the
activations, logits of size 1e3-1e5 (where a softmax without the max-shift overflows), batches with
N > 1 and non-square weights for backprop (a missing 1/N or a transposed dW cannot pass), and step
sizes eps = 1e-3..1e-4 for the gradient checker (forward differences are then off by far more than
the tolerance).
"""
from __future__ import annotations

import numpy as np

from ...activations import activation_and_grad
from ...mlp import backprop_two_layer, log_softmax_cross_entropy, numerical_gradient, one_hot
from ..spec import Case, Exercise

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
_FIXTURES = ("sum_of_squares", "rosenbrock", "log_sum_exp", "sin_product")


def _activation_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for name in ACTIVATION_NAMES:
        cases.append({"z": rng.normal(scale=3.0, size=int(rng.integers(5, 30))), "name": name})
        z = rng.normal(scale=2.0, size=(int(rng.integers(2, 5)), int(rng.integers(2, 6))))
        z.flat[0] = 0.0  # the kink / the maximum of sigma'
        cases.append({"z": z, "name": name})
    for name in ("sigmoid", "tanh", "elu"):
        cases.append({"z": np.array([-40.0, -12.5, -0.5, 0.0, 0.5, 12.5, 40.0]), "name": name})  # saturation
    return cases


def _cross_entropy_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for scale, offset in [(1.0, 0.0), (5.0, 0.0), (1.0, 50.0), (300.0, 0.0), (1000.0, 0.0), (2.0, 1e4),
                          (1e5, 0.0), (3.0, -800.0)]:
        n, k = int(rng.integers(1, 9)), int(rng.integers(2, 7))
        cases.append({"Z": offset + scale * rng.normal(size=(n, k)), "y": rng.integers(0, k, size=n)})
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [-5.0, 700.0, 710.0]])
    cases.append({"Z": z, "y": np.array([2, 1, 0])})  # the right class has probability ~e^-2000
    return cases


def _two_layer_case(rng: np.random.Generator, n: int, d: int, h: int, k: int, soft: bool = False,
                    scale: float = 1.0) -> dict:
    if soft:
        Y = rng.dirichlet(np.ones(k), size=n)
    else:
        Y = one_hot(rng.integers(0, k, size=n), k)
    return {"X": rng.normal(size=(n, d)), "Y": Y,
            "W1": scale * rng.normal(size=(h, d)) / np.sqrt(d), "b1": 0.1 * rng.normal(size=h),
            "W2": scale * rng.normal(size=(k, h)) / np.sqrt(h), "b2": 0.1 * rng.normal(size=k)}


def _backprop_hidden(rng: np.random.Generator) -> list[dict]:
    sizes = [(4, 3, 5, 2), (10, 2, 7, 3), (16, 5, 4, 6), (3, 6, 3, 4), (25, 4, 9, 3), (7, 8, 2, 5)]
    cases = [_two_layer_case(rng, *size) for size in sizes]
    cases.append(_two_layer_case(rng, 12, 3, 6, 4, soft=True))  # soft targets: same formula
    cases.append(_two_layer_case(rng, 9, 4, 5, 3, scale=4.0))   # saturated tanh units
    return cases


def _gradient_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for fixture in _FIXTURES:
        for shape in ((int(rng.integers(2, 6)),), (2, 3)):
            x = rng.uniform(-1.5, 1.5, size=shape)
            cases.append({"f": f"fixture:{fixture}", "x": x, "eps": float(rng.choice([1e-3, 5e-4, 1e-4]))})
    return cases


_Z_SMALL = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
_BP_PUBLIC = _two_layer_case(np.random.default_rng(2), 5, 3, 4, 3)

EXERCISES = [
    Exercise(
        id="02_mlp.activation_and_grad",
        reference=activation_and_grad,
        public_cases=[
            Case({"z": np.array([-2.0, 0.0, 2.0]), "name": "sigmoid"}, "sigmoid; sigma'(0) = 1/4 exactly",
                 (np.array([0.11920292202211755, 0.5, 0.8807970779778823]),
                  np.array([0.10499358540350652, 0.25, 0.10499358540350652]))),
            Case({"z": np.array([-1.0, 0.0, 1.0]), "name": "tanh"}, "tanh; tanh'(0) = 1"),
            Case({"z": np.array([-3.0, 0.0, 0.5, 4.0]), "name": "relu"}, "relu; relu'(0) = 0",
                 (np.array([0.0, 0.0, 0.5, 4.0]), np.array([0.0, 0.0, 1.0, 1.0]))),
            Case({"z": np.array([-3.0, 0.0, 0.5]), "name": "leaky_relu"}, "leaky relu (alpha = 0.01)",
                 (np.array([-0.03, 0.0, 0.5]), np.array([0.01, 0.01, 1.0]))),
            Case({"z": np.array([[-2.0, 0.0], [1.5, -0.25]]), "name": "elu"}, "elu (alpha = 1) on a 2-D array"),
        ],
        hidden_cases=_activation_hidden,
        output_names=("a", "da"),
        rtol=1e-7,
        atol=1e-10,
        description="Element-wise activation and its derivative for sigmoid, tanh, relu, leaky_relu, elu.",
    ),
    Exercise(
        id="02_mlp.log_softmax_cross_entropy",
        reference=log_softmax_cross_entropy,
        public_cases=[
            Case({"Z": _Z_SMALL, "y": np.array([2, 0])}, "small logits"),
            Case({"Z": _Z_SMALL + 1000.0, "y": np.array([2, 0])}, "same logits + 1000: log-probs must not change"),
            Case({"Z": np.array([[1000.0, 0.0, -1000.0]]), "y": np.array([0])}, "huge logits, right class wins",
                 (np.array([[0.0, -1000.0, -2000.0]]), 0.0)),
            Case({"Z": np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), "y": np.array([0, 1, 1, 0])},
                 "uniform scores: loss = log 2", (np.full((4, 2), -np.log(2.0)), np.log(2.0))),
        ],
        hidden_cases=_cross_entropy_hidden,
        output_names=("log_p", "loss"),
        rtol=1e-7,
        atol=1e-9,
        description="Row-wise log-softmax with the max-shift and the mean cross-entropy over the batch.",
    ),
    Exercise(
        id="02_mlp.backprop_two_layer",
        reference=backprop_two_layer,
        public_cases=[
            Case({"X": np.array([[1.0, 2.0]]), "Y": np.array([[1.0, 0.0]]), "W1": np.zeros((2, 2)),
                  "b1": np.zeros(2), "W2": np.zeros((2, 2)), "b2": np.zeros(2)},
                 "all weights zero: only db2 = P - Y = [-0.5, 0.5]",
                 (np.zeros((2, 2)), np.zeros(2), np.zeros((2, 2)), np.array([-0.5, 0.5]))),
            Case(_BP_PUBLIC, "N = 5, D = 3, H = 4, K = 3"),
            Case(_two_layer_case(np.random.default_rng(3), 8, 4, 6, 2), "N = 8, D = 4, H = 6, K = 2"),
        ],
        hidden_cases=_backprop_hidden,
        output_names=("dW1", "db1", "dW2", "db2"),
        rtol=1e-6,
        atol=1e-10,
        description="Gradients of a tanh hidden layer + softmax output under the mean cross-entropy (BP1-BP4).",
    ),
    Exercise(
        id="02_mlp.numerical_gradient",
        reference=numerical_gradient,
        public_cases=[
            Case({"f": "fixture:sum_of_squares", "x": np.array([1.0, -2.0, 3.0]), "eps": 1e-4},
                 "f = sum x^2: gradient 2x", (np.array([2.0, -4.0, 6.0]),)),
            Case({"f": "fixture:rosenbrock", "x": np.array([1.0, 1.0]), "eps": 1e-4},
                 "Rosenbrock at its minimum (1, 1): gradient close to 0"),
            Case({"f": "fixture:sin_product", "x": np.array([[0.3, -0.7], [1.1, 0.0]]), "eps": 1e-3},
                 "a 2-D x: same shape out"),
        ],
        hidden_cases=_gradient_hidden,
        output_names=("grad",),
        rtol=1e-6,
        atol=1e-7,
        description="Central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry of x.",
    ),
]
