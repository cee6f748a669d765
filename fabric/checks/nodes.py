"""Rules of ``frr`` nodes: their sites, ids, names, reflectors and host keys."""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import duplicates
from fabric.model import Inventory, cloud_node_name


def _cloud_node_ids(inv: Inventory) -> list[tuple[str, str, int]]:
    """(name, site, node id) of every enabled cloud's node whose site is registered."""
    sites = {s.name for s in inv.sites}
    return [
        (cloud_node_name(c.site_name(p), c.node_id), c.site_name(p), c.node_id)
        for p, c in inv.clouds.enabled()
        if c.site_name(p) in sites
    ]


def nodes_unique(inv: Inventory) -> Iterator[str]:
    """Node names and endpoints are unique."""
    yield from duplicates(inv.nodes, "name", "nodes")
    yield from duplicates(inv.nodes, "endpoint", "nodes")


def nodes_reflected(inv: Inventory) -> Iterator[str]:
    """A stack of nodes alone has a route reflector, or peer stacks whose reflectors serve it."""
    if inv.nodes and not inv.routers and not inv.peer_stacks and not any(n.route_reflector for n in inv.nodes):
        yield (
            "nodes: no route reflector, so no BGP session at all; set route_reflector: true on a node "
            "(or list peer_stacks whose reflectors serve these nodes)"
        )


def node_places_free(inv: Inventory) -> Iterator[str]:
    """A node sits in a registered site, with an id no router or cloud node there has."""
    sites = {s.name: s for s in inv.sites}
    taken: dict[tuple[str, int], str] = {}
    if inv.datacenter is not None:
        taken.update({(inv.datacenter.name, r.id): f"datacenter.routers[{r.name}]" for r in inv.routers})
    for name, site, cloud in _cloud_node_ids(inv):
        taken[(site, cloud)] = name
    max_site = ap.max_gateway_site(inv.address_plan.tenant_prefix_length)
    for node in inv.nodes:
        key = f"nodes[{node.name}]"
        if node.site not in sites:
            yield f"{key}.site: unknown site {node.site!r} (sites: {', '.join(sorted(sites))})"
            continue
        if (node.site, node.id) in taken:
            yield f"{key}.id: {node.id} is also {taken[(node.site, node.id)]} of site {node.site}"
        taken.setdefault((node.site, node.id), key)
        if any(node.site in inv.tenant_sites(t) for t in inv.tenants) and sites[node.site].id > max_site:
            yield (
                f"{key}.site: site {node.site} (id {sites[node.site].id}) has no gateway block in "
                f"/{inv.address_plan.tenant_prefix_length} tenant networks (sites 1-{max_site})"
            )


def node_host_keys_pinned(inv: Inventory) -> Iterator[str]:
    """Every node's SSH host key is pinned."""
    for node in inv.nodes:
        if node.ssh.host_key is None:
            yield (
                f"nodes[{node.name}].ssh.host_key: missing; pin the node's key (`ssh-keyscan -t ed25519 <address>` "
                "output, or its SHA256: fingerprint, verified out of band)"
            )


def members_unique(inv: Inventory) -> Iterator[str]:
    """A mesh member's name (it names WireGuard peers and BGP neighbors) and a WireGuard endpoint
    belong to one member of the stack: router, hypervisor or node (a cloud node's name is
    ``clouds.cloud_node_names_free``'s). Repeats within one list, and public addresses within the
    datacenter, are their own rules' to report."""
    names: list[tuple[str, str]] = []
    endpoints: list[tuple[str, str]] = []
    if (dc := inv.datacenter) is not None:
        names += [(f"datacenter.routers[{r.name}]", r.name) for r in dc.routers]
        names += [(f"datacenter.hypervisors[{hv.name}]", hv.name) for hv in dc.hypervisors]
        endpoints += [(f"datacenter.routers[{r.name}]", str(r.public_address)) for r in dc.routers]
        endpoints += [
            (f"datacenter.hypervisors[{hv.name}]", str(address))
            for hv in dc.hypervisors
            if (address := dc.public_address_of(hv)) is not None
        ]
    names += [(f"nodes[{n.name}]", n.name) for n in inv.nodes]
    endpoints += [(f"nodes[{n.name}]", str(n.endpoint)) for n in inv.nodes]
    for field, entries in (("name", names), ("endpoint", endpoints)):
        seen: dict[str, str] = {}
        for key, value in entries:
            first = seen.setdefault(value, key)
            same_list = first.split("[")[0] == key.split("[")[0]
            both_datacenter = field == "endpoint" and first.startswith("datacenter.") and key.startswith("datacenter.")
            if first != key and not same_list and not both_datacenter:
                yield f"{key}.{field}: {value} is also the {field} of {first}"


RULES = (nodes_unique, nodes_reflected, node_places_free, node_host_keys_pinned, members_unique)
