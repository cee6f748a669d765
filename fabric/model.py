"""The validated inventory: what a user writes in the stack config, checked.

``load(raw)`` is the only way in. It runs pydantic for shapes and types, then the
cross-checks no single field can do (overlaps, duplicates, collisions, exhaustion,
references), and raises one :class:`~fabric.errors.ConfigError` listing every
problem, each message naming its config key. Nothing downstream re-validates.

Defaults are the seeds' address plan (see ``AddressPlan``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from netaddr import AddrFormatError, IPAddress, IPNetwork
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from fabric import addressing as ap
from fabric.errors import ConfigError

# ----------------------------------------------------------------------------- types


def _prefix(value: Any) -> IPNetwork:
    if isinstance(value, IPNetwork):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"{value!r} is not an IPv4 prefix like 10.0.0.0/24")
    try:
        net = IPNetwork(value)
    except (AddrFormatError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a valid IPv4 prefix") from None
    if net.version != 4:
        raise ValueError(f"{value!r} is not an IPv4 prefix")
    if net.ip != net.network:
        raise ValueError(f"{value!r} has host bits set; did you mean {net.cidr}?")
    return net


def _address(value: Any) -> IPAddress:
    if isinstance(value, IPAddress):
        return value
    try:
        addr = IPAddress(str(value))
    except (AddrFormatError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a valid IPv4 address") from None
    if addr.version != 4 or "/" in str(value):
        raise ValueError(f"{value!r} is not a plain IPv4 address")
    return addr


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
#: Names become VyOS tag values, interface descriptions and Pulumi resource names.
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
#: Tenant names also name the tenant's VRF, which VyOS limits to 15 characters.
TenantName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,14}$")]
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
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# ----------------------------------------------------------------------------- fabric-wide


class AddressPlan(_Model):
    """Address pools (DESIGN section 4). Defaults are the seeds' plan."""

    control_plane: Prefix = IPNetwork("172.27.0.0/20")
    backbone: Prefix = IPNetwork("172.16.0.0/20")
    tenant_base: Prefix = IPNetwork("100.64.0.0/10")
    tenant_access: Prefix = IPNetwork("100.64.0.0/16")
    tenant_networks: Prefix = IPNetwork("100.65.0.0/16")
    tenant_services: Prefix = IPNetwork("100.80.0.0/16")
    tenant_migration: Prefix = IPNetwork("100.96.0.0/16")
    tenant_prefix_length: int = Field(default=24, ge=8, le=26)
    #: Cloud extensions' networks (VPC/VNet): cloud site ``s`` gets the pool's ``s``-th /16.
    cloud_networks: Prefix = IPNetwork("10.240.0.0/12")

    def tenant_pools(self) -> dict[str, IPNetwork]:
        return {
            "tenant_access": self.tenant_access,
            "tenant_networks": self.tenant_networks,
            "tenant_services": self.tenant_services,
            "tenant_migration": self.tenant_migration,
        }


class Numbering(_Model):
    """Bases of the per-tenant number formulas (``base + tenant id``), and fixed VLANs."""

    vlan_base: int = Field(default=1000, ge=1, le=4094)
    l2_vni_base: int = Field(default=10000, ge=1, le=16_777_214)
    l3_vni_base: int = Field(default=20000, ge=1, le=16_777_214)
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
    no_peer: list[tuple[Name, Name]] = []
    #: Raise to replace every WireGuard key of the fabric (each stack's on its next up).
    key_epoch: int = Field(default=0, ge=0)


class Site(_Model):
    """A site's name and id, registered once for the whole fabric."""

    name: Name
    id: Id
    kind: Literal["datacenter", "cloud"] = "datacenter"


class EgressRule(_Model):
    """One destination a tenant may reach on the internet (tiCrypt-style allow list)."""

    destination: Prefix
    protocol: Literal["tcp", "udp", "icmp", "all"] = "tcp"
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = []
    description: str = ""


class Egress(_Model):
    """A tenant's single exit: denied by default, allowed per rule or all at once."""

    allow_all: bool = False
    allow: list[EgressRule] = []


class Tenant(_Model):
    """A tenant: VRF, segment, VNIs, gateways. Numbers derive from ``id`` unless overridden."""

    name: TenantName
    id: Id
    description: str = ""
    #: Sites the tenant spans; default: every datacenter.
    sites: list[Name] | None = None
    #: The datacenter whose gateway pair serves DHCP; default: the lowest-id datacenter spanned.
    dhcp_site: Name | None = None
    egress: Egress = Egress()
    vlan: int | None = Field(default=None, ge=1, le=4094)
    vni: int | None = Field(default=None, ge=1, le=16_777_214)
    l3_vni: int | None = Field(default=None, ge=1, le=16_777_214)
    vrf_table: int | None = Field(default=None, ge=100, le=65_535)


# ----------------------------------------------------------------------------- datacenter


class Nic(_Model):
    """A physical port. ``vfs`` SR-IOV virtual functions are created at boot."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]{1,14}$")]
    model: Literal["intel-x710", "mellanox-cx4", "other"] = "other"
    mac: Annotated[str, Field(pattern=r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")] | None = None
    vfs: int = Field(default=0, ge=0, le=128)


class Bond(_Model):
    """An LACP (802.3ad) bond; the timers default to the seed's fast settings."""

    name: Annotated[str, Field(pattern=r"^bond[0-9]{1,3}$")]
    interfaces: list[str] = Field(min_length=1)
    lacp_rate: Literal["fast", "slow"] = "fast"
    mii_monitor_ms: int = Field(default=1000, ge=0)
    updelay_ms: int = Field(default=2000, ge=0)
    downdelay_ms: int = Field(default=2000, ge=0)
    mtu: int | None = Field(default=None, ge=576, le=9216)


class Ssh(_Model):
    """How Pulumi reaches a host over SSH: key authentication, the host key pinned."""

    address: Address
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    #: Pinned host key: a known_hosts line (``ssh-ed25519 AAAA...``) or a ``SHA256:...``
    #: fingerprint. Required: an unknown host key is never accepted.
    host_key: Annotated[str, Field(min_length=20)] | None = None
    #: Where the host's files go: ``/``, or a directory for preparing an image or chroot.
    root: Annotated[str, Field(pattern=r"^/")] = "/"


class Ovs(_Model):
    """The hypervisor's Open vSwitch bridge: uplink bond, hardware offload."""

    bridge: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,14}$")] = "br0"
    uplink: str = "bond1"
    hw_offload: bool = True
    #: ``system`` (the kernel datapath) or ``netdev`` (userspace, e.g. for a test bed).
    datapath: Literal["system", "netdev"] = "system"


class Hypervisor(_Model):
    """An Arch Linux host: NICs, bonds, OVS; runs router VMs under systemd-vmspawn."""

    name: Name
    id: Id
    ssh: Ssh
    nics: list[Nic] = Field(min_length=1)
    bonds: list[Bond] = Field(min_length=1)
    #: The bond that carries the host's own backbone address.
    management_bond: str = "bond0"
    ovs: Ovs = Ovs()


class Vm(_Model):
    """A router VM's resources under systemd-vmspawn."""

    cpus: int = Field(default=2, ge=1, le=64)
    memory: Annotated[str, Field(pattern=r"^[0-9]+[MG]$")] = "4G"
    image: str | None = None


class Api(_Model):
    """Where Pulumi reaches the router's HTTPS API (default: its backbone address), and how
    it verifies the router's certificate: a CA bundle, a pinned SHA-256 fingerprint, or
    the system's CAs; ``insecure`` is an explicit opt-out."""

    address: Address | None = None
    port: int = Field(default=443, ge=1, le=65535)
    ca_file: str | None = None
    fingerprint: Annotated[str, Field(pattern=r"^(?i:(sha256:)?([0-9a-f]{2}:?){31}[0-9a-f]{2})$")] | None = None
    insecure: bool = False


class Router(_Model):
    """A VyOS router VM."""

    name: Name
    id: Id
    hypervisor: Name
    route_reflector: bool = False
    #: Gateway routers carry tenant segments and VRRP; at most a pair per datacenter.
    gateway: bool = True
    public_address: Address
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
    hypervisors: list[Hypervisor] = Field(min_length=1)
    routers: list[Router] = Field(min_length=1)

    @property
    def gateway(self) -> IPAddress:
        """The upstream gateway: as configured, else the first host of the first public prefix."""
        return self.public_gateway or IPAddress(self.public_prefixes[0].first + 1)


class Node(_Model):
    """A Linux ``frr`` node configured over SSH (DESIGN section 5): a small site's router, or a lab node.

    It joins the mesh like a router (site ``site``, node ``id``: mesh address and tenant
    addresses by the same formulas) and carries the segments of the tenants spanning its
    site as an EVPN VTEP; a ``route_reflector`` node reflects for its site.
    """

    name: Name
    id: Annotated[int, Field(ge=1, le=15)]
    site: Name
    route_reflector: bool = False
    #: Where peers reach its WireGuard port (its public or underlay address).
    endpoint: Address
    ssh: Ssh
    #: Raise to replace this node's WireGuard key.
    key_rotation: int = Field(default=0, ge=0)


#: The clouds a stack can burst into.
CLOUD_PROVIDERS = ("aws", "azure", "gcp")


class Cloud(_Model):
    """A cloud extension ("burst"): a network and one ``frr`` node that joins the mesh.

    The node is a mesh member of site ``site`` (a ``kind: cloud`` site), node ``node_id``.
    Tenants extend into it by listing the site in their ``sites``.
    """

    enabled: bool = False
    #: The ``kind: cloud`` site this extension is; default: the provider's name.
    site: Name | None = None
    #: AWS region, Azure location or GCP region (required when enabled).
    region: str | None = None
    #: Availability zone (AWS, GCP); default: the region's first (``<region>a`` on AWS, ``<region>-b`` on GCP).
    zone: str | None = None
    #: Instance type / VM size / machine type; default: the provider's small general-purpose size.
    size: str | None = None
    #: Machine image; default: the provider's Debian 12 image.
    image: str | None = None
    node_id: Annotated[int, Field(ge=1, le=15)] = 1
    #: Who may SSH to the node (none by default: the node needs no login to work).
    admin_prefixes: list[Prefix] = []
    #: An OpenSSH public key for the node's admin user (required on Azure).
    ssh_public_key: (
        Annotated[str, Field(pattern=r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]+( .*)?$")] | None
    ) = None
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
    domain: str = "fabric.internal"
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
    peer_stacks: list[str] = []
    vyos_api_key: Secret | None = None
    #: The private key Pulumi logs in to hypervisors with; without it, an SSH agent.
    ssh_private_key: Secret | None = None

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


#: The config keys (``fabric:<key>``) the program reads, in the order they are documented.
CONFIG_KEYS: tuple[str, ...] = tuple(Inventory.model_fields)


# ----------------------------------------------------------------------------- loading


def load(raw: dict[str, Any]) -> Inventory:
    """Validate a stack's config (keys without the ``fabric:`` prefix) into an Inventory."""
    try:
        inventory = Inventory.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_describe(err, raw) for err in exc.errors()]) from None
    problems = _cross_check(inventory)
    if problems:
        raise ConfigError(problems)
    return inventory


def _describe(err: Any, raw: dict[str, Any]) -> str:
    """Turn a pydantic error into ``key.path: message``, naming list items by their name."""
    parts: list[str] = []
    node: Any = raw
    for loc in err["loc"]:
        if isinstance(loc, int):
            label = str(loc)
            if isinstance(node, list) and loc < len(node):
                item = node[loc]
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    label = item["name"]
                node = item
            else:
                node = None
            parts[-1] += f"[{label}]"
        elif loc.startswith("function-") or loc in ("tagged-union", "json-or-python"):
            continue
        else:
            parts.append(loc)
            node = node.get(loc) if isinstance(node, dict) else None
    key = ".".join(parts) or "(top level)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "missing (required)"
    elif err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see the README's config reference)"
    elif err["type"] == "string_pattern_mismatch":
        msg = f"{err['input']!r} does not match {err['ctx']['pattern']}"
    return f"{key}: {msg}"


def _duplicates(items: list[Any], attr: str, key: str) -> list[str]:
    """One message per item whose ``attr`` repeats an earlier item's.

    Items are named by their ``name``, except when the name itself repeats: then by position.
    """
    seen: dict[Any, tuple[int, Any]] = {}
    out = []
    for index, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            first_index, first = seen[value]
            if attr == "name":
                out.append(f"{key}[{index}].name: {value!r} is also the name of {key}[{first_index}]")
            else:
                out.append(f"{key}[{item.name}].{attr}: {value} is also used by {key}[{first.name}]")
        else:
            seen[value] = (index, item)
    return out


def _overlaps(named: list[tuple[str, IPNetwork]]) -> list[str]:
    out = []
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1 :]:
            if a.first <= b.last and b.first <= a.last:
                out.append(f"{key_b}: {b} overlaps {key_a} {a}")
    return out


def _within(key: str, net: IPNetwork, pool_key: str, pool: IPNetwork) -> list[str]:
    if net not in pool:
        return [f"{key}: {net} is outside {pool_key} {pool}"]
    return []


def _cross_check(inv: Inventory) -> list[str]:
    problems: list[str] = []
    problems += _check_plan(inv)
    problems += _check_sites(inv)
    problems += _check_tenants(inv)
    if inv.datacenter is not None:
        problems += _check_datacenter(inv, inv.datacenter)
    elif not inv.nodes and not inv.clouds.enabled():
        problems.append("datacenter: missing; a stack needs a datacenter, nodes or an enabled cloud")
    problems += _check_mtu(inv)
    problems += _check_clouds(inv)
    problems += _check_nodes(inv)
    if inv.vyos_api_key is None and inv.routers:
        problems.append(
            "vyos_api_key: missing secret; set it with `pulumi config set --secret fabric:vyos_api_key <key>`"
        )
    return problems


def _check_plan(inv: Inventory) -> list[str]:
    plan = inv.address_plan
    problems: list[str] = []
    pools = [(f"address_plan.{k}", v) for k, v in plan.tenant_pools().items()]
    problems += _overlaps(pools)
    for key, pool in pools:
        problems += _within(key, pool, "address_plan.tenant_base", plan.tenant_base)
        if plan.tenant_prefix_length < pool.prefixlen:
            problems.append(
                f"address_plan.tenant_prefix_length: /{plan.tenant_prefix_length} does not fit in {key} {pool}"
            )
    infra = [
        ("address_plan.control_plane", plan.control_plane),
        ("address_plan.backbone", plan.backbone),
        ("address_plan.tenant_base", plan.tenant_base),
    ]
    problems += _overlaps(infra)
    for key, net in infra[:2]:
        if net.prefixlen > ap.SITE_PREFIX_LENGTH:
            problems.append(f"{key}: {net} is smaller than one site's /{ap.SITE_PREFIX_LENGTH}")
    return problems


def _check_sites(inv: Inventory) -> list[str]:
    problems = _duplicates(inv.sites, "name", "sites") + _duplicates(inv.sites, "id", "sites")
    plan = inv.address_plan
    limit = min(
        ap.capacity(plan.control_plane, ap.SITE_PREFIX_LENGTH), ap.capacity(plan.backbone, ap.SITE_PREFIX_LENGTH)
    )
    for site in inv.sites:
        if site.id >= limit:
            problems.append(
                f"sites[{site.name}].id: {site.id} is past the end of the address plan: "
                f"address_plan.control_plane {plan.control_plane} and address_plan.backbone {plan.backbone} "
                f"hold site ids 1-{limit - 1}"
            )
    names = {s.name for s in inv.sites}
    dc = inv.datacenter
    if dc is not None and dc.name not in names:
        problems.append(f"datacenter.name: {dc.name!r} is not one of sites ({', '.join(sorted(names))})")
    elif dc is not None and inv.site(dc.name).kind != "datacenter":
        problems.append(f"datacenter.name: sites[{dc.name}] is a {inv.site(dc.name).kind}")
    return problems


def _tenant_numbers(inv: Inventory, t: Tenant) -> dict[str, int]:
    n = inv.numbering
    return {
        "vlan": t.vlan if t.vlan is not None else ap.vlan(n.vlan_base, t.id),
        "vni": t.vni if t.vni is not None else ap.l2_vni(n.l2_vni_base, t.id),
        "l3_vni": t.l3_vni if t.l3_vni is not None else ap.l3_vni(n.l3_vni_base, t.id),
        "vrf_table": t.vrf_table if t.vrf_table is not None else ap.vrf_table(n.vrf_table_base, t.id),
    }


_LIMITS = {"vlan": (1, 4094), "vni": (1, 16_777_214), "l3_vni": (1, 16_777_214), "vrf_table": (100, 65_535)}
_RESERVED_TENANT_NAMES = re.compile(
    r"^(default|mgmt|management|lo|(bond|br|dum|en|eth|gnv|ifb|lan|macsec|peth|tun|veth|vti|vtun|vxlan|wg|wlan)[0-9].*)$"
)


def _check_tenants(inv: Inventory) -> list[str]:
    problems = _duplicates(inv.tenants, "name", "tenants") + _duplicates(inv.tenants, "id", "tenants")
    plan = inv.address_plan
    site_names = {s.name: s for s in inv.sites}
    n = inv.numbering
    owners: dict[tuple[str, int], str] = {}
    # VNIs share one number space (L2 and L3); VLANs also meet the fixed ones.
    owners[("vlan", n.public_vlan)] = "numbering.public_vlan"
    owners[("vlan", n.backbone_vlan)] = "numbering.backbone_vlan"
    repeated_ids = {i for i, n in Counter(t.id for t in inv.tenants).items() if n > 1}
    # Formula values first, then overrides: a collision is blamed on the override.
    numbered = [(t, field, value) for t in inv.tenants for field, value in _tenant_numbers(inv, t).items()]
    numbered.sort(key=lambda item: getattr(item[0], item[1]) is not None)
    for t, field, value in numbered:
        key = f"tenants[{t.name}]"
        low, high = _LIMITS[field]
        if not low <= value <= high:
            problems.append(f"{key}.{field}: {value} is outside {low}-{high}")
        if t.id in repeated_ids and getattr(t, field) is None:
            continue  # already reported as a repeated id
        # VNIs share one space; a VLAN and an L3 VNI both name a bridge (br<N>).
        spaces = {"vni": ("vni",), "l3_vni": ("vni", "bridge"), "vlan": ("vlan", "bridge")}.get(field, (field,))
        clash = next((owners[(sp, value)] for sp in spaces if (sp, value) in owners), None)
        if clash is not None:
            problems.append(f"{key}.{field}: {value} is also used by {clash}")
        else:
            owners.update({(sp, value): f"{key}.{field}" for sp in spaces})
    for t in inv.tenants:
        key = f"tenants[{t.name}]"
        if _RESERVED_TENANT_NAMES.match(t.name):
            problems.append(f"{key}.name: {t.name!r} is reserved or looks like an interface name; VRFs cannot use it")
        pool_key, pool = min(plan.tenant_pools().items(), key=lambda kv: ap.capacity(kv[1], plan.tenant_prefix_length))
        cap = ap.capacity(pool, plan.tenant_prefix_length)
        if t.id >= cap:
            problems.append(
                f"{key}.id: {t.id} is past the end of address_plan.{pool_key} {pool}: "
                f"it holds {cap} /{plan.tenant_prefix_length} tenant networks (ids 1-{cap - 1})"
            )
        spanned = t.sites if t.sites is not None else []
        for name in spanned:
            if name not in site_names:
                problems.append(f"{key}.sites: unknown site {name!r} (sites: {', '.join(sorted(site_names))})")
        if len(set(spanned)) != len(spanned):
            problems.append(f"{key}.sites: lists a site twice")
        if t.dhcp_site is not None:
            dhcp = site_names.get(t.dhcp_site)
            if dhcp is None or dhcp.kind != "datacenter" or t.dhcp_site not in inv.tenant_sites(t):
                problems.append(f"{key}.dhcp_site: {t.dhcp_site!r} is not a datacenter this tenant spans")
        for i, rule in enumerate(t.egress.allow):
            if rule.ports and rule.protocol not in ("tcp", "udp"):
                problems.append(f"{key}.egress.allow[{i}].ports: ports need protocol tcp or udp, not {rule.protocol}")
            for pool_key, pool in (("tenant_base", plan.tenant_base), ("cloud_networks", plan.cloud_networks)):
                if rule.destination.first <= pool.last and pool.first <= rule.destination.last:
                    problems.append(
                        f"{key}.egress.allow[{i}].destination: {rule.destination} is tenant space "
                        f"(address_plan.{pool_key} {pool}); tenants never reach each other"
                    )
    return problems


def _check_datacenter(inv: Inventory, dc: Datacenter) -> list[str]:
    plan = inv.address_plan
    problems: list[str] = []
    problems += _overlaps([(f"datacenter.public_prefixes[{i}]", p) for i, p in enumerate(dc.public_prefixes)])
    for i, p in enumerate(dc.public_prefixes):
        for key, net in (
            ("address_plan.control_plane", plan.control_plane),
            ("address_plan.backbone", plan.backbone),
            ("address_plan.tenant_base", plan.tenant_base),
        ):
            if p.first <= net.last and net.first <= p.last:
                problems.append(f"datacenter.public_prefixes[{i}]: {p} overlaps {key} {net}")

    def in_public(addr: IPAddress) -> bool:
        return any(addr in p for p in dc.public_prefixes)

    if dc.public_gateway is not None and not in_public(dc.public_gateway):
        problems.append(f"datacenter.public_gateway: {dc.public_gateway} is outside datacenter.public_prefixes")
    gateway = dc.gateway
    taken: dict[IPAddress, str] = {gateway: "datacenter.public_gateway"}
    for router in dc.routers:
        taken.setdefault(router.public_address, f"datacenter.routers[{router.name}].public_address")
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}].ssh.address"
        if hv.ssh.address in taken:
            problems.append(f"{key}: {hv.ssh.address} is also {taken[hv.ssh.address]}")
        elif in_public(hv.ssh.address):
            taken[hv.ssh.address] = key
    tenant_names = {t.name: t for t in inv.tenants}
    for name, addr in dc.nat_addresses.items():
        key = f"datacenter.nat_addresses[{name}]"
        tenant = tenant_names.get(name)
        if tenant is None:
            problems.append(f"{key}: no tenant is named {name!r}")
        elif dc.name not in inv.tenant_sites(tenant):
            problems.append(f"{key}: tenant {name} does not span datacenter {dc.name}")
        if not in_public(addr):
            problems.append(f"{key}: {addr} is outside datacenter.public_prefixes")
        elif _unusable(addr, dc.public_prefixes):
            problems.append(f"{key}: {addr} is the network or broadcast address of its public prefix")
        elif addr in taken:
            problems.append(f"{key}: {addr} is also {taken[addr]}")
        else:
            taken[addr] = key

    for hv in dc.hypervisors:
        if hv.ssh.host_key is None:
            problems.append(
                f"datacenter.hypervisors[{hv.name}].ssh.host_key: missing; pin the host's key "
                "(`ssh-keyscan -t ed25519 <address>` output, or its SHA256: fingerprint, verified out of band)"
            )
    problems += _duplicates(dc.hypervisors, "name", "datacenter.hypervisors")
    problems += _duplicates(dc.hypervisors, "id", "datacenter.hypervisors")
    problems += _duplicates(dc.routers, "name", "datacenter.routers")
    problems += _duplicates(dc.routers, "id", "datacenter.routers")
    problems += _duplicates(dc.routers, "public_address", "datacenter.routers")

    backbone_hosts = ap.site_block(plan.backbone, 0).size
    for hv in dc.hypervisors:
        key = f"datacenter.hypervisors[{hv.name}]"
        if ap.HYPERVISOR_BACKBONE_OFFSET + hv.id >= backbone_hosts - 1:
            problems.append(f"{key}.id: {hv.id} is past the end of the backbone /24 (hypervisor ids 1-126)")
        nic_names = [nic.name for nic in hv.nics]
        problems += _duplicates(hv.nics, "name", f"{key}.nics")
        problems += _duplicates(hv.bonds, "name", f"{key}.bonds")
        enslaved: dict[str, str] = {}
        for bond in hv.bonds:
            for member in bond.interfaces:
                if member not in nic_names:
                    problems.append(
                        f"{key}.bonds[{bond.name}].interfaces: unknown NIC {member!r} (nics: {', '.join(nic_names)})"
                    )
                elif member in enslaved:
                    problems.append(f"{key}.bonds[{bond.name}].interfaces: {member} is already in {enslaved[member]}")
                else:
                    enslaved[member] = bond.name
        bond_names = [b.name for b in hv.bonds]
        if hv.management_bond not in bond_names:
            problems.append(
                f"{key}.management_bond: unknown bond {hv.management_bond!r} (bonds: {', '.join(bond_names)})"
            )
        if hv.ovs.uplink not in bond_names:
            problems.append(f"{key}.ovs.uplink: unknown bond {hv.ovs.uplink!r} (bonds: {', '.join(bond_names)})")
        elif hv.ovs.uplink == hv.management_bond:
            problems.append(f"{key}.ovs.uplink: {hv.ovs.uplink} is also the management_bond; use the other bond")
        else:
            uplink = next(b for b in hv.bonds if b.name == hv.ovs.uplink)
            if (uplink.mtu or DEFAULT_BOND_MTU) < inv.mtu.underlay:
                problems.append(
                    f"{key}.bonds[{uplink.name}].mtu: {uplink.mtu or DEFAULT_BOND_MTU} is below mtu.underlay "
                    f"{inv.mtu.underlay}; the OVS uplink would drop the routers' full-size frames"
                )

    hv_names = {hv.name for hv in dc.hypervisors}
    site_id = inv.site_id if dc.name in {s.name for s in inv.sites} else 1
    max_site = ap.max_gateway_site(plan.tenant_prefix_length)
    for router in dc.routers:
        key = f"datacenter.routers[{router.name}]"
        if len(router.name) > MAX_VM_NAME:
            problems.append(
                f"{key}.name: {router.name!r} is too long: systemd-vmspawn names the VM's tap vt-<name> and "
                f"Linux interface names have at most 15 characters, so a router name has at most {MAX_VM_NAME}"
            )
        if router.hypervisor not in hv_names:
            problems.append(
                f"{key}.hypervisor: unknown hypervisor {router.hypervisor!r} (hypervisors: {', '.join(sorted(hv_names))})"
            )
        if not in_public(router.public_address):
            problems.append(f"{key}.public_address: {router.public_address} is outside datacenter.public_prefixes")
        elif _unusable(router.public_address, dc.public_prefixes):
            problems.append(
                f"{key}.public_address: {router.public_address} is the network or broadcast address of its public prefix"
            )
        elif router.public_address == gateway:
            problems.append(f"{key}.public_address: {router.public_address} is also datacenter.public_gateway")
        elif not any(router.public_address in p and gateway in p for p in dc.public_prefixes):
            problems.append(
                f"{key}.public_address: {router.public_address} is not in the same prefix as the public gateway "
                f"{gateway}, so the router's default route would be off-link"
            )
        if router.id >= ap.HYPERVISOR_BACKBONE_OFFSET:
            problems.append(f"{key}.id: {router.id} is past the end of the site /24s (router ids 1-127)")
        if router.gateway and router.id >= ap.GATEWAY_BLOCK:
            problems.append(
                f"{key}.id: gateway routers need an id 1-{ap.GATEWAY_BLOCK - 1} (their tenant-network address is 16*site+id)"
            )
        if router.gateway and inv.tenants and site_id > max_site:
            problems.append(
                f"{key}.gateway: site {dc.name} (id {site_id}) has no gateway block in /{plan.tenant_prefix_length} "
                f"tenant networks (sites 1-{max_site}); lower address_plan.tenant_prefix_length"
            )
    gateways = [r for r in dc.routers if r.gateway]
    if len(gateways) > 2:
        problems.append(
            f"datacenter.routers: {len(gateways)} gateway routers ({', '.join(r.name for r in gateways)}); "
            "a VRRP pair is at most 2: set gateway: false on the others"
        )
    if not any(r.route_reflector for r in dc.routers):
        problems.append("datacenter.routers: no route reflector; set route_reflector: true on at least one router")
    reflectors = [r.name for r in dc.routers if r.route_reflector]
    local = {r.name for r in dc.routers}
    for i, (a, b) in enumerate(inv.mesh.no_peer):
        if a == b:
            problems.append(f"mesh.no_peer[{i}]: {a} cannot be paired with itself")
        elif {a, b} <= local and len(reflectors) == 1 and reflectors[0] in (a, b):
            client = b if a == reflectors[0] else a
            problems.append(
                f"mesh.no_peer[{i}]: {client} would lose its only route reflector {reflectors[0]}; "
                "BGP runs inside the mesh, so they must peer"
            )
    return problems


def cloud_node_name(site: str, node_id: int) -> str:
    """A cloud node's name (its mesh member and resource names): ``<site>-n<id>``."""
    return f"{site}-n{node_id}"


def _check_clouds(inv: Inventory) -> list[str]:
    plan = inv.address_plan
    problems: list[str] = []
    pool = plan.cloud_networks
    if pool.prefixlen > ap.CLOUD_NETWORK_PREFIX_LENGTH:
        problems.append(
            f"address_plan.cloud_networks: {pool} is smaller than one cloud's /{ap.CLOUD_NETWORK_PREFIX_LENGTH}"
        )
    for key, net in (
        ("address_plan.control_plane", plan.control_plane),
        ("address_plan.backbone", plan.backbone),
        ("address_plan.tenant_base", plan.tenant_base),
        *(
            (f"datacenter.public_prefixes[{i}]", p)
            for i, p in enumerate(inv.datacenter.public_prefixes if inv.datacenter else [])
        ),
    ):
        if pool.first <= net.last and net.first <= pool.last:
            problems.append(f"address_plan.cloud_networks: {pool} overlaps {key} {net}")
    sites = {s.name: s for s in inv.sites}
    routers = {r.name for r in inv.routers}
    used: dict[str, str] = {}
    for provider, cloud in inv.clouds.enabled():
        key = f"clouds.{provider}"
        site_name = cloud.site_name(provider)
        site = sites.get(site_name)
        if cloud.region is None:
            problems.append(f"{key}.region: missing (required when enabled)")
        if provider == "azure" and cloud.ssh_public_key is None:
            problems.append(
                f"{key}.ssh_public_key: missing; Azure Linux VMs need an SSH public key for their admin user"
            )
        if site is None:
            problems.append(
                f"{key}.site: {site_name!r} is not one of sites ({', '.join(sorted(sites))}); "
                f"register it in fabric:sites with kind: cloud"
            )
            continue
        if site.kind != "cloud":
            problems.append(f"{key}.site: sites[{site_name}] is a {site.kind}, not a cloud")
        if site_name in used:
            problems.append(f"{key}.site: {site_name} is also the site of clouds.{used[site_name]}")
        used[site_name] = provider
        if site.id >= ap.capacity(pool, ap.CLOUD_NETWORK_PREFIX_LENGTH):
            problems.append(
                f"{key}.site: site id {site.id} is past the end of address_plan.cloud_networks {pool} "
                f"(one /{ap.CLOUD_NETWORK_PREFIX_LENGTH} per site id)"
            )
        name = cloud_node_name(site_name, cloud.node_id)
        if name in routers:
            problems.append(f"{key}.node_id: the node's name {name} is also a router's name")
        spanning = [t for t in inv.tenants if site_name in (t.sites or [])]
        if spanning and site.id > ap.max_gateway_site(plan.tenant_prefix_length):
            problems.append(
                f"{key}.site: site {site_name} (id {site.id}) has no gateway block in "
                f"/{plan.tenant_prefix_length} tenant networks (sites 1-{ap.max_gateway_site(plan.tenant_prefix_length)})"
            )
        per_cloud = ap.capacity(ap.nth_subnet(pool, ap.CLOUD_NETWORK_PREFIX_LENGTH, 0), ap.CLOUD_SUBNET_PREFIX_LENGTH)
        for t in spanning:
            if t.id >= per_cloud:
                problems.append(
                    f"tenants[{t.name}].sites: tenant id {t.id} has no subnet in cloud {site_name} "
                    f"(a cloud network holds tenant subnets 1-{per_cloud - 1})"
                )
    return problems


def _check_nodes(inv: Inventory) -> list[str]:
    """Nodes: registered sites, ids unique within a site (routers' too), names unique in the mesh."""
    problems = _duplicates(inv.nodes, "name", "nodes") + _duplicates(inv.nodes, "endpoint", "nodes")
    sites = {s.name: s for s in inv.sites}
    taken: dict[tuple[str, int], str] = {(inv.dc.name, r.id): f"datacenter.routers[{r.name}]" for r in inv.routers}
    for name, site, cloud in _cloud_node_ids(inv):
        taken[(site, cloud)] = name
    names = {r.name for r in inv.routers} | {name for name, _, _ in _cloud_node_ids(inv)}
    max_site = ap.max_gateway_site(inv.address_plan.tenant_prefix_length)
    if inv.nodes and not inv.routers and not inv.peer_stacks and not any(n.route_reflector for n in inv.nodes):
        problems.append(
            "nodes: no route reflector, so no BGP session at all; set route_reflector: true on a node "
            "(or list peer_stacks whose reflectors serve these nodes)"
        )
    for node in inv.nodes:
        key = f"nodes[{node.name}]"
        if node.site not in sites:
            problems.append(f"{key}.site: unknown site {node.site!r} (sites: {', '.join(sorted(sites))})")
            continue
        if (node.site, node.id) in taken:
            problems.append(f"{key}.id: {node.id} is also {taken[(node.site, node.id)]} of site {node.site}")
        taken.setdefault((node.site, node.id), key)
        if node.name in names:
            problems.append(f"{key}.name: {node.name!r} is also a router's or cloud node's name")
        if any(node.site in inv.tenant_sites(t) for t in inv.tenants) and sites[node.site].id > max_site:
            problems.append(
                f"{key}.site: site {node.site} (id {sites[node.site].id}) has no gateway block in "
                f"/{inv.address_plan.tenant_prefix_length} tenant networks (sites 1-{max_site})"
            )
        if node.ssh.host_key is None:
            problems.append(
                f"{key}.ssh.host_key: missing; pin the node's key (`ssh-keyscan -t ed25519 <address>` output, "
                "or its SHA256: fingerprint, verified out of band)"
            )
    return problems


def _cloud_node_ids(inv: Inventory) -> list[tuple[str, str, int]]:
    """(name, site, node id) of every enabled cloud's node whose site is registered."""
    sites = {s.name for s in inv.sites}
    return [
        (cloud_node_name(c.site_name(p), c.node_id), c.site_name(p), c.node_id)
        for p, c in inv.clouds.enabled()
        if c.site_name(p) in sites
    ]


def _unusable(addr: IPAddress, prefixes: list[IPNetwork]) -> bool:
    """Network or broadcast address of the prefix holding ``addr`` (prefixes longer than /31 have both)."""
    net = next(p for p in prefixes if addr in p)
    return net.prefixlen < 31 and addr in (net.network, net.broadcast)


def _check_mtu(inv: Inventory) -> list[str]:
    mtu = inv.mtu
    plan = ap.mtu_plan(mtu.underlay, ipv6_underlay=False, tenant=None)
    needed = (mtu.tenant or ap.MIN_TENANT_MTU) + ap.VXLAN_OVERHEAD + ap.WIREGUARD_OVERHEAD_IPV4
    if mtu.tenant is not None and mtu.tenant > plan.tenant:
        return [
            f"mtu.tenant: {mtu.tenant} does not fit: WireGuard ({ap.WIREGUARD_OVERHEAD_IPV4}) plus VXLAN "
            f"({ap.VXLAN_OVERHEAD}) overhead needs mtu.underlay >= {needed}, got {mtu.underlay}"
        ]
    if plan.tenant < ap.MIN_TENANT_MTU:
        return [
            f"mtu.underlay: {mtu.underlay} is too small for WireGuard ({ap.WIREGUARD_OVERHEAD_IPV4}) plus VXLAN "
            f"({ap.VXLAN_OVERHEAD}) overhead: tenants would get {plan.tenant} < {ap.MIN_TENANT_MTU}; "
            f"use at least {needed}"
        ]
    return []
