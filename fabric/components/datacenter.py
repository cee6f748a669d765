"""The root of a stack's resource tree: ``fabric:index:Datacenter``, or ``fabric:index:Fabric``
for a stack without a datacenter (``frr`` nodes and cloud extensions only, e.g. the lab).

Children (each name starts with the root's): a Mesh; one Router per VyOS router (with
its WireGuard key), one Hypervisor per host and one Tenant per tenant present here; one
Node per ``frr`` node; and one cloud extension per enabled cloud, named after its
cloud site (a site of its own). Router and node configs need every public key, so the
plan that renders them is an Output of the keys, the cloud nodes' public IPs and the
peer stacks' members; hypervisors and tenants do not involve keys and are planned from
config alone, so previews show them in full. Cloud extensions come in two phases around
that plan: their key, network and public IP first (the plan needs them), then their
firewall and node (which need it).
"""

from __future__ import annotations

from typing import Any

import pulumi

from fabric import model, topology
from fabric.components.cloud import extension_class
from fabric.components.cloud.common import CloudExtension
from fabric.components.hypervisor import Hypervisor
from fabric.components.mesh import Mesh
from fabric.components.naming import child_name
from fabric.components.node import Node
from fabric.components.router import Router
from fabric.components.tenant import Tenant
from fabric.export import plan_summary
from fabric.topology import placeholder_keys


class Datacenter(pulumi.ComponentResource):
    """The stack's root (see the module docstring); ``TYPE`` names what kind of stack it is."""

    plan: pulumi.Output[topology.Plan]

    def __init__(
        self,
        inv: model.Inventory,
        remote: pulumi.Output[list[topology.MeshMember]],
        api_key: pulumi.Output[str] | None,
        ssh_private_key: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``api_key``: the routers' VyOS API key (None in a stack without routers)."""
        name = inv.datacenter.name if inv.datacenter else pulumi.get_stack()
        kind = "Datacenter" if inv.datacenter else "Fabric"
        super().__init__(f"fabric:index:{kind}", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Addresses, hosts and tenants do not depend on keys: planned from config alone.
        keyless = topology.build(inv, placeholder_keys(inv))
        planned = {r.name: r for r in keyless.routers}
        self.routers = {
            r.name: Router(
                child_name(name, r.name),
                inv,
                r,
                planned[r.name],
                pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=child_name(name, old)) for old in r.previous_names]
                ),
            )
            for r in sorted(inv.routers, key=lambda r: r.id)
        }
        self.nodes = {n.name: Node(child_name(name, n.name), inv, n, child) for n in inv.nodes}
        self.clouds: dict[str, CloudExtension] = {
            c.site: extension_class(c.provider)(inv, c, child) for c in keyless.clouds
        }
        keys = (
            {n: r.public_key for n, r in self.routers.items()}
            | {n: node.public_key for n, node in self.nodes.items()}
            | {c.node_name: c.public_key for c in self.clouds.values()}
        )
        endpoints = {c.node_name: c.public_ip for c in self.clouds.values()}
        self.plan = pulumi.Output.all(
            remote, pulumi.Output.from_input(keys), pulumi.Output.from_input(endpoints)
        ).apply(lambda args: topology.build(inv, args[1], args[0], args[2]))
        if self.routers:
            if api_key is None:
                raise ValueError("routers need the VyOS API key")
            for router in self.routers.values():
                router.attach(self.plan, api_key)
        nodes = {n.name: n for n in keyless.nodes}
        for node in self.nodes.values():
            node.attach(self.plan, nodes[node.spec.name], keyless, ssh_private_key)
        for cloud in self.clouds.values():
            cloud.attach(self.plan)
        self.mesh = Mesh(f"{name}-mesh", self.plan, child)

        self.hypervisors = {
            hv.spec.name: Hypervisor(child_name(name, hv.spec.name), keyless, hv, ssh_private_key, child)
            for hv in keyless.hypervisors
        }
        sites = {m.site for m in keyless.members}
        self.tenants = {
            t.name: Tenant(child_name(name, t.name), keyless, t, child) for t in keyless.tenants if sites & set(t.sites)
        }
        self.summary: pulumi.Output[dict[str, Any]] = self.plan.apply(plan_summary)
        #: Per cloud site: its node, addresses, public IP and tenant subnets (plain: no secrets).
        self.clouds_summary: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(
            {site: c.outputs() for site, c in self.clouds.items()}
        )
        self.register_outputs({"mesh_members": self.mesh.members, "plan": self.summary, "clouds": self.clouds_summary})
