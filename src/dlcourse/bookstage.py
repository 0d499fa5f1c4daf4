"""Stage the book's sources for a build: a copy whose install cells and launch buttons name the built ref.

Jupyter Book 1.x builds from a source folder (here the repository root), so to render notebooks whose
setup block installs the exact ref being built (see ``dlcourse.nbtools`` for the design) without
writing the working tree, ``scripts/build-book.sh`` builds from a mirror in ``_build/book-src``
(gitignored): every file of the root except the config's ``exclude_patterns`` (files that are not pages
and that the build does not read: ``.venv``, ``src``, ...; ``_static`` is excluded from the pages but
served, so it is kept), with

* each notebook that has a setup block stamped with the build ref (its page and its ``.ipynb``
  download then install that ref), and
* ``repository: branch:`` of ``_config.yml`` set to the ref, so the Colab and Binder buttons open the
  notebook at that ref.

A file whose staged copy is already right is left alone (same size and time, or same bytes), so that
Sphinx rebuilds only what changed. ``python -m dlcourse.bookstage`` stages and prints the ref.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .nbtools import SETUP_BEGIN, check_ref, dumps_notebook, read_notebook, release_ref, repository_url, \
    stamp_setup_cell

STAGE = Path("_build") / "book-src"
ALWAYS_SKIPPED = ("_build", "__pycache__")  # and every hidden folder (.git, .venv, caches)
KEPT = ("_static",)  # in exclude_patterns (not pages) but copied into the site: jupyter-book's html_static_path
BRANCH_LINE = re.compile(r"^(repository:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+branch:[ \t]*)(\S*)(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class BuildRef:
    """The git ref a book build names: a tag, a commit, or (outside git) the release tag."""

    ref: str
    kind: str  # "tag", "commit" or "release"
    dirty: bool  # the working tree differs from the ref: the book shows changes the ref does not hold


def _git(root: Path, *args: str) -> str | None:
    """stdout of a git command in root, or None when git fails (not a repository, no git)."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def build_ref(root: str | Path = ".") -> BuildRef:
    """HEAD's tag (the release tag ``v<version>`` first), else HEAD's commit; the release tag outside git."""
    root = Path(root)
    release = release_ref(root / "pyproject.toml")
    head = _git(root, "rev-parse", "--verify", "HEAD")
    if not head:
        return BuildRef(release, "release", dirty=False)
    dirty = bool(_git(root, "status", "--porcelain"))
    tags = (_git(root, "tag", "--points-at", "HEAD", "--sort=-v:refname") or "").split()
    if release in tags:
        return BuildRef(release, "tag", dirty)
    return BuildRef(tags[0], "tag", dirty) if tags else BuildRef(head, "commit", dirty)


def has_tag(root: str | Path, tag: str) -> bool:
    """Whether the repository at root has the tag (a shallow checkout may lack tags it has upstream)."""
    return _git(Path(root), "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}") is not None


def with_branch(config_text: str, ref: str) -> str:
    """The _config.yml text with ``repository: branch:`` set to ref (added when missing)."""
    quoted = f'"{check_ref(ref)}"'  # quoted: YAML would read a tag "1.0" or an all-digit commit as a number
    if BRANCH_LINE.search(config_text):
        return BRANCH_LINE.sub(lambda m: f"{m.group(1)}{quoted}{m.group(3)}", config_text, count=1)
    new, found = re.subn(r"^repository:[ \t]*\n", lambda m: f"{m.group(0)}  branch: {quoted}\n", config_text,
                         count=1, flags=re.MULTILINE)
    if not found:
        raise ValueError("_config.yml: expected a 'repository:' section (with url: and branch:)")
    return new


def _exclude_patterns(config_text: str) -> list[str]:
    import yaml  # the book extra brings PyYAML (jupyter-book needs it)

    patterns = (yaml.safe_load(config_text) or {}).get("exclude_patterns") or []
    return [str(p).strip("/") for p in patterns if str(p).strip("/") not in KEPT]


def book_files(root: Path, dest: Path, patterns: list[str]) -> list[Path]:
    """The files of root a build reads: all but exclude_patterns, ALWAYS_SKIPPED, hidden folders and dest."""
    def skipped(path: Path) -> bool:
        rel = path.relative_to(root).as_posix()
        return path.name in ALWAYS_SKIPPED or path == dest or any(fnmatch.fnmatch(rel, p) for p in patterns)

    found = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not skipped(here / d))
        found += [here / f for f in sorted(files) if not skipped(here / f)]
    return found


def _staged_bytes(path: Path, rel: Path, url: str, ref: str, config_text: str) -> bytes | None:
    """What the staged copy of path must hold when it differs from path (None: a plain copy)."""
    if rel == Path("_config.yml"):
        return with_branch(config_text, ref).encode("utf-8")
    if path.suffix == ".ipynb" and SETUP_BEGIN in path.read_text(encoding="utf-8", errors="replace"):
        nb = read_notebook(path)
        stamp_setup_cell(nb, url, ref)
        return dumps_notebook(nb).encode("utf-8")
    return None


def _write_if_changed(source: Path, target: Path, content: bytes | None) -> bool:
    if content is None:
        if target.is_file():
            mine, theirs = source.stat(), target.stat()
            if (mine.st_size, mine.st_mtime_ns) == (theirs.st_size, theirs.st_mtime_ns):
                return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return True
    if target.is_file() and target.read_bytes() == content:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return True


def stage_book(root: str | Path, dest: str | Path, ref: str) -> list[Path]:
    """Mirror root's book sources into dest, stamped with ref; return the paths (under dest) rewritten."""
    root, dest = Path(root).resolve(), Path(dest).resolve()
    check_ref(ref)
    config_text = (root / "_config.yml").read_text(encoding="utf-8")
    url = repository_url(root / "_config.yml")
    wanted, changed = set(), []
    for path in book_files(root, dest, _exclude_patterns(config_text)):
        rel = path.relative_to(root)
        target = dest / rel
        wanted.add(target)
        if _write_if_changed(path, target, _staged_bytes(path, rel, url, ref, config_text)):
            changed.append(target)
    for folder, _dirs, files in os.walk(dest, topdown=False):  # drop what the root no longer has
        for name in files:
            if Path(folder, name) not in wanted:
                Path(folder, name).unlink()
                changed.append(Path(folder, name))
        if folder != str(dest) and not os.listdir(folder):
            os.rmdir(folder)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Stage the book of a repository root for scripts/build-book.sh; print the ref and any warning."""
    parser = argparse.ArgumentParser(prog="python -m dlcourse.bookstage", description=main.__doc__)
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument("--dest", default=None, help=f"staging folder (default: ROOT/{STAGE})")
    parser.add_argument("--ref", default=None, help="ref to stamp (default: HEAD's tag, else HEAD's commit)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        found = BuildRef(check_ref(args.ref), "given", False) if args.ref else build_ref(root)
        changed = stage_book(root, args.dest or root / STAGE, found.ref)
        release = release_ref(root / "pyproject.toml")
    except (OSError, ValueError) as err:
        print(f"bookstage: {err}", file=sys.stderr)
        return 2
    if found.dirty:
        print(f"bookstage: WARNING: uncommitted changes: the book shows them, but its install cells and launch "
              f"buttons name {found.ref}, which does not hold them", file=sys.stderr)
    if found.kind != "release" and not has_tag(root, release):
        print(f"bookstage: WARNING: no tag {release} here, yet the committed notebooks install dlcourse at "
              f"{release}: tag the release and push the tag (a shallow checkout may just lack it)", file=sys.stderr)
    print(f"book staged in {args.dest or root / STAGE} at {found.ref} ({found.kind}); {len(changed)} file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
