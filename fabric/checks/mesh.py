"""Rules of the mesh as a whole: ``mesh.no_peer`` names members and never cuts BGP EVPN apart.

BGP runs inside the WireGuard mesh, so a ``no_peer`` pair has no session either
(``fabric.topology.bgp_neighbors``). A pair may cut a client from every route reflector
that serves it, or split the reflectors (which peer with each other) into groups that
no longer exchange EVPN routes: either splits the fabric, so both are refused. The
check uses the same session rule as the plan, over this stack's and its peers' members.
"""

from __future__ import annotations

from collections.abc import Iterator

from fabric.checks.common import Remote, remote_members
from fabric.model import Inventory
from fabric.topology import MeshMember, bgp_neighbors, local_members


def _everyone(inv: Inventory, remote: Remote) -> list[MeshMember]:
    return [*local_members(inv), *(m for _, m in remote_members(remote))]


def no_peer_names_members(inv: Inventory, remote: Remote) -> Iterator[str]:
    """A ``no_peer`` pair is two different members (checked against peers once every peer stack is read)."""
    names = {m.name for m in _everyone(inv, remote)}
    complete = set(remote) >= set(inv.peer_stacks)
    for i, (a, b) in enumerate(inv.mesh.no_peer):
        if a == b:
            yield f"mesh.no_peer[{i}]: {a} cannot be paired with itself"
            continue
        for name in (a, b):
            if complete and name not in names:
                yield f"mesh.no_peer[{i}]: {name!r} is no member of the mesh (routers, nodes, cloud nodes of every stack)"


def no_peer_keeps_evpn_whole(inv: Inventory, remote: Remote) -> Iterator[str]:
    """Every client keeps a route reflector, and the reflectors stay connected, despite ``no_peer``."""
    if not inv.mesh.no_peer:
        return
    everyone = _everyone(inv, remote)
    cut = {frozenset(pair): i for i, pair in enumerate(inv.mesh.no_peer) if pair[0] != pair[1]}
    reflectors = [m for m in everyone if m.is_reflector]
    reflector_names = {r.name for r in reflectors}
    for m in everyone:
        if m.is_reflector:
            continue
        serving = [n.name for n in bgp_neighbors(m, everyone) if n.name in reflector_names]
        if serving and all(frozenset((m.name, name)) in cut for name in serving):
            index = max(cut[frozenset((m.name, name))] for name in serving)
            lost = (
                f"its only route reflector {serving[0]}"
                if len(serving) == 1
                else f"every route reflector ({', '.join(serving)})"
            )
            yield f"mesh.no_peer[{index}]: {m.name} would lose {lost}; BGP runs inside the mesh, so they must peer"
    # The reflectors peer with each other: the groups left must still be one.
    if len(reflectors) < 2:
        return
    reached = {reflectors[0].name}
    frontier = [reflectors[0].name]
    while frontier:
        here = frontier.pop()
        for r in reflectors:
            if r.name not in reached and frozenset((here, r.name)) not in cut:
                reached.add(r.name)
                frontier.append(r.name)
    apart = [r.name for r in reflectors if r.name not in reached]
    if apart:
        index = max(i for pair, i in cut.items() if len(pair & reached) == 1 and len(pair & set(apart)) == 1)
        yield (
            f"mesh.no_peer[{index}]: splits the route reflectors into {', '.join(sorted(reached))} and "
            f"{', '.join(apart)}; EVPN routes would not cross between them"
        )


RULES = (no_peer_names_members, no_peer_keeps_evpn_whole)
