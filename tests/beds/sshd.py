"""A real OpenSSH server on loopback for host-provider tests (Debian's openssh-server).

Each server gets a throwaway host key and accepts one throwaway user key. Sessions run
with ``PATH`` starting at the server's own ``bin`` directory, so a test can put logging
stand-ins there for the tools a container cannot run for real (``networkctl``,
``systemctl``, ``udevadm``); tools that do run here (``ovs-vsctl``) are the real ones.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


class Sshd:
    """``start()`` an sshd in ``workdir``; ``host_key_line``/``fingerprint`` pin it; ``user_key`` logs in."""

    def __init__(
        self, workdir: Path, user_key: Path | None = None, env: dict[str, str] | None = None, host_keys: int = 1
    ) -> None:
        """``user_key``: a private key file to accept (default: a new one for this server);
        ``env``: more variables for every session (e.g. ``OVS_RUNDIR`` of a test switch);
        ``host_keys`` 2: an RSA host key too, as many real hosts have."""
        self.env = env or {}
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bin = self.dir / "bin"
        self.bin.mkdir(exist_ok=True)
        self.port = _free_port()
        self.host_key = self.dir / "host_ed25519"
        self.user_key_path = user_key or self.dir / "user_ed25519"
        keygen(self.host_key)
        if user_key is None:
            keygen(self.user_key_path)
        self.rsa_host_key = self.dir / "host_rsa" if host_keys > 1 else None
        if self.rsa_host_key is not None:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(self.rsa_host_key)], check=True
            )
        (self.dir / "authorized_keys").write_text(Path(f"{self.user_key_path}.pub").read_text())
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def user_key(self) -> str:
        """The private key as PEM text (what the stack holds as a secret)."""
        return self.user_key_path.read_text()

    @property
    def host_key_line(self) -> str:
        """``ssh-ed25519 AAAA...``: the known_hosts form of the server's key."""
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"{kind} {blob}"

    @property
    def fingerprint(self) -> str:
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.split()[1]  # "SHA256:..."

    def start(self) -> Sshd:
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    *([f"HostKey {self.rsa_host_key}"] if self.rsa_host_key else []),
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "MaxStartups 100",
                    "SetEnv "
                    + " ".join(
                        [
                            f"PATH={self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            *(f"{k}={v}" for k, v in self.env.items()),
                        ]
                    ),
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        self.process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(self.dir / "sshd.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()}") from None
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stand_ins(bin_dir: Path, log: Path, tools: tuple[str, ...]) -> None:
    """Logging stand-ins for tools a container cannot run for real."""
    for tool in tools:
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
        path.chmod(0o755)
