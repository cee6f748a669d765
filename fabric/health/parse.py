"""A device's answers -> :mod:`~fabric.health.facts`.

FRR answers in JSON on routers and Linux VTEPs alike (a VyOS router's op-mode BGP and
EVPN commands are ``vtysh`` underneath), so one parser per question serves both. The
JSON shapes are FRR 8.4's (the lab's, Debian bookworm) and VyOS 1.4/1.5's FRR (9-10):
where they differ, both are read (noted at each). Everything else is the text of the
tool that printed it: ``wg show <if> dump``, ``bridge -j fdb show``, VyOS's ``show
vrrp`` table. A parser raises :class:`ParseError` with what it got, never guesses; an
answer of any other shape (a device is not trusted) is "could not read" too (:func:`_read`).
Where a text shape was only seen in VyOS's source, not on a router, it says ASSUMED.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from fabric.health.facts import BgpSession, DeviceFacts, VniState, VrrpState, WireguardPeer
from fabric.render.linux.node import MESH as LINUX_MESH
from fabric.render.vyos.names import MESH as VYOS_MESH

#: What a Linux VTEP is asked, by concern: one shell script over one SSH session. The
#: ``wg`` dump's first line (the interface's own, with its private key) and every preshared
#: key are cut on the host, so no secret ever leaves it.
LINUX_QUESTIONS = {
    "now": "date +%s",
    "bgp": "vtysh -c 'show bgp l2vpn evpn summary json'",
    "vnis": "vtysh -c 'show bgp l2vpn evpn vni json'",
    "routes": "vtysh -c 'show bgp l2vpn evpn json'",
    "wireguard": f"wg show {LINUX_MESH} dump | tail -n +2 | awk -F'\\t' -v OFS='\\t' '{{$2=\"-\"; print}}'",
    "flood": "bridge -j fdb show",
}

#: What a VyOS router is asked: op-mode paths for the API's ``/show``. The op-mode tree takes
#: ``json`` only where it has a free value there (vyos-1x ``op-mode-definitions``: ``evpn
#: <TAG>``, ``vni <TAG>``, ``vrf <TAG> <TAG>``); elsewhere the text is read.
VYOS_QUESTIONS = {
    "bgp": ("bgp", "l2vpn", "evpn", "summary"),
    "vnis": ("bgp", "l2vpn", "evpn", "vni", "json"),
    "routes": ("bgp", "l2vpn", "evpn", "json"),
    "wireguard": ("interfaces", "wireguard", VYOS_MESH, "summary"),
    "vrrp": ("vrrp",),
    "vrf_routes": ("ip", "route", "vrf", "all", "json"),
}


class ParseError(ValueError):
    """An answer that is not what the question gets from a working device (e.g. FRR down)."""


def first_line(text: str) -> str:
    """What a message quotes of an answer: its first line, shortened."""
    line = text.strip().splitlines()[0] if text.strip() else "(nothing)"
    return line[:160]


def _from_json(text: str) -> str:
    """``text`` from its first line that opens JSON: VyOS's op-mode wrapper for ``vtysh`` may
    print a shell warning first (``vtysh_wrapper.sh`` is a ``#!/bin/sh`` script using bash's
    ``declare``)."""
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("{", "[")):
            return "\n".join(lines[i:])
    return text.strip()


def documents(text: str) -> list[Any]:
    """Every JSON document in ``text``: FRR prints one per VRF for some ``vrf all`` questions."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    text = _from_json(text)
    while i < len(text):
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            raise ParseError(f"not FRR's JSON: {first_line(text[i:])}") from None
        out.append(value)
        i = end
        while i < len(text) and text[i].isspace():
            i += 1
    if not out:
        raise ParseError("empty answer")
    return out


def _object(text: str) -> dict[str, Any]:
    found = documents(text)[0]
    if not isinstance(found, dict):
        raise ParseError(f"not a JSON object: {first_line(text)}")
    return found


def bgp_sessions(text: str) -> tuple[BgpSession, ...]:
    """``show bgp l2vpn evpn summary json``: ``peers`` at the top (or, in some FRR releases,
    under the address family's key)."""
    top = _object(text)
    summary = top if "peers" in top else next((v for v in top.values() if isinstance(v, dict) and "peers" in v), {})
    out = []
    for peer, p in sorted((summary.get("peers") or {}).items()):
        state = str(p.get("state", "?"))
        out.append(
            BgpSession(
                peer=peer,
                state=state,
                uptime_s=int(p.get("peerUptimeMsec", 0)) // 1000,
                prefixes=int(p.get("pfxRcd", 0)) if state == "Established" else 0,
                description=str(p.get("desc", "")),
            )
        )
    return tuple(out)


def clock(text: str) -> int:
    """``date +%s`` on the host: handshake ages are counted on its clock, never guessed."""
    if not text.strip().isdigit():
        raise ParseError(f"the host's clock did not answer: {first_line(text)}")
    return int(text.strip())


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _paths(entry: Any) -> Iterator[Mapping[str, Any]]:
    """The paths of one prefix: a flat list in ``route json``, a list of lists in ``route vni``."""
    if not isinstance(entry, dict):
        return
    for group in entry.get("paths", ()):
        yield from (p for p in (group if isinstance(group, list) else [group]) if isinstance(p, dict))


def _route_targets(path: Mapping[str, Any]) -> list[str]:
    community = path.get("extendedCommunity") or {}
    text = str(community.get("string", "")) if isinstance(community, dict) else ""
    return [word.removeprefix("RT:") for word in text.split() if word.startswith("RT:")]


def vni_states(bgp_vnis: str, routes: str) -> tuple[VniState, ...]:
    """BGP's VNIs (``show bgp l2vpn evpn vni json``: type, local VTEP, route targets, whether
    the kernel has the VNI) and the EVPN table (``show bgp l2vpn evpn json``: per RD, per
    prefix, its paths): a path belongs to every VNI that imports one of its route targets.
    A VNI's routes are counted once per RD and prefix (a reflector may hold several paths of
    one); its remote VTEPs are the originators of the valid type-3 (inclusive multicast)
    routes it imports, less its own: head-end replication floods to exactly those.
    Both questions exist on VyOS's op-mode tree with ``json`` (``/show`` paths ``bgp l2vpn
    evpn vni json`` and ``bgp l2vpn evpn json``), so routers and Linux VTEPs are read alike."""
    # (RD, prefix) of every route, with its paths, by the route targets its paths carry
    by_rt: dict[str, dict[tuple[str, str], list[Mapping[str, Any]]]] = {}
    for rd, table in _object(routes).items():
        for prefix, entry in table.items() if isinstance(table, dict) else ():
            for path in _paths(entry):
                for rt in set(_route_targets(path)):
                    by_rt.setdefault(rt, {}).setdefault((rd, prefix), []).append(path)
    out = []
    for key, info in sorted(_object(bgp_vnis).items()):
        if not key.isdigit() or not isinstance(info, dict):
            continue
        imports = _listed(info.get("importRTs") or info.get("importRts"))
        own = str(info.get("originatorIp", ""))
        counts: dict[str, int] = {}
        remote: set[str] = set()
        imported = {route: paths for rt in imports for route, paths in by_rt.get(rt, {}).items()}
        for paths in imported.values():
            kind = str(paths[0].get("routeType", "?"))
            counts[kind] = counts.get(kind, 0) + 1
            for path in paths:
                if kind == "3" and path.get("valid") and str(path.get("ip", "")) != own:
                    remote.add(str(path.get("ip", "")))
        kind = str(info.get("type", "L2"))
        out.append(
            VniState(
                vni=int(key),
                kind=kind,
                vtep=own,
                remote_vteps=tuple(sorted(remote)) if kind == "L2" else (),
                import_rts=imports,
                export_rts=_listed(info.get("exportRTs") or info.get("exportRts")),
                in_kernel=str(info.get("inKernel", "True")) == "True",
                vrf=str(info.get("tenantVrf", "")),
                routes=counts,
            )
        )
    return tuple(out)


def vrf_routes(text: str) -> dict[str, int]:
    """Prefixes per VRF in ``show ip route vrf all json``: FRR prints one table per VRF, each
    ``{prefix: [route entries]}`` (some releases wrap them as ``{vrf: {...}}``); every entry
    names its VRF (``vrfName``), so the count does not depend on the wrapping."""
    counts: dict[str, int] = {}

    def walk(value: Any) -> None:
        if not isinstance(value, dict):
            return
        for sub in value.values():
            if isinstance(sub, list) and sub and isinstance(sub[0], dict) and "prefix" in sub[0]:
                vrf = str(sub[0].get("vrfName", "default"))
                counts[vrf] = counts.get(vrf, 0) + 1
            elif isinstance(sub, dict):
                walk(sub)

    for doc in documents(text):
        walk(doc)
    return counts


def wireguard_dump(text: str, now: int) -> tuple[WireguardPeer, ...]:
    """The peer lines of ``wg show <if> dump`` (the interface's own line, with its private key,
    is cut on the host and never read): public key, preshared key (blanked on the host),
    endpoint, allowed IPs, latest handshake (epoch, 0 never), rx, tx, keepalive; ``now`` is
    the host's clock, so the age does not depend on this machine's."""
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) != 8 or not fields[4].isdigit():
            raise ParseError(f"not a `wg show dump` peer line: {line[:60]!r}")
        handshake = int(fields[4])
        out.append(
            WireguardPeer(
                public_key=fields[0],
                endpoint=fields[2],
                allowed_ips=tuple(a for a in fields[3].split(",") if a and a != "(none)"),
                handshake_age_s=max(0, now - handshake) if handshake else None,
                rx_bytes=int(fields[5]),
                tx_bytes=int(fields[6]),
            )
        )
    return tuple(out)


#: The MAC of a VXLAN device's flood entries (one per remote VTEP, head-end replication).
FLOOD_MAC = "00:00:00:00:00:00"


def flood_lists(text: str) -> dict[str, tuple[str, ...]]:
    """``bridge -j fdb show``: per VXLAN device, the remote VTEPs its flood entries send to."""
    try:
        entries = json.loads(text)
    except json.JSONDecodeError:
        raise ParseError(f"not `bridge -j fdb` JSON: {first_line(text)}") from None
    out: dict[str, set[str]] = {}
    for e in entries if isinstance(entries, list) else []:
        if e.get("mac") == FLOOD_MAC and e.get("dst") and e.get("ifname"):
            out.setdefault(str(e["ifname"]), set()).add(str(e["dst"]))
    return {dev: tuple(sorted(vteps)) for dev, vteps in sorted(out.items())}


_VRRP_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<interface>\S+)\s+(?P<vrid>\d+)\s+(?P<state>[A-Z]+)\b")


def _seconds(text: str) -> int:
    """``1 minute, 5 seconds`` (``wg show``) or ``0:01:05`` / ``1 day, 0:01:05`` (Python's
    ``timedelta``, VyOS 1.5's summary) or FRR's ``00:01:05`` / ``1d02h03m`` as seconds."""
    total = 0
    units = {"year": 31536000, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
    for number, unit in re.findall(r"(\d+)\s*(year|day|hour|minute|second)s?", text):
        total += int(number) * units[unit]
    clock = re.search(r"(\d+):(\d\d):(\d\d)", text)
    if clock:
        total += int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + int(clock.group(3))
    for number, unit in re.findall(r"(\d+)([wdhms])(?![a-z])", text) if not clock else ():
        total += int(number) * {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return total


#: A row of FRR's ``show bgp ... summary`` table: neighbour, version, AS, counters, up/down,
#: then the prefix count when established or the state's name (FRR ``bgp_show_summary``; a
#: neighbour on a line of its own, as FRR wraps a long hostname, is ASSUMED not to occur:
#: fabric's neighbours are IPv4 addresses).
_SUMMARY_ROW = re.compile(
    r"^(?P<peer>\d+\.\d+\.\d+\.\d+|[0-9a-f:]+:[0-9a-f:]*)\s+4\s+\S+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+"
    r"(?P<updown>\S+)\s+(?P<state>\S+)(?:\s+(?P<sent>\S+))?(?:\s+(?P<desc>.*))?$"
)


def bgp_summary_text(text: str) -> tuple[BgpSession, ...]:
    """``show bgp l2vpn evpn summary`` as VyOS's op mode prints it (FRR's table: VyOS has no
    ``json`` for it). ``State/PfxRcd`` holds the received prefixes when established, else
    the state (``Active``, ``Connect``, ``Idle (Admin)``...)."""
    if "Neighbor" not in text:
        # FRR's words for an instance without neighbours (bgpd/bgp_vty.c); ASSUMED unchanged on VyOS
        if re.search(r"No (BGP|L2VPN EVPN) neighbors?( is configured)?|BGP instance not found", text):
            return ()
        raise ParseError(f"not a BGP summary: {first_line(text)}")
    out = []
    for line in text.splitlines():
        m = _SUMMARY_ROW.match(line.strip())
        if not m:
            continue
        state = m.group("state")
        established = state.isdigit()
        out.append(
            BgpSession(
                peer=m.group("peer"),
                state="Established" if established else state,
                uptime_s=_seconds(m.group("updown")) if established else 0,
                prefixes=int(state) if established else 0,
                description=(m.group("desc") or "").strip(),
            )
        )
    return tuple(out)


def wireguard_summary(text: str) -> tuple[WireguardPeer, ...]:
    """``show interfaces wireguard <if> summary``: VyOS 1.4 prints ``wg show <if>`` (``peer:
    <key>``, ``latest handshake: 1 minute, 5 seconds ago``, ``transfer: 1.2 KiB received,
    ...``); 1.5 its own summary (``peer: <name>`` then ``public key: <key>``, ``latest
    handshake: 0:01:05``, ``transfer: 1 KB received, ...``). Both omit the handshake line
    when there was none."""
    if "interface:" not in text:
        raise ParseError(f"not a WireGuard summary: {first_line(text)}")
    peers: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        key, _, value = line.partition(": ")
        if key == "peer":
            peers.append({"peer": value.split()[0] if value else ""})
        elif peers and key in ("public key", "endpoint", "allowed ips", "latest handshake", "transfer"):
            peers[-1][key] = value
    out = []
    for p in peers:
        rx, _, tx = p.get("transfer", "").partition(" received, ")
        out.append(
            WireguardPeer(
                public_key=p.get("public key", p["peer"]),
                endpoint=p.get("endpoint", ""),
                allowed_ips=tuple(
                    a.strip() for a in p.get("allowed ips", "").split(",") if a.strip() and a.strip() != "(none)"
                ),
                handshake_age_s=_seconds(p["latest handshake"]) if "latest handshake" in p else None,
                rx_bytes=_size(rx),
                tx_bytes=_size(tx.removesuffix(" sent")),
            )
        )
    return tuple(out)


def _size(text: str) -> int:
    """``1.23 KiB`` (``wg``), or ``1 KB`` and ``512 bytes`` (VyOS 1.5: ``hurry.filesize``'s
    ``alternative`` units, binary) as bytes; 0 for nothing."""
    m = re.match(r"\s*([\d.]+)\s*(?:([KMGT])i?B|bytes?\b|B\b)", text)
    if not m:
        return 0
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " "))


def vrrp_table(text: str) -> tuple[VrrpState, ...]:
    """``show vrrp`` (vyos-1x ``python/vyos/ifconfig/vrrp.py`` ``format``): a table of Name,
    Interface, VRID, State, Priority, Last Transition; ``VRRP not configured!`` (no group:
    nothing to show). Anything else, ``VRRP is not running`` (``src/op_mode/vrrp.py``)
    included, is no table: the groups could not be read."""
    if "not configured" in text:
        return ()
    if "Name" not in text or "VRID" not in text:
        raise ParseError(f"not a VRRP table: {first_line(text)}")
    out = []
    for line in text.splitlines():
        m = _VRRP_ROW.match(line)
        if m and m.group("name") != "Name":
            out.append(VrrpState(m.group("name"), m.group("interface"), int(m.group("vrid")), m.group("state")))
    return tuple(out)


def _answer(answers: Mapping[str, str], question: str) -> str:
    if question not in answers:
        raise ParseError(f"no answer to {question!r}")
    return answers[question]


def _read(errors: list[str], concern: str, parse: Any, *texts: str) -> Any:
    """``parse(*texts)``, or None with the reason noted under ``concern``. A device's answer
    is hostile input: whatever it makes a parser raise means "could not read", never a crash."""
    try:
        return parse(*texts)
    except ParseError as exc:
        errors.append(f"{concern}: {exc}")
    except Exception as exc:  # any shape a device may send
        errors.append(f"{concern}: an answer of an unexpected shape ({type(exc).__name__}: {str(exc)[:120]})")
    return None


def linux_facts(device: str, kind: str, answers: Mapping[str, str], took_s: float) -> DeviceFacts:
    """A Linux VTEP's facts from its answers to :data:`LINUX_QUESTIONS`."""
    errors: list[str] = []

    def read(concern: str, parse: Any, *questions: str) -> Any:
        """A question the script never answered (its output cut short) is unread, not empty."""
        return _read(errors, concern, lambda: parse(*(_answer(answers, q) for q in questions)))

    def peers(dump: str, now: str) -> tuple[WireguardPeer, ...]:
        return wireguard_dump(dump, clock(now))

    return DeviceFacts(
        device=device,
        kind=kind,
        took_s=took_s,
        bgp=read("bgp", bgp_sessions, "bgp"),
        wireguard=read("wireguard", peers, "wireguard", "now"),
        vnis=read("evpn", vni_states, "vnis", "routes"),
        flood=read("flood", flood_lists, "flood"),
        errors=tuple(errors),
    )


def vyos_facts(device: str, answers: Mapping[str, str], took_s: float, failures: Mapping[str, str]) -> DeviceFacts:
    """A router's facts from its answers to :data:`VYOS_QUESTIONS`; ``failures``: the
    questions the API refused, with its message."""
    concerns = {"vnis": "evpn", "routes": "evpn", "vrf_routes": "vrf-routes"}
    if failures and len(failures) == len(VYOS_QUESTIONS):  # no answer at all: one reason is enough
        return DeviceFacts(device, "router", took_s, (f"api: {next(iter(failures.values()))}",))
    errors = [f"{concerns.get(q, q)}: {message}" for q, message in failures.items()]

    def read(concern: str, parse: Any, *keys: str) -> Any:
        if any(k in failures for k in keys):
            return None
        return _read(errors, concern, parse, *(answers[k] for k in keys))

    return DeviceFacts(
        device=device,
        kind="router",
        took_s=took_s,
        bgp=read("bgp", bgp_summary_text, "bgp"),
        wireguard=read("wireguard", wireguard_summary, "wireguard"),
        vnis=read("evpn", vni_states, "vnis", "routes"),
        vrrp=read("vrrp", vrrp_table, "vrrp"),
        vrf_routes=read("vrf-routes", vrf_routes, "vrf_routes"),
        errors=tuple(errors),
    )
