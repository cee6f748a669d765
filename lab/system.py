"""Small host primitives the lab is built from: commands, processes, mounts, cgroups.

Processes are identified by PID *and* start time (``/proc/PID/stat`` field 22), so a
PID that the kernel has since given to another program is never signalled. A zombie
counts as gone: this machine's PID 1 reaps orphans late, so ``kill -0`` would report
a dead container as alive.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class LabError(Exception):
    """The lab could not be built, brought up or torn down; the message says what and where."""


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a host command; on failure the error names the command and its output."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
    return done


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, containers)")


# ----------------------------------------------------------------------------- host packages

#: Host command -> the Debian package that provides it.
HOST_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "nsenter": "util-linux",
    "ip": "iproute2",
}


def ensure_host_tools(tools: Sequence[str]) -> None:
    """Install the Debian packages of missing host tools (``apt-get``), or say which to install."""
    missing = sorted({HOST_TOOLS[t] for t in tools if shutil.which(t) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise LabError(f"the lab needs these packages on the host: {' '.join(missing)}")
    print(f"lab: installing host packages {' '.join(missing)}", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


# ----------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    """A process as the lab recorded it: PID and start time (clock ticks since boot)."""

    pid: int
    start: int


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[19])


def proc_of(pid: int) -> Proc | None:
    st = _stat(pid)
    return None if st is None else Proc(pid, st[2])


def alive(proc: Proc) -> bool:
    """The recorded process still runs (neither gone, a zombie, nor a new process on its PID)."""
    st = _stat(proc.pid)
    return st is not None and st[0] not in ("Z", "X") and st[2] == proc.start


def reap(proc: Proc) -> None:
    """Collect a zombie child of ours (a no-op for other processes' children)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)


def signal_proc(proc: Proc, sig: int) -> None:
    if alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def wait_gone(procs: Sequence[Proc], timeout: float) -> list[Proc]:
    """Wait until none of ``procs`` is alive; returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            reap(p)
        left = [p for p in procs if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def stop(first: Sequence[tuple[Proc, int]], then_kill: Sequence[Proc], timeout: float, repeat: float = 1.0) -> None:
    """Send each of ``first`` its signal (again every ``repeat`` seconds) and wait up to
    ``timeout`` for all of ``first`` and ``then_kill`` to end; then SIGKILL whoever is
    left, ``then_kill`` in its order first."""
    everyone = [*then_kill, *(p for p, _ in first)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p, sig in first:
            signal_proc(p, sig)
        if not wait_gone(everyone, min(repeat, max(0.0, deadline - time.monotonic()))):
            return
    for p in everyone:
        signal_proc(p, signal.SIGKILL)
    left = wait_gone(everyone, 10.0)
    if left:
        raise LabError(f"processes {[p.pid for p in left]} survived SIGKILL")


def children(pid: int) -> list[Proc]:
    """Live processes whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[1] == pid and st[0] not in ("Z", "X"):
                out.append(Proc(int(entry), st[2]))
    return out


def pid_namespace_init(pid: int) -> bool:
    """``pid`` is PID 1 of its own PID namespace (a container's init)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                return len(ids) > 1 and ids[-1] == "1"
    except FileNotFoundError:
        pass
    return False


def processes_rooted_under(directory: Path) -> list[Proc]:
    """Live processes whose root directory lies under ``directory`` (a container's processes)."""
    prefix = str(directory).rstrip("/") + "/"
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            root = os.readlink(f"/proc/{entry}/root")
        except OSError:
            continue
        if (root + "/").startswith(prefix):
            st = _stat(int(entry))
            if st is not None and st[0] not in ("Z", "X"):
                out.append(Proc(int(entry), st[2]))
    return out


# ----------------------------------------------------------------------------- mounts


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or under ``directory`` in our mount namespace, deepest first."""
    prefix = str(directory).rstrip("/")
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if point == prefix or point.startswith(prefix + "/"):
            found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


_libc = ctypes.CDLL(None, use_errno=True)
_MNT_DETACH = 2


def mount_overlay(target: Path, options: str) -> None:
    """mount(2) directly: the ``mount`` program would also start a ``/run/mount/utab`` on the host."""
    if _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, options.encode()) != 0:
        err = ctypes.get_errno()
        raise LabError(f"mounting the overlay on {target} ({options}) failed: {os.strerror(err)}")


def unmount(point: Path, lazy: bool = False) -> bool:
    return bool(_libc.umount2(str(point).encode(), _MNT_DETACH if lazy else 0) == 0)


def unmount_all_under(directory: Path) -> None:
    """Unmount everything at or under ``directory`` (lazily when busy)."""
    for point in mounts_under(directory):
        if not unmount(point):
            unmount(point, lazy=True)
    left = mounts_under(directory)
    if left:
        raise LabError(f"still mounted: {', '.join(map(str, left))}")


def remove_tree(directory: Path) -> None:
    """``rm -rf`` that refuses to cross a mount point (nothing mounted is ever deleted through)."""
    if not directory.exists() and not directory.is_symlink():
        return
    unmount_all_under(directory)
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- cgroups


def cgroup_roots() -> list[Path]:
    """The hierarchies a container's systemd uses: cgroup2 and the v1 ``name=systemd`` one."""
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = right.split()[:3]
        point = Path(_unescape(left.split()[4]))
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
            roots.append(point)
    return roots


def remove_cgroup(path: Path) -> None:
    """rmdir a cgroup and its (empty) descendants, deepest first."""
    if not path.is_dir():
        return
    subdirs = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for d in [*subdirs, path]:
        try:
            d.rmdir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LabError(f"cgroup {d} cannot be removed: {exc}") from exc
