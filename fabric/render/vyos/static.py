"""Static routes of the default VRF: the upstream default, and tenant prefixes back into their VRFs."""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import segment_bridge
from fabric.topology import Plan, RouterPlan

OWNS = (("protocols", "static"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = [cmd("protocols", "static", "route", "0.0.0.0/0", "next-hop", router.public_gateway)]
    for carried in router.tenants:
        t = carried.tenant
        route = ("protocols", "static", "route", t.network, "interface", segment_bridge(t))
        out.append(cmd(*route, "vrf", value=t.vrf))
    return out
