"""VRRP: each site's gateway pair shares one virtual address on every tenant segment.

VRID and address derive from the site id, so the groups of different sites on one
stretched segment never collide; the lower router id is master. A second group on
the public VLAN holds the tenants' NAT addresses, so exactly one router answers for
them; it has the same master as the tenant groups, and a sync-group ties it to the
groups of the tenants that leave from those addresses: if one of them fails over
(a segment lost on one router), the others follow, so a tenant's traffic and the
replies to its NAT address always meet the router that holds the connection. Tenants
that masquerade behind the router's own address need no tie (their replies go to the
router that translated them).
"""

from __future__ import annotations

from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import segment_bridge, vif
from fabric.topology import Plan, RouterPlan

OWNS = (("high-availability", "vrrp"),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = []
    for carried in router.tenants:
        t = carried.tenant
        g = ("high-availability", "vrrp", "group", _tenant_group(t.name, router.site))
        out += [
            cmd(*g, "description", value=f"tenant {t.name} gateway at {router.site}"),
            cmd(*g, "interface", value=segment_bridge(t)),
            cmd(*g, "vrid", value=carried.vrid),
            cmd(*g, "priority", value=carried.priority),
            cmd(*g, "address", f"{carried.vrrp_address}/{t.network.prefixlen}"),
        ]
    if router.nat_addresses:
        public = f"public-{router.site}"
        g = ("high-availability", "vrrp", "group", public)
        out += [
            cmd(*g, "description", value=f"tenant NAT addresses at {router.site}"),
            cmd(*g, "interface", value=vif(plan.public_vlan)),
            cmd(*g, "vrid", value=router.public_vrid),
            cmd(*g, "priority", value=router.vrrp_priority),
            *(cmd(*g, "address", a) for a in router.nat_addresses),
        ]
        tied = [_tenant_group(c.tenant.name, router.site) for c in router.tenants if c.nat_address is not None]
        sync = ("high-availability", "vrrp", "sync-group", f"nat-{router.site}")
        out += [cmd(*sync, "member", value=member) for member in (public, *tied)]
    return out


def _tenant_group(tenant: str, site: str) -> str:
    """A tenant's VRRP group at a site (also what the NAT sync-group names)."""
    return f"{tenant}-{site}"
