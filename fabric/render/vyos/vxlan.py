"""VXLAN tunnels: one L2 VNI per tenant segment, one L3 VNI per tenant VRF (after the first segment's).

Sourced from the mesh address, so every VXLAN packet leaves through WireGuard.
``nolearning``: EVPN (BGP) learns MACs and VTEPs, not flood-and-learn; on segments,
``neighbor-suppress`` answers ARP from EVPN routes, so little broadcast crosses sites.
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import l3_vxlan
from fabric.topology import Plan, RouterPlan

OWNS = (("interfaces", "vxlan"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        segments = [(on.segment.vxlan, on.segment.vni, "segment" + ("" if on.segment.first else f" {on.segment.name}"))
                    for on in carried.segments]  # fmt: skip
        for name, vni, what in (segments[0], (l3_vxlan(t), t.l3_vni, "L3 VNI"), *segments[1:]):
            v = ("interfaces", "vxlan", name)
            out += [
                cmd(*v, "description", value=f"tenant {t.name} {what}"),
                cmd(*v, "vni", value=vni),
                cmd(*v, "source-address", value=router.mesh_address),
                cmd(*v, "mtu", value=plan.mtu.tenant),
                cmd(*v, "parameters", "nolearning"),
            ]
            if vni != t.l3_vni:
                out.append(cmd(*v, "parameters", "neighbor-suppress"))
    return out
