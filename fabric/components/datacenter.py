"""The root of a stack's resource tree: ``fabric:index:Datacenter``, or ``fabric:index:Fabric``
for a stack without a datacenter (``frr`` nodes and cloud extensions only, e.g. the lab).

Children (each name starts with the root's): a Mesh; one Router per VyOS router (with
its WireGuard key), one Hypervisor per host (with its key when it is in the mesh) and one Tenant per tenant present here; one
Node per ``frr`` node; and one cloud extension per enabled cloud, named after its
cloud site (a site of its own). Everything is rendered from the one plan the loader
built from config and the peer stacks' members, so a preview shows every config line
by line. The values only an ``up`` makes (this stack's members' public keys, its cloud
nodes' public addresses) are markers in it, filled in from the resources that make
them (:mod:`fabric.components.late`). Cloud extensions come in two phases: their key,
network and public IP first, then their firewall and node (which need the other
members' values).
"""

from __future__ import annotations

from typing import Any

import pulumi

from fabric import model, topology
from fabric.components.cloud import extension_class
from fabric.components.cloud.common import CloudExtension
from fabric.components.hypervisor import Hypervisor
from fabric.components.late import LateValues
from fabric.components.mesh import Mesh
from fabric.components.naming import child_name
from fabric.components.node import Node
from fabric.components.router import Router
from fabric.components.tenant import Tenant
from fabric.export import plan_summary


class Datacenter(pulumi.ComponentResource):
    """The stack's root (see the module docstring); ``TYPE`` names what kind of stack it is."""

    def __init__(
        self,
        inv: model.Inventory,
        plan: topology.Plan,
        api_key: pulumi.Output[str] | None,
        ssh_private_key: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``plan``: the validated plan; ``api_key``: the routers' VyOS API key (None in a stack without routers)."""
        name = inv.datacenter.name if inv.datacenter else pulumi.get_stack()
        kind = "Datacenter" if inv.datacenter else "Fabric"
        super().__init__(f"fabric:index:{kind}", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.name = name
        self.plan = plan
        specs = {r.name: r for r in inv.routers}
        self.routers = {
            r.name: Router(
                child_name(name, r.name),
                inv,
                specs[r.name],
                r,
                pulumi.ResourceOptions(
                    parent=self,
                    aliases=[pulumi.Alias(name=child_name(name, old)) for old in specs[r.name].previous_names],
                ),
            )
            for r in sorted(plan.routers, key=lambda r: r.id)
        }
        self.nodes = {n.name: Node(child_name(name, n.name), inv, n, child) for n in inv.nodes}
        self.clouds: dict[str, CloudExtension] = {
            c.site: extension_class(c.provider)(inv, c, child) for c in plan.clouds
        }
        self.hypervisors = {
            hv.spec.name: Hypervisor(child_name(name, hv.spec.name), inv, hv, child) for hv in plan.hypervisors
        }
        late = LateValues(
            public_keys={n: r.public_key for n, r in self.routers.items()}
            | {n: hv.public_key for n, hv in self.hypervisors.items() if hv.public_key is not None}
            | {n: node.public_key for n, node in self.nodes.items()}
            | {c.node_name: c.public_key for c in self.clouds.values()},
            endpoints={c.node_name: c.public_ip for c in self.clouds.values()},
        )
        if self.routers:
            if api_key is None:
                raise ValueError("routers need the VyOS API key")
            for router in self.routers.values():
                router.attach(plan, api_key, late)
        planned_nodes = {n.name: n for n in plan.nodes}
        for node in self.nodes.values():
            node.attach(plan, planned_nodes[node.spec.name], late, ssh_private_key)
        for cloud in self.clouds.values():
            cloud.attach(plan, late)
        self.mesh = Mesh(f"{name}-mesh", plan, late, child)

        for hypervisor in self.hypervisors.values():
            hypervisor.attach(plan, late, ssh_private_key)
        sites = {m.site for m in plan.members}
        self.tenants = {
            t.name: Tenant(child_name(name, t.name), plan, t, child) for t in plan.tenants if sites & set(t.sites)
        }
        self.summary: dict[str, Any] = plan_summary(plan)
        #: Per cloud site: its node, addresses, public IP and tenant subnets (plain: no secrets).
        self.clouds_summary: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(
            {site: c.outputs() for site, c in self.clouds.items()}
        )
        self.register_outputs({"mesh_members": self.mesh.members, "plan": self.summary, "clouds": self.clouds_summary})

    def device_resources(self) -> list[pulumi.Resource]:
        """Every resource that applies a router's or a host's state."""
        hosts: list[Node | Hypervisor] = [*self.nodes.values(), *self.hypervisors.values()]
        return [*(r.applied for r in self.routers.values()), *(c for h in hosts for c in h.concerns.values())]

    def rendered(self) -> dict[str, Any]:
        """What the stack applies, by device: routers' config sections, hosts' files by concern."""
        hosts: list[Node | Hypervisor] = [*self.nodes.values(), *self.hypervisors.values()]
        return {r.name: r.config for r in self.routers.values()} | {h.name: h.files for h in hosts}
