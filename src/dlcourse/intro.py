"""Chapter 0, introduction: the history timeline, parity circuits (shallow vs deep), and a matmul benchmark.

The parity part makes one claim of the chapter concrete. Parity of ``d`` bits,

    parity(x) = (x_1 + ... + x_d) mod 2,     x in {0, 1}^d,

needs ``2^(d-1)`` AND-terms as a depth-2 AND/OR circuit (a DNF) and ``2^(d-1)`` centres as a Gaussian
kernel machine, but only ``3(d-1)`` threshold units as a chain or a tree of XORs. Every circuit here is
a :class:`ThresholdCircuit` whose units compute ``h = 1[w . s + b > 0]`` and can be run on all ``2^d``
inputs. (Seed 003 codes parity as +1 for even and -1 for odd; we use 1 for odd, 0 for even.)
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

# --- Timeline --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    """One dated event: ``kind`` is one of :data:`KINDS`; ``cite`` is its bibtex key."""

    year: int
    event: str
    kind: str
    cite: str


KINDS = {
    "model": "neuron and network models",
    "learning": "learning rules and theory",
    "architecture": "architectures",
    "enabler": "data, hardware and training tricks",
    "setback": "setbacks and rivals",
}

TIMELINE: tuple[Milestone, ...] = (
    Milestone(1943, "McCulloch & Pitts: the threshold neuron", "model", "mcculloch1943logical"),
    Milestone(1949, "Hebb: cells that fire together wire together", "learning", "hebb1949organization"),
    Milestone(1958, "Rosenblatt: the perceptron learns its weights", "learning", "rosenblatt1958perceptron"),
    Milestone(1960, "Widrow & Hoff: ADALINE and the LMS rule", "learning", "widrow1960adaptive"),
    Milestone(1965, "Ivakhnenko & Lapa: deep nets trained layer by layer (GMDH)", "architecture",
              "ivakhnenko1965cybernetic"),
    Milestone(1969, "Minsky & Papert: limits of one-layer perceptrons", "setback", "minsky1969perceptrons"),
    Milestone(1970, "Linnainmaa: reverse-mode automatic differentiation", "learning", "linnainmaa1970"),
    Milestone(1974, "Werbos: backpropagation proposed for neural nets", "learning", "werbos1974beyond"),
    Milestone(1980, "Fukushima: the neocognitron", "architecture", "fukushima1980neocognitron"),
    Milestone(1982, "Hopfield: associative memory with an energy", "model", "hopfield1982neural"),
    Milestone(1986, "Rumelhart, Hinton & Williams: backprop learns representations", "learning",
              "rumelhart1986learning"),
    Milestone(1989, "Cybenko; Hornik et al.: universal approximation", "learning", "cybenko1989approximation"),
    Milestone(1989, "LeCun et al.: a convnet reads zip codes", "architecture", "lecun1989backpropagation"),
    Milestone(1994, "Bengio et al.: long-range gradients vanish", "setback", "bengio1994learning"),
    Milestone(1995, "Cortes & Vapnik: support-vector networks", "setback", "cortes1995support"),
    Milestone(1997, "Hochreiter & Schmidhuber: LSTM", "architecture", "hochreiter1997long"),
    Milestone(1998, "LeCun et al.: LeNet-5 and MNIST", "architecture", "lecun1998gradient"),
    Milestone(2006, "Hinton et al.: deep belief nets, layer-wise pre-training", "learning", "hinton2006fast"),
    Milestone(2009, "Deng et al.: ImageNet, millions of labelled images", "enabler", "deng2009imagenet"),
    Milestone(2009, "Raina et al.: GPUs train large nets 70x faster", "enabler", "raina2009large"),
    Milestone(2010, "Glorot & Bengio: initialisation scaled to layer width", "enabler", "glorot2010understanding"),
    Milestone(2011, "Glorot et al.: ReLU units train deep nets directly", "enabler", "glorot2011deep"),
    Milestone(2012, "Krizhevsky et al.: AlexNet wins ImageNet", "architecture", "krizhevsky2012imagenet"),
    Milestone(2014, "Srivastava et al.: dropout", "enabler", "srivastava2014dropout"),
    Milestone(2014, "Goodfellow et al.: generative adversarial nets", "architecture", "goodfellow2014generative"),
    Milestone(2014, "Bahdanau et al.: attention for translation", "architecture", "bahdanau2015neural"),
    Milestone(2015, "Ioffe & Szegedy: batch normalisation", "enabler", "ioffe2015batch"),
    Milestone(2015, "He et al.: ResNet, 152 layers", "architecture", "he2016deep"),
    Milestone(2017, "Vaswani et al.: the transformer", "architecture", "vaswani2017attention"),
    Milestone(2018, "Devlin et al.: BERT pre-training", "architecture", "devlin2019bert"),
    Milestone(2020, "Brown et al.: GPT-3, 175B parameters", "architecture", "brown2020language"),
    Milestone(2020, "Ho et al.: denoising diffusion models", "architecture", "ho2020denoising"),
    Milestone(2021, "Radford et al.: CLIP links images and text", "architecture", "radford2021learning"),
)

# Approximate spans of low funding and interest; historians draw the edges differently.
WINTERS: tuple[tuple[int, int, str], ...] = ((1969, 1982, "first winter"), (1995, 2006, "second winter"))

# ILSVRC classification, winning top-5 error (%) per year: Russakovsky et al. (2015) for 2010-2014, the
# challenge's result pages and the winners' papers for 2015-2017. 2012 is AlexNet trained on the
# challenge data alone (its entry with extra data reached 15.3).
ILSVRC_TOP5_ERROR: dict[int, tuple[float, str]] = {
    2010: (28.2, "NEC-UIUC"), 2011: (25.8, "XRCE"), 2012: (16.4, "AlexNet"), 2013: (11.7, "Clarifai"),
    2014: (6.7, "GoogLeNet"), 2015: (3.57, "ResNet"), 2016: (2.99, "Trimps-Soushen"), 2017: (2.25, "SENet"),
}


def timeline_until(year: int | None = None) -> list[Milestone]:
    """The milestones with ``m.year <= year`` (all of them when ``year`` is None), oldest first."""
    if year is not None and not isinstance(year, (int, np.integer)):
        raise ValueError(f"year must be an integer or None, got {year!r}")
    return sorted((m for m in TIMELINE if year is None or m.year <= year), key=lambda m: m.year)


def plot_timeline(until: int | None = None, ax=None):
    """Draw the milestones up to ``until`` as one row each, with the winters shaded; returns the Figure."""
    import matplotlib.pyplot as plt

    colors = dict(zip(KINDS, plt.get_cmap("tab10").colors))
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.26 * len(TIMELINE) + 1.2))
    for start, end, label in WINTERS:
        ax.axvspan(start, end, color="0.9", zorder=0)
        ax.text((start + end) / 2, -1.2, label, ha="center", va="center", fontsize=8, color="0.4")
    shown = timeline_until(until)
    for row, m in enumerate(shown):
        ax.plot(m.year, row, "o", color=colors[m.kind], ms=6)
        ax.text(m.year + 1, row, f"{m.year}  {m.event}", va="center", fontsize=8)
    # Fixed limits so that a slider over `until` redraws without the axes jumping.
    ax.set_xlim(1940, 2055)
    ax.set_ylim(len(TIMELINE), -2)
    ax.set_yticks([])
    ax.set_xlabel("year")
    handles = [plt.Line2D([], [], marker="o", ls="", color=colors[k], label=v) for k, v in KINDS.items()]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False)
    title = "Neural networks, 1943-2021" if until is None else f"Neural networks up to {until}"
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


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

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Outputs in {0, 1} for inputs ``X: (N, n_inputs)``."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (N, {self.n_inputs}), got {X.shape}")
        signals = X
        for W, b in self.layers:
            h = (signals @ W.T + b > 0).astype(float)  # (N, n_l)
            signals = np.concatenate([signals, h], axis=1)
        return signals[:, -1].astype(np.int64)


def count_units(circuit: ThresholdCircuit) -> int:
    """Number of threshold units (inputs are not units)."""
    return sum(len(b) for _, b in circuit.layers)


def circuit_depth(circuit: ThresholdCircuit) -> int:
    """Number of layers of units on the longest path from an input to the output."""
    return len(circuit.layers)


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


def _check_bits(d, low: int = 2, high: int = 24) -> None:
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or not low <= d <= high:
        raise ValueError(f"d must be an integer in [{low}, {high}], got {d!r}")


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
    d_values = [int(d) for d in d_values]
    sizes = {
        "DNF (depth 2)": [count_units(parity_dnf_network(d)) for d in d_values],
        "Gaussian kernel machine (centres)": [len(parity_kernel_machine(d)[0]) for d in d_values],
        "XOR chain or tree": [count_units(parity_tree_network(d)) for d in d_values],
        "counting (depth 2, threshold)": [count_units(parity_counting_network(d)) for d in d_values],
    }
    return {"d": np.array(d_values), **{k: np.array(v) for k, v in sizes.items()}}


def plot_circuit_sizes(d: int = 8, d_max: int = 14, ax=None):
    """Units vs d on a log scale for the parity circuits, with the counts at ``d`` printed; returns the Figure."""
    import matplotlib.pyplot as plt

    _check_bits(d, high=d_max)
    sizes = circuit_sizes(range(2, d_max + 1))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
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


def gaussian_kernel(X: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """K[n, i] = exp(-||x_n - c_i||^2 / sigma^2); X: (N, d), centres: (M, d) -> (N, M)."""
    sq = (X**2).sum(1)[:, None] + (centres**2).sum(1)[None, :] - 2 * X @ centres.T
    return np.exp(-np.maximum(sq, 0.0) / sigma**2)


def parity_kernel_machine(d: int, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Centres, weights and bias of f(x) = b + sum_i alpha_i K(x, c_i) with sign(f) = odd parity.

    Inputs are mapped to z = 2x - 1 in {-1, +1}^d, as in Bengio et al. (2006), whose theorem says any
    such machine needs at least 2^(d-1) centres. This one meets the bound: the 2^(d-1) odd points with
    alpha_i = 1 and b = -(1 + q)^d / 2, q = exp(-4 / sigma^2); then f(x) = +-(1 - q)^d / 2.
    """
    _check_bits(d, high=20)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    points = 2 * all_binary_inputs(d) - 1
    centres = points[((points > 0).sum(1) % 2) == 1]  # (2^(d-1), d)
    q = np.exp(-4.0 / sigma**2)
    return centres, np.ones(len(centres)), -0.5 * (1 + q) ** d


def kernel_machine_decision(X: np.ndarray, centres: np.ndarray, alpha: np.ndarray, bias: float,
                            sigma: float = 1.0) -> np.ndarray:
    """f(x) = b + sum_i alpha_i K(2x - 1, c_i) for bits ``X: (N, d)``; returns (N,)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != centres.shape[1]:
        raise ValueError(f"X must have shape (N, {centres.shape[1]}), got {X.shape}")
    return bias + gaussian_kernel(2 * X - 1, centres, sigma) @ alpha


# --- A small experiment and a benchmark (torch) ----------------------------------------------------


def mlp_param_count(n_inputs: int, hidden: tuple[int, ...], n_outputs: int = 1) -> int:
    """Weights and biases of a fully connected net n_inputs -> hidden... -> n_outputs."""
    sizes = [n_inputs, *hidden, n_outputs]
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

    if not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {hidden!r}")
    if len(seeds) < 1:
        raise ValueError(f"seeds must hold at least one seed, got {seeds!r}")
    _check_bits(n_bits, high=12)
    sizes = [n_bits, *(int(h) for h in hidden), 1]
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
    return {"hidden": tuple(hidden), "n_params": mlp_param_count(n_bits, tuple(hidden)), "loss": losses,
            "accuracy": accuracy.astype(float)}


def matmul_benchmark(n: int, device: str = "cpu", repeats: int = 5, dtype: str = "float32") -> dict:
    """Median wall time of C = A B for random (n, n) matrices, and the rate 2 n^3 / t in GFLOP/s.

    A CUDA device is synchronised around each timed call, since its kernels run asynchronously.
    """
    import torch

    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available")
    generator = torch.Generator().manual_seed(0)
    A = torch.randn(n, n, generator=generator, dtype=getattr(torch, dtype)).to(dev)
    B = torch.randn(n, n, generator=generator, dtype=getattr(torch, dtype)).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    A @ B  # warm-up: the first call pays for kernel selection and memory allocation
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        A @ B
        sync()
        times.append(time.perf_counter() - start)
    seconds = max(float(np.median(times)), 1e-9)  # a coarse clock could report 0 for tiny n
    return {"n": int(n), "device": str(dev), "dtype": dtype, "seconds": seconds,
            "gflops": 2.0 * n**3 / seconds / 1e9}
