"""Rules of the address plan, the numbering bases and the MTU: fabric-wide settings."""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import overlaps
from fabric.model import Inventory


def tenant_pools_apart(inv: Inventory) -> Iterator[str]:
    """The four tenant pools never share an address."""
    yield from overlaps([(f"address_plan.{k}", v) for k, v in inv.address_plan.tenant_pools().items()])


def tenant_pools_in_base(inv: Inventory) -> Iterator[str]:
    """Each tenant pool lies inside ``tenant_base`` and holds at least one tenant network."""
    plan = inv.address_plan
    for name, pool in plan.tenant_pools().items():
        key = f"address_plan.{name}"
        if pool not in plan.tenant_base:
            yield f"{key}: {pool} is outside address_plan.tenant_base {plan.tenant_base}"
        if plan.tenant_prefix_length < pool.prefixlen:
            yield f"address_plan.tenant_prefix_length: /{plan.tenant_prefix_length} does not fit in {key} {pool}"


def infrastructure_apart(inv: Inventory) -> Iterator[str]:
    """Control plane, backbone and tenant space never overlap, and each holds a site's /24."""
    plan = inv.address_plan
    infra = [
        ("address_plan.control_plane", plan.control_plane),
        ("address_plan.backbone", plan.backbone),
        ("address_plan.tenant_base", plan.tenant_base),
    ]
    yield from overlaps(infra)
    for key, net in infra[:2]:
        if net.prefixlen > ap.SITE_PREFIX_LENGTH:
            yield f"{key}: {net} is smaller than one site's /{ap.SITE_PREFIX_LENGTH}"


#: What each numbering base numbers, its formula's name and the range the result must stay in.
_BASES = {
    "l2_vni_base": ("vni", ap.l2_vni, 1, 16_777_214),
    "l3_vni_base": ("l3_vni", ap.l3_vni, 1, 16_777_214),
    "vrf_table_base": ("vrf_table", ap.vrf_table, 100, 65_535),
}


def numbering_fits(inv: Inventory) -> Iterator[str]:
    """``base + tenant id`` stays in range for every tenant that uses the formula: blamed on the base, once."""
    n = inv.numbering
    for base_key, (field, formula, low, high) in _BASES.items():
        base = getattr(n, base_key)
        over = [t for t in inv.tenants if getattr(t, field) is None and not low <= formula(base, t.id) <= high]
        if over:
            worst = max(over, key=lambda t: t.id)
            yield (
                f"numbering.{base_key}: {base} + tenant id {worst.id} ({worst.name}) is {formula(base, worst.id)}, "
                f"past {high}; lower the base or set tenants[].{field} for {', '.join(t.name for t in over)}"
            )


def fixed_vlans_differ(inv: Inventory) -> Iterator[str]:
    """The public and backbone VLANs are two different VLANs on the trunk."""
    n = inv.numbering
    if n.public_vlan == n.backbone_vlan:
        yield f"numbering.backbone_vlan: {n.backbone_vlan} is also numbering.public_vlan; they are two networks"


def mtu_fits(inv: Inventory) -> Iterator[str]:
    """WireGuard and VXLAN overhead fit under the underlay MTU, leaving tenants at least the IPv6 minimum."""
    mtu = inv.mtu
    plan = ap.mtu_plan(mtu.underlay, ipv6_underlay=False, tenant=None)
    needed = (mtu.tenant or ap.MIN_TENANT_MTU) + ap.VXLAN_OVERHEAD + ap.WIREGUARD_OVERHEAD_IPV4
    if mtu.tenant is not None and mtu.tenant < ap.MIN_TENANT_MTU:
        yield (
            f"mtu.tenant: {mtu.tenant} is below {ap.MIN_TENANT_MTU} (IPv6's minimum; VyOS refuses VXLAN MTUs "
            "below 1200)"
        )
    elif mtu.tenant is not None and mtu.tenant > plan.tenant:
        yield (
            f"mtu.tenant: {mtu.tenant} does not fit: WireGuard ({ap.WIREGUARD_OVERHEAD_IPV4}) plus VXLAN "
            f"({ap.VXLAN_OVERHEAD}) overhead needs mtu.underlay >= {needed}, got {mtu.underlay}"
        )
    elif plan.tenant < ap.MIN_TENANT_MTU:
        yield (
            f"mtu.underlay: {mtu.underlay} is too small for WireGuard ({ap.WIREGUARD_OVERHEAD_IPV4}) plus VXLAN "
            f"({ap.VXLAN_OVERHEAD}) overhead: tenants would get {plan.tenant} < {ap.MIN_TENANT_MTU}; "
            f"use at least {needed}"
        )


RULES = (tenant_pools_apart, tenant_pools_in_base, infrastructure_apart, numbering_fits, fixed_vlans_differ)
