"""Rules of what crosses a tenant's edge: published services (``tenants[].publish``) and the
``source`` of egress allow entries (README "Published services", "Per-VM allow lists").

A published service goes to a fixed address on one of its tenant's segments; in this stack's
datacenter its public address is one the gateways hold by VRRP (a NAT address, or one of the
public prefixes' that no router, hypervisor or gateway has and no other tenant leaves from),
and no two services share an address, protocol and port. A ``source`` names a segment of the
tenant, a VM with a fixed address (``<datacenter>/<vm>``), or a prefix of the tenant's own,
never part of a cloud subnet (a cloud's subnet filter cannot tell its hosts apart).
"""

from __future__ import annotations

from collections.abc import Iterator

from netaddr import AddrFormatError, IPAddress, IPNetwork

from fabric import addressing as ap
from fabric.checks.vms import address_free
from fabric.isolation import Packet, decide
from fabric.model import Inventory, Tenant
from fabric.topology import published_address, tenant_plan


def _known(inv: Inventory, t: Tenant) -> bool:
    """The tenant's sites are registered (else its own rule reports them, and no plan is built)."""
    return set(t.sites or ()) <= {s.name for s in inv.sites}


def egress_sources_known(inv: Inventory) -> Iterator[str]:
    """An allow entry's ``source`` is a segment of its tenant, a VM of this datacenter with a fixed
    address and of this tenant (``<datacenter>/<vm>``; a VM of another datacenter is that stack's
    to check), or a prefix inside the tenant's own that is no part of a cloud subnet."""
    for t in (t for t in inv.tenants if _known(inv, t)):
        plan = tenant_plan(inv, t)
        for i, rule in enumerate(t.egress.allow):
            if rule.source is None:
                continue
            key, ref = f"tenants[{t.name}].egress.allow[{i}].source", rule.source
            if ref[0].isdigit():
                yield from _source_prefix(key, t, ref, plan.policy.own, [s for _, s in plan.cloud_subnets])
            elif "/" in ref:
                yield from _source_vm(inv, key, t, *ref.split("/", 1))
            elif ref not in {s.name for s in plan.segments}:
                names = ", ".join(s.name for s in plan.segments)
                yield (
                    f"{key}: tenant {t.name} has no segment {ref!r} (segments: {names}); a VM is written "
                    "<datacenter>/<vm>"
                )


def _source_prefix(key: str, t: Tenant, ref: str, own: tuple[IPNetwork, ...], clouds: list[IPNetwork]) -> Iterator[str]:
    try:
        prefix = IPNetwork(ref)
    except (AddrFormatError, ValueError):
        yield f"{key}: {ref!r} is not a valid IPv4 prefix"
        return
    if prefix.ip != prefix.network:
        yield f"{key}: {ref!r} has host bits set; did you mean {prefix.cidr}?"
    elif not any(prefix in p for p in own):
        yield f"{key}: {prefix} is not inside tenant {t.name}'s own prefixes ({', '.join(map(str, own))})"
    elif any(prefix in c and prefix != c for c in clouds):
        yield (
            f"{key}: {prefix} is part of a cloud subnet; a cloud's subnet filter cannot tell its hosts "
            "apart: name the whole subnet"
        )


def _source_vm(inv: Inventory, key: str, t: Tenant, site: str, name: str) -> Iterator[str]:
    datacenters = [s for s in inv.tenant_sites(t) if inv.site(s).kind == "datacenter"]
    if site not in datacenters:
        yield f"{key}: {site!r} is not a datacenter of tenant {t.name} ({', '.join(datacenters)})"
        return
    dc = inv.datacenter
    if dc is None or dc.name != site:
        return  # that datacenter's stack checks its VMs
    vm = next((v for v in dc.vms if v.name == name), None)
    if vm is None:
        yield f"{key}: {site} has no VM {name!r} (datacenter.vms)"
    elif vm.tenant != t.name:
        yield f"{key}: VM {name} is tenant {vm.tenant}'s, not {t.name}'s"
    elif vm.address is None:
        yield f"{key}: VM {name} takes its address from DHCP; give it a fixed address to filter on"


def published_services_sound(inv: Inventory) -> Iterator[str]:
    """A service goes to a fixed address on one of its tenant's segments; here, its public address
    is one the gateways can hold for it, and no two services share address, protocol and port."""
    sites = sorted(s.id for s in inv.sites)
    dc = inv.datacenter
    taken: dict[tuple[IPAddress, str, int], str] = {}
    for t in (t for t in inv.tenants if _known(inv, t)):
        plan = tenant_plan(inv, t)
        for i, p in enumerate(t.publish):
            key = f"tenants[{t.name}].publish[{i}]"
            on = next((s for s in plan.segments if p.to in s.network), None)
            if on is None:
                names = ", ".join(f"{s.name} {s.network}" for s in plan.segments)
                yield f"{key}.to: {p.to} is on no segment of tenant {t.name} ({names})"
            else:
                yield from address_free(inv, f"{key}.to", t, on.name, p.to, sites)
            if dc is None or dc.name not in inv.tenant_sites(t):
                continue
            if p.public_address is not None:
                yield from _public_address_free(inv, f"{key}.public_address", t, p.public_address)
            address = published_address(dc, dc.nat_addresses.get(t.name), plan.published[i])
            if address is None:
                continue
            where = (address, p.protocol, p.port)
            if where in taken:
                yield f"{key}.port: {p.protocol} {p.port} on {address} is also published by {taken[where]}"
            taken.setdefault(where, key)


def _public_address_free(inv: Inventory, key: str, t: Tenant, address: IPAddress) -> Iterator[str]:
    """An explicit public address of this datacenter is free for the gateways to hold by VRRP."""
    dc = inv.dc
    prefix = next((p for p in dc.public_prefixes if address in p), None)
    if prefix is None:
        return  # another datacenter's address: published there
    own = {r.public_address: f"router {r.name}'s address" for r in dc.routers}
    own |= {a: f"hypervisor {hv.name}'s address" for hv in dc.hypervisors if (a := dc.public_address_of(hv))}
    own |= {a: f"tenant {n}'s NAT address" for n, a in dc.nat_addresses.items() if n != t.name}
    own[dc.upstream_gateway] = "the upstream gateway"
    if address in (prefix.network, prefix.broadcast) and prefix.prefixlen < 31:
        yield f"{key}: {address} is the network or broadcast address of {prefix}"
    elif address in own:
        yield f"{key}: {address} is {own[address]}; a published address moves with the gateways (VRRP)"


def dns_forwarders_reachable(inv: Inventory) -> Iterator[str]:
    """A tenant resolver's forwarders are outside tenant space and admitted by the tenant's own
    egress policy (UDP 53 from the resolver: the first address of its DHCP range), the one
    evaluator deciding (:func:`fabric.isolation.decide`)."""
    for t in (t for t in inv.tenants if _known(inv, t) and t.dns.forward):
        plan = tenant_plan(inv, t)
        resolver = ap.dhcp_range(plan.network)[0]
        for i, server in enumerate(t.dns.forward):
            key = f"tenants[{t.name}].dns.forward[{i}]"
            verdict = decide([plan.policy], Packet(resolver, server, "udp", 53))
            if any(server in p for p in plan.policy.denied):
                yield f"{key}: {server} is tenant or cloud space; a resolver forwards to the internet"
            elif verdict.action != "accept":
                yield (
                    f"{key}: tenant {t.name}'s egress does not admit UDP 53 to {server} from its resolver "
                    f"({resolver}), whose queries leave through the tenant's exit ({verdict.reason}); "
                    "add an egress.allow entry"
                )


RULES = (egress_sources_known, published_services_sound, dns_forwarders_reachable)
