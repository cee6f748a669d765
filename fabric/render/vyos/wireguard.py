"""The WireGuard mesh (``wg0``): the encrypted control plane every other protocol rides in.

One peer per other mesh member, each allowed only its own mesh address. The private
key is a secret, and this stack's members' public keys and its cloud nodes' addresses
are values known after ``up`` (:mod:`fabric.deferred`): the provider fills them in from
the key resources and the clouds' addresses. A peer stack's cloud node whose address is
not exported yet is listed without one: it initiates, and WireGuard learns its endpoint
from the handshake.
"""

from __future__ import annotations

from fabric.deferred import WIREGUARD_PRIVATE_KEY
from fabric.render.vyos.command import Command, cmd
from fabric.render.vyos.names import MESH
from fabric.topology import Plan, RouterPlan

OWNS = (("interfaces", "wireguard", MESH),)


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    wg = ("interfaces", "wireguard", MESH)
    out = [
        cmd(*wg, "description", value="fabric mesh (encrypted control plane)"),
        cmd(*wg, "address", value=f"{router.mesh_address}/{plan.control_plane.prefixlen}"),
        cmd(*wg, "port", value=plan.mesh_port),
        cmd(*wg, "mtu", value=plan.mtu.wireguard),
        cmd(*wg, "private-key", value=WIREGUARD_PRIVATE_KEY),
    ]
    for peer in router.wireguard_peers:
        p = (*wg, "peer", peer.name)
        out.append(cmd(*p, "public-key", value=peer.public_key))
        out += [cmd(*p, "allowed-ips", value=ip) for ip in peer.allowed_ips]
        if peer.endpoint:
            out.append(cmd(*p, "address", value=peer.endpoint))
            out.append(cmd(*p, "port", value=peer.port))
        if plan.mesh_keepalive:
            out.append(cmd(*p, "persistent-keepalive", value=plan.mesh_keepalive))
    return out
