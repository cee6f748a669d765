"""The tenant isolation policy: one piece of data, one evaluator; devices and clouds translate it.

Per tenant, an ordered list of rules, first match wins (README "Tenant isolation"):

* **egress**: what the tenant's own addresses may send. Its own prefixes (segments, services,
  cloud subnets) are always reachable from each other; every other tenant's address space and
  every cloud network are not; then its allow list (an entry may be limited to a ``source``: a
  segment, a VM, a prefix); then ``egress.allow_all`` decides (accept) or nothing more passes.
* **ingress**: what may reach the tenant from outside it: its published services, each from
  its ``from`` prefixes (or anywhere); nothing else.

Translators: the VyOS firewall (:mod:`fabric.render.vyos.firewall`), the node filter
(:mod:`fabric.render.linux.node`), and the clouds' filters (:mod:`fabric.components.cloud`).
Each takes the rules of :func:`in_scope` for what it sees and writes them in its own syntax;
none decides anything of its own about tenants. :func:`decide` is the policy's meaning: the
tests hold every translation to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from netaddr import IPAddress, IPNetwork

Action = Literal["accept", "drop"]
Protocol = Literal["tcp", "udp", "icmp", "all"]

#: Stable numbers of the fixed egress rules, and the first allow-list and published entry's:
#: a rule's number never depends on another tenant, and an allow entry's only on its place.
OWN = 10
OTHER_TENANTS = 20
OTHER_CLOUDS = 30
ALLOW_BASE = 100
PUBLISH_BASE = 100


@dataclass(frozen=True)
class Rule:
    """One rule: traffic from ``sources`` to ``destinations`` (empty: any) with ``protocol`` and,
    for TCP and UDP, destination ``ports`` (empty: any) gets ``action``; ``reason`` says why."""

    number: int
    action: Action
    reason: str
    destinations: tuple[IPNetwork, ...] = ()
    sources: tuple[IPNetwork, ...] = ()
    protocol: Protocol = "all"
    ports: tuple[int, ...] = ()

    def matches(self, packet: Packet) -> bool:
        if self.sources and not _within(packet.source, self.sources):
            return False
        if self.destinations and not _within(packet.destination, self.destinations):
            return False
        if self.protocol == "all":
            return True
        if packet.protocol != self.protocol:
            return False
        return not self.ports or self.protocol == "icmp" or packet.port in self.ports


@dataclass(frozen=True)
class TenantPolicy:
    """One tenant's rules. ``own``: every prefix that is the tenant's (its traffic is egress)."""

    tenant: str
    own: tuple[IPNetwork, ...]
    egress: tuple[Rule, ...]
    #: What egress no rule matched gets: ``accept`` with ``egress.allow_all``.
    egress_default: Action
    ingress: tuple[Rule, ...] = ()

    @property
    def own_rule(self) -> Rule:
        """The rule that keeps the tenant's own prefixes reachable from each other."""
        return next(r for r in self.egress if r.number == OWN)

    @property
    def allows(self) -> tuple[Rule, ...]:
        """The allow list: the egress rules past the fixed ones."""
        return tuple(r for r in self.egress if r.number >= ALLOW_BASE)

    @property
    def denied(self) -> tuple[IPNetwork, ...]:
        """What the fixed drop rules keep the tenant from (others' address space, cloud networks)."""
        return tuple(p for r in self.egress if r.number < ALLOW_BASE and r.action == "drop" for p in r.destinations)


@dataclass(frozen=True)
class Packet:
    """The first packet of a flow: what a filter decides on (``port``: TCP/UDP destination port)."""

    source: IPAddress
    destination: IPAddress
    protocol: Literal["tcp", "udp", "icmp"]
    port: int | None = None


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str


def tenant_policy(
    tenant: str,
    own: tuple[IPNetwork, ...],
    tenant_space: IPNetwork,
    cloud_networks: IPNetwork,
    allows: Iterable[Rule],
    allow_all: bool,
    ingress: Iterable[Rule] = (),
) -> TenantPolicy:
    """The one policy of a tenant: own prefixes, never another tenant's space nor a cloud network,
    then the allow list (numbered from :data:`ALLOW_BASE`), then ``allow_all``."""
    egress = (
        Rule(OWN, "accept", "own prefixes", destinations=own),
        Rule(OTHER_TENANTS, "drop", "other tenants", destinations=(tenant_space,)),
        Rule(OTHER_CLOUDS, "drop", "other tenants' cloud subnets", destinations=(cloud_networks,)),
        *allows,
    )
    return TenantPolicy(tenant, own, egress, "accept" if allow_all else "drop", tuple(ingress))


def decide(policies: Iterable[TenantPolicy], packet: Packet) -> Verdict:
    """What the fabric does with a packet: its source tenant's egress, then (when the packet is
    still going to a tenant's address from outside that tenant) that tenant's ingress. Traffic
    that is no tenant's (internet to internet) is not the policy's business: dropped; so is a
    source in tenant or cloud space that no tenant owns (it can only be forged)."""
    policies = tuple(policies)
    source = next((p for p in policies if _within(packet.source, p.own)), None)
    target = next((p for p in policies if _within(packet.destination, p.own)), None)
    if source is None and any(_within(packet.source, p.denied) for p in policies):
        return Verdict("drop", "tenant space from outside")
    if source is not None:
        default = "egress.allow_all" if source.egress_default == "accept" else "no allow-list entry"
        verdict = first_match(source.egress, packet, source.egress_default, reason=default)
        if verdict.action == "drop" or target is None or target is source:
            return verdict
    if target is not None:
        return first_match(target.ingress, packet, "drop", reason=f"nothing published of {target.tenant}")
    return Verdict("drop", "no tenant's traffic")


def first_match(rules: Iterable[Rule], packet: Packet, default: Action, reason: str = "default") -> Verdict:
    """The first rule that matches decides; none: ``default``."""
    for rule in rules:
        if rule.matches(packet):
            return Verdict(rule.action, rule.reason)
    return Verdict(default, reason)


def in_scope(rules: Iterable[Rule], sources: IPNetwork) -> tuple[Rule, ...]:
    """The rules that apply to traffic from ``sources`` (a cloud subnet a filter guards): those
    without a source and those whose source covers it all. A source that covers part of it is
    refused by the checks (a cloud's subnet filter cannot tell its hosts apart)."""
    return tuple(r for r in rules if not r.sources or any(sources in s for s in r.sources))


def _within(address: IPAddress, prefixes: Iterable[IPNetwork]) -> bool:
    return any(address in p for p in prefixes)
