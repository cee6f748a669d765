"""Source NAT: each tenant's one exit (every segment's), behind the router or its own public address."""

from __future__ import annotations

from fabric.addressing import segment_slot
from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import vif
from fabric.topology import Plan, RouterPlan

OWNS = (("nat", "source"),)

#: Tenant ``t``'s source NAT rule number (its first segment's).
RULE_BASE = 1000
#: Segment ``j`` of tenant ``t``: ``100000 + 16t + j`` (the segment's slot).
SEGMENT_RULE_BASE = 100000


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        translation = carried.nat_address if carried.nat_address is not None else "masquerade"
        for on in carried.segments:
            s = on.segment
            number = RULE_BASE + t.id if s.first else SEGMENT_RULE_BASE + segment_slot(t.id, s.id)
            rule = ("nat", "source", "rule", number)
            out += [
                cmd(*rule, "description", value=f"tenant {t.name} egress" + ("" if s.first else f" ({s.name})")),
                cmd(*rule, "outbound-interface", "name", value=vif(plan.public_vlan)),
                cmd(*rule, "source", "address", value=s.network),
                cmd(*rule, "translation", "address", value=translation),
            ]
    return out
