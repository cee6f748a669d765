"""DHCP is no router's job: the tenants' gateway routers' hypervisors serve it (see
:mod:`fabric.render.linux.dhcp` for why: VyOS 1.5's server cannot serve a VRF segment nor
send the tenant MTU).

fabric still owns ``service dhcp-server`` on the routers, with nothing in it, so that the
first apply after an upgrade removes what earlier versions set there (two servers on
one segment would hand out the same addresses).
"""

from __future__ import annotations

from fabric.render.vyos.command import Command
from fabric.topology import Plan, RouterPlan

OWNS = (("service", "dhcp-server"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    return []
