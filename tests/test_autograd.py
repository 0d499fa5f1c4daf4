"""The scalar reverse-mode autograd of chapter 2, checked against torch.autograd in float64."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dlcourse.autograd import (Value, draw_graph, graph_layout, node_boxes, node_labels,  # noqa: E402
                               topological_order)

# Each step combines earlier nodes (chosen by index) into a new one. Domains are kept safe by
# construction: log and fractional powers see x*x + 0.5 > 0, divisors are x*x + 1, exp sees tanh(x).
UNARY = ("tanh", "exp_tanh", "relu", "log_sq", "neg", "square", "cube", "sqrt_sq", "inverse_sq")
BINARY = ("add", "sub", "mul", "div_sq", "radd", "rsub", "rmul", "rdiv_sq")


def apply(op, a, b=None, c=2.5):
    """One step of an expression, written once for Value and torch tensors alike."""
    tanh = (lambda x: x.tanh()) if isinstance(a, Value) else torch.tanh
    exp = (lambda x: x.exp()) if isinstance(a, Value) else torch.exp
    log = (lambda x: x.log()) if isinstance(a, Value) else torch.log
    relu = (lambda x: x.relu()) if isinstance(a, Value) else torch.relu
    table = {
        "tanh": lambda: tanh(a), "exp_tanh": lambda: exp(tanh(a)), "relu": lambda: relu(a),
        "log_sq": lambda: log(a * a + 0.5), "neg": lambda: -a, "square": lambda: a**2,
        "cube": lambda: a**3, "sqrt_sq": lambda: (a * a + 0.5) ** 0.5,
        "inverse_sq": lambda: (a * a + 1.0) ** -1,
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "div_sq": lambda: a / (b * b + 1.0), "radd": lambda: c + a, "rsub": lambda: c - a,
        "rmul": lambda: c * a, "rdiv_sq": lambda: c / (a * a + 1.0),
    }
    return table[op]()


step = st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 10**6), st.integers(0, 10**6))
leaf = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda x: abs(x) > 1e-3)  # away from relu's kink


def build(leaves, steps, make_leaf):
    """Evaluate a random expression; returns (leaves, result). Values stay bounded by construction."""
    nodes = [make_leaf(x) for x in leaves]
    inputs = list(nodes)
    for op, i, j in steps:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        out = apply(op, a, b)
        growing = op in ("square", "cube", "mul", "rmul")
        nodes.append(apply("tanh", out) if growing else out)  # keeps |x| from growing step by step
    return inputs, nodes[-1] + nodes[len(leaves)]  # the first and last steps: may be one node twice


@settings(max_examples=60, deadline=None)
@given(st.lists(leaf, min_size=1, max_size=4), st.lists(step, min_size=1, max_size=12))
def test_gradients_match_torch_autograd_on_random_expressions(leaves, steps):
    ours, result = build(leaves, steps, Value)
    result.backward()
    tensors, reference = build(leaves, steps,
                               lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True))
    reference.backward()
    assert result.data == pytest.approx(reference.item(), rel=1e-12, abs=1e-12)
    for value, tensor in zip(ours, tensors):
        expected = 0.0 if tensor.grad is None else tensor.grad.item()
        assert value.grad == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("op", UNARY + BINARY)
def test_each_operation_matches_torch(op):
    a, b = Value(0.7), Value(-1.3)
    ta, tb = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (0.7, -1.3))
    out, ref = apply(op, a, b), apply(op, ta, tb)
    (out * 1.0).backward()
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-14)
    for value, tensor in ((a, ta), (b, tb)):
        expected = 0.0 if tensor.grad is None else tensor.grad.item()
        assert value.grad == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_value_used_twice_accumulates_the_gradients_of_both_paths():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7: two paths through x * x and one direct
    y.backward()
    assert x.grad == 7.0
    z = Value(-0.4)
    s = z.tanh()
    w = s * s * s + s.exp()  # s feeds three multiplications and an exp
    w.backward()
    t = 1 - math.tanh(-0.4) ** 2
    assert z.grad == pytest.approx((3 * math.tanh(-0.4) ** 2 + math.exp(math.tanh(-0.4))) * t, rel=1e-14)


def test_backward_twice_gives_the_same_gradients():
    a, b = Value(1.2), Value(-0.3)
    c = (a * b + a.exp()).tanh()
    c.backward()
    first = (a.grad, b.grad)
    c.backward()
    assert (a.grad, b.grad) == first


def test_relu_gradient_at_its_kink_is_zero_like_torch():
    x, tx = Value(0.0), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    x.relu().backward()
    torch.relu(tx).backward()
    assert x.grad == tx.grad.item() == 0.0


def test_topological_order_puts_every_node_after_its_parents_and_each_once():
    a, b = Value(2.0, "a"), Value(-1.0, "b")
    c = a * b
    d = c + a
    e = d * c + b.tanh()
    order = topological_order(e)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(order) == len(position) == 7  # a, b, c, d, tanh(b), d * c, e
    assert order[-1] is e
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)
    assert topological_order(a) == [a]


def test_a_graph_deeper_than_the_recursion_limit_works():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert len(topological_order(y)) == 1 + 2 * 5000  # x, and per step a constant and a product
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-10)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], np.array([1.0, 2.0]), True, np.bool_(False),
                                 float("nan"), float("inf"), -float("inf"), 1 + 2j])
def test_bad_data_is_refused_with_a_value_error(bad):
    with pytest.raises(ValueError, match="finite number"):
        Value(bad)
    with pytest.raises(ValueError, match="operand"):
        Value(1.0) + bad
    with pytest.raises(ValueError, match="operand"):
        bad * Value(1.0)


def test_numbers_of_every_real_kind_are_accepted():
    for number in (2, 2.0, np.float32(2.0), np.float64(2.0), np.int64(2)):
        assert Value(number).data == 2.0 and isinstance(Value(number).data, float)
        assert (number * Value(3.0)).data == 6.0  # numpy scalars defer to Value.__rmul__


@pytest.mark.parametrize("make, message", [
    (lambda: Value(1.0) / Value(0.0), "division by a Value whose data is 0"),
    (lambda: 1.0 / Value(0.0), "division"),
    (lambda: Value(0.0).log(), "log needs data > 0"),
    (lambda: Value(-2.0).log(), "log needs data > 0"),
    (lambda: Value(-2.0) ** 0.5, "negative base"),
    (lambda: Value(0.0) ** -1, "no finite derivative"),
    (lambda: Value(0.0) ** 0.5, "no finite derivative"),
    (lambda: Value(1000.0).exp(), "overflows"),
    (lambda: Value(10.0) ** 400, "overflows"),
    (lambda: Value(1e308) + Value(1e308), "gave inf"),
    (lambda: Value(2.0) ** Value(2.0), "plain number"),
    (lambda: Value(2.0) ** True, "exponent"),
    (lambda: Value(2.0, label=3), "label"),
])
def test_operations_outside_their_domain_raise_a_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_power_edge_cases_match_torch():
    for base, exponent in ((-2.0, 3), (-2.0, -2), (0.0, 2), (0.0, 0), (3.0, 0.0)):
        x = Value(base)
        tx = torch.tensor(base, dtype=torch.float64, requires_grad=True)
        (x**exponent).backward()
        (tx**exponent).backward()
        assert x.grad == pytest.approx(tx.grad.item(), abs=1e-15), (base, exponent)


def neuron():
    x1, x2, w1, w2, b = (Value(v, name) for v, name in
                         ((1.5, "x1"), (-0.5, "x2"), (0.8, "w1"), (-0.4, "w2"), (0.1, "b")))
    z = x1 * w1 + x2 * w2 + b
    return (z.tanh() - 0.2) ** 2


def test_drawing_returns_axes_with_one_box_and_label_per_node():
    loss = neuron()
    loss.backward()
    nodes = topological_order(loss)
    ax = draw_graph(loss, title="a neuron")
    try:
        assert isinstance(ax, plt.Axes)
        assert len(node_boxes(ax)) == len(node_labels(ax)) == len(nodes) == 13
        texts = sorted(t.get_text() for t in node_labels(ax))
        for node in nodes:
            head = node.label if not node.op else node.op
            assert any(head in t and f"data {node.data:.4g}" in t and f"grad {node.grad:.4g}" in t
                       for t in texts), node
        edges = [p for p in ax.patches if p.get_gid() == "edge"]
        assert len(edges) == sum(len(n.parents) for n in nodes)
        assert ax.get_title() == "a neuron"
    finally:
        plt.close(ax.figure)


def test_drawing_without_grads_and_with_a_reused_value():
    x = Value(3.0, "x")
    y = x * x + x
    _, ax = plt.subplots()
    try:
        assert draw_graph(y, ax=ax, show_grad=False) is ax
        assert len(node_boxes(ax)) == 3
        assert not any("grad" in t.get_text() for t in node_labels(ax))
        edges = [p for p in ax.patches if p.get_gid() == "edge"]
        assert len(edges) == 4  # x -> x * x twice, x * x -> +, x -> +
    finally:
        plt.close(ax.figure)


def test_layout_puts_every_parent_in_a_column_left_of_its_children():
    loss = neuron()
    layout = graph_layout(loss)
    for node, (column, _) in layout.items():
        assert all(layout[p][0] < column for p in node.parents)
    cells = list(layout.values())
    assert len(set(cells)) == len(cells)  # no two boxes on one spot
    assert layout[loss][0] == max(c for c, _ in cells)


def test_drawing_validates_its_arguments():
    with pytest.raises(ValueError, match="must be a dlcourse.autograd.Value"):
        draw_graph(1.0)
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(neuron(), max_nodes=5)
    with pytest.raises(ValueError, match="show_grad"):
        draw_graph(neuron(), show_grad="yes")
    with pytest.raises(ValueError, match="must be a dlcourse.autograd.Value"):
        topological_order(torch.tensor(1.0))
