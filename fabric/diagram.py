"""A Mermaid diagram of the fabric: sites, hypervisors, routers, nodes, clouds, mesh and BGP sessions, tenants.

It is drawn from plans only (one per stack), so it shows what ``render`` and ``up``
would build: each site's mesh block comes from the configured control plane by the
address plan's formula (:func:`fabric.addressing.site_block`), never from a constant.

Every label is config text. Names are validated, but a diagram is also read by people
and by Mermaid's parser, so labels are escaped here (:func:`escape`) and node ids are
derived injectively (:func:`node_id`): no name can end a quoted label, inject markup
or collide with another node or with one of Mermaid's keywords.

Public keys are never drawn (they identify nothing a reader needs, and this stack's are
deferred); an endpoint is drawn only when the plan holds it as plain text, and not when
it is a peer stack's stand-in (:mod:`fabric.deferred`'s sample) that an offline plan uses
in place of an address the cloud has not allocated yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netaddr import IPNetwork

from fabric import addressing as ap
from fabric import deferred
from fabric.topology import (
    ROLE_CLOUD_NODE,
    ROLE_GATEWAY,
    ROLE_HYPERVISOR,
    ROLE_REFLECTOR,
    BgpNeighbor,
    CloudPlan,
    HypervisorPlan,
    MeshMember,
    NodePlan,
    Plan,
    TenantOnNode,
    TenantPlan,
    WireguardPeer,
)

#: Characters a label keeps as they are; every other one is written as Mermaid's entity
#: code ``#<code point>;``: quotes would end the label, ``<>&`` are HTML in Mermaid's
#: labels, ``#`` starts an entity code, a backtick a Markdown string, ``%`` a comment.
_PLAIN = re.compile(r"[A-Za-z0-9 .,:/()+=@*!?_-]")
#: A name as validated (:data:`fabric.fields.Name`): its id is the name with ``_`` for ``-``.
_NAME = re.compile(r"[a-z][a-z0-9-]*")
#: Words Mermaid's flowchart lexer reads as keywords where a node id is expected
#: (mermaid 11: ``end`` closes a subgraph, ``style`` starts a statement, ...).
_KEYWORDS = frozenset(
    {
        "end",
        "graph",
        "flowchart",
        "subgraph",
        "style",
        "class",
        "classdef",
        "linkstyle",
        "interpolate",
        "default",
        "call",
        "click",
        "href",
        "direction",
        "acctitle",
        "accdescr",
    }
)
#: How roles read in a label.
_ROLE_TEXT = {ROLE_REFLECTOR: "route reflector", ROLE_GATEWAY: "gateway", ROLE_CLOUD_NODE: "cloud node"}
#: Node id tags of what is not a mesh member (upper case: no name's id has any).
SITE, HYPERVISOR, TENANT = "SITE", "HV", "TENANT"
#: The tenants' subgraph (no id of a name is all upper case).
TENANTS = "TENANTS"


def escape(text: str) -> str:
    """``text`` as the inside of a quoted Mermaid label: what a person reads is exactly
    ``text``, and no character of it can end the label or become markup."""
    return "".join(ch if _PLAIN.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def label(*lines: str) -> str:
    """A quoted label of one or more lines of plain text (each escaped; lines joined by ``<br>``)."""
    return '"' + "<br>".join(escape(line) for line in lines) + '"'


def node_id(name: str, tag: str = "") -> str:
    """The Mermaid id of a mesh member (no ``tag``) or of a site, hypervisor or tenant.

    A valid name reads as itself (``dc1-r1`` is ``dc1_r1``); any other name, and a name
    Mermaid would take for a keyword, is ``X`` and its UTF-8 in hex. Tags are upper case,
    which no name's id contains after its first character, so ids of different names or
    kinds never collide.
    """
    plain = name.replace("-", "_")
    base = plain if _NAME.fullmatch(name) and plain not in _KEYWORDS else "X" + name.encode().hex()
    return f"{base}_{tag}" if tag else base


def subnet_id(tenant: str, site: str) -> str:
    """The id of a tenant's workload subnet in a cloud site."""
    return f"{node_id(tenant)}_IN_{node_id(site)}"


@dataclass(frozen=True)
class _Site:
    """A site as drawn: its mesh block is the control plane's ``s``-th block."""

    name: str
    block: IPNetwork
    cloud: CloudPlan | None
    datacenter: bool


@dataclass(frozen=True)
class _Fabric:
    """Everything the plans say, once: a member, hypervisor or tenant seen by several
    stacks is drawn as the first plan that has it (its own stack's, when given) shows it."""

    members: dict[str, MeshMember]
    #: Members no given plan owns: known only from a peer stack's export.
    peers: frozenset[str]
    sites: list[_Site]
    routers: frozenset[str]
    nodes: dict[str, NodePlan]
    clouds: dict[str, CloudPlan]
    hypervisors: dict[str, HypervisorPlan]
    tenants: dict[str, TenantPlan]


def _collect(plans: Sequence[Plan]) -> _Fabric:
    members: dict[str, MeshMember] = {}
    for m in (m for plan in plans for m in plan.members):
        members.setdefault(m.name, m)
    local = frozenset(members)
    for m in (m for plan in plans for m in plan.remote):
        members.setdefault(m.name, m)
    clouds = {c.node.name: c for plan in plans for c in plan.clouds}
    datacenters = {plan.site for plan in plans if plan.site is not None}
    # A site's block: from the control plane of the plan that owns a member there, else of one that sees it.
    blocks: dict[str, tuple[int, IPNetwork]] = {}
    for owned in (True, False):
        for plan in plans:
            for m in plan.members if owned else plan.remote:
                blocks.setdefault(m.site, (m.site_id, ap.site_block(plan.control_plane, m.site_id)))
    cloud_sites = {c.site: c for c in clouds.values()}
    sites = [
        _Site(name, block, cloud_sites.get(name), name in datacenters)
        for name, (_, block) in sorted(blocks.items(), key=lambda item: (item[1][0], item[0]))
    ]
    return _Fabric(
        members=members,
        peers=frozenset(members) - local,
        sites=sites,
        routers=frozenset(r.name for plan in plans for r in plan.routers),
        nodes={n.name: n for plan in plans for n in plan.nodes},
        clouds=clouds,
        hypervisors={hv.spec.name: hv for plan in plans for hv in plan.hypervisors},
        tenants={t.name: t for plan in plans for t in plan.tenants},
    )


def shown_endpoint(m: MeshMember) -> str | None:
    """The member's WireGuard endpoint as ``address:port`` when the plan knows it as text:
    not a deferred value, not empty (a peer's cloud without an address yet), not a stand-in."""
    if not isinstance(m.endpoint, str) or not m.endpoint or m.endpoint == deferred.endpoint(m.name).sample:
        return None
    return f"{m.endpoint}:{m.port}"


def _member_node(f: _Fabric, m: MeshMember) -> str:
    """A member's node: a router as a box, an ``frr`` node rounded, a cloud node as a stadium."""
    roles = [_ROLE_TEXT.get(r, r) for r in m.roles if r not in (ROLE_CLOUD_NODE, ROLE_HYPERVISOR)]
    cloud = f.clouds.get(m.name)
    hv = f.hypervisors.get(m.name)
    if hv is not None or ROLE_HYPERVISOR in m.roles:
        kind = "hypervisor, VTEP"
    elif cloud is not None:
        kind = f"cloud node: {cloud.provider}, region {cloud.spec.region or '?'}"
    elif m.name in f.routers or ROLE_GATEWAY in m.roles:
        kind = "VyOS router"
    elif m.name in f.nodes:
        kind = "l2 node" if f.nodes[m.name].l2 else "frr node"
    elif ROLE_CLOUD_NODE in m.roles:
        kind = "cloud node"
    else:
        kind = "router or node"
    lines = [m.name, kind, f"mesh {m.mesh_address}"]
    if roles:
        lines.append(", ".join(roles))
    if hv is not None:
        lines += _hypervisor_lines(hv)
    if cloud is not None:
        lines.append(f"private {cloud.node_address}")
    endpoint = shown_endpoint(m)
    if endpoint is not None:
        lines.append(f"endpoint {endpoint}")
    if m.name in f.peers:
        lines.append("(peer stack)")
    text = label(*lines)
    if cloud is not None or ROLE_CLOUD_NODE in m.roles:
        return f"{node_id(m.name)}([{text}])"
    if hv is not None or ROLE_HYPERVISOR in m.roles:
        return f"{node_id(m.name)}[({text})]"
    if m.name in f.nodes:
        return f"{node_id(m.name)}({text})"
    return f"{node_id(m.name)}[{text}]"


def _site_title(site: _Site) -> str:
    lines = [site.name]
    if site.cloud is not None:
        lines.append(f"cloud {site.cloud.provider}, region {site.cloud.spec.region or '?'}")
    elif site.datacenter:
        lines.append("datacenter")
    lines.append(f"mesh {site.block}")
    if site.cloud is not None:
        lines.append(f"network {site.cloud.network}")
    return label(*lines)


def _hypervisor_lines(hv: HypervisorPlan) -> list[str]:
    """A hypervisor's addresses, how many tenant VMs it runs and whose DHCP it serves."""
    lines = [f"backbone {hv.backbone_address}"]
    if hv.public_address is not None:
        lines.append(f"public {hv.public_address}")
    tenant_vms = sum(1 for vm in hv.vms if vm.tenant is not None)
    if tenant_vms:
        lines.append(_count(tenant_vms, "tenant VM"))
    if hv.dhcp:
        lines.append("DHCP " + ", ".join(dict.fromkeys(d.tenant.name for d in hv.dhcp)))
    return lines


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def _hypervisor_node(hv: HypervisorPlan) -> str:
    """A hypervisor outside the mesh (no public address): it runs router VMs, carries no tenant."""
    return f"{node_id(hv.spec.name, HYPERVISOR)}[({label(hv.spec.name, 'hypervisor', *_hypervisor_lines(hv))})]"


def _hypervisor_id(f: _Fabric, name: str) -> str:
    """A hypervisor's node: its member node when it is in the mesh."""
    return node_id(name) if name in f.members else node_id(name, HYPERVISOR)


def _tenant_node(t: TenantPlan) -> str:
    text = label(
        f"{t.name} (id {t.id})",
        f"VRF {t.vrf}, table {t.vrf_table}",
        f"VNI {t.vni} / L3 {t.l3_vni}",
        f"RT {t.route_target}",
        str(t.network),
    )
    return f"{node_id(t.name, TENANT)}{{{{{text}}}}}"


def _sites(f: _Fabric) -> Iterable[str]:
    by_site: dict[str, list[MeshMember]] = {}
    for m in sorted(f.members.values(), key=lambda m: (m.site_id, m.node_id, m.name)):
        by_site.setdefault(m.site, []).append(m)
    for site in f.sites:
        yield f"  subgraph {node_id(site.name, SITE)}[{_site_title(site)}]"
        for hv in (h for h in f.hypervisors.values() if h.site == site.name and h.spec.name not in f.members):
            yield f"    {_hypervisor_node(hv)}"
        for m in by_site.get(site.name, []):
            yield f"    {_member_node(f, m)}"
        if site.cloud is not None:
            for ct in site.cloud.tenants:
                egress = "egress: internet" if ct.internet else "egress: allow list"
                text = label(f"{ct.tenant.name} subnet", str(ct.subnet), egress)
                yield f"    {subnet_id(ct.tenant.name, site.name)}[/{text}/]"
        yield "  end"


def _key(f: _Fabric, name: str) -> tuple[int, int, str]:
    """Drawing order: by (site id, node id) where the member is known, then by name."""
    m = f.members.get(name)
    return (m.site_id, m.node_id, name) if m else (1 << 30, 0, name)


def _ordered(f: _Fabric, pair: frozenset[str]) -> tuple[str, str]:
    first, second = sorted(pair, key=lambda name: _key(f, name))
    return first, second


def _pair_key(f: _Fabric, pair: frozenset[str]) -> tuple[tuple[int, int, str], ...]:
    return tuple(_key(f, name) for name in _ordered(f, pair))


def _sessions(plans: Sequence[Plan]) -> Iterable[tuple[str, Sequence[BgpNeighbor], Sequence[WireguardPeer]]]:
    """(name, BGP neighbors, WireGuard peers) of every router, node and cloud node of the plans."""
    for plan in plans:
        for r in plan.routers:
            yield r.name, r.bgp_neighbors, r.wireguard_peers
        for n in (*plan.nodes, *(c.node for c in plan.clouds), *(h.vtep for h in plan.hypervisors if h.vtep)):
            yield n.name, n.bgp_neighbors, n.wireguard_peers


def _bgp_and_mesh(f: _Fabric, plans: Sequence[Plan]) -> Iterable[str]:
    """iBGP sessions, then the WireGuard tunnels that carry none (every session rides in one)."""
    sessions: dict[frozenset[str], bool] = {}
    tunnels: set[frozenset[str]] = set()
    for name, neighbors, peers in _sessions(plans):
        for n in neighbors:
            pair = frozenset((name, n.name))
            sessions[pair] = sessions.get(pair, False) or n.client
        tunnels |= {frozenset((name, p.name)) for p in peers}
    for pair in sorted(sessions, key=lambda pair: _pair_key(f, pair)):
        a, b = _ordered(f, pair)
        # A session between exactly one reflector and another member is a client's (the
        # rule of :func:`fabric.topology.bgp_neighbors`), even when only the client's plan is given.
        reflectors = [x for x in (a, b) if x in f.members and f.members[x].is_reflector]
        client = sessions[pair] or len(reflectors) == 1
        if client and reflectors and reflectors[0] == b:
            a, b = b, a
        text = "iBGP EVPN (RR client)" if client else "iBGP EVPN"
        yield f"  {node_id(a)} == {text} === {node_id(b)}"
    yield f"  %% WireGuard full mesh: {len(tunnels)} tunnels among {len(f.members)} members"
    for pair in sorted(tunnels - set(sessions), key=lambda pair: _pair_key(f, pair)):
        a, b = _ordered(f, pair)
        yield f"  {node_id(a)} -. wg .- {node_id(b)}"


def _hosting(f: _Fabric, plans: Sequence[Plan]) -> Iterable[str]:
    """Each router VM on its hypervisor (tenant VMs are counted on the hypervisor and its tenant links)."""
    for plan in plans:
        for hv in plan.hypervisors:
            for vm in hv.vms:
                if vm.tenant is None:
                    yield f"  {_hypervisor_id(f, hv.spec.name)} -. vmspawn .- {node_id(vm.name)}"


def _tenants(f: _Fabric, plans: Sequence[Plan]) -> Iterable[str]:
    """Each tenant and who carries it: gateway routers (VRF, VRRP gateway), nodes (VTEPs),
    and in a cloud, the node that routes the tenant's workload subnet."""
    yield f"  subgraph {TENANTS}[{label('tenants')}]"
    for t in f.tenants.values():
        yield f"    {_tenant_node(t)}"
    yield "  end"
    for plan in plans:
        for r in plan.routers:
            for c in r.tenants:
                text = label(f"VRF, VRRP {c.first.vrrp_address}")
                yield f"  {node_id(c.tenant.name, TENANT)} ---|{text}| {node_id(r.name)}"
        for n in (*plan.nodes, *(c.node for c in plan.clouds)):
            for tenant, ons in _by_tenant(n.tenants):
                ports = sum(len(on.ports) for on in ons)
                text = f"VTEP {ons[0].address}" if ons[0].address else f"VTEP, {_count(ports, 'port')}"
                yield f"  {node_id(tenant, TENANT)} -.-|{label(text + _segments(ons))}| {node_id(n.name)}"
        for hv in plan.hypervisors:
            for tenant, ons in _by_tenant(hv.vtep.tenants if hv.vtep else ()):
                vms = sum(len(on.ports) for on in ons)
                text = f"VTEP, {_count(vms, 'VM')}" if vms else "VTEP, DHCP"
                yield f"  {node_id(tenant, TENANT)} -.-|{label(text + _segments(ons))}| {node_id(hv.spec.name)}"
        for cloud in plan.clouds:
            for ct in cloud.tenants:
                yield f"  {node_id(cloud.node.name)} -.- {subnet_id(ct.tenant.name, cloud.site)}"


def _by_tenant(carried: Iterable[TenantOnNode]) -> list[tuple[str, list[TenantOnNode]]]:
    """A VTEP's segments grouped by tenant (one edge per tenant), in order."""
    groups: dict[str, list[TenantOnNode]] = {}
    for on in carried:
        groups.setdefault(on.tenant.name, []).append(on)
    return list(groups.items())


def _segments(ons: Sequence[TenantOnNode]) -> str:
    """``, 3 segments`` when a VTEP carries more than the tenant's first segment."""
    return f", {_count(len(ons), 'segment')}" if len(ons) > 1 or not ons[0].segment.first else ""


def mermaid(plans: Sequence[Plan]) -> str:
    """One graph for one or more stacks; members known only from peers are drawn once, dashed."""
    f = _collect(plans)
    lines = ["graph TB"]
    planes = sorted({(p.asn, str(p.control_plane)) for p in plans})
    lines += [f"  %% AS {asn}, WireGuard mesh (control plane) {cp}" for asn, cp in planes]
    lines += _sites(f)
    lines += _hosting(f, plans)
    lines += _bgp_and_mesh(f, plans)
    lines += _tenants(f, plans)
    if f.peers:
        lines.append("  classDef peer stroke-dasharray: 5 5")
        lines.append("  class " + ",".join(node_id(name) for name in sorted(f.peers)) + " peer")
    return "\n".join(lines) + "\n"
