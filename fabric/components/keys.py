"""Every mesh member's WireGuard key: one rule for routers, nodes, hypervisors and cloud nodes."""

from __future__ import annotations

import pulumi

from fabric import model
from providers.keys import WireguardKey


def mesh_key(member: str, inv: model.Inventory, rotation: int, parent: pulumi.Resource) -> WireguardKey:
    """``<member>-wg-key``; its only replacing input is ``<mesh.key_epoch>.<the member's key_rotation>``,
    so raising either (fabric-wide or for one member) replaces the key and nothing else does."""
    return WireguardKey(f"{member}-wg-key", f"{inv.mesh.key_epoch}.{rotation}", pulumi.ResourceOptions(parent=parent))
