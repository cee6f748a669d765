"""``fabric:index:Node``: a Linux ``frr`` node, its WireGuard key, its state applied over SSH.

The same files and actions a cloud node gets from cloud-init (``render_node``), applied
by the host provider per concern (wireguard, segments, forwarding, frr, in that order:
the tunnel before the segments that ride it, BGP last). The private key reaches the
host only through the provider's secret input, filling the marker in ``wg0.conf``.
"""

from __future__ import annotations

import functools

import pulumi

from fabric import model
from fabric.components.hosts import ConcernInputs, concern_chain
from fabric.render.linux.node import render_node
from fabric.render.linux.state import HostState
from fabric.render.secrets import WIREGUARD_PRIVATE_KEY
from fabric.topology import NodePlan, Plan
from providers.host import HostConcern
from providers.keys import WireguardKey


def key_rotation(inv: model.Inventory, node: model.Node) -> str:
    """The key's only replacing input: the fabric-wide epoch and the node's own counter."""
    return f"{inv.mesh.key_epoch}.{node.key_rotation}"


class Node(pulumi.ComponentResource):
    """A node's key now; its host state once every key is known (:meth:`attach`)."""

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
        self, plan: pulumi.Output[Plan], planned: NodePlan, keyless: Plan, ssh_private_key: pulumi.Output[str] | None
    ) -> None:
        """One host resource per concern with files (which concerns: from the keyless plan)."""
        concerns = []
        state = plan.apply(self._render)  # once per plan, shared by every concern
        for concern, c in render_node(keyless, planned).concerns.items():
            if not c.files:
                continue
            inputs = state.apply(functools.partial(_inputs, concern=concern))
            # Only the concern whose files have a secret slot is given the key.
            keyed = any(f.secrets for f in c.files)
            concerns.append(
                ConcernInputs(
                    concern,
                    inputs.apply(lambda i: i[0]),
                    inputs.apply(lambda i: i[1]),
                    {WIREGUARD_PRIVATE_KEY.name: self.private_key} if keyed else None,
                )
            )
        self.concerns = concern_chain(self, self.name, self.spec.name, self.spec.ssh, ssh_private_key, concerns)
        self.register_outputs(
            {"public_key": self.public_key, "mesh_address": str(planned.mesh_address), "site": planned.site}
        )

    def _render(self, plan: Plan) -> HostState:
        return render_node(plan, next(n for n in plan.nodes if n.name == self.spec.name))


def _inputs(state: HostState, concern: str) -> tuple[dict[str, dict[str, object]], list[dict[str, object]]]:
    return state.concerns[concern].inputs()
