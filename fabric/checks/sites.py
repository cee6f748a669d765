"""Rules of the site registry and this stack's place in it."""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import duplicates
from fabric.model import Inventory


def sites_unique(inv: Inventory) -> Iterator[str]:
    """A site name and a site id name one site."""
    yield from duplicates(inv.sites, "name", "sites")
    yield from duplicates(inv.sites, "id", "sites")


def site_ids_fit(inv: Inventory) -> Iterator[str]:
    """Every site id has its /24 in the control plane and the backbone."""
    plan = inv.address_plan
    limit = min(
        ap.capacity(plan.control_plane, ap.SITE_PREFIX_LENGTH), ap.capacity(plan.backbone, ap.SITE_PREFIX_LENGTH)
    )
    for site in inv.sites:
        if site.id >= limit:
            yield (
                f"sites[{site.name}].id: {site.id} is past the end of the address plan: "
                f"address_plan.control_plane {plan.control_plane} and address_plan.backbone {plan.backbone} "
                f"hold site ids 1-{limit - 1}"
            )


def datacenter_is_a_site(inv: Inventory) -> Iterator[str]:
    """The stack's datacenter is a registered site of kind datacenter."""
    names = {s.name for s in inv.sites}
    dc = inv.datacenter
    if dc is None:
        return
    if dc.name not in names:
        yield f"datacenter.name: {dc.name!r} is not one of sites ({', '.join(sorted(names))})"
    elif inv.site(dc.name).kind != "datacenter":
        yield f"datacenter.name: sites[{dc.name}] is a {inv.site(dc.name).kind}"


def stack_has_devices(inv: Inventory) -> Iterator[str]:
    """A stack builds something: a datacenter, frr nodes or an enabled cloud."""
    if inv.datacenter is None and not inv.nodes and not inv.clouds.enabled():
        yield "datacenter: missing; a stack needs a datacenter, nodes or an enabled cloud"


RULES = (sites_unique, site_ids_fit, datacenter_is_a_site)
