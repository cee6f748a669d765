"""The plan's expectations held against what the devices say: named checks, each with its reason.

Every check is one small function of (device's expectations, its facts) or, for VRRP, of
the routers of a site together. A device that could not be read fails ``reachable`` and
its other checks are skipped (their verdict would only repeat that); a concern that
could not be read (FRR stopped, ``wg`` missing) fails the check that needs it, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from fabric import model
from fabric.health.expect import ROUTER, Device, Fabric
from fabric.health.facts import DeviceFacts

#: How recent a WireGuard handshake must be by default (``fabric:verify.handshake_within``'s
#: default): a tunnel with traffic (every peer has a keepalive) rekeys every 2 minutes
#: (WireGuard's REKEY_AFTER_TIME), so 3 minutes is late.
HANDSHAKE_WITHIN_S: int = model.Verify.model_fields["handshake_within"].default

#: Every check by name, with what it asserts (README "Fabric health" lists them).
CHECKS: Mapping[str, str] = {
    "reachable": "the device answers over its API or SSH",
    "bgp-sessions": "every planned BGP EVPN session is established, and there is no other",
    "wireguard-handshakes": "every planned WireGuard peer is configured and handshaked recently (by default within "
    f"{HANDSHAKE_WITHIN_S // 60} minutes)",
    "tenant-vnis": "the device carries exactly its planned VNIs, each present in the kernel",
    "vtep-flood-lists": "each segment floods to exactly the other VTEPs carrying it (EVPN type-3 routes; on Linux "
    "also the kernel's flood entries)",
    "route-targets": "each VNI imports and exports exactly its planned route target",
    "vrrp-masters": "each tenant segment's VRRP group has exactly one master per site",
}

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Result:
    check: str
    #: What was checked: a device, or a VRRP group at a site.
    subject: str
    status: Status
    reason: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _result(check: str, subject: str, problems: Sequence[str], fine: str) -> Result:
    if problems:
        return Result(check, subject, "fail", "; ".join(problems))
    return Result(check, subject, "pass", fine)


def _unread(facts: DeviceFacts, what: str) -> str:
    why = "; ".join(e for e in facts.errors if e.startswith(what)) or "no answer"
    return f"could not read {why}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def bgp_sessions(fabric: Fabric, d: Device, facts: DeviceFacts) -> Result:
    if facts.bgp is None:
        return Result("bgp-sessions", d.name, "fail", _unread(facts, "bgp"))
    seen = {s.peer: s for s in facts.bgp}
    problems = []
    for address, name in sorted(d.bgp.items()):
        s = seen.get(address)
        if s is None:
            problems.append(f"no session with {name} ({address})")
        elif not s.established:
            problems.append(f"{name} ({address}) is {s.state}")
    extra = set(seen) - set(d.bgp) - d.optional
    problems += [f"unplanned session with {fabric.name_of(p)} ({p})" for p in sorted(extra)]
    return _result("bgp-sessions", d.name, problems, f"{_plural(len(d.bgp), 'session')} established")


def wireguard_handshakes(fabric: Fabric, d: Device, facts: DeviceFacts, within: int) -> Result:
    if facts.wireguard is None:
        return Result("wireguard-handshakes", d.name, "fail", _unread(facts, "wireguard"))
    by_address = {a: p for p in facts.wireguard for a in p.mesh_addresses}
    missing, never, late = [], [], []
    for address, name in sorted(d.wireguard.items(), key=lambda item: item[1]):
        p = by_address.get(address)
        if p is None:
            missing.append(name)
        elif p.handshake_age_s is None:
            never.append(name)
        elif p.handshake_age_s > within:
            late.append(f"{name} ({p.handshake_age_s} s ago)")
    problems = [
        f"{what}: {', '.join(names)}"
        for what, names in (
            ("not a peer", missing),
            ("no handshake yet", never),
            (f"no handshake within {within} s", late),
        )
        if names
    ]
    extra = set(by_address) - set(d.wireguard) - d.optional
    problems += [f"unplanned peer {fabric.name_of(a)} ({a})" for a in sorted(extra)]
    fine = f"{_plural(len(d.wireguard), 'peer')}, every handshake within {within} s"
    return _result("wireguard-handshakes", d.name, problems, fine)


def tenant_vnis(fabric: Fabric, d: Device, facts: DeviceFacts) -> Result:
    if facts.vnis is None:
        return Result("tenant-vnis", d.name, "fail", _unread(facts, "evpn"))
    have = {v.vni: v for v in facts.vnis}
    problems = [f"VNI {d.vnis[n].label} missing" for n in sorted(set(d.vnis) - set(have))]
    problems += [f"VNI {n} ({have[n].kind}) is not planned here" for n in sorted(set(have) - set(d.vnis))]
    problems += [
        f"VNI {d.vnis[n].label} is not in the kernel" for n in sorted(set(have) & set(d.vnis)) if not have[n].in_kernel
    ]
    return _result("tenant-vnis", d.name, problems, f"{_plural(len(d.vnis), 'VNI')} as planned")


def vtep_flood_lists(fabric: Fabric, d: Device, facts: DeviceFacts) -> Result:
    if facts.vnis is None:
        return Result("vtep-flood-lists", d.name, "fail", _unread(facts, "evpn"))
    if d.kind != ROUTER and facts.flood is None:  # a Linux VTEP's kernel view is half the check
        return Result("vtep-flood-lists", d.name, "fail", _unread(facts, "flood"))
    problems = []
    segments = [v for v in d.vnis.values() if not v.l3]
    for want in sorted(segments, key=lambda v: v.vni):
        got = facts.vni(want.vni)
        if got is None:
            continue  # tenant-vnis says so
        views = {"EVPN": set(got.remote_vteps)}
        if facts.flood is not None:
            views["kernel"] = set(facts.flood.get(want.device, ()))
        wrong: dict[tuple[str, str], list[str]] = {}  # (no|unplanned, names) -> the views saying so
        for view, seen in views.items():
            unplanned = seen - want.vteps - d.optional - fabric.unknown
            for word, found in (("no", want.vteps - seen), ("unplanned", unplanned)):
                if found:
                    names = ", ".join(sorted(fabric.name_of(a) for a in found))
                    wrong.setdefault((word, names), []).append(view)
        if wrong:
            said = [f"{word} {names} ({' and '.join(seen_in)})" for (word, names), seen_in in wrong.items()]
            problems.append(f"VNI {want.label}: {'; '.join(said)}")
    fine = f"{_plural(len(segments), 'segment')}, each flooding to exactly its VTEPs"
    return _result("vtep-flood-lists", d.name, problems, fine)


def route_targets(fabric: Fabric, d: Device, facts: DeviceFacts) -> Result:
    if facts.vnis is None:
        return Result("route-targets", d.name, "fail", _unread(facts, "evpn"))
    problems = []
    for n, want in sorted(d.vnis.items()):
        got = facts.vni(n)
        if got is None:
            continue
        for direction, rts in (("imports", got.import_rts), ("exports", got.export_rts)):
            if tuple(rts) != (want.route_target,):
                problems.append(f"VNI {want.label} {direction} {', '.join(rts) or 'nothing'}, not {want.route_target}")
    return _result("route-targets", d.name, problems, f"{_plural(len(d.vnis), 'VNI')} with their planned route targets")


def vrrp_masters(fabric: Fabric, facts: Mapping[str, DeviceFacts]) -> list[Result]:
    """Per tenant group and site, across the site's routers: exactly one master. A router that
    could not be read leaves the group unproven (failed), since it may be master too."""
    holders: dict[tuple[str, str], list[Device]] = {}
    for d in fabric.devices:
        for g in d.vrrp:
            holders.setdefault((g.name, g.site), []).append(d)
    out = []
    for (group, site), routers in sorted(holders.items()):
        states, problems = [], []
        for r in routers:
            f = facts.get(r.name)
            if f is None or f.vrrp is None:
                problems.append(f"{r.name} could not be read")
                continue
            state = next((s.state for s in f.vrrp if s.group == group), None)
            states.append((r.name, state or "absent"))
            if state is None:
                problems.append(f"{r.name} does not hold the group")
        masters = [name for name, state in states if state == "MASTER"]
        seen = ", ".join(f"{name} {state}" for name, state in states)
        if len(masters) != 1:
            problems.insert(0, f"{'no master' if not masters else _plural(len(masters), 'master')} ({seen})")
        out.append(_result("vrrp-masters", f"{group}@{site}", problems, f"one master ({seen})"))
    return out


def verify(
    fabric: Fabric, facts: Mapping[str, DeviceFacts], *, handshake_within: int = HANDSHAKE_WITHIN_S
) -> list[Result]:
    """Every check of every device read, then the VRRP groups; in a stable order."""
    per_device: dict[str, Callable[[Fabric, Device, DeviceFacts], Result]] = {
        "bgp-sessions": bgp_sessions,
        "wireguard-handshakes": partial(wireguard_handshakes, within=handshake_within),
        "tenant-vnis": tenant_vnis,
        "vtep-flood-lists": vtep_flood_lists,
        "route-targets": route_targets,
    }
    out = []
    for d in fabric.devices:
        f = facts.get(d.name) or DeviceFacts(d.name, d.kind, errors=("not read",))
        if not f.reached:
            out.append(Result("reachable", d.name, "fail", "; ".join(f.errors) or "no answer"))
            out += [Result(n, d.name, "skip", "the device was not reached") for n in per_device]
            continue
        how = "API" if d.kind == ROUTER else "SSH"
        out.append(Result("reachable", d.name, "pass", f"answered over {how} in {f.took_s:.2f} s"))
        out += [check(fabric, d, f) for check in per_device.values()]
    return out + vrrp_masters(fabric, facts)


def failed(results: Iterable[Result]) -> list[Result]:
    return [r for r in results if r.status == "fail"]


def until_passing(check: Callable[[], list[Result]], wait: float, pause: float = 2.0) -> list[Result]:
    """``check()`` again and again until nothing fails or ``wait`` seconds have gone; the last
    results (``verify --wait`` and the post-``up`` check both converge this way)."""
    deadline = time.monotonic() + wait
    while True:
        results = check()
        if not failed(results) or time.monotonic() >= deadline:
            return results
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
