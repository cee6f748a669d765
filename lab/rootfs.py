"""The lab nodes' root file system: Debian bookworm, built once with debootstrap and cached.

Every node boots an overlay of this one tree (its own writes go to its upper layer),
so the tree is built once per machine and never changed afterwards. It lives under
``~/.cache/fabric/lab/rootfs-<key>`` where ``key`` hashes the suite, the package
list, ``BUILD_VERSION`` and the configure script: a change of any of them builds a
new tree next to the old one (remove old ``rootfs-*`` directories by hand, or with
``python -m lab rootfs --prune``). A build happens in ``rootfs-<key>.tmp-<pid>`` and is
renamed into place only once complete, under a lock, so a crashed or concurrent build
never leaves a half tree where the lab would use it.

What the tree holds beyond Debian's defaults (the configure script below):

* systemd as init with systemd-networkd, sshd and FRR enabled; nothing that needs a
  terminal (the gettys are masked) and no timer that would reach for the internet
  (apt's daily runs and the like are masked); a volatile journal.
* sshd with the Ed25519 host key only and root login by key only. The tree holds *no*
  host key, machine id or hostname: each node gets its own at bring-up.
* an empty ``/etc/resolv.conf``: a node resolves nothing and has no default route.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab.system import LabError, ensure_host_tools, remove_tree, require_root

SUITE = "bookworm"
#: Debian's mirror (``FABRIC_LAB_MIRROR`` overrides it; not part of the cache key).
MIRROR = "http://deb.debian.org/debian"
#: Raise when the build changes in a way the package list and script do not show.
BUILD_VERSION = 1
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "iputils-ping",
    "frr",
    "frr-pythontools",  # frr-reload.py (systemctl reload frr), with python3
    "wireguard-tools",
    "wireguard-go",  # the kernel has no WireGuard: wg-quick falls back to it
    "nftables",
    "tcpdump",
    "procps",
    "sudo",
)
#: Marks a finished tree (written last, before the rename); holds what it was built from.
MARKER = "etc/fabric-lab-rootfs.json"

CONFIGURE = r"""set -eu
# Per node at bring-up instead: machine id (networkd derives bridge MACs from it),
# host keys, hostname.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_*
echo localhost > /etc/hostname
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
# No DNS (and no default route): a node reaches nothing outside the lab.
: > /etc/resolv.conf
systemctl enable systemd-networkd.service ssh.service frr.service
# No terminals to serve in a container, and no timer that reaches for the internet.
systemctl mask console-getty.service container-getty@.service getty@tty1.service \
    serial-getty@.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-pstore.service
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' > /etc/systemd/journald.conf.d/fabric-lab.conf
cat > /etc/ssh/sshd_config.d/fabric-lab.conf <<'EOF'
# fabric lab: the node's Ed25519 host key only (derived per node, pinned by the lab
# stack); root logs in by key only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
"""

Progress = Callable[[str], None]


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """``$FABRIC_LAB_CACHE``, else ``$XDG_CACHE_HOME/fabric/lab``, else ``~/.cache/fabric/lab``."""
    if os.environ.get("FABRIC_LAB_CACHE"):
        return Path(os.environ["FABRIC_LAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fabric" / "lab"


def rootfs_key() -> str:
    recipe = {"suite": SUITE, "packages": PACKAGES, "version": BUILD_VERSION, "configure": CONFIGURE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def rootfs_path() -> Path:
    """Where the tree for the current recipe is (or will be)."""
    return cache_dir() / f"rootfs-{rootfs_key()}"


def is_built(path: Path) -> bool:
    return (path / MARKER).is_file()


def ensure_rootfs(progress: Progress = stderr_progress) -> Path:
    """The cached tree, built first if needed (a few minutes; progress lines meanwhile)."""
    final = rootfs_path()
    if is_built(final):
        return final
    require_root()
    ensure_host_tools(["debootstrap"])
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build of the same tree: wait for it
        if is_built(final):
            return final
        for stale in final.parent.glob(f"{final.name}.tmp-*"):
            progress(f"lab rootfs: removing an unfinished build {stale}")
            remove_tree(stale)
        if final.exists():  # a tree without its marker: never finished
            remove_tree(final)
        tmp = final.parent / f"{final.name}.tmp-{os.getpid()}"
        utab_dir = Path("/run/mount")  # debootstrap's mount calls start util-linux's utab there
        had_utab_dir = utab_dir.exists()
        started = time.monotonic()
        progress(f"lab rootfs: building Debian {SUITE} in {final} (takes a few minutes, once)")
        try:
            _debootstrap(tmp, final.parent / f"{final.name}.log", progress, started)
            progress(f"lab rootfs: configuring ({time.monotonic() - started:.0f} s)")
            _configure(tmp)
            (tmp / MARKER).write_text(
                json.dumps(
                    {"key": final.name, "suite": SUITE, "packages": PACKAGES, "build_version": BUILD_VERSION},
                    indent=1,
                )
                + "\n"
            )
            os.rename(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
        finally:
            if not had_utab_dir:
                with contextlib.suppress(OSError):
                    utab_dir.rmdir()  # only when empty
        progress(f"lab rootfs: ready in {time.monotonic() - started:.0f} s")
    return final


#: debootstrap's per-package verbs, grouped into the phases a progress line announces.
_PHASES = {"Retrieving": "download", "Validating": "download", "Checking": "download", "Valid": "download"}


def _debootstrap(target: Path, log_path: Path, progress: Progress, started: float) -> None:
    """debootstrap, printing each phase's first line and a heartbeat; the full output goes to ``log_path``."""
    mirror = os.environ.get("FABRIC_LAB_MIRROR", MIRROR)
    argv = [
        "debootstrap",
        "--variant=minbase",
        "--components=main",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        mirror,
    ]
    phase, last_print, last_line = "", time.monotonic(), ""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            line = line.rstrip()
            last_line = line or last_line
            words = line.split()
            verb = words[1] if len(words) > 1 and words[0] in ("I:", "W:", "E:") else phase
            verb = _PHASES.get(verb, verb)
            now = time.monotonic()
            if verb != phase or now - last_print >= 20 or line.startswith("E:"):
                progress(f"lab rootfs: [{now - started:4.0f} s] {line}")
                phase, last_print = verb, now
        code = proc.wait()
    if code != 0:
        raise LabError(f"debootstrap failed ({code}): {last_line} (full log: {log_path})")


def _configure(root: Path) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["chroot", str(root), "/bin/sh", "-s"], input=CONFIGURE, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise LabError(f"configuring the lab rootfs failed: {done.stderr.strip()}")


def prune(progress: Progress = stderr_progress, keep: Path | None = None) -> list[Path]:
    """Remove cached trees other than the current one (never one a running lab uses: pass it as ``keep``)."""
    current = {rootfs_path(), *([keep] if keep else [])}
    removed: list[Path] = []
    base = cache_dir()
    if not base.is_dir():
        return removed
    for path in sorted(base.glob("rootfs-*")):
        name = path.name.removeprefix("rootfs-")
        if not (path.is_dir() and len(name) == 16 and all(c in "0123456789abcdef" for c in name)):
            continue  # logs, locks and builds in progress
        if path in current:
            continue
        progress(f"lab rootfs: removing {path}")
        remove_tree(path)
        for extra in (path.with_name(f"{path.name}.log"), path.with_name(f"{path.name}.lock")):
            extra.unlink(missing_ok=True)
        removed.append(path)
    return removed
