"""``fabric:index:Node``: a Linux ``frr`` node, its WireGuard key, its state applied over SSH.

The same files and actions a cloud node gets from cloud-init (``render_node``), applied
by the host provider per concern (wireguard, segments, forwarding, frr, in that order:
the tunnel before the segments that ride it, BGP last). The private key reaches the
host only through the provider's secret input, filling the marker in ``wg0.conf``; the
peers' keys and cloud addresses known after ``up`` through its ``late`` input.
"""

from __future__ import annotations

import pulumi

from fabric import model
from fabric.components.hosts import concern_chain, concern_inputs
from fabric.components.keys import mesh_key
from fabric.components.late import LateValues
from fabric.render.linux.node import render_node
from fabric.topology import NodePlan, Plan
from providers.host import HostConcern


class Node(pulumi.ComponentResource):
    """A node's key, and its host state applied over SSH (:meth:`attach`)."""

    public_key: pulumi.Output[str]

    def __init__(self, name: str, inv: model.Inventory, spec: model.Node, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Node", name, None, opts)
        self.name = name
        self.spec = spec
        key = mesh_key(name, inv, spec.key_rotation, self)
        self.public_key = key.public_key
        self.private_key = key.private_key
        self.concerns: dict[str, HostConcern] = {}

    def attach(
        self, plan: Plan, planned: NodePlan, late: LateValues, ssh_private_key: pulumi.Output[str] | None
    ) -> None:
        """One host resource per concern with files."""
        state = render_node(plan, planned)
        self.files = {concern: {f.path: f.content for f in c.files} for concern, c in state.concerns.items()}
        inputs = concern_inputs(state, self.private_key, late, skip_empty=True)
        self.concerns = concern_chain(self, self.name, self.spec.name, self.spec.ssh, ssh_private_key, inputs)
        self.register_outputs(
            {"public_key": self.public_key, "mesh_address": str(planned.mesh_address), "site": planned.site}
        )
