"""One memory and pids cgroup per sandbox, where the host lets the grader make them.

RLIMIT_AS bounds each process's address space, but not memory held outside it: files in a tmpfs
(``/tmp``, ``/dev/shm``), ``memfd_create`` buffers written with ``write``, inodes and other kernel
memory, or the sum over many processes. A memory cgroup counts all of these for the whole sandbox.

The grader makes a child cgroup of its own cgroup in each controller hierarchy (cgroup v1, with
``memory`` and ``pids`` hierarchies, as on these machines; or a cgroup v2 hierarchy whose parent
delegates the ``memory`` and ``pids`` controllers), sets the limits, and the sandbox launcher
moves itself in before it executes bubblewrap, so every process of the sandbox is counted from
its first instruction. After the run the grader kills whatever is left in it and removes it.
Where no cgroup can be made, :attr:`CgroupFactory.problem` says why and the run warns.
"""
from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_COUNTER = itertools.count()


@dataclass
class Cgroup:
    """The cgroup folders of one sandbox (one per hierarchy) and the files its launcher joins."""

    dirs: list[Path]
    version: int

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def _read(self, name: str) -> str:
        for folder in self.dirs:
            try:
                return (folder / name).read_text()
            except OSError:
                continue
        return ""

    def counters(self) -> list[tuple[str, str, str]]:
        """(name, events file, field) of the counters of memory kills and refused processes."""
        memory = self.dirs[0] / ("memory.events" if self.version == 2 else "memory.oom_control")
        pids = self.dirs[-1] / "pids.events"
        return [("memory", str(memory), "oom_kill"), ("pids", str(pids), "max")]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this sandbox for going over its memory limit."""
        text = self._read("memory.events" if self.version == 2 else "memory.oom_control")
        fields = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
        return int(fields.get("oom_kill", "0") or 0) > 0

    def pids_exhausted(self) -> bool:
        fields = dict(line.split()[:2] for line in self._read("pids.events").splitlines() if len(line.split()) >= 2)
        return int(fields.get("max", "0") or 0) > 0

    def remove(self) -> None:
        """Kill every process still in the cgroup, then remove its folders (retrying while they drain)."""
        for _ in range(50):
            pids = {int(p) for d in self.dirs if d.exists() for p in _lines(d / "cgroup.procs")}
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            left = []
            for folder in self.dirs:
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(folder)
            if not left:
                return
            self.dirs = left
            time.sleep(0.02)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


class CgroupFactory:
    """Makes per-sandbox cgroups under the grader's own cgroup; ``problem`` is set when it cannot."""

    def __init__(self, root: Path = ROOT, proc_cgroup: str = "/proc/self/cgroup") -> None:
        self.root, self.version, self.parents = root, 0, []
        self.problem: str | None = None
        try:
            lines = Path(proc_cgroup).read_text().splitlines()
        except OSError:
            lines = []
        own = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(","):
                own[name] = path
        v1 = [root / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own and (root / c / "tasks").exists()]
        if len(v1) == 2:
            self.version, self.parents = 1, v1
        elif "" in own and (root / "cgroup.controllers").exists():
            parent = root / own[""].lstrip("/")
            delegated = _lines(parent / "cgroup.subtree_control")
            if {"memory", "pids"} <= set(delegated):
                self.version, self.parents = 2, [parent]
            else:
                self.problem = (f"the grader's cgroup {parent} does not delegate the memory and pids controllers "
                                "to child cgroups")
        else:
            self.problem = "no cgroup hierarchy with the memory and pids controllers is mounted"
        if self.parents and not self.problem:
            probe = self.create(64 << 20, 8)
            if probe is None:
                self.parents = []
            else:
                probe.remove()

    @property
    def available(self) -> bool:
        return bool(self.parents) and self.problem is None

    def create(self, memory_bytes: int, pids: int) -> Cgroup | None:
        """A fresh cgroup limited to ``memory_bytes`` (RAM, and swap where counted) and ``pids`` tasks."""
        name = f"dlcourse-{os.getpid()}-{next(_COUNTER)}"
        made: list[Path] = []
        try:
            for parent in self.parents:
                folder = parent / name
                folder.mkdir(mode=0o755)
                made.append(folder)
            group = Cgroup(made, self.version)
            if self.version == 1:
                memory, pid_dir = made
                (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if (memory / "memory.memsw.limit_in_bytes").exists():  # swap must not extend the limit
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                (pid_dir / "pids.max").write_text(str(pids))
            else:
                (made[0] / "memory.max").write_text(str(memory_bytes))
                if (made[0] / "memory.swap.max").exists():
                    (made[0] / "memory.swap.max").write_text("0")
                (made[0] / "pids.max").write_text(str(pids))
            return group
        except OSError as err:
            self.problem = f"could not make a cgroup under {self.parents[0]} ({err.strerror or err})"
            Cgroup(made, self.version).remove()
            return None
