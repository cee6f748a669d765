"""VRRP: each site's gateway pair shares one virtual address on every tenant segment.

VRID and address derive from the site id, so the groups of different sites on one
stretched segment never collide; the lower router id is master.
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import segment_bridge
from fabric.topology import Plan, RouterPlan

OWNS = (("high-availability", "vrrp"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        g = ("high-availability", "vrrp", "group", f"{t.name}-{router.site}")
        out += [
            cmd(*g, "description", value=f"tenant {t.name} gateway at {router.site}"),
            cmd(*g, "interface", value=segment_bridge(t)),
            cmd(*g, "vrid", value=carried.vrid),
            cmd(*g, "priority", value=carried.priority),
            cmd(*g, "address", f"{carried.gateway}/{t.network.prefixlen}"),
        ]
    return out
