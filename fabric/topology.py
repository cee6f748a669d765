"""The fabric as data: every node, peer, session and tenant number decided.

``build(inventory, remote)`` is a pure function: the validated inventory of this stack and
the mesh members other stacks export. The result (:class:`Plan`) is all a renderer needs;
renderers decide syntax, never numbers or peers. What only an ``up`` can know, this
stack's members' WireGuard public keys and its cloud nodes' public addresses, is
:class:`~fabric.deferred.Deferred` in the plan: the one plan serves offline renders,
``validate``, previews and applies, and the providers fill those values in.

Rules (README "Topology"):

* WireGuard: a full mesh among all routers, hypervisors with a public address and nodes of
  all sites, less ``mesh.no_peer``.
* iBGP (one AS): a node peers with the route reflectors of its own site; a site with no
  reflector (a cloud extension) is served by every reflector; reflectors peer with each
  other. Sessions run between mesh addresses, so BGP and EVPN ride inside WireGuard.
* Tenants live on the gateway routers of the sites they span: one VRF (L3 VNI, table,
  RD, RT ``asn:id``), one stretched segment (L2 VNI), one VRRP group per site, DHCP from
  one datacenter's pair, source NAT at every exit.
* Hypervisors with a public address are mesh members too (host ``128 + id`` of the
  site's mesh /24) and the L2 VTEPs of the tenants they carry: those with a VM on them
  and those whose DHCP they serve. A tenant VM's tap is a port of its tenant's bridge on
  its hypervisor; routers reach it only through EVPN (README "Tenant VMs"), so between
  any two tenant ports there is one L2 path.
* Cloud extensions (README "Cloud bursts"): each enabled cloud is a site with one ``frr``
  node. The node is a VTEP on the segments of the tenants that span its site and
  routes between them and the tenants' workload subnets in the cloud network (one /24
  per tenant, whose route table sends the tenant's prefixes to the node). Every
  gateway router of such a tenant routes that subnet, in the tenant's VRF, to the
  node's address on the segment. A node's public endpoint is the cloud's static IP
  (deferred: the cloud allocates it during ``up``). A peer stack's cloud node whose
  export has no endpoint yet is listed without one: the node, which knows its peers',
  initiates the tunnels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from netaddr import AddrFormatError, IPAddress, IPNetwork

from fabric import addressing as ap
from fabric import deferred, isolation
from fabric.deferred import Deferred
from fabric.isolation import Rule, TenantPolicy
from fabric.model import Cloud, Datacenter, Hypervisor, Inventory, Node, Router, Site, Tenant, cloud_node_name
from markers import Values

ROLE_REFLECTOR = "route-reflector"
ANYWHERE = IPNetwork("0.0.0.0/0")
ROLE_GATEWAY = "gateway"
#: A cloud extension's node: the next hop of its tenants' cloud subnets.
ROLE_CLOUD_NODE = "cloud-node"
#: A hypervisor: the L2 VTEP of the tenants whose VMs (or DHCP) it hosts.
ROLE_HYPERVISOR = "hypervisor"


@dataclass(frozen=True)
class MeshMember:
    """What a stack exports about each of its mesh nodes, and what peers need to know."""

    name: str
    site: str
    site_id: int
    node_id: int
    #: A public address; "" when a peer stack's cloud has not allocated it yet.
    endpoint: str | Deferred
    port: int
    public_key: str | Deferred
    mesh_address: str
    roles: tuple[str, ...] = ()

    @property
    def is_reflector(self) -> bool:
        return ROLE_REFLECTOR in self.roles


@dataclass(frozen=True)
class BgpNeighbor:
    """An iBGP session seen from one router; ``client`` when that router reflects to it."""

    name: str
    address: str
    client: bool


@dataclass(frozen=True)
class Published:
    """A published service (``tenants[].publish``): ``port`` on a public address goes to ``to_port``
    of ``to``; its number is its isolation rule's and names its NAT rule."""

    number: int
    #: The datacenter whose gateways publish it.
    datacenter: str | None
    #: As configured (None: the tenant's NAT address there).
    public_address: IPAddress | None
    protocol: Literal["tcp", "udp"]
    port: int
    to: IPAddress
    to_port: int
    reason: str


#: The name of a tenant's first segment (``tenants[]``'s own ``vni`` and network).
FIRST_SEGMENT = "main"


@dataclass(frozen=True)
class SegmentPlan:
    """One L2 segment of a tenant: a VNI, a bridge ``br<vni>`` on every VTEP that carries it, an
    address block with each site's gateways and DHCP range, in the tenant's VRF."""

    name: str
    #: 0 for the tenant's first segment, else ``tenants[].segments[].id``.
    id: int
    vni: int
    network: IPNetwork
    #: The sites whose gateways (and ``frr`` nodes) carry it.
    sites: tuple[str, ...]

    @property
    def bridge(self) -> str:
        """The segment's bridge on every VTEP (router, hypervisor, node): ``br<vni>``."""
        return f"br{self.vni}"

    @property
    def vxlan(self) -> str:
        """The segment's VXLAN device on every VTEP: ``vxlan<vni>``."""
        return f"vxlan{self.vni}"

    @property
    def first(self) -> bool:
        return self.id == 0


@dataclass(frozen=True)
class TenantPlan:
    """A tenant's fabric-wide numbers and prefixes."""

    name: str
    id: int
    description: str
    sites: tuple[str, ...]
    vrf: str
    l3_vni: int
    vrf_table: int
    route_target: str
    #: Its segments, the first (``main``) first, then by id.
    segments: tuple[SegmentPlan, ...]
    access: IPNetwork
    services: IPNetwork
    dhcp_site: str | None
    #: The tenant's isolation policy (:mod:`fabric.isolation`): what every filter translates.
    policy: TenantPolicy
    published: tuple[Published, ...] = ()
    #: Its DNS zone (``<tenant>.<domain>``) and the resolvers names outside it go to.
    zone: str = ""
    dns_forward: tuple[IPAddress, ...] = ()
    #: (cloud site, the tenant's workload subnet there) for every cloud site it spans.
    cloud_subnets: tuple[tuple[str, IPNetwork], ...] = ()

    @property
    def first(self) -> SegmentPlan:
        """The tenant's first segment (``main``): its ``vni`` and ``tenant_networks`` block."""
        return self.segments[0]

    @property
    def vni(self) -> int:
        return self.first.vni

    @property
    def network(self) -> IPNetwork:
        return self.first.network

    @property
    def bridge(self) -> str:
        return self.first.bridge

    @property
    def vxlan(self) -> str:
        return self.first.vxlan

    def segment(self, name: str | None) -> SegmentPlan:
        """A segment by name (None: the first)."""
        return next(s for s in self.segments if s.name == (name or FIRST_SEGMENT))

    @property
    def prefixes(self) -> tuple[IPNetwork, ...]:
        """The tenant's blocks in the fabric: what its cloud subnets route to the fabric."""
        return fabric_blocks(self.segments, self.access, self.services)

    @property
    def owned_prefixes(self) -> tuple[IPNetwork, ...]:
        """Every prefix the tenant owns, cloud subnets included (its own traffic is never filtered)."""
        return self.policy.own


@dataclass(frozen=True)
class SegmentOnRouter:
    """One segment of a tenant as one gateway router carries it."""

    segment: SegmentPlan
    address: IPAddress
    #: The VRRP address: the tenant's default gateway on the segment at this site.
    vrrp_address: IPAddress
    vrid: int
    #: This router's slice of the DHCP range (served by its hypervisor), or None when another site serves DHCP.
    dhcp: tuple[IPAddress, IPAddress] | None


@dataclass(frozen=True)
class TenantOnRouter:
    """One tenant as one gateway router carries it."""

    tenant: TenantPlan
    #: The tenant's segments at this router's site, the first first.
    segments: tuple[SegmentOnRouter, ...]
    priority: int
    route_distinguisher: str
    #: Source address of the tenant's egress, or None to masquerade behind the router.
    nat_address: IPAddress | None
    #: (cloud workload subnet, next hop: that cloud node's address on the segment).
    cloud_routes: tuple[tuple[IPNetwork, IPAddress], ...] = ()
    #: The tenant's services published in this datacenter, each with its public address here.
    published: tuple[tuple[IPAddress, Published], ...] = ()

    @property
    def first(self) -> SegmentOnRouter:
        return self.segments[0]


@dataclass(frozen=True)
class WireguardPeer:
    name: str
    public_key: str | Deferred
    endpoint: str | Deferred
    port: int
    allowed_ips: tuple[str, ...]


@dataclass(frozen=True)
class RouterPlan:
    """Everything about one VyOS router."""

    name: str
    id: int
    site: str
    site_id: int
    hypervisor: str
    vyos_version: str
    route_reflector: bool
    gateway: bool
    public_address: IPAddress
    public_prefix: IPNetwork
    public_gateway: IPAddress
    mesh_address: IPAddress
    backbone_address: IPAddress
    backbone: IPNetwork
    api_address: IPAddress
    api_port: int
    admin_prefixes: tuple[IPNetwork, ...]
    wireguard_peers: tuple[WireguardPeer, ...]
    bgp_neighbors: tuple[BgpNeighbor, ...]
    tenants: tuple[TenantOnRouter, ...]
    trunk_vlans: tuple[int, ...]
    #: Tenant NAT and published addresses this datacenter's routers hold together (VRRP on the public VLAN).
    nat_addresses: tuple[IPNetwork, ...]
    public_vrid: int
    vrrp_priority: int


@dataclass(frozen=True)
class DhcpPlan:
    """A tenant's DHCP server on a hypervisor: it leases the slices of the dynamic range of the
    tenant's gateway routers that run there, less its own address (the first of them)."""

    tenant: TenantPlan
    segment: SegmentPlan
    address: IPAddress
    first: IPAddress
    last: IPAddress
    #: The site's VRRP gateway address, handed out as the router.
    router: IPAddress
    #: The tenant's resolvers on this segment in the datacenter (each DHCP server's address, this
    #: one's first), handed out as DNS servers.
    resolvers: tuple[IPAddress, ...] = ()


@dataclass(frozen=True)
class DnsPlan:
    """A tenant's resolver on a hypervisor that serves its DHCP: on the DHCP servers' addresses, in
    the tenant's VRF; its VMs' names (those with a fixed address), other names forwarded."""

    tenant: TenantPlan
    listen: tuple[IPAddress, ...]
    #: (fully qualified name, address) of each of the tenant's VMs with a fixed address.
    records: tuple[tuple[str, IPAddress], ...]
    #: The first segment's gateway here: the resolver's way to its forwarders.
    gateway: IPAddress


@dataclass(frozen=True)
class VmPlan:
    """A VM under systemd-vmspawn: a router (its tap an OVS trunk port) or a tenant's VM (its
    tap a port of the tenant's bridge, with a MAC fabric chose)."""

    name: str
    image: str
    cpus: int
    memory: str
    tap: str
    #: A router's tap: the VLANs its OVS port trunks (public, backbone); () for a tenant VM.
    trunk_vlans: tuple[int, ...] = ()
    #: A tenant VM's tenant, segment, MAC and fixed address (None: DHCP).
    tenant: TenantPlan | None = None
    segment: SegmentPlan | None = None
    mac: str | None = None
    address: IPAddress | None = None


@dataclass(frozen=True)
class HypervisorPlan:
    """One hypervisor's desired host state, before rendering to files."""

    spec: Hypervisor
    site: str
    backbone_address: IPAddress
    backbone: IPNetwork
    backbone_vlan: int
    underlay_mtu: int
    vms: tuple[VmPlan, ...]
    #: Tenants whose DHCP this host serves (for the gateway routers it runs).
    dhcp: tuple[DhcpPlan, ...]
    #: Their resolvers, one per tenant.
    dns: tuple[DnsPlan, ...] = ()
    #: The host as a mesh member and L2 VTEP (None: no public address, so not in the mesh).
    vtep: NodePlan | None = None
    #: The host's own public address (its SSH address, when public) on the public VLAN
    #: of its management bond, with the default route; None keeps it backbone-only.
    public_address: IPNetwork | None = None
    public_gateway: IPAddress | None = None
    public_vlan: int | None = None


@dataclass(frozen=True)
class TenantPort:
    """A tenant's port on an L2 VTEP: the interface ``tap`` (a VM's tap, a container's veth), a port
    of the tenant's bridge there, whose frames must come from ``mac`` and whose IPv4 and ARP must
    come from ``sources`` (its fixed address, or the tenant's DHCP range) or 0.0.0.0."""

    name: str
    tap: str
    mac: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class TenantOnNode:
    """One tenant segment as an ``frr`` node or a hypervisor carries it (a VTEP, no VRF)."""

    tenant: TenantPlan
    segment: SegmentPlan
    #: The node's address on the segment (the next hop routers use for its cloud subnet);
    #: None on a hypervisor, which only bridges the segment.
    address: IPAddress | None
    #: A datacenter's gateway on the segment: where the node sends the tenant's other prefixes.
    home_vrrp_address: IPAddress | None
    #: The tenant's workload subnet in the node's cloud network (None outside clouds).
    cloud_subnet: IPNetwork | None
    #: An L2 VTEP's ports on this segment (a hypervisor's tenant VMs' taps): ports of its bridge.
    ports: tuple[TenantPort, ...] = ()
    #: A hypervisor's DHCP server address on this segment, when it serves the tenant's DHCP.
    dhcp_server: IPAddress | None = None


@dataclass(frozen=True)
class NodePlan:
    """An ``frr`` node: Linux with WireGuard, VXLAN, bridges and FRR (README "Topology")."""

    name: str
    id: int
    site: str
    site_id: int
    mesh_address: IPAddress
    route_reflector: bool
    wireguard_peers: tuple[WireguardPeer, ...]
    bgp_neighbors: tuple[BgpNeighbor, ...]
    tenants: tuple[TenantOnNode, ...]
    #: What the host is ("node" or "hypervisor": its files' header says so).
    kind: str = "node"
    #: Only bridges its tenants' segments (a hypervisor, an ``l2`` node): no address on them,
    #: the tenants of its ports (and DHCP servers) only, and the L2 host filter.
    l2: bool = False


@dataclass(frozen=True)
class CloudTenant:
    """A tenant's workload subnet in a cloud network and the routes its route table gets."""

    tenant: TenantPlan
    subnet: IPNetwork
    #: Sent to the node: exactly the tenant's prefixes.
    routes: tuple[IPNetwork, ...]
    #: What the subnet reaches through the cloud's internet gateway: everything
    #: (``0.0.0.0/0``) with ``egress.allow_all``, else the allow list's destinations.
    egress: tuple[IPNetwork, ...]

    @property
    def internet(self) -> bool:
        """Unrestricted egress: a default route to the internet gateway."""
        return self.egress == (ANYWHERE,)


@dataclass(frozen=True)
class CloudPlan:
    """One cloud extension: its network, its node, and who may reach the node."""

    provider: str
    spec: Cloud
    site: str
    site_id: int
    node: NodePlan
    network: IPNetwork
    node_subnet: IPNetwork
    node_address: IPAddress
    tenants: tuple[CloudTenant, ...]
    mesh_port: int
    #: Public endpoints of the node's WireGuard peers: the only sources of WireGuard it admits.
    wireguard_sources: tuple[str | Deferred, ...]


@dataclass(frozen=True)
class Plan:
    """This stack's whole slice of the fabric."""

    asn: int
    domain: str
    #: The stack's datacenter site (None for a stack of nodes and clouds only).
    site: str | None
    site_id: int | None
    mtu: ap.MtuPlan
    mesh_port: int
    mesh_keepalive: int
    control_plane: IPNetwork
    tenant_base: IPNetwork
    cloud_networks: IPNetwork
    public_vlan: int
    backbone_vlan: int
    tenants: tuple[TenantPlan, ...]
    routers: tuple[RouterPlan, ...]
    hypervisors: tuple[HypervisorPlan, ...]
    members: tuple[MeshMember, ...]
    remote: tuple[MeshMember, ...] = field(default=())
    clouds: tuple[CloudPlan, ...] = field(default=())
    #: The stack's ``frr`` nodes managed over SSH.
    nodes: tuple[NodePlan, ...] = field(default=())


def tenant_plan(inv: Inventory, t: Tenant) -> TenantPlan:
    """A tenant's numbers: overrides where given, the ``base + id`` formulas otherwise."""
    plan = inv.address_plan
    length = plan.tenant_prefix_length
    sites = inv.tenant_sites(t)
    datacenters = [s for s in sites if inv.site(s).kind == "datacenter"]
    pool = plan.cloud_networks
    access = ap.tenant_block(plan.tenant_access, length, t.id)
    services = ap.tenant_block(plan.tenant_services, length, t.id)
    segments = segment_plans(inv, t, services)
    cloud_subnets = tuple(
        (s, ap.cloud_tenant_subnet(ap.cloud_network(pool, inv.site(s).id), t.id))
        for s in sites
        if inv.site(s).kind == "cloud"
    )
    own = (*fabric_blocks(segments, access, services), *(subnet for _, subnet in cloud_subnets))
    allows = tuple(
        Rule(
            isolation.ALLOW_BASE + i,
            "accept",
            r.description or f"allow {r.destination}",
            destinations=(r.destination,),
            sources=source,
            protocol=r.protocol,
            ports=tuple(r.ports),
        )
        for i, r in enumerate(t.egress.allow)
        if (source := egress_source(inv, segments, r.source)) is not None
    )
    dhcp_site = t.dhcp_site or (datacenters[0] if datacenters else None)
    published = tuple(
        Published(
            number=isolation.PUBLISH_BASE + p.id,
            datacenter=p.datacenter or dhcp_site,
            public_address=p.public_address,
            protocol=p.protocol,
            port=p.port,
            to=p.to,
            to_port=p.to_port or p.port,
            reason=p.description or f"published {p.protocol} {p.port} to {p.to}",
        )
        for p in t.publish
    )
    ingress = tuple(
        Rule(
            p.number,
            "accept",
            p.reason,
            destinations=(IPNetwork(f"{p.to}/32"),),
            sources=tuple(spec.from_),
            protocol=p.protocol,
            ports=(p.to_port,),
        )
        for p, spec in zip(published, t.publish, strict=True)
    )
    n = inv.numbering
    return TenantPlan(
        name=t.name,
        id=t.id,
        description=t.description,
        sites=tuple(sites),
        vrf=t.name,
        l3_vni=t.l3_vni if t.l3_vni is not None else ap.l3_vni(n.l3_vni_base, t.id),
        vrf_table=t.vrf_table if t.vrf_table is not None else ap.vrf_table(n.vrf_table_base, t.id),
        route_target=ap.route_target(inv.asn, t.id),
        segments=segments,
        access=access,
        services=services,
        dhcp_site=dhcp_site,
        policy=isolation.tenant_policy(t.name, own, plan.tenant_base, pool, allows, t.egress.allow_all, ingress),
        published=published,
        zone=f"{t.name}.{inv.domain}",
        dns_forward=tuple(t.dns.forward),
        cloud_subnets=cloud_subnets,
    )


def fabric_blocks(segments: Sequence[SegmentPlan], access: IPNetwork, services: IPNetwork) -> tuple[IPNetwork, ...]:
    """A tenant's blocks in the fabric, each once: its first segment's, access, services (a services
    segment's block too), its further segments'."""
    return tuple(dict.fromkeys((segments[0].network, access, services, *(s.network for s in segments[1:]))))


def egress_source(inv: Inventory, segments: Sequence[SegmentPlan], ref: str | None) -> tuple[IPNetwork, ...] | None:
    """An allow entry's ``source`` as prefixes: () for all of the tenant, a segment's block, a prefix,
    a VM's fixed address (``<datacenter>/<vm>``); None where it names nothing this stack can see (a
    VM of another datacenter, whose traffic leaves through that datacenter's gateways; an unknown
    name, which the checks refuse), so the entry applies to nothing here."""
    if ref is None:
        return ()
    if ref[0].isdigit():
        try:
            return (IPNetwork(ref).cidr,)
        except (AddrFormatError, ValueError):
            return None  # refused by the checks
    if "/" in ref:
        site, name = ref.split("/", 1)
        dc = inv.datacenter
        vm = next((v for v in dc.vms if v.name == name), None) if dc is not None and dc.name == site else None
        return None if vm is None or vm.address is None else (IPNetwork(f"{vm.address}/32"),)
    segment = next((s for s in segments if s.name == ref), None)
    return None if segment is None else (segment.network,)


def segment_plans(inv: Inventory, t: Tenant, services: IPNetwork) -> tuple[SegmentPlan, ...]:
    """The tenant's first segment (its ``vni``, ``tenant_networks`` block, every site it spans), then
    its ``segments`` by id: each with VNI ``segment_vni_base + 16t + j`` and its own block (as
    configured, the services block, or the ``16t + j``-th of ``tenant_segments``)."""
    plan, n = inv.address_plan, inv.numbering
    sites = tuple(inv.tenant_sites(t))
    first = SegmentPlan(
        name=FIRST_SEGMENT,
        id=0,
        vni=t.vni if t.vni is not None else ap.l2_vni(n.l2_vni_base, t.id),
        network=ap.tenant_block(plan.tenant_networks, plan.tenant_prefix_length, t.id),
        sites=sites,
    )
    ids = {s.name: (s.id, s.kind) for s in inv.sites}  # the checks build plans of configs they refuse
    rest = []
    for seg in sorted(t.segments, key=lambda s: s.id):
        if seg.prefix is not None:
            network = seg.prefix
        elif seg.services:
            network = services
        else:
            network = ap.segment_block(plan.tenant_segments, plan.tenant_prefix_length, t.id, seg.id)
        spans = seg.sites if seg.sites is not None else [s for s in sites if ids[s][1] != "cloud"]
        rest.append(
            SegmentPlan(
                name=seg.name,
                id=seg.id,
                vni=ap.segment_vni(n.segment_vni_base, t.id, seg.id),
                network=network,
                sites=tuple(sorted(spans, key=lambda name: ids.get(name, (0, ""))[0])),
            )
        )
    return (first, *rest)


def local_members(inv: Inventory) -> tuple[MeshMember, ...]:
    """This stack's routers, hypervisors in the mesh, nodes and cloud nodes as mesh members (what
    it exports to the other stacks, once an apply has filled in their deferred keys and endpoints)."""
    members: list[MeshMember] = []
    if (dc := inv.datacenter) is not None:
        here = inv.site(dc.name)
        members += [
            _member(inv, r.name, here, r.id, str(r.public_address), _router_roles(r))
            for r in sorted(dc.routers, key=lambda r: r.id)
        ]
        # Hypervisor h at host 128 + h of the site's mesh /24, its public address its endpoint.
        members += [
            _member(inv, hv.name, here, ap.hypervisor_host(hv.id), str(dc.public_address_of(hv)), (ROLE_HYPERVISOR,))
            for hv in public_hypervisors(dc)
        ]
    members += [
        _member(inv, n.name, inv.site(n.site), n.id, str(n.endpoint), (ROLE_REFLECTOR,) if n.route_reflector else ())
        for n in sorted(inv.nodes, key=lambda n: (inv.site(n.site).id, n.id))
    ]
    members += [
        _member(inv, name, site, cloud.node_id, deferred.endpoint(name), (ROLE_CLOUD_NODE,))
        for name, site, cloud in cloud_nodes(inv)
    ]
    return tuple(members)


def _member(
    inv: Inventory, name: str, site: Site, node_id: int, endpoint: str | Deferred, roles: tuple[str, ...]
) -> MeshMember:
    """A member of this stack: node ``node_id`` of ``site`` (its mesh address by the formula), its
    public key known after ``up``."""
    return MeshMember(
        name=name,
        site=site.name,
        site_id=site.id,
        node_id=node_id,
        endpoint=endpoint,
        port=inv.mesh.port,
        public_key=deferred.public_key(name),
        mesh_address=str(ap.mesh_address(inv.address_plan.control_plane, site.id, node_id)),
        roles=roles,
    )


def _router_roles(r: Router) -> tuple[str, ...]:
    return tuple(role for role, on in ((ROLE_REFLECTOR, r.route_reflector), (ROLE_GATEWAY, r.gateway)) if on)


def cloud_nodes(inv: Inventory) -> list[tuple[str, Site, Cloud]]:
    """(node name, site, settings) of every cloud extension this stack has enabled."""
    out = []
    for provider, cloud in inv.clouds.enabled():
        site = inv.site(cloud.site_name(provider))
        out.append((cloud_node_name(site.name, cloud.node_id), site, cloud))
    return out


def public_hypervisors(dc: Datacenter) -> list[Hypervisor]:
    """The hypervisors with a public address: mesh members and VTEPs (by id)."""
    return sorted((hv for hv in dc.hypervisors if dc.public_address_of(hv) is not None), key=lambda h: h.id)


def resolved(m: MeshMember, values: Values) -> MeshMember:
    """The member with its deferred key and endpoint filled in from ``values``."""
    return replace(m, public_key=deferred.resolve(m.public_key, values), endpoint=deferred.resolve(m.endpoint, values))


def stand_ins(members: Iterable[MeshMember]) -> tuple[MeshMember, ...]:
    """Members with their deferred values' samples filled in: a peer stack as an offline plan
    sees it (stand-in keys and addresses, no markers of another stack's)."""
    members = tuple(members)
    values = deferred.sample_values(v for m in members for v in (m.public_key, m.endpoint))
    return tuple(resolved(m, values) for m in members)


def wireguard_peers(
    me: MeshMember, everyone: Sequence[MeshMember], no_peer: set[frozenset[str]]
) -> tuple[WireguardPeer, ...]:
    """Full mesh: every other member, less the excluded pairs, by (site id, node id)."""
    return tuple(
        WireguardPeer(
            name=m.name,
            public_key=m.public_key,
            endpoint=m.endpoint,
            port=m.port,
            allowed_ips=(f"{m.mesh_address}/32",),
        )
        for m in sorted(everyone, key=lambda m: (m.site_id, m.node_id))
        if m.name != me.name and frozenset((me.name, m.name)) not in no_peer
    )


def bgp_neighbors(
    me: MeshMember, everyone: Sequence[MeshMember], no_peer: set[frozenset[str]] | None = None
) -> tuple[BgpNeighbor, ...]:
    """Route-reflector sessions (see the module docstring for the rules); none across a
    ``mesh.no_peer`` pair, which has no tunnel to carry it."""
    sites_with_reflector = {m.site for m in everyone if m.is_reflector}

    def serves(reflector: MeshMember, client: MeshMember) -> bool:
        return client.site == reflector.site or client.site not in sites_with_reflector

    out = []
    for m in sorted(everyone, key=lambda m: (m.site_id, m.node_id)):
        if m.name == me.name or frozenset((me.name, m.name)) in (no_peer or set()):
            continue
        if me.is_reflector and m.is_reflector:
            out.append(BgpNeighbor(m.name, m.mesh_address, client=False))
        elif me.is_reflector and serves(me, m):
            out.append(BgpNeighbor(m.name, m.mesh_address, client=True))
        elif m.is_reflector and not me.is_reflector and serves(m, me):
            out.append(BgpNeighbor(m.name, m.mesh_address, client=False))
    return tuple(out)


def cloud_routes(t: TenantPlan, everyone: Sequence[MeshMember]) -> tuple[tuple[IPNetwork, IPAddress], ...]:
    """The tenant's cloud subnets whose node is in the mesh, each via that node's segment address."""
    subnets = dict(t.cloud_subnets)
    # Only cloud nodes forward; other nodes of a cloud site are never next hops.
    return tuple(
        (subnets[m.site], ap.router_tenant_address(t.network, m.site_id, m.node_id))
        for m in sorted(everyone, key=lambda m: (m.site_id, m.node_id))
        if m.site in subnets and ROLE_CLOUD_NODE in m.roles
    )


def _tenant_on_router(
    inv: Inventory, dc: Datacenter, router: Router, t: TenantPlan, mesh: IPAddress, everyone: Sequence[MeshMember]
) -> TenantOnRouter:
    s = inv.site_id
    gateways = sorted(r.id for r in dc.routers if r.gateway)

    def on(seg: SegmentPlan) -> SegmentOnRouter:
        dhcp = None
        if t.dhcp_site == dc.name:
            first, last = ap.dhcp_range(seg.network)
            dhcp = ap.split_range(first, last, len(gateways), gateways.index(router.id))
        return SegmentOnRouter(
            segment=seg,
            address=ap.router_tenant_address(seg.network, s, router.id),
            vrrp_address=ap.vrrp_address(seg.network, s),
            vrid=ap.vrrp_vrid(s),
            dhcp=dhcp,
        )

    nat = dc.nat_addresses.get(t.name)
    published = tuple((address, p) for p in t.published if (address := published_address(dc, nat, p)) is not None)
    return TenantOnRouter(
        tenant=t,
        segments=tuple(on(seg) for seg in t.segments if dc.name in seg.sites),
        published=published,
        priority=ap.vrrp_priority(router.id),
        route_distinguisher=ap.route_distinguisher(mesh, t.id),
        nat_address=nat,
        cloud_routes=cloud_routes(t, everyone),
    )


def published_address(dc: Datacenter, nat: IPAddress | None, p: Published) -> IPAddress | None:
    """Where a service is published in this datacenter: nowhere (None) unless it is its
    datacenter; there, its configured address, else the tenant's NAT address."""
    if p.datacenter != dc.name:
        return None
    return p.public_address or nat


def build(inv: Inventory, remote: Sequence[MeshMember] = ()) -> Plan:
    """The whole plan of one stack; ``remote``: the peer stacks' members."""
    plan = inv.address_plan
    members = local_members(inv)
    local_names = {m.name for m in members}
    everyone = [*members, *(m for m in remote if m.name not in local_names)]
    no_peer = {frozenset(pair) for pair in inv.mesh.no_peer}
    tenants = tuple(tenant_plan(inv, t) for t in sorted(inv.tenants, key=lambda t: t.id))
    by_member = {m.name: m for m in members}  # routers, nodes and cloud nodes
    routers: tuple[RouterPlan, ...] = ()
    hypervisors: tuple[HypervisorPlan, ...] = ()
    if inv.datacenter is not None:
        routers, hypervisors = _datacenter_plan(inv, inv.datacenter, tenants, by_member, everyone, no_peer)
    return Plan(
        asn=inv.asn,
        domain=inv.domain,
        site=inv.datacenter.name if inv.datacenter else None,
        site_id=inv.site_id if inv.datacenter else None,
        mtu=ap.mtu_plan(inv.mtu.underlay, ipv6_underlay=False, tenant=inv.mtu.tenant),
        mesh_port=inv.mesh.port,
        mesh_keepalive=inv.mesh.keepalive,
        control_plane=plan.control_plane,
        tenant_base=plan.tenant_base,
        cloud_networks=plan.cloud_networks,
        public_vlan=inv.numbering.public_vlan,
        backbone_vlan=inv.numbering.backbone_vlan,
        tenants=tenants,
        routers=routers,
        hypervisors=hypervisors,
        members=members,
        remote=tuple(m for m in remote if m.name not in local_names),
        clouds=tuple(
            _cloud_plan(inv, provider, by_member[name], tenants, everyone, no_peer)
            for (provider, _), (name, _, _) in zip(inv.clouds.enabled(), cloud_nodes(inv), strict=True)
        ),
        nodes=tuple(_node_plan(n, by_member[n.name], tenants, everyone, no_peer) for n in inv.nodes),
    )


def _datacenter_plan(
    inv: Inventory,
    dc: Datacenter,
    tenants: Sequence[TenantPlan],
    by_member: Mapping[str, MeshMember],
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
) -> tuple[tuple[RouterPlan, ...], tuple[HypervisorPlan, ...]]:
    """The datacenter's routers (with the tenants its gateways carry) and hypervisors."""
    plan = inv.address_plan
    s = inv.site_id
    here = tuple(t for t in tenants if dc.name in t.sites)
    backbone = ap.site_block(plan.backbone, s)
    public_gateway = dc.upstream_gateway
    admin = tuple(dc.admin_prefixes) or (plan.control_plane, backbone)
    held = [addr for _, addr in sorted(dc.nat_addresses.items())]
    held += sorted(
        {p.public_address for t in here for p in t.published if p.datacenter == dc.name and p.public_address}
        - set(held),
        key=int,
    )
    nat_addresses = tuple(
        IPNetwork(f"{addr}/{prefix.prefixlen}")
        for addr in held
        if (prefix := next((p for p in dc.public_prefixes if addr in p), None)) is not None
    )

    routers = []
    for r in sorted(dc.routers, key=lambda r: r.id):
        me = by_member[r.name]
        mesh = IPAddress(me.mesh_address)
        carried = tuple(_tenant_on_router(inv, dc, r, t, mesh, everyone) for t in here) if r.gateway else ()
        backbone_address = ap.backbone_router_address(plan.backbone, s, r.id)
        routers.append(
            RouterPlan(
                name=r.name,
                id=r.id,
                site=dc.name,
                site_id=s,
                hypervisor=r.hypervisor,
                vyos_version=r.vyos_version,
                route_reflector=r.route_reflector,
                gateway=r.gateway,
                public_address=r.public_address,
                public_prefix=next(p for p in dc.public_prefixes if r.public_address in p),
                public_gateway=public_gateway,
                mesh_address=mesh,
                backbone_address=backbone_address,
                backbone=backbone,
                api_address=r.api.address or backbone_address,
                api_port=r.api.port,
                admin_prefixes=admin,
                wireguard_peers=wireguard_peers(me, everyone, no_peer),
                bgp_neighbors=bgp_neighbors(me, everyone, no_peer),
                tenants=carried,
                trunk_vlans=(inv.numbering.public_vlan, inv.numbering.backbone_vlan),
                nat_addresses=nat_addresses,
                public_vrid=ap.public_vrrp_vrid(s),
                vrrp_priority=ap.vrrp_priority(r.id),
            )
        )
    vms = _tenant_vms(inv, dc, tenants)
    dhcp = {hv.name: _dhcp_plans([r for r in routers if r.hypervisor == hv.name]) for hv in dc.hypervisors}
    resolvers: dict[tuple[int, int], list[IPAddress]] = {}
    for d in (d for plans in dhcp.values() for d in plans):
        resolvers.setdefault((d.tenant.id, d.segment.id), []).append(d.address)
    hypervisors = tuple(
        _hypervisor_plan(
            inv,
            dc,
            hv,
            routers,
            backbone,
            public_gateway,
            vms.get(hv.name, ()),
            tuple(
                replace(d, resolvers=(d.address, *sorted(set(resolvers[(d.tenant.id, d.segment.id)]) - {d.address})))
                for d in dhcp[hv.name]
            ),
            by_member,
            everyone,
            no_peer,
        )
        for hv in sorted(dc.hypervisors, key=lambda h: h.id)
    )
    return tuple(routers), hypervisors


def _tenant_vms(inv: Inventory, dc: Datacenter, tenants: Sequence[TenantPlan]) -> dict[str, tuple[VmPlan, ...]]:
    """Hypervisor name -> its tenant VMs (by name), each with its MAC from the site and VM ids."""
    by_name = {t.name: t for t in tenants}
    out: dict[str, list[VmPlan]] = {}
    for vm in sorted(dc.vms, key=lambda v: v.name):
        tenant = by_name[vm.tenant]
        out.setdefault(vm.hypervisor, []).append(
            VmPlan(
                name=vm.name,
                image=machine_image(vm.name, vm.image),
                cpus=vm.cpus,
                memory=vm.memory,
                tap=tap_name(vm.name),
                tenant=tenant,
                segment=tenant.segment(vm.segment),
                mac=ap.vm_mac(inv.site_id, vm.id),
                address=vm.address,
            )
        )
    return {hv: tuple(v) for hv, v in out.items()}


def _node_plan(
    spec: Node,
    me: MeshMember,
    tenants: Sequence[TenantPlan],
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
) -> NodePlan:
    """An SSH-managed node: an ``frr`` node is a VTEP (with its own address) on every segment of
    its site's tenants; an ``l2`` node only bridges the segments of its ports."""
    if spec.kind == "l2":
        ports: dict[tuple[int, int], list[TenantPort]] = {}
        for p in sorted(spec.ports, key=lambda p: p.name):
            t = next(t for t in tenants if t.name == p.tenant)
            seg = t.segment(p.segment)
            port = TenantPort(p.name, tap_name(p.name), ap.vm_mac(me.site_id, p.id), _sources(seg, p.address))
            ports.setdefault((t.id, seg.id), []).append(port)
        on = tuple(
            _bridged(t, seg, tuple(ports[(t.id, seg.id)]))
            for t in tenants
            for seg in t.segments
            if (t.id, seg.id) in ports
        )
    else:
        on = tuple(
            TenantOnNode(
                tenant=t,
                segment=seg,
                address=ap.router_tenant_address(seg.network, me.site_id, me.node_id),
                home_vrrp_address=None,
                cloud_subnet=None,
            )
            for t in tenants
            for seg in t.segments
            if me.site in seg.sites
        )
    return _vtep(me, everyone, no_peer, on, l2=spec.kind == "l2")


def _cloud_plan(
    inv: Inventory,
    provider: str,
    me: MeshMember,
    tenants: Sequence[TenantPlan],
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
) -> CloudPlan:
    """A cloud extension: its network from the site id, its node a VTEP for the tenants spanning it."""
    spec = getattr(inv.clouds, provider)
    network = ap.cloud_network(inv.address_plan.cloud_networks, me.site_id)
    carried = [t for t in tenants if me.site in t.sites]
    node = _vtep(
        me,
        everyone,
        no_peer,
        tuple(
            TenantOnNode(
                tenant=t,
                segment=t.first,
                address=ap.router_tenant_address(t.network, me.site_id, me.node_id),
                home_vrrp_address=_home_vrrp_address(inv, t),
                cloud_subnet=dict(t.cloud_subnets)[me.site],
            )
            for t in carried
        ),
    )
    return CloudPlan(
        provider=provider,
        spec=spec,
        site=me.site,
        site_id=me.site_id,
        node=node,
        network=network,
        node_subnet=ap.cloud_node_subnet(network),
        node_address=ap.cloud_node_address(network),
        tenants=tuple(
            CloudTenant(
                tenant=t,
                subnet=dict(t.cloud_subnets)[me.site],
                routes=t.prefixes,
                egress=_cloud_egress(t.policy, dict(t.cloud_subnets)[me.site]),
            )
            for t in carried
        ),
        mesh_port=inv.mesh.port,
        wireguard_sources=tuple(sorted({p.endpoint for p in node.wireguard_peers if p.endpoint}, key=str)),
    )


def _cloud_egress(policy: TenantPolicy, subnet: IPNetwork) -> tuple[IPNetwork, ...]:
    """Where a cloud subnet's route table reaches the internet: everything with ``allow_all``,
    else each destination of the allow entries that apply to the subnet, once."""
    if policy.egress_default == "accept":
        return (ANYWHERE,)
    return tuple(dict.fromkeys(d for r in isolation.in_scope(policy.allows, subnet) for d in r.destinations))


def _home_vrrp_address(inv: Inventory, t: TenantPlan) -> IPAddress | None:
    """The tenant's DHCP datacenter's gateway address on the segment (None without a datacenter)."""
    if t.dhcp_site is None:
        return None
    return ap.vrrp_address(t.network, inv.site(t.dhcp_site).id)


def _hypervisor_plan(
    inv: Inventory,
    dc: Datacenter,
    hv: Hypervisor,
    routers: Sequence[RouterPlan],
    backbone: IPNetwork,
    public_gateway: IPAddress,
    tenant_vms: tuple[VmPlan, ...],
    dhcp: tuple[DhcpPlan, ...],
    by_member: Mapping[str, MeshMember],
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
) -> HypervisorPlan:
    """A host, its router and tenant VMs, and, when its SSH address is public, that address with
    the default route and the host as the VTEP of the tenants it carries."""
    specs = {r.name: r for r in dc.routers}
    here = [r for r in routers if r.hypervisor == hv.name]
    public = dc.public_address_of(hv)
    prefix = next((p for p in dc.public_prefixes if public is not None and public in p), None)
    dns = _dns_plans(dc, dhcp)
    vtep = None
    if hv.name in by_member:
        vtep = _vtep_plan(by_member[hv.name], tenant_vms, dhcp, everyone, no_peer)
    return HypervisorPlan(
        spec=hv,
        site=dc.name,
        backbone_address=ap.backbone_hypervisor_address(inv.address_plan.backbone, inv.site_id, hv.id),
        backbone=backbone,
        backbone_vlan=inv.numbering.backbone_vlan,
        underlay_mtu=inv.mtu.underlay,
        public_address=None if prefix is None else IPNetwork(f"{public}/{prefix.prefixlen}"),
        public_gateway=None if prefix is None else public_gateway,
        public_vlan=None if prefix is None else inv.numbering.public_vlan,
        vms=tuple(
            VmPlan(
                name=r.name,
                image=router_image(specs[r.name]),
                cpus=specs[r.name].vm.cpus,
                memory=specs[r.name].vm.memory,
                tap=tap_name(r.name),
                trunk_vlans=r.trunk_vlans,
            )
            for r in here
        )
        + tenant_vms,
        dhcp=dhcp,
        dns=dns,
        vtep=vtep,
    )


def _vtep_plan(
    me: MeshMember,
    vms: Sequence[VmPlan],
    dhcp: Sequence[DhcpPlan],
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
) -> NodePlan:
    """A hypervisor as a mesh member and L2 VTEP of exactly the segments it carries: those with
    a VM on them and those whose DHCP it serves (no address on them)."""
    carried = {(d.tenant.id, d.segment.id): (d.tenant, d.segment) for d in dhcp}
    carried |= {(vm.tenant.id, vm.segment.id): (vm.tenant, vm.segment) for vm in vms if vm.tenant and vm.segment}
    servers = {(d.tenant.id, d.segment.id): d.address for d in dhcp}
    ports: dict[tuple[int, int], list[TenantPort]] = {}
    for vm in vms:
        if vm.tenant is not None and vm.segment is not None:
            ports.setdefault((vm.tenant.id, vm.segment.id), []).append(_port(vm))
    tenants = tuple(
        _bridged(t, seg, tuple(ports.get(key, ())), servers.get(key)) for key, (t, seg) in sorted(carried.items())
    )
    return _vtep(me, everyone, no_peer, tenants, l2=True, kind="hypervisor")


def _vtep(
    me: MeshMember,
    everyone: Sequence[MeshMember],
    no_peer: set[frozenset[str]],
    tenants: tuple[TenantOnNode, ...],
    *,
    l2: bool = False,
    kind: str = "node",
) -> NodePlan:
    """A Linux VTEP's plan (a node, a cloud node, a hypervisor): the member's mesh address, its
    peers and sessions by the mesh's rules, and the tenants it carries."""
    return NodePlan(
        name=me.name,
        id=me.node_id,
        site=me.site,
        site_id=me.site_id,
        mesh_address=IPAddress(me.mesh_address),
        route_reflector=me.is_reflector,
        wireguard_peers=wireguard_peers(me, everyone, no_peer),
        bgp_neighbors=bgp_neighbors(me, everyone, no_peer),
        tenants=tenants,
        kind=kind,
        l2=l2,
    )


def _bridged(
    t: TenantPlan, seg: SegmentPlan, ports: tuple[TenantPort, ...], dhcp_server: IPAddress | None = None
) -> TenantOnNode:
    """A tenant's segment on an L2 VTEP: bridged to ``ports``, no address of the host's on it."""
    return TenantOnNode(
        tenant=t,
        segment=seg,
        address=None,
        home_vrrp_address=None,
        cloud_subnet=None,
        ports=ports,
        dhcp_server=dhcp_server,
    )


def _port(vm: VmPlan) -> TenantPort:
    assert vm.mac is not None and vm.segment is not None  # a tenant VM's
    return TenantPort(vm.name, vm.tap, vm.mac, _sources(vm.segment, vm.address))


def _sources(seg: SegmentPlan, address: IPAddress | None) -> tuple[str, ...]:
    """Where a port may speak from: its fixed address, else its segment's DHCP range (its lease)."""
    if address is not None:
        return (str(address),)
    first, last = ap.dhcp_range(seg.network)
    return (f"{first}-{last}",)


def tap_name(machine: str) -> str:
    """The tap systemd-vmspawn makes for ``--machine=<machine>`` (and an l2 node's port): ``vt-<machine>``.

    Past Linux's 15 characters vmspawn shortens it with a hash, not by truncation, so VM and
    port names have at most 12 characters (:data:`fabric.model.MAX_VM_NAME`) and the name is known."""
    return f"vt-{machine}"


def _dhcp_plans(routers: Sequence[RouterPlan]) -> tuple[DhcpPlan, ...]:
    """One server per tenant segment for the DHCP slices of the routers on a host (a pair on one
    host serves both slices, which are adjacent, from one server)."""
    slices: dict[tuple[int, int], list[tuple[TenantOnRouter, SegmentOnRouter, tuple[IPAddress, IPAddress]]]] = {}
    for router in routers:
        for carried in router.tenants:
            for seg in carried.segments:
                if seg.dhcp is not None:
                    key = (carried.tenant.id, seg.segment.id)
                    slices.setdefault(key, []).append((carried, seg, seg.dhcp))
    plans = []
    for key in sorted(slices):
        group = slices[key]
        start = min(first for _, _, (first, _) in group)
        stop = max(last for _, _, (_, last) in group)
        carried, seg, _ = group[0]
        plans.append(DhcpPlan(carried.tenant, seg.segment, start, start + 1, stop, seg.vrrp_address))
    return tuple(plans)


def _dns_plans(dc: Datacenter, dhcp: Sequence[DhcpPlan]) -> tuple[DnsPlan, ...]:
    """A resolver per tenant this host serves DHCP for, on those servers' addresses; its records:
    the datacenter's VMs of the tenant that have a fixed address."""
    named: dict[str, list[tuple[str, IPAddress]]] = {}
    for vm in sorted(dc.vms, key=lambda v: v.name):
        if vm.address is not None:
            named.setdefault(vm.tenant, []).append((vm.name, vm.address))
    served: dict[int, list[DhcpPlan]] = {}
    for d in dhcp:
        served.setdefault(d.tenant.id, []).append(d)
    out = []
    for mine in served.values():
        t = mine[0].tenant
        records = tuple((f"{name}.{t.zone}", address) for name, address in named.get(t.name, ()))
        first = next((d for d in mine if d.segment.first), mine[0])
        out.append(DnsPlan(t, tuple(d.address for d in mine), records, first.router))
    return tuple(out)


#: Where VMs' disk images live on a hypervisor (systemd-vmspawn's own default place).
IMAGE_DIR = "/var/lib/machines/"


def machine_image(name: str, image: str | None) -> str:
    """A VM's disk image on its hypervisor: as configured, else ``/var/lib/machines/<name>.raw``."""
    return image or f"{IMAGE_DIR}{name}.raw"


def router_image(router: Router) -> str:
    """Where the router's disk image lives on its hypervisor."""
    return machine_image(router.name, router.vm.image)
