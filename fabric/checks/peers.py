"""Rules of what this stack says against what its peer stacks export: one fabric, one owner each.

The peer members were each checked field by field when read (``fabric.loader``); these
rules compare them with this stack's own members and with each other.
"""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import Remote, member_key, remote_members
from fabric.model import Inventory
from fabric.topology import ROLE_CLOUD_NODE, ROLE_GATEWAY, local_members


def _local_keys(inv: Inventory) -> dict[str, str]:
    """How messages name each of this stack's members: the config key that declares it."""
    keys = {r.name: f"datacenter.routers[{r.name}]" for r in inv.routers}
    if inv.datacenter is not None:
        keys.update({hv.name: f"datacenter.hypervisors[{hv.name}]" for hv in inv.datacenter.hypervisors})
    keys.update({n.name: f"nodes[{n.name}]" for n in inv.nodes})
    for provider, cloud in inv.clouds.enabled():
        keys.setdefault(f"{cloud.site_name(provider)}-n{cloud.node_id}", f"clouds.{provider}")
    return keys


def peer_sites_registered(inv: Inventory, remote: Remote) -> Iterator[str]:
    """A peer member's site is a registered site with the same id, and its mesh address is the formula's."""
    sites = {s.name: s.id for s in inv.sites}
    for stack, m in remote_members(remote):
        key = member_key(stack, m.name)
        if sites.get(m.site) != m.site_id:
            yield (
                f"{key}.site: {m.site} (id {m.site_id}) is not a site of this fabric "
                f"(sites: {', '.join(f'{n} {i}' for n, i in sorted(sites.items()))})"
            )
            continue
        want = ap.mesh_address(inv.address_plan.control_plane, m.site_id, m.node_id)
        if str(want) != m.mesh_address:
            yield f"{key}.mesh_address: {m.mesh_address} is not {want}, the mesh address of site {m.site_id} node {m.node_id}"


def member_names_unique(inv: Inventory, remote: Remote) -> Iterator[str]:
    """A member name is used once in the whole fabric (it names WireGuard peers and BGP neighbors)."""
    owner = _local_keys(inv)
    for stack, m in remote_members(remote):
        key = member_key(stack, m.name)
        if m.name in owner:
            yield f"{key}.name: {m.name!r} is also {owner[m.name]}"
        else:
            owner[m.name] = key


def member_places_unique(inv: Inventory, remote: Remote) -> Iterator[str]:
    """Two members never share a mesh address (site and node id) or a WireGuard endpoint."""
    local = local_members(inv)
    keys = _local_keys(inv)
    places = {(m.site_id, m.node_id): keys[m.name] for m in local}
    endpoints = {m.endpoint: keys[m.name] for m in local if m.endpoint}
    for stack, m in remote_members(remote):
        key = member_key(stack, m.name)
        place = (m.site_id, m.node_id)
        if place in places:
            yield f"{key}.node_id: site {m.site} node {m.node_id} is also {places[place]}"
        else:
            places[place] = key
        if m.endpoint and m.endpoint in endpoints:
            yield f"{key}.endpoint: {m.endpoint} is also the endpoint of {endpoints[m.endpoint]}"
        elif m.endpoint:
            endpoints[m.endpoint] = key


def sites_owned_once(inv: Inventory, remote: Remote) -> Iterator[str]:
    """One stack owns a datacenter's gateways and one a cloud site's extension."""
    mine: dict[str, str] = {}
    if inv.datacenter is not None and any(r.gateway for r in inv.routers):
        mine[inv.datacenter.name] = "datacenter.name"
    for provider, cloud in inv.clouds.enabled():
        mine[cloud.site_name(provider)] = f"clouds.{provider}.site"
    reported: set[tuple[str, str]] = set()
    for stack, m in remote_members(remote):
        owned = ROLE_GATEWAY in m.roles or ROLE_CLOUD_NODE in m.roles
        if owned and m.site in mine and (stack, m.site) not in reported:
            reported.add((stack, m.site))
            yield (
                f"{mine[m.site]}: site {m.site} is also built by peer stack {stack} "
                f"({m.name}); a site belongs to one stack"
            )


RULES = (peer_sites_registered, member_names_unique, member_places_unique, sites_owned_once)
