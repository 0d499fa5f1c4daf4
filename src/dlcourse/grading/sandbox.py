"""Run untrusted code in a bubblewrap sandbox: no network, read-only system, limits and a wall-clock kill.

The grader starts one sandbox per submission (:meth:`Sandbox.run_batch`, :mod:`~dlcourse.grading.batch`);
inside, each exercise runs in a child process of its own (:mod:`~dlcourse.grading.supervisor`).
:meth:`Sandbox.run` runs one command (the start-up probe, tests, benchmarks).

What the sandbox sees: a read-only root holding ``/usr`` (with the usual ``/bin``, ``/lib`` links),
the Python installation and its site-packages (read-only; a ``dlcourse`` package inside them is
masked), the three read-only folders of the job (``/sandbox/lib``, ``/sandbox/inputs``,
``/sandbox/job``), ONE writable pre-created result file (``/sandbox/result``), a small private
``/tmp`` (tmpfs, bounded in size, and in inodes when the grader is root), fresh ``/proc`` and a
read-only ``/dev`` whose ``/dev/shm`` is a small bounded tmpfs. Not the repository, the solutions,
an instructor's exercise bank, the instructor's output folder or other submissions: they are never
mounted, and masked when they lie inside a mounted folder.

Processes, threads, CPU seconds, address space, file size and open files are limited with rlimits
that the program inside applies to itself before any student code exists (``sandbox_entry``);
where the host allows it, the whole sandbox also runs in a memory and pids cgroup of its own
(:mod:`~dlcourse.grading.cgroups`), which counts tmpfs files, memfd buffers and kernel memory too.
Every sandbox starts through a small launcher (:mod:`~dlcourse.grading.launcher`) that joins that cgroup,
joins a fresh session keyring (the grader's keys stay out of reach) and execs bwrap.
``RLIMIT_NPROC`` binds only a process whose kernel uid is not root (and counts per user namespace),
so bubblewrap always runs unprivileged, as uid 65534 ("nobody") when the grader is root: the
launcher then first re-binds the read-only roots where that uid can reach them (a pyenv Python
under ``/root``, say) and mounts the private ``/tmp`` in a private mount namespace, then drops root.
As root, the stage folder is readable only by root and group 65534. Each sandbox runs in its own
session (so its own scheduler autogroup) and is killed as a whole on timeout: its PID namespace
dies with it. This module, like :mod:`cgroups` and :mod:`launcher`, uses the standard library only.
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .cgroups import Cgroup, CgroupFactory
from .launcher import SANDBOX_UID  # "nobody"; its group ("nogroup") alone may read a root grader's stage

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`), "
                "or pass --no-sandbox to grade code you trust (never students' code)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here; the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one exercise of one submission (rlimits per process; the cgroup per sandbox).

    A submission's exercises run one after the other in its sandbox, each from a clean state, so
    the cgroup's limits bind each exercise; the sandbox's supervisor adds its own memory on top.
    """

    wall_s: float = 60.0
    cpu_s: int | None = None  # per process; default: the wall-clock limit
    memory_mb: int = 2048  # address space per process
    nproc: int = 64  # processes + threads
    fsize_mb: int = 64  # largest file it may write (also caps the result file)
    nofile: int = 256
    tmp_mb: int = 256  # size of the private /tmp
    tmp_inodes: int = 16384  # files and folders in the private /tmp (enforced when the grader is root)
    shm_mb: int = 64  # size of /dev/shm
    output_tail_kb: int = 16  # how much printed output is kept (the rest is read and dropped)

    @property
    def sandbox_memory_mb(self) -> int:
        """Memory of the whole sandbox (its cgroup): RAM, tmpfs files, memfd and kernel memory together.

        A quarter above the per-process address space, so that one process that runs out of address
        space gets a MemoryError (a clear message) before the cgroup kills it.
        """
        return self.memory_mb + self.memory_mb // 4

    def rlimits(self) -> dict[str, int]:
        return {
            "cpu_s": int(self.cpu_s if self.cpu_s is not None else max(1, int(self.wall_s + 0.999))),
            "address_space_bytes": self.memory_mb << 20,
            "nproc": self.nproc,
            "fsize_bytes": self.fsize_mb << 20,
            "nofile": self.nofile,
            "core_bytes": 0,
        }


@dataclass
class Outcome:
    """How a sandboxed run ended, and the bytes of its result file (``None`` when unusable)."""

    returncode: int | None
    timed_out: bool
    result: bytes | None
    result_problem: str | None
    output_tail: str
    output_bytes: int
    seconds: float
    memory_exceeded: bool = False  # the sandbox's cgroup killed a process for using too much memory
    pids_exhausted: bool = False  # the sandbox's cgroup refused a process or thread

    @property
    def signal(self) -> int | None:
        """The signal that ended it (bubblewrap reports 128 + signal; Popen reports -signal)."""
        rc = self.returncode
        if rc is None:
            return None
        if rc < 0:
            return -rc
        if 128 < rc < 128 + 65:
            return rc - 128
        return None


def find_bwrap() -> str:
    path = shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)
    if not path:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed: " + INSTALL_HINT)
    return path


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _minimal_env() -> dict[str, str]:
    one = "1"  # one thread per BLAS/OpenMP pool: threads count against the process limit
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": one, "OPENBLAS_NUM_THREADS": one, "MKL_NUM_THREADS": one,
            "NUMEXPR_NUM_THREADS": one, "MPLBACKEND": "Agg"}


class Sandbox:
    """Builds and runs sandboxed commands; ``enabled=False`` runs the same program unconfined (trusted use)."""

    def __init__(self, enabled: bool = True, secrets: tuple[str | Path, ...] = (),
                 stage_dir: str | Path | None = None) -> None:
        self.enabled = enabled
        self.python = os.path.realpath(sys.executable)
        self.site_dirs = [p for p in dict.fromkeys(os.path.realpath(p) for p in sys.path if p)
                          if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)]
        prefixes = {os.path.dirname(os.path.dirname(self.python)), os.path.realpath(sys.base_prefix),
                    os.path.realpath(sys.base_exec_prefix)}
        roots = [Path("/usr")] + [Path(p) for p in sorted(prefixes) + self.site_dirs]
        self.ro_roots = [r for i, r in enumerate(roots) if not any(_under(r, o) for o in roots[:i])]
        masks = {Path(p).resolve() for p in secrets}
        masks |= {Path(site, "dlcourse") for site in self.site_dirs if Path(site, "dlcourse").is_dir()}
        self.masks = sorted(m for m in masks if m.exists() and any(_under(m, r) for r in self.ro_roots))
        self.root_mode = enabled and os.geteuid() == 0
        self.bwrap = find_bwrap() if enabled else None
        self._disable_userns = enabled and self._bwrap_supports("--disable-userns")
        self._sources = {str(r): str(r) for r in self.ro_roots[1:]}  # what bwrap binds from
        self.stage = Path(stage_dir) if stage_dir is not None else None
        self.cgroups = CgroupFactory() if enabled else None
        self.warnings: list[str] = []
        if enabled and not self.cgroups.available:
            self.warnings.append(
                f"no memory/pids cgroup per sandbox: {self.cgroups.problem}. Memory is then limited per process "
                "only (address space x processes); files in /tmp and /dev/shm are bounded by their size, but "
                "memfd buffers and kernel memory are not. Run the grader as root on a host with cgroups, or "
                "inside a memory-limited container (see the instructor guide).")
        if self.root_mode:
            # bwrap opens bind sources as uid 65534, which cannot enter e.g. /root (a pyenv Python):
            # the launcher re-binds each root at a mount point in the stage folder, which only root and
            # group 65534 may enter (other local users cannot read staged code or hidden inputs).
            if stage_dir is None:
                raise ValueError("a stage folder is needed when grading as root")
            share(self.stage, self.root_mode)
            for index, root in enumerate(self.ro_roots[1:]):
                self._sources[str(root)] = str(self._mount_point(f"root{index}"))
            self._tmp_mount = self._mount_point("tmp")

    def _mount_point(self, name: str) -> Path:
        mount_point = self.stage / name
        mount_point.mkdir(exist_ok=True)
        share(mount_point, self.root_mode)
        return mount_point

    def _bwrap_supports(self, option: str) -> bool:
        try:
            text = subprocess.run([self.bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return option in text

    # ------------------------------------------------------------------ command line
    def command(self, argv: list[str], binds: dict[str, str], rw_file: tuple[str, str] | None, limits: Limits,
                cgroup: Cgroup | None = None, links: dict[str, str] | None = None) -> list[str]:
        """The full command: ``argv`` run inside with read-only ``binds`` (host -> sandbox), at most one writable
        file, and symbolic ``links`` (path inside -> target)."""
        if not self.enabled:
            return argv
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        if self._disable_userns:
            args.append("--disable-userns")
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL",
                 "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"]
        if os.path.isdir("/usr/lib64"):
            args += ["--symlink", "usr/lib64", "/lib64"]
        # The private /tmp comes before the read-only roots: a Python or venv that lives under the
        # host's /tmp (a CI checkout, say) is then bound on top of it instead of hidden by it. As root,
        # the launcher mounts it (bwrap cannot bound its inodes); otherwise bwrap does.
        if self.root_mode:
            args += ["--bind", str(self._tmp_mount), "/tmp"]
        else:
            args += ["--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
        for root, source in self._sources.items():
            args += ["--ro-bind", source, root]
        for mask in self.masks:  # secrets that happen to lie inside a mounted folder
            args += ["--tmpfs", str(mask)] if mask.is_dir() else ["--ro-bind", "/dev/null", str(mask)]
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(limits.shm_mb << 20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
        for host, inside in binds.items():
            args += ["--ro-bind", host, inside]
        for inside, target in (links or {}).items():
            args += ["--symlink", target, inside]
        if rw_file:
            args += ["--bind", rw_file[0], rw_file[1]]
        args += ["--remount-ro", "/", "--chdir", "/tmp", "--"] + argv
        launcher = [self.python, "-I", "-S", "-B", str(Path(__file__).with_name("launcher.py"))]
        for procs in cgroup.procs_files if cgroup else []:
            launcher += ["--cgroup", procs]
        if self.root_mode:
            launcher.append("--drop-root")
            for root, source in self._sources.items():
                launcher += ["--premount", root, source]
            launcher += ["--tmpfs", str(self._tmp_mount), f"size={limits.tmp_mb << 20},nr_inodes={limits.tmp_inodes},"
                         f"mode=1777,uid={SANDBOX_UID},gid={SANDBOX_UID}"]
        return launcher + ["--"] + args

    # ------------------------------------------------------------------ running
    def prepare_result_file(self, path: str | Path) -> None:
        """Create the empty file that the sandbox may write (and nothing else on the host)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if self.enabled and self.root_mode:
            os.fchown(fd, SANDBOX_UID, SANDBOX_UID)
        os.close(fd)

    def _cgroup(self, limits: Limits, extra_mb: int = 0) -> Cgroup | None:
        if not (self.cgroups and self.cgroups.available):
            return None
        # + launcher/bwrap processes (and the batch supervisor); ``extra_mb``: what the supervisor holds
        return self.cgroups.create((limits.sandbox_memory_mb + extra_mb) << 20, limits.nproc + 9)

    def run(self, argv: list[str], binds: dict[str, str], rw_file: tuple[str, str], limits: Limits) -> Outcome:
        """Run, wait at most ``limits.wall_s`` seconds, kill everything left, and read the result file."""
        start = time.monotonic()
        cgroup = self._cgroup(limits)
        try:
            proc = subprocess.Popen(self.command(argv, binds, rw_file, limits, cgroup), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_minimal_env(),
                                    start_new_session=True, close_fds=True)
            tail = _Tail(proc.stdout, limits.output_tail_kb << 10)
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)
            tail.join()
            memory = bool(cgroup and cgroup.oom_killed())
            pids = bool(cgroup and cgroup.pids_exhausted())
        finally:
            if cgroup:
                cgroup.remove()
        seconds = time.monotonic() - start
        data, problem = read_result_file(rw_file[0], (limits.fsize_mb << 20) + 4096)
        return Outcome(proc.returncode, timed_out, data, problem, tail.text(), tail.total, seconds, memory, pids)

    def run_batch(self, argv: list[str], binds: dict[str, str], result_files: list[str], limits: Limits,
                  **options) -> list[Outcome | None]:
        """Run one submission's exercises in one sandbox (:func:`~dlcourse.grading.batch.run_batch`)."""
        from .batch import run_batch

        return run_batch(self, argv, binds, result_files, limits, **options)

    def probe(self) -> None:
        """Check once that a sandbox starts here and can import NumPy; raise SandboxUnavailable otherwise."""
        if not self.enabled:
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dlcourse-probe-") as tmp:
            share(Path(tmp), self.root_mode)  # the sandbox user must reach the result file
            result = os.path.join(tmp, "result")
            self.prepare_result_file(result)
            code = (f"import sys; sys.path.extend({self.site_dirs!r}); import numpy; "
                    "open('/sandbox/result', 'w').write('ok')")
            outcome = self.run([self.python, "-I", "-S", "-B", "-c", code], {}, (result, "/sandbox/result"),
                               Limits(wall_s=60))
        if outcome.result != b"ok":
            raise SandboxUnavailable(
                "bubblewrap is installed but could not start a sandbox here (user namespaces disabled?): "
                f"{outcome.output_tail.strip()[-500:] or 'exit status ' + str(outcome.returncode)}. "
                "On Ubuntu 24.04+ allow unprivileged user namespaces for bwrap, or run the grader as root; "
                "otherwise " + INSTALL_HINT)


def share(path: Path, root_mode: bool) -> None:
    """Let the sandbox user, and no other local user, read ``path`` (and everything under a folder).

    As root: owner root, group 65534, folders 0750 and files 0640. Otherwise the sandbox runs under the
    grader's own uid: folders 0700, files 0600.
    """
    for root, dirs, files in os.walk(path) if path.is_dir() else [(str(path.parent), [], [path.name])]:
        entries = [(root, True)] if path.is_dir() else []
        entries += [(os.path.join(root, name), False) for name in files]
        for entry, is_dir in entries:
            if root_mode:
                os.chown(entry, 0, SANDBOX_UID, follow_symlinks=False)
            os.chmod(entry, (0o750 if root_mode else 0o700) if is_dir else (0o640 if root_mode else 0o600))


class _Tail:
    """Drain a pipe in a thread, keeping only its last ``keep`` bytes (a flood of output cannot fill memory)."""

    def __init__(self, stream, keep: int) -> None:
        self.stream, self.keep, self.total = stream, keep, 0
        self.buffer = bytearray()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            chunk = self.stream.read1(1 << 16) if hasattr(self.stream, "read1") else self.stream.read(1 << 16)
            if not chunk:
                break
            self.total += len(chunk)
            self.buffer += chunk
            if len(self.buffer) > 2 * self.keep:
                del self.buffer[:-self.keep]

    def join(self) -> None:
        self.thread.join(timeout=10)
        self.stream.close()

    def text(self) -> str:
        return bytes(self.buffer[-self.keep:]).decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the sandbox's process group; its PID namespace takes every process inside with it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def read_at_most(fd: int, max_bytes: int) -> bytes | None:
    """The bytes of an open file, or None once more than ``max_bytes`` arrive (never reads past that)."""
    chunks, size = [], 0
    while size <= max_bytes:
        chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > max_bytes else b"".join(chunks)


def read_result_file(path: str | Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """Read the result file without following links, waiting on FIFOs or reading past ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return None, f"the result file could not be opened ({err.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "the result file is not a regular file"
        if info.st_size > max_bytes:
            return None, f"the result file is too large ({info.st_size} bytes)"
        data = read_at_most(fd, max_bytes)
        return (None, "the result file is too large") if data is None else (data, None)
    finally:
        os.close(fd)
