"""``fabric:index:Mesh``: this stack's mesh members (with real keys) and who they peer with."""

from __future__ import annotations

from typing import Any

import pulumi

from fabric.loader import member_export
from fabric.topology import Plan


class Mesh(pulumi.ComponentResource):
    """``members`` is what the stack exports for the other stacks; ``peers`` what it learned."""

    members: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, plan: pulumi.Output[Plan], opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Mesh", name, None, opts)
        self.members = plan.apply(lambda p: [member_export(m) for m in p.members])
        self.peers = plan.apply(lambda p: [m.name for m in p.remote])
        self.tunnels = plan.apply(
            lambda p: len({frozenset((r.name, peer.name)) for r in p.routers for peer in r.wireguard_peers})
        )
        self.register_outputs({"members": self.members, "peers": self.peers, "tunnels": self.tunnels})
