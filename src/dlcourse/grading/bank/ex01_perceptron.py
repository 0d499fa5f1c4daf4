"""Exercises of ``solutions/01_perceptron.ipynb``: Oja's rule, Hopfield storage, perceptron training,
asynchronous Hopfield recall and Sanger's rule (several principal components), easiest first.

Hidden inputs are chosen so that every answer is computed exactly in floating point (integer or
dyadic inputs and learning rates for the perceptron, power-of-two N for Hopfield recall): a test
w . x > 0 or h_i > 0 then cannot flip because of rounding, and the grade depends on the method only.
Sanger's rule compares no threshold, so its inputs are ordinary random floats.

Each exercise registers the plausible wrong versions a learner writes (``mistakes``); a result that
matches one gets its hint, on the public checks and on hidden cases alike.
"""
from __future__ import annotations

import numpy as np

from ...hebbian import hopfield_recall, hopfield_store, oja_update
from ...perceptron import logic_gate, perceptron_train
from ..spec import Case, Exercise, Mistake

_ETAS = (0.25, 0.5, 1.0, 2.0)


# ---------------------------------------------------------------- Sanger's rule (the reference lives here)

def sanger_update(W, x, eta):
    """One step of Sanger's rule: W + eta * (y x^T - LT(y y^T) W) with y = W x; W: (M, I), x: (I,).

    LT keeps the lower triangle with the diagonal, so row k gets eta * y_k * (x - sum_{j<=k} y_j w_j):
    Oja's rule for neuron k on the input left over by neurons 1..k-1.
    """
    W, x = np.asarray(W, dtype=float), np.asarray(x, dtype=float)
    y = W @ x
    return W + eta * (np.outer(y, x) - np.tril(np.outer(y, y)) @ W)


# ---------------------------------------------------------------- hidden cases

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
    for index, dim in enumerate((1, 2, 3, 4, 5, 2, 3)):
        X, t = _separable_integer_data(rng, int(rng.integers(4, 25)), dim)
        case = {"X": X, "t": t, "eta": float(rng.choice(_ETAS)), "max_epochs": 200}
        if index % 2:  # every other case from a given start; the first ones from zeros
            case["w_init"] = rng.integers(-4, 5, size=dim + 1) * 0.5
        cases.append(case)
    cases.append(_gate_case("XOR", max_epochs=int(rng.integers(1, 8))))  # never converges
    for name in ("AND", "OR", "NAND", "NOR", "NOT"):
        case = _gate_case(name, eta=float(rng.choice(_ETAS)))
        n_weights = case["X"].shape[1] + 1
        case["w_init"] = rng.integers(-4, 5, size=n_weights) * 0.5  # a different starting point
        cases.append(case)
    X, t = logic_gate("OR")
    cases.append({"X": X, "t": t.astype(np.int64), "eta": 1.0, "max_epochs": 5,
                  "w_init": np.array([-1.0, 2.0, 2.0])})  # correct from the start: one pass
    # Random labels (not separable) that do not cycle after one pass as XOR does: the weights after
    # max_epochs passes differ from those after one pass more or fewer, so the loop must make exactly max_epochs.
    for max_epochs in (2, 3, 5):
        X = rng.integers(-3, 4, size=(9, 3)).astype(np.float64)
        cases.append({"X": X, "t": rng.choice(np.array([-1, 1]), size=9), "eta": 1.0, "max_epochs": max_epochs})
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


def _sanger_hidden(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n_neurons, n_inputs in [(1, 3), (2, 2), (2, 5), (3, 4), (4, 4), (3, 8), (5, 6)]:
        cases.append({"W": rng.normal(scale=0.6, size=(n_neurons, n_inputs)),
                      "x": rng.normal(scale=2.0, size=n_inputs), "eta": float(rng.uniform(1e-3, 0.3))})
    basis, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cases.append({"W": basis[:3], "x": rng.normal(size=5), "eta": 0.1})  # orthonormal rows, as at convergence
    W = rng.normal(size=(3, 4))
    cases.append({"W": W, "x": W.T @ rng.normal(size=3), "eta": 0.05})  # x in the span of the rows
    cases.append({"W": rng.normal(size=(2, 3)), "x": np.zeros(3), "eta": 0.5})  # x = 0: no change
    return cases


# ---------------------------------------------------------------- the wrong versions that get a hint

def _oja_as_hebb(w, x, eta):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    return w + eta * (w @ x) * x


def _oja_renormalised(w, x, eta):
    new = _oja_as_hebb(w, x, eta)
    norm = np.linalg.norm(new)
    return new / norm if norm > 0 else new


def _oja_decay_without_output(w, x, eta):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    return w + eta * (w @ x) * (x - w)


def _store(patterns, divide_by: str = "N", zero_diagonal: bool = True):
    patterns = np.asarray(patterns, dtype=float)
    W = patterns.T @ patterns
    W = W / {"N": patterns.shape[1], "P": patterns.shape[0], "1": 1}[divide_by]
    if zero_diagonal:
        np.fill_diagonal(W, 0.0)
    return W


def _perceptron(X, t, eta=1.0, max_epochs=100, w_init=None, *, fires_at_zero=False, every_sample=False,
                count_final_pass=True, with_bias=True):
    """The perceptron rule with one of its usual slips switched on (all off: the right answer)."""
    X, t = np.asarray(X, dtype=float), np.asarray(t, dtype=float)
    if with_bias:
        X = np.hstack([np.ones((len(X), 1)), X])
    # Without x_0 a given w_init has one entry too many and w @ x raises, as in the learner's code.
    w = np.zeros(X.shape[1]) if w_init is None else np.array(w_init, dtype=float)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x, target in zip(X, t):
            output = 1.0 if (w @ x >= 0 if fires_at_zero else w @ x > 0) else -1.0
            mistakes += output != target
            if every_sample or output != target:
                w = w + eta * target * x
        if mistakes == 0:
            return w, epoch if count_final_pass else epoch - 1
    return w, max_epochs


def _recall_synchronous(W, s, order, max_sweeps):
    W, s = np.asarray(W, dtype=float), np.array(s, dtype=float)
    for _ in range(max_sweeps):
        field = W @ s
        new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, s))
        if np.array_equal(new, s):
            break
        s = new
    return s


def _recall_async(W, s, order, max_sweeps, use_np_sign=False, index_order=False):
    W, s = np.asarray(W, dtype=float), np.array(s, dtype=float)
    visit = range(len(s)) if index_order else order
    for _ in range(max_sweeps):
        old = s.copy()
        for i in visit:
            field = W[i] @ s
            s[i] = np.sign(field) if use_np_sign else (1.0 if field > 0 else (-1.0 if field < 0 else s[i]))
        if np.array_equal(old, s):
            break
    return s


def _sanger_with(W, x, eta, triangle):
    W, x = np.asarray(W, dtype=float), np.asarray(x, dtype=float)
    y = W @ x
    return W + eta * (np.outer(y, x) - triangle(np.outer(y, y)) @ W)


def _sanger_deflated_outputs(W, x, eta):
    W, x = np.asarray(W, dtype=float), np.asarray(x, dtype=float)
    new, residual = W.copy(), x.copy()
    for k in range(len(W)):
        y_k = W[k] @ residual  # the output of the deflated input instead of W[k] @ x
        residual = residual - y_k * W[k]
        new[k] = W[k] + eta * y_k * residual
    return new


def _sanger_rows_in_sequence(W, x, eta):
    W, x = np.array(W, dtype=float), np.asarray(x, dtype=float)
    y = W @ x
    for k in range(len(W)):
        W[k] = W[k] + eta * y[k] * (x - y[: k + 1] @ W[: k + 1])  # rows 0..k-1 already updated
    return W


_OJA_MISTAKES = [
    Mistake("This is Hebb's rule, w + eta*y*x: Oja's rule also subtracts the decay eta*y^2*w.", _oja_as_hebb),
    Mistake("You renormalised w after a Hebbian step. Oja's rule is the first-order version of that "
            "renormalisation: apply w + eta*y*(x - y*w) itself, with no division by a norm.", _oja_renormalised),
    Mistake("The decay term is y^2 * w: inside the bracket subtract y*w, not w.", _oja_decay_without_output),
]

_STORE_MISTAKES = [
    Mistake("The diagonal of W must be zero (no unit is connected to itself): set W_ii = 0 after the sum.",
            lambda patterns: _store(patterns, zero_diagonal=False)),
    Mistake("Divide by N, the number of units (columns of `patterns`), not by P, the number of patterns.",
            lambda patterns: _store(patterns, divide_by="P")),
    Mistake("The sum of outer products needs the factor 1/N in front (N = number of units).",
            lambda patterns: _store(patterns, divide_by="1")),
]

_PERCEPTRON_MISTAKES = [
    Mistake("You updated the weights on every example. The perceptron rule changes w only on a mistake "
            "(y_n != t_n); updating always is a Hebb-like rule.",
            lambda *args: _perceptron(*args, every_sample=True)),
    Mistake("Count every pass you made, including the final one without mistakes (it is the pass that "
            "shows the weights have converged).", lambda *args: _perceptron(*args, count_final_pass=False)),
    Mistake("The neuron fires only when w . x > 0 strictly; at w . x = 0 its output is -1.",
            lambda *args: _perceptron(*args, fires_at_zero=True)),
    Mistake("Prepend the constant input x_0 = 1 to every example, so that w has I + 1 entries, bias first.",
            lambda *args: _perceptron(*args, with_bias=False)),
]

_RECALL_MISTAKES = [
    Mistake("You updated all units at once from the old state: that is synchronous dynamics. Update one "
            "unit at a time, in the given order, each from the current state (which already holds the "
            "updates made earlier in the sweep).", _recall_synchronous),
    Mistake("A unit whose field is exactly 0 must keep its value; np.sign(0) is 0, which is not a state.",
            lambda *args: _recall_async(*args, use_np_sign=True)),
    Mistake("Visit the units in the given `order`, not in index order 0, 1, ..., N-1.",
            lambda *args: _recall_async(*args, index_order=True)),
]

_SANGER_MISTAKES = [
    Mistake("Neuron k subtracts only the reconstructions of neurons 1..k (a lower triangle, j <= k). "
            "Summing over all neurons is Oja's subspace rule: its rows span the principal subspace but "
            "do not become the individual components.", lambda *args: _sanger_with(*args, lambda m: m)),
    Mistake("Neuron k must also subtract its own reconstruction y_k * w_k (j <= k, the diagonal included): "
            "with a single neuron the rule has to be Oja's rule.",
            lambda *args: _sanger_with(*args, lambda m: np.tril(m, -1))),
    Mistake("Neuron k subtracts the reconstructions of the neurons before it, j <= k (lower triangle, "
            "np.tril), not of those after it (np.triu).", lambda *args: _sanger_with(*args, np.triu)),
    Mistake("Compute every output from the original input, y = W x; only the input that each neuron "
            "learns from is deflated.", _sanger_deflated_outputs),
    Mistake("Compute all M updates from the weights before the step, then apply them together: your rows "
            "used rows already updated in this step.", _sanger_rows_in_sequence),
]

# ---------------------------------------------------------------- public cases and the registry

_XI = np.array([-1, 1, 1, 1, 1, -1, 1, -1])
_HALFWAY = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0])  # 4 of 8 bits differ from _XI
_THREE = np.array([[-1, 1, 1, 1, -1, 1, 1, 1], [1, -1, 1, -1, 1, -1, -1, -1], [-1, 1, -1, -1, 1, 1, -1, 1]])
_W_SANGER = np.array([[0.5, -0.25, 1.0, 0.0], [0.25, 0.75, -0.5, 0.5], [-1.0, 0.5, 0.25, 0.75]])

EXERCISES = [
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
        mistakes=_OJA_MISTAKES,
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
        mistakes=_STORE_MISTAKES,
    ),
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
        mistakes=_PERCEPTRON_MISTAKES,
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
        mistakes=_RECALL_MISTAKES,
    ),
    Exercise(
        id="01_perceptron.sanger_update",
        reference=sanger_update,
        public_cases=[
            Case({"W": np.array([[1.0, 0.0]]), "x": np.array([1.0, 1.0]), "eta": 0.5},
                 "one neuron: the same step as Oja's rule", (np.array([[1.0, 0.5]]),)),
            Case({"W": np.eye(2), "x": np.array([1.0, 2.0]), "eta": 0.5},
                 "W = I: neuron 2 learns from what neuron 1 leaves, which it already explains",
                 (np.array([[1.0, 1.0], [0.0, 1.0]]),)),
            Case({"W": _W_SANGER, "x": np.array([1.0, -2.0, 0.5, 1.5]), "eta": 0.1}, "3 neurons, 4 inputs"),
            Case({"W": _W_SANGER, "x": np.zeros(4), "eta": 0.1}, "x = 0: no change", (_W_SANGER,)),
        ],
        hidden_cases=_sanger_hidden,
        output_names=("W_new",),
        rtol=1e-8,
        atol=1e-10,
        description="One step of Sanger's rule (generalised Hebbian algorithm) for M linear neurons.",
        mistakes=_SANGER_MISTAKES,
    ),
]
