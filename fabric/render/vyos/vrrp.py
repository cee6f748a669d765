"""VRRP: each site's gateway pair shares one virtual address on every tenant segment it carries.

VRID and address derive from the site id, so the groups of different sites on one
stretched segment never collide; the lower router id is master. A second group on
the public VLAN holds the tenants' NAT and published addresses, so exactly one router
answers for them; it has the same master as the tenant groups, and a sync-group ties it
to the groups of the tenants (all their segments) that leave from or are reached on those
addresses: if one of them fails over
(a segment lost on one router), the others follow, so a tenant's traffic and the
replies to its NAT address always meet the router that holds the connection. Tenants
that masquerade behind the router's own address need no tie (their replies go to the
router that translated them).
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import vif
from fabric.topology import Plan, RouterPlan, SegmentPlan

OWNS = (("high-availability", "vrrp"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        for on in carried.segments:
            s = on.segment
            g = ("high-availability", "vrrp", "group", group_name(t.name, s, router.site))
            where = "" if s.first else f" segment {s.name}"
            out += [
                cmd(*g, "description", value=f"tenant {t.name}{where} gateway at {router.site}"),
                cmd(*g, "interface", value=s.bridge),
                cmd(*g, "vrid", value=on.vrid),
                cmd(*g, "priority", value=carried.priority),
                cmd(*g, "address", f"{on.vrrp_address}/{s.network.prefixlen}"),
            ]
    if router.nat_addresses:
        public = f"public-{router.site}"
        g = ("high-availability", "vrrp", "group", public)
        out += [
            cmd(*g, "description", value=f"tenant public addresses at {router.site}"),
            cmd(*g, "interface", value=vif(plan.public_vlan)),
            cmd(*g, "vrid", value=router.public_vrid),
            cmd(*g, "priority", value=router.vrrp_priority),
            *(cmd(*g, "address", a) for a in router.nat_addresses),
        ]
        tied = [
            group_name(c.tenant.name, on.segment, router.site)
            for c in router.tenants
            if c.nat_address is not None or c.published
            for on in c.segments
        ]
        sync = ("high-availability", "vrrp", "sync-group", f"nat-{router.site}")
        out += [cmd(*sync, "member", value=member) for member in (public, *tied)]
    return out


def group_name(tenant: str, segment: SegmentPlan, site: str) -> str:
    """A tenant segment's VRRP group at a site (also what the NAT sync-group names): ``<tenant>-<site>``
    for the first segment, ``<tenant>.<segment>.<site>`` for the others (names hold no dots, so
    no two meet)."""
    return f"{tenant}-{site}" if segment.first else f"{tenant}.{segment.name}.{site}"
