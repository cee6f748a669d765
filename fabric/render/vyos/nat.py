"""Source NAT: each tenant's one exit, behind the router or its own public address."""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import vif
from fabric.topology import Plan, RouterPlan

OWNS = (("nat", "source"),)

#: Tenant ``t``'s source NAT rule number.
RULE_BASE = 1000


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        rule = ("nat", "source", "rule", RULE_BASE + t.id)
        translation = carried.nat_address if carried.nat_address is not None else "masquerade"
        out += [
            cmd(*rule, "description", value=f"tenant {t.name} egress"),
            cmd(*rule, "outbound-interface", "name", value=vif(plan.public_vlan)),
            cmd(*rule, "source", "address", value=t.network),
            cmd(*rule, "translation", "address", value=translation),
        ]
    return out
