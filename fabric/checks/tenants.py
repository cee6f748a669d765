"""Rules of tenants: unique names and numbers, the sites they span, their egress allow list."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from fabric import addressing as ap
from fabric.checks.common import duplicates, overlap
from fabric.model import Inventory, Tenant
from fabric.vyos_schema import vrf_name_problem

#: Linux's own routing tables: a tenant VRF must not use one (``ip route show table 0|253|254|255``).
RESERVED_TABLES = {0: "unspecified", 253: "default", 254: "main", 255: "local"}
#: Names a VRF on a Linux host must not take besides what VyOS refuses (its management VRF,
#: and interface kinds the hypervisors and nodes have).
_RESERVED_TENANT_NAMES = re.compile(r"^(mgmt|management|(ifb|macsec|veth)[0-9].*)$")


def tenant_numbers(inv: Inventory, t: Tenant) -> dict[str, int]:
    """The tenant's VNIs and VRF table: the override where set, else the formula."""
    n = inv.numbering
    return {
        "vni": t.vni if t.vni is not None else ap.l2_vni(n.l2_vni_base, t.id),
        "l3_vni": t.l3_vni if t.l3_vni is not None else ap.l3_vni(n.l3_vni_base, t.id),
        "vrf_table": t.vrf_table if t.vrf_table is not None else ap.vrf_table(n.vrf_table_base, t.id),
    }


def tenants_unique(inv: Inventory) -> Iterator[str]:
    """A tenant name and a tenant id name one tenant."""
    yield from duplicates(inv.tenants, "name", "tenants")
    yield from duplicates(inv.tenants, "id", "tenants")


def tenant_numbers_unique(inv: Inventory) -> Iterator[str]:
    """No two tenants share a VNI (L2 and L3 share one space: each names a bridge ``br<N>``)
    or a VRF table."""
    owners: dict[tuple[str, int], str] = {}
    repeated_ids = {i for i, count in Counter(t.id for t in inv.tenants).items() if count > 1}
    # Formula values first, then overrides: a collision is blamed on the override.
    numbered = [(t, field, value) for t in inv.tenants for field, value in tenant_numbers(inv, t).items()]
    numbered.sort(key=lambda item: getattr(item[0], item[1]) is not None)
    spaces = {"l3_vni": ("vni",)}
    for t, field, value in numbered:
        if t.id in repeated_ids and getattr(t, field) is None:
            continue  # already reported as a repeated id
        kinds = spaces.get(field, (field,))
        clash = next((owners[(kind, value)] for kind in kinds if (kind, value) in owners), None)
        if clash is not None:
            yield f"tenants[{t.name}].{field}: {value} is also used by {clash}"
        else:
            owners.update({(kind, value): f"tenants[{t.name}].{field}" for kind in kinds})


def vrf_tables_free(inv: Inventory) -> Iterator[str]:
    """A tenant's VRF table is none of the kernel's own."""
    for t in inv.tenants:
        table = tenant_numbers(inv, t)["vrf_table"]
        if table in RESERVED_TABLES:
            key = "vrf_table" if t.vrf_table is not None else "id"
            yield f"tenants[{t.name}].{key}: VRF table {table} is the kernel's {RESERVED_TABLES[table]} table"


def tenant_names_usable(inv: Inventory) -> Iterator[str]:
    """A tenant name can name a VRF: not a reserved name, not an interface name (VyOS's own
    ``vrf-name`` rule: no name that starts like an interface, ``br``, ``wg``, ``eth``…)."""
    for t in inv.tenants:
        if _RESERVED_TENANT_NAMES.match(t.name) or vrf_name_problem(t.name):
            yield f"tenants[{t.name}].name: {t.name!r} is reserved or looks like an interface name; VRFs cannot use it"


def tenant_ids_fit(inv: Inventory) -> Iterator[str]:
    """Every tenant id has its block in each pool of one block per tenant (``tenant_segments``, of
    16 per tenant, is its segments' rule's)."""
    plan = inv.address_plan
    pools = {k: v for k, v in plan.tenant_pools().items() if k != "tenant_segments"}
    pool_key, pool = min(pools.items(), key=lambda kv: ap.capacity(kv[1], plan.tenant_prefix_length))
    cap = ap.capacity(pool, plan.tenant_prefix_length)
    for t in inv.tenants:
        if t.id >= cap:
            yield (
                f"tenants[{t.name}].id: {t.id} is past the end of address_plan.{pool_key} {pool}: "
                f"it holds {cap} /{plan.tenant_prefix_length} tenant networks (ids 1-{cap - 1})"
            )


def tenant_sites_known(inv: Inventory) -> Iterator[str]:
    """A tenant spans registered sites, each once, and at least one datacenter."""
    sites = {s.name: s for s in inv.sites}
    for t in inv.tenants:
        key = f"tenants[{t.name}].sites"
        spanned = t.sites if t.sites is not None else []
        for name in spanned:
            if name not in sites:
                yield f"{key}: unknown site {name!r} (sites: {', '.join(sorted(sites))})"
        if len(set(spanned)) != len(spanned):
            yield f"{key}: lists a site twice"
        if t.sites is not None and not any(sites[n].kind == "datacenter" for n in spanned if n in sites):
            yield (
                f"{key}: spans no datacenter ({', '.join(spanned) or 'none'}); a tenant needs at least one "
                "datacenter site, where its gateways are"
            )


def dhcp_site_spanned(inv: Inventory) -> Iterator[str]:
    """DHCP is served from a datacenter the tenant spans."""
    sites = {s.name: s for s in inv.sites}
    for t in inv.tenants:
        if t.dhcp_site is None:
            continue
        dhcp = sites.get(t.dhcp_site)
        if dhcp is None or dhcp.kind != "datacenter" or t.dhcp_site not in inv.tenant_sites(t):
            yield f"tenants[{t.name}].dhcp_site: {t.dhcp_site!r} is not a datacenter this tenant spans"


def tenants_have_gateways(inv: Inventory) -> Iterator[str]:
    """A tenant spanning this stack's datacenter finds a gateway router there."""
    dc = inv.datacenter
    if dc is None or any(r.gateway for r in dc.routers):
        return
    for t in inv.tenants:
        if dc.name in inv.tenant_sites(t):
            yield (
                f"tenants[{t.name}].sites: spans datacenter {dc.name}, which has no gateway router "
                "(datacenter.routers[].gateway); remove the site or make a router a gateway"
            )


def egress_rules_sound(inv: Inventory) -> Iterator[str]:
    """Ports only with tcp or udp; destinations never in tenant or cloud space (tenants never meet)."""
    plan = inv.address_plan
    for t in inv.tenants:
        for i, rule in enumerate(t.egress.allow):
            key = f"tenants[{t.name}].egress.allow[{i}]"
            if rule.ports and rule.protocol not in ("tcp", "udp"):
                yield f"{key}.ports: ports need protocol tcp or udp, not {rule.protocol}"
            for pool_key, pool in (("tenant_base", plan.tenant_base), ("cloud_networks", plan.cloud_networks)):
                if overlap(rule.destination, pool):
                    yield (
                        f"{key}.destination: {rule.destination} is tenant space "
                        f"(address_plan.{pool_key} {pool}); tenants never reach each other"
                    )


RULES = (
    tenants_unique,
    tenant_numbers_unique,
    vrf_tables_free,
    tenant_names_usable,
    tenant_ids_fit,
    tenant_sites_known,
    dhcp_site_spanned,
    tenants_have_gateways,
    egress_rules_sound,
)
