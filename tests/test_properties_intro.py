"""Property-based tests for dlcourse.intro: the kernel against a brute-force sum, circuits against a
plain evaluator and an independent longest-path count, parameter counts against torch."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from layouts import LAYOUTS, relayout
from dlcourse import intro

FAST = settings(max_examples=40, deadline=None)


def brute_force_kernel(X, C, sigma):
    return np.array([[math.exp(-math.fsum((a - b) ** 2 for a, b in zip(x, c)) / sigma**2) for c in C]
                     for x in X.tolist()])


@FAST
@given(n=st.integers(1, 6), m=st.integers(1, 6), d=st.integers(1, 4), offset_exp=st.integers(0, 8),
       spread=st.sampled_from([1e-3, 0.1, 1.0, 10.0]), sigma=st.floats(0.1, 10.0), seed=st.integers(0, 10**6),
       layout=st.sampled_from(LAYOUTS), sign=st.sampled_from([-1.0, 1.0]))
def test_gaussian_kernel_equals_a_brute_force_sum_at_every_offset(n, m, d, offset_exp, spread, sigma, seed,
                                                                  layout, sign):
    rng = np.random.default_rng(seed)
    offset = sign * 10.0**offset_exp * rng.uniform(0.5, 1.0, size=d)
    X, C = offset + spread * rng.normal(size=(n, d)), offset + spread * rng.normal(size=(m, d))
    K = intro.gaussian_kernel(relayout(X, layout), relayout(C, layout), sigma)
    assert K.shape == (n, m) and np.all((K >= 0) & (K <= 1))
    np.testing.assert_allclose(K, brute_force_kernel(X, C.tolist(), sigma), rtol=1e-11, atol=1e-300)


@settings(max_examples=30, deadline=None)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.sampled_from(["X", "centres"]),
       position=st.integers(0, 50))
def test_kernel_refuses_nan_and_inf(bad, where, position):
    arrays = {"X": np.zeros((3, 2)), "centres": np.ones((4, 2))}
    arrays[where].reshape(-1)[position % arrays[where].size] = bad
    with pytest.raises(ValueError, match=f"{where} must be finite"):
        intro.gaussian_kernel(arrays["X"], arrays["centres"], 1.0)


@settings(max_examples=30, deadline=None)
@given(d=st.integers(2, 8), sigma=st.floats(0.4, 3.0))
def test_parity_kernel_machine_value_is_the_closed_form(d, sigma):
    X = intro.all_binary_inputs(d)
    centres, alpha, bias = intro.parity_kernel_machine(d, sigma)
    f = intro.kernel_machine_decision(X, centres, alpha, bias, sigma)
    q = math.exp(-4 / sigma**2)
    odd = X.sum(axis=1) % 2 == 1
    np.testing.assert_allclose(f, np.where(odd, 1.0, -1.0) * 0.5 * (1 - q) ** d, rtol=1e-8)


@st.composite
def circuits(draw):
    """A random circuit: small integer weights (many zero), each layer reading every earlier signal."""
    n_inputs = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers, n_signals = [], n_inputs
    for _ in range(draw(st.integers(1, 4))):
        width = int(rng.integers(1, 4))
        W = rng.integers(-2, 3, size=(width, n_signals)) * (rng.random((width, n_signals)) < 0.5)
        layers.append((W.astype(float), rng.integers(-2, 3, size=width) + 0.5))
        n_signals += width
    return intro.ThresholdCircuit(n_inputs, tuple(layers))


def reference_output(circuit, x):
    signals = [float(v) for v in x]
    for W, b in circuit.layers:
        signals += [1.0 if math.fsum(w * s for w, s in zip(row, signals)) + bias > 0 else 0.0
                    for row, bias in zip(W.tolist(), b.tolist())]
    return int(signals[-1])


def reference_depth(circuit):
    """Longest input-to-output path, by memoised recursion over the non-zero weights of each unit."""
    rows = [row for W, _ in circuit.layers for row in W.tolist()]

    @lru_cache(maxsize=None)
    def depth(signal):
        if signal < circuit.n_inputs:
            return 0
        row = rows[signal - circuit.n_inputs]
        return 1 + max([depth(j) for j, w in enumerate(row) if w != 0], default=0)

    return depth(circuit.n_inputs + len(rows) - 1)


@FAST
@given(circuit=circuits(), layout=st.sampled_from(LAYOUTS))
def test_circuits_equal_a_plain_evaluator_and_their_depth_a_recursive_count(circuit, layout):
    X = intro.all_binary_inputs(circuit.n_inputs)
    out = circuit(relayout(X, layout))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [reference_output(circuit, x) for x in X.tolist()])
    np.testing.assert_array_equal(circuit(X[:1]), out[:1])  # a batch of one
    assert intro.circuit_depth(circuit) == reference_depth(circuit)
    assert intro.count_units(circuit) == sum(len(W) for W, _ in circuit.layers)


@FAST
@given(n_inputs=st.integers(1, 12), hidden=st.lists(st.integers(1, 12), max_size=4), n_outputs=st.integers(1, 4))
def test_mlp_param_count_equals_the_parameters_of_torch_linear_layers(n_inputs, hidden, n_outputs):
    sizes = [n_inputs, *hidden, n_outputs]
    layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    expected = sum(p.numel() for layer in layers for p in layer.parameters())
    assert intro.mlp_param_count(n_inputs, tuple(hidden), n_outputs) == expected
    assert intro.mlp_param_count(n_inputs, np.array(hidden, dtype=np.int64), n_outputs) == expected
