"""Rules of tenants' further segments (``tenants[].segments``): names, ids, sites, blocks, numbers.

A segment is a tenant network of its own (README "Tenant networks"): its block must hold a
gateway block for every site it spans and meet no other block of any tenant, its VNI must be
no other segment's or VRF's, and it spans only datacenters (or ``frr`` node sites) the tenant
spans, its DHCP datacenter among them, since that datacenter's gateways serve its leases.
"""

from __future__ import annotations

from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import duplicates, overlap, overlaps, planned, spans_known
from fabric.checks.tenants import tenant_numbers
from fabric.model import Inventory, Tenant
from fabric.render.vyos import nat
from fabric.topology import FIRST_SEGMENT

#: The VNI range (VXLAN's 24 bits, less the all-ones value VyOS refuses).
MAX_VNI = 16_777_214
#: The longest segment prefix: its lower half holds the gateway block and a block per site.
MAX_SEGMENT_PREFIX = 26
#: The shortest: a segment is one L2 broadcast domain.
MIN_SEGMENT_PREFIX = 16


def _key(t: Tenant, name: str) -> str:
    return f"tenants[{t.name}].segments[{name}]"


def segments_unique(inv: Inventory) -> Iterator[str]:
    """Within a tenant, segment names and ids are unique, no segment takes the first one's name
    (``main``), and at most one segment is the services block."""
    for t in inv.tenants:
        yield from duplicates(t.segments, "name", f"tenants[{t.name}].segments")
        yield from duplicates(t.segments, "id", f"tenants[{t.name}].segments")
        for seg in t.segments:
            if seg.name == FIRST_SEGMENT:
                yield f"{_key(t, seg.name)}.name: {FIRST_SEGMENT!r} is the tenant's first segment's name"
            if seg.services and seg.prefix is not None:
                yield f"{_key(t, seg.name)}.prefix: a services segment is the services block; give no prefix"
        services = [s.name for s in t.segments if s.services]
        if len(services) > 1:
            yield (
                f"{_key(t, services[1])}.services: segment {services[0]} is the services block already; "
                "a tenant has one"
            )


def segment_sites_spanned(inv: Inventory) -> Iterator[str]:
    """A segment spans sites of its tenant that are no cloud (a cloud node routes a tenant's other
    segments through the first), each once, its tenant's DHCP datacenter among them."""
    kinds = {s.name: s.kind for s in inv.sites}
    for t in inv.tenants:
        if not spans_known(inv, t):
            continue  # the tenant's own rule reports it
        spanned = inv.tenant_sites(t)
        dhcp = planned(inv, t).dhcp_site
        for seg in t.segments:
            if seg.sites is None:
                continue
            key = f"{_key(t, seg.name)}.sites"
            if len(set(seg.sites)) != len(seg.sites):
                yield f"{key}: lists a site twice"
            for site in seg.sites:
                if site not in spanned:
                    yield f"{key}: {site!r} is not a site of tenant {t.name} ({', '.join(spanned)})"
                elif kinds[site] == "cloud":
                    yield (
                        f"{key}: {site} is a cloud; a segment spans datacenters and node sites, the cloud "
                        "reaches it through the tenant's first segment"
                    )
            if dhcp is not None and dhcp not in seg.sites:
                yield f"{key}: leaves out {dhcp}, the tenant's DHCP datacenter, whose gateways serve its leases"


def segment_blocks_fit(inv: Inventory) -> Iterator[str]:
    """A configured prefix lies in ``tenant_base`` outside the pools (whose blocks belong to tenant
    ids, used or not) and is /16 to /26, with a gateway block for each site it spans; a formula's
    block exists in ``tenant_segments``; its VNI stays a VNI and its NAT rule number in its range."""
    plan, n = inv.address_plan, inv.numbering
    ids = {s.name: s.id for s in inv.sites}
    capacity = ap.capacity(plan.tenant_segments, plan.tenant_prefix_length)
    for t in inv.tenants:
        spans = {s.name: s.sites for s in planned(inv, t).segments} if spans_known(inv, t) else {}
        if t.segments and nat.segment_rule(t.id, ap.SEGMENT_SLOTS - 1) >= nat.PUBLISH_RULE_BASE:
            yield f"tenants[{t.name}].id: {t.id} is too large for segments (their NAT rules run out past id 6249)"
        for seg in t.segments:
            key = _key(t, seg.name)
            vni = ap.segment_vni(n.segment_vni_base, t.id, seg.id)
            if vni > MAX_VNI:
                yield (
                    f"{key}.id: its VNI numbering.segment_vni_base + 16 x {t.id} + {seg.id} is {vni}, "
                    f"past {MAX_VNI}; lower numbering.segment_vni_base"
                )
            if seg.prefix is None:
                if not seg.services and ap.segment_slot(t.id, seg.id) >= capacity:
                    yield (
                        f"{key}.id: block 16 x {t.id} + {seg.id} is past the end of address_plan.tenant_segments "
                        f"{plan.tenant_segments} ({capacity} /{plan.tenant_prefix_length} blocks); give it a prefix"
                    )
                continue
            prefix = seg.prefix
            pool = next((k for k, p in plan.tenant_pools().items() if overlap(prefix, p)), None)
            if prefix not in plan.tenant_base:
                yield f"{key}.prefix: {prefix} is outside address_plan.tenant_base {plan.tenant_base}"
            elif pool is not None:
                yield (
                    f"{key}.prefix: {prefix} is in address_plan.{pool}, whose blocks belong to tenant ids "
                    "(used or not); use tenant space outside the pools"
                )
            elif not MIN_SEGMENT_PREFIX <= prefix.prefixlen <= MAX_SEGMENT_PREFIX:
                yield f"{key}.prefix: {prefix} is not /{MIN_SEGMENT_PREFIX} to /{MAX_SEGMENT_PREFIX}"
            else:
                top = max((ids[s] for s in spans.get(seg.name, ()) if s in ids), default=0)
                if top > ap.max_gateway_site(prefix.prefixlen):
                    yield (
                        f"{key}.prefix: {prefix} has room for router blocks of sites up to "
                        f"{ap.max_gateway_site(prefix.prefixlen)}, and it spans site id {top}; use a larger prefix"
                    )


def segment_blocks_apart(inv: Inventory) -> Iterator[str]:
    """No two configured segment prefixes meet (a configured prefix lies outside the pools, where
    every formula's block is: :func:`segment_blocks_fit`); the later one is blamed."""
    pools = list(inv.address_plan.tenant_pools().values())
    configured = [
        (f"{_key(t, seg.name)}.prefix", seg.prefix)
        for t in inv.tenants
        for seg in t.segments
        if seg.prefix is not None and not any(overlap(seg.prefix, p) for p in pools)
    ]
    yield from overlaps(configured)


def segment_numbers_unique(inv: Inventory) -> Iterator[str]:
    """A segment's VNI is no tenant's VNI or L3 VNI (each names a bridge ``br<N>``) nor another
    segment's. Formula values claim first, so a collision is blamed on an override (as among
    tenants), else on the segment."""
    n = inv.numbering
    claims: list[tuple[bool, int, str, str]] = []  # (an override?, VNI, its key, the message's key)
    for t in inv.tenants:
        for field, value in tenant_numbers(inv, t).items():
            if field != "vrf_table":
                key = f"tenants[{t.name}].{field}"
                claims.append((getattr(t, field) is not None, value, key, key))
        ids = [s.id for s in t.segments]
        for seg in (s for s in t.segments if ids.count(s.id) == 1):  # a repeated id has its own rule
            vni = ap.segment_vni(n.segment_vni_base, t.id, seg.id)
            claims.append((False, vni, f"{_key(t, seg.name)}'s VNI", f"{_key(t, seg.name)}.id"))
    owners: dict[int, str] = {}
    for _, vni, owner, key in sorted(claims, key=lambda c: c[0]):
        if vni in owners and "segments[" in owner + owners[vni]:  # tenants among themselves: their rule
            yield f"{key}: VNI {vni} is also {owners[vni]}"
        owners.setdefault(vni, owner)


RULES = (segments_unique, segment_sites_spanned, segment_blocks_fit, segment_blocks_apart, segment_numbers_unique)
