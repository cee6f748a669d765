"""Operational state of emulated VyOS routers, from their running configs: what ``/show`` reports.

No routing daemon, tunnel or keepalived runs behind the emulator, so what a real router
would *learn* is derived here from the running configs of every emulator linked into
one fabric (:func:`link`), by these rules (each an ASSUMED simplification of the real
protocol, named so a test knows what it proves):

* WireGuard: a tunnel between routers A and B is up when both answer and each holds the
  other's public key (``interfaces wireguard wg0 peer ... public-key``, the key derived
  from the other's ``private-key``); its latest handshake is then :data:`HANDSHAKE_AGE_S`
  ago (a keepalive of 25 s keeps a real one under 2 minutes), else there was none.
* BGP: a neighbour of A is ``Established`` when the router whose ``wg0`` address it is
  has A as a neighbour too and their tunnel is up; otherwise ``Active``. A standalone
  emulator (not linked) has every neighbour ``Active``.
* EVPN: a router receives the routes of every router it reaches through established
  sessions (reflection makes the session graph's component one EVPN domain): per L2 VNI
  (a ``vxlan`` interface's ``vni`` that no ``vrf name <v> vni`` claims) one type-3 route
  from its ``source-address`` with route target ``asn % 65536:vni`` (FRR's automatic
  one, ``bgpd/bgp_evpn.c`` ``form_auto_rt``) and RD ``router-id:n``; per tenant VRF one
  type-5 route per connected prefix with the VRF's exported route target. No MAC is ever
  learned: there are no type-2 routes.
* VRRP: of the linked routers that answer and hold a group of that name and VRID (not
  ``disable``; the interface may be named otherwise on each router, as keepalived allows),
  the highest ``priority`` is MASTER (a tie goes to the later name: ASSUMED, keepalived
  compares primary addresses), the others BACKUP; a standalone emulator is MASTER of
  every group. ``VyosEmulator.forced_vrrp`` overrides a state.

The text and JSON shapes follow VyOS's and FRR's own code, named at each function.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

#: Seconds since the latest handshake of an up tunnel.
HANDSHAKE_AGE_S = 30
#: Seconds a session has been up.
UPTIME_S = 300
#: Bytes a tunnel has carried each way.
TRANSFER_BYTES = (123_456, 234_567)


class Linked(Protocol):
    """What linking needs of an emulator (``VyosEmulator``)."""

    fabric: list[Any]


def link(routers: Sequence[Linked]) -> None:
    """Make ``routers`` one fabric: each sees the others' running configs (and whether they answer)."""
    for r in routers:
        r.fabric = [o for o in routers if o is not r]


def wireguard_public_key(private_key: str) -> str | None:
    try:
        raw = base64.b64decode(private_key, validate=True)
        public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
    except (ValueError, binascii.Error):
        return None
    return base64.b64encode(public).decode()


def as_list(item: Any) -> list[str]:
    """A leaf's values: one value, several, or none."""
    if isinstance(item, str):
        return [item]
    return [str(v) for v in item] if isinstance(item, list) else []


def _dict(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {}


@dataclass(frozen=True)
class Speaker:
    """One router as the others see it, read from its running config."""

    name: str
    alive: bool
    mesh: str
    public_key: str | None
    #: Peer public key -> allowed IPs.
    peers: Mapping[str, tuple[str, ...]]
    asn: int
    router_id: str
    neighbours: frozenset[str]
    #: L2 VNI -> local VTEP address.
    l2: Mapping[int, str]
    #: L3 VNI -> (VRF, import RTs, export RTs, connected prefixes).
    l3: Mapping[int, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]]
    #: VRRP group -> (interface, VRID, priority).
    vrrp: Mapping[str, tuple[str, int, int]]


def speaker(name: str, tree: Mapping[str, Any], alive: bool) -> Speaker:
    interfaces = _dict(tree.get("interfaces"))
    wg = _dict(_dict(interfaces.get("wireguard")).get("wg0"))
    mesh = next((a.split("/")[0] for a in as_list(wg.get("address"))), "")
    private = wg.get("private-key")
    peers = {
        str(p.get("public-key")): tuple(as_list(p.get("allowed-ips")))
        for p in map(_dict, _dict(wg.get("peer")).values())
        if p.get("public-key")
    }
    bgp = _dict(_dict(tree.get("protocols")).get("bgp"))
    vrfs = _dict(_dict(tree.get("vrf")).get("name"))
    l3_of = {int(v["vni"]): n for n, v in ((n, _dict(v)) for n, v in vrfs.items()) if "vni" in v}
    l2: dict[int, str] = {}
    for conf in map(_dict, _dict(interfaces.get("vxlan")).values()):
        if "vni" in conf and int(conf["vni"]) not in l3_of:
            l2[int(conf["vni"])] = str(conf.get("source-address", mesh))
    l3 = {}
    for vni, vrf in l3_of.items():
        evpn = _dict(
            _dict(_dict(_dict(_dict(vrfs[vrf]).get("protocols")).get("bgp")).get("address-family")).get("l2vpn-evpn")
        )
        rt = _dict(evpn.get("route-target"))
        prefixes = tuple(
            str(ipaddress.ip_interface(a).network)
            for kind in map(_dict, interfaces.values())
            for conf in map(_dict, kind.values())
            if conf.get("vrf") == vrf
            for a in as_list(conf.get("address"))
            if "/" in a
        )
        l3[vni] = (vrf, tuple(as_list(rt.get("import"))), tuple(as_list(rt.get("export"))), prefixes)
    vrrp = {
        name: (str(g.get("interface", "")), int(g.get("vrid", 0)), int(g.get("priority", 100)))
        for name, g in (
            (n, _dict(g))
            for n, g in _dict(_dict(_dict(tree.get("high-availability")).get("vrrp")).get("group")).items()
        )
        if "disable" not in g
    }
    return Speaker(
        name=name,
        alive=alive,
        mesh=mesh,
        public_key=wireguard_public_key(private) if isinstance(private, str) else None,
        peers=peers,
        asn=int(bgp.get("system-as", 0) or 0),
        router_id=str(_dict(bgp.get("parameters")).get("router-id", mesh)),
        neighbours=frozenset(_dict(bgp.get("neighbor"))),
        l2=l2,
        l3=l3,
        vrrp=vrrp,
    )


@dataclass
class OpState:
    """The linked routers' view of each other, computed afresh for every ``/show``."""

    me: Speaker
    others: Sequence[Speaker]
    linked: bool
    forced_vrrp: Mapping[str, str] = field(default_factory=dict)

    def _by_mesh(self, address: str) -> Speaker | None:
        return next((s for s in self.others if s.mesh == address), None)

    def tunnel_up(self, a: Speaker, b: Speaker) -> bool:
        return (
            a.alive
            and b.alive
            and b.public_key is not None
            and a.public_key is not None
            and b.public_key in a.peers
            and a.public_key in b.peers
        )

    def handshake_age(self, public_key: str) -> int | None:
        other = next((s for s in self.others if s.public_key == public_key), None)
        return HANDSHAKE_AGE_S if other is not None and self.tunnel_up(self.me, other) else None

    def established(self, a: Speaker, address: str) -> bool:
        everyone = [self.me, *self.others]
        b = next((s for s in everyone if s.mesh == address), None)
        return b is not None and a.mesh in b.neighbours and address in a.neighbours and self.tunnel_up(a, b)

    def session_state(self, address: str) -> str:
        return "Established" if self.established(self.me, address) else "Active"

    def reached(self) -> list[Speaker]:
        """The routers whose EVPN routes reach this one (itself first)."""
        everyone = {s.name: s for s in (self.me, *self.others)}
        seen, todo = [self.me], [self.me]
        while todo:
            a = todo.pop()
            for address in sorted(a.neighbours):
                b = next((s for s in everyone.values() if s.mesh == address), None)
                if b is not None and b not in seen and self.established(a, address):
                    seen.append(b)
                    todo.append(b)
        return seen

    def vrrp_state(self, group: str) -> str:
        if group in self.forced_vrrp:
            return self.forced_vrrp[group]
        mine = self.me.vrrp[group]
        rivals = [s for s in self.others if s.alive and s.vrrp.get(group, ("", -1, 0))[1] == mine[1]]
        best = max([self.me, *rivals], key=lambda s: (s.vrrp[group][2], s.name))
        return "MASTER" if best is self.me else "BACKUP"


def auto_route_target(asn: int, vni: int) -> str:
    return f"{asn & 0xFFFF}:{vni}"


# ------------------------------------------------------------------------- FRR's JSON


def evpn_vni_json(state: OpState) -> str:
    """``show bgp l2vpn evpn vni json`` (FRR ``bgpd/bgp_evpn_vty.c``: the counters, then one
    object per VNI keyed by its number: ``type``, ``inKernel``, ``rd``, ``originatorIp``,
    ``importRTs``, ``exportRTs``; an L3 VNI also ``tenantVrf``)."""
    me = state.me
    out: dict[str, Any] = {
        "advertiseGatewayMacip": "Disabled",
        "advertiseSviMacIp": "Disabled",
        "advertiseAllVnis": "Enabled",
        "flooding": "Head-end replication",
        "numVnis": len(me.l2) + len(me.l3),
        "numL2Vnis": len(me.l2),
        "numL3Vnis": len(me.l3),
    }
    for i, (vni, vtep) in enumerate(sorted(me.l2.items()), start=2):
        rt = auto_route_target(me.asn, vni)
        out[str(vni)] = {
            "vni": vni,
            "type": "L2",
            "inKernel": "True",
            "rd": f"{me.router_id}:{i}",
            "originatorIp": vtep,
            "mcastGroup": "0.0.0.0",
            "importRTs": [rt],
            "exportRTs": [rt],
        }
    for vni, (vrf, imports, exports, _prefixes) in sorted(me.l3.items()):
        out[str(vni)] = {
            "vni": vni,
            "type": "L3",
            "tenantVrf": vrf,
            "inKernel": "True",
            "rd": f"{me.router_id}:{vni}",
            "originatorIp": me.mesh,
            "importRTs": list(imports),
            "exportRTs": list(exports),
        }
    return json.dumps(out, indent=2)


def _path(route_type: int, origin: Speaker, me: Speaker, rt: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    local = origin is me
    return {
        "valid": True,
        "bestpath": True,
        "pathFrom": "external" if local else "internal",
        "routeType": route_type,
        **extra,
        "weight": 32768 if local else 0,
        "peerId": "(unspec)" if local else origin.mesh,
        "path": "",
        "origin": "IGP",
        "extendedCommunity": {"string": f"RT:{rt} ET:8"},
        "nexthops": [{"ip": origin.mesh, "hostname": origin.name, "afi": "ipv4", "used": True}],
    }


def evpn_routes_json(state: OpState) -> str:
    """``show bgp l2vpn evpn json`` (FRR ``bgpd/bgp_evpn_vty.c``: per RD an object with ``rd``
    and per prefix ``{prefix, prefixLen, paths: [path, ...]}``, then the table's counters);
    prefixes as FRR writes them: ``[3]:[0]:[32]:[vtep]``, ``[5]:[0]:[len]:[address]``."""
    me = state.me
    out: dict[str, Any] = {
        "bgpTableVersion": 1,
        "bgpLocalRouterId": me.router_id,
        "defaultLocPrf": 100,
        "localAS": me.asn,
    }
    count = 0
    for origin in state.reached():
        for i, (vni, vtep) in enumerate(sorted(origin.l2.items()), start=2):
            rd = f"{origin.router_id}:{i}"
            prefix = f"[3]:[0]:[32]:[{vtep}]"
            path = _path(3, origin, me, auto_route_target(origin.asn, vni), {"ethTag": 0, "ipLen": 32, "ip": vtep})
            out.setdefault(rd, {"rd": rd})[prefix] = {"prefix": prefix, "prefixLen": 352, "paths": [path]}
            count += 1
        for vni, (_vrf, _imports, exports, prefixes) in sorted(origin.l3.items()):
            rd = f"{origin.router_id}:{vni}"
            for network in prefixes:
                address, length = network.split("/")
                prefix = f"[5]:[0]:[{length}]:[{address}]"
                extra = {"ethTag": 0, "ipLen": int(length), "ip": address}
                paths = [_path(5, origin, me, rt, extra) for rt in exports[:1]]
                out.setdefault(rd, {"rd": rd})[prefix] = {"prefix": prefix, "prefixLen": 352, "paths": paths}
                count += 1
    out["numPrefix"] = count
    out["totalPrefix"] = count
    return json.dumps(out, indent=2)


def bgp_summary_row(state: OpState, peer: str, remote_as: str, description: str) -> list[str]:
    """A row of FRR's summary table (``bgpd/bgp_vty.c`` ``bgp_show_summary``): an established
    session shows its up time and received prefixes, another ``never`` and its state."""
    if state.established(state.me, peer):
        received = sum(1 for s in state.reached() if s is not state.me for _ in (*s.l2, *s.l3))
        up = f"{UPTIME_S // 3600:02d}:{UPTIME_S // 60 % 60:02d}:{UPTIME_S % 60:02d}"
        return [peer, "4", remote_as, "10", "10", "0", "0", "0", up, str(received), str(len(state.me.l2)), description]
    return [peer, "4", remote_as, "0", "0", "0", "0", "0", "never", "Active", "0", description]


# ------------------------------------------------------------------------- VyOS's text


def wireguard_summary(state: OpState, version: str, interface: str, tree: Mapping[str, Any]) -> str:
    """``show interfaces wireguard <if> summary``. VyOS 1.4 runs ``wg show <if>``
    (``op-mode-definitions/show-interfaces-wireguard.xml.in``): ``peer: <key>`` blocks with
    ``latest handshake: N seconds ago`` and ``transfer: X KiB received, Y KiB sent``. 1.5
    prints its own (``python/vyos/ifconfig/wireguard.py`` ``show_interface``): each peer of
    the config by name with its ``public key:``, ``latest handshake: H:MM:SS`` (a timedelta)
    and ``status: active`` when there was one, ``allowed ips: a, b``, ``transfer: N KB
    received, ...`` when non-zero."""
    conf = _dict(_dict(_dict(tree.get("interfaces")).get("wireguard")).get(interface))
    me = state.me
    port = conf.get("port", "51820")
    head = [f"interface: {interface}"]
    if version != "1.4":
        if conf.get("description"):
            head.append(f"  description: {conf['description']}")
        if conf.get("address"):
            head.append(f"  address: {', '.join(as_list(conf['address']))}")
    head += [f"  public key: {me.public_key or '(none)'}", "  private key: (hidden)", f"  listening port: {port}", ""]
    blocks = []
    for name, peer in sorted(_dict(conf.get("peer")).items()):
        p = _dict(peer)
        key = str(p.get("public-key", ""))
        age = state.handshake_age(key)
        endpoint = f"{p['address']}:{p.get('port', '51820')}" if "address" in p else None
        ips = as_list(p.get("allowed-ips"))
        rx, tx = TRANSFER_BYTES if age is not None else (0, 0)
        if version == "1.4":
            lines = [f"peer: {key}"]
            lines += [f"  endpoint: {endpoint}"] if endpoint else []
            lines.append(f"  allowed ips: {', '.join(ips) or '(none)'}")
            lines += [f"  latest handshake: {age} seconds ago"] if age is not None else []
            lines += [f"  transfer: {rx / 1024:.2f} KiB received, {tx / 1024:.2f} KiB sent"] if rx or tx else []
            lines.append("  persistent keepalive: every 25 seconds")
        else:
            lines = [f"  peer: {name}", f"    public key: {key}"]
            if age is not None:
                lines += [
                    f"    latest handshake: {age // 3600}:{age // 60 % 60:02d}:{age % 60:02d}",
                    "    status: active",
                ]
            lines += [f"    endpoint: {endpoint}"] if endpoint else []
            lines.append(f"    allowed ips: {', '.join(ips)}")
            lines += [f"    transfer: {rx // 1024} KB received, {tx // 1024} KB sent"] if rx or tx else []
            lines.append("    persistent keepalive: every 25 seconds")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(head) + "\n" + "\n".join(blocks)


def vrrp_table(state: OpState) -> str:
    """``show vrrp`` (``src/op_mode/vrrp.py --summary``): ``VRRP not configured!`` without
    groups, else ``python/vyos/ifconfig/vrrp.py`` ``format``: tabulate's "simple" table of
    Name, Interface, VRID, State, Priority, Last Transition (numbers right-aligned)."""
    if not state.me.vrrp:
        return "VRRP not configured!\n"
    rows = [
        # the last transition 5 minutes ago, as vyos.utils.convert.seconds_to_human writes 300 s
        [name, iface, str(vrid), state.vrrp_state(name), str(prio), "5m"]
        for name, (iface, vrid, prio) in sorted(state.me.vrrp.items())
    ]
    headers = ["Name", "Interface", "VRID", "State", "Priority", "Last Transition"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = {2, 4}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]) + "\n"


def route_json(vrfs: Mapping[str, Sequence[tuple[str, str, str]]]) -> str:
    """``show ip route vrf all json`` (FRR ``zebra/zebra_vty.c``): per VRF its table under
    the VRF's name (ASSUMED for FRR 9-10 on VyOS: the multi-table form), each prefix a list
    of route entries that name their ``vrfName``; ``vrfs``: VRF -> (prefix, protocol, via)."""
    out: dict[str, Any] = {}
    for vrf, routes in vrfs.items():
        table: dict[str, Any] = {}
        for prefix, protocol, via in routes:
            hop = (
                {"fib": True, "directlyConnected": True, "interfaceName": via}
                if protocol == "connected"
                else {"fib": True, "ip": via, "afi": "ipv4"}
            )
            entry = {"prefix": prefix, "prefixLen": int(prefix.split("/")[1]), "protocol": protocol, "vrfName": vrf}
            table.setdefault(prefix, []).append({**entry, "selected": True, "installed": True, "nexthops": [hop]})
        out[vrf] = table
    return json.dumps(out, indent=2)
