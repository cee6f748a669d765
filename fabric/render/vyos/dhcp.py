"""DHCP per tenant segment, served by the tenant's DHCP site's gateway pair.

Each router of the pair serves its own slice of the dynamic range (no failover
protocol needed); clients get the site's VRRP address as their router. VyOS 1.5
(Kea) puts options under ``option`` and needs a ``subnet-id``; 1.4 does not. Only 1.4
(ISC dhcpd) can hand out the tenant MTU (a raw ``interface-mtu`` option); on 1.5 the
gateway clamps TCP instead (see ``bridge``).
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

OWNS = (("service", "dhcp-server"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        if carried.dhcp is None:
            continue
        t = carried.tenant
        start, stop = carried.dhcp
        net = ("service", "dhcp-server", "shared-network-name", t.name)
        sub = (*net, "subnet", t.network)
        out.append(cmd(*net, "description", value=f"tenant {t.name}"))
        if router.vyos_version == "1.4":
            out += [
                cmd(*sub, "default-router", value=carried.gateway),
                cmd(*sub, "domain-name", value=f"{t.name}.{plan.domain}"),
                cmd(*sub, "subnet-parameters", value=f"option interface-mtu {plan.mtu.tenant};"),
            ]
        else:
            out += [
                cmd(*sub, "subnet-id", value=t.id),
                cmd(*sub, "option", "default-router", value=carried.gateway),
                cmd(*sub, "option", "domain-name", value=f"{t.name}.{plan.domain}"),
            ]
        out += [cmd(*sub, "range", "0", "start", value=start), cmd(*sub, "range", "0", "stop", value=stop)]
    return out
