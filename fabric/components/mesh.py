"""``fabric:index:Mesh``: this stack's mesh members (with real keys) and who they peer with."""

from __future__ import annotations

from typing import Any

import pulumi

from fabric.components.late import LateValues, used
from fabric.loader import member_export
from fabric.topology import Plan


class Mesh(pulumi.ComponentResource):
    """``members`` is what the stack exports for the other stacks (keys and cloud addresses
    once known); ``peers`` what it learned."""

    members: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, plan: Plan, late: LateValues, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Mesh", name, None, opts)
        values = used(v for m in plan.members for v in (m.public_key, m.endpoint))
        self.members = late.resolved(values, lambda v: [member_export(m, v) for m in plan.members])
        self.peers = [m.name for m in plan.remote]
        self.tunnels = len({frozenset((r.name, peer.name)) for r in plan.routers for peer in r.wireguard_peers})
        self.register_outputs({"members": self.members, "peers": self.peers, "tunnels": self.tunnels})
