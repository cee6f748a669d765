"""What the lab shows about the fabric's data plane: endpoints, reachability, captures, EVPN.

Endpoints come from the fabric's own plan: on every node, one endpoint per tenant segment
the node carries, attached to that segment's bridge, at host ``100 + 10*s + r`` of the
segment's network (``s`` the node's site id, ``r`` its id; a test address, not part of
the fabric's plan) with the node's segment address as gateway. The node does not route
between its bridges (IP forwarding is off on lab nodes), so a ping to another tenant
has nowhere to go but the node, which drops it. On an ``l2`` node the endpoint is the
node's tenant port: its veth in the node is named as the port (``vt-<name>``), the
node's own networkd file makes it a port of the bridge, and it has the port's MAC; it
has no gateway (the node has no address on the segment).

:func:`matrix` pings every endpoint from every other, one source at a time with all its
targets in parallel; :func:`capture` records the underlay while something runs;
:func:`evpn` reads a node's EVPN state from FRR's JSON output.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import Any

from fabric.topology import FIRST_SEGMENT, Plan, TenantOnNode
from lab.nodes import add_endpoint, exec_in, exec_in_endpoint, remove_endpoint
from lab.state import LabState

#: Endpoint addresses: host ``ENDPOINT_BASE + 10*s + r`` of the tenant network.
ENDPOINT_BASE = 100
UNDERLAY_NETNS = "fablab-underlay"
UNDERLAY_BRIDGE = "br0"


@dataclass(frozen=True)
class Endpoint:
    """One tenant endpoint on one node."""

    node: str
    site: str
    tenant: str
    bridge: str
    #: The tenant's segment (its first: ``main``).
    segment: str
    address: IPv4Interface
    gateway: str
    #: An l2 node's port: the interface the node bridges, and the MAC the node admits from it.
    port: str | None = None
    mac: str | None = None

    @property
    def ip(self) -> str:
        return str(self.address.ip)

    @property
    def name(self) -> str:
        """The endpoint's name on its node: the tenant's, with the segment's past the first."""
        return _name(self.tenant, self.segment)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.node}"


def _name(tenant: str, segment: str) -> str:
    return tenant if segment == FIRST_SEGMENT else f"{tenant}-{segment}"


def segment_name(carried: TenantOnNode) -> str:
    """A carried segment as the lab names its endpoints: ``red``, ``red-db``."""
    return _name(carried.tenant.name, carried.segment.name)


def endpoints(plan: Plan, tenants: Sequence[str] | None = None) -> list[Endpoint]:
    """Every (node, tenant) the plan has, or only those of ``tenants``."""
    out = []
    for node in sorted(plan.nodes, key=lambda n: (n.site_id, n.id)):
        for t in node.tenants:
            if tenants is not None and t.tenant.name not in tenants:
                continue
            host = t.segment.network.first + ENDPOINT_BASE + 10 * node.site_id + node.id
            port = t.ports[0] if t.ports else None  # one per segment in the lab's config
            out.append(
                Endpoint(
                    node=node.name,
                    site=node.site,
                    tenant=t.tenant.name,
                    bridge=t.segment.bridge,
                    segment=t.segment.name,
                    address=IPv4Interface(f"{IPv4Interface(host).ip}/{t.segment.network.prefixlen}"),
                    gateway="" if t.address is None else str(t.address),
                    port=None if port is None else port.tap,
                    mac=None if port is None else port.mac,
                )
            )
    return out


def attach(state: LabState, wanted: Sequence[Endpoint], mtu: int) -> None:
    """Create the endpoints that do not exist yet (their bridges must: the config is applied)."""
    have = {(e.node, e.name) for e in state.endpoints}
    for e in wanted:
        if (e.node, e.name) not in have:
            add_endpoint(
                state,
                e.node,
                e.name,
                e.bridge,
                str(e.address),
                mtu=mtu,
                gateway=e.gateway or None,
                port=e.port,
                mac=e.mac,
            )


def detach(state: LabState, gone: Sequence[Endpoint]) -> None:
    have = {(e.node, e.name) for e in state.endpoints}
    for e in gone:
        if (e.node, e.name) in have:
            remove_endpoint(state, e.node, e.name)


def ping_script(targets: Sequence[str], size: int, wait_s: float) -> str:
    """One shell: every target pinged at once (``-M do``: never fragmented), one ``ok``/``no`` line each."""
    lines = [
        f'(ping -n -q -c 1 -W {wait_s:g} -M do -s {size} {t} >/dev/null 2>&1 && echo "ok {t}" || echo "no {t}") &'
        for t in targets
    ]
    return "\n".join([*lines, "wait"]) + "\n"


def reach(
    state: LabState, src: Endpoint, targets: Sequence[str], size: int = 56, wait_s: float = 1.0
) -> dict[str, bool]:
    """Which of ``targets`` answer a ping from ``src`` (payload ``size`` bytes, don't fragment)."""
    done = exec_in_endpoint(state, src.node, src.name, ["sh", "-c", ping_script(targets, size, wait_s)])
    answers = dict(line.split()[::-1] for line in done.stdout.splitlines() if line.startswith(("ok ", "no ")))
    return {t: answers.get(t) == "ok" for t in targets}


def matrix(
    state: LabState, eps: Sequence[Endpoint], size: int = 56, wait_s: float = 1.0
) -> dict[tuple[str, str], bool]:
    """``(source label, target label) -> answered`` for every ordered pair, sources in parallel."""
    by_ip = {e.ip: e for e in eps}
    out: dict[tuple[str, str], bool] = {}
    lock = threading.Lock()

    def one(src: Endpoint) -> None:
        answered = reach(state, src, [e.ip for e in eps if e != src], size, wait_s)
        with lock:
            out.update({(src.label, by_ip[ip].label): ok for ip, ok in answered.items()})

    threads = [threading.Thread(target=one, args=(src,)) for src in eps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def expected(eps: Sequence[Endpoint]) -> dict[tuple[str, str], bool]:
    """What the design says: the same segment of the same tenant answers; any other tenant does not,
    nor, with no gateway on the lab's nodes, the tenant's other segments (routing between them is
    the gateway routers' job)."""
    return {(a.label, b.label): (a.tenant, a.segment) == (b.tenant, b.segment) for a in eps for b in eps if a != b}


@contextmanager
def capture(filter_expr: str = "ip") -> Iterator[list[str]]:
    """Record the underlay bridge (``tcpdump -nn``, one line per packet) while the block runs."""
    lines: list[str] = []
    proc = subprocess.Popen(
        ["ip", "netns", "exec", UNDERLAY_NETNS, "tcpdump", "-nn", "-l", "-q", "-i", UNDERLAY_BRIDGE, filter_expr],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    proc.stderr.readline()  # "listening on br0 ...": capturing from here on
    try:
        yield lines
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        lines += [line for line in out.splitlines() if line.strip()]


def vtysh_json(state: LabState, node: str, command: str) -> Any:
    done = exec_in(state, node, ["vtysh", "-c", command], check=True)
    return json.loads(done.stdout or "{}")


def evpn(state: LabState, node: str) -> dict[int, dict[str, set[str]]]:
    """Per VNI the node has: the EVPN route types it holds in it (``"2"``, ``"3"``) and their prefixes."""
    vnis = vtysh_json(state, node, "show evpn vni json")
    out: dict[int, dict[str, set[str]]] = {}
    for vni in vnis:
        routes = vtysh_json(state, node, f"show bgp l2vpn evpn route vni {vni} json")
        kinds: dict[str, set[str]] = {}
        for prefix, info in routes.items():
            if isinstance(info, dict) and prefix.startswith("["):
                kinds.setdefault(prefix[1], set()).add(prefix)
        out[int(vni)] = kinds
    return out


def bgp_uptimes(state: LabState, node: str) -> dict[str, int]:
    """Established sessions and how long each has been up (ms)."""
    summary = vtysh_json(state, node, "show bgp l2vpn evpn summary json")
    peers = summary.get("peers", {})
    return {p: int(v.get("peerUptimeMsec", 0)) for p, v in peers.items() if v.get("state") == "Established"}
