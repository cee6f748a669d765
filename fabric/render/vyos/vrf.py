"""Tenant VRFs: table, L3 VNI, EVPN type-5 (route targets ``asn:tenant``), default route out.

Each VRF runs its own BGP instance (VyOS needs ``system-as`` there too) that exports
connected tenant prefixes as EVPN type-5 routes and imports every router's, so a
tenant's prefixes are routed between sites only inside its VRF. The VRF's default
route leaks to the default VRF's upstream, where source NAT and the egress firewall
decide what may leave. The tenant's subnets in cloud extensions are static routes to
each cloud node's address on the stretched segment.
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

OWNS = (("vrf",),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        v = ("vrf", "name", t.vrf)
        bgp = (*v, "protocols", "bgp")
        evpn = (*bgp, "address-family", "l2vpn-evpn")
        out += [
            cmd(*v, "description", value=f"tenant {t.name} (id {t.id})"),
            cmd(*v, "table", value=t.vrf_table),
            cmd(*v, "vni", value=t.l3_vni),
            cmd(
                *v,
                "protocols",
                "static",
                "route",
                "0.0.0.0/0",
                "next-hop",
                router.public_gateway,
                "vrf",
                value="default",
            ),
        ]
        out += [
            cmd(*v, "protocols", "static", "route", subnet, "next-hop", value=node)
            for subnet, node in carried.cloud_routes
        ]
        out += [
            cmd(*bgp, "system-as", value=plan.asn),
            cmd(*bgp, "parameters", "router-id", value=router.mesh_address),
            cmd(*bgp, "address-family", "ipv4-unicast", "redistribute", "connected"),
            cmd(*evpn, "advertise", "ipv4", "unicast"),
            cmd(*evpn, "rd", value=carried.route_distinguisher),
            cmd(*evpn, "route-target", "import", value=t.route_target),
            cmd(*evpn, "route-target", "export", value=t.route_target),
        ]
    return out
