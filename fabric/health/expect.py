"""What every device of a fabric should show, from the plans of its stacks.

The expectations of one device come from its own stack's plan (its BGP neighbours and
WireGuard peers are already there), except one: which remote VTEPs it should flood
each segment to. That is every other member carrying the segment, in any stack, so the
plans of the peer stacks are read too; a member of a peer stack whose file is not in
the project is *unknown* (its VTEPs are neither required nor refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fabric import addressing as ap
from fabric.render.vyos.vrrp import group_name
from fabric.topology import NodePlan, Plan, SegmentPlan

ROUTER = "router"
NODE = "node"
HYPERVISOR = "hypervisor"


@dataclass(frozen=True)
class Vni:
    """A VNI a device carries: a tenant segment (L2, flooded to ``vteps``) or a tenant's L3 VNI."""

    vni: int
    tenant: str
    #: The segment's name; None for the tenant's L3 VNI (routers only).
    segment: str | None
    route_target: str
    #: Mesh addresses of the other VTEPs of the segment (L2 only).
    vteps: frozenset[str] = frozenset()
    #: The segment's VXLAN device on a Linux VTEP.
    device: str = ""

    @property
    def l3(self) -> bool:
        return self.segment is None

    @property
    def label(self) -> str:
        return f"{self.vni} ({self.tenant} {self.segment or 'L3'})"


@dataclass(frozen=True)
class VrrpGroup:
    """A tenant segment's gateway group at a site, held by the site's routers."""

    name: str
    tenant: str
    site: str


@dataclass(frozen=True)
class Device:
    """One device to read, and what it should show."""

    name: str
    kind: str
    stack: str
    site: str
    mesh_address: str
    #: Planned BGP neighbours and WireGuard peers: mesh address -> member name.
    bgp: Mapping[str, str]
    wireguard: Mapping[str, str]
    vnis: Mapping[int, Vni]
    vrrp: tuple[VrrpGroup, ...] = ()
    #: Members neither required nor refused here (sessions, peers, VTEPs): another stack's,
    #: when a stack is held only to what its own apply makes true.
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Fabric:
    """The devices of the stacks read, and what is known of the rest of the mesh."""

    devices: tuple[Device, ...]
    #: Every known member's name by mesh address (for messages).
    names: Mapping[str, str] = field(default_factory=dict)
    #: Mesh addresses of members whose segments are unknown (their stack file is not here).
    unknown: frozenset[str] = frozenset()

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    def name_of(self, address: str) -> str:
        return self.names.get(address, address)


def _carried(plan: Plan) -> Iterable[tuple[str, str, int]]:
    """(member name, mesh address, L2 VNI) for every segment every member of the plan carries."""
    for r in plan.routers:
        for t in r.tenants:
            for on in t.segments:
                yield r.name, str(r.mesh_address), on.segment.vni
    for vtep in (*_vteps(plan), *(c.node for c in plan.clouds)):
        for carried in vtep.tenants:
            yield vtep.name, str(vtep.mesh_address), carried.segment.vni


def _vteps(plan: Plan) -> list[NodePlan]:
    """The plan's Linux VTEPs reached over SSH: frr and l2 nodes, hypervisors in the mesh (a
    cloud node's host key is made at its first boot, so nothing can pin it: its sessions and
    tunnels are seen from the other side)."""
    return [*plan.nodes, *(hv.vtep for hv in plan.hypervisors if hv.vtep is not None)]


def expectations(plans: Mapping[str, Plan], read: Sequence[str], peers: bool = True) -> Fabric:
    """What the devices of the stacks ``read`` should show; ``plans`` holds those stacks' plans
    and every peer stack's that could be loaded. ``peers=False`` holds the stacks only to what
    their own apply makes true, since a peer stack learns of a change only at its own next
    ``up``: the other stacks' members become optional on every device, and so do the stacks'
    own VTEPs when none of their members reflects routes (their type-3 routes then reach each
    other only through another stack's reflectors)."""
    carriers: dict[int, dict[str, str]] = {}
    names: dict[str, str] = {}
    local: set[str] = set()
    for plan in plans.values():
        for name, address, vni in _carried(plan):
            carriers.setdefault(vni, {})[address] = name
        for m in plan.members:
            names[m.mesh_address] = m.name
            local.add(m.mesh_address)
    for plan in plans.values():
        for m in plan.remote:
            names.setdefault(m.mesh_address, m.name)
    devices = [d for stack in read for d in _devices(stack, plans[stack], carriers)]
    if not peers:
        devices = [_own_part(d, plans[d.stack]) for d in devices]
    return Fabric(tuple(devices), names, frozenset(names) - local)


def _own_part(d: Device, plan: Plan) -> Device:
    """What a device's own stack's apply makes true of it (see :func:`expectations`)."""
    mine = {m.mesh_address for m in plan.members}
    others = {*d.bgp, *d.wireguard, *(a for v in d.vnis.values() for a in v.vteps)} - mine
    reflected = any(m.is_reflector for m in plan.members)
    optional = others | (set() if reflected else {a for v in d.vnis.values() for a in v.vteps})
    return replace(
        d,
        bgp={a: n for a, n in d.bgp.items() if a not in optional},
        wireguard={a: n for a, n in d.wireguard.items() if a not in others},
        vnis={n: replace(v, vteps=v.vteps - optional) for n, v in d.vnis.items()},
        optional=frozenset(optional),
    )


def _segments(
    asn: int, address: str, carried: Iterable[tuple[str, SegmentPlan]], carriers: Mapping[int, Mapping[str, str]]
) -> dict[int, Vni]:
    """A VTEP's segments, from (tenant name, segment) pairs."""
    return {
        s.vni: Vni(
            s.vni, tenant, s.name, ap.segment_route_target(asn, s.vni), frozenset(carriers[s.vni]) - {address}, s.vxlan
        )
        for tenant, s in carried
    }


def _devices(stack: str, plan: Plan, carriers: Mapping[int, Mapping[str, str]]) -> list[Device]:
    out = []
    for r in plan.routers:
        address = str(r.mesh_address)
        vnis = _segments(
            plan.asn, address, ((t.tenant.name, on.segment) for t in r.tenants for on in t.segments), carriers
        )
        vnis |= {t.tenant.l3_vni: Vni(t.tenant.l3_vni, t.tenant.name, None, t.tenant.route_target) for t in r.tenants}
        out.append(
            Device(
                name=r.name,
                kind=ROUTER,
                stack=stack,
                site=r.site,
                mesh_address=address,
                bgp={n.address: n.name for n in r.bgp_neighbors},
                wireguard={p.allowed_ips[0].split("/")[0]: p.name for p in r.wireguard_peers},
                vnis=vnis,
                vrrp=tuple(
                    VrrpGroup(group_name(t.tenant.name, on.segment, r.site), t.tenant.name, r.site)
                    for t in r.tenants
                    for on in t.segments
                ),
            )
        )
    for vtep in _vteps(plan):
        address = str(vtep.mesh_address)
        carried = ((c.tenant.name, c.segment) for c in vtep.tenants)
        out.append(
            Device(
                name=vtep.name,
                kind=HYPERVISOR if vtep.kind == "hypervisor" else NODE,
                stack=stack,
                site=vtep.site,
                mesh_address=address,
                bgp={n.address: n.name for n in vtep.bgp_neighbors},
                wireguard={p.allowed_ips[0].split("/")[0]: p.name for p in vtep.wireguard_peers},
                vnis=_segments(plan.asn, address, carried, carriers),
            )
        )
    return out


def to_data(fabric: Fabric) -> dict[str, Any]:
    """The expectations as plain data (a resource input), read back by :func:`from_data`."""
    return {
        "devices": [
            {
                **{k: v for k, v in asdict(d).items() if k not in ("vnis", "vrrp")},
                "vnis": [{**asdict(v), "vteps": sorted(v.vteps)} for v in d.vnis.values()],
                "vrrp": [asdict(g) for g in d.vrrp],
                "optional": sorted(d.optional),
            }
            for d in fabric.devices
        ],
        "names": dict(fabric.names),
        "unknown": sorted(fabric.unknown),
    }


def from_data(data: Mapping[str, Any]) -> Fabric:
    devices = []
    for d in data["devices"]:
        vnis = {int(v["vni"]): Vni(**{**v, "vni": int(v["vni"]), "vteps": frozenset(v["vteps"])}) for v in d["vnis"]}
        vrrp = tuple(VrrpGroup(**g) for g in d["vrrp"])
        devices.append(Device(**{**d, "vnis": vnis, "vrrp": vrrp, "optional": frozenset(d["optional"])}))
    return Fabric(tuple(devices), dict(data["names"]), frozenset(data["unknown"]))
