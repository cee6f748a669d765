"""OSPF area 0 on the datacenter backbone VLAN: routers and hypervisors reach each other."""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

OWNS = (("protocols", "ospf"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    ospf = ("protocols", "ospf")
    return [
        cmd(*ospf, "parameters", "router-id", value=router.mesh_address),
        cmd(*ospf, "area", "0", "network", value=router.backbone),
        cmd(*ospf, "log-adjacency-changes"),
    ]
