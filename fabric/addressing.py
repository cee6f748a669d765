"""The address plan: every derived address and number, from explicit ids.

Each function here is a documented formula of ids (never of list position), so adding
or removing a tenant, router or site cannot move anything that belongs to another.
The README's "Address plan" section lists the same formulas; keep the two together.

Symbols: ``s`` site id (datacenter or cloud extension), ``r`` router/node id within
its site, ``h`` hypervisor id within its datacenter, ``t`` tenant id.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import IPAddress, IPNetwork

#: Every site owns the ``s``-th /24 of the control plane and of the backbone.
SITE_PREFIX_LENGTH = 24
#: Host numbers in a site's backbone and mesh /24s: routers and nodes count up from 1,
#: hypervisors from 128 (hypervisor ``h`` is host ``128 + h`` in both).
HYPERVISOR_HOST_OFFSET = 128
#: In a tenant network, site ``s`` owns the ``s``-th block of this many addresses
#: for its routers (block 0 holds the per-site gateway addresses).
GATEWAY_BLOCK = 16
#: Each cloud extension's network (VPC/VNet) is one /16 of ``address_plan.cloud_networks``,
#: holding the node's subnet (the first /24) and one /24 per tenant.
CLOUD_NETWORK_PREFIX_LENGTH = 16
CLOUD_SUBNET_PREFIX_LENGTH = 24
#: The cloud node's private address: host 10 of its subnet (clouds reserve the first few).
CLOUD_NODE_HOST = 10
#: WireGuard adds 60 bytes over IPv4 (80 over IPv6); VXLAN adds 50.
WIREGUARD_OVERHEAD_IPV4 = 60
WIREGUARD_OVERHEAD_IPV6 = 80
VXLAN_OVERHEAD = 50
#: The smallest tenant MTU we accept: IPv6's minimum link MTU.
MIN_TENANT_MTU = 1280


def nth_subnet(pool: IPNetwork, prefix_length: int, index: int) -> IPNetwork:
    """The ``index``-th subnet of ``pool`` at ``prefix_length``, computed, not enumerated."""
    size = 1 << (32 - prefix_length)
    return IPNetwork(f"{IPAddress(pool.first + index * size)}/{prefix_length}")


def capacity(pool: IPNetwork, prefix_length: int) -> int:
    """How many ``/prefix_length`` subnets ``pool`` holds (0 when they do not fit)."""
    base: int = pool.prefixlen
    if prefix_length < base:
        return 0
    return 1 << (prefix_length - base)


def site_block(pool: IPNetwork, s: int) -> IPNetwork:
    """Site ``s``'s /24 of the control plane or the backbone: ``pool``'s ``s``-th /24."""
    return nth_subnet(pool, SITE_PREFIX_LENGTH, s)


def mesh_address(control_plane: IPNetwork, s: int, r: int) -> IPAddress:
    """Node ``r`` of site ``s`` on the WireGuard mesh: host ``r`` of the site's /24."""
    return IPAddress(site_block(control_plane, s).first + r)


def backbone_router_address(backbone: IPNetwork, s: int, r: int) -> IPAddress:
    """Router ``r`` on its datacenter's backbone /24: host ``r``."""
    return IPAddress(site_block(backbone, s).first + r)


def hypervisor_host(h: int) -> int:
    """Hypervisor ``h``'s host number in its site's backbone and mesh /24s: ``128 + h``
    (its node id in the mesh, so it never meets a router's or node's)."""
    return HYPERVISOR_HOST_OFFSET + h


def backbone_hypervisor_address(backbone: IPNetwork, s: int, h: int) -> IPAddress:
    """Hypervisor ``h`` on its datacenter's backbone /24: host ``128 + h``."""
    return IPAddress(site_block(backbone, s).first + hypervisor_host(h))


def tenant_block(pool: IPNetwork, prefix_length: int, t: int) -> IPNetwork:
    """Tenant ``t``'s network in one of the tenant pools: the pool's ``t``-th subnet."""
    return nth_subnet(pool, prefix_length, t)


#: Segment slots per tenant: its first segment (slot 0, numbered by its own formulas) and
#: ``tenants[].segments[].id`` 1-15.
SEGMENT_SLOTS = 16


def segment_slot(t: int, j: int) -> int:
    """Segment ``j`` of tenant ``t``'s place in the segment pool and VNI range: ``16t + j``."""
    return SEGMENT_SLOTS * t + j


def segment_block(pool: IPNetwork, prefix_length: int, t: int, j: int) -> IPNetwork:
    """Segment ``j`` (1-15) of tenant ``t``: the ``16t + j``-th subnet of ``tenant_segments``."""
    return nth_subnet(pool, prefix_length, segment_slot(t, j))


def segment_vni(base: int, t: int, j: int) -> int:
    """Segment ``j`` (1-15) of tenant ``t``'s L2 VNI: ``segment_vni_base + 16t + j``."""
    return base + segment_slot(t, j)


def vrrp_address(network: IPNetwork, s: int) -> IPAddress:
    """The VRRP virtual address of site ``s`` on a tenant network: host ``s``."""
    return IPAddress(network.first + s)


def router_tenant_address(network: IPNetwork, s: int, r: int) -> IPAddress:
    """Router ``r`` of site ``s`` on a tenant network: host ``16*s + r``."""
    return IPAddress(network.first + GATEWAY_BLOCK * s + r)


def cloud_network(pool: IPNetwork, s: int) -> IPNetwork:
    """Cloud site ``s``'s network (VPC/VNet): the pool's ``s``-th /16."""
    return nth_subnet(pool, CLOUD_NETWORK_PREFIX_LENGTH, s)


def cloud_node_subnet(network: IPNetwork) -> IPNetwork:
    """The cloud node's own subnet: the network's first /24."""
    return nth_subnet(network, CLOUD_SUBNET_PREFIX_LENGTH, 0)


def cloud_node_address(network: IPNetwork) -> IPAddress:
    """The cloud node's private address: host 10 of its subnet."""
    return IPAddress(cloud_node_subnet(network).first + CLOUD_NODE_HOST)


def cloud_tenant_subnet(network: IPNetwork, t: int) -> IPNetwork:
    """Tenant ``t``'s workload subnet in a cloud network: its ``t``-th /24."""
    return nth_subnet(network, CLOUD_SUBNET_PREFIX_LENGTH, t)


def dhcp_range(network: IPNetwork) -> tuple[IPAddress, IPAddress]:
    """The dynamic range of a tenant network: its upper half, less the broadcast."""
    half = network.size // 2
    return IPAddress(network.first + half), IPAddress(network.last - 1)


def split_range(first: IPAddress, last: IPAddress, parts: int, index: int) -> tuple[IPAddress, IPAddress]:
    """The ``index``-th of ``parts`` equal slices of a range (the last slice takes the rest).

    A VRRP pair serves one DHCP range without failover by giving each router a slice.
    """
    size = (int(last) - int(first) + 1) // parts
    start = int(first) + index * size
    stop = int(last) if index == parts - 1 else start + size - 1
    return IPAddress(start), IPAddress(stop)


def max_gateway_site(network_prefix_length: int) -> int:
    """The largest site id whose router block still fits the lower half of a tenant network."""
    half = (1 << (32 - network_prefix_length)) // 2
    return half // GATEWAY_BLOCK - 1


def wireguard_overhead(ipv6_underlay: bool) -> int:
    """Bytes WireGuard adds to each packet on the underlay."""
    return WIREGUARD_OVERHEAD_IPV6 if ipv6_underlay else WIREGUARD_OVERHEAD_IPV4


@dataclass(frozen=True)
class MtuPlan:
    """MTU at each layer: underlay -> WireGuard (mesh) -> tenant (inside VXLAN)."""

    underlay: int
    wireguard: int
    tenant: int


def mtu_plan(underlay: int, ipv6_underlay: bool, tenant: int | None) -> MtuPlan:
    """Wireguard = underlay - WireGuard overhead; tenant = WireGuard - VXLAN overhead.

    An explicit tenant MTU may only be lower than the derived one (never higher: that
    would fragment every full-size tenant packet inside the tunnel).
    """
    wireguard = underlay - wireguard_overhead(ipv6_underlay)
    derived = wireguard - VXLAN_OVERHEAD
    return MtuPlan(underlay=underlay, wireguard=wireguard, tenant=derived if tenant is None else tenant)


# Numbers other than addresses. Each takes the tenant id and a base from config.


def l2_vni(base: int, t: int) -> int:
    """The tenant segment's VXLAN VNI: ``base + t``."""
    return base + t


def l3_vni(base: int, t: int) -> int:
    """The tenant VRF's L3 VNI (EVPN type-5): ``base + t``."""
    return base + t


def vrf_table(base: int, t: int) -> int:
    """The tenant VRF's kernel routing table: ``base + t``."""
    return base + t


def route_target(asn: int, t: int) -> str:
    """The tenant's route target, imported and exported by every router: ``asn:t``."""
    return f"{asn}:{t}"


def segment_route_target(asn: int, vni: int) -> str:
    """A segment's (L2 VNI's) route target: none is configured, so FRR derives it, from the low
    16 bits of the AS and the VNI (``bgpd/bgp_evpn.c`` ``form_auto_rt``): ``asn % 65536:vni``."""
    return f"{asn & 0xFFFF}:{vni}"


def route_distinguisher(router_id: IPAddress, t: int) -> str:
    """Per router and tenant: ``<router-id>:t`` (unique, so reflectors keep every path)."""
    return f"{router_id}:{t}"


def vrrp_vrid(s: int) -> int:
    """Each site's VRRP group on a stretched tenant segment has VRID ``s``."""
    return s


def public_vrrp_vrid(s: int) -> int:
    """The VRRP group holding a datacenter's tenant NAT addresses on its public VLAN: ``100 + s``."""
    return 100 + s


def router_mac(s: int, r: int) -> str:
    """A router's EVPN router MAC, set on every one of its L3 VNI bridges: ``02:fa:00:00:s:r``.

    FRR keeps one router MAC per remote VTEP (zebra's per-VTEP neighbor entry), so a router
    whose L3 VNI bridges had different MACs (Linux gives each bridge its first port's)
    would black-hole all but one VRF's routed traffic on the other VTEPs (FRR issue 18190,
    and the RMAC-conflict warning of FRR PR 22581), and a bridge MAC that changes when a
    port comes or goes is not followed (FRR issue 11174). Locally administered, unicast,
    unique per site and router."""
    return f"02:fa:00:00:{s:02x}:{r:02x}"


def vm_mac(s: int, v: int) -> str:
    """Tenant VM ``v``'s MAC in datacenter ``s``: ``02:fb:<s>:<v as 3 bytes>`` (hex).

    Locally administered and unicast, unique per site and VM id, so a VM keeps its MAC (and
    its DHCP lease and the fabric's EVPN entry) when it moves to another hypervisor."""
    return f"02:fb:{s:02x}:{v >> 16:02x}:{(v >> 8) & 0xFF:02x}:{v & 0xFF:02x}"


def vrrp_priority(r: int) -> int:
    """``200 - r``: the lower router id of a pair is master, without ties."""
    return 200 - r
