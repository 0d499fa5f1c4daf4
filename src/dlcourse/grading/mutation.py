"""Mutants of an exercise's solution: the plausible mistakes a learner makes, made with :mod:`ast`.

Each operator models one kind of slip seen in learners' code (the name is what a report shows):

``arithmetic``   ``+ - * / // ** @`` swapped (``+``<->``-``, ``*``<->``/``, ``**``->``*``, ``//``->``/``,
                 ``@``->``*``), also in ``+=``-style updates;
``operands``     the operands of ``-``, ``/`` and ``@`` swapped (``b - a``, ``B @ A``);
``dropped term`` a term of a sum dropped (``a + b`` -> ``a`` or ``b``, ``a - b`` -> ``a``) and a factor
                 of a product dropped (``eta * g`` -> ``g``): a forgotten bias, decay or constant factor;
``comparison``   ``<``<->``<=``, ``>``<->``>=``, ``==``<->``!=``, ``<``<->``>``, ``in``/``is`` negated;
``boolean``      ``and``<->``or``, a ``not`` dropped;
``sign``         a unary minus dropped;
``transpose``    ``.T`` / ``.mT`` / ``.transpose(...)`` / ``np.transpose(x)`` / ``.swapaxes(...)`` dropped;
``constant``     an integer (or integral float) constant changed by +1 and by -1 (off-by-one);
``range``        the stop of ``range(...)`` / ``np.arange(...)`` changed by +1 and -1;
``axis``         ``axis=``/``dim=`` changed (0<->1, -1->0, -2->-1, other->0) or dropped (a whole-array reduction);
``keepdims``     ``keepdims=`` flipped;
``function``     ``sum``<->``mean``, ``max``<->``min``, ``argmax``<->``argmin``, ``maximum``<->``minimum``
                 (and the ``nan``/``a`` variants), ``tril``<->``triu``, ``floor``<->``ceil``;
``dropped call`` ``sqrt``, ``abs``, ``exp``, ``log``, ``square``, ``clip``... left out (``np.sqrt(d)`` -> ``d``);
``order``        a sort reversed (``np.argsort(x)`` -> ``np.argsort(x)[::-1]``) or a reversal ``[::-1]`` dropped,
                 and a slice bound dropped (``x[1:]`` -> ``x[:]``).

Only the code a learner writes is mutated: the lines between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` of the exercise function (its whole body when it has no markers). Mutants with
the same AST are made once; a mutation that leaves the AST unchanged is not a mutant.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Callable, Iterator

from .assign import BEGIN, END

Rewrite = Callable[[ast.AST], ast.AST]  # takes a copy of the node, returns what replaces it

_ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
               ast.FloorDiv: ast.Div, ast.MatMult: ast.Mult}
_COMPARISON = {ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
               ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,),
               ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
_PAIRS = [("sum", "mean"), ("nansum", "nanmean"), ("max", "min"), ("amax", "amin"), ("nanmax", "nanmin"),
          ("argmax", "argmin"), ("maximum", "minimum"), ("tril", "triu"), ("floor", "ceil")]
_SWAP_FUNCTION = {a: b for pair in _PAIRS for a, b in (pair, pair[::-1])}
_DROPPABLE_CALLS = {"sqrt", "abs", "absolute", "exp", "log", "log1p", "log2", "square", "clip", "tanh", "round"}
_SORTS = {"argsort", "sort", "sorted"}
_AXIS_CHANGE = {0: 1, 1: 0, -1: 0, -2: -1}


@dataclass(frozen=True)
class Mutant:
    """One mutated version of a solution cell: which operator, where, and the whole mutated source."""

    operator: str
    line: int  # line number in the cell source
    code_line: str  # that line of the solution, stripped
    before: str  # the mutated expression, before and after
    after: str
    source: str

    def describe(self) -> str:
        return f"line {self.line}: {_short(self.before)} -> {_short(self.after)} [{self.operator}]"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
        if isinstance(node.func, ast.Name):
            return node.func.id
    return None


def _number(node: ast.AST) -> int | float | None:
    """The value of an int / float literal (negative ones included), else None; booleans are not numbers."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _literal(value: int | float) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _set(field: str, value) -> Rewrite:
    def rewrite(node: ast.AST) -> ast.AST:
        setattr(node, field, value)
        return node
    return rewrite


def _take(field: str) -> Rewrite:
    return lambda node: getattr(node, field)


# ----------------------------------------------------------------------------- the operators

def _arithmetic(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITHMETIC:
        yield _set("op", _ARITHMETIC[type(node.op)]())


def _operands(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.Div, ast.MatMult)):
        def swap(n: ast.AST) -> ast.AST:
            n.left, n.right = n.right, n.left
            return n
        yield swap


def _dropped_term(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        yield _take("left")
        if not isinstance(node.op, ast.Sub):  # `a - b` -> `b` would be a sign slip, not a dropped term
            yield _take("right")


def _comparison(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            for other in _COMPARISON.get(type(op), ()):
                def rewrite(n: ast.AST, index=index, other=other) -> ast.AST:
                    n.ops[index] = other()
                    return n
                yield rewrite


def _boolean(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.BoolOp):
        yield _set("op", ast.Or() if isinstance(node.op, ast.And) else ast.And())
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _take("operand")


def _sign(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield _take("operand")


def _transpose(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
        yield _take("value")
    name = _called_name(node)
    if name in ("transpose", "swapaxes", "permute"):
        func = node.func  # type: ignore[attr-defined]
        is_module_call = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id in ("np", "numpy", "torch")
        if is_module_call or isinstance(func, ast.Name):
            if node.args:  # type: ignore[attr-defined]
                yield lambda n: n.args[0]
        elif isinstance(func, ast.Attribute):
            yield lambda n: n.func.value


def _constant(node: ast.AST) -> Iterator[Rewrite]:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool) and isinstance(node.value, (int, float)):
        value = node.value
        if isinstance(value, float) and not value.is_integer():
            return
        for delta in (1, -1):
            yield lambda n, v=value + delta: _literal(v)


def _range(node: ast.AST) -> Iterator[Rewrite]:
    if _called_name(node) in ("range", "arange") and node.args:  # type: ignore[attr-defined]
        position = 0 if len(node.args) == 1 else 1  # type: ignore[attr-defined]
        for op in (ast.Add, ast.Sub):
            def rewrite(n: ast.AST, op=op, position=position) -> ast.AST:
                n.args[position] = ast.BinOp(n.args[position], op(), ast.Constant(1))
                return n
            yield rewrite


def _axis(node: ast.AST) -> Iterator[Rewrite]:
    if not isinstance(node, ast.Call):
        return
    for index, keyword in enumerate(node.keywords):
        if keyword.arg in ("axis", "dim"):
            yield lambda n, i=index: _without_keyword(n, i)
            value = _number(keyword.value)
            if isinstance(value, int):
                yield lambda n, i=index, v=_AXIS_CHANGE.get(value, 0): _with_keyword(n, i, _literal(v))


def _keepdims(node: ast.AST) -> Iterator[Rewrite]:
    if not isinstance(node, ast.Call):
        return
    for index, keyword in enumerate(node.keywords):
        if keyword.arg == "keepdims" and isinstance(keyword.value, ast.Constant) \
                and isinstance(keyword.value.value, bool):
            yield lambda n, i=index, v=not keyword.value.value: _with_keyword(n, i, ast.Constant(v))


def _without_keyword(node: ast.Call, index: int) -> ast.Call:
    del node.keywords[index]
    return node


def _with_keyword(node: ast.Call, index: int, value: ast.expr) -> ast.Call:
    node.keywords[index].value = value
    return node


def _function(node: ast.AST) -> Iterator[Rewrite]:
    name = _called_name(node)
    if name in _SWAP_FUNCTION:
        other = _SWAP_FUNCTION[name]

        def rewrite(n: ast.AST) -> ast.AST:
            if isinstance(n.func, ast.Attribute):
                n.func.attr = other
            else:
                n.func.id = other
            return n
        yield rewrite


def _dropped_call(node: ast.AST) -> Iterator[Rewrite]:
    if _called_name(node) in _DROPPABLE_CALLS and node.args:  # type: ignore[attr-defined]
        func = node.func  # type: ignore[attr-defined]
        if isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Name):
            yield lambda n: n.func.value  # x.clip(0) -> x
        elif isinstance(func, ast.Attribute) and func.value.id not in ("np", "numpy", "math", "torch"):
            yield lambda n: n.func.value  # d.sqrt() style on a named array
        else:
            yield lambda n: n.args[0]


def _is_reversal(node: ast.AST) -> bool:
    """Whether ``node`` is ``x[::-1]``."""
    return (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and node.slice.lower is None
            and node.slice.upper is None and node.slice.step is not None and _number(node.slice.step) == -1)


def _order(node: ast.AST) -> Iterator[Rewrite]:
    if _called_name(node) in _SORTS:
        yield lambda n: ast.Subscript(n, ast.Slice(None, None, _literal(-1)), ast.Load())
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        if _is_reversal(node):
            yield _take("value")
        if node.slice.lower is not None:
            yield lambda n: _slice_without(n, "lower")
        if node.slice.upper is not None:
            yield lambda n: _slice_without(n, "upper")


def _slice_without(node: ast.Subscript, bound: str) -> ast.Subscript:
    setattr(node.slice, bound, None)
    return node


OPERATORS: dict[str, Callable[[ast.AST], Iterator[Rewrite]]] = {
    "axis": _axis, "keepdims": _keepdims, "transpose": _transpose, "function": _function, "dropped call": _dropped_call,
    "order": _order, "range": _range, "arithmetic": _arithmetic, "operands": _operands,
    "dropped term": _dropped_term, "comparison": _comparison, "boolean": _boolean, "sign": _sign,
    "constant": _constant,
}


# ----------------------------------------------------------------------------- making the mutants

def solution_lines(source: str, func: ast.FunctionDef) -> range:
    """The line numbers a learner writes: strictly between the solution markers, else the function body."""
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines, start=1) if line.strip() == BEGIN and func.lineno <= i]
    ends = [i for i, line in enumerate(lines, start=1) if line.strip() == END]
    end_of_func = func.end_lineno or len(lines)
    begins = [b for b in begins if b <= end_of_func]
    if begins:
        first = begins[0]
        last = min((e for e in ends if e > first), default=end_of_func + 1)
        return range(first + 1, last)
    body = func.body[1:] if ast.get_docstring(func) is not None and len(func.body) > 1 else func.body
    return range(body[0].lineno, end_of_func + 1)


def _function_def(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise ValueError(f"the solution cell defines no top-level function {name!r}")


def _substitute(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put ``new`` where ``old`` is in the tree under ``root``."""
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                value[[id(item) for item in value].index(id(old))] = new
                return
    raise ValueError("node not found in its tree")  # cannot happen: the node came from this tree


def make_mutants(source: str, name: str) -> list[Mutant]:
    """Every distinct mutant of the function ``name`` in the cell ``source``, in source order per operator."""
    tree = ast.parse(source)
    editable = solution_lines(source, _function_def(tree, name))
    lines = source.splitlines()
    seen = {ast.dump(tree)}
    mutants: list[Mutant] = []
    for index, node in enumerate(ast.walk(_function_def(tree, name))):
        line = getattr(node, "lineno", None)
        if line not in editable:
            continue
        for operator, make in OPERATORS.items():
            for rewrite in make(node):
                mutant = _apply(tree, name, index, rewrite)
                if mutant is None:
                    continue
                mutated_tree, after = mutant
                dump = ast.dump(mutated_tree)
                if dump in seen:
                    continue
                seen.add(dump)
                mutants.append(Mutant(operator, line, lines[line - 1].strip(),
                                      ast.unparse(node), after, ast.unparse(mutated_tree)))
    return mutants


def _apply(tree: ast.Module, name: str, index: int, rewrite: Rewrite) -> tuple[ast.Module, str] | None:
    """A copy of ``tree`` with the ``index``-th node of function ``name`` rewritten, and the new node's text."""
    mutated = copy.deepcopy(tree)
    target = list(ast.walk(_function_def(mutated, name)))[index]
    new = rewrite(copy.deepcopy(target))
    _substitute(mutated, target, new)
    ast.fix_missing_locations(mutated)
    try:
        text = ast.unparse(new)
        compile(mutated, "<mutant>", "exec")
    except (SyntaxError, ValueError, TypeError):
        return None  # e.g. an operand that cannot stand alone: not a program a learner could write
    return mutated, text
