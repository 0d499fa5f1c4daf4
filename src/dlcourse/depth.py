"""Chapter 0, why depth: parity as threshold circuits (shallow vs deep), a Gaussian kernel machine and MLPs.

Parity of ``d`` bits,

    parity(x) = (x_1 + ... + x_d) mod 2,     x in {0, 1}^d,

needs ``2^(d-1)`` AND-terms as a depth-2 AND/OR circuit (a DNF) and ``2^(d-1)`` centres as a Gaussian
kernel machine, but only ``3(d-1)`` threshold units as a chain or a tree of XORs. Every circuit here is
a :class:`ThresholdCircuit` whose units compute ``h = 1[w . s + b > 0]`` and can be run on all ``2^d``
inputs. (Mendez-Vazquez (2020) codes parity as +1 for even and -1 for odd; we use 1 for odd, 0 for even.)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .validation import as_float_array, check_axes, check_float, check_int, check_positive, check_positive_int


# --- Threshold circuits for parity -----------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdCircuit:
    """A feed-forward net of threshold units: layer l computes h_l = 1[W_l s + b_l > 0].

    ``s`` is every signal computed so far (the ``n_inputs`` inputs, then the outputs of layers 1..l-1),
    so a layer may read any earlier layer, as the gates of a circuit do. ``layers[l] = (W_l, b_l)`` with
    ``W_l: (n_l, n_inputs + n_1 + ... + n_{l-1})`` and ``b_l: (n_l,)``. The output is the last unit.
    """

    n_inputs: int
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    name: str = ""

    def __post_init__(self):
        n_signals = check_positive_int(self.n_inputs, "n_inputs")
        if not isinstance(self.layers, (tuple, list)) or not self.layers:
            raise ValueError(f"layers must be a non-empty tuple of (W, b) pairs, got {self.layers!r}")
        layers = []
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, (tuple, list)) or len(layer) != 2:
                raise ValueError(f"layers[{k}] must be a pair (W, b), got {layer!r}")
            b = as_float_array(layer[1], f"layers[{k}] b", ndim=1, allow_empty=False)
            W = as_float_array(layer[0], f"layers[{k}] W", shape=(len(b), n_signals))
            layers.append((W, b))  # fresh copies: changing the caller's arrays cannot change the circuit
            n_signals += len(b)
        object.__setattr__(self, "layers", tuple(layers))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Outputs in {0, 1} for inputs ``X: (N, n_inputs)``."""
        X = as_float_array(X, "X", shape=(None, self.n_inputs))
        signals = X
        for W, b in self.layers:
            h = (signals @ W.T + b > 0).astype(float)  # (N, n_l)
            signals = np.concatenate([signals, h], axis=1)
        return signals[:, -1].astype(np.int64)


def _check_circuit(circuit) -> ThresholdCircuit:
    if not isinstance(circuit, ThresholdCircuit):
        raise ValueError(f"circuit must be a ThresholdCircuit, got {type(circuit).__name__}")
    return circuit


def count_units(circuit: ThresholdCircuit) -> int:
    """Number of threshold units (inputs are not units)."""
    return sum(len(b) for _, b in _check_circuit(circuit).layers)


def circuit_depth(circuit: ThresholdCircuit) -> int:
    """Number of units on the longest path from an input to the output, along non-zero weights."""
    depth = np.zeros(_check_circuit(circuit).n_inputs, dtype=np.int64)  # an input has depth 0
    for W, _ in circuit.layers:
        reads = W != 0  # (n_l, n_signals): which earlier signals each unit listens to
        below = np.where(reads, depth[None, :], 0).max(axis=1, initial=0)
        depth = np.concatenate([depth, below + 1])
    return int(depth[-1])


class _CircuitBuilder:
    """Appends layers of units; each unit is ``({signal index: weight}, bias)``."""

    def __init__(self, n_inputs: int):
        self.n_inputs = n_inputs
        self.n_signals = n_inputs
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []

    def add_layer(self, units: list[tuple[dict[int, float], float]]) -> list[int]:
        W = np.zeros((len(units), self.n_signals))
        b = np.array([bias for _, bias in units], dtype=float)
        for row, (weights, _) in enumerate(units):
            for index, weight in weights.items():
                W[row, index] = weight
        first = self.n_signals
        self.layers.append((W, b))
        self.n_signals += len(units)
        return list(range(first, self.n_signals))

    def add_xor_level(self, pairs: list[tuple[int, int]]) -> list[int]:
        """XOR of each pair (a, c) as AND(OR(a, c), NAND(a, c)): 2 hidden units + 1 output unit."""
        hidden = []
        for a, c in pairs:
            hidden += [({a: 1.0, c: 1.0}, -0.5), ({a: -1.0, c: -1.0}, 1.5)]  # OR, NAND
        h = self.add_layer(hidden)
        return self.add_layer([({h[2 * k]: 1.0, h[2 * k + 1]: 1.0}, -1.5) for k in range(len(pairs))])

    def build(self, name: str) -> ThresholdCircuit:
        return ThresholdCircuit(self.n_inputs, tuple(self.layers), name)


def _check_bits(d, low: int = 2, high: int = 24, name: str = "d") -> int:
    return check_int(d, name, minimum=low, maximum=high)


def all_binary_inputs(d: int) -> np.ndarray:
    """All ``2^d`` points of {0, 1}^d as a float array of shape (2^d, d), in counting order."""
    _check_bits(d, low=1, high=20)
    return np.array(list(itertools.product([0.0, 1.0], repeat=d)))


def parity_dnf_network(d: int) -> ThresholdCircuit:
    """Depth-2 AND/OR circuit (a DNF): one AND unit per odd-parity input, then one OR unit.

    The AND unit for pattern p fires iff x = p: sum_j (2 p_j - 1) x_j - (|p| - 1/2) > 0. Every term
    must mention all d bits (flipping a missing bit would flip parity), so 2^(d-1) terms are needed.
    Units: 2^(d-1) + 1.
    """
    _check_bits(d, high=16)
    builder = _CircuitBuilder(d)
    patterns = [p for p in itertools.product([0, 1], repeat=d) if sum(p) % 2 == 1]
    terms = builder.add_layer(
        [({j: 2.0 * bit - 1.0 for j, bit in enumerate(p)}, 0.5 - sum(p)) for p in patterns])
    builder.add_layer([({t: 1.0 for t in terms}, -0.5)])
    return builder.build(f"DNF (depth 2), d={d}")


def parity_chain_network(d: int) -> ThresholdCircuit:
    """Chain of XORs ((x_1 xor x_2) xor x_3) ...: 3(d-1) units, depth 2(d-1)."""
    _check_bits(d)
    builder = _CircuitBuilder(d)
    acc = 0
    for j in range(1, d):
        (acc,) = builder.add_xor_level([(acc, j)])
    return builder.build(f"XOR chain, d={d}")


def parity_tree_network(d: int) -> ThresholdCircuit:
    """Balanced tree of XORs: 3(d-1) units, depth 2 ceil(log2 d); an odd signal waits for the next level."""
    _check_bits(d)
    builder = _CircuitBuilder(d)
    current = list(range(d))
    while len(current) > 1:
        pairs = list(zip(current[0::2], current[1::2]))
        leftover = current[-1:] if len(current) % 2 else []
        current = builder.add_xor_level(pairs) + leftover
    return builder.build(f"XOR tree, d={d}")


def parity_counting_network(d: int) -> ThresholdCircuit:
    """Depth-2 threshold net with d + 1 units: h_k = 1[sum x >= k], output 1[sum_k (-1)^(k+1) h_k > 1/2].

    Weighted threshold units are stronger than AND/OR gates: at depth 2 they count, so parity's
    exponential cost at depth 2 is a statement about AND/OR gates and local templates, not all units.
    """
    _check_bits(d)
    builder = _CircuitBuilder(d)
    hidden = builder.add_layer([({j: 1.0 for j in range(d)}, 0.5 - k) for k in range(1, d + 1)])
    builder.add_layer([({h: (-1.0) ** k for k, h in enumerate(hidden)}, -0.5)])
    return builder.build(f"counting (depth 2), d={d}")


def circuit_sizes(d_values) -> dict[str, np.ndarray]:
    """Units (and kernel centres) needed for parity for each d, counted on the built circuits."""
    if isinstance(d_values, (str, bytes)) or np.ndim(d_values) != 1 or len(d_values) == 0:
        raise ValueError(f"d_values must be a non-empty sequence of integers, got {d_values!r}")
    d_values = [_check_bits(d, high=16, name="each of d_values") for d in d_values]
    sizes = {
        "DNF (depth 2)": [count_units(parity_dnf_network(d)) for d in d_values],
        "Gaussian kernel machine (centres)": [len(parity_kernel_machine(d)[0]) for d in d_values],
        "XOR chain or tree": [count_units(parity_tree_network(d)) for d in d_values],
        "counting (depth 2, threshold)": [count_units(parity_counting_network(d)) for d in d_values],
    }
    return {"d": np.array(d_values), **{k: np.array(v) for k, v in sizes.items()}}


def plot_circuit_sizes(d: int = 8, d_max: int = 14, ax=None):
    """Units vs d on a log scale for the parity circuits, with the counts at ``d`` printed; returns the Figure."""
    d_max = _check_bits(d_max, high=16, name="d_max")
    d = _check_bits(d, high=d_max)
    sizes = circuit_sizes(range(2, d_max + 1))
    ax = _axes(ax, (7, 4))
    lines = []
    for (name, counts), marker in zip(list(sizes.items())[1:], "os^v"):
        ax.semilogy(sizes["d"], counts, marker=marker, ms=4, label=name)
        lines.append(f"{name}: {counts[d - 2]:,}")
    ax.axvline(d, color="0.6", ls="--", lw=1)
    ax.text(0.02, 0.97, f"d = {d}\n" + "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8,
            bbox=dict(facecolor="white", edgecolor="0.8"))
    ax.set_xlabel("number of bits d")
    ax.set_ylabel("units (log scale)")
    ax.set_title("Size of a parity circuit: shallow vs deep")
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.55), fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


# --- Gaussian kernel machine for parity ------------------------------------------------------------


def _axes(ax, figsize: tuple[float, float]):
    """``ax``, or the axes of a new figure of ``figsize`` when it is None."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1] if check_axes(ax) is None else ax


def _points(X, centres) -> tuple[np.ndarray, np.ndarray]:
    centres = as_float_array(centres, "centres", ndim=2, allow_empty=False)
    return as_float_array(X, "X", shape=(None, centres.shape[1]), allow_empty=False), centres


def gaussian_kernel(X: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """K[n, i] = exp(-||x_n - c_i||^2 / sigma^2); X: (N, d), centres: (M, d) -> (N, M).

    The squares are summed from the differences x_n - c_i themselves: the shortcut
    ||x||^2 + ||c||^2 - 2 x . c loses every digit for nearby points far from the origin.
    """
    X, centres = _points(X, centres)
    sigma = check_positive(sigma, "sigma")
    K = np.empty((len(X), len(centres)))
    block = max(1, 2**20 // centres.size)  # rows per block: (block, M, d) differences, about 8 MB
    with np.errstate(over="ignore"):  # a distance beyond float64 gives K = 0, which is right
        for start in range(0, len(X), block):
            diff = X[start:start + block, None, :] - centres[None, :, :]
            K[start:start + block] = np.exp(-(np.einsum("nmd,nmd->nm", diff, diff) / sigma) / sigma)
    return K


def parity_kernel_machine(d: int, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Centres, weights and bias of f(x) = b + sum_i alpha_i K(x, c_i) with sign(f) = odd parity.

    Inputs are mapped to z = 2x - 1 in {-1, +1}^d, as in Bengio et al. (2006), whose theorem says any
    such machine needs at least 2^(d-1) centres. This one meets the bound: the 2^(d-1) odd points with
    alpha_i = 1 and b = -(1 + q)^d / 2, q = exp(-4 / sigma^2); then f(x) = +-(1 - q)^d / 2.
    """
    d, sigma = _check_bits(d, high=20), check_positive(sigma, "sigma")
    points = 2 * all_binary_inputs(d) - 1
    centres = points[((points > 0).sum(1) % 2) == 1]  # (2^(d-1), d)
    q = np.exp(-(4.0 / sigma) / sigma)  # not 4 / sigma**2, which overflows or divides by 0 at the extremes
    return centres, np.ones(len(centres)), -0.5 * (1 + q) ** d


def kernel_machine_decision(X: np.ndarray, centres: np.ndarray, alpha: np.ndarray, bias: float,
                            sigma: float = 1.0) -> np.ndarray:
    """f(x) = b + sum_i alpha_i K(2x - 1, c_i) for bits ``X: (N, d)``, centres (M, d), alpha (M,); returns (N,)."""
    X, centres = _points(X, centres)
    alpha = as_float_array(alpha, "alpha", shape=(len(centres),))
    return check_float(bias, "bias") + gaussian_kernel(2 * X - 1, centres, sigma) @ alpha


# --- A small experiment and a benchmark (torch) ----------------------------------------------------


def _integers(values, name: str, allow_empty: bool, minimum: int, maximum: int | None = None) -> tuple[int, ...]:
    """A sequence of integers in [minimum, maximum] as a tuple of Python ints (never floats, never bools)."""
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1 or (len(values) == 0 and not allow_empty):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}sequence of integers, got {values!r}")
    return tuple(check_int(v, f"each of {name}", minimum=minimum, maximum=maximum) for v in values)


def mlp_param_count(n_inputs: int, hidden: tuple[int, ...], n_outputs: int = 1) -> int:
    """Weights and biases of a fully connected net n_inputs -> hidden... -> n_outputs."""
    sizes = [check_positive_int(n_inputs, "n_inputs"), *_integers(hidden, "hidden", True, minimum=1),
             check_positive_int(n_outputs, "n_outputs")]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def train_parity_mlp(hidden: tuple[int, ...], n_bits: int = 8, steps: int = 1000,
                     learning_rate: float = 0.01, seeds: tuple[int, ...] = (0,)) -> dict:
    """Fit ReLU MLPs n_bits -> hidden... -> 1 to all 2^n_bits parity examples, one per seed.

    Full-batch Adam on the logistic loss, inputs coded as 2x - 1. Seed s starts from the weights that
    ``nn.Linear`` draws after ``torch.manual_seed(s)``. The S = len(seeds) nets are trained side by side
    as one batched net (weights (S, n_in, n_out), ``torch.baddbmm``); the loss is the sum of the S
    per-net mean losses, so each net gets exactly its own gradient and Adam step.
    Returns ``{"hidden", "n_params" (per net), "loss": (S, steps), "accuracy": (S,)}``.
    """
    import torch
    from torch import nn

    hidden = _integers(hidden, "hidden", False, minimum=1)
    seeds = _integers(seeds, "seeds", allow_empty=False, minimum=0, maximum=2**64 - 1)
    n_bits = _check_bits(n_bits, high=12, name="n_bits")
    steps = check_positive_int(steps, "steps")
    learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0, strict_minimum=True,
                                maximum=float(np.finfo(np.float32).max))  # the nets are float32
    sizes = [n_bits, *hidden, 1]
    per_seed = []
    for seed in seeds:
        torch.manual_seed(seed)
        per_seed.append([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    weights = [torch.stack([net[k].weight.detach().T for net in per_seed]).requires_grad_()  # (S, in, out)
               for k in range(len(sizes) - 1)]
    biases = [torch.stack([net[k].bias.detach()[None] for net in per_seed]).requires_grad_()  # (S, 1, out)
              for k in range(len(sizes) - 1)]
    bits = all_binary_inputs(n_bits)
    X = torch.tensor(2 * bits - 1, dtype=torch.float32).expand(len(seeds), -1, -1)  # (S, N, n_bits)
    y = torch.tensor(bits.sum(1) % 2, dtype=torch.float32).expand(len(seeds), -1)  # (S, N)

    def logits() -> torch.Tensor:
        h = X
        for k, (W, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b, h, W)
            h = torch.relu(h) if k < len(weights) - 1 else h
        return h.squeeze(2)  # (S, N)

    optimizer = torch.optim.Adam(weights + biases, lr=learning_rate)
    losses = np.empty((len(seeds), steps))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # matrices of a few hundred entries: a second thread costs more than it saves
    try:
        for step in range(steps):
            optimizer.zero_grad()
            per_net = nn.functional.binary_cross_entropy_with_logits(logits(), y, reduction="none").mean(1)
            per_net.sum().backward()
            optimizer.step()
            losses[:, step] = per_net.detach().numpy()
        with torch.no_grad():
            accuracy = ((logits() > 0).float() == y).float().mean(1).numpy()
    finally:
        torch.set_num_threads(threads)
    n_params = sum(p.numel() for layer in per_seed[0] for p in layer.parameters())  # counted on the nets
    return {"hidden": hidden, "n_params": int(n_params), "loss": losses, "accuracy": accuracy.astype(float)}
