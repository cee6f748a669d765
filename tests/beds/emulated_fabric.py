"""Datacenter stacks whose routers are VyOS API emulators, linked into one fabric (tests, benchmark).

No VyOS router runs here. Each router of the stacks becomes a :class:`VyosEmulator` on
loopback holding exactly its rendered config, with real X25519 keys filled in where the
providers would fill them (every member's key pair made here, so the peers' public keys
match), and the emulators are linked (``vyos_opstate.link``) so ``/show`` reports what
they would learn from each other. The hypervisors that are VTEPs cannot be reached over
SSH here; they take part as *static speakers*: their WireGuard peers, BGP neighbours and
segments, from the plan, in the shape a router's config has, so the routers see their
tunnels, sessions and type-3 routes. Only the routers are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabric import stackfile
from fabric.deferred import Deferred
from fabric.devices import read
from fabric.health import expect
from fabric.render.vyos import render_router
from fabric.topology import NodePlan, Plan
from providers.keys import generate_keypair
from tests.beds.vyos_emulator import VyosEmulator
from tests.beds.vyos_opstate import link
from tests.engine.project import bootstrap_config

API_KEY = "fabric-health-test-key"


@dataclass
class StaticVtep:
    """A Linux VTEP (a hypervisor) in the linked fabric: not read, only seen by the routers."""

    hostname: str
    tree: dict[str, Any]
    fabric: list[Any] = field(default_factory=list)

    def config_tree(self) -> dict[str, Any]:
        return self.tree

    def answering(self) -> bool:
        return True


def _vtep_tree(plan: Plan, vtep: NodePlan, private: str, public: Mapping[str, str]) -> dict[str, Any]:
    peers = {p.name: {"public-key": public[p.name], "allowed-ips": list(p.allowed_ips)} for p in vtep.wireguard_peers}
    return {
        "interfaces": {
            "wireguard": {"wg0": {"address": [f"{vtep.mesh_address}/32"], "private-key": private, "peer": peers}},
            "vxlan": {
                c.segment.vxlan: {"vni": str(c.segment.vni), "source-address": str(vtep.mesh_address)}
                for c in vtep.tenants
            },
        },
        "protocols": {"bgp": {"system-as": str(plan.asn), "neighbor": {n.address: {} for n in vtep.bgp_neighbors}}},
    }


def _filled(plan: Plan, router: str, keys: Mapping[str, tuple[str, str]]) -> list[tuple[str, ...]]:
    """The router's rendered commands with the values an apply fills in: its private key, the
    API key, every peer's real public key (also where an offline plan has a peer stack's stand-in)."""
    out = []
    for c in render_router(plan, next(r for r in plan.routers if r.name == router)).commands():
        value = c.value
        if len(c.path) >= 3 and c.path[-3] == "peer" and c.path[-1] == "public-key":
            value = keys[c.path[-2]][1]
        elif isinstance(value, Deferred):
            value = {"wireguard-private-key": keys[router][0], "vyos-api-key": API_KEY}.get(value.name) or (
                keys[value.name][1] if value.kind == "public-key" else "192.0.2.1"
            )
        out.append((*c.path, value) if value is not None else c.path)
    return out


@dataclass
class EmulatedFabric:
    """The routers of ``stacks`` as linked emulators, and how to read and verify them."""

    project: Path
    stacks: Sequence[str]
    emulators: dict[str, VyosEmulator] = field(default_factory=dict)
    statics: list[StaticVtep] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plans = {s: stackfile.load_stack(self.project, s).plan for s in self.stacks}
        members = {m.name for p in self.plans.values() for m in p.members}
        keys = {name: generate_keypair() for name in sorted(members)}
        public = {name: pair[1] for name, pair in keys.items()}
        for plan in self.plans.values():
            for r in plan.routers:
                initial = [*bootstrap_config(API_KEY, r.vyos_version), *_filled(plan, r.name, keys)]
                self.emulators[r.name] = VyosEmulator(API_KEY, r.vyos_version, initial=initial, hostname=r.name).start()
            for hv in plan.hypervisors:
                if hv.vtep is not None:
                    tree = _vtep_tree(plan, hv.vtep, keys[hv.vtep.name][0], public)
                    self.statics.append(StaticVtep(hv.vtep.name, tree))
        link([*self.emulators.values(), *self.statics])
        full = expect.expectations(self.plans, list(self.stacks))
        self.fabric = expect.Fabric(tuple(d for d in full.devices if d.kind == expect.ROUTER), full.names, full.unknown)

    def targets(self) -> list[read.Target]:
        return [
            read.Target(
                name, expect.ROUTER, {"router": name, "endpoint": e.url, "tls": {"fingerprint": e.fingerprint_sha256}}
            )
            for name, e in self.emulators.items()
        ]

    def read(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        wanted = set(names) if names is not None else None
        targets = [t for t in self.targets() if wanted is None or t.name in wanted]
        return read.read_all(targets, read.Credentials(API_KEY, None))

    def close(self) -> None:
        for e in self.emulators.values():
            e.stop()
