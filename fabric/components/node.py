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
from fabric.components.hosts import ConcernInputs, concern_chain
from fabric.components.late import LateValues
from fabric.deferred import WIREGUARD_PRIVATE_KEY
from fabric.render.linux.node import render_node
from fabric.topology import NodePlan, Plan
from markers import SECRET
from providers.host import HostConcern
from providers.keys import WireguardKey


def key_rotation(inv: model.Inventory, node: model.Node) -> str:
    """The key's only replacing input: the fabric-wide epoch and the node's own counter."""
    return f"{inv.mesh.key_epoch}.{node.key_rotation}"


class Node(pulumi.ComponentResource):
    """A node's key, and its host state applied over SSH (:meth:`attach`)."""

    public_key: pulumi.Output[str]

    def __init__(self, name: str, inv: model.Inventory, spec: model.Node, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Node", name, None, opts)
        self.name = name
        self.spec = spec
        key = WireguardKey(f"{name}-wg-key", key_rotation(inv, spec), pulumi.ResourceOptions(parent=self))
        self.public_key = key.public_key
        self.private_key = key.private_key
        self.concerns: dict[str, HostConcern] = {}

    def attach(
        self, plan: Plan, planned: NodePlan, late: LateValues, ssh_private_key: pulumi.Output[str] | None
    ) -> None:
        """One host resource per concern with files."""
        concerns = []
        for concern, c in render_node(plan, planned).concerns.items():
            if not c.files:
                continue
            files, actions = c.inputs()
            slots = [(kind, name) for f in c.files for _, kind, name in f.slots if kind != SECRET]
            concerns.append(
                ConcernInputs(
                    concern,
                    files,
                    actions,
                    # Only the concern whose files have a secret slot is given the key.
                    {WIREGUARD_PRIVATE_KEY.name: self.private_key} if any(f.secret for f in c.files) else None,
                    late.inputs(slots) if slots else None,
                )
            )
        self.concerns = concern_chain(self, self.name, self.spec.name, self.spec.ssh, ssh_private_key, concerns)
        self.register_outputs(
            {"public_key": self.public_key, "mesh_address": str(planned.mesh_address), "site": planned.site}
        )
