"""Exercises of ``solutions/02_mlp.ipynb``: activations, a stable cross-entropy, a gradient checker, and
backprop through a residual ReLU network (a variant the chapter does not print), easiest first.

Hidden cases are built to separate the method from its usual slips: z = 0 and |z| up to 40 for the
activations, logits of size 1e3-1e5 (where a softmax without the max-shift overflows), step sizes
eps = 1e-3..1e-4 for the gradient checker (forward differences are then off by far more than the
tolerance), and batches with N > 1 for backprop (a missing 1/N cannot pass). Backprop compares a
threshold (relu'(z) = 1 only for z > 0), so its X, W1 and b1 are small dyadic numbers: every
pre-activation X W1^T + b1 is then exact in any summation order, exact zeros included, and
relu'(0) = 0 is tested without rounding deciding the answer.

Each exercise registers the plausible wrong versions a learner writes (``mistakes``); a result that
matches one gets its hint, on the public checks and on hidden cases alike.
"""
from __future__ import annotations

import numpy as np

from ...activations import activation_and_grad
from ...mlp import log_softmax_cross_entropy, numerical_gradient, one_hot
from ..fixtures import resolve
from ..spec import Case, Exercise, Mistake

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
_FIXTURES = ("sum_of_squares", "rosenbrock", "log_sum_exp", "sin_product")


# ---------------------------------------------------------------- backprop through a residual block (reference)

def _softmax(Z: np.ndarray) -> np.ndarray:
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _residual_backprop(X, Y, W1, b1, W2, b2, *, one_over_n=True, w2_sees_skip=True, dx_skip=True,
                       dx_layer=True, relu_grad_at_zero=0.0, tanh_grad=False, transpose_dw=False):
    """Backprop of the residual net with one of its usual slips switched on (defaults: the right answer)."""
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    W1, b1, W2, b2 = (np.asarray(a, dtype=float) for a in (W1, b1, W2, b2))
    Z1 = X @ W1.T + b1                                   # (N, D)
    H = np.maximum(Z1, 0.0)
    A = X + H                                            # the skip connection
    P = _softmax(A @ W2.T + b2)                          # (N, K)
    delta2 = (P - Y) / (len(X) if one_over_n else 1)     # BP1
    G = delta2 @ W2                                      # dC/dA: (N, D)
    if tanh_grad:
        delta1 = G * (1.0 - H**2)
    else:
        delta1 = G * np.where(Z1 > 0, 1.0, np.where(Z1 == 0, relu_grad_at_zero, 0.0))
    dW1, dW2 = delta1.T @ X, delta2.T @ (A if w2_sees_skip else H)
    if transpose_dw:
        dW1, dW2 = dW1.T, dW2.T
    dX = (G if dx_skip else 0.0) + (delta1 @ W1 if dx_layer else 0.0)
    return dW1, delta1.sum(axis=0), dW2, delta2.sum(axis=0), dX


def backprop_residual(X, Y, W1, b1, W2, b2):
    """Gradients of the mean cross-entropy of a residual ReLU block followed by a softmax layer.

    Z1 = X W1^T + b1, A = X + relu(Z1), P = softmax(A W2^T + b2), C = -(1/N) sum_nk Y_nk log P_nk.
    X: (N, D), Y: (N, K), W1: (D, D), b1: (D,), W2: (K, D), b2: (K,).
    Returns (dW1, db1, dW2, db2, dX), each shaped like its variable; relu'(0) = 0 as in PyTorch.
    """
    return _residual_backprop(X, Y, W1, b1, W2, b2)


# ---------------------------------------------------------------- hidden cases

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
        n, k = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        cases.append({"Z": offset + scale * rng.normal(size=(n, k)), "y": rng.integers(0, k, size=n)})
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [-5.0, 700.0, 710.0]])
    cases.append({"Z": z, "y": np.array([2, 1, 0])})  # the right class has probability ~e^-2000
    cases.append({"Z": rng.normal(size=(1, 4)), "y": np.array([int(rng.integers(0, 4))])})  # a batch of one
    return cases


def _gradient_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for fixture in _FIXTURES:
        for shape in ((int(rng.integers(2, 6)),), (2, 3)):
            x = rng.uniform(-1.5, 1.5, size=shape)
            cases.append({"f": f"fixture:{fixture}", "x": x, "eps": float(rng.choice([1e-3, 5e-4, 1e-4]))})
    return cases


def _residual_case(rng: np.random.Generator, n: int, d: int, k: int, soft: bool = False,
                   zero_rows: int = 0) -> dict:
    """Dyadic X (quarters), W1 and b1 (eighths): every pre-activation is exact, and many are exactly 0."""
    X = rng.integers(-4, 5, size=(n, d)) / 4.0
    X[:zero_rows] = 0.0  # with the zero entries of b1 these rows give Z1 = 0 exactly
    Y = rng.dirichlet(np.ones(k), size=n) if soft else one_hot(rng.integers(0, k, size=n), k)
    return {"X": X, "Y": Y, "W1": rng.integers(-4, 5, size=(d, d)) / 8.0,
            "b1": rng.integers(-2, 3, size=d) / 8.0,
            "W2": rng.normal(size=(k, d)) / np.sqrt(d), "b2": 0.1 * rng.normal(size=k)}


def _backprop_hidden(rng: np.random.Generator) -> list[dict]:
    sizes = [(4, 3, 2), (10, 2, 3), (16, 5, 6), (3, 6, 4), (25, 4, 3), (7, 8, 5), (1, 3, 3)]
    cases = [_residual_case(rng, *size) for size in sizes]
    cases.append(_residual_case(rng, 12, 3, 4, soft=True))  # soft targets: the same formulas
    cases.append(_residual_case(rng, 9, 4, 3, zero_rows=3))  # exact zeros: relu'(0) = 0
    # Scores in the thousands for some rows and small for others: the softmax must subtract each row's
    # own maximum (no shift overflows; the global maximum underflows the small rows to 0 / 0).
    large = _residual_case(rng, 4, 3, 3)
    large["X"] = large["X"] * np.array([[3000.0], [1.0], [-2000.0], [1.0]])
    large["W2"] = large["W2"] * 5.0
    cases.append(large)
    return cases


# ---------------------------------------------------------------- the wrong versions that get a hint

def _activation_with(slip_name: str, slip):
    def wrong(z, name):
        if name != slip_name:
            return activation_and_grad(z, name)
        z = np.asarray(z, dtype=float)
        return slip(z)
    return wrong


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _cross_entropy_summed(Z, y):
    log_p, loss = log_softmax_cross_entropy(Z, y)
    return log_p, loss * np.shape(Z)[0]


def _cross_entropy_log_after_softmax(Z, y):
    with np.errstate(divide="ignore"):
        log_p = np.log(_softmax(np.asarray(Z, dtype=float)))  # log(0) = -inf for very unlikely classes
    return log_p, -log_p[np.arange(len(y)), np.asarray(y)].mean()


def _gradient_with(f, x, eps, *, one_sided=False, half_step=False, restore=True):
    f, x = resolve(f), np.array(x, dtype=float)
    grad, flat = np.zeros_like(x), x.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = f(x)
        if one_sided:
            flat[i] = original
        elif restore:
            flat[i] = original - eps
        else:
            flat[i] -= 2 * eps  # "+= eps, then -= 2 eps", and eps is never added back
        f_minus = f(x)
        if restore:
            flat[i] = original
        grad.reshape(-1)[i] = (f_plus - f_minus) / (eps if one_sided or half_step else 2 * eps)
    return grad


_ACTIVATION_MISTAKES = [
    Mistake("The sigmoid's derivative is sigma(z) * (1 - sigma(z)), not sigma(z) itself.",
            _activation_with("sigmoid", lambda z: (_sigmoid(z), _sigmoid(z)))),
    Mistake("relu'(0) = 0: use the second case (z > 0 strictly) at the kink, as PyTorch does.",
            _activation_with("relu", lambda z: (np.maximum(z, 0.0), (z >= 0).astype(float)))),
    Mistake("tanh'(z) = 1 - tanh(z)^2: the tanh is squared.",
            _activation_with("tanh", lambda z: (np.tanh(z), 1.0 - np.tanh(z)))),
    Mistake("For z <= 0 the ELU's derivative is e^z, its value plus 1, not its value e^z - 1.",
            _activation_with("elu", lambda z: (np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
                                               np.where(z > 0, 1.0, np.expm1(np.minimum(z, 0.0)))))),
]

_CROSS_ENTROPY_MISTAKES = [
    Mistake("The loss is the mean over the N examples of the batch, not their sum: divide by N.",
            _cross_entropy_summed),
    Mistake("Taking the log after the softmax gives log(0) = -inf for very unlikely classes: compute "
            "log softmax directly, (z - m) - log(sum_j exp(z_j - m)).", _cross_entropy_log_after_softmax),
]

_GRADIENT_MISTAKES = [
    Mistake("That is the one-sided (forward) difference (f(x + eps e_i) - f(x)) / eps, accurate only to "
            "O(eps). Use the central difference (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).",
            lambda *args: _gradient_with(*args, one_sided=True)),
    Mistake("The points x + eps e_i and x - eps e_i are 2 eps apart: divide the difference by 2 eps.",
            lambda *args: _gradient_with(*args, half_step=True)),
    Mistake("Put each entry of x back after using it: you left x_i shifted, so the later entries were "
            "differentiated at the wrong point.", lambda *args: _gradient_with(*args, restore=False)),
]

_BACKPROP_MISTAKES = [
    Mistake("Every gradient is N times too large: the cost is a mean over the batch, so BP1 carries a 1/N.",
            lambda *args: _residual_backprop(*args, one_over_n=False)),
    Mistake("The output layer's input is A = X + relu(Z1), the skip included: BP4 for W2 uses A, not relu(Z1).",
            lambda *args: _residual_backprop(*args, w2_sees_skip=False)),
    Mistake("X reaches the cost along two paths, the skip and the ReLU layer: dX is the sum of the "
            "gradients along both. You left out the skip path.",
            lambda *args: _residual_backprop(*args, dx_skip=False)),
    Mistake("X reaches the cost along two paths, the skip and the ReLU layer: dX is the sum of the "
            "gradients along both. You left out the path through W1.",
            lambda *args: _residual_backprop(*args, dx_layer=False)),
    Mistake("That is the tanh derivative 1 - h^2. The ReLU's derivative is 1 where z > 0 and 0 elsewhere.",
            lambda *args: _residual_backprop(*args, tanh_grad=True)),
    Mistake("relu'(0) = 0 (Exercise 1's convention, and PyTorch's): a unit with Z1 = 0 passes no gradient.",
            lambda *args: _residual_backprop(*args, relu_grad_at_zero=1.0)),
    Mistake("Your weight gradients are transposed: BP4 gives dW = Delta^T A_prev, shaped (n_out, n_in) like W.",
            lambda *args: _residual_backprop(*args, transpose_dw=True)),
]

# ---------------------------------------------------------------- public cases and the registry

_Z_SMALL = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
_BP_RANDOM = _residual_case(np.random.default_rng(2), 5, 3, 4)
_BP_ZEROS = _residual_case(np.random.default_rng(5), 6, 4, 3, zero_rows=2)
_BP_ZEROS["b1"][[0, 2]] = 0.0

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
        mistakes=_ACTIVATION_MISTAKES,
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
        mistakes=_CROSS_ENTROPY_MISTAKES,
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
        mistakes=_GRADIENT_MISTAKES,
    ),
    Exercise(
        id="02_mlp.backprop_residual",
        reference=backprop_residual,
        public_cases=[
            Case({"X": np.array([[1.0, 2.0]]), "Y": np.array([[1.0, 0.0]]), "W1": np.zeros((2, 2)),
                  "b1": np.zeros(2), "W2": np.zeros((2, 2)), "b2": np.zeros(2)},
                 "all weights zero: A = X, P = [1/2, 1/2], nothing flows back into W1 or X",
                 (np.zeros((2, 2)), np.zeros(2), np.array([[-0.5, -1.0], [0.5, 1.0]]), np.array([-0.5, 0.5]),
                  np.zeros((1, 2)))),
            Case(_BP_RANDOM, "N = 5, D = 3, K = 4"),
            Case(_BP_ZEROS, "N = 6, D = 4, K = 3, some pre-activations exactly 0"),
        ],
        hidden_cases=_backprop_hidden,
        output_names=("dW1", "db1", "dW2", "db2", "dX"),
        rtol=1e-6,
        atol=1e-10,
        description="Gradients (parameters and input) of a residual ReLU block + softmax under the mean cross-entropy.",
        mistakes=_BACKPROP_MISTAKES,
    ),
]
