"""Run the real Pulumi CLI on a copy of the project, with a local file backend.

Engine tests and benchmarks use this: a throwaway project directory (the program,
the stack files, the venv by symlink), a backend in a temp folder, the example
passphrase, no update checks and no plugin downloads. The CLI is the one the set-up
step installed; it is never skipped for: a missing CLI fails with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.beds.sshd import Sshd, keygen, stand_ins
from tests.beds.vyos_emulator import VyosEmulator

#: What a container cannot run for real, stood in for on the test hosts (see tests/beds/sshd.py):
#: no systemd as PID 1, no WireGuard module, no nftables of the test's own to change.
HOST_STAND_INS = ("networkctl", "systemctl", "udevadm", "ip", "ovs-vsctl", "wg", "wg-quick", "nft", "sysctl")

ROOT = Path(__file__).resolve().parents[2]
PULUMI_BIN = ROOT / ".tools" / "pulumi" / "bin"
PASSPHRASE = "fabric-example"
PROJECT_FILES = (
    "Pulumi.yaml",
    "Pulumi.dc1.yaml",
    "Pulumi.dc2.yaml",
    "Pulumi.lab.yaml",
    "__main__.py",
    "markers.py",
    "requirements.txt",
)
PROJECT_DIRS = ("fabric", "providers")


class PulumiError(AssertionError):
    """A pulumi command failed; the message carries its output."""


class Project:
    """A copy of the project with its own backend: ``run("up", "-s", "dc1", "--yes")``."""

    def __init__(self, workdir: Path) -> None:
        if not (PULUMI_BIN / "pulumi").exists():
            raise PulumiError(f"no Pulumi CLI in {PULUMI_BIN}: run ./scripts/setup.sh first")
        self.dir = workdir / "project"
        self.state = workdir / "state"
        self.dir.mkdir()
        self.state.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(ROOT / name, self.dir / name)
        for name in PROJECT_DIRS:
            shutil.copytree(ROOT / name, self.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
        (self.dir / "venv").symlink_to(ROOT / "venv")
        self.env = {
            **os.environ,
            "PATH": f"{PULUMI_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_HOME": str(workdir / "pulumi-home"),
            "NO_COLOR": "1",
        }
        self.env.pop("PULUMI_ACCESS_TOKEN", None)

        self.emulators: dict[str, VyosEmulator] = {}
        self.hosts: dict[str, Sshd] = {}
        self.workdir = workdir
        self.user_key = workdir / "ssh_user_ed25519"
        keygen(self.user_key)

    def emulate_hosts(self, stack: str) -> dict[str, Sshd]:
        """A real sshd on loopback per hypervisor of ``stack``; the stack's ssh config points at them.

        Each host's files land under its own directory (the ``ssh.root`` option), and the
        tools a container cannot run log their calls to ``<host dir>/calls.log``.
        """
        path = self.dir / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        started = {}
        for hv in data["config"]["fabric:datacenter"]["hypervisors"]:
            home = self.workdir / "hosts" / hv["name"]
            server = Sshd(home / "sshd", user_key=self.user_key)
            stand_ins(server.bin, home / "calls.log", HOST_STAND_INS)
            for nic in hv["nics"]:  # the NICs' SR-IOV knobs, as sysfs would offer them
                numvfs = home / "root" / "sys/class/net" / nic["name"] / "device/sriov_numvfs"
                numvfs.parent.mkdir(parents=True, exist_ok=True)
                numvfs.write_text("0\n")
            server.start()
            # Reached over loopback; in the plan it keeps its public address (its mesh endpoint).
            hv.setdefault("public_address", hv["ssh"]["address"])
            hv["ssh"] = {
                "address": "127.0.0.1",
                "port": server.port,
                "host_key": server.host_key_line,
                "root": str(home / "root"),
            }
            started[hv["name"]] = server
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        self.hosts.update(started)
        self.run("config", "set", "--secret", "fabric:ssh_private_key", "-s", stack, stdin=self.user_key.read_text())
        return started

    def emulate_devices(self, stack: str) -> None:
        """Every router an API emulator and every hypervisor an sshd: nothing leaves loopback."""
        self.emulate_routers(stack)
        self.emulate_hosts(stack)

    def emulate_routers(self, stack: str, api_key: str = "fabric-test-key", **options: Any) -> dict[str, VyosEmulator]:
        """Start a VyOS API emulator per router of ``stack`` and point the stack's config at them.

        Every router's ``api`` becomes 127.0.0.1 and its emulator's port, with the emulator's
        certificate fingerprint pinned, and the stack's API key secret is set to ``api_key``:
        no test ever reaches an address from the example stacks.
        """
        path = self.dir / f"Pulumi.{stack}.yaml"
        data = yaml.safe_load(path.read_text())
        started = {}
        for router in data["config"]["fabric:datacenter"]["routers"]:
            version = str(router.get("vyos_version", "1.5"))
            emulator = VyosEmulator(api_key, version, initial=bootstrap_config(api_key, version), **options).start()
            router["api"] = {"address": "127.0.0.1", "port": emulator.port, "fingerprint": emulator.fingerprint_sha256}
            started[router["name"]] = emulator
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        self.emulators.update(started)
        self.run("config", "set", "--secret", "fabric:vyos_api_key", api_key, "-s", stack)
        return started

    def close(self) -> None:
        for emulator in self.emulators.values():
            emulator.stop()
        for server in self.hosts.values():
            server.stop()

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise PulumiError(
                f"pulumi {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self, *stacks: str) -> None:
        for stack in stacks:
            self.run("stack", "init", stack)

    def up(self, stack: str) -> dict[str, Any]:
        """``pulumi up`` and its change summary (``{"create": 12, ...}``)."""
        self.run("up", "-s", stack, "--yes", "--skip-preview")
        history = json.loads(self.run("stack", "history", "-s", stack, "--json").stdout)
        summary: dict[str, Any] = history[0]["resourceChanges"]
        return summary

    def outputs(self, stack: str, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "-s", stack, "--json", *(["--show-secrets"] if show_secrets else [])]
        outputs: dict[str, Any] = json.loads(self.run(*args).stdout)
        return outputs

    def export(self, stack: str, show_secrets: bool = False) -> str:
        return self.run("stack", "export", "-s", stack, *(["--show-secrets"] if show_secrets else [])).stdout

    def preview_json(self, stack: str) -> dict[str, Any]:
        preview: dict[str, Any] = json.loads(self.run("preview", "-s", stack, "--json").stdout)
        return preview


def add_tenant_networks(project: Project, tenant: str, vm: str | None = None) -> None:
    """A newcomer's change in Pulumi.yaml: on ``tenant``, a second segment ``db``, a published
    port (8443 on 5.254.54.41 of dc1 to its ``.100`` on 443), an allow entry for ``db`` only
    and, given a VM of dc1 with a fixed address, one for that VM only."""
    path = project.dir / "Pulumi.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    t = next(t for t in data["config"]["fabric:tenants"]["value"] if t["name"] == tenant)
    t["segments"] = [{"name": "db", "id": 1}]
    to = f"100.65.{t['id']}.100"
    t["publish"] = [
        {"id": 1, "datacenter": "dc1", "public_address": "5.254.54.41", "port": 8443, "to": to, "to_port": 443}
    ]
    allow = t.setdefault("egress", {}).setdefault("allow", [])
    allow.append({"destination": "192.0.2.0/24", "protocol": "tcp", "ports": [5432], "source": "db"})
    if vm is not None:
        allow.append({"destination": "198.51.100.80/32", "protocol": "tcp", "ports": [6443], "source": f"dc1/{vm}"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def bootstrap_config(api_key: str, version: str) -> list[tuple[str, ...]]:
    """What a freshly installed router holds before fabric's first apply: its API, its NIC."""
    config: list[tuple[str, ...]] = [
        ("system", "host-name", "vyos"),
        ("interfaces", "ethernet", "eth0", "hw-id", "52:54:00:12:34:56"),
        ("service", "https", "api", "keys", "id", "fabric", "key", api_key),
    ]
    if version != "1.4":
        config.append(("service", "https", "api", "rest"))
    return config
