"""The grader's side of one sandbox per submission: start it, follow its supervisor, collect one outcome per exercise.

The sandbox runs ``sandbox_entry`` as a supervisor (:mod:`~dlcourse.grading.supervisor`) that runs
the submission's exercises one after the other, each in a child of its own, and reports each on a
control pipe: ``{"start": k}`` and ``{"done": k, ...}``. Each exercise's result file is passed as an
open descriptor (no path to it exists inside). The grader keeps its own clock: the sandbox may
take ``startup_s`` to start, each exercise its wall-clock limit plus :data:`GRACE_S` (the
supervisor enforces the limit itself; the grace covers its clean-up), and it is killed as a whole
when it overstays, as when a student's code stops or kills the supervisor. An exercise that was
running then gets an outcome from the sandbox's end (a signal, a timeout, the cgroup's memory
counter); exercises that never started get ``None``, and the caller runs them in a fresh sandbox.
Standard library only.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time
from typing import TYPE_CHECKING

from .sandbox import Limits, Outcome, _kill_group, _minimal_env, _Tail, read_result_file

if TYPE_CHECKING:
    from .sandbox import Sandbox

GRACE_S = 15.0  # beyond an exercise's wall clock: the supervisor's clean-up and report
STARTUP_S = 120.0  # a sandbox that imports PyTorch on a loaded machine takes seconds
MAX_CONTROL_BYTES = 1 << 22
COUNTERS = [["memory", "/sandbox/cgroup/memory", "oom_kill"], ["pids", "/sandbox/cgroup/pids", "max"]]


class _Follow:
    """What the supervisor has said so far, and when the grader should stop waiting for it."""

    def __init__(self, n_jobs: int, limits: Limits, startup_s: float) -> None:
        self.n, self.limits = n_jobs, limits
        self.done: dict[int, dict] = {}
        self.running: int | None = None
        self.started = 0.0
        self.deadline = time.monotonic() + startup_s
        self.buffer = b""

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) > MAX_CONTROL_BYTES:
            raise ValueError("the sandbox's supervisor sent an overlong report")
        *lines, self.buffer = self.buffer.split(b"\n")
        now = time.monotonic()
        for line in lines:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("the sandbox's supervisor sent a report that is not an object")
            if type(message.get("start")) is int and 0 <= message["start"] < self.n:
                self.running, self.started = message["start"], now
                self.deadline = now + self.limits.wall_s + GRACE_S
            elif type(message.get("done")) is int and message["done"] == self.running:
                self.done[self.running] = message
                self.running, self.deadline = None, now + GRACE_S
            else:
                raise ValueError(f"the sandbox's supervisor sent an unexpected report: {line[:200]!r}")


def run_batch(box: "Sandbox", argv: list[str], binds: dict[str, str], result_files: list[str], limits: Limits,
              links: dict[str, str] | None = None, extra_mb: int = 0,
              startup_s: float = STARTUP_S) -> list[Outcome | None]:
    """Run ``argv + [CONTROL_FD, RESULT_FD...]`` in one sandbox; per result file, its exercise's outcome or None."""
    cgroup = box._cgroup(limits, extra_mb)
    fds: list[int] = []
    control_r = control_w = -1
    try:
        fds = [os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC) for path in result_files]
        control_r, control_w = os.pipe()
        if cgroup and box.enabled:
            binds = {**binds, **{path: f"/sandbox/cgroup/{name}" for name, path, _ in cgroup.counters()}}
        command = box.command([*argv, str(control_w), *map(str, fds)], binds, None, limits, cgroup, links)
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=_minimal_env(), start_new_session=True, close_fds=True, pass_fds=(control_w, *fds))
        for fd in (control_w, *fds):
            os.close(fd)
        control_w, fds = -1, []
        tail = _Tail(proc.stdout, limits.output_tail_kb << 10)
        follow = _Follow(len(result_files), limits, startup_s)
        try:
            timed_out = _follow(proc, control_r, follow)
        finally:
            _kill_group(proc)
        tail.join()
        memory = bool(cgroup and cgroup.oom_killed())
        pids = bool(cgroup and cgroup.pids_exhausted())
    finally:
        for fd in (control_r, control_w, *fds):
            if fd >= 0:
                os.close(fd)
        if cgroup:
            cgroup.remove()
    outcomes: list[Outcome | None] = []
    for k, path in enumerate(result_files):
        if k not in follow.done and k != follow.running:
            outcomes.append(None)
            continue
        data, problem = read_result_file(path, (limits.fsize_mb << 20) + 4096)
        if k in follow.done:
            m = follow.done[k]
            outcomes.append(Outcome(m.get("returncode"), bool(m.get("timed_out")), data, problem,
                                    str(m.get("tail", "")), int(m.get("bytes", 0)), float(m.get("seconds", 0.0)),
                                    bool(m.get("memory")), bool(m.get("pids"))))
        else:  # the sandbox ended or was killed while this exercise ran
            outcomes.append(Outcome(proc.returncode, timed_out, data, problem, tail.text(), tail.total,
                                    time.monotonic() - follow.started, memory, pids))
    if not any(outcomes):
        raise RuntimeError("the sandbox stopped before it ran an exercise (exit status "
                           f"{proc.returncode}): {tail.text().strip()[-800:]}")
    return outcomes


def _follow(proc: subprocess.Popen, control_r: int, follow: _Follow) -> bool:
    """Read the supervisor's reports until it closes the pipe; True when the grader's clock ran out first."""
    while True:
        left = follow.deadline - time.monotonic()
        if left <= 0:
            return True
        if not select.select([control_r], [], [], left)[0]:
            continue
        chunk = os.read(control_r, 1 << 16)
        if not chunk:
            break
        try:
            follow.feed(chunk)
        except ValueError:
            return False  # a supervisor that says nonsense is ended; what it finished counts
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    return False
