"""Tests for dlcourse.intro: timeline data, parity circuits, the kernel machine, the MLP run, the benchmark."""
from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from dlcourse import intro  # noqa: E402

BUILDERS = {
    "dnf": intro.parity_dnf_network,
    "chain": intro.parity_chain_network,
    "tree": intro.parity_tree_network,
    "counting": intro.parity_counting_network,
}


def hypercube(d: int) -> np.ndarray:
    """Independent enumeration of {0,1}^d via integer bit patterns."""
    return np.array([[(n >> (d - 1 - j)) & 1 for j in range(d)] for n in range(2**d)], dtype=float)


# ---------------------------------------------------------------------------------------------- inputs


def test_all_binary_inputs_enumerates_the_hypercube_in_counting_order():
    for d in (1, 3, 6):
        np.testing.assert_array_equal(intro.all_binary_inputs(d), hypercube(d))


# ---------------------------------------------------------------------------------------------- circuits


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("d", range(2, 11))
def test_parity_circuit_computes_parity_on_all_inputs(name, d):
    X = hypercube(d)
    out = BUILDERS[name](d)(X)
    np.testing.assert_array_equal(out, X.sum(axis=1) % 2)
    assert out.dtype == np.int64


@pytest.mark.parametrize("d", range(2, 12))
def test_dnf_needs_two_to_the_d_minus_1_and_terms_at_depth_2(d):
    circuit = intro.parity_dnf_network(d)
    assert intro.count_units(circuit) == 2 ** (d - 1) + 1
    assert intro.circuit_depth(circuit) == 2


def test_each_dnf_and_term_fires_on_exactly_one_odd_input():
    d = 5
    X = hypercube(d)
    W, b = intro.parity_dnf_network(d).layers[0]
    fires = X @ W.T + b > 0  # (32, 16): which input turns on which AND unit
    np.testing.assert_array_equal(fires.sum(axis=0), np.ones(2 ** (d - 1)))
    np.testing.assert_array_equal(fires.sum(axis=1), X.sum(axis=1) % 2)


@pytest.mark.parametrize("d", [2, 3, 5, 8, 13, 16])
def test_xor_chain_and_tree_have_linear_size_and_their_depths(d):
    chain, tree = intro.parity_chain_network(d), intro.parity_tree_network(d)
    assert intro.count_units(chain) == intro.count_units(tree) == 3 * (d - 1)
    assert intro.circuit_depth(chain) == 2 * (d - 1)
    assert intro.circuit_depth(tree) == 2 * math.ceil(math.log2(d))


@pytest.mark.parametrize("d", [2, 7, 12])
def test_counting_network_is_depth_two_with_d_plus_one_units(d):
    circuit = intro.parity_counting_network(d)
    assert intro.count_units(circuit) == d + 1
    assert intro.circuit_depth(circuit) == 2


def test_tree_on_sixteen_bits_is_exact_on_all_65536_inputs():
    X = hypercube(16)
    np.testing.assert_array_equal(intro.parity_tree_network(16)(X), X.sum(axis=1) % 2)


def test_xor_gadget_truth_table():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    for name in ("chain", "tree", "dnf", "counting"):
        np.testing.assert_array_equal(BUILDERS[name](2)(X), [0, 1, 1, 0])


@pytest.mark.parametrize("bad", [1, 0, -3, 2.0, True, "4"])
def test_builders_reject_invalid_d(bad):
    for builder in BUILDERS.values():
        with pytest.raises(ValueError, match="d must be an integer"):
            builder(bad)


def test_circuit_rejects_inputs_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        intro.parity_tree_network(4)(np.zeros((3, 5)))


def test_circuit_sizes_agree_with_closed_forms():
    sizes = intro.circuit_sizes(range(2, 10))
    d = np.arange(2, 10)
    np.testing.assert_array_equal(sizes["d"], d)
    np.testing.assert_array_equal(sizes["DNF (depth 2)"], 2 ** (d - 1) + 1)
    np.testing.assert_array_equal(sizes["Gaussian kernel machine (centres)"], 2 ** (d - 1))
    np.testing.assert_array_equal(sizes["XOR chain or tree"], 3 * (d - 1))
    np.testing.assert_array_equal(sizes["counting (depth 2, threshold)"], d + 1)


# ---------------------------------------------------------------------------------------------- kernel


def test_gaussian_kernel_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    expected = [[math.exp(-sum((x - c) ** 2) / 0.7**2) for c in C] for x in X]
    np.testing.assert_allclose(intro.gaussian_kernel(X, C, 0.7), expected, rtol=1e-12)


@pytest.mark.parametrize("d", range(2, 10))
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_kernel_machine_solves_parity_with_two_to_the_d_minus_1_centres(d, sigma):
    X = hypercube(d)
    centres, alpha, bias = intro.parity_kernel_machine(d, sigma)
    assert centres.shape == (2 ** (d - 1), d)
    f = intro.kernel_machine_decision(X, centres, alpha, bias, sigma)
    np.testing.assert_array_equal(f > 0, X.sum(axis=1) % 2 == 1)
    # Binomial sums over Hamming distances give f = +-(1 - q)^d / 2 with q = exp(-4 / sigma^2).
    q = math.exp(-4 / sigma**2)
    np.testing.assert_allclose(np.abs(f), 0.5 * (1 - q) ** d, rtol=1e-9)


def test_kernel_machine_value_matches_an_explicit_sum_over_centres():
    d, sigma = 4, 1.3
    centres, alpha, bias = intro.parity_kernel_machine(d, sigma)
    x = np.array([1.0, 0.0, 1.0, 1.0])
    z = 2 * x - 1
    expected = bias + sum(a * math.exp(-np.sum((z - c) ** 2) / sigma**2) for a, c in zip(alpha, centres))
    assert intro.kernel_machine_decision(x[None], centres, alpha, bias, sigma)[0] == pytest.approx(expected)


def test_kernel_machine_rejects_nonpositive_sigma():
    with pytest.raises(ValueError, match="sigma"):
        intro.parity_kernel_machine(4, 0.0)


# ---------------------------------------------------------------------------------------------- MLP


@pytest.mark.parametrize("hidden", [(32,), (10, 10, 10), (8,), (4, 4, 4)])
def test_mlp_param_count_matches_torch(hidden):
    sizes = [8, *hidden, 1]
    layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    assert intro.mlp_param_count(8, hidden) == sum(p.numel() for layer in layers for p in layer.parameters())


def test_equal_budget_pairs_used_in_the_notebook():
    assert intro.mlp_param_count(8, (8,)) == intro.mlp_param_count(8, (4, 4, 4)) == 81
    assert intro.mlp_param_count(8, (32,)) == intro.mlp_param_count(8, (10, 10, 10)) == 321


def _train_one_sequential(hidden, n_bits, steps, learning_rate, seed):
    """Reference: one plain nn.Sequential trained with full-batch Adam, loss per step."""
    torch.manual_seed(seed)
    sizes = [n_bits, *hidden, 1]
    modules = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules += [nn.Linear(a, b)] + ([nn.ReLU()] if k < len(sizes) - 2 else [])
    model = nn.Sequential(*modules)
    bits = np.array(list(itertools.product([0, 1], repeat=n_bits)), dtype=np.float32)
    X, y = torch.tensor(2 * bits - 1), torch.tensor(bits.sum(1) % 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


def test_batched_parity_training_matches_independent_sequential_runs():
    run = intro.train_parity_mlp((6, 5), n_bits=4, steps=200, learning_rate=0.01, seeds=(3, 7))
    assert run["loss"].shape == (2, 200) and run["accuracy"].shape == (2,)
    for row, seed in enumerate((3, 7)):
        expected = _train_one_sequential((6, 5), 4, 200, 0.01, seed)
        np.testing.assert_allclose(run["loss"][row], expected, rtol=1e-5, atol=1e-6)


def test_train_parity_mlp_fits_three_bit_parity_and_is_deterministic():
    run = intro.train_parity_mlp((16,), n_bits=3, steps=400, learning_rate=0.05, seeds=(0, 1))
    again = intro.train_parity_mlp((16,), n_bits=3, steps=400, learning_rate=0.05, seeds=(0, 1))
    assert run["n_params"] == 3 * 16 + 16 + 16 + 1
    np.testing.assert_array_equal(run["accuracy"], [1.0, 1.0])
    np.testing.assert_allclose(run["loss"][:, 0], np.log(2), atol=0.2)  # a fresh net guesses about 1/2
    assert np.all(run["loss"][:, -1] < 0.05)
    np.testing.assert_array_equal(run["loss"], again["loss"])


def test_train_parity_mlp_rejects_empty_hidden():
    with pytest.raises(ValueError, match="hidden"):
        intro.train_parity_mlp((), n_bits=3, steps=1)
    with pytest.raises(ValueError, match="seeds"):
        intro.train_parity_mlp((4,), n_bits=3, steps=1, seeds=())


# ---------------------------------------------------------------------------------------------- benchmark


def test_matmul_benchmark_rate_is_two_n_cubed_over_time_on_cpu():
    result = intro.matmul_benchmark(8, device="cpu", repeats=3)
    assert result["device"] == "cpu" and result["n"] == 8
    assert result["seconds"] > 0
    assert result["gflops"] == pytest.approx(2 * 8**3 / result["seconds"] / 1e9)


def test_matmul_benchmark_validates_inputs():
    with pytest.raises(ValueError, match="n must be"):
        intro.matmul_benchmark(0)
    with pytest.raises(ValueError, match="repeats"):
        intro.matmul_benchmark(4, repeats=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            intro.matmul_benchmark(4, device="cuda")


# ---------------------------------------------------------------------------------------------- regressions
# Each test below failed on the code before issue 7.


def _brute_force_kernel(X, C, sigma):
    """exp(-sum_j (x_j - c_j)^2 / sigma^2), one pair at a time, with an exactly rounded sum."""
    return np.array([[math.exp(-math.fsum((float(a) - float(b)) ** 2 for a, b in zip(x, c)) / sigma**2)
                      for c in C] for x in X])


@pytest.mark.parametrize("offset", [1e4, 1e5, 1e6, 1e7, 1e8])
def test_gaussian_kernel_keeps_its_digits_far_from_the_origin(offset):
    rng = np.random.default_rng(0)
    X = offset + rng.uniform(-1, 1, size=(6, 3))
    C = offset + rng.uniform(-1, 1, size=(5, 3))
    # The old ||x||^2 + ||c||^2 - 2 x.c gave K = 1 (or garbage) for every pair at offset 1e8.
    np.testing.assert_allclose(intro.gaussian_kernel(X, C, 0.8), _brute_force_kernel(X, C, 0.8), rtol=1e-12)


def test_gaussian_kernel_extreme_widths_give_the_limits_not_nan():
    z = np.zeros((1, 2))
    np.testing.assert_array_equal(intro.gaussian_kernel(z, z, 1e-200), [[1.0]])  # old: 0 / 0 = nan
    np.testing.assert_array_equal(intro.gaussian_kernel(z, z + 1, 1e-200), [[0.0]])
    np.testing.assert_array_equal(intro.gaussian_kernel(z, z + 1, 1e200), [[1.0]])
    centres, alpha, bias = intro.parity_kernel_machine(3, sigma=1e-200)  # old: ZeroDivisionError
    assert bias == -0.5
    assert intro.parity_kernel_machine(3, sigma=1e200)[2] == -4.0  # old: OverflowError in sigma**2


def test_kernel_functions_validate_their_arrays():
    centres, alpha, bias = intro.parity_kernel_machine(3)
    with pytest.raises(ValueError, match=r"centres must be 2-dimensional"):
        intro.kernel_machine_decision(np.zeros((2, 3)), centres.tolist()[0], alpha, bias)  # old: AttributeError
    with pytest.raises(ValueError, match=r"alpha must have shape \(4,\)"):
        intro.kernel_machine_decision(np.zeros((2, 3)), centres, alpha[:3], bias)
    with pytest.raises(ValueError, match="X must be finite"):
        intro.gaussian_kernel([[np.nan, 0.0]], [[0.0, 0.0]], 1.0)  # old: a NaN kernel value
    with pytest.raises(ValueError, match="sigma"):
        intro.gaussian_kernel([[0.0, 0.0]], [[0.0, 0.0]], -1.0)  # old: exp(-d / 1) as if sigma = 1
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\)"):
        intro.gaussian_kernel([[0.0, 0.0, 0.0]], [[0.0, 0.0]], 1.0)


def test_train_parity_mlp_reports_the_parameters_of_the_nets_it_trained():
    run = intro.train_parity_mlp((np.int64(5), 3), n_bits=4, steps=2, seeds=(1,))
    torch.manual_seed(1)
    nets = [nn.Linear(4, 5), nn.Linear(5, 3), nn.Linear(3, 1)]
    assert run["n_params"] == sum(p.numel() for net in nets for p in net.parameters())
    assert type(run["n_params"]) is int and run["hidden"] == (5, 3)
    with pytest.raises(ValueError, match="hidden"):
        intro.train_parity_mlp((2.5,), n_bits=3, steps=1)  # old: a net of width 2 reported 13.5 parameters


def test_train_parity_mlp_names_the_argument_that_is_wrong():
    with pytest.raises(ValueError, match="^n_bits must be"):
        intro.train_parity_mlp((4,), n_bits=13, steps=1)  # old: "d must be ..."
    with pytest.raises(ValueError, match="steps"):
        intro.train_parity_mlp((4,), n_bits=3, steps=-1)  # old: numpy's "negative dimensions"
    with pytest.raises(ValueError, match="learning_rate"):
        intro.train_parity_mlp((4,), n_bits=3, steps=1, learning_rate=float("nan"))
    with pytest.raises(ValueError, match="seeds"):
        intro.train_parity_mlp((4,), n_bits=3, steps=1, seeds=0)  # old: TypeError, len() of an int
    with pytest.raises(ValueError, match="d_max"):
        intro.plot_circuit_sizes(d=4, d_max=17)  # old: "d must be an integer in [2, 16], got 17"


def test_circuit_depth_follows_the_wires_not_the_layer_count():
    # Layer 1 ORs the inputs, layer 2 NANDs them, layer 3 reads only the inputs: the output (last unit)
    # sits on a path of one unit, whatever the two layers before it do.
    layers = ((np.array([[1.0, 1.0]]), np.array([-0.5])),
              (np.array([[-1.0, -1.0, 0.0]]), np.array([1.5])),
              (np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([-1.5])))
    circuit = intro.ThresholdCircuit(2, layers)
    assert intro.circuit_depth(circuit) == 1  # old: 3
    np.testing.assert_array_equal(circuit(np.array([[0, 0], [0, 1], [1, 0], [1, 1]])), [0, 0, 0, 1])


def test_threshold_circuit_checks_and_copies_its_layers():
    W, b = np.array([[1.0, 1.0]]), np.array([-1.5])
    circuit = intro.ThresholdCircuit(2, ((W, b),))
    W[0, 0] = -5.0  # changing the caller's array must not change the circuit
    np.testing.assert_array_equal(circuit(np.array([[1.0, 1.0]])), [1])
    with pytest.raises(ValueError, match=r"layers\[0\] W must have shape \(1, 3\)"):
        intro.ThresholdCircuit(3, ((W, b),))
    with pytest.raises(ValueError, match="layers must be a non-empty"):
        intro.ThresholdCircuit(2, ())
    with pytest.raises(ValueError, match="X must be finite"):
        circuit(np.array([[np.nan, 1.0]]))  # old: nan > 0 is False, so a silent 0
    with pytest.raises(ValueError, match="X must hold real numbers"):
        circuit(np.ones((1, 2), dtype=bool))
    with pytest.raises(ValueError, match="circuit must be a ThresholdCircuit"):
        intro.count_units(((W, b),))  # old: AttributeError


def test_circuit_sizes_refuses_fractional_bit_counts():
    with pytest.raises(ValueError, match="d_values"):
        intro.circuit_sizes([2.7, 3])  # old: counted d = int(2.7) = 2
    with pytest.raises(ValueError, match="d_values"):
        intro.circuit_sizes(["3"])  # old: int("3") = 3


def test_matmul_benchmark_rejects_what_torch_would_crash_on():
    with pytest.raises(ValueError, match="n must be"):
        intro.matmul_benchmark(True)  # old: ran with n = True
    with pytest.raises(ValueError, match="dtype must be one of"):
        intro.matmul_benchmark(4, dtype="int32")  # old: torch RuntimeError from randn
    with pytest.raises(ValueError, match="dtype must be one of"):
        intro.matmul_benchmark(4, dtype="double")  # old: AttributeError
    with pytest.raises(ValueError, match="device must name a torch device"):
        intro.matmul_benchmark(4, device="gpu")  # old: torch RuntimeError
    with pytest.raises(ValueError, match="repeats"):
        intro.matmul_benchmark(4, repeats=2.5)  # old: TypeError in range()


def test_timeline_year_must_be_an_integer_not_a_bool():
    with pytest.raises(ValueError, match="year"):
        intro.timeline_until(True)  # old: the events with year <= 1
    with pytest.raises(ValueError, match="kind must be one of"):
        intro.Milestone(2000, "x", "invention", "key")


@pytest.mark.parametrize("call, message", [
    (lambda: intro.all_binary_inputs(0), "d must be an integer >= 1"),
    (lambda: intro.all_binary_inputs(21), "d must be an integer"),
    (lambda: intro.parity_dnf_network(17), "d must be an integer"),
    (lambda: intro.parity_kernel_machine(4, sigma=np.nan), "sigma"),
    (lambda: intro.parity_kernel_machine(4, sigma=True), "sigma"),
    (lambda: intro.kernel_machine_decision(np.zeros((1, 3)), np.zeros((2, 3)), np.ones(2), np.nan), "bias"),
    (lambda: intro.kernel_machine_decision(np.zeros((0, 3)), np.zeros((2, 3)), np.ones(2), 0.0), "X must not be empty"),
    (lambda: intro.gaussian_kernel(np.zeros((2, 2)), np.zeros((0, 2)), 1.0), "centres must not be empty"),
    (lambda: intro.mlp_param_count(0, (3,)), "n_inputs"),
    (lambda: intro.mlp_param_count(4, 3), "hidden must be a sequence"),
    (lambda: intro.mlp_param_count(4, (3, -1)), "hidden"),
    (lambda: intro.mlp_param_count(4, (3,), n_outputs=1.0), "n_outputs"),
    (lambda: intro.train_parity_mlp((4,), n_bits=3, steps=1, seeds=(-1,)), "seeds"),
    (lambda: intro.train_parity_mlp((4,), n_bits=3, steps=1, seeds=(True,)), "seeds"),
    (lambda: intro.circuit_depth("chain"), "circuit must be"),
    (lambda: intro.circuit_sizes([]), "d_values"),
    (lambda: intro.circuit_sizes(5), "d_values"),
    (lambda: intro.plot_circuit_sizes(d=9, d_max=8), "d must be an integer"),
    (lambda: intro.plot_timeline(until=1990.5), "year"),
    (lambda: intro.plot_timeline(ax="left"), "ax must be None or a matplotlib Axes"),  # old: AttributeError
    (lambda: intro.plot_circuit_sizes(ax=plt), "ax must be None or a matplotlib Axes"),
    (lambda: intro.train_parity_mlp((4,), n_bits=3, steps=1, learning_rate=1e300), "learning_rate"),
    (lambda: intro.ThresholdCircuit(0, ((np.zeros((1, 0)), np.zeros(1)),)), "n_inputs"),
    (lambda: intro.ThresholdCircuit(2, ((np.zeros((1, 2)),),)), "pair"),
])
def test_invalid_inputs_raise_value_errors_naming_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------- timeline


def test_timeline_is_chronological_and_covers_the_curriculum_milestones():
    years = [m.year for m in intro.TIMELINE]
    assert years == sorted(years)
    for year in (1943, 1949, 1958, 1969, 1982, 1986, 1989, 1998, 2006, 2012, 2015, 2017):
        assert year in years
    assert all(m.kind in intro.KINDS for m in intro.TIMELINE)
    keys = [m.cite for m in intro.TIMELINE]
    assert len(keys) == len(set(keys))


def test_timeline_until_keeps_exactly_the_earlier_events():
    shown = intro.timeline_until(1969)
    assert [m.year for m in shown] == [1943, 1949, 1958, 1960, 1965, 1969]
    assert len(intro.timeline_until()) == len(intro.TIMELINE)
    with pytest.raises(ValueError, match="year"):
        intro.timeline_until("1990")


def test_ilsvrc_winning_error_falls_every_year_and_drops_most_in_2012():
    years = sorted(intro.ILSVRC_TOP5_ERROR)
    errors = np.array([intro.ILSVRC_TOP5_ERROR[y][0] for y in years])
    assert np.all(np.diff(errors) < 0)
    assert years[int(np.argmin(np.diff(errors)))] + 1 == 2012


def test_plots_draw_one_marker_per_item():
    fig = intro.plot_timeline(until=1986)
    markers = [line for line in fig.axes[0].lines if np.size(line.get_xdata()) == 1]
    assert len(markers) == len(intro.timeline_until(1986))
    plt.close(fig)
    fig = intro.plot_circuit_sizes(d=6, d_max=10)
    curves = [line for line in fig.axes[0].lines if np.size(line.get_xdata()) == 9]
    assert len(curves) == 4
    plt.close(fig)
