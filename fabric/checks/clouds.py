"""Rules of cloud extensions ("bursts"): their sites, networks and what they need to start."""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.cloud_limits import CLOUDS
from fabric.model import Cloud, Inventory, Site, cloud_node_name


def _enabled_sites(inv: Inventory) -> Iterator[tuple[str, Cloud, Site]]:
    """(provider, settings, site) of every enabled cloud whose site is registered."""
    sites = {s.name: s for s in inv.sites}
    for provider, cloud in inv.clouds.enabled():
        site = sites.get(cloud.site_name(provider))
        if site is not None:
            yield provider, cloud, site


def clouds_complete(inv: Inventory) -> Iterator[str]:
    """An enabled cloud has a region, and an SSH key for its admin user where the cloud needs one (Azure)."""
    for provider, cloud in inv.clouds.enabled():
        if cloud.region is None:
            yield f"clouds.{provider}.region: missing (required when enabled)"
        if CLOUDS[provider].needs_ssh_key and cloud.ssh_public_key is None:
            yield f"clouds.{provider}.ssh_public_key: missing; {provider}'s Linux VMs need an SSH public key for their admin user"


def cloud_sites_registered(inv: Inventory) -> Iterator[str]:
    """Each enabled cloud is its own registered site of kind cloud."""
    sites = {s.name: s for s in inv.sites}
    used: dict[str, str] = {}
    for provider, cloud in inv.clouds.enabled():
        key = f"clouds.{provider}.site"
        name = cloud.site_name(provider)
        site = sites.get(name)
        if site is None:
            yield (
                f"{key}: {name!r} is not one of sites ({', '.join(sorted(sites))}); register it in fabric:sites "
                "with kind: cloud"
            )
            continue
        if site.kind != "cloud":
            yield f"{key}: sites[{name}] is a {site.kind}, not a cloud"
        if name in used:
            yield f"{key}: {name} is also the site of clouds.{used[name]}"
        used[name] = provider


def cloud_networks_fit(inv: Inventory) -> Iterator[str]:
    """The cloud pool holds a cloud's /16, overlaps nothing else of the plan, and has one for each cloud site."""
    plan = inv.address_plan
    pool = plan.cloud_networks
    if pool.prefixlen > ap.CLOUD_NETWORK_PREFIX_LENGTH:
        yield f"address_plan.cloud_networks: {pool} is smaller than one cloud's /{ap.CLOUD_NETWORK_PREFIX_LENGTH}"
    publics = inv.datacenter.public_prefixes if inv.datacenter else []
    for key, net in (
        ("address_plan.control_plane", plan.control_plane),
        ("address_plan.backbone", plan.backbone),
        ("address_plan.tenant_base", plan.tenant_base),
        *((f"datacenter.public_prefixes[{i}]", p) for i, p in enumerate(publics)),
    ):
        if pool.first <= net.last and net.first <= pool.last:
            yield f"address_plan.cloud_networks: {pool} overlaps {key} {net}"
    for provider, _, site in _enabled_sites(inv):
        if site.id >= ap.capacity(pool, ap.CLOUD_NETWORK_PREFIX_LENGTH):
            yield (
                f"clouds.{provider}.site: site id {site.id} is past the end of address_plan.cloud_networks {pool} "
                f"(one /{ap.CLOUD_NETWORK_PREFIX_LENGTH} per site id)"
            )


def cloud_node_names_free(inv: Inventory) -> Iterator[str]:
    """A cloud node's name (``<site>-n<id>``) is not a router's, a hypervisor's or a node's."""
    taken = {r.name for r in inv.routers} | {n.name for n in inv.nodes}
    taken |= {hv.name for hv in inv.datacenter.hypervisors} if inv.datacenter is not None else set()
    for provider, cloud, site in _enabled_sites(inv):
        name = cloud_node_name(site.name, cloud.node_id)
        if name in taken:
            yield f"clouds.{provider}.node_id: the node's name {name} is also a router's, hypervisor's or node's name"


def cloud_tenants_fit(inv: Inventory) -> Iterator[str]:
    """Tenants spanning a cloud have a gateway block there and a subnet in its network."""
    plan = inv.address_plan
    max_site = ap.max_gateway_site(plan.tenant_prefix_length)
    per_cloud = ap.capacity(
        ap.nth_subnet(plan.cloud_networks, ap.CLOUD_NETWORK_PREFIX_LENGTH, 0), ap.CLOUD_SUBNET_PREFIX_LENGTH
    )
    for provider, _, site in _enabled_sites(inv):
        spanning = [t for t in inv.tenants if site.name in (t.sites or [])]
        if spanning and site.id > max_site:
            yield (
                f"clouds.{provider}.site: site {site.name} (id {site.id}) has no gateway block in "
                f"/{plan.tenant_prefix_length} tenant networks (sites 1-{max_site})"
            )
        for t in spanning:
            if t.id >= per_cloud:
                yield (
                    f"tenants[{t.name}].sites: tenant id {t.id} has no subnet in cloud {site.name} "
                    f"(a cloud network holds tenant subnets 1-{per_cloud - 1})"
                )


def cloud_admin_bounded(inv: Inventory) -> Iterator[str]:
    """A cloud node's SSH is never open to the whole internet unless the stack says so explicitly."""
    for provider, cloud in inv.clouds.enabled():
        if cloud.admin_from_anywhere:
            continue
        for i, p in enumerate(cloud.admin_prefixes):
            if p.prefixlen == 0:
                yield (
                    f"clouds.{provider}.admin_prefixes[{i}]: {p} opens the node's SSH to the whole internet; list "
                    f"your management networks (or set clouds.{provider}.admin_from_anywhere: true to mean it)"
                )


RULES = (
    cloud_networks_fit,
    clouds_complete,
    cloud_sites_registered,
    cloud_node_names_free,
    cloud_tenants_fit,
    cloud_admin_bounded,
)
