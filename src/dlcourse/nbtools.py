"""Notebook files as plain JSON: read, write (in nbformat's layout), and stamp the setup cell.

The first code cell of every notebook installs ``dlcourse`` when it is missing (as on Colab). Its
install line is generated from the repository URL in ``_config.yml``, the one place that URL is set.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SETUP_BEGIN = "# --- dlcourse setup (generated from _config.yml; edit there) ---"
SETUP_END = "# --- end of setup ---"


def read_notebook(path: str | Path) -> dict[str, Any]:
    """Load a notebook; raise ``ValueError`` naming the file when it is not notebook JSON."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable notebook (expected Jupyter JSON): {err}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path}: not a Jupyter notebook (expected a JSON object with a 'cells' list)")
    return nb


def dumps_notebook(nb: dict[str, Any]) -> str:
    """Serialise like ``nbformat.write`` does, so that tools and git see stable files."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_notebook(nb: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(dumps_notebook(nb), encoding="utf-8")


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def set_cell_source(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def cell_tags(cell: dict[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(t) for t in tags] if isinstance(tags, list) else []


def repository_url(config_path: str | Path = "_config.yml") -> str:
    """The ``repository: url:`` value of the book's ``_config.yml``."""
    text = Path(config_path).read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise ValueError(f"{config_path}: no 'repository: url:' entry")
    return match.group(1).strip("'\"")


def setup_block(repo_url: str) -> str:
    """The install block that opens the first code cell of every notebook."""
    return "\n".join([
        SETUP_BEGIN,
        "try:",
        "    import dlcourse",
        "except ImportError:  # on Colab, for example: install the course package",
        f'    %pip install -q "dlcourse @ git+{repo_url}"',
        "    import dlcourse",
        SETUP_END,
    ])


def stamp_setup_cell(nb: dict[str, Any], repo_url: str) -> bool:
    """Put the current install block at the top of the first code cell; return True if it changed."""
    code_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    if not code_cells:
        raise ValueError("notebook has no code cell to hold the setup block")
    cell = code_cells[0]
    source = cell_source(cell)
    block = setup_block(repo_url)
    if SETUP_BEGIN in source and SETUP_END in source:
        start = source.index(SETUP_BEGIN)
        end = source.index(SETUP_END) + len(SETUP_END)
        new = source[:start] + block + source[end:]
    else:
        new = block + "\n" + source
    if new == source:
        return False
    set_cell_source(cell, new)
    return True
