"""The program that runs INSIDE the grading sandbox, and the wire format on both sides of it.

Inside, it is started once per submission as ``python -I -S sandbox_entry.py LIB BATCH CONTROL_FD RESULT_FD...``:

* ``LIB`` holds this file, :mod:`~dlcourse.grading.supervisor` and a package ``gradekit`` (copies of
  ``runner.py``, ``outputs.py`` and ``fixtures.py``: the untrusted-side call loop, and nothing that
  knows a reference or an answer);
* ``BATCH`` (JSON) lists the submission's exercises in order, each with its inputs folder
  (``manifest.json`` and one ``.npy`` per array) and job folder (``job.json``: function name, output
  names, whether the function must leave its arguments alone; ``student.py``: the student's cell),
  and the limits, site-packages folders, modules to import first and cgroup counters to read;
* ``CONTROL_FD`` is the pipe on which the supervisor reports each exercise to the grader;
* each ``RESULT_FD`` is one pre-created result file, open for writing, the only place where that
  exercise may write its results (inside the exercise it is ``/sandbox/result``).

It first lowers its own resource limits (before any student code exists in the process) and
imports NumPy; then, for each exercise, a child (:class:`~dlcourse.grading.supervisor.Supervisor`)
lowers its CPU limit, loads the inputs, runs the cell, calls the function on every case and writes
one result file:
``MAGIC``, a length-prefixed JSON header with one entry per case, the ``.npy`` bytes of every
returned array, and ``TRAILER`` (so a half-written file is recognised as such).

Outside, :func:`encode_inputs` writes ``INPUTS`` and :func:`decode_result` reads ``RESULT`` back as
plain arrays (``allow_pickle=False``) or per-case messages; everything in it is untrusted.
This module imports only the standard library at import time, so the trusted side can import it.
"""
from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

# CPython 3.11 keeps the AST converter's recursion depth in shared state: two threads parsing at once
# (the grader reads submissions and results in a thread pool; NumPy parses a .npy header with
# ast.literal_eval) can fail with "SystemError: AST constructor recursion depth mismatch". Every
# parse on the grader's side holds this lock (:mod:`~dlcourse.grading.extract` uses it too).
AST_LOCK = threading.Lock()

MAGIC = b"DLCOURSE-RESULT-1\n"
TRAILER = b"\nEND-OF-RESULT\n"
MAX_HEADER_BYTES = 1 << 20
MAX_MESSAGE_CHARS = 600
MAX_ARRAY_ELEMENTS = 10_000_000  # as outputs.MAX_ELEMENTS: one returned array, at most
_RLIMITS = {  # job.json key -> resource module constant name
    "cpu_s": "RLIMIT_CPU", "address_space_bytes": "RLIMIT_AS", "nproc": "RLIMIT_NPROC",
    "fsize_bytes": "RLIMIT_FSIZE", "nofile": "RLIMIT_NOFILE", "core_bytes": "RLIMIT_CORE",
}


class ResultError(ValueError):
    """The result file is missing, truncated or malformed."""


# ----------------------------------------------------------------------------- inputs (both sides)

def _encode_value(value: Any, folder: Path, stem: str) -> dict:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise ValueError(f"hidden input {stem}: object arrays cannot cross into the sandbox")
        np.save(folder / f"{stem}.npy", value, allow_pickle=False)
        return {"kind": "npy", "file": f"{stem}.npy"}
    if isinstance(value, np.generic):
        np.save(folder / f"{stem}.npy", np.asarray(value), allow_pickle=False)
        return {"kind": "npy-scalar", "file": f"{stem}.npy"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"kind": "json", "value": value}
    if isinstance(value, (list, tuple)):
        items = [_encode_value(item, folder, f"{stem}_{i}") for i, item in enumerate(value)]
        return {"kind": type(value).__name__, "items": items}
    raise ValueError(f"hidden input {stem}: {type(value).__name__} is not data (arrays, numbers, strings)")


def encode_inputs(inputs_list: list[dict], folder: str | Path) -> None:
    """Write the hidden inputs of one exercise into ``folder`` (trusted side)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = [[[name, _encode_value(value, folder, f"c{c}_{a}")] for a, (name, value) in enumerate(inputs.items())]
             for c, inputs in enumerate(inputs_list)]
    (folder / "manifest.json").write_text(json.dumps({"cases": cases}), encoding="utf-8")


def _decode_value(item: dict, folder: Path) -> Any:
    import numpy as np

    kind = item["kind"]
    if kind in ("npy", "npy-scalar"):
        array = np.load(folder / item["file"], allow_pickle=False)
        return array[()] if kind == "npy-scalar" else array
    if kind == "json":
        return item["value"]
    values = [_decode_value(sub, folder) for sub in item["items"]]
    return tuple(values) if kind == "tuple" else values


def decode_inputs(folder: str | Path) -> list[dict]:
    """Read the hidden inputs back (sandbox side): a list of ``{argument name: value}`` in call order."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [{name: _decode_value(item, folder) for name, item in case} for case in manifest["cases"]]


# ----------------------------------------------------------------------------- results (both sides)

def encode_result(results: list[Any]) -> bytes:
    """One result file: per case either a tuple of arrays or a failure message (sandbox side)."""
    import numpy as np

    header, blobs, offset = [], [], 0
    for item in results:
        if isinstance(item, str):
            header.append({"status": "error", "message": str(item)[:MAX_MESSAGE_CHARS]})
            continue
        spans = []
        for array in item:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(array), allow_pickle=False)
            blob = buffer.getvalue()
            spans.append([offset, len(blob)])
            blobs.append(blob)
            offset += len(blob)
        header.append({"status": "ok", "arrays": spans})
    head = json.dumps({"cases": header}).encode("utf-8")
    return MAGIC + b"%012d\n" % len(head) + head + b"".join(blobs) + TRAILER


def _clean_message(text: Any) -> str:
    text = str(text)[:MAX_MESSAGE_CHARS]
    return "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in text)


def read_npy(data: memoryview, max_elements: int = MAX_ARRAY_ELEMENTS) -> Any:
    """One ``.npy`` array from untrusted bytes: the header is checked before anything is allocated.

    Only numeric dtypes (bool, integers, floats, complex; no objects, no structures) are accepted,
    at most ``max_elements`` elements, and the data must be exactly as long as the header says, so
    a forged header that declares a huge shape costs nothing. Never unpickles.
    """
    import numpy as np
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError("unsupported .npy version")
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        with AST_LOCK:  # the header is parsed by ast.literal_eval
            shape, fortran, dtype = read_header(stream, max_header_size=4096)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, OverflowError, EOFError):
        raise ResultError("an array in the result file is not a valid .npy array") from None
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise ResultError(f"an array in the result file has the non-numeric dtype {dtype}")
    count = 1
    for extent in shape:
        count *= extent
    if count > max_elements:
        raise ResultError(f"an array in the result file declares {count} elements, more than {max_elements}")
    offset = stream.tell()
    if len(data) - offset != count * dtype.itemsize:
        raise ResultError("an array in the result file does not hold the data its header declares")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset) if count else np.empty(0, dtype)
    return flat.reshape(shape[::-1]).T.copy() if fortran else flat.reshape(shape).copy()


def decode_result(data: bytes, n_cases: int) -> list[Any]:
    """Parse a result file (trusted side): per case a tuple of arrays or a message string.

    Arrays are read by :func:`read_npy` (header first, numbers only, never a pickle); their kind,
    shape and values are checked later by :func:`dlcourse.grading.outputs.validate_received` and the scoring.
    """
    if not data.startswith(MAGIC) or not data.endswith(TRAILER):
        raise ResultError("the result file is missing or incomplete")
    body = data[len(MAGIC):-len(TRAILER)]
    try:
        length = int(body[:12])
    except ValueError:
        raise ResultError("the result header is malformed") from None
    if body[12:13] != b"\n" or not 0 < length <= MAX_HEADER_BYTES or len(body) < 13 + length:
        raise ResultError("the result header is malformed")
    try:
        header = json.loads(body[13:13 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ResultError("the result header is not JSON") from None
    blob = body[13 + length:]
    cases = header.get("cases") if isinstance(header, dict) else None
    if not isinstance(cases, list) or len(cases) != n_cases:
        raise ResultError(f"expected results for {n_cases} cases")
    decoded: list[Any] = []
    for case in cases:
        if not isinstance(case, dict):
            raise ResultError("a case entry is malformed")
        if case.get("status") == "error":
            decoded.append(_clean_message(case.get("message", "failed")))
            continue
        spans = case.get("arrays")
        if case.get("status") != "ok" or not isinstance(spans, list):
            raise ResultError("a case entry is malformed")
        arrays = []
        for span in spans:
            if (not isinstance(span, list) or len(span) != 2 or not all(type(v) is int for v in span)
                    or span[0] < 0 or span[1] <= 0 or span[0] + span[1] > len(blob)):
                raise ResultError("an array entry points outside the result file")
            arrays.append(read_npy(memoryview(blob)[span[0]:span[0] + span[1]]))
        decoded.append(tuple(arrays))
    return decoded


# ----------------------------------------------------------------------------- inside the sandbox

def apply_limits(limits: dict) -> None:
    """Lower this process's soft and hard limits; the kernel refuses to raise a hard limit again."""
    import resource

    for key, value in limits.items():
        if value is None or key not in _RLIMITS:
            continue
        which = getattr(resource, _RLIMITS[key])
        soft, hard = resource.getrlimit(which)
        value = int(value)
        new_hard = value if hard == resource.RLIM_INFINITY else min(value, hard)
        if key == "cpu_s":  # SIGXCPU at the soft limit, SIGKILL one second later
            new_hard = value + 1 if hard == resource.RLIM_INFINITY else min(value + 1, hard)
        resource.setrlimit(which, (min(value, new_hard), new_hard))


def _where(err: BaseException, filename: str) -> str:
    import traceback

    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
    return f" (line {lines[-1]})" if lines else ""


def _run_student(job: dict, source: str, inputs_list: list[dict]) -> list[Any]:
    """Run the cell and the function on every case; every failure becomes a message for the student."""
    from gradekit.runner import CaseFailure, run_case  # the copies in LIB, not the dlcourse package

    name, n = job["name"], len(inputs_list)
    filename = "<your exercise cell>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as err:
        return [f"your exercise cell has a syntax error at line {err.lineno}: {err.msg}"] * n
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(code, namespace)  # noqa: S102 - this is the sandbox: running student code is its job
    except SystemExit:
        return ["your exercise cell called exit(); a cell must only define the function"] * n
    except BaseException as err:  # noqa: BLE001
        return [f"running your exercise cell raised {type(err).__name__}{_where(err, filename)}: {err}"] * n
    fn = namespace.get(name)
    if not callable(fn):
        return [f"your exercise cell does not define a function named `{name}`"] * n
    results: list[Any] = []
    for inputs in inputs_list:
        try:
            results.append(run_case(fn, inputs, job["output_names"], bool(job.get("pure", False))))
        except SystemExit:
            results.append(CaseFailure("called sys.exit()/exit(): return the result instead of ending the program"))
        except BaseException as err:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit, ...
            results.append(CaseFailure(f"raised {type(err).__name__}; return a value instead"))
    return results


def _exercise(cpu_limit: dict) -> None:
    """One exercise, in a fresh child of the supervisor: fds 3, 4, 5 are its result file, inputs and job."""
    import traceback

    from supervisor import CHILD_INPUTS_FD, CHILD_JOB_FD, CHILD_RESULT_FD, PR_SET_DUMPABLE, prctl  # the copy in LIB

    try:
        apply_limits(cpu_limit)  # CPU seconds count from this fork on
        prctl(PR_SET_DUMPABLE, 1)  # the supervisor is not dumpable; an exercise is an ordinary process
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as handle:
            handle.write("1000")  # if the sandbox runs out of memory, the kernel kills the exercise, not us
        os.chdir(os.environ.get("TMPDIR", "/tmp"))
        job_dir = f"/proc/self/fd/{CHILD_JOB_FD}"  # /sandbox/job links here too
        job = json.loads(Path(job_dir, "job.json").read_text(encoding="utf-8"))
        inputs_list = decode_inputs(f"/proc/self/fd/{CHILD_INPUTS_FD}")  # before the student's code runs
        source = Path(job_dir, "student.py").read_text(encoding="utf-8")
    except BaseException:  # noqa: BLE001 - the grader's fault, shown in the output tail
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(71)
    sys.argv = ["exercise"]
    data = encode_result(_run_student(job, source, inputs_list))
    os.ftruncate(CHILD_RESULT_FD, 0)
    os.lseek(CHILD_RESULT_FD, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(CHILD_RESULT_FD, view):]
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers and threads the student's code may have left behind


def _high(fd: int) -> int:
    """``fd`` moved to 10 or above, clear of the numbers a child's descriptors are given."""
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def main(argv: list[str]) -> int:
    """``sandbox_entry.py LIB BATCH CONTROL_FD RESULT_FD...``: run every job of BATCH, one child each."""
    import importlib

    lib, batch_file, control_fd = argv[1], argv[2], _high(int(argv[3]))
    result_fds = [_high(int(fd)) for fd in argv[4:]]
    batch = json.loads(Path(batch_file).read_text(encoding="utf-8"))
    limits = batch["limits"]
    apply_limits({k: v for k, v in limits.items() if k != "cpu_s"})  # first: no student code has run yet
    sys.path[:0] = [lib]
    sys.path.extend(batch["site_dirs"])
    from supervisor import Supervisor  # the copy in LIB

    supervisor = Supervisor(control_fd, int(batch["tail_bytes"]),
                            {name: (path, field) for name, path, field in batch["counters"]}, bool(batch["confined"]))
    import numpy  # noqa: F401 - imported once here, inherited by every exercise's child
    import gradekit.runner  # noqa: F401
    for name in batch["preimport"]:
        try:
            module = importlib.import_module(name)
            if name == "torch":
                module.set_num_threads(1)
        except Exception:  # noqa: BLE001 - e.g. over the memory limit: each exercise then imports it and says why
            pass
    sys.stdout.flush()
    for k, job in enumerate(batch["jobs"]):
        dirs = [_high(os.open(path, os.O_RDONLY | os.O_DIRECTORY)) for path in (job["inputs"], job["job"])]
        supervisor.run(k, (result_fds[k], *dirs), float(batch["wall_s"]),
                       lambda: _exercise({"cpu_s": limits["cpu_s"]}))
        for fd in (result_fds[k], *dirs):
            os.close(fd)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
