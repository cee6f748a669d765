"""``fabric:cloud:GcpExtension``: a VPC network in one region with a node that joins the mesh.

GCP routes belong to the network, not to subnets; network tags choose which instances
use them. The network starts without Google's default internet route
(``delete_default_routes_on_create``); one tagged default route gives the internet
back to the node and to the instances of tenants with ``egress.allow_all``, and each
tenant's prefixes route to the node only for instances carrying that tenant's tag
(``<site>-tenant-<tenant>``, an output; the node's tag is its name, ``<site>-n<id>``).
A tenant with an allow list gets a route to the internet gateway per destination, on
its tag. Routes name the node by its fixed private address, so replacing the node
(changed user-data; the old one goes first, as it holds the addresses) leaves every
route as it is.

GCP firewall rules bind to tags, not subnets; a custom network denies all ingress and
allows all egress unless a rule says otherwise. Each tenant's tag gets, by priority, its
policy (:mod:`fabric.isolation`) translated:

* ingress: its own prefixes (its subnet; the fabric, forwarded by the node with
  the tenant's addresses as sources), ICMP from the node (path MTU); nothing else, so
  no other tenant's subnet reaches it;
* egress: its own prefixes (1000); deny all tenant space and every cloud network
  (1100: another tenant's workload may admit more than its own subnet); each
  allow-list destination that applies to the subnet, with its protocols and ports
  (1200); then, without
  ``egress.allow_all``, deny everything (65000). GCP always lets a VM reach its
  metadata server (DNS included).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from fabric import model
from fabric.components.cloud.common import (
    ANYWHERE,
    CloudExtension,
    EgressRule,
    denied_prefixes,
    egress_destinations,
    egress_rules,
    host_prefix,
    labels,
    own_prefixes,
    port_text,
    prefix_slug,
)
from fabric.topology import CloudPlan, CloudTenant

DEFAULT_SIZE = "e2-small"
#: Ubuntu 24.04 LTS: the node is configured by cloud-init, which Google's own Debian
#: images (``debian-cloud``) do not have (they run only google-guest-agent, which
#: ignores ``user-data``); Canonical's GCE images ship cloud-init and every package the
#: user-data installs (wireguard-tools, frr, frr-pythontools, nftables).
DEFAULT_IMAGE = "ubuntu-os-cloud/ubuntu-2404-lts-amd64"
#: Firewall priorities of a tenant's rules (lower wins).
OWN_PRIORITY = 1000
DENY_TENANTS_PRIORITY = 1100
EGRESS_PRIORITY = 1200
DENY_ALL_PRIORITY = 65000


@dataclass(frozen=True)
class FirewallRule:
    """One GCP firewall rule of a tenant's tag, before it is a resource: ``ranges`` are its sources
    (ingress) or destinations (egress), never empty; ``allows``/``denies`` are (protocol, ports)."""

    what: str
    direction: str
    priority: int
    ranges: tuple[str, ...]
    allows: tuple[tuple[str, tuple[str, ...]], ...] = ()
    denies: tuple[tuple[str, tuple[str, ...]], ...] = ()


def tenant_firewall_rules(node_address: str, t: CloudTenant) -> list[FirewallRule]:
    """The tenant's policy (:mod:`fabric.isolation`) as its tag's firewall rules (see the module's
    docstring); with ``allow_all``, GCP's implied allow-egress rule does the rest."""
    own = own_prefixes(t)
    every = (("all", ()),)
    rules = [
        FirewallRule("in", "INGRESS", OWN_PRIORITY, own, allows=every),
        FirewallRule("in-node-icmp", "INGRESS", OWN_PRIORITY, (host_prefix(node_address),), allows=(("icmp", ()),)),
        FirewallRule("out", "EGRESS", OWN_PRIORITY, own, allows=every),
        FirewallRule("out-deny-tenants", "EGRESS", DENY_TENANTS_PRIORITY, denied_prefixes(t), denies=every),
    ]
    if t.tenant.policy.egress_default == "accept":
        return rules
    by_destination: dict[str, list[EgressRule]] = {}
    for r in egress_rules(t):
        by_destination.setdefault(r.destination, []).append(r)
    rules += [
        FirewallRule(
            f"out-{prefix_slug(destination)}",
            "EGRESS",
            EGRESS_PRIORITY,
            (destination,),
            allows=tuple((r.protocol, tuple(port_text(*p) for p in r.ports)) for r in entries),
        )
        for destination, entries in by_destination.items()
    ]
    rules.append(FirewallRule("out-deny", "EGRESS", DENY_ALL_PRIORITY, (ANYWHERE,), denies=every))
    return rules


class GcpExtension(CloudExtension):
    TYPE = "fabric:cloud:GcpExtension"

    def __init__(self, inv: model.Inventory, planned: CloudPlan, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(inv, planned, opts)
        spec = planned.spec
        self.zone = spec.zone or f"{spec.region}-b"
        self.provider = gcp.Provider(
            self.name("provider"), region=spec.region, zone=self.zone, opts=pulumi.ResourceOptions(parent=self)
        )
        self._opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        # GCP networks, subnets, routes and firewalls take no labels: their description says who owns them.
        self.description = f"fabric: site {planned.site}, node {self.node_name}, stack {pulumi.get_stack()}"
        self.node_tag = self.node_name
        self.tenant_tags = {t.tenant.name: self.name(f"tenant-{t.tenant.name}") for t in planned.tenants}
        self.network = gcp.compute.Network(
            self.name("network"),
            auto_create_subnetworks=False,
            delete_default_routes_on_create=True,
            routing_mode="REGIONAL",
            # GCP's default is 1460; the plan's WireGuard packets are sized for a 1500 underlay.
            mtu=1500,
            description=self.description,
            opts=self._opts,
        )
        self.node_subnet = self._subnet("node-subnet", str(planned.node_subnet))
        self.tenant_subnets = {
            t.tenant.name: self._subnet(f"tenant-{t.tenant.name}-subnet", str(t.subnet)) for t in planned.tenants
        }
        gcp.compute.Route(
            self.name("internet"),
            network=self.network.self_link,
            dest_range=ANYWHERE,
            next_hop_gateway="default-internet-gateway",
            tags=[self.node_tag, *(self.tenant_tags[t.tenant.name] for t in planned.tenants if t.internet)],
            description=self.description,
            opts=self._opts,
        )
        for t in planned.tenants:
            if not t.internet:
                for destination in egress_destinations(t):
                    gcp.compute.Route(
                        self.tenant(t, f"internet-{prefix_slug(destination)}"),
                        network=self.network.self_link,
                        dest_range=destination,
                        next_hop_gateway="default-internet-gateway",
                        tags=[self.tenant_tags[t.tenant.name]],
                        description=self.description,
                        opts=self._opts,
                    )
            self._tenant_firewalls(t)
        self.address = gcp.compute.Address(
            self.name("ip"),
            address_type="EXTERNAL",
            network_tier="PREMIUM",
            region=spec.region,
            labels=labels(planned),
            description=self.description,
            opts=self._opts,
        )
        self.public_ip = self.address.address

    def _subnet(self, what: str, cidr: str) -> gcp.compute.Subnetwork:
        return gcp.compute.Subnetwork(
            self.name(what),
            network=self.network.id,
            ip_cidr_range=cidr,
            region=self.planned.spec.region,
            description=self.description,
            opts=self._opts,
        )

    def _firewall(self, what: str, allow: gcp.compute.FirewallAllowArgs, sources: pulumi.Input[list[str]]) -> None:
        """An ingress allow to the node only (never empty sources: GCP reads those as 0.0.0.0/0)."""
        gcp.compute.Firewall(
            self.name(what),
            network=self.network.id,
            direction="INGRESS",
            allows=[allow],
            source_ranges=sources,
            target_tags=[self.node_tag],
            description=self.description,
            opts=self._opts,
        )

    def _tenant_firewalls(self, t: CloudTenant) -> None:
        """The tenant tag's rules (:func:`tenant_firewall_rules`)."""
        for f in tenant_firewall_rules(self.node_address, t):
            gcp.compute.Firewall(
                self.tenant(t, f.what),
                network=self.network.id,
                direction=f.direction,
                priority=f.priority,
                source_ranges=list(f.ranges) if f.direction == "INGRESS" else None,
                destination_ranges=list(f.ranges) if f.direction == "EGRESS" else None,
                allows=[gcp.compute.FirewallAllowArgs(protocol=p, ports=list(ports) or None) for p, ports in f.allows]
                or None,
                denies=[gcp.compute.FirewallDenyArgs(protocol=p) for p, _ in f.denies] or None,
                target_tags=[self.tenant_tags[t.tenant.name]],
                description=self.description,
                opts=self._opts,
            )

    def _attach(self, wireguard_sources: pulumi.Output[list[str]]) -> None:
        planned = self.planned
        # The plan's sources include the local routers' endpoints, so they are never empty.
        if planned.wireguard_sources:
            self._firewall(
                "allow-wireguard",
                gcp.compute.FirewallAllowArgs(protocol="udp", ports=[str(planned.mesh_port)]),
                wireguard_sources,
            )
        if planned.spec.admin_prefixes:
            self._firewall(
                "allow-ssh",
                gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["22"]),
                [str(p) for p in planned.spec.admin_prefixes],
            )
        if planned.tenants:
            self._firewall(
                "allow-tenants", gcp.compute.FirewallAllowArgs(protocol="all"), [str(t.subnet) for t in planned.tenants]
            )
        self.instance = gcp.compute.Instance(
            self.node_name,
            machine_type=planned.spec.size or DEFAULT_SIZE,
            zone=self.zone,
            boot_disk=gcp.compute.InstanceBootDiskArgs(
                initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                    image=planned.spec.image or DEFAULT_IMAGE, labels=labels(planned)
                )
            ),
            network_interfaces=[
                gcp.compute.InstanceNetworkInterfaceArgs(
                    subnetwork=self.node_subnet.id,
                    network_ip=self.node_address,
                    access_configs=[
                        gcp.compute.InstanceNetworkInterfaceAccessConfigArgs(
                            nat_ip=self.address.address, network_tier="PREMIUM"
                        )
                    ],
                )
            ],
            can_ip_forward=True,  # the node routes for the tenants' subnets
            tags=[self.node_tag],
            # cloud-init's GCE source decodes base64 when told to; gzip it detects itself.
            metadata={"user-data": self.user_data, "user-data-encoding": "base64"},
            labels=labels(planned),
            allow_stopping_for_update=True,
            opts=pulumi.ResourceOptions.merge(
                self._opts, pulumi.ResourceOptions(replace_on_changes=["metadata"], delete_before_replace=True)
            ),
        )
        for t in planned.tenants:
            for prefix in t.routes:
                gcp.compute.Route(
                    self.name(f"tenant-{t.tenant.name}-{prefix_slug(prefix)}"),
                    network=self.network.self_link,
                    dest_range=str(prefix),
                    next_hop_ip=self.node_address,
                    tags=[self.tenant_tags[t.tenant.name]],
                    description=self.description,
                    opts=self._opts,
                )

    def outputs(self) -> dict[str, object]:
        return {**super().outputs(), "node_tag": self.node_tag, "tenant_tags": self.tenant_tags}
