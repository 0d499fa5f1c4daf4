"""The launcher every sandbox starts through: run as ``python -I -S -B launcher.py OPTIONS -- bwrap ...``.

It joins the sandbox's cgroups (so every process of the sandbox is counted from its first
instruction), and a fresh, empty session keyring (so the grader's keys are out of reach). For a
root grader it also, in a private mount namespace, re-binds the read-only roots where uid 65534
can reach them and mounts the private ``/tmp`` (a tmpfs bounded in size and inodes), then drops
root for uid and gid 65534 before it executes bubblewrap. Standard library only, and nothing is
imported after root is dropped: the Python installation may then be out of reach.
"""
from __future__ import annotations

import os
import sys

SANDBOX_UID = 65534  # "nobody"
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_SLAVE = 0x2, 0x4, 0x1000, 0x4000, 0x80000
_KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219, "armv7l": 311, "i686": 288}  # elsewhere a sandbox refuses to start


def _launch(argv: list[str]) -> None:
    """Join the sandbox's cgroups and a fresh session keyring; as root, also prepare mounts and drop root; exec bwrap.

    ``argv`` is ``[--cgroup PROCS]... [--drop-root [--premount SRC DEST]... [--tmpfs DEST OPTIONS]] -- bwrap ...``. The
    mounts live in a private mount namespace of this process only; bubblewrap then runs exactly as it
    does for an ordinary user. Any step that fails stops the launch: a sandbox never runs with less.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    split = argv.index("--")
    options, args = argv[:split], argv[split + 1:]
    i = 0
    premounts, tmpfs, drop_root = [], None, False
    while i < len(options):
        if options[i] == "--cgroup":
            try:
                with open(options[i + 1], "w") as handle:  # before exec: every later process is counted
                    handle.write(str(os.getpid()))
            except OSError as err:
                sys.exit(f"dlcourse sandbox: could not join the cgroup {options[i + 1]} ({err.strerror})")
            i += 2
        elif options[i] == "--premount":
            premounts.append((options[i + 1], options[i + 2]))
            i += 3
        elif options[i] == "--drop-root":
            drop_root = True
            i += 1
        elif options[i] == "--tmpfs":
            tmpfs = (options[i + 1], options[i + 2])
            i += 3
        else:
            sys.exit(f"dlcourse sandbox: unknown launcher option {options[i]}")
    if drop_root:
        if libc.unshare(_CLONE_NEWNS) != 0 or libc.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
            sys.exit("dlcourse sandbox: could not create a mount namespace")
        for root, source in premounts:
            if source != root and libc.mount(root.encode(), source.encode(), None, _MS_BIND | _MS_REC, None) != 0:
                sys.exit(f"dlcourse sandbox: could not bind {root}")
        if tmpfs and libc.mount(b"tmpfs", tmpfs[0].encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                                tmpfs[1].encode()) != 0:
            sys.exit("dlcourse sandbox: could not mount the private /tmp")
        os.setgroups([])
        os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
        os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    if _join_fresh_session_keyring(libc) < 0:
        sys.exit("dlcourse sandbox: could not join a fresh session keyring")
    os.execv(args[0], args)


def _join_fresh_session_keyring(libc) -> int:
    """``keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)``: a new, empty, anonymous session keyring."""
    number = _KEYCTL_SYSCALL.get(os.uname().machine)  # no import: after dropping root the stdlib may be out of reach
    if number is None:
        return -1
    return libc.syscall(number, 1, None)


if __name__ == "__main__":
    _launch(sys.argv[1:])
