"""Notebook files as plain JSON: read, write (in nbformat's layout), and stamp the setup cell.

The first code cell of every notebook opens with a generated *setup block* that installs ``dlcourse``
when it is missing (as on Colab), under two rules:

* **At the version the book was made from, never the moving main.** The block names a git ref of the
  course repository (``repository: url:`` of ``_config.yml``, the one place the URL is set). A committed
  notebook cannot contain its own commit hash (the hash depends on the file), so it names the release
  tag ``v<version>`` of ``pyproject.toml`` (:func:`release_ref`): this is what ``dlcourse setup-cells``
  stamps, and what a notebook opened straight from GitHub installs. A release is a commit whose version
  was bumped and then tagged ``v<version>``; the tag must be pushed, or that install fails (loudly).
  The book build is where a commit is known: ``scripts/build-book.sh`` renders a staged copy of the
  sources (``dlcourse.bookstage``) whose notebooks are stamped with the ref the tree is at (its tag when
  HEAD is tagged, else the commit: ``dlcourse.bookstage.build_ref``), so the page and its downloadable
  ``.ipynb`` install exactly that ref; and it builds with ``repository: branch:`` set to the same ref, so
  the Colab and Binder buttons (sphinx-book-theme builds them as ``.../blob/<branch>/<path_to_book>/<page>``)
  open the notebook as it was at that ref. That notebook is the committed one, which installs
  ``v<version>``: exact on a release build; on a build of a later, untagged commit, the notebook's text is
  that commit's and the package the last release's. The working tree is never written by a build; a
  build of a dirty tree names HEAD's ref all the same and warns (the deploy builds a clean checkout).
* **Never change what is installed.** The block pins every installed distribution to its exact version
  (``name===version``, pip's own ``pip list`` view: ``===`` accepts any version string, where ``==`` makes
  pip reject the whole file over one non-PEP 440 version such as Debian's ``0.23ubuntu1``) in a
  constraints file, and installs with it: pip then adds only what is missing, or fails. A failure (say
  an ipywidgets 7 where dlcourse needs 8) prints pip's report and raises a RuntimeError that says nothing
  was changed and shows the unconstrained command a learner may choose to run instead.
  tests/test_install_cell.py proves both in a Colab-like environment.

Run a second time, the block finds ``dlcourse`` and does nothing.
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


# A git tag, branch or commit as it may follow "@" in a pip VCS URL: "/"-separated parts that start with a
# letter, digit or "_" (never "-", which git would read as an option), with no "..", and no part ending in
# "." or ".lock" (git check-ref-format's rules, narrowed to these characters).
REF_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*(/[A-Za-z0-9_][A-Za-z0-9._+-]*)*")
# A repository URL pip can clone, safe inside a Python string literal: no quote, backslash or space.
URL_PATTERN = re.compile(r"(https|http|ssh|file)://[^\s\"'\\#?]+")
VERSION_LINE = re.compile(r'^version\s*=\s*["\']([^"\']+)["\']', flags=re.MULTILINE)


def release_ref(pyproject: str | Path | None = None) -> str:
    """The release tag ``v<version>``: of ``pyproject.toml`` when given, else of this installed package."""
    if pyproject is None:
        from . import __version__

        return f"v{__version__}"
    text = Path(pyproject).read_text(encoding="utf-8")
    project = text.split("\n[project]\n", 1)[-1].split("\n[", 1)[0] if "\n[project]\n" in "\n" + text else ""
    match = VERSION_LINE.search(project)  # in the [project] table only
    if not match:
        raise ValueError(f"{pyproject}: expected a `version = \"...\"` line in [project]")
    return f"v{match.group(1)}"


def check_ref(ref: str) -> str:
    """Return ref when it is a git tag, branch or commit name pip can install; else raise ValueError."""
    if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref) or ".." in ref \
            or any(part.endswith((".", ".lock")) for part in ref.split("/")):
        raise ValueError(f"expected a git tag, branch or commit (letters, digits and ._/+-), got {ref!r}")
    return ref


def setup_block(repo_url: str, ref: str | None = None) -> str:
    """The install block that opens the first code cell of every notebook (see the module docstring).

    ref is the git tag or commit to install; None means this package's release tag (:func:`release_ref`).
    """
    if not isinstance(repo_url, str) or not URL_PATTERN.fullmatch(repo_url):
        raise ValueError(f"expected the repository as an http(s), ssh or file URL, got {repo_url!r}")
    ref = check_ref(release_ref() if ref is None else ref)
    return "\n".join([
        SETUP_BEGIN,
        "try:",
        "    import dlcourse",
        "except ImportError:  # e.g. on Colab: install the course package, and change nothing installed",
        "    import importlib, json, subprocess, sys, tempfile",
        f'    repository = "git+{repo_url}"',
        "    # The version of the course that this notebook belongs to: a release tag or a commit.",
        f'    ref = "{ref}"',
        '    package = f"dlcourse @ {repository}@{ref}"',
        '    print(f"Installing {package}; the packages already installed stay as they are.")',
        '    pip = [sys.executable, "-m", "pip"]',
        '    installed = json.loads(subprocess.check_output(pip + ["list", "--format=json"], text=True))',
        '    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:  # "===": exactly',
        "        pins.writelines(f\"{p['name']}==={p['version']}\\n\" for p in installed)",
        '    done = subprocess.run(pip + ["install", "--constraint", pins.name, package],',
        "                          capture_output=True, text=True)",
        "    if done.returncode:  # e.g. a package outside dlcourse's version ranges: stop, change nothing",
        "        print(done.stdout + done.stderr)",
        "        hint = f'To let pip change installed packages, run: %pip install \"{package}\"'",
        '        raise RuntimeError(f"dlcourse was not installed, and nothing was changed. {hint}") from None',
        "    importlib.invalidate_caches()",
        "    import dlcourse",
        SETUP_END,
    ])


def stamp_setup_cell(nb: dict[str, Any], repo_url: str, ref: str | None = None) -> bool:
    """Put the current install block (at ref, see setup_block) atop the first code cell; True if it changed."""
    code_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    if not code_cells:
        raise ValueError("notebook has no code cell to hold the setup block")
    cell = code_cells[0]
    source = cell_source(cell)
    block = setup_block(repo_url, ref)
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
