"""Bridges: a tenant segment's bridge holds its L2 VXLAN, the router's only path to the
segment (tenant VMs sit on the hypervisors' VTEPs: README "Tenant VMs").

Each segment's bridge holds the router's own address on it and sits in the tenant VRF;
a second bridge binds the L3 VNI to the VRF for EVPN type-5 routes, with the router's
one EVPN router MAC (:func:`fabric.addressing.router_mac`: the same on all its L3 VNI
bridges, as FRR needs). Routed TCP is clamped to the tenant MTU, so hosts left at 1500
still work through the gateway.
"""

from __future__ import annotations

from fabric.addressing import router_mac
from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import l3_bridge, l3_vxlan
from fabric.topology import Plan, RouterPlan

OWNS = (("interfaces", "bridge"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        for on in carried.segments:
            s = on.segment
            seg = ("interfaces", "bridge", s.bridge)
            out += [
                cmd(*seg, "description", value=f"tenant {t.name} segment" + ("" if s.first else f" {s.name}")),
                cmd(*seg, "address", value=f"{on.address}/{s.network.prefixlen}"),
                cmd(*seg, "mtu", value=plan.mtu.tenant),
                cmd(*seg, "ip", "adjust-mss", value="clamp-mss-to-pmtu"),
                cmd(*seg, "vrf", value=t.vrf),
                cmd(*seg, "member", "interface", s.vxlan),
            ]
        l3 = ("interfaces", "bridge", l3_bridge(t))
        out += [
            cmd(*l3, "description", value=f"tenant {t.name} L3 VNI"),
            cmd(*l3, "mac", value=router_mac(router.site_id, router.id)),
            cmd(*l3, "mtu", value=plan.mtu.tenant),
            cmd(*l3, "vrf", value=t.vrf),
            cmd(*l3, "member", "interface", l3_vxlan(t)),
        ]
    return out
