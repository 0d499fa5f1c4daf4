"""Find, read and parse student submissions as untrusted input, at a bounded cost.

A submission is a regular file: links (symbolic or hard), FIFOs, devices and folders are refused,
and each file is opened once (``O_NOFOLLOW``, relative to its folder's descriptor), checked with
``fstat`` and read once, up to :data:`MAX_NOTEBOOK_BYTES`. The bytes that are hashed are the bytes
that are graded. Parsing keeps only what grading needs (the code cells' sources and tags) and
turns every malformed part (deep nesting, lone surrogates, non-string sources, metadata of the
wrong JSON type, oversized cells) into a note for the student instead of an exception.

A student id is the file stem, exactly as the file system gives it; :func:`student_key` maps it to
a stable, collision-free stem that is safe for the output files.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox import read_at_most

MAX_NOTEBOOK_BYTES = 20 << 20  # a notebook with outputs and images rarely reaches a few MB
MAX_CONTAINERS = 1_000_000  # JSON objects + arrays: bounds the parser's memory (~100 MB)
MAX_CELL_CHARS = 256 << 10  # one code cell
MAX_CODE_CHARS = 2 << 20  # all code cells together
_SAFE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,79}")
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class Submission:
    """One submission: its student id, where it came from, its bytes, or why it is refused."""

    student: str
    path: Path
    data: bytes | None = None
    problem: str | None = None  # student-facing: why it was not read

    @property
    def key(self) -> str:
        return student_key(self.student)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()


@dataclass
class Parsed:
    """What grading needs of a notebook: code cells (source, tags), or why there are none."""

    notebook: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


def student_key(student: str) -> str:
    """A file stem for ``student``'s outputs: the id itself when it is plain, else ``prefix~hash``.

    Plain ids (ASCII letters, digits, ``._-``, at most 80 characters, not starting with ``.`` or
    ``-``) map to themselves; any other id maps to its plain characters and ``~`` and 16 hex digits
    of the SHA-256 of its exact bytes. ``~`` never occurs in a plain id, so two ids never share a key.
    """
    if _SAFE_KEY.fullmatch(student):
        return student
    try:
        raw = os.fsencode(student)  # the file name's exact bytes (undecodable bytes came as surrogates)
    except UnicodeEncodeError:
        raw = student.encode("utf-8", "surrogatepass")
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", student)[:40].strip("_-") or "student"
    return f"{prefix}~{hashlib.sha256(raw).hexdigest()[:16]}"


# ----------------------------------------------------------------------------- finding and reading

def _stem(name: str) -> str:
    return name[:-len(".ipynb")] if name.endswith(".ipynb") else Path(name).stem


def _read_entry(dir_fd: int, name: str, path: Path) -> Submission:
    """Open ``name`` in the folder ``dir_fd`` once, without following links, and read it with a size cap."""
    sub = Submission(_stem(name), path)
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as err:
        sub.problem = f"the file could not be read ({err.strerror})"
        return sub
    sub.problem = _refusal(info)
    if sub.problem:
        return sub
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as err:
        sub.problem = "it is a symbolic link" if err.errno == 40 else f"the file could not be read ({err.strerror})"
        return sub
    try:
        sub.problem = _refusal(os.fstat(fd))  # the file opened is the file checked
        if not sub.problem:
            data = read_at_most(fd, MAX_NOTEBOOK_BYTES)
            if data is None:
                sub.problem = f"it is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
            else:
                sub.data = data
    except OSError as err:
        sub.problem = f"the file could not be read ({err.strerror})"
    finally:
        os.close(fd)
    return sub


def _refusal(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file (a folder, FIFO, socket or device)"
    if info.st_nlink != 1:
        return "it is a hard link to another file"
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return f"it is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
    return None


def find_submissions(paths: list[str | Path]) -> list[Submission]:
    """The given files and the ``*.ipynb`` entries of the given folders, each read once, in a stable order.

    A folder named on the command line may itself be a link (it is the instructor's choice); every
    submission inside it, and every file named, is refused when it is not a regular file.
    """
    found: list[Submission] = []
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise FileNotFoundError(f"submission {path} does not exist")
        if path.is_dir():
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                names = sorted(n for n in os.listdir(dir_fd) if n.endswith(".ipynb") and not n.startswith("."))
                found += [_read_entry(dir_fd, name, path / name) for name in names]
            finally:
                os.close(dir_fd)
            continue
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            found.append(_read_entry(parent, path.name, path))
        finally:
            os.close(parent)
    bad = [s.path.name for s in found if s.student.startswith(".") or s.student == ""]
    if bad:
        raise ValueError(f"a submission's file stem must name the student: {', '.join(map(repr, bad))}")
    clashes = sorted(k for k, n in Counter(s.student for s in found).items() if n > 1)
    if clashes:
        raise ValueError(f"several submissions share a student id (file stem): {', '.join(map(repr, clashes))}")
    return found


# ----------------------------------------------------------------------------- parsing

def _clean_text(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


def _code_cell(cell: Any, index: int, notes: list[str]) -> dict[str, Any] | None:
    """A code cell reduced to a string source and a list of string tags, or ``None`` (with a note)."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        source = "".join(source)
    if not isinstance(source, str):
        notes.append(f"Code cell {index} was skipped: its source is not text.")
        return None
    if len(source) > MAX_CELL_CHARS:
        notes.append(f"Code cell {index} was skipped: it is longer than {MAX_CELL_CHARS >> 10} K characters.")
        return None
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    tags = [_clean_text(t) for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    return {"cell_type": "code", "source": _clean_text(source), "metadata": {"tags": tags}}


def parse_notebook(data: bytes) -> Parsed:
    """The code cells of a notebook's bytes (everything else is dropped), or a note saying why not."""
    if data.count(b"{") + data.count(b"[") > MAX_CONTAINERS:
        return Parsed(None, ["Your submission is not a readable Jupyter notebook: its JSON is far too complex "
                             f"(more than {MAX_CONTAINERS} objects and lists). Submit the .ipynb file."])
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as err:
        why = "it is nested too deeply" if isinstance(err, RecursionError) else \
            "it is too large" if isinstance(err, MemoryError) else str(err)[:200]
        return Parsed(None, [f"Your submission is not a readable Jupyter notebook (expected Jupyter JSON): {why}. "
                             "Submit the .ipynb file."])
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return Parsed(None, ["Your submission is not a Jupyter notebook (expected a JSON object with a 'cells' "
                             "list). Submit the .ipynb file."])
    notes: list[str] = []
    cells, total = [], 0
    for index, cell in enumerate(nb["cells"], start=1):
        clean = _code_cell(cell, index, notes)
        if clean is None:
            continue
        total += len(clean["source"])
        if total > MAX_CODE_CHARS:
            notes.append(f"Code cells from cell {index} on were skipped: the notebook holds more than "
                         f"{MAX_CODE_CHARS >> 20} M characters of code.")
            break
        cells.append(clean)
    return Parsed({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, notes[:5])
