"""Chapter 2: reverse-mode automatic differentiation on scalars, and a drawing of the graph it builds.

A :class:`Value` holds a number (``data``), the derivative of the final result with respect to it
(``grad``, filled in by :meth:`Value.backward`), the values it was computed from (``parents``) and
the local derivatives d(self)/d(parent) (``local_grads``). Every operation creates one new node, so
evaluating an expression builds its computational graph. The backward pass visits the nodes in
reverse topological order and applies the chain rule

    dC/du = sum over every node v computed from u of  dC/dv * dv/du,

so a value used twice receives the sum of both contributions. The same algorithm, with whole
matrices as nodes, is backpropagation (BP1-BP4) and what ``torch.autograd`` does.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .validation import check_float, check_positive_int

# Fill colours by role (the same as the architecture diagrams): inputs blue, operations orange, result green.
LEAF_COLOUR, OP_COLOUR, ROOT_COLOUR = "#cfe2f3", "#fde9c9", "#d9ead3"
BOW = 0.25  # how far above the boxes an edge that skips columns passes


def _finite(data: float, op: str) -> float:
    if not math.isfinite(data):
        raise ValueError(f"{op} gave {data}: a Value holds finite numbers only")
    return data


class Value:
    """A scalar node of a computational graph: its data, grad, parents and local gradients."""

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")
    __array_ufunc__ = None  # numpy scalars defer to Value's reflected operators: np.float64(2) * v

    def __init__(self, data: float, label: str = "") -> None:
        self.data = check_float(data, "Value data")  # bools, strings, NaN and inf are refused
        if not isinstance(label, str):
            raise ValueError(f"label must be a str, got {type(label).__name__}")
        self.grad = 0.0
        self.parents: tuple[Value, ...] = ()
        self.local_grads: tuple[float, ...] = ()
        self.op = ""
        self.label = label

    @classmethod
    def _node(cls, data: float, parents: Sequence[Value], local_grads: Sequence[float], op: str) -> Value:
        out = cls(_finite(data, op))
        out.parents, out.local_grads, out.op = tuple(parents), tuple(local_grads), op
        return out

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"

    # --- operations: each returns a new node with d(out)/d(parent) for every parent ---------------
    def __add__(self, other) -> Value:
        other = _as_value(other)
        return Value._node(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __sub__(self, other) -> Value:
        other = _as_value(other)
        return Value._node(self.data - other.data, (self, other), (1.0, -1.0), "−")

    def __mul__(self, other) -> Value:
        other = _as_value(other)
        local_grads = (other.data, self.data)  # d(uv)/du = v, d(uv)/dv = u
        return Value._node(self.data * other.data, (self, other), local_grads, "×")

    def __truediv__(self, other) -> Value:
        other = _as_value(other)
        if other.data == 0.0:
            raise ValueError(f"division by a Value whose data is 0 (numerator {self.data:g})")
        a, b = self.data, other.data
        return Value._node(a / b, (self, other), (1.0 / b, -a / b**2), "÷")

    def __pow__(self, exponent) -> Value:
        """x ** p for a plain number p: d/dx = p x^(p-1)."""
        if isinstance(exponent, Value):
            raise ValueError("the exponent must be a plain number; for x ** y with a Value y "
                             "write (y * x.log()).exp()")
        p, x = check_float(exponent, "exponent"), self.data
        if x < 0 and not p.is_integer():
            raise ValueError(f"x ** {p:g} needs x >= 0 (a negative base with a non-integer "
                             f"exponent is not real), got x = {x:g}")
        if x == 0 and p < 1 and p != 0:
            raise ValueError(f"x ** {p:g} has no finite derivative at x = 0")
        try:
            data = x**p
            local = 0.0 if p == 0 else p * x ** (p - 1)
        except OverflowError:
            raise ValueError(f"{x:g} ** {p:g} overflows a float") from None
        return Value._node(data, (self,), (local,), f"**{p:g}")

    def __neg__(self) -> Value:
        return Value._node(-self.data, (self,), (-1.0,), "neg")

    def __radd__(self, other) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other) -> Value:
        return _as_value(other) / self

    def tanh(self) -> Value:
        """tanh(x), with d/dx = 1 - tanh(x)^2."""
        t = math.tanh(self.data)
        return Value._node(t, (self,), (1.0 - t * t,), "tanh")

    def exp(self) -> Value:
        """e^x, with d/dx = e^x."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise ValueError(f"exp({self.data:g}) overflows a float") from None
        return Value._node(e, (self,), (e,), "exp")

    def log(self) -> Value:
        """The natural logarithm, with d/dx = 1/x; needs x > 0."""
        if self.data <= 0:
            raise ValueError(f"log needs data > 0, got {self.data:g}")
        return Value._node(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def relu(self) -> Value:
        """max(0, x), with d/dx = 1 for x > 0 and 0 otherwise (0 at the kink, as in PyTorch)."""
        return Value._node(max(0.0, self.data), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    # --- the backward pass ----------------------------------------------------------------------
    def backward(self) -> None:
        """Fill in grad = d(self)/d(node) for every node of this graph (the chain rule).

        Unlike PyTorch, which adds to ``.grad`` over calls, every node starts again
        at 0, so two calls give the same gradients. The ``+=`` below is what sums
        the contributions of a value used more than once.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):  # a node's grad is complete before it is passed on
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * node.grad


def _as_value(x) -> Value:
    """``x`` itself if it is a Value, else a constant leaf labelled with its number."""
    if isinstance(x, Value):
        return x
    number = check_float(x, "operand")
    return Value(number, label=f"{number:g}")


def _check_value(root, name: str = "root") -> Value:
    if not isinstance(root, Value):
        raise ValueError(f"{name} must be a dlcourse.autograd.Value, got {type(root).__name__}")
    return root


def topological_order(root: Value) -> list[Value]:
    """Every node that ``root`` depends on, each once, every node after all of its parents; root last.

    Depth-first search written with an explicit stack, so a graph deeper than Python's recursion
    limit still works.
    """
    _check_value(root)
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def graph_layout(root: Value) -> dict[Value, tuple[float, float]]:
    """(column, row) of every node: columns by topological depth, rows ordered to follow the edges.

    An operation's column is 1 + the largest column of its parents (the length of the longest path
    from an input); a leaf sits one column left of its first use. Columns are filled from the
    result backwards, each node placed near the mean row of the nodes computed from it.
    """
    order = topological_order(root)
    children: dict[Value, list[Value]] = {node: [] for node in order}
    column: dict[Value, int] = {}
    for node in order:
        column[node] = 1 + max((column[p] for p in node.parents), default=-1)
        for parent in node.parents:
            children[parent].append(node)
    for node in order:
        if not node.parents and children[node]:
            column[node] = min(column[c] for c in children[node]) - 1
    row: dict[Value, float] = {root: 0.0}
    index = {node: i for i, node in enumerate(order)}
    for c in range(column[root] - 1, min(column.values()) - 1, -1):
        nodes = [n for n in order if column[n] == c]
        wanted = {n: sum(row[k] for k in children[n]) / len(children[n]) for n in nodes}
        nodes.sort(key=lambda n: (wanted[n], index[n]))
        centre = sum(wanted.values()) / len(nodes)
        for i, node in enumerate(nodes):
            row[node] = centre + i - (len(nodes) - 1) / 2
    return {node: (float(column[node]), row[node]) for node in order}


def _node_text(node: Value, show_grad: bool) -> str:
    head = node.label if not node.op else (f"{node.label} = {node.op}" if node.label else node.op)
    lines = [head or "input", f"data {node.data:.4g}"]
    if show_grad:
        lines.append(f"grad {node.grad:.4g}")
    return "\n".join(lines)


def node_boxes(ax) -> list[FancyBboxPatch]:
    """The boxes drawn by :func:`draw_graph` on ``ax``, one per node."""
    return [p for p in ax.patches if p.get_gid() == "node"]


def node_labels(ax) -> list:
    """The text labels drawn by :func:`draw_graph` on ``ax``, one per node."""
    return [t for t in ax.texts if t.get_gid() == "node-label"]


def _draw_edge(ax, start, end, size: tuple[float, float], span: float, offset: float) -> None:
    """An arrow from a parent's box to its child's; ``offset`` separates the two arrows of x * x,
    and an edge that skips columns bows upwards so that it does not run behind the boxes between."""
    (px, py), (x, y), (width, height) = start, end, size
    length = math.hypot(x - px - width, y - py)
    rad = -2 * (0.5 * height + BOW) / length if span > 1 else 0.0  # bow height = |rad| * length / 2
    ax.add_patch(FancyArrowPatch((px + width / 2, py + offset), (x - width / 2, y + offset),
                                 arrowstyle="-|>", mutation_scale=10, color="#444444",
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=1, shrinkB=1,
                                 linewidth=0.9, zorder=1, gid="edge"))


def draw_graph(root: Value, ax=None, title: str | None = None, show_grad: bool = True,
               max_nodes: int = 40):
    """Draw the computational graph of ``root`` left to right; return the matplotlib Axes.

    One box per node, showing its operation (or label), ``data`` and, with ``show_grad``, ``grad``;
    one arrow from each parent to each node computed from it (two arrows for a value used twice).
    Inputs are blue, operations orange, the result green. Drawing with matplotlib only.
    """
    _check_value(root)
    max_nodes = check_positive_int(max_nodes, "max_nodes")
    if not isinstance(show_grad, bool):
        raise ValueError(f"show_grad must be True or False, got {show_grad!r}")
    layout = graph_layout(root)
    if len(layout) > max_nodes:
        raise ValueError(f"the graph has {len(layout)} nodes, more than max_nodes = {max_nodes} "
                         "that fit legibly on a page; draw a smaller expression")
    dx, dy, width, height = 1.5, 1.05, 1.3, (0.85 if show_grad else 0.62)
    columns = {x for x, _ in layout.values()}
    rows = [y for _, y in layout.values()]
    n_rows = max(rows) - min(rows) + 1
    if ax is None:
        size = (min(10.0, 1.5 * len(columns) + 0.5), min(6.0, 0.95 * n_rows + 0.7))
        _, ax = plt.subplots(figsize=size)
    centre = {node: (x * dx, -y * dy) for node, (x, y) in layout.items()}
    for node, (x, y) in centre.items():
        colour = ROOT_COLOUR if node is root else (OP_COLOUR if node.parents else LEAF_COLOUR)
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0.02", facecolor=colour, edgecolor="black",
                                    linewidth=1.0, zorder=2, gid="node"))
        ax.text(x, y, _node_text(node, show_grad), ha="center", va="center", fontsize=9,
                zorder=3, gid="node-label")
        for i, parent in enumerate(node.parents):
            _draw_edge(ax, centre[parent], (x, y), (width, height), layout[node][0] - layout[parent][0],
                       offset=(0.12 if i == 0 else -0.12) if node.parents.count(parent) > 1 else 0.0)
    xs, ys = [x for x, _ in centre.values()], [y for _, y in centre.values()]
    ax.set_xlim(min(xs) - width / 2 - 0.1, max(xs) + width / 2 + 0.1)
    ax.set_ylim(min(ys) - height / 2 - 0.15, max(ys) + height / 2 + BOW + 0.15)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


__all__ = ["Value", "draw_graph", "graph_layout", "node_boxes", "node_labels", "topological_order"]
