"""Run untrusted code in a bubblewrap sandbox: no network, read-only system, limits and a wall-clock kill.

What the sandbox sees: ``/usr`` (read-only, with the usual ``/bin``, ``/lib`` links), the Python
installation and its site-packages (read-only; a ``dlcourse`` package inside them is masked), the
three read-only folders of the job (``/sandbox/lib``, ``/sandbox/inputs``, ``/sandbox/job``), ONE
writable pre-created result file (``/sandbox/result``), a small private ``/tmp`` (tmpfs) and fresh
``/proc`` and ``/dev``. Not the repository, the solutions, an instructor's exercise bank, the
instructor's output folder or other submissions: they are never mounted, and masked when they lie
inside a mounted folder.

Processes, threads, CPU seconds, address space, file size and open files are limited with rlimits
that the program inside applies to itself before any student code exists (``sandbox_entry``).
``RLIMIT_NPROC`` binds only a process whose kernel uid is not root (and counts per user namespace),
so bubblewrap always runs unprivileged, as uid 65534 ("nobody") when the grader is root: a small
launcher (this file run as a script) first re-binds the read-only roots where that uid can reach
them (a pyenv Python under ``/root``, say) in a private mount namespace, then drops root and execs
bwrap. Each sandbox runs in its own session (so its own scheduler autogroup) and is killed as a
whole on timeout: its PID namespace dies with it. This module uses the standard library only.
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

SANDBOX_UID = 65534  # "nobody"
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`), "
                "or pass --no-sandbox to grade code you trust (never students' code)")
_CLONE_NEWNS = 0x00020000
_MS_BIND, _MS_REC, _MS_SLAVE = 0x1000, 0x4000, 0x80000


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here; the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (one exercise of one submission)."""

    wall_s: float = 60.0
    cpu_s: int | None = None  # per process; default: the wall-clock limit
    memory_mb: int = 2048  # address space per process
    nproc: int = 64  # processes + threads
    fsize_mb: int = 64  # largest file it may write (also caps the result file)
    nofile: int = 256
    tmp_mb: int = 256  # size of the private /tmp
    output_tail_kb: int = 16  # how much printed output is kept (the rest is read and dropped)

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
        if self.root_mode:
            # bwrap opens bind sources as uid 65534, which cannot enter e.g. /root (a pyenv Python):
            # the launcher re-binds each root at a mount point in the (traversable) stage folder.
            if stage_dir is None:
                raise ValueError("a stage folder is needed when grading as root")
            stage = Path(stage_dir)
            os.chmod(stage, 0o711)
            for index, root in enumerate(self.ro_roots[1:]):
                mount_point = stage / f"root{index}"
                mount_point.mkdir(mode=0o755, exist_ok=True)
                self._sources[str(root)] = str(mount_point)

    def _bwrap_supports(self, option: str) -> bool:
        try:
            text = subprocess.run([self.bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return option in text

    # ------------------------------------------------------------------ command line
    def command(self, argv: list[str], binds: dict[str, str], rw_file: tuple[str, str], limits: Limits) -> list[str]:
        """The full command: ``argv`` run inside with read-only ``binds`` (host -> sandbox) and one writable file."""
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
        # host's /tmp (a CI checkout, say) is then bound on top of it instead of hidden by it.
        args += ["--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
        for root, source in self._sources.items():
            args += ["--ro-bind", source, root]
        for mask in self.masks:  # secrets that happen to lie inside a mounted folder
            args += ["--tmpfs", str(mask)] if mask.is_dir() else ["--ro-bind", "/dev/null", str(mask)]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for host, inside in binds.items():
            args += ["--ro-bind", host, inside]
        args += ["--bind", rw_file[0], rw_file[1], "--chdir", "/tmp", "--"] + argv
        if self.root_mode:
            launcher = [self.python, "-I", "-S", "-B", os.path.abspath(__file__), "--launch"]
            for root, source in self._sources.items():
                launcher += ["--premount", root, source]
            return launcher + ["--"] + args
        return args

    # ------------------------------------------------------------------ running
    def prepare_result_file(self, path: str | Path) -> None:
        """Create the empty file that the sandbox may write (and nothing else on the host)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if self.enabled and self.root_mode:
            os.fchown(fd, SANDBOX_UID, SANDBOX_UID)
        os.close(fd)

    def run(self, argv: list[str], binds: dict[str, str], rw_file: tuple[str, str], limits: Limits) -> Outcome:
        """Run, wait at most ``limits.wall_s`` seconds, kill everything left, and read the result file."""
        start = time.monotonic()
        proc = subprocess.Popen(self.command(argv, binds, rw_file, limits), stdin=subprocess.DEVNULL,
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
        seconds = time.monotonic() - start
        data, problem = read_result_file(rw_file[0], (limits.fsize_mb << 20) + 4096)
        return Outcome(proc.returncode, timed_out, data, problem, tail.text(), tail.total, seconds)

    def probe(self) -> None:
        """Check once that a sandbox starts here and can import NumPy; raise SandboxUnavailable otherwise."""
        if not self.enabled:
            return
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dlcourse-probe-") as tmp:
            os.chmod(tmp, 0o711)  # the sandbox user must reach the result file
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
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            return None, "the result file is too large"
        return b"".join(chunks), None
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- launcher (root only)


def _launch(argv: list[str]) -> None:
    """For a root grader: re-bind the read-only roots where uid 65534 can reach them, drop root, exec bwrap.

    ``argv`` is ``[--premount SRC DEST]... -- bwrap ...``. The bind mounts live in a private mount
    namespace of this process only. bubblewrap then runs exactly as it does for an ordinary user.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    split = argv.index("--")
    options, args = argv[:split], argv[split + 1:]
    if libc.unshare(_CLONE_NEWNS) != 0 or libc.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        sys.exit("dlcourse sandbox: could not create a mount namespace")
    for i in range(0, len(options), 3):
        source, target = options[i + 1].encode(), options[i + 2].encode()
        if source != target and libc.mount(source, target, None, _MS_BIND | _MS_REC, None) != 0:
            sys.exit(f"dlcourse sandbox: could not bind {options[i + 1]}")
    os.setgroups([])
    os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.execv(args[0], args)


if __name__ == "__main__" and sys.argv[1:2] == ["--launch"]:
    _launch(sys.argv[2:])
