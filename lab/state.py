"""What a lab created, persisted as JSON so that ``down`` works from any process, after a crash too.

``up`` records every namespace, mount, directory, cgroup and process *before* (or, for
a PID, right as) it creates it and saves the file at once, so the file never misses
something that exists; ``down`` tolerates entries that were never created. Everything
``down`` removes is named here, and nothing else is touched.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.system import LabError, Proc

#: The lab's run directory (node layers, console logs, the state file); ``FABRIC_LAB_RUN`` overrides it.
RUN_DIR = Path("/run/fabric-lab")
STATE_NAME = "state.json"
VERSION = 1


def run_dir() -> Path:
    return Path(os.environ.get("FABRIC_LAB_RUN") or RUN_DIR)


def state_file() -> Path:
    return run_dir() / STATE_NAME


@dataclass
class NodeState:
    """One node: its addresses, names, paths and processes."""

    name: str
    underlay: str  # address/prefix on the underlay bridge
    ssh: str  # management address (sshd listens on it)
    host_side: str  # the root namespace's address on the management link
    netns: str
    machine: str  # systemd-nspawn's machine name
    host_veth: str  # management veth, root namespace side
    underlay_veth: str  # underlay veth, bridge side (in the underlay namespace)
    dir: str  # the node's run directory: upper, work, root (the overlay), console.log
    cgroups: list[str] = field(default_factory=list)
    nspawn: Proc | None = None
    leader: Proc | None = None  # the container's PID 1 (systemd)

    @property
    def root(self) -> Path:
        return Path(self.dir) / "root"

    @property
    def console_log(self) -> Path:
        return Path(self.dir) / "console.log"


@dataclass
class EndpointState:
    """A tenant endpoint: a namespace whose ``eth0`` is a veth into the node, on ``bridge``."""

    node: str
    name: str
    netns: str
    node_veth: str
    bridge: str
    address: str
    mtu: int
    #: The endpoint's MAC ("" for the kernel's); a port of an l2 node must keep to the one the fabric gave it.
    mac: str = ""


@dataclass
class LabState:
    path: str  # the state file
    run_dir: str
    rootfs: str
    underlay_netns: str
    underlay_bridge: str
    underlay_mtu: int
    nodes: list[NodeState] = field(default_factory=list)
    endpoints: list[EndpointState] = field(default_factory=list)
    #: Shared directories that did not exist before the lab (``/run/netns``, cgroup parents...):
    #: removed by ``down`` only if empty.
    created_dirs: list[str] = field(default_factory=list)
    version: int = VERSION

    def node(self, name: str) -> NodeState:
        for n in self.nodes:
            if n.name == name:
                return n
        raise LabError(f"no node {name!r} in the lab (nodes: {', '.join(n.name for n in self.nodes)})")

    def endpoint(self, node: str, name: str) -> EndpointState:
        for e in self.endpoints:
            if (e.node, e.name) == (node, name):
                return e
        raise LabError(f"no endpoint {name!r} on node {node!r}")

    def save(self) -> None:
        """Write atomically (a crash leaves the old file or the new one, never half of one)."""
        path = Path(self.path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path | None = None) -> LabState:
        path = path or state_file()
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab is up (no state file {path})") from None
        except ValueError as exc:
            raise LabError(f"{path}: not a lab state file: {exc}") from exc
        if raw.get("version") != VERSION:
            raise LabError(f"{path}: state version {raw.get('version')}, this code reads {VERSION}")

        def proc(p: Any) -> Proc | None:
            return None if p is None else Proc(int(p["pid"]), int(p["start"]))

        nodes = [NodeState(**{**n, "nspawn": proc(n["nspawn"]), "leader": proc(n["leader"])}) for n in raw["nodes"]]
        endpoints = [EndpointState(**e) for e in raw["endpoints"]]
        return cls(**{**raw, "path": str(path), "nodes": nodes, "endpoints": endpoints})
