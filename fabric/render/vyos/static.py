"""Static routes of the default VRF: the upstream default, and each tenant segment back into its VRF
(the way back for replies to its source NAT and for its published services)."""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

OWNS = (("protocols", "static"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = [cmd("protocols", "static", "route", "0.0.0.0/0", "next-hop", router.public_gateway)]
    for carried in router.tenants:
        t = carried.tenant
        for on in carried.segments:
            route = ("protocols", "static", "route", on.segment.network, "interface", on.segment.bridge)
            out.append(cmd(*route, "vrf", value=t.vrf))
    return out
