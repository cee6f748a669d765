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
from fabric.checks.common import overlap, planned, spans_known
from fabric.checks.vms import address_free
from fabric.isolation import Packet, decide
from fabric.model import MAX_PUBLISH_ID, Inventory, Tenant
from fabric.render.vyos import nat
from fabric.topology import published_address


def egress_sources_known(inv: Inventory) -> Iterator[str]:
    """An allow entry's ``source`` is a segment of its tenant, a VM of this datacenter with a fixed
    address and of this tenant (``<datacenter>/<vm>``; a VM of another datacenter is that stack's
    to check), or a prefix inside the tenant's own that is no part of a cloud subnet."""
    for t in (t for t in inv.tenants if spans_known(inv, t)):
        plan = planned(inv, t)
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
    """A service has its own id, goes to a fixed address on one of its tenant's segments that spans
    its datacenter, and is published by a datacenter of the tenant. In that datacenter's stack: a
    declared VM it goes to is there (its replies leave through its own gateways), its public
    address is one the gateways can hold for it, and no two services share address, protocol and
    port. In another stack: a VM of this datacenter is never published elsewhere."""
    sites = sorted(s.id for s in inv.sites)
    dc = inv.datacenter
    taken: dict[tuple[IPAddress, str, int], str] = {}
    vms = {vm.address: vm.name for vm in dc.vms if vm.address is not None} if dc is not None else {}
    for t in (t for t in inv.tenants if spans_known(inv, t)):
        if t.publish and nat.publish_rule(t.id, MAX_PUBLISH_ID) > nat.MAX_RULE:
            yield f"tenants[{t.name}].id: {t.id} is too large to publish services (their NAT rules run out past id 7999)"
        ids = [p.id for p in t.publish]
        for i, p in enumerate(t.publish):
            if p.id in ids[:i]:
                yield f"tenants[{t.name}].publish[{i}].id: {p.id} is also publish[{ids.index(p.id)}]'s"
        plan = planned(inv, t)
        datacenters = [s for s in inv.tenant_sites(t) if inv.site(s).kind == "datacenter"]
        for i, (p, published) in enumerate(zip(t.publish, plan.published, strict=True)):
            key = f"tenants[{t.name}].publish[{i}]"
            where = published.datacenter
            on = next((s for s in plan.segments if p.to in s.network), None)
            if on is None:
                names = ", ".join(f"{s.name} {s.network}" for s in plan.segments)
                yield f"{key}.to: {p.to} is on no segment of tenant {t.name} ({names})"
            else:
                yield from address_free(inv, f"{key}.to", t, on.name, p.to, sites)
            for j, prefix in enumerate(p.from_):
                if any(overlap(prefix, d) for d in plan.policy.denied):
                    yield (
                        f"{key}.from[{j}]: {prefix} is tenant or cloud space, which never reaches a published "
                        "service from outside (the gateways drop it on the trunk)"
                    )
            if where not in datacenters:
                yield f"{key}.datacenter: {where!r} is not a datacenter of tenant {t.name} ({', '.join(datacenters)})"
                continue
            if on is not None and where not in on.sites:
                yield f"{key}.to: segment {on.name} of tenant {t.name} does not span {where}, which publishes it"
            if dc is None:
                continue
            if p.to in vms and where != dc.name:
                yield (
                    f"{key}.datacenter: {p.to} is VM {vms[p.to]} of {dc.name}, whose replies leave through "
                    f"{dc.name}'s gateways: publish it there"
                )
            if where != dc.name:
                continue
            if p.public_address is not None:
                yield from _public_address_free(inv, f"{key}.public_address", t, p.public_address)
            address = published_address(dc, dc.nat_addresses.get(t.name), published)
            if address is None:
                yield (
                    f"{key}.public_address: tenant {t.name} has no NAT address in {dc.name} "
                    "(datacenter.nat_addresses); give the service a public_address"
                )
                continue
            flow = (address, p.protocol, p.port)
            if flow in taken:
                yield f"{key}.port: {p.protocol} {p.port} on {address} is also published by {taken[flow]}"
            taken.setdefault(flow, key)


def _public_address_free(inv: Inventory, key: str, t: Tenant, address: IPAddress) -> Iterator[str]:
    """An explicit public address of this datacenter, free for the gateways to hold by VRRP."""
    dc = inv.dc
    prefix = next((p for p in dc.public_prefixes if address in p), None)
    if prefix is None:
        prefixes = ", ".join(map(str, dc.public_prefixes))
        yield f"{key}: {address} is not in {dc.name}'s public prefixes ({prefixes}), which publish it"
        return
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
    egress policy, UDP and TCP 53 from every address a resolver may have (the first of each DHCP
    slice of the first segment, for a gateway pair or a single gateway), the one evaluator
    deciding (:func:`fabric.isolation.decide`)."""
    for t in (t for t in inv.tenants if spans_known(inv, t) and t.dns.forward):
        plan = planned(inv, t)
        first, last = ap.dhcp_range(plan.network)
        resolvers = sorted({ap.split_range(first, last, 2, i)[0] for i in range(2)})
        for i, server in enumerate(t.dns.forward):
            key = f"tenants[{t.name}].dns.forward[{i}]"
            if any(server in p for p in plan.policy.denied):
                yield f"{key}: {server} is tenant or cloud space; a resolver forwards to the internet"
                continue
            refused = [
                (proto, resolver, verdict.reason)
                for proto in ("udp", "tcp")
                for resolver in resolvers
                if (verdict := decide([plan.policy], Packet(resolver, server, proto, 53))).action != "accept"
            ]
            if refused:
                proto, resolver, reason = refused[0]
                yield (
                    f"{key}: tenant {t.name}'s egress does not admit {proto.upper()} 53 to {server} from its "
                    f"resolver {resolver} ({reason}); its queries leave through the tenant's exit: allow UDP "
                    f"and TCP 53 to it from {', '.join(map(str, resolvers))}"
                )


RULES = (egress_sources_known, published_services_sound, dns_forwarders_reachable)
