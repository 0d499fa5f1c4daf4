"""Find the exercise functions in a (student's or solution) notebook.

A graded exercise is a code cell tagged ``exercise`` that defines one top-level function; the cell
must be self-contained (it imports what it uses), because only these cells are run when grading.
Cells whose tags were lost (some editors drop them) are still found by the function they define.
"""
from __future__ import annotations

import ast
from typing import Any, Iterable

from ..nbtools import cell_source, cell_tags
from .sandbox_entry import AST_LOCK as _PARSE_LOCK  # one AST parse at a time in the grader (CPython 3.11)


def defined_names(source: str) -> list[str]:
    """Top-level function and class names defined by ``source`` (empty when it does not parse).

    ``source`` may be hostile: a null byte, or nesting that exhausts the parser's stack or the
    recursion limit, counts as "does not parse" instead of raising.
    """
    if "def" not in source and "class" not in source:
        return []  # nothing to find: skip the parse
    try:
        with _PARSE_LOCK:
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def exercise_sources(nb: dict[str, Any], names: Iterable[str]) -> dict[str, str]:
    """Map each wanted exercise name to the source of the last cell that defines it.

    Tagged cells win over untagged ones; IPython magics are blanked out.
    """
    wanted = set(names)
    found: dict[str, str] = {}
    tagged: set[str] = set()
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _strip_magics(cell_source(cell))
        is_tagged = "exercise" in cell_tags(cell)
        defined = defined_names(source)
        if is_tagged and not defined:
            # A tagged cell that no longer parses: attribute it by a textual match so the
            # student gets the syntax error as feedback instead of "missing".
            defined = [n for n in wanted if f"def {n}(" in source]
        for name in defined:
            if name in wanted and (is_tagged or name not in tagged):
                found[name] = source
                if is_tagged:
                    tagged.add(name)
    return found
