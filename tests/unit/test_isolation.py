"""The one isolation policy (fabric/isolation.py) and every translation of it.

Each device and cloud filter is read back from what fabric renders or registers (the VyOS
firewall's set lines, the AWS network ACL entries, the Azure NSG rules, the GCP firewall
rules, a cloud node's nftables forward rules) by a small evaluator of that filter's own
semantics, and held to :func:`fabric.isolation.decide` on random first packets within what
that filter sees. The evaluators follow the vendors' documented rule order: VyOS (nftables)
rules by number, first match, a jump's chain ends in its default action; AWS network ACL
entries by rule number, first match, then deny; Azure NSG rules by priority, first match;
GCP firewall rules by priority, a deny winning a tie, then the implied allow-egress rule.
Nothing here runs a real router or cloud (none can run here): the rendered config is the
device's, as the providers apply it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from fabric import isolation, loader, topology
from fabric.components.cloud import aws, azure, gcp
from fabric.isolation import Packet, decide
from fabric.render.linux.node import render_node
from fabric.render.vyos import render_routers
from fabric.topology import CloudTenant, Plan, RouterPlan
from tests.conftest import burst_raw

#: acme's subnet in AWS, where an allow entry with it as ``source`` applies (and not in GCP).
ACME_AWS = "10.243.10.0/24"


@pytest.fixture(scope="module")
def plan() -> Plan:
    """dc1 with every cloud, acme and globex spanning some; acme's example segments, published
    SSH and per-VM entry, plus one entry for its AWS subnet only and a service open to anywhere."""
    raw = burst_raw()
    acme = next(t for t in raw["tenants"] if t["name"] == "acme")
    acme["egress"]["allow"].append({"destination": "192.0.2.128/25", "protocol": "udp", "source": ACME_AWS})
    # A service open to anywhere: only the trunk's anti-spoofing keeps tenant space out of it.
    acme["publish"].append(
        {"id": 2, "public_address": "5.254.54.41", "port": 8080, "to": "100.65.10.100", "to_port": 80}
    )
    return topology.build(loader.load(raw))


# ----------------------------------------------------------------------------- packets


def _hosts(prefix: IPNetwork) -> st.SearchStrategy[IPAddress]:
    return st.integers(prefix.first + 1, prefix.last - 1).map(IPAddress)


def packets(plan: Plan) -> st.SearchStrategy[Packet]:
    """First packets between addresses that matter: every tenant's own prefixes, VMs' fixed
    addresses, published targets, allow-list destinations, other internet addresses."""
    own = [p for t in plan.tenants for p in t.policy.own]
    exact = [
        d for t in plan.tenants for r in (*t.policy.egress, *t.policy.ingress) for d in (*r.destinations, *r.sources)
    ]
    # The internet, and tenant space no tenant owns (only a forged source comes from there).
    internet = [IPNetwork(p) for p in ("198.18.0.0/15", "203.0.113.0/24", "192.0.2.0/24", "100.70.0.0/24")]
    address = st.one_of(
        st.sampled_from(own).flatmap(_hosts),
        st.sampled_from([p for p in exact if p.prefixlen < 32]).flatmap(_hosts),
        st.sampled_from([p.ip for p in exact if p.prefixlen == 32]),
        st.sampled_from(internet).flatmap(_hosts),
    )
    port = st.sampled_from([22, 53, 443, 2222, 5432, 8443, 1, 65535])
    return st.builds(
        lambda s, d, proto, p: Packet(s, d, proto, None if proto == "icmp" else p),
        address,
        address,
        st.sampled_from(["tcp", "udp", "icmp"]),
        port,
    )


def _tenant_of(plan: Plan, address: IPAddress) -> str | None:
    return next((t.name for t in plan.tenants if any(address in p for p in t.policy.own)), None)


# ----------------------------------------------------------------------------- the policy itself


def test_segments_of_a_tenant_reach_each_other_and_no_other_tenant(plan: Plan) -> None:
    """Every pair of segments: the same tenant's always, another tenant's never, any protocol."""
    policies = [t.policy for t in plan.tenants]
    segments = [(t.name, s.network) for t in plan.tenants for s in t.segments]
    assert len([s for name, s in segments if name == "acme"]) == 3
    for a_tenant, a in segments:
        for b_tenant, b in segments:
            for packet in (
                Packet(IPAddress(a.first + 200), IPAddress(b.first + 201), "tcp", 5432),
                Packet(IPAddress(a.first + 200), IPAddress(b.first + 201), "udp", 53),
                Packet(IPAddress(a.first + 200), IPAddress(b.first + 201), "icmp"),
            ):
                verdict = decide(policies, packet)
                assert (verdict.action == "accept") == (a_tenant == b_tenant), (a, b, verdict)


def test_a_sourced_entry_opens_its_destination_to_its_source_only(plan: Plan) -> None:
    acme = next(t for t in plan.tenants if t.name == "acme")
    policies = [t.policy for t in plan.tenants]
    replica = IPAddress("203.0.113.80")
    db1, other = IPAddress("100.65.10.100"), IPAddress("100.65.10.101")
    assert decide(policies, Packet(db1, replica, "tcp", 5432)).reason == "db replica"
    assert decide(policies, Packet(other, replica, "tcp", 5432)).action == "drop"
    assert [r.sources for r in acme.policy.allows if r.reason == "db replica"] == [(IPNetwork("100.65.10.100/32"),)]


def test_a_published_service_admits_exactly_its_flow(plan: Plan) -> None:
    policies = [t.policy for t in plan.tenants]
    admin, stranger, db1 = IPAddress("198.51.100.7"), IPAddress("198.18.0.1"), IPAddress("100.65.10.100")
    assert decide(policies, Packet(admin, db1, "tcp", 22)).action == "accept"
    assert decide(policies, Packet(admin, db1, "tcp", 23)).action == "drop"
    assert decide(policies, Packet(stranger, db1, "tcp", 22)).action == "drop"
    # Another tenant never reaches it, published or not: its own egress stops it first.
    assert decide(policies, Packet(IPAddress("100.65.20.100"), db1, "tcp", 22)).reason == "other tenants"


# ----------------------------------------------------------------------------- VyOS


class VyosForward:
    """The forward path of a rendered VyOS firewall: the forward filter, its jumps, the groups."""

    def __init__(self, commands: Iterable[Any]) -> None:
        self.groups: dict[str, list[IPNetwork]] = {}
        self.chains: dict[str, dict[str, Any]] = {}
        for c in commands:
            path, value = c.path, c.value
            if path[:3] == ("firewall", "group", "network-group"):
                self.groups.setdefault(path[3], []).append(IPNetwork(value))
            elif path[:4] == ("firewall", "ipv4", "forward", "filter"):
                self._add("forward", path[4:], value)
            elif path[:3] == ("firewall", "ipv4", "name"):
                self._add(path[3], path[4:], value)

    def _add(self, chain: str, rest: tuple[str, ...], value: Any) -> None:
        c = self.chains.setdefault(chain, {"rules": {}})
        if rest[0] != "rule":
            c[" ".join(rest)] = value
            return
        rule = c["rules"].setdefault(int(rest[1]), {})
        key = " ".join(rest[2:])
        rule.setdefault(key, []).append(value)

    def _matches(self, rule: dict[str, list[Any]], p: Packet, iif: str, dnat: bool) -> bool:
        if "state" in rule:
            return False  # a first packet is new: neither established, related nor invalid
        tests: dict[str, Callable[[str], bool]] = {
            "inbound-interface name": lambda v: v == iif,
            "connection-status nat": lambda v: v == "destination" and dnat,
            "source address": lambda v: p.source in IPNetwork(v),
            "destination address": lambda v: p.destination in IPNetwork(v),
            "source group network-group": lambda v: any(p.source in n for n in self.groups[v]),
            "destination group network-group": lambda v: any(p.destination in n for n in self.groups[v]),
            "protocol": lambda v: v == p.protocol,
            "destination port": lambda v: p.port is not None and str(p.port) in v.split(","),
        }
        return all(test(rule[key][0]) for key, test in tests.items() if key in rule)

    def run(self, chain: str, p: Packet, iif: str, dnat: bool = False) -> str:
        """The verdict on ``p`` arriving on ``iif`` (a tenant's VRF, or the trunk's public VLAN),
        after destination NAT when ``dnat``."""
        c = self.chains[chain]
        for _, rule in sorted(c["rules"].items()):
            if self._matches(rule, p, iif, dnat):
                action = rule["action"][0]
                return self.run(rule["jump-target"][0], p, iif, dnat) if action == "jump" else str(action)
        return str(c["default-action"])


def _carried(router: RouterPlan, plan: Plan, p: Packet) -> bool:
    """The router sees a packet when each end is a tenant it carries, or outside every tenant."""
    names = {c.tenant.name for c in router.tenants}
    ends = [_tenant_of(plan, p.source), _tenant_of(plan, p.destination)]
    return any(ends) and all(e is None or e in names for e in ends)


def _arrival(plan: Plan, router: RouterPlan, p: Packet) -> tuple[str, bool, bool]:
    """Where ``p`` reaches a router's forward hook and whether it came through destination NAT:
    a tenant's traffic from its VRF; from outside, on the public VLAN, translated when this
    router's datacenter publishes exactly that flow (nothing else from outside reaches a tenant
    address). The last: whether the policy's verdict holds here (an untranslated packet from
    outside to a tenant never gets in)."""
    source = _tenant_of(plan, p.source)
    if source is not None:
        return source, False, True
    dnat = any(
        (p.destination, p.port, p.protocol) == (pub.to, pub.to_port, pub.protocol)
        for c in router.tenants
        for _, pub in c.published
    )
    return f"eth0.{plan.public_vlan}", dnat, dnat or _tenant_of(plan, p.destination) is None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_vyos_firewall_is_the_policy(plan: Plan, data: st.DataObject) -> None:
    """Every gateway's forward filter decides as the policy on the traffic it routes (after
    destination NAT, as the filter sees it); from outside, nothing reaches a tenant address that
    its datacenter's destination NAT did not bring in."""
    policies = [t.policy for t in plan.tenants]
    rendered = {r.name: VyosForward(r.sections["firewall"]) for r in render_routers(plan)}
    p = data.draw(packets(plan))
    for router in (r for r in plan.routers if r.gateway and _carried(r, plan, p)):
        iif, dnat, holds = _arrival(plan, router, p)
        expected = decide(policies, p).action if holds else "drop"
        assert rendered[router.name].run("forward", p, iif, dnat) == expected, (router.name, iif, dnat, p)


def test_a_forged_tenant_source_from_outside_is_dropped(plan: Plan) -> None:
    """acme's own source arriving on the trunk (not from its VRF) reaches none of its segments."""
    router = next(r for r in render_routers(plan) if r.name == "dc1-r1")
    forged = Packet(IPAddress("100.65.10.7"), IPAddress("100.112.161.150"), "tcp", 22)
    firewall = VyosForward(router.sections["firewall"])
    assert firewall.run("forward", forged, "acme") == "accept"
    for vlan in (plan.public_vlan, plan.backbone_vlan):
        assert firewall.run("forward", forged, f"eth0.{vlan}") == "drop"
        assert firewall.run("forward", forged, f"eth0.{vlan}", dnat=True) == "drop"


# ----------------------------------------------------------------------------- clouds


def _cloud_tenants(plan: Plan, provider: str) -> list[CloudTenant]:
    return list(next(c for c in plan.clouds if c.provider == provider).tenants)


def _node(plan: Plan, provider: str) -> SimpleNamespace:
    return SimpleNamespace(node_address=str(next(c for c in plan.clouds if c.provider == provider).node_address))


def _ports(low: int, high: int, p: Packet) -> bool:
    return p.port is None or low <= p.port <= high


def aws_outbound(entries: list[aws.AclEntry], p: Packet) -> str:
    """A network ACL: entries in rule-number order (their list order), the first match decides."""
    protocols = {"-1": None, "tcp": "tcp", "udp": "udp", "icmp": "icmp"}
    for e in entries:
        proto = protocols[e.protocol]
        ports = e.protocol not in ("tcp", "udp") or _ports(*e.ports, p)
        if p.destination in IPNetwork(e.cidr) and (proto is None or proto == p.protocol) and ports:
            return "accept" if e.action == "allow" else "drop"
    return "drop"


def azure_outbound(rules: list[Any], p: Packet) -> str:
    """An NSG: outbound rules by priority, the first match decides (nothing past the deny-all)."""
    for r in sorted((r for r in rules if r.direction == "Outbound"), key=lambda r: r.priority):
        peers = r.destination_address_prefixes or [r.destination_address_prefix]
        if not any(x == "*" or p.destination in IPNetwork(x) for x in peers):
            continue
        if r.protocol != "*" and r.protocol.lower() != p.protocol:
            continue
        ranges = r.destination_port_ranges or [r.destination_port_range]
        if p.protocol != "icmp" and "*" not in ranges:
            spans = [tuple(map(int, x.split("-"))) if "-" in x else (int(x), int(x)) for x in ranges]
            if not any(_ports(lo, hi, p) for lo, hi in spans):
                continue
        return "accept" if r.access == "Allow" else "drop"
    raise AssertionError("an NSG ends in deny-all")


def gcp_egress(rules: list[gcp.FirewallRule], p: Packet) -> str:
    """GCP: the highest-priority matching rules decide, a deny over an allow at one priority; no
    match: the implied allow-egress rule."""

    def hits(entries: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
        for proto, ports in entries:
            if proto not in ("all", p.protocol):
                continue
            spans = [tuple(map(int, x.split("-"))) if "-" in x else (int(x), int(x)) for x in ports]
            if not spans or any(_ports(lo, hi, p) for lo, hi in spans):
                return True
        return False

    egress = [r for r in rules if r.direction == "EGRESS" and any(p.destination in IPNetwork(x) for x in r.ranges)]
    for priority in sorted({r.priority for r in egress}):
        level = [r for r in egress if r.priority == priority]
        if any(hits(r.denies) for r in level):
            return "drop"
        if any(hits(r.allows) for r in level):
            return "accept"
    return "accept"


def _from_subnet(plan: Plan, ct: CloudTenant, p: Packet) -> Packet:
    """The packet as sent by a workload of the tenant's cloud subnet."""
    return Packet(IPAddress(ct.subnet.first + 50 + int(p.source) % 100), p.destination, p.protocol, p.port)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_cloud_filter_is_the_policy(plan: Plan, data: st.DataObject) -> None:
    """AWS network ACLs, Azure NSGs and GCP firewall rules decide as the policy on what a tenant's
    cloud subnet sends, wherever it goes (another subnet of the network, the fabric, the internet)."""
    policies = [t.policy for t in plan.tenants]
    sent = data.draw(packets(plan))
    for ct in _cloud_tenants(plan, "aws"):
        p = _from_subnet(plan, ct, sent)
        outbound, _ = aws.acl_entries(cast(Any, _node(plan, "aws")), ct)
        assert aws_outbound(outbound, p) == decide(policies, p).action, ("aws", ct.tenant.name, p)
    for ct in _cloud_tenants(plan, "azure"):
        p = _from_subnet(plan, ct, sent)
        nsg = azure.tenant_rules(cast(Any, _node(plan, "azure")), ct)
        assert azure_outbound(nsg, p) == decide(policies, p).action, ("azure", ct.tenant.name, p)
    for ct in _cloud_tenants(plan, "gcp"):
        p = _from_subnet(plan, ct, sent)
        rules = gcp.tenant_firewall_rules(_node(plan, "gcp").node_address, ct)
        assert gcp_egress(rules, p) == decide(policies, p).action, ("gcp", ct.tenant.name, p)


def test_a_sourced_entry_reaches_the_cloud_whose_subnet_is_its_source(plan: Plan) -> None:
    """acme's entry for its AWS subnet opens 192.0.2.128/25 (udp) there and nowhere else."""
    policies = [t.policy for t in plan.tenants]
    target = IPAddress("192.0.2.200")
    for provider, opened in (("aws", True), ("gcp", False)):
        ct = next(c for c in _cloud_tenants(plan, provider) if c.tenant.name == "acme")
        p = Packet(IPAddress(ct.subnet.first + 9), target, "udp", 5000)
        assert (decide(policies, p).action == "accept") == opened
    assert str(next(c for c in _cloud_tenants(plan, "aws") if c.tenant.name == "acme").subnet) == ACME_AWS


# ----------------------------------------------------------------------------- cloud nodes


def node_forward(nft: str, ct: CloudTenant, p: Packet) -> str:
    """A cloud node's forward chain for a packet from the cloud subnet: accepted by the rule whose
    ``ip saddr`` is the subnet, whose ``ip daddr`` set holds the destination, and whose output is
    the tenant's bridge (the node routes the tenant's fabric prefixes there); else dropped."""
    subnet = ct.subnet
    if not any(p.destination in r for r in ct.routes):
        return "drop"  # routed out of the node's own NIC: no rule accepts that
    for line in (x.strip() for x in nft.splitlines()):
        if line.startswith('iifname != "br*"') and f"ip saddr {subnet} " in line and line.endswith('"'):
            daddr = line.split("ip daddr {", 1)[1].split("}", 1)[0]
            if any(p.destination in IPNetwork(x.strip()) for x in daddr.split(",")):
                return "accept"
    return "drop"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_cloud_node_forwards_as_the_policy(plan: Plan, data: st.DataObject) -> None:
    """What a cloud's route table sends the node (the tenant's fabric prefixes) it forwards exactly
    when the policy accepts; anything else it never forwards."""
    policies = [t.policy for t in plan.tenants]
    sent = data.draw(packets(plan))
    for cloud in plan.clouds:
        nft = render_node(plan, cloud.node).concerns["forwarding"].files[-1].content
        for ct in cloud.tenants:
            p = _from_subnet(plan, ct, sent)
            routed = any(p.destination in r for r in ct.routes)
            expected = decide(policies, p).action if routed else "drop"
            assert node_forward(nft, ct, p) == expected, (cloud.site, ct.tenant.name, p)


def test_the_policy_rules_have_stable_numbers() -> None:
    """The fixed rules come first under fixed numbers; allow and published entries by their place."""
    assert isolation.OWN < isolation.OTHER_TENANTS < isolation.OTHER_CLOUDS < isolation.ALLOW_BASE


def test_the_evaluators_see_a_broken_translation(plan: Plan) -> None:
    """Without globex's "other tenants" rule its VyOS chain (allow_all) lets it reach acme, and its
    ACL without the denies does the same: the evaluators read what is rendered, not the policy."""
    policies = [t.policy for t in plan.tenants]
    p = Packet(IPAddress("100.65.20.150"), IPAddress("100.65.10.150"), "tcp", 443)
    assert decide(policies, p).reason == "other tenants"
    router = next(r for r in render_routers(plan) if r.name == "dc1-r1")
    rule20 = ("firewall", "ipv4", "name", "EGRESS-globex", "rule", "20")
    broken = [c for c in router.sections["firewall"] if c.path[:6] != rule20]
    assert VyosForward(router.sections["firewall"]).run("forward", p, "globex") == "drop"
    assert VyosForward(broken).run("forward", p, "globex") == "accept"
    ct = next(c for c in _cloud_tenants(plan, "aws") if c.tenant.name == "globex")
    outbound, _ = aws.acl_entries(cast(Any, _node(plan, "aws")), ct)
    q = _from_subnet(plan, ct, p)
    assert aws_outbound(outbound, q) == "drop"
    assert aws_outbound([e for e in outbound if e.action != "deny"], q) == "accept"
