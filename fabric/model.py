"""The inventory: what a user writes in the stack config, as typed, strict shapes.

Each field's type says what it may hold (strings by :mod:`fabric.fields`, numbers
strictly numbers); the rules that need several fields are in :mod:`fabric.checks`.
:func:`fabric.loader.load` is the only way in: it runs both and raises one
:class:`~fabric.errors.ConfigError` listing every problem, each message naming its
config key. Nothing downstream re-validates.

Defaults are the project's address plan (see ``AddressPlan`` and README "Address plan").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from netaddr import AddrFormatError, IPAddress, IPNetwork
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)

from fabric.addressing import HYPERVISOR_HOST_OFFSET
from fabric.cloud_limits import CLOUDS
from fabric.fields import (
    BondName,
    BridgeName,
    CertFingerprint,
    CloudImage,
    CloudToken,
    Description,
    DnsName,
    HostKeyPin,
    HostPath,
    LocalPath,
    Mac,
    Memory,
    Name,
    NicName,
    SourceRef,
    SshPublicKey,
    StackName,
    TenantName,
    UserName,
    WireguardKey,
    shown,
    written,
)

# ----------------------------------------------------------------------------- types


#: Dotted-quad text, as written (netaddr alone would also take ``10/8``, spaces or hex).
_DOTTED = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"


def _prefix(value: Any) -> IPNetwork:
    if isinstance(value, IPNetwork):
        return value
    if not isinstance(value, str) or not re.fullmatch(rf"{_DOTTED}/[0-9]{{1,2}}", value):
        if isinstance(value, str) and ":" in value:
            raise ValueError(f"{shown(value)} is not an IPv4 prefix")
        raise ValueError(f"{written(value)} is not an IPv4 prefix like 10.0.0.0/24")
    try:
        net = IPNetwork(value)
    except (AddrFormatError, ValueError, TypeError):
        raise ValueError(f"{shown(value)} is not a valid IPv4 prefix") from None
    if net.version != 4:
        raise ValueError(f"{shown(value)} is not an IPv4 prefix")
    if net.ip != net.network:
        raise ValueError(f"{value!r} has host bits set; did you mean {net.cidr}?")
    return net


def _address(value: Any) -> IPAddress:
    if isinstance(value, IPAddress):
        return value
    if not isinstance(value, str) or not re.fullmatch(_DOTTED, value):
        if isinstance(value, str) and ":" in value:
            raise ValueError(f"{shown(value)} is not a plain IPv4 address")
        raise ValueError(f"{written(value)} is not an IPv4 address like 192.0.2.1")
    try:
        addr = IPAddress(str(value))
    except (AddrFormatError, ValueError, TypeError):
        raise ValueError(f"{shown(value)} is not a valid IPv4 address") from None
    if addr.version != 4 or "/" in str(value):
        raise ValueError(f"{shown(value)} is not a plain IPv4 address")
    return addr


def _member_node_id(value: int) -> int:
    if value == HYPERVISOR_HOST_OFFSET:
        raise ValueError(f"{value} is no member's node id (routers and nodes 1-127, hypervisors 129-254)")
    return value


def _endpoint(value: Any) -> str:
    """A peer's WireGuard endpoint: an IPv4 address, or empty while a cloud has not allocated it."""
    return "" if value == "" else str(_address(value))


Prefix = Annotated[
    IPNetwork,
    BeforeValidator(_prefix),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "format": "ipv4-prefix"}),
]
Address = Annotated[
    IPAddress,
    BeforeValidator(_address),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "format": "ipv4"}),
]
Id = Annotated[int, Field(ge=1)]


@dataclass(frozen=True)
class Secret:
    """A config value that exists only as a Pulumi secret; the core never sees its text."""

    key: str


#: A bond without an explicit MTU runs at Ethernet's default.
DEFAULT_BOND_MTU = 1500
#: Router names become VM names; ``vt-<name>`` (the VM's tap) must fit 15 characters.
MAX_VM_NAME = 12


class _Model(BaseModel):
    """Strict: a number is a number (never ``true`` or ``"7"``), a flag is a boolean; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True)


# ----------------------------------------------------------------------------- fabric-wide


class AddressPlan(_Model):
    """Address pools (README "Address plan"). Defaults are the example fabric's plan."""

    control_plane: Prefix = IPNetwork("172.27.0.0/20")
    backbone: Prefix = IPNetwork("172.16.0.0/20")
    tenant_base: Prefix = IPNetwork("100.64.0.0/10")
    tenant_access: Prefix = IPNetwork("100.64.0.0/16")
    tenant_networks: Prefix = IPNetwork("100.65.0.0/16")
    tenant_services: Prefix = IPNetwork("100.80.0.0/16")
    #: Tenants' further segments (``tenants[].segments``): 16 blocks per tenant id.
    tenant_segments: Prefix = IPNetwork("100.112.0.0/12")
    tenant_prefix_length: int = Field(default=24, ge=8, le=26)
    #: Cloud extensions' networks (VPC/VNet): cloud site ``s`` gets the pool's ``s``-th /16.
    cloud_networks: Prefix = IPNetwork("10.240.0.0/12")

    def tenant_pools(self) -> dict[str, IPNetwork]:
        return {
            "tenant_access": self.tenant_access,
            "tenant_networks": self.tenant_networks,
            "tenant_services": self.tenant_services,
            "tenant_segments": self.tenant_segments,
        }


class Numbering(_Model):
    """Bases of the per-tenant number formulas (``base + tenant id``), and fixed VLANs."""

    l2_vni_base: int = Field(default=10000, ge=1, le=16_777_214)
    l3_vni_base: int = Field(default=20000, ge=1, le=16_777_214)
    #: Segment ``j`` of tenant ``t`` has VNI ``segment_vni_base + 16t + j``.
    segment_vni_base: int = Field(default=100000, ge=1, le=16_777_214)
    vrf_table_base: int = Field(default=1000, ge=100, le=65_535)
    public_vlan: int = Field(default=10, ge=1, le=4094)
    backbone_vlan: int = Field(default=100, ge=1, le=4094)


class Mtu(_Model):
    """Underlay MTU, and optionally a lower tenant MTU than the derived one."""

    underlay: int = Field(default=1500, ge=576, le=9216)
    tenant: int | None = Field(default=None, ge=576, le=9000)


class Mesh(_Model):
    """The WireGuard mesh among all routers and nodes of all sites."""

    port: int = Field(default=51820, ge=1, le=65535)
    keepalive: int = Field(default=25, ge=0, le=65535)
    #: Pairs of router names that must not peer (e.g. no direct path between them).
    no_peer: list[Annotated[tuple[Name, Name], Strict(False)]] = []
    #: Raise to replace every WireGuard key of the fabric (each stack's on its next up).
    key_epoch: int = Field(default=0, ge=0)


class Verify(_Model):
    """Whether ``pulumi up`` checks the fabric once the stack's devices are applied
    (``python -m fabric verify``'s checks), failing the run when they do not all pass
    within ``deadline`` seconds."""

    after_up: bool = False
    deadline: int = Field(default=120, ge=10, le=3600)
    #: How recent every WireGuard handshake must be, in seconds: a tunnel with traffic rekeys
    #: every 2 minutes (WireGuard's REKEY_AFTER_TIME), so 3 minutes is late.
    handshake_within: int = Field(default=180, ge=30, le=3600)


class Site(_Model):
    """A site's name and id, registered once for the whole fabric."""

    name: Name
    #: At most 255: a tenant VM's MAC holds it in one byte (``02:fb:<site>:<id>``).
    id: Annotated[int, Field(ge=1, le=255)]
    kind: Literal["datacenter", "cloud"] = "datacenter"


class EgressRule(_Model):
    """One destination a tenant may reach on the internet (tiCrypt-style allow list)."""

    destination: Prefix
    protocol: Literal["tcp", "udp", "icmp", "all"] = "tcp"
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = []
    #: Only this part of the tenant may use the entry: a segment name, ``<datacenter>/<vm>`` (a VM
    #: with a fixed address) or a prefix of the tenant's; default: all of it.
    source: SourceRef | None = None
    description: Description = ""


#: Published services per tenant: their ids number rules ``100t + id``.
MAX_PUBLISH_ID = 99


class Publish(_Model):
    """A tenant service published on a public address (README "Published services"): destination NAT
    on one datacenter's gateway routers, the firewall admitting exactly that flow."""

    #: 1-99, unique in the tenant: numbers its NAT and firewall rules; never reuse one.
    id: Annotated[int, Field(ge=1, le=MAX_PUBLISH_ID)]
    #: The datacenter whose gateways publish it: the one its target's replies leave through
    #: (a DHCP client's gateway is its DHCP datacenter's); default: the tenant's DHCP datacenter.
    datacenter: Name | None = None
    #: An address of that datacenter's public prefixes, which its gateways then hold by VRRP;
    #: default: the tenant's NAT address there.
    public_address: Address | None = None
    protocol: Literal["tcp", "udp"] = "tcp"
    port: int = Field(ge=1, le=65535)
    #: The tenant address it goes to (on one of its segments), and port (default: ``port``).
    to: Address
    to_port: int | None = Field(default=None, ge=1, le=65535)
    #: Who may reach it; default: anywhere.
    from_: list[Prefix] = Field(default=[], alias="from")
    description: Description = ""


class TenantDns(_Model):
    """The tenant's resolver (README "Tenant DNS"): names of its VMs under ``<tenant>.<domain>``,
    other names forwarded to ``forward`` through the tenant's own exit (its egress policy must
    admit UDP 53 to each)."""

    forward: list[Address] = Field(default=[], max_length=3)


class Egress(_Model):
    """A tenant's single exit: denied by default, allowed per rule or all at once."""

    allow_all: bool = False
    allow: list[EgressRule] = []


class Segment(_Model):
    """A tenant's further L2 segment (README "Tenant networks"): its own VNI, bridge, gateways and
    DHCP range, in the tenant's VRF, so it routes to the tenant's other segments and to no one else's."""

    #: Names the segment in ``source``, ``vms[].segment`` and its VRRP groups; ``main`` is the first segment's.
    name: Name
    #: 1-15: numbers its VNI and block (``16 * tenant id + id``); never reuse one.
    id: Annotated[int, Field(ge=1, le=15)]
    #: An address block of its own inside ``address_plan.tenant_base``; default: the formula's
    #: block of ``address_plan.tenant_segments``.
    prefix: Prefix | None = None
    #: The segment is the tenant's services block (``address_plan.tenant_services``'s ``t``-th
    #: block): managed services and load-balancer addresses on a segment of their own.
    services: bool = False
    #: The datacenters (and sites of ``frr`` nodes) it spans; default: the tenant's, but clouds.
    sites: list[Name] | None = None


class Tenant(_Model):
    """A tenant: VRF, segments, VNIs, gateways. Numbers derive from ``id`` unless overridden."""

    name: TenantName
    id: Id
    description: Description = ""
    #: Sites the tenant spans; default: every datacenter.
    sites: list[Name] | None = None
    #: The datacenter whose gateway pair serves DHCP; default: the lowest-id datacenter spanned.
    dhcp_site: Name | None = None
    egress: Egress = Egress()
    #: Segments besides the first (whose numbers are ``vni``, ``address_plan.tenant_networks``'s block).
    segments: list[Segment] = []
    #: Services reached from outside on a public address (at most 99).
    publish: list[Publish] = Field(default=[], max_length=MAX_PUBLISH_ID)
    dns: TenantDns = TenantDns()
    vni: int | None = Field(default=None, ge=1, le=16_777_214)
    l3_vni: int | None = Field(default=None, ge=1, le=16_777_214)
    vrf_table: int | None = Field(default=None, ge=100, le=65_535)


# ----------------------------------------------------------------------------- datacenter


class Nic(_Model):
    """A physical port. ``vfs`` SR-IOV virtual functions are created at boot."""

    name: NicName
    model: Literal["intel-x710", "mellanox-cx4", "other"] = "other"
    mac: Mac | None = None
    vfs: int = Field(default=0, ge=0, le=128)


class Bond(_Model):
    """An LACP (802.3ad) bond; the timers default to the seed's fast settings."""

    name: BondName
    interfaces: list[NicName] = Field(min_length=1)
    lacp_rate: Literal["fast", "slow"] = "fast"
    mii_monitor_ms: int = Field(default=1000, ge=0)
    updelay_ms: int = Field(default=2000, ge=0)
    downdelay_ms: int = Field(default=2000, ge=0)
    mtu: int | None = Field(default=None, ge=576, le=9216)


class Ssh(_Model):
    """How Pulumi reaches a host over SSH: key authentication, the host key pinned."""

    address: Address
    port: int = Field(default=22, ge=1, le=65535)
    user: UserName = "root"
    #: Pinned host key: a known_hosts line (``ssh-ed25519 AAAA...``) or a ``SHA256:...``
    #: fingerprint. Required: an unknown host key is never accepted.
    host_key: HostKeyPin | None = None
    #: Where the host's files go: ``/``, or a directory for preparing an image or chroot.
    root: HostPath = "/"


class Ovs(_Model):
    """The hypervisor's Open vSwitch bridge: uplink bond, hardware offload."""

    bridge: BridgeName = "br0"
    uplink: BondName = "bond1"
    hw_offload: bool = True
    #: ``system`` (the kernel datapath) or ``netdev`` (userspace, e.g. for a test bed).
    datapath: Literal["system", "netdev"] = "system"


class Hypervisor(_Model):
    """An Arch Linux host: NICs, bonds, OVS; runs router and tenant VMs under systemd-vmspawn.

    With a public address it is a mesh member and the VTEP of the tenants it hosts
    (README "Tenant VMs"); its id numbers its backbone and mesh addresses (``128 + id``).
    """

    name: Name
    id: Id
    ssh: Ssh
    nics: list[Nic] = Field(min_length=1)
    bonds: list[Bond] = Field(min_length=1)
    #: The bond that carries the host's own backbone address.
    management_bond: BondName = "bond0"
    ovs: Ovs = Ovs()
    #: The host's own address on the public VLAN of its management bond (with the default route):
    #: its WireGuard endpoint. Default: its ``ssh.address`` when that is in ``public_prefixes``.
    public_address: Address | None = None
    #: Raise to replace this hypervisor's WireGuard key; nothing else replaces it.
    key_rotation: int = Field(default=0, ge=0)


class Vm(_Model):
    """A router VM's resources under systemd-vmspawn."""

    cpus: int = Field(default=2, ge=1, le=64)
    memory: Memory = "4G"
    #: The router image on the hypervisor (an absolute path); default: fabric's path for the router.
    image: HostPath | None = None


class TenantVm(_Model):
    """A tenant's VM on a hypervisor of this datacenter, attached to the tenant's segment there."""

    name: Name
    #: Unique in the datacenter; numbers the VM's MAC (``02:fb:<site>:<id>``), so never reuse one.
    id: Annotated[int, Field(ge=1, le=0xFFFFFF)]
    tenant: TenantName
    hypervisor: Name
    #: The VM's disk image on its hypervisor (an absolute path); default: ``/var/lib/machines/<name>.raw``.
    image: HostPath | None = None
    cpus: int = Field(default=2, ge=1, le=64)
    memory: Memory = "4G"
    #: The tenant's segment the VM is on (``tenants[].segments[].name``); default: its first, ``main``.
    segment: Name | None = None
    #: A fixed address in its segment (outside its gateways and DHCP range); default: DHCP.
    address: Address | None = None


class Api(_Model):
    """Where Pulumi reaches the router's HTTPS API (default: its backbone address), and how
    it verifies the router's certificate: a CA bundle, a pinned SHA-256 fingerprint, or
    the system's CAs; ``insecure`` is an explicit opt-out."""

    address: Address | None = None
    port: int = Field(default=443, ge=1, le=65535)
    #: A PEM file of CA certificates, on the machine that runs Pulumi (only certificates are read).
    ca_file: LocalPath | None = None
    fingerprint: CertFingerprint | None = None
    insecure: bool = False
    #: Apply under commit-confirm where the release has it (:mod:`fabric.vyos_releases`): a
    #: change that cuts the provider off is rolled back by the router. ``false`` applies
    #: without that safety net (the policy pack refuses it).
    commit_confirm: bool = True


class Router(_Model):
    """A VyOS router VM."""

    name: Name
    id: Id
    hypervisor: Name
    route_reflector: bool = False
    #: Gateway routers carry tenant segments and VRRP; at most a pair per datacenter.
    gateway: bool = True
    public_address: Address
    #: A release line of :data:`fabric.vyos_releases.RELEASES` (a test holds the two equal).
    vyos_version: Literal["1.5", "1.4"] = "1.5"
    vm: Vm = Vm()
    api: Api = Api()
    #: Raise to replace this router's WireGuard key; nothing else replaces it.
    key_rotation: int = Field(default=0, ge=0)
    #: Names this router had before, so a rename keeps its resources (and key).
    previous_names: list[Name] = []


class Datacenter(_Model):
    """This stack's datacenter: public blocks, hypervisors, routers."""

    name: Name
    public_prefixes: list[Prefix] = Field(min_length=1)
    #: Upstream gateway of the public block; default: first host of the first prefix.
    public_gateway: Address | None = None
    #: Tenant name -> the public address its egress leaves from (held by the routers'
    #: public VRRP group); tenants not listed masquerade behind their router.
    nat_addresses: dict[TenantName, Address] = {}
    #: Who may reach router APIs and SSH; default: the control plane and backbone.
    admin_prefixes: list[Prefix] = []
    #: ``admin_prefixes`` may hold ``0.0.0.0/0`` only when this says so: an explicit opt-in.
    admin_from_anywhere: bool = False
    hypervisors: list[Hypervisor] = Field(min_length=1)
    routers: list[Router] = Field(min_length=1)
    #: Tenant VMs, each on one of the hypervisors above (README "Tenant VMs").
    vms: list[TenantVm] = []

    def public_address_of(self, hv: Hypervisor) -> IPAddress | None:
        """A hypervisor's public address: as configured, else its SSH address when that is public
        (None: the host is on the backbone only, and not in the mesh)."""
        if hv.public_address is not None:
            return hv.public_address
        return hv.ssh.address if any(hv.ssh.address in p for p in self.public_prefixes) else None

    @property
    def upstream_gateway(self) -> IPAddress:
        """The upstream gateway: as configured, else the first host of the first public prefix."""
        return self.public_gateway or IPAddress(self.public_prefixes[0].first + 1)


class NodePort(_Model):
    """A tenant's port on an ``l2`` node: the interface ``vt-<name>`` that something else makes
    there (a container's veth, a VM's tap), bridged into the tenant's segment, its frames
    allowed only from the MAC ``02:fb:<site>:<id>``."""

    name: Name
    id: Annotated[int, Field(ge=1, le=0xFFFFFF)]
    tenant: TenantName
    #: The tenant's segment it is on; default: its first, ``main``.
    segment: Name | None = None
    #: Its address in its segment: the only IPv4 source its node admits from it.
    address: Address


class Node(_Model):
    """A Linux node configured over SSH (README "Topology"): a small site's router, an edge host, a lab node.

    It joins the mesh like a router (site ``site``, node ``id``: mesh address and tenant
    addresses by the same formulas). An ``frr`` node carries the segments of the tenants
    spanning its site as an EVPN VTEP with an address on each; an ``l2`` node only bridges
    the segments of its ``ports``' tenants, as a hypervisor does for its VMs (README
    "Tenant VMs"). A ``route_reflector`` node reflects for its site.
    """

    name: Name
    id: Annotated[int, Field(ge=1, le=15)]
    site: Name
    route_reflector: bool = False
    #: Where peers reach its WireGuard port (its public or underlay address).
    endpoint: Address
    ssh: Ssh
    kind: Literal["frr", "l2"] = "frr"
    #: An ``l2`` node's tenant ports.
    ports: list[NodePort] = []
    #: Raise to replace this node's WireGuard key.
    key_rotation: int = Field(default=0, ge=0)


#: The clouds a stack can burst into (:mod:`fabric.cloud_limits`; ``Clouds`` has a field for each).
CLOUD_PROVIDERS = tuple(CLOUDS)


class Cloud(_Model):
    """A cloud extension ("burst"): a network and one ``frr`` node that joins the mesh.

    The node is a mesh member of site ``site`` (a ``kind: cloud`` site), node ``node_id``.
    Tenants extend into it by listing the site in their ``sites``.
    """

    enabled: bool = False
    #: The ``kind: cloud`` site this extension is; default: the provider's name.
    site: Name | None = None
    #: AWS region, Azure location or GCP region (required when enabled).
    region: CloudToken | None = None
    #: Availability zone (AWS, GCP); default: the region's first (``<region>a`` on AWS, ``<region>-b`` on GCP).
    zone: CloudToken | None = None
    #: Instance type / VM size / machine type; default: the provider's small general-purpose size.
    size: CloudToken | None = None
    #: Machine image; default: the provider's Debian 12 image.
    image: CloudImage | None = None
    node_id: Annotated[int, Field(ge=1, le=15)] = 1
    #: Who may SSH to the node (none by default: the node needs no login to work).
    admin_prefixes: list[Prefix] = []
    #: ``admin_prefixes`` may hold ``0.0.0.0/0`` only when this says so: an explicit opt-in.
    admin_from_anywhere: bool = False
    #: An OpenSSH public key for the node's admin user (required on Azure).
    ssh_public_key: SshPublicKey | None = None
    #: Raise to replace this node's WireGuard key (and so the node).
    key_rotation: int = Field(default=0, ge=0)

    def site_name(self, provider: str) -> str:
        return self.site or provider


class Clouds(_Model):
    """Per provider, its extension's settings (absent = not used)."""

    aws: Cloud | None = None
    azure: Cloud | None = None
    gcp: Cloud | None = None

    def enabled(self) -> list[tuple[str, Cloud]]:
        """(provider, settings) of every enabled extension, in provider order."""
        return [(p, c) for p in CLOUD_PROVIDERS if (c := getattr(self, p)) is not None and c.enabled]


class Inventory(_Model):
    """Everything one stack's config says: fabric-wide settings plus this stack's datacenter
    (hypervisors and VyOS routers), ``frr`` nodes and cloud extensions: at least one of them."""

    asn: int = Field(default=65000, ge=1, le=4_294_967_294)
    domain: DnsName = "fabric.internal"
    address_plan: AddressPlan = AddressPlan()
    numbering: Numbering = Numbering()
    mtu: Mtu = Mtu()
    mesh: Mesh = Mesh()
    sites: list[Site] = Field(min_length=1)
    tenants: list[Tenant] = []
    datacenter: Datacenter | None = None
    #: Linux ``frr`` nodes this stack configures over SSH, in any registered site.
    nodes: list[Node] = []
    #: Cloud extensions this stack owns ("bursts"), per provider.
    clouds: Clouds = Clouds()
    #: Stacks whose exported mesh members this stack peers with.
    peer_stacks: list[StackName] = []
    vyos_api_key: Secret | None = None
    #: The private key Pulumi logs in to hypervisors with; without it, an SSH agent.
    ssh_private_key: Secret | None = None
    #: Check the fabric after each ``up`` (README "Fabric health").
    verify: Verify = Verify()

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    @property
    def dc(self) -> Datacenter:
        """The stack's datacenter, for code that only runs when there is one."""
        if self.datacenter is None:
            raise ValueError("this stack has no datacenter")
        return self.datacenter

    @property
    def routers(self) -> list[Router]:
        """The datacenter's VyOS routers (none without a datacenter)."""
        return self.datacenter.routers if self.datacenter is not None else []

    @property
    def site_id(self) -> int:
        """The datacenter's site id."""
        return self.site(self.dc.name).id

    def tenant_sites(self, tenant: Tenant) -> list[str]:
        """The sites a tenant spans, by site id."""
        names = tenant.sites if tenant.sites is not None else [s.name for s in self.sites if s.kind == "datacenter"]
        return sorted(names, key=lambda n: self.site(n).id)


#: Roles a mesh member can export (``fabric.topology`` assigns them).
MemberRole = Literal["route-reflector", "gateway", "cloud-node", "hypervisor"]


class ExportedMember(_Model):
    """A mesh member as another stack exports it (``mesh_members``): checked like local config,
    since it goes into this stack's WireGuard, FRR and VyOS configs."""

    name: Name
    site: Name
    site_id: Id
    #: Routers and nodes count from 1, hypervisors from 129 (``128 + id``): never 128 or 255.
    node_id: Annotated[int, Field(ge=1, le=254), AfterValidator(_member_node_id)]
    #: Empty while a cloud node's public address is not allocated yet.
    endpoint: Annotated[str, BeforeValidator(_endpoint)]
    port: Annotated[int, Field(ge=1, le=65535)]
    public_key: WireguardKey
    mesh_address: Address
    roles: list[MemberRole] = []


#: The config keys (``fabric:<key>``) the program reads, in the order they are documented.
CONFIG_KEYS: tuple[str, ...] = tuple(Inventory.model_fields)


def cloud_node_name(site: str, node_id: int) -> str:
    """A cloud node's name (its mesh member and resource names): ``<site>-n<id>``."""
    return f"{site}-n{node_id}"
