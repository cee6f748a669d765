"""``status`` and ``verify`` as people and machines read them: rich tables, JSON, JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from fabric.health.expect import Fabric
from fabric.health.facts import DeviceFacts
from fabric.health.verify import CHECKS, HANDSHAKE_WITHIN_S, Result

_MARK = {"pass": Text("✓", "green"), "fail": Text("✗", "bold red"), "skip": Text("-", "dim")}
#: What a terminal would act on (C0 and C1 controls, DEL), what would make text read other
#: than it is (zero-width and bidirectional controls), and what it cannot encode (lone surrogates).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
#: The most of one device-made string shown.
SHOWN_CHARS = 300


def clean(text: object) -> str:
    """Text that holds what a device said, fit for a terminal: every character of
    :data:`_UNPRINTABLE` (an escape sequence could clear the screen or set the clipboard) as
    U+FFFD. Every reason printed goes through here (rich passes most of them on)."""
    return _UNPRINTABLE.sub("\ufffd", str(text))


def shown(text: object) -> str:
    """A string a device made, :func:`clean` and at most :data:`SHOWN_CHARS` long (a table cell)."""
    value = clean(text)
    return value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 1] + "…"


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _state(ok: bool, text: str) -> Text:
    return Text(shown(text), "green" if ok else "bold red")


def status_tables(fabric: Fabric, facts: Mapping[str, DeviceFacts], within: int = HANDSHAKE_WITHIN_S) -> Group:
    """One table per concern, then the devices that could not be read, in the plan's device order."""
    order = [d.name for d in fabric.devices if d.name in facts]
    bgp = Table(title="BGP EVPN sessions", title_justify="left")
    for col in ("device", "neighbour", "state", "up", "prefixes", "description"):
        bgp.add_column(col)
    wg = Table(title="WireGuard peers", title_justify="left")
    for col in ("device", "peer", "endpoint", "latest handshake", "received", "sent"):
        wg.add_column(col)
    vnis = Table(title="VNIs (VTEPs and EVPN routes)", title_justify="left")
    for col in ("device", "VNI", "tenant", "kind", "remote VTEPs", "type-2", "type-3", "type-5", "route targets"):
        vnis.add_column(col)
    vrrp = Table(title="VRRP groups", title_justify="left")
    for col in ("router", "group", "interface", "VRID", "state"):
        vrrp.add_column(col)
    vrfs = Table(title="VRF routes", title_justify="left")
    for col in ("router", "VRF", "routes"):
        vrfs.add_column(col)
    for name in order:
        f, d = facts[name], fabric.device(name)
        for s in f.bgp or ():
            up = f"{s.uptime_s // 3600}h{s.uptime_s // 60 % 60:02d}m{s.uptime_s % 60:02d}s" if s.established else ""
            peer = shown(fabric.name_of(s.peer))
            bgp.add_row(name, peer, _state(s.established, s.state), up, str(s.prefixes), shown(s.description))
        for p in f.wireguard or ():
            peer = shown(", ".join(fabric.name_of(a) for a in p.mesh_addresses) or p.public_key[:12])
            recent = p.handshake_age_s is not None and p.handshake_age_s <= within
            age = _state(recent, _age(p.handshake_age_s))
            wg.add_row(name, peer, shown(p.endpoint), age, _bytes(p.rx_bytes), _bytes(p.tx_bytes))
        for v in f.vnis or ():
            planned = d.vnis.get(v.vni)
            tenant = f"{planned.tenant} {planned.segment or ''}".strip() if planned else Text("not planned", "bold red")
            names = " ".join(fabric.name_of(a) for a in v.remote_vteps)
            vteps = shown(f"{len(v.remote_vteps)}: {names}") if v.kind == "L2" else ""
            rts = shown("/".join(sorted(set(v.import_rts) | set(v.export_rts))))
            counts = [str(v.routes.get(k, 0)) for k in ("2", "3", "5")]
            vnis.add_row(name, str(v.vni), tenant, shown(v.kind), vteps, *counts, rts)
        for g in f.vrrp or ():
            state = _state(g.state in ("MASTER", "BACKUP"), g.state)
            vrrp.add_row(name, shown(g.group), shown(g.interface), str(g.vrid), state)
        for vrf, count in sorted((f.vrf_routes or {}).items()):
            vrfs.add_row(name, shown(vrf), str(count))
    parts: list[Any] = [t for t in (bgp, wg, vnis, vrrp, vrfs) if t.row_count]
    problems = [(n, e) for n in order for e in facts[n].errors]
    if problems:
        unread = Table(title="could not read", title_justify="left")
        unread.add_column("device")
        unread.add_column("what, and why")
        for name, error in problems:
            unread.add_row(name, Text(clean(error), "red"))
        parts.append(unread)
    return Group(*parts)


def status_summary(facts: Mapping[str, DeviceFacts], took_s: float, within: int = HANDSHAKE_WITHIN_S) -> Text:
    read = [f for f in facts.values() if f.reached]
    sessions = [s for f in read for s in f.bgp or ()]
    peers = [p for f in read for p in f.wireguard or ()]
    recent = [p for p in peers if p.handshake_age_s is not None and p.handshake_age_s <= within]
    groups = [g for f in read for g in f.vrrp or ()]
    text = (
        f"{len(read)}/{len(facts)} devices answered in {took_s:.2f} s; "
        f"BGP {sum(s.established for s in sessions)}/{len(sessions)} established; "
        f"WireGuard {len(recent)}/{len(peers)} handshaked within {within} s; "
        f"{sum(len(f.vnis or ()) for f in read)} VNIs"
    )
    if groups:
        text += f"; VRRP {sum(g.master for g in groups)} master, {sum(g.state == 'BACKUP' for g in groups)} backup"
    ok = len(read) == len(facts) and all(s.established for s in sessions) and len(recent) == len(peers)
    return Text(text, "green" if ok else "yellow")


def verify_table(results: Sequence[Result], title: str = "fabric checks") -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "check", "subject", "why"):
        table.add_column(col)
    for r in results:
        reason = Text(clean(r.reason), "red" if r.status == "fail" else "")
        table.add_row(_MARK[r.status], r.check, shown(r.subject), reason)
    return table


def checks_table(results: Sequence[Result]) -> Table:
    """One row per check: how many subjects passed, failed, were skipped, and what it asserts."""
    table = Table(title="fabric checks", title_justify="left")
    for col in ("", "check", "pass", "fail", "skip", "asserts"):
        table.add_column(col)
    for check, about in CHECKS.items():
        mine = [r for r in results if r.check == check]
        if mine:
            counts = [sum(r.status == s for r in mine) for s in ("pass", "fail", "skip")]
            mark = _MARK["fail"] if counts[1] else _MARK["pass"] if counts[0] else _MARK["skip"]
            table.add_row(mark, check, *map(str, counts), about)
    return table


def verify_summary(results: Sequence[Result], took_s: float) -> Text:
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
    failed = sorted({r.check for r in results if r.status == "fail"})
    text = f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped in {took_s:.2f} s"
    if failed:
        return Text(f"{text}: failing {', '.join(failed)}", "bold red")
    return Text(text, "green")


#: What XML 1.0 cannot hold (a device's error text might): shown as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit(results: Sequence[Result], name: str, took_s: float) -> bytes:
    """JUnit XML: one test suite per check, one test case per subject (device or VRRP group),
    a failure's message its reason; skipped checks (device not reached) as skipped."""
    suites = ET.Element("testsuites", name=name, tests=str(len(results)), time=f"{took_s:.3f}")
    suites.set("failures", str(sum(r.status == "fail" for r in results)))
    for check, about in CHECKS.items():
        mine = [r for r in results if r.check == check]
        if not mine:
            continue
        suite = ET.SubElement(suites, "testsuite", name=check, tests=str(len(mine)))
        suite.set("failures", str(sum(r.status == "fail" for r in mine)))
        suite.set("skipped", str(sum(r.status == "skip" for r in mine)))
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="asserts", value=about)
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"{name}.{check}", name=_xml_text(r.subject))
            reason = _xml_text(r.reason)
            if r.status == "fail":
                ET.SubElement(case, "failure", message=reason, type=check).text = reason
            elif r.status == "skip":
                ET.SubElement(case, "skipped", message=reason)
            else:
                ET.SubElement(case, "system-out").text = reason
    text: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return text
