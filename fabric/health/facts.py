"""What a device says about itself, in one shape for routers and Linux VTEPs.

``None`` for a whole concern means it could not be read (the reason is in ``errors``), so
a check says "could not read" instead of "missing"; an empty tuple means read, and none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class BgpSession:
    """One BGP (L2VPN EVPN) neighbour as FRR reports it."""

    peer: str
    state: str
    uptime_s: int
    #: EVPN prefixes received (0 unless established).
    prefixes: int
    description: str = ""

    @property
    def established(self) -> bool:
        return self.state == "Established"


@dataclass(frozen=True)
class WireguardPeer:
    """One WireGuard peer: its allowed IPs name it (a member's mesh address /32)."""

    public_key: str
    endpoint: str
    allowed_ips: tuple[str, ...]
    #: Seconds since the latest handshake; None: never.
    handshake_age_s: int | None
    rx_bytes: int
    tx_bytes: int

    @property
    def mesh_addresses(self) -> tuple[str, ...]:
        return tuple(a.split("/")[0] for a in self.allowed_ips if a.endswith("/32"))


@dataclass(frozen=True)
class VniState:
    """A VNI as BGP has it: local VTEP, remote VTEPs (the type-3 routes it imports), route
    targets, and the EVPN routes it imports per route type."""

    vni: int
    kind: str  # "L2" or "L3"
    vtep: str = ""
    remote_vteps: tuple[str, ...] = ()
    import_rts: tuple[str, ...] = ()
    export_rts: tuple[str, ...] = ()
    #: Whether the kernel has the VNI's device (BGP keeps configured VNIs the kernel lost).
    in_kernel: bool = True
    #: The tenant VRF (L3 VNIs).
    vrf: str = ""
    #: EVPN route type ("2", "3", "5") -> routes.
    routes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class VrrpState:
    """One VRRP group as keepalived reports it (``show vrrp``)."""

    group: str
    interface: str
    vrid: int
    state: str  # MASTER, BACKUP, FAULT, INIT

    @property
    def master(self) -> bool:
        return self.state == "MASTER"


@dataclass(frozen=True)
class DeviceFacts:
    """Everything read from one device in one pass."""

    device: str
    kind: str
    #: Seconds the reading took.
    took_s: float = 0.0
    #: What could not be read, and why (a device that did not answer has only this).
    errors: tuple[str, ...] = ()
    bgp: tuple[BgpSession, ...] | None = None
    wireguard: tuple[WireguardPeer, ...] | None = None
    vnis: tuple[VniState, ...] | None = None
    #: Linux VTEPs: the kernel's flood list per VXLAN device (``bridge fdb``'s all-zero entries).
    flood: Mapping[str, tuple[str, ...]] | None = None
    vrrp: tuple[VrrpState, ...] | None = None
    #: Routes per VRF (routers: the default VRF and every tenant VRF).
    vrf_routes: Mapping[str, int] | None = None

    @property
    def reached(self) -> bool:
        return any(v is not None for v in (self.bgp, self.wireguard, self.vnis, self.vrrp, self.vrf_routes))

    def vni(self, vni: int) -> VniState | None:
        return next((v for v in self.vnis or () if v.vni == vni), None)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reached"] = self.reached
        return out
