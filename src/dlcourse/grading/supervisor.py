"""Inside the sandbox: run one submission's exercises one after the other, each in a child of a clean parent.

The supervisor is the sandbox's first Python process (started by ``sandbox_entry``). It imports
NumPy (and PyTorch when the submission uses it) once, never runs student code, and forks one child
per exercise. Each child gets its own result file (an open file descriptor from the grader; no other
exercise's result file is reachable from it), its own output pipe and its own wall-clock limit. When
a child ends, or its time is up, the supervisor kills every other process of the sandbox (it is the
reaper of all of them), empties ``/tmp`` and ``/dev/shm``, removes System V IPC objects, and only
then starts the next exercise, from the same clean state. It reports each exercise to the grader
on a control pipe that no child holds: ``{"start": k}``, then ``{"done": k, ...}``. The supervisor is
not dumpable, so a child can neither trace it nor open its descriptors through ``/proc``; a child
can still kill it (same user), and the grader then runs the remaining exercises in a fresh sandbox.
Standard library only: it is copied into the sandbox next to ``sandbox_entry``.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import stat
import time
from typing import Callable

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
CHILD_RESULT_FD, CHILD_INPUTS_FD, CHILD_JOB_FD = 3, 4, 5  # /sandbox/result, /sandbox/inputs, /sandbox/job link here
SCRATCH = ("/tmp", "/dev/shm")
CLEANUP_S = 10.0  # at most this long to end an exercise's processes; beyond it the sandbox gives up
_IPC_RMID = 0
_LIBC = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    if _LIBC.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def read_counter(path: str, name: str) -> int:
    """A counter of a cgroup events file (``oom_kill N``, ``max N``); 0 when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as handle:
            fields = dict(line.split()[:2] for line in handle if len(line.split()) >= 2)
        return int(fields.get(name, "0") or 0)
    except (OSError, ValueError):
        return 0


class Supervisor:
    """Runs children one at a time; ``counters`` maps a name to (events file, field) read around each child."""

    def __init__(self, control_fd: int, tail_bytes: int, counters: dict[str, tuple[str, str]],
                 confined: bool = True) -> None:
        self.control_fd, self.tail_bytes, self.counters = control_fd, tail_bytes, counters
        self.confined = confined  # False (--no-sandbox): no PID namespace of our own, so never kill(-1)
        prctl(PR_SET_DUMPABLE, 0)  # no child may ptrace us or open /proc/<us>/fd (the control pipe)
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # every orphan of every child becomes ours to kill and reap

    def send(self, message: dict) -> None:
        view = memoryview((json.dumps(message) + "\n").encode("ascii"))
        while view:
            view = view[os.write(self.control_fd, view):]

    def _counts(self) -> dict[str, int]:
        return {name: read_counter(path, field) for name, (path, field) in self.counters.items()}

    def run(self, k: int, fds: tuple[int, int, int], wall_s: float, child: Callable[[], None]) -> None:
        """Run ``child()`` in a fresh process with ``fds`` as its fds 3, 4, 5; report it; leave the sandbox clean."""
        before = self._counts()
        read_end, write_end = os.pipe()
        self.send({"start": k})
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: nothing of the parent's but the three descriptors and its output pipe
            try:
                os.setpgid(0, 0)
                os.dup2(write_end, 1)
                os.dup2(write_end, 2)
                for target, fd in zip((CHILD_RESULT_FD, CHILD_INPUTS_FD, CHILD_JOB_FD), fds):
                    os.dup2(fd, target)
                os.closerange(CHILD_JOB_FD + 1, os.sysconf("SC_OPEN_MAX"))
                child()
            finally:
                os._exit(70)
        os.close(write_end)
        status, timed_out, tail, total = self._wait(pid, read_end, start + wall_s)
        seconds = time.monotonic() - start
        clean = end_everything() if self.confined else _end_group(pid)
        tail, total = _drain(read_end, tail, total, self.tail_bytes)
        os.close(read_end)
        if clean and self.confined:
            clean = empty_scratch()
        after = self._counts()
        self.send({"done": k, "returncode": status, "timed_out": timed_out, "seconds": round(seconds, 4),
                   "tail": bytes(tail[-self.tail_bytes:]).decode("utf-8", errors="replace"), "bytes": total,
                   **{name: after[name] > before[name] for name in after}})
        if not clean:
            raise RuntimeError("could not end the processes of an exercise or empty /tmp")

    def _wait(self, pid: int, read_end: int, deadline: float) -> tuple[int | None, bool, bytearray, int]:
        """Drain the child's output until it exits or ``deadline`` passes; its status like Popen's returncode."""
        pidfd = os.pidfd_open(pid)
        tail, total, status, timed_out, watch = bytearray(), 0, None, False, [read_end, pidfd]
        try:
            while status is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    os.kill(pid, signal.SIGKILL)
                    status = _status(os.waitpid(pid, 0)[1])
                    break
                ready = select.select(watch, [], [], left)[0]
                if read_end in ready:
                    chunk = os.read(read_end, 1 << 16)
                    total += len(chunk)
                    tail += chunk
                    if len(tail) > 2 * self.tail_bytes:
                        del tail[:-self.tail_bytes]
                    if not chunk:  # every writer closed its end: wait for the exit only
                        watch = [pidfd]
                if pidfd in ready:
                    done, raw = os.waitpid(pid, os.WNOHANG)
                    if done:
                        status = _status(raw)
        finally:
            os.close(pidfd)
        return status, timed_out, tail, total


def _status(raw: int) -> int:
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def _drain(fd: int, tail: bytearray, total: int, keep: int) -> tuple[bytearray, int]:
    """What is left in a pipe whose writers are all gone."""
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            tail += chunk
            if len(tail) > 2 * keep:
                del tail[:-keep]
    except BlockingIOError:
        pass
    return tail, total


def end_everything() -> bool:
    """SIGKILL every process of the sandbox but this one (and bwrap's init) and reap them all; False if stuck."""
    deadline = time.monotonic() + CLEANUP_S
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)  # in our PID namespace: all but ourselves and its init
        except ProcessLookupError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:  # no child, no orphan left: we are the reaper of all of them
            return True
        time.sleep(0.002)
    return False


def _end_group(pid: int) -> bool:
    """Unconfined (trusted code): kill the exercise's process group only, and reap what comes back to us."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    return True


def empty_scratch() -> bool:
    """Delete everything in /tmp and /dev/shm (without following links) and System V IPC objects."""
    ok = True
    for top in SCRATCH:
        try:
            os.chmod(top, 0o1777)  # a child may have locked us out of our own scratch folder
            ok = _empty(top) and ok
        except OSError:
            ok = False
    _remove_ipc()
    return ok


def _empty(top: str) -> bool:
    """Iteratively (a deep tree must not exhaust the stack) remove what ``top`` holds, mounts excepted.

    The sandbox's read-only mounts may lie under /tmp (a venv in /tmp/x/.venv is bound at its own
    path): a directory on another device is a mount point, never entered nor removed, and the
    folders that lead to it stay. True when nothing else is left.
    """
    device = os.lstat(top).st_dev
    stack, dirs, keep = [top], [], set()
    while stack:
        folder = stack.pop()
        dirs.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.stat(follow_symlinks=False).st_dev != device:  # a mount point: the sandbox's own
                        keep.update(_parents(entry.path, top))
                        continue
                    os.chmod(entry.path, stat.S_IRWXU)
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(dirs[1:]):
        if folder not in keep:
            os.rmdir(folder)
    with os.scandir(top) as entries:
        return all(entry.path in keep for entry in entries)


def _parents(path: str, top: str) -> list[str]:
    """``path`` and the folders between it and ``top`` (``top`` itself excluded)."""
    found = []
    while path != top and path.startswith(top + "/"):
        found.append(path)
        path = os.path.dirname(path)
    return found


def _remove_ipc() -> None:
    """Shared memory segments, semaphore sets and message queues outlive their processes: remove them."""
    for name, remove in (("shm", lambda i: _LIBC.shmctl(i, _IPC_RMID, None)),
                         ("sem", lambda i: _LIBC.semctl(i, 0, _IPC_RMID)),
                         ("msg", lambda i: _LIBC.msgctl(i, _IPC_RMID, None))):
        try:
            with open(f"/proc/sysvipc/{name}", encoding="ascii") as handle:
                ids = [int(line.split()[1]) for line in list(handle)[1:] if len(line.split()) > 1]
        except (OSError, ValueError):
            continue
        for ipc_id in ids:
            remove(ipc_id)
