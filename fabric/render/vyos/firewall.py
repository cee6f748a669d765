"""Firewall: protect the router, isolate tenants, and allow-list each tenant's egress.

* ``input``: only what the router serves: WireGuard from mesh endpoints, anything
  inside the mesh (BGP, VXLAN), API/SSH from admin prefixes, OSPF on the backbone,
  VRRP on the public VLAN, VRRP and DHCP on tenant segments. A packet received on
  a port of a VRF reaches the input hook with the VRF as its interface, so tenant
  rules match the VRF's name, not the bridge's.
* IPv6 is not used by the fabric: only established traffic, ICMPv6 and loopback.
* ``forward``: established traffic returns; tenant or cloud sources arriving on the
  trunk's VLANs are dropped (forged: a tenant's traffic comes from its VRF); a tenant's
  traffic jumps to its egress chain, traffic to a tenant with published services to its
  ingress chain (which admits only what destination NAT brought in); everything else
  (other tenants, the internet inbound) is dropped. Invalid
  packets are dropped in each egress chain *after* the tenant's own prefixes: traffic to
  a cloud subnet hairpins through the gateway while replies come straight back from
  the cloud node on the segment, so this router sees only one direction of such TCP
  flows, which conntrack calls invalid.
* Egress and ingress chains per tenant translate its isolation policy
  (:mod:`fabric.isolation`), rule by rule under the policy's numbers. Egress (the tiCrypt
  seed's single controlled exit): its own prefixes (segments, services, cloud subnets),
  never another tenant's (nor another tenant's cloud subnet), then its allow list (an
  entry limited to its ``source``), then drop (or accept when the tenant's egress is
  ``allow_all``). Ingress: each published service (after destination NAT) from its
  ``from`` prefixes, then drop.
"""

from __future__ import annotations

from fabric.isolation import Rule
from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import (
    ADMIN,
    MESH,
    MESH_ENDPOINTS,
    TENANT_SPACE,
    egress_chain,
    ingress_chain,
    publish_group,
    tenant_group,
    vif,
)
from fabric.topology import Plan, RouterPlan, TenantOnRouter

OWNS = (("firewall",),)

#: Tenant ``t``'s VRRP and DHCP rules in the input filter: ``base + 2t`` and ``base + 2t + 1``.
INPUT_RULE_BASE = 1000
#: The forward filter's drops of tenant sources on the trunk's VLANs (public, backbone).
SPOOF_RULE = 30
#: Tenant ``t``'s jump rule in the forward filter.
FORWARD_RULE_BASE = 1000
#: Tenant ``t``'s jump to its published services' chain in the forward filter.
INGRESS_JUMP_BASE = 100000
#: Conntrack's "invalid" drop in an egress chain, between the policy's own-prefix rule and the rest.
INVALID_RULE = 15


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    return (
        _groups(plan, router)
        + _input(plan, router)
        + _forward(plan, router)
        + _egress(plan, router)
        + _ingress(router)
        + _ipv6()
    )


def _groups(plan: Plan, router: RouterPlan) -> list[Command]:
    out = [cmd("firewall", "group", "network-group", ADMIN, "network", value=p) for p in router.admin_prefixes]
    out += [
        cmd("firewall", "group", "network-group", TENANT_SPACE, "network", value=p)
        for p in (plan.tenant_base, plan.cloud_networks)
    ]
    endpoints = sorted({p.endpoint for p in router.wireguard_peers if p.endpoint}, key=str)
    out += [cmd("firewall", "group", "address-group", MESH_ENDPOINTS, "address", value=e) for e in endpoints]
    for carried in router.tenants:
        t = carried.tenant
        out += [
            cmd("firewall", "group", "network-group", tenant_group(t), "network", value=p) for p in t.owned_prefixes
        ]
        for rule in t.policy.ingress:
            group = publish_group(t, rule)
            out += [cmd("firewall", "group", "network-group", group, "network", value=p) for p in rule.sources]
    return out


def _input(plan: Plan, router: RouterPlan) -> list[Command]:
    f = ("firewall", "ipv4", "input", "filter")
    out = [
        cmd(*f, "default-action", value="drop"),
        *_rule(f, 10, "accept", "established and related", state=("established", "related")),
        *_rule(f, 20, "drop", "invalid", state=("invalid",)),
        *_rule(f, 30, "accept", "loopback", inbound="lo"),
        *_rule(f, 40, "accept", "ICMP", protocol="icmp"),
    ]
    if any(p.endpoint for p in router.wireguard_peers):
        out += _rule(
            f,
            45,
            "accept",
            "WireGuard from mesh endpoints",
            protocol="udp",
            port=str(plan.mesh_port),
            source_address_group=MESH_ENDPOINTS,
        )
    out += [
        *_rule(f, 50, "accept", "inside the mesh (BGP, VXLAN, API)", inbound=MESH),
        *_rule(f, 60, "accept", "admin API and SSH", protocol="tcp", port=f"22,{router.api_port}", source_group=ADMIN),
        *_rule(f, 70, "accept", "OSPF on the backbone", protocol="ospf", inbound=vif(plan.backbone_vlan)),
    ]
    if router.nat_addresses:
        out += _rule(f, 80, "accept", "VRRP on the public VLAN", protocol="vrrp", inbound=vif(plan.public_vlan))
    for carried in router.tenants:
        t = carried.tenant
        where = f"tenant {t.name} (its segments, in VRF {t.vrf})"
        out += _rule(f, INPUT_RULE_BASE + 2 * t.id, "accept", f"VRRP, {where}", protocol="vrrp", inbound=t.vrf)
        out += _rule(
            f, INPUT_RULE_BASE + 2 * t.id + 1, "accept", f"DHCP, {where}", protocol="udp", port="67", inbound=t.vrf
        )
    return out


def _ipv6() -> list[Command]:
    out: list[Command] = []
    for hook in ("input", "forward"):
        f = ("firewall", "ipv6", hook, "filter")
        out += [
            cmd(*f, "default-action", value="drop"),
            *_rule(f, 10, "accept", "established and related", state=("established", "related")),
            *_rule(f, 20, "drop", "invalid", state=("invalid",)),
        ]
    f = ("firewall", "ipv6", "input", "filter")
    out += _rule(f, 30, "accept", "loopback", inbound="lo")
    out += _rule(f, 40, "accept", "ICMPv6 (neighbor discovery)", protocol="ipv6-icmp")
    return out


def _forward(plan: Plan, router: RouterPlan) -> list[Command]:
    f = ("firewall", "ipv4", "forward", "filter")
    out = [
        cmd(*f, "default-action", value="drop"),
        *_rule(f, 10, "accept", "established and related", state=("established", "related")),
    ]
    # A tenant's traffic arrives in its VRF, never on the trunk: a tenant source there is forged
    # (the policy's egress rules trust the source, so it is dropped before them).
    for number, vlan in ((SPOOF_RULE, plan.public_vlan), (SPOOF_RULE + 1, plan.backbone_vlan)):
        out += _rule(f, number, "drop", "tenant space from outside", inbound=vif(vlan), source_group=TENANT_SPACE)
    for carried in router.tenants:
        t = carried.tenant
        out += _jump(f, FORWARD_RULE_BASE + t.id, f"tenant {t.name}", egress_chain(t), "source", tenant_group(t))
    for t in (c.tenant for c in router.tenants if c.tenant.policy.ingress):
        what = f"tenant {t.name} published services"
        out += _jump(f, INGRESS_JUMP_BASE + t.id, what, ingress_chain(t), "destination", tenant_group(t))
    return out


def _jump(base: tuple[str, ...], number: int, description: str, chain: str, side: str, group: str) -> list[Command]:
    """A rule that sends traffic whose ``side`` (source or destination) is in ``group`` to ``chain``."""
    r = (*base, "rule", number)
    return [
        cmd(*r, "description", value=description),
        cmd(*r, "action", value="jump"),
        cmd(*r, "jump-target", value=chain),
        cmd(*r, side, "group", "network-group", value=group),
    ]


def _ingress(router: RouterPlan) -> list[Command]:
    """The tenant's ingress rules (its published services, after destination NAT) as its chain, on
    every router that carries it (the policy, whether or not this datacenter publishes); entered
    for traffic to the tenant from outside it (the tenant's own and other tenants' traffic meets
    an egress chain first)."""
    out: list[Command] = []
    for carried in (c for c in router.tenants if c.tenant.policy.ingress):
        t = carried.tenant
        c = ("firewall", "ipv4", "name", ingress_chain(t))
        out += [
            cmd(*c, "description", value=f"tenant {t.name} published services"),
            cmd(*c, "default-action", value="drop"),
        ]
        for rule in t.policy.ingress:
            group = publish_group(t, rule) if rule.sources else None
            out += _policy_rule(c, rule, source_group=group)
            # Only what the published address's destination NAT brought in (nftables `ct status
            # dnat`): the tenant's address is never reached directly from outside.
            out.append(cmd(*c, "rule", rule.number, "connection-status", "nat", value="destination"))
    return out


def _egress(plan: Plan, router: RouterPlan) -> list[Command]:
    out: list[Command] = []
    for carried in router.tenants:
        out += _chain(plan, carried)
    return out


def _chain(plan: Plan, carried: TenantOnRouter) -> list[Command]:
    """The tenant's egress rules (:mod:`fabric.isolation`) as its chain, each under its policy
    number; the chain is entered only from the tenant's own prefixes (``_forward``)."""
    t = carried.tenant
    policy = t.policy
    c = ("firewall", "ipv4", "name", egress_chain(t))
    rules = {
        r.number: _policy_rule(c, r, own=tenant_group(t) if r.destinations == policy.own else None)
        for r in policy.egress
    }
    # Conntrack's verdict, after the own prefixes (see the module docstring): a device detail.
    rules[INVALID_RULE] = _rule(c, INVALID_RULE, "drop", "invalid", state=("invalid",))
    out = [
        cmd(*c, "description", value=f"tenant {t.name} egress"),
        cmd(*c, "default-action", value=policy.egress_default),
    ]
    return out + [line for _, lines in sorted(rules.items()) for line in lines]


def _policy_rule(
    base: tuple[str, ...], rule: Rule, own: str | None = None, source_group: str | None = None
) -> list[Command]:
    """One policy rule; its own-prefix set, when that is its destination, as the tenant's group,
    and its sources, when they are several, as ``source_group``."""
    assert source_group is not None or len(rule.sources) <= 1  # as the policy makes them
    assert own is not None or len(rule.destinations) <= 1
    return _rule(
        base,
        rule.number,
        rule.action,
        rule.reason,
        dest_group=own,
        dest_address=None if own is not None or not rule.destinations else str(rule.destinations[0]),
        source_group=source_group,
        source_address=str(rule.sources[0]) if rule.sources and source_group is None else None,
        protocol=None if rule.protocol == "all" else rule.protocol,
        port=",".join(str(p) for p in rule.ports) or None,
    )


def _rule(
    base: tuple[str, ...],
    number: int,
    action: str,
    description: str,
    *,
    state: tuple[str, ...] = (),
    inbound: str | None = None,
    protocol: str | None = None,
    port: str | None = None,
    source_group: str | None = None,
    source_address: str | None = None,
    source_address_group: str | None = None,
    dest_group: str | None = None,
    dest_address: str | None = None,
) -> list[Command]:
    """One rule; ``port`` is a destination port list (``22,443``)."""
    r = (*base, "rule", str(number))
    out = [cmd(*r, "action", value=action), cmd(*r, "description", value=description)]
    out += [cmd(*r, "state", value=s) for s in state]
    if inbound is not None:
        out.append(cmd(*r, "inbound-interface", "name", value=inbound))
    if protocol is not None:
        out.append(cmd(*r, "protocol", value=protocol))
    if port is not None:
        out.append(cmd(*r, "destination", "port", value=port))
    if source_group is not None:
        out.append(cmd(*r, "source", "group", "network-group", value=source_group))
    if source_address is not None:
        out.append(cmd(*r, "source", "address", value=source_address))
    if source_address_group is not None:
        out.append(cmd(*r, "source", "group", "address-group", value=source_address_group))
    if dest_group is not None:
        out.append(cmd(*r, "destination", "group", "network-group", value=dest_group))
    if dest_address is not None:
        out.append(cmd(*r, "destination", "address", value=dest_address))
    return out
