"""The layer-2 paths between tenant ports, read from what fabric renders, and their loops.

A loop in a tenant segment (two L2 paths between two ports) floods it to death, and no
test of one host can see one: it takes two devices that each look right. So this module
reads the rendered state of every device of one or more stacks (VyOS ``set`` lines,
systemd-networkd files, Open vSwitch commands) into one graph and finds its cycles.

Vertices are interfaces and bridges (``<device>/<name>``), each VLAN of a hypervisor's
Open vSwitch bridge, each datacenter's switch VLAN, and each VNI. Edges are what joins
them: a bridge port, a VLAN sub-interface, a trunk carrying a VLAN, a VXLAN device's VNI.
A VNI is one vertex for all its VTEPs: EVPN floods a frame from one VTEP to the others
and a VTEP never sends a frame from the overlay back into it (a bridge never forwards a
frame out of the port it came in on, and each VTEP has one VXLAN port per VNI), so the
overlay is a hub without loops of its own. Between any two ports of a connected graph
without a cycle there is exactly one path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from fabric.render.linux import render_hypervisor
from fabric.render.linux.node import render_node
from fabric.render.linux.ovs import VSCTL
from fabric.render.linux.state import HostState
from fabric.render.vyos import RenderedRouter, render_routers
from fabric.render.vyos.names import TRUNK
from fabric.topology import Plan

#: Two vertices an L2 adjacency joins.
Edge = tuple[str, str]


@dataclass(frozen=True)
class Devices:
    """The rendered state the graph is read from: routers' commands, hosts' files and actions,
    and which datacenter (switch) each hypervisor's uplink is in."""

    routers: tuple[RenderedRouter, ...]
    hosts: tuple[HostState, ...]
    sites: dict[str, str]


def devices(plans: Sequence[Plan]) -> Devices:
    """Every router, hypervisor, ``frr`` node and cloud node of the plans, rendered."""
    routers: list[RenderedRouter] = []
    hosts: list[HostState] = []
    sites: dict[str, str] = {}
    for plan in plans:
        routers += render_routers(plan)
        for hv in plan.hypervisors:
            hosts.append(render_hypervisor(plan, hv))
            sites[hv.spec.name] = hv.site
        hosts += [render_node(plan, n) for n in (*plan.nodes, *(c.node for c in plan.clouds))]
    return Devices(tuple(routers), tuple(hosts), sites)


def edges(d: Devices) -> list[Edge]:
    """Every L2 adjacency the devices' rendered state makes (a multigraph: repeats are kept)."""
    out: list[Edge] = []
    for r in d.routers:
        out += _router_edges(r)
    for h in d.hosts:
        out += _host_edges(h, d.sites.get(h.host))
    return out


def cycles(graph: Iterable[Edge]) -> list[Edge]:
    """The edges that close a cycle (none: every component is a tree, one path between any two vertices)."""
    parent: dict[str, str] = {}

    def root(v: str) -> str:
        parent.setdefault(v, v)
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    closing = []
    for a, b in graph:
        ra, rb = root(a), root(b)
        if ra == rb:
            closing.append((a, b))
        else:
            parent[ra] = rb
    return closing


def component(graph: Iterable[Edge], start: str) -> set[str]:
    """Every vertex reachable from ``start``."""
    adjacent: dict[str, set[str]] = {}
    for a, b in graph:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    seen, todo = {start}, [start]
    while todo:
        for n in adjacent.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def vni(number: int) -> str:
    return f"vni:{number}"


# ----------------------------------------------------------------------------- routers


def _router_edges(r: RenderedRouter) -> Iterator[Edge]:
    """``interfaces bridge B member interface I``; ``interfaces vxlan X vni N``; ``ethernet eth0 vif V``."""
    me = r.name
    for c in r.commands():
        p = c.path
        if p[:2] == ("interfaces", "bridge") and p[3:5] == ("member", "interface"):
            yield f"{me}/{p[2]}", f"{me}/{p[5]}"
        elif p[:2] == ("interfaces", "vxlan") and p[3:] == ("vni",) and isinstance(c.value, str):
            yield f"{me}/{p[2]}", vni(int(c.value))
        elif p[:4] == ("interfaces", "ethernet", TRUNK, "vif") and p[5:] == ("description",):
            # Once per sub-interface (each has a description): VLAN V of the trunk is eth0.V.
            yield f"{me}/{TRUNK}.{p[4]}", f"{me}/{TRUNK}@{p[4]}"


# ----------------------------------------------------------------------------- hosts


def _ini(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd INI file, in order (repeated keys kept)."""
    out, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            out.append((section, key, value))
    return out


def _host_edges(h: HostState, site: str | None) -> Iterator[Edge]:
    """networkd: a ``.network`` file's ``Bridge=`` (the matched link is a port of that bridge),
    a ``.netdev``'s VXLAN ``VNI=``; OVS: each VLAN an ``add-port`` trunks."""
    me = h.host
    for f in h.files():
        entries = _ini(f.content) if f.path.endswith((".network", ".netdev")) else []
        names = [v for s, k, v in entries if (s, k) in (("Match", "Name"), ("NetDev", "Name"))]
        for s, k, v in entries:
            if (s, k) == ("Network", "Bridge") and names:
                yield f"{me}/{names[0]}", f"{me}/{v}"
            elif (s, k) == ("VXLAN", "VNI") and names:
                yield f"{me}/{names[0]}", vni(int(v))
    for concern in h.concerns.values():
        for action in concern.actions:
            for argv in action.commands:
                yield from _ovs_edges(me, site, argv)


def _ovs_edges(host: str, site: str | None, argv: tuple[str, ...]) -> Iterator[Edge]:
    """``ovs-vsctl … add-port <br> <port> -- set Port <port> vlan_mode=trunk trunks=a,b``: the
    port joins VLANs a and b of the host's switch; an uplink (a bond) joins them to the
    datacenter's switch, a router's tap to the router's VLAN sub-interfaces."""
    if argv[: len(VSCTL)] != VSCTL or "add-port" not in argv:
        return
    port = argv[argv.index("add-port") + 2]
    trunks = [w.removeprefix("trunks=") for w in argv if w.startswith("trunks=")]
    tags = [w.removeprefix("tag=") for w in argv if w.startswith("tag=")]
    for vlan in [v for t in trunks for v in t.split(",")] + tags:
        ovs = f"{host}/ovs@{vlan}"
        if port.startswith("bond"):
            yield ovs, f"switch:{site}@{vlan}"
        elif port.startswith("vt-"):
            yield ovs, f"{port.removeprefix('vt-')}/{TRUNK}@{vlan}"
        else:
            yield ovs, f"{host}/{port}"
