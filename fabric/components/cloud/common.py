"""What the three cloud extensions share: the two phases, the node's key, tags, user-data.

An extension is built in two phases because of a dependency order. The other members'
configs need the cloud node's public key and address, which come from the extension's
own resources, and the node's user-data and firewall need theirs. So the constructor
creates everything that depends on config alone (the key, the network, subnets,
internet gateway and the static public IP), and :meth:`CloudExtension.attach` adds what
needs the other members' values: the firewall and the node. Both come from the one
plan (:mod:`fabric.components.late` fills in the values known after ``up``), so which
resources exist is always known in a preview.

Every tenant's workload subnet gets its own filter (AWS network ACL, Azure NSG, GCP
firewall rules on the tenant's tag), because the cloud delivers traffic between subnets
of one network itself, never through the node: the node's forward filter cannot keep
tenants apart there. Each filter translates the tenant's isolation policy
(:mod:`fabric.isolation`), as the VyOS routers' egress chains do: the tenant's own
prefixes, never another tenant's space nor any cloud network, then the allow-list
entries that apply to the subnet, then nothing (or everything, with ``egress.allow_all``).
Traffic between the subnet and the tenant's prefixes passes the node, forwarded with
the tenant's own addresses as sources, so the own prefixes are what the filters admit.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi

from fabric import model
from fabric.components.keys import mesh_key
from fabric.components.late import LateValues, used
from fabric.deferred import WIREGUARD_PRIVATE_KEY, resolve
from fabric.isolation import Rule, in_scope
from fabric.render.cloudinit import packed_user_data
from fabric.render.linux.node import render_node
from fabric.topology import CloudPlan, CloudTenant, Plan
from markers import SECRET


def tags(cloud: CloudPlan) -> dict[str, str]:
    """AWS and Azure tags: who manages the resource and which site, node and stack it serves."""
    return {
        "ManagedBy": "fabric",
        "fabric-site": cloud.site,
        "fabric-node": cloud.node.name,
        "fabric-stack": pulumi.get_stack(),
    }


def labels(cloud: CloudPlan) -> dict[str, str]:
    """The same as GCP labels, whose keys and values allow only ``[a-z0-9_-]``."""
    return {_label(k): _label(v) for k, v in tags(cloud).items()}


def _label(text: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)
    return re.sub(r"[^a-z0-9_-]", "-", words.lower())[:63]


def host_prefix(address: str) -> str:
    """A WireGuard source as firewalls take it: the one address, as a /32."""
    return f"{address}/32"


def prefix_slug(prefix: object) -> str:
    """A prefix as a name part (``100.65.10.0/24`` -> ``100-65-10-0-24``): names come from values, not positions."""
    return str(prefix).replace(".", "-").replace("/", "-")


#: Every IPv4 address: allow_all's destination, and the internet's side of a route.
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class EgressRule:
    """One allow-list entry as the clouds' firewalls take it.

    Entries with the same destination and protocol are merged (their ports joined), so
    rule names made of destination and protocol are unique. ``ports`` are inclusive
    ranges, contiguous ports joined; empty means every port (and always for ``icmp``
    and ``all``).
    """

    destination: str
    #: ``tcp``, ``udp``, ``icmp`` or ``all``, as in the config.
    protocol: str
    ports: tuple[tuple[int, int], ...]

    @property
    def slug(self) -> str:
        """A name part from the values: ``192-0-2-0-24-tcp``."""
        return f"{prefix_slug(self.destination)}-{self.protocol}"


def port_ranges(ports: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Sorted, deduplicated ports as inclusive ranges: ``{443, 80, 81}`` -> ``((80, 81), (443, 443))``."""
    ranges: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if ranges and ranges[-1][1] == port - 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    return tuple(ranges)


def port_text(first: int, last: int) -> str:
    """A range as Azure and GCP write it: ``443`` or ``8000-8080``."""
    return str(first) if first == last else f"{first}-{last}"


def egress_rules(t: CloudTenant) -> tuple[EgressRule, ...]:
    """The tenant policy's allow list as it applies to the subnet (:func:`fabric.isolation.in_scope`),
    then everything when the policy's egress default is accept (``allow_all``).

    Entries with the same destination and protocol merge; an entry for ``0.0.0.0/0`` keeps its
    protocol and ports (only the default opens everything).
    """
    policy = t.tenant.policy
    merged: dict[tuple[str, str], set[int] | None] = {}
    allows = [(str(d), r) for r in in_scope(policy.allows, t.subnet) for d in r.destinations]
    if policy.egress_default == "accept":
        allows = [(ANYWHERE, Rule(0, "accept", "egress default", protocol="all"))]
    for destination, allow in allows:
        key = (destination, allow.protocol)
        ports = merged.setdefault(key, set())
        if ports is None:
            continue
        if allow.ports and allow.protocol in ("tcp", "udp"):
            ports.update(allow.ports)
        else:
            merged[key] = None  # every port
    return tuple(
        EgressRule(destination, protocol, port_ranges(ports or ())) for (destination, protocol), ports in merged.items()
    )


def own_prefixes(t: CloudTenant) -> tuple[str, ...]:
    """The policy's own prefixes, the subnet first: what the tenant's filter admits both ways."""
    subnet = str(t.subnet)
    return (subnet, *(p for p in map(str, t.tenant.policy.own) if p != subnet))


def denied_prefixes(t: CloudTenant) -> tuple[str, ...]:
    """The policy's fixed denies: every other tenant's space and every cloud network."""
    return tuple(str(p) for p in t.tenant.policy.denied)


def egress_destinations(t: CloudTenant) -> tuple[str, ...]:
    """Where the tenant's route table sends traffic to the internet gateway: each
    destination once (two allow-list entries may share one)."""
    return tuple(dict.fromkeys(str(p) for p in t.egress))


class CloudExtension(pulumi.ComponentResource, abc.ABC):
    """A cloud extension's shared part; each cloud's class adds its network and node.

    ``public_ip`` (the node's static address, its mesh endpoint) and ``public_key`` are
    known after phase 1; ``user_data`` (packed, secret) after :meth:`attach`.
    """

    #: The component's type token, ``fabric:cloud:<Cloud>Extension``.
    TYPE: ClassVar[str]
    public_ip: pulumi.Output[str]
    public_key: pulumi.Output[str]
    user_data: pulumi.Output[str]

    def __init__(self, inv: model.Inventory, planned: CloudPlan, opts: pulumi.ResourceOptions | None = None) -> None:
        """``planned``: the extension as the plan decides it. The component is named after its site."""
        super().__init__(self.TYPE, planned.site, None, opts)
        self.planned = planned
        self.site = planned.site
        self.node_name = planned.node.name
        self.mesh_address = str(planned.node.mesh_address)
        self.node_address = str(planned.node_address)
        key = mesh_key(self.node_name, inv, planned.spec.key_rotation, self)
        self.public_key = key.public_key
        self._private_key = key.private_key

    def name(self, what: str) -> str:
        """A child's name: ``<site>-<what>``.

        A tenant's resources are ``<site>-tenant-<tenant>-…``, so no tenant name (``node``,
        ``n1``) can take the name, or on GCP the network tag, of the node's own resources.
        """
        return f"{self.site}-{what}"

    def tenant(self, t: CloudTenant, what: str) -> str:
        """A tenant's child: ``<site>-tenant-<tenant>-<what>``."""
        return self.name(f"tenant-{t.tenant.name}-{what}")

    def attach(self, plan: Plan, late: LateValues) -> None:
        """Phase 2: the firewall and the node, which need the other members' keys and
        addresses (known after ``up`` for this stack's own); then the outputs."""
        planned = self.planned
        slots = [(kind, name) for f in render_node(plan, planned.node).files() for _, kind, name in f.slots]
        public = [(kind, name) for kind, name in slots if kind != SECRET]
        # Packed (gzip, base64) as every cloud takes it; a config error when it outgrows the cloud's limit.
        packed = pulumi.Output.all(late.inputs(public), self._private_key).apply(
            lambda args: packed_user_data(plan, planned, {**args[0], SECRET: {WIREGUARD_PRIVATE_KEY.name: args[1]}})
        )
        # The private key is inside: a secret in state, masked in previews and logs.
        self.user_data = pulumi.Output.secret(packed)
        sources = planned.wireguard_sources
        self._attach(late.resolved(used(sources), lambda v: [host_prefix(resolve(e, v)) for e in sources]))
        self.register_outputs(self.outputs())

    @abc.abstractmethod
    def _attach(self, wireguard_sources: pulumi.Output[list[str]]) -> None:
        """Each cloud's firewall (WireGuard only from ``wireguard_sources``) and node."""

    def outputs(self) -> dict[str, Any]:
        return {
            "provider": self.planned.provider,
            "region": self.planned.spec.region,
            "node": self.node_name,
            "mesh_address": self.mesh_address,
            "node_address": self.node_address,
            "network": str(self.planned.network),
            "public_ip": self.public_ip,
            "public_key": self.public_key,
            "tenants": {t.tenant.name: str(t.subnet) for t in self.planned.tenants},
        }
