"""What the three cloud extensions share: the two phases, the node's key, tags, user-data.

An extension is built in two phases because of a dependency order. The fabric's full
plan needs every member's public key and the cloud node's public endpoint, and those
come from the extension's own resources; the node's user-data and its firewall need the
full plan. So the constructor creates, from the keyless plan, everything that depends
on config alone (the key, the network, subnets, internet gateway and the static public
IP), and :meth:`CloudExtension.attach` adds, from the full plan, what needs the other
members: the firewall and the node.

How many resources exist (which tenants, which prefixes) always comes from the keyless
plan, which Pulumi can see without waiting on outputs; the full plan differs from it
only in keys and endpoints.
"""

from __future__ import annotations

import abc
import re
from typing import Any, ClassVar

import pulumi

from fabric import model
from fabric.render.cloudinit import packed_user_data
from fabric.topology import CloudPlan, Plan
from providers.keys import WireguardKey


def key_rotation(inv: model.Inventory, cloud: model.Cloud) -> str:
    """The key's only replacing input, as for routers: the fabric-wide epoch and the node's counter."""
    return f"{inv.mesh.key_epoch}.{cloud.key_rotation}"


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


def cloud_of(plan: Plan, site: str) -> CloudPlan:
    return next(c for c in plan.clouds if c.site == site)


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
        """``planned``: the extension as the keyless plan decides it. The component is named after its site."""
        super().__init__(self.TYPE, planned.site, None, opts)
        self.planned = planned
        self.site = planned.site
        self.node_name = planned.node.name
        self.mesh_address = str(planned.node.mesh_address)
        self.node_address = str(planned.node_address)
        key = WireguardKey(
            f"{self.node_name}-wg-key", key_rotation(inv, planned.spec), pulumi.ResourceOptions(parent=self)
        )
        self.public_key = key.public_key
        self._private_key = key.private_key

    def name(self, what: str) -> str:
        """A child's name: ``<site>-<what>``.

        A tenant's resources are ``<site>-tenant-<tenant>-…``, so no tenant name (``node``,
        ``n1``) can take the name, or on GCP the network tag, of the node's own resources.
        """
        return f"{self.site}-{what}"

    def attach(self, plan: pulumi.Output[Plan]) -> None:
        """Phase 2: the firewall and the node, from the full plan; then the outputs."""
        cloud = plan.apply(lambda p: cloud_of(p, self.site))
        # Packed (gzip, base64) as every cloud takes it; a config error when it outgrows the cloud's limit.
        packed = pulumi.Output.all(plan, cloud, self._private_key).apply(lambda args: packed_user_data(*args))
        # The private key is inside: a secret in state, masked in previews and logs.
        self.user_data = pulumi.Output.secret(packed)
        self._attach(cloud.apply(lambda c: [host_prefix(e) for e in c.wireguard_sources]))
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
