"""Generate student notebooks (``exercises/``) from the solution notebooks (``solutions/``).

In a cell tagged ``exercise`` the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become one
``raise NotImplementedError(...)`` at the marker's indentation; signature, docstring and hints stay.
Cells tagged ``solution-only`` are dropped; every output and execution count is cleared.

With an instructor bank (``dlcourse assign --bank PATH``), each exercise that the bank defines gets
its public cases written into the handout's check cell (``check(name, public=...)``, see
:mod:`~dlcourse.grading.public`), so students can check their work without the bank; and every
notebook the bank touches must define exactly the exercises registered for it.
"""
from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any, Mapping

from ..nbtools import cell_source, cell_tags, dumps_notebook, read_notebook, set_cell_source
from .extract import defined_names
from .registry import Registry

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: write your code here, then run the check cell below.")'


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace each marked solution span of ``source`` by a ``NotImplementedError`` stub."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {number}: nested {BEGIN}")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def _public_literal(text: str) -> str:
    """A Python string literal for ``text``: a readable raw triple-quoted one when that round-trips."""
    literal = f'r"""\n{text}\n"""'
    try:
        if ast.literal_eval(literal) == f"\n{text}\n":
            return literal
    except (SyntaxError, ValueError):
        pass
    return repr(text)


def embed_public(source: str, public: Mapping[str, str], where: str = "check cell") -> str:
    """Rewrite each ``check(name, ...)`` call in ``source`` for a name in ``public`` to carry its public cases."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"{where}: does not parse (line {err.lineno}: {err.msg})") from None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id == "check" and node.args and isinstance(node.args[0], ast.Name)
             and node.args[0].id in public]
    data = source.encode("utf-8")  # ast counts columns in UTF-8 bytes
    offsets = [0]
    for line in data.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset), reverse=True):  # back to front
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        name = node.args[0].id
        call = f"check({name}, public={_public_literal(public[name])})"
        data = data[:start] + call.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def make_exercise_notebook(solution: dict[str, Any], name: str = "notebook",
                           public: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The student version of a solution notebook.

    ``public`` maps exercise function names to their public cases as JSON (from an instructor
    bank); their check cells are rewritten to carry them.
    """
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb["cells"]):
        tags = cell_tags(cell)
        if "solution-only" in tags:
            continue
        cell.get("metadata", {}).pop("execution", None)  # nbclient's timings differ on every run
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            if "exercise" in tags:
                source = cell_source(cell)
                if BEGIN not in source:
                    raise ValueError(f"{name}, cell {index}: tagged 'exercise' but has no {BEGIN} marker")
                set_cell_source(cell, strip_solution(source, f"{name}, cell {index}"))
            if "check" in tags and public:
                set_cell_source(cell, embed_public(cell_source(cell), public, f"{name}, cell {index}"))
        cells.append(cell)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def _exercise_names(nb: dict[str, Any]) -> list[str]:
    return [n for c in nb.get("cells", []) if c.get("cell_type") == "code" and "exercise" in cell_tags(c)
            for n in defined_names(cell_source(c))]


def bank_public_cases(registry: Registry, path: Path, nb: dict[str, Any]) -> dict[str, str]:
    """The public cases (JSON) of the bank's exercises in this notebook; check the notebook matches the bank."""
    from .public import export_public

    registered = registry.of(path.stem)
    external = [ex for ex in registered if registry.is_external(ex.id)]
    if not external:
        return {}
    defined, wanted = _exercise_names(nb), [ex.name for ex in registered]
    if sorted(defined) != sorted(wanted):
        raise ValueError(f"{path.name}: its exercise cells define {', '.join(defined) or 'nothing'}, but the "
                         f"exercises registered for {path.stem} are {', '.join(wanted)}; make them agree")
    return {ex.name: export_public(ex) for ex in external}


def assign(solutions: str | Path = "solutions", exercises: str | Path = "exercises", check: bool = False,
           registry: Registry | None = None) -> list[Path]:
    """Write ``exercises/`` from ``solutions/``; return the files that were (or, with ``check``, would be) changed.

    ``registry``: with instructor banks in it, their exercises' public cases go into the handouts'
    check cells (see the module docstring).
    """
    solutions, exercises = Path(solutions), Path(exercises)
    if not solutions.is_dir():
        raise FileNotFoundError(f"solutions folder {solutions} does not exist")
    if registry is not None and not registry.bank_files:
        registry = None  # the built-in bank alone: the check cells find their exercises by name
    paths = sorted(solutions.glob("*.ipynb"))
    if registry is not None:
        builtin = set(Registry.load().notebooks())
        missing = [nb for nb in registry.notebooks() if nb not in builtin and nb not in {p.stem for p in paths}]
        if missing:
            raise ValueError(f"the bank registers exercises of {', '.join(missing)}, but {solutions} has no "
                             f"{', '.join(m + '.ipynb' for m in missing)}; check the notebook stem in each exercise id")
    changed = []
    for path in paths:
        solution = read_notebook(path)
        public = bank_public_cases(registry, path, solution) if registry is not None else None
        text = dumps_notebook(make_exercise_notebook(solution, path.name, public))
        target = exercises / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                exercises.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    expected = {p.name for p in paths}
    for stale in sorted(exercises.glob("*.ipynb")):
        if stale.name not in expected:
            changed.append(stale)
            if not check:
                stale.unlink()
    return changed
