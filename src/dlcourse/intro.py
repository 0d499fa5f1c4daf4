"""Chapter 0, introduction: the history timeline and a matmul benchmark.

The depth argument of the chapter (parity as shallow and deep threshold circuits, a Gaussian kernel
machine, parity MLPs) lives in :mod:`dlcourse.depth`; its names are re-exported here, so
``dlcourse.intro.parity_dnf_network`` keeps working.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .depth import (ThresholdCircuit, all_binary_inputs, circuit_depth, circuit_sizes, count_units,  # noqa: F401
                    gaussian_kernel, kernel_machine_decision, mlp_param_count, parity_chain_network,
                    parity_counting_network, parity_dnf_network, parity_kernel_machine, parity_tree_network,
                    plot_circuit_sizes, train_parity_mlp)
from .validation import check_axes, check_choice, check_int, check_positive_int

# --- Timeline --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    """One dated event: ``kind`` is one of :data:`KINDS`; ``cite`` is its bibtex key."""

    year: int
    event: str
    kind: str
    cite: str

    def __post_init__(self):
        check_int(self.year, "year")
        check_choice(self.kind, "kind", KINDS)


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
    year = None if year is None else check_int(year, "year")
    return sorted((m for m in TIMELINE if year is None or m.year <= year), key=lambda m: m.year)


def plot_timeline(until: int | None = None, ax=None):
    """Draw the milestones up to ``until`` as one row each, with the winters shaded; returns the Figure.

    The drawing is :func:`dlcourse.diagrams.draw_timeline`; the axes stay the same for every ``until``,
    so a slider over the year redraws without the figure jumping.
    """
    from .diagrams import draw_timeline

    until = None if until is None else check_int(until, "year")
    check_axes(ax)
    first, last = min(m.year for m in TIMELINE), max(m.year for m in TIMELINE)
    title = f"Neural networks, {first}-{last}" if until is None else f"Neural networks up to {until}"
    events = [(m.year, m.event, m.kind) for m in TIMELINE]
    return draw_timeline(events, KINDS, WINTERS, until=until, ax=ax, title=title).figure


def matmul_benchmark(n: int, device: str = "cpu", repeats: int = 5, dtype: str = "float32") -> dict:
    """Median wall time of C = A B for random (n, n) matrices, and the rate 2 n^3 / t in GFLOP/s.

    A CUDA device is synchronised around each timed call, since its kernels run asynchronously.
    """
    import torch

    from .config import get_device

    n, repeats = check_positive_int(n, "n"), check_positive_int(repeats, "repeats")
    check_choice(dtype, "dtype", ("float16", "bfloat16", "float32", "float64"))
    dev = get_device(device)
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
