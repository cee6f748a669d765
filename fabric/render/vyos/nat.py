"""NAT: each tenant's one exit (every segment's), behind the router or its own public address, and
its published services (destination NAT from a public address the gateways hold by VRRP).

A published service's rule translates ``port`` on its public address, arriving on the public
VLAN, to ``to_port`` of its tenant address; the firewall's ingress chain then admits exactly
that flow (:mod:`fabric.render.vyos.firewall`), and the reply returns through the tenant VRF's
default route and conntrack. Its address moves with the VRRP master, as the NAT addresses do.

Not run here (no VyOS can run on this machine): VyOS sets a VRF's conntrack zone for the
original direction only (vyos-1x, T3655), so a flow translated on the public VLAN (the default
VRF) and answered from a tenant VRF meets its conntrack entry, as the tenants' source NAT does
the other way.
"""

from __future__ import annotations

from fabric.addressing import segment_slot
from fabric.isolation import PUBLISH_BASE
from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import vif
from fabric.topology import Plan, RouterPlan

OWNS = (("nat", "source"), ("nat", "destination"))

#: Tenant ``t``'s source NAT rule number (its first segment's).
RULE_BASE = 1000
#: Segment ``j`` of tenant ``t``: ``100000 + 16t + j`` (the segment's slot).
SEGMENT_RULE_BASE = 100000
#: Published service ``i`` (its ``id``, 1-99) of tenant ``t``: ``200000 + 100t + i``.
PUBLISH_RULE_BASE = 200000
#: The largest NAT rule number VyOS takes.
MAX_RULE = 999999


def segment_rule(t: int, j: int) -> int:
    """Segment ``j`` of tenant ``t``'s source NAT rule: ``100000 + 16t + j``."""
    return SEGMENT_RULE_BASE + segment_slot(t, j)


def publish_rule(t: int, i: int) -> int:
    """Published service ``i`` of tenant ``t``'s destination NAT rule: ``200000 + 100t + i``."""
    return PUBLISH_RULE_BASE + 100 * t + i


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        translation = carried.nat_address if carried.nat_address is not None else "masquerade"
        for on in carried.segments:
            s = on.segment
            number = RULE_BASE + t.id if s.first else segment_rule(t.id, s.id)
            rule = ("nat", "source", "rule", number)
            out += [
                cmd(*rule, "description", value=f"tenant {t.name} egress" + ("" if s.first else f" ({s.name})")),
                cmd(*rule, "outbound-interface", "name", value=vif(plan.public_vlan)),
                cmd(*rule, "source", "address", value=s.network),
                cmd(*rule, "translation", "address", value=translation),
            ]
    for carried in router.tenants:
        t = carried.tenant
        for address, p in carried.published:
            rule = ("nat", "destination", "rule", publish_rule(t.id, p.number - PUBLISH_BASE))
            out += [
                cmd(*rule, "description", value=f"tenant {t.name}: {p.reason}"),
                cmd(*rule, "inbound-interface", "name", value=vif(plan.public_vlan)),
                cmd(*rule, "destination", "address", value=address),
                cmd(*rule, "destination", "port", value=p.port),
                cmd(*rule, "protocol", value=p.protocol),
                cmd(*rule, "translation", "address", value=p.to),
                cmd(*rule, "translation", "port", value=p.to_port),
            ]
    return out
