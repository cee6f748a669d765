"""iBGP with route reflectors, EVPN only, between mesh addresses (inside WireGuard).

Sessions are from :func:`fabric.topology.bgp_neighbors`; timers follow FRR's
``datacenter`` profile so a lost peer is noticed in seconds, not minutes.
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

OWNS = (("protocols", "bgp"),)

KEEPALIVE = 3
HOLDTIME = 9


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    bgp = ("protocols", "bgp")
    out = [
        cmd(*bgp, "system-as", value=plan.asn),
        cmd(*bgp, "parameters", "router-id", value=router.mesh_address),
        cmd(*bgp, "parameters", "log-neighbor-changes"),
        cmd(*bgp, "timers", "keepalive", value=KEEPALIVE),
        cmd(*bgp, "timers", "holdtime", value=HOLDTIME),
    ]
    if router.route_reflector:
        out.append(cmd(*bgp, "parameters", "cluster-id", value=router.mesh_address))
    if router.gateway:
        out.append(cmd(*bgp, "address-family", "l2vpn-evpn", "advertise-all-vni"))
    for n in router.bgp_neighbors:
        nb = (*bgp, "neighbor", n.address)
        role = "route-reflector client" if n.client else "route reflector"
        out += [
            cmd(*nb, "description", value=f"{n.name} ({role})"),
            cmd(*nb, "remote-as", value="internal"),
            cmd(*nb, "update-source", value=router.mesh_address),
        ]
        if n.client:
            out.append(cmd(*nb, "address-family", "l2vpn-evpn", "route-reflector-client"))
        else:
            out.append(cmd(*nb, "address-family", "l2vpn-evpn"))
    return out
