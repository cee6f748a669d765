"""The fabric as data: every node, peer, session and tenant number decided.

``build(inventory, keys, remote)`` is a pure function: the validated inventory of this
stack, the WireGuard public keys of its routers, and the mesh members other stacks
export. The result (:class:`Plan`) is all a renderer needs; renderers decide syntax,
never numbers or peers.

Rules (DESIGN sections 4-5):

* WireGuard: a full mesh among all routers and nodes of all sites, less ``mesh.no_peer``.
* iBGP (one AS): a node peers with the route reflectors of its own site; a site with no
  reflector (a cloud extension) is served by every reflector; reflectors peer with each
  other. Sessions run between mesh addresses, so BGP and EVPN ride inside WireGuard.
* Tenants live on the gateway routers of the sites they span: one VRF (L3 VNI, table,
  RD, RT ``asn:id``), one stretched segment (L2 VNI, VLAN on the hypervisor trunk), one
  VRRP group per site, DHCP from one datacenter's pair, source NAT at every exit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from fabric import addressing as ap
from fabric.model import Hypervisor, Inventory, Router, Tenant

ROLE_REFLECTOR = "route-reflector"
ROLE_GATEWAY = "gateway"


@dataclass(frozen=True)
class MeshMember:
    """What a stack exports about each of its mesh nodes, and what peers need to know."""

    name: str
    site: str
    site_id: int
    node_id: int
    endpoint: str
    port: int
    public_key: str
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
class EgressAllow:
    destination: str
    protocol: str
    ports: tuple[int, ...]
    description: str


@dataclass(frozen=True)
class TenantPlan:
    """A tenant's fabric-wide numbers and prefixes."""

    name: str
    id: int
    description: str
    sites: tuple[str, ...]
    vrf: str
    vlan: int
    vni: int
    l3_vni: int
    vrf_table: int
    route_target: str
    network: IPNetwork
    access: IPNetwork
    services: IPNetwork
    migration: IPNetwork
    dhcp_site: str | None
    egress_allow_all: bool
    egress: tuple[EgressAllow, ...]

    @property
    def prefixes(self) -> tuple[IPNetwork, ...]:
        """Every prefix the tenant owns (its own traffic among them is never filtered)."""
        return (self.network, self.access, self.services, self.migration)


@dataclass(frozen=True)
class TenantOnRouter:
    """One tenant as one gateway router carries it."""

    tenant: TenantPlan
    address: IPAddress
    gateway: IPAddress
    vrid: int
    priority: int
    route_distinguisher: str
    #: This router's slice of the DHCP range, or None when another site serves DHCP.
    dhcp: tuple[IPAddress, IPAddress] | None
    #: Source address of the tenant's egress, or None to masquerade behind the router.
    nat_address: IPAddress | None


@dataclass(frozen=True)
class WireguardPeer:
    name: str
    public_key: str
    endpoint: str
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
    #: Tenant NAT addresses this datacenter's routers hold together (VRRP on the public VLAN).
    nat_addresses: tuple[IPNetwork, ...]
    public_vrid: int
    vrrp_priority: int


@dataclass(frozen=True)
class VmPlan:
    router: str
    image: str
    cpus: int
    memory: str
    tap: str
    trunk_vlans: tuple[int, ...]


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
    #: The host's own public address (its SSH address, when public) on the public VLAN
    #: of its management bond, with the default route; None keeps it backbone-only.
    public_address: IPNetwork | None = None
    public_gateway: IPAddress | None = None
    public_vlan: int | None = None


@dataclass(frozen=True)
class Plan:
    """This stack's whole slice of the fabric."""

    asn: int
    domain: str
    site: str
    site_id: int
    mtu: ap.MtuPlan
    mesh_port: int
    mesh_keepalive: int
    control_plane: IPNetwork
    tenant_base: IPNetwork
    public_vlan: int
    backbone_vlan: int
    tenants: tuple[TenantPlan, ...]
    routers: tuple[RouterPlan, ...]
    hypervisors: tuple[HypervisorPlan, ...]
    members: tuple[MeshMember, ...]
    remote: tuple[MeshMember, ...] = field(default=())


def tenant_plan(inv: Inventory, t: Tenant) -> TenantPlan:
    """A tenant's numbers: overrides where given, the ``base + id`` formulas otherwise."""
    plan, n = inv.address_plan, inv.numbering
    length = plan.tenant_prefix_length
    sites = inv.tenant_sites(t)
    datacenters = [s for s in sites if inv.site(s).kind == "datacenter"]
    return TenantPlan(
        name=t.name,
        id=t.id,
        description=t.description,
        sites=tuple(sites),
        vrf=t.name,
        vlan=t.vlan if t.vlan is not None else ap.vlan(n.vlan_base, t.id),
        vni=t.vni if t.vni is not None else ap.l2_vni(n.l2_vni_base, t.id),
        l3_vni=t.l3_vni if t.l3_vni is not None else ap.l3_vni(n.l3_vni_base, t.id),
        vrf_table=t.vrf_table if t.vrf_table is not None else ap.vrf_table(n.vrf_table_base, t.id),
        route_target=ap.route_target(inv.asn, t.id),
        network=ap.tenant_block(plan.tenant_networks, length, t.id),
        access=ap.tenant_block(plan.tenant_access, length, t.id),
        services=ap.tenant_block(plan.tenant_services, length, t.id),
        migration=ap.tenant_block(plan.tenant_migration, length, t.id),
        dhcp_site=t.dhcp_site or (datacenters[0] if datacenters else None),
        egress_allow_all=t.egress.allow_all,
        egress=tuple(
            EgressAllow(str(r.destination), r.protocol, tuple(r.ports), r.description) for r in t.egress.allow
        ),
    )


def local_members(inv: Inventory, keys: Mapping[str, str]) -> tuple[MeshMember, ...]:
    """This stack's routers as mesh members (what it exports to the other stacks)."""
    s = inv.site_id
    return tuple(
        MeshMember(
            name=r.name,
            site=inv.datacenter.name,
            site_id=s,
            node_id=r.id,
            endpoint=str(r.public_address),
            port=inv.mesh.port,
            public_key=keys[r.name],
            mesh_address=str(ap.mesh_address(inv.address_plan.control_plane, s, r.id)),
            roles=tuple(role for role, on in ((ROLE_REFLECTOR, r.route_reflector), (ROLE_GATEWAY, r.gateway)) if on),
        )
        for r in sorted(inv.datacenter.routers, key=lambda r: r.id)
    )


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


def bgp_neighbors(me: MeshMember, everyone: Sequence[MeshMember]) -> tuple[BgpNeighbor, ...]:
    """Route-reflector sessions (see the module docstring for the rules)."""
    sites_with_reflector = {m.site for m in everyone if m.is_reflector}

    def serves(reflector: MeshMember, client: MeshMember) -> bool:
        return client.site == reflector.site or client.site not in sites_with_reflector

    out = []
    for m in sorted(everyone, key=lambda m: (m.site_id, m.node_id)):
        if m.name == me.name:
            continue
        if me.is_reflector and m.is_reflector:
            out.append(BgpNeighbor(m.name, m.mesh_address, client=False))
        elif me.is_reflector and serves(me, m):
            out.append(BgpNeighbor(m.name, m.mesh_address, client=True))
        elif m.is_reflector and not me.is_reflector and serves(m, me):
            out.append(BgpNeighbor(m.name, m.mesh_address, client=False))
    return tuple(out)


def _tenant_on_router(inv: Inventory, router: Router, t: TenantPlan, mesh: IPAddress) -> TenantOnRouter:
    s = inv.site_id
    dhcp = None
    if t.dhcp_site == inv.datacenter.name:
        gateways = sorted(r.id for r in inv.datacenter.routers if r.gateway)
        first, last = ap.dhcp_range(t.network)
        dhcp = ap.split_range(first, last, len(gateways), gateways.index(router.id))
    return TenantOnRouter(
        tenant=t,
        address=ap.router_tenant_address(t.network, s, router.id),
        gateway=ap.gateway_address(t.network, s),
        vrid=ap.vrrp_vrid(s),
        priority=ap.vrrp_priority(router.id),
        route_distinguisher=ap.route_distinguisher(mesh, t.id),
        dhcp=dhcp,
        nat_address=inv.datacenter.nat_addresses.get(t.name),
    )


def build(inv: Inventory, keys: Mapping[str, str], remote: Sequence[MeshMember] = ()) -> Plan:
    """The whole plan of one stack. ``keys``: WireGuard public key per local router name."""
    plan = inv.address_plan
    dc = inv.datacenter
    s = inv.site_id
    members = local_members(inv, keys)
    local_names = {m.name for m in members}
    everyone = [*members, *(m for m in remote if m.name not in local_names)]
    no_peer = {frozenset(pair) for pair in inv.mesh.no_peer}
    tenants = tuple(tenant_plan(inv, t) for t in sorted(inv.tenants, key=lambda t: t.id))
    here = tuple(t for t in tenants if dc.name in t.sites)
    backbone = ap.site_block(plan.backbone, s)
    public_gateway = dc.gateway
    admin = tuple(dc.admin_prefixes) or (plan.control_plane, backbone)
    by_member = {m.name: m for m in members}
    nat_addresses = tuple(
        IPNetwork(f"{addr}/{next(p.prefixlen for p in dc.public_prefixes if addr in p)}")
        for _, addr in sorted(dc.nat_addresses.items())
    )

    routers = []
    for r in sorted(dc.routers, key=lambda r: r.id):
        me = by_member[r.name]
        mesh = IPAddress(me.mesh_address)
        carried = tuple(_tenant_on_router(inv, r, t, mesh) for t in here) if r.gateway else ()
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
                bgp_neighbors=bgp_neighbors(me, everyone),
                tenants=carried,
                trunk_vlans=_trunk_vlans(inv, [c.tenant for c in carried]),
                nat_addresses=nat_addresses,
                public_vrid=ap.public_vrrp_vrid(s),
                vrrp_priority=ap.vrrp_priority(r.id),
            )
        )

    hypervisors = tuple(
        _hypervisor_plan(inv, hv, routers, backbone, public_gateway)
        for hv in sorted(dc.hypervisors, key=lambda h: h.id)
    )
    return Plan(
        asn=inv.asn,
        domain=inv.domain,
        site=dc.name,
        site_id=s,
        mtu=ap.mtu_plan(inv.mtu.underlay, ipv6_underlay=False, tenant=inv.mtu.tenant),
        mesh_port=inv.mesh.port,
        mesh_keepalive=inv.mesh.keepalive,
        control_plane=plan.control_plane,
        tenant_base=plan.tenant_base,
        public_vlan=inv.numbering.public_vlan,
        backbone_vlan=inv.numbering.backbone_vlan,
        tenants=tenants,
        routers=tuple(routers),
        hypervisors=hypervisors,
        members=members,
        remote=tuple(m for m in remote if m.name not in local_names),
    )


def _hypervisor_plan(
    inv: Inventory, hv: Hypervisor, routers: Sequence[RouterPlan], backbone: IPNetwork, public_gateway: IPAddress
) -> HypervisorPlan:
    """A host, its router VMs, and, when its SSH address is public, that address with the default route."""
    specs = {r.name: r for r in inv.datacenter.routers}
    prefix = next((p for p in inv.datacenter.public_prefixes if hv.ssh.address in p), None)
    return HypervisorPlan(
        spec=hv,
        site=inv.datacenter.name,
        backbone_address=ap.backbone_hypervisor_address(inv.address_plan.backbone, inv.site_id, hv.id),
        backbone=backbone,
        backbone_vlan=inv.numbering.backbone_vlan,
        underlay_mtu=inv.mtu.underlay,
        public_address=None if prefix is None else IPNetwork(f"{hv.ssh.address}/{prefix.prefixlen}"),
        public_gateway=None if prefix is None else public_gateway,
        public_vlan=None if prefix is None else inv.numbering.public_vlan,
        vms=tuple(
            VmPlan(
                router=r.name,
                image=router_image(specs[r.name]),
                cpus=specs[r.name].vm.cpus,
                memory=specs[r.name].vm.memory,
                tap=f"vt-{r.name}",
                trunk_vlans=r.trunk_vlans,
            )
            for r in routers
            if r.hypervisor == hv.name
        ),
    )


def _trunk_vlans(inv: Inventory, tenants: Sequence[TenantPlan]) -> tuple[int, ...]:
    """VLANs a router's trunk carries: public, backbone, then its tenants'."""
    return (inv.numbering.public_vlan, inv.numbering.backbone_vlan, *sorted(t.vlan for t in tenants))


def router_image(router: Router) -> str:
    """Where the router's disk image lives on its hypervisor."""
    return router.vm.image or f"/var/lib/machines/{router.name}.raw"
