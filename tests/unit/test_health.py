"""Fabric health's pure core: expectations from the example plans, parsers, checks, reports.

The answers parsed here are FRR 8.4's JSON as the lab's nodes print it (shortened to
the fields read), ``wg show dump`` and ``bridge -j fdb`` output, and the text of VyOS's
op-mode commands in the shapes vyos-1x prints them; the lab and emulator tests read
whole answers from running devices.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fabric import stackfile
from fabric.health import expect, parse, report, verify
from fabric.health.facts import BgpSession, DeviceFacts, VniState, VrrpState, WireguardPeer

ROOT = Path(__file__).resolve().parents[2]

SUMMARY = {
    "routerId": "172.27.1.2",
    "as": 65000,
    "peers": {
        "172.27.1.1": {"state": "Established", "peerUptimeMsec": 5000, "pfxRcd": 51, "desc": "a1 (route reflector)"},
        "172.27.2.1": {"state": "Active", "peerUptimeMsec": 0, "pfxRcd": 0},
    },
}


def _route(kind: int, rt: str, ip: str, valid: bool = True) -> dict[str, object]:
    return {"valid": valid, "routeType": kind, "ip": ip, "extendedCommunity": {"string": f"RT:{rt} ET:8"}}


VNIS = {
    "numVnis": 2,
    "10010": {
        "vni": 10010,
        "type": "L2",
        "inKernel": "True",
        "originatorIp": "172.27.1.2",
        "importRTs": ["65000:10010"],
        "exportRTs": ["65000:10010"],
    },
    "10": {
        "vni": 10,
        "type": "L3",
        "tenantVrf": "acme",
        "originatorIp": "172.27.1.2",
        "importRTs": ["65000:10"],
        "exportRTs": ["65000:10"],
    },
}
ROUTES = {
    "bgpLocalRouterId": "172.27.1.2",
    "172.27.1.1:2": {
        "rd": "172.27.1.1:2",
        # one route, two paths (from two reflectors): one route, one VTEP
        "[3]:[0]:[32]:[172.27.1.1]": {
            "paths": [_route(3, "65000:10010", "172.27.1.1"), _route(3, "65000:10010", "172.27.1.1")]
        },
        "[2]:[0]:[48]:[02:fb:01:00:00:01]": {"paths": [_route(2, "65000:10010", "")]},
    },
    "172.27.1.2:2": {
        "rd": "172.27.1.2:2",
        "[3]:[0]:[32]:[172.27.1.2]": {"paths": [_route(3, "65000:10010", "172.27.1.2")]},
    },
    "172.27.1.3:2": {
        "rd": "172.27.1.3:2",
        "[3]:[0]:[32]:[172.27.1.3]": {"paths": [_route(3, "65000:10010", "172.27.1.3", valid=False)]},
    },
    "172.27.1.1:10": {
        "rd": "172.27.1.1:10",
        "[5]:[0]:[24]:[100.65.10.0]": {"paths": [_route(5, "65000:10", "100.65.10.0")]},
    },
    "numPrefix": 5,
}


def test_bgp_sessions_from_frr_json() -> None:
    sessions = parse.bgp_sessions(json.dumps(SUMMARY))
    assert sessions == (
        BgpSession("172.27.1.1", "Established", 5, 51, "a1 (route reflector)"),
        BgpSession("172.27.2.1", "Active", 0, 0, ""),
    )


def test_frr_answers_that_are_not_json_are_refused_with_what_came() -> None:
    with pytest.raises(parse.ParseError, match="Exiting: failed to connect"):
        parse.bgp_sessions("Exiting: failed to connect to any daemons.\n")
    with pytest.raises(parse.ParseError, match="empty answer"):
        parse.bgp_sessions("")


def test_a_shell_warning_before_the_json_is_passed_over() -> None:
    """VyOS's ``vtysh_wrapper.sh`` is a ``#!/bin/sh`` script using bash's ``declare``."""
    text = "/usr/libexec/vyos/op_mode/vtysh_wrapper.sh: 2: declare: not found\n" + json.dumps(SUMMARY)
    assert len(parse.bgp_sessions(text)) == 2


def test_vni_states_count_routes_per_vni_and_find_remote_vteps() -> None:
    states = {v.vni: v for v in parse.vni_states(json.dumps(VNIS), json.dumps(ROUTES))}
    l2, l3 = states[10010], states[10]
    # the invalid type-3 route counts as a route but floods nowhere; its own is not remote
    assert l2.routes == {"3": 3, "2": 1} and l2.remote_vteps == ("172.27.1.1",)
    assert l2.import_rts == ("65000:10010",) and l2.in_kernel
    assert l3.kind == "L3" and l3.vrf == "acme" and l3.routes == {"5": 1} and l3.remote_vteps == ()


def test_vrf_routes_count_by_each_entrys_vrf_whatever_the_wrapping() -> None:
    entry = {"prefix": "10.0.0.0/24", "vrfName": "default"}
    flat = {"10.0.0.0/24": [entry], "10.0.1.0/24": [{**entry, "prefix": "10.0.1.0/24"}]}
    wrapped = {"default": flat, "acme": {"100.65.10.0/24": [{"prefix": "100.65.10.0/24", "vrfName": "acme"}]}}
    assert parse.vrf_routes(json.dumps(flat)) == {"default": 2}
    assert parse.vrf_routes(json.dumps(wrapped)) == {"default": 2, "acme": 1}
    # FRR releases that print one document per VRF
    assert parse.vrf_routes(json.dumps(flat) + "\n" + json.dumps(wrapped["acme"])) == {"default": 2, "acme": 1}


def test_wireguard_dump_ages_from_the_hosts_clock() -> None:
    text = "\n".join(
        [
            "kEGc=\t-\t10.254.0.11:51820\t172.27.1.1/32\t1000\t9886\t4736\t25",
            "I301=\t-\t(none)\t172.27.2.3/32,100.64.0.0/24\t0\t0\t0\toff",
        ]
    )
    peers = parse.wireguard_dump(text, now=1100)
    assert peers[0] == WireguardPeer("kEGc=", "10.254.0.11:51820", ("172.27.1.1/32",), 100, 9886, 4736)
    assert peers[1].handshake_age_s is None and peers[1].mesh_addresses == ("172.27.2.3",)
    with pytest.raises(parse.ParseError):
        parse.wireguard_dump("private\tpublic\t51820\toff", now=0)


def test_flood_lists_are_the_all_zero_entries_per_vxlan_device() -> None:
    fdb = [
        {"mac": "00:00:00:00:00:00", "ifname": "vxlan10010", "dst": "172.27.1.3", "flags": ["self"]},
        {"mac": "00:00:00:00:00:00", "ifname": "vxlan10010", "dst": "172.27.1.1", "flags": ["self"]},
        {"mac": "92:95:5c:41:ac:69", "ifname": "vxlan10010", "dst": "172.27.2.2"},
        {"mac": "33:33:00:00:00:01", "ifname": "eth0", "flags": ["self"]},
    ]
    assert parse.flood_lists(json.dumps(fdb)) == {"vxlan10010": ("172.27.1.1", "172.27.1.3")}


def test_vyos_text_answers() -> None:
    summary = """BGP router identifier 172.27.1.1, local AS number 65000 vrf-id 0
Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc
172.27.1.2      4      65000        10        10        0    0    0 1d02h03m            7        2 dc1-r2 (client)
172.27.2.1      4      65000         0         0        0    0    0    never       Active        0 N/A
172.27.2.2      4      65000         0         0        0    0    0    never  Idle (Admin)        0 N/A
"""
    sessions = parse.bgp_summary_text(summary)
    assert [(s.peer, s.state, s.uptime_s, s.prefixes) for s in sessions] == [
        ("172.27.1.2", "Established", 93780, 7),
        ("172.27.2.1", "Active", 0, 0),
        ("172.27.2.2", "Idle", 0, 0),
    ]
    assert sessions[0].description == "dc1-r2 (client)"
    vrrp = """Name      Interface      VRID  State       Priority  Last Transition
--------  -----------  ------  --------  ----------  -----------------
acme-dc1  br10010           1  MASTER           200  1h2m3s
old       br10020          20  DISABLED
"""
    assert [(g.group, g.vrid, g.state) for g in parse.vrrp_table(vrrp)] == [
        ("acme-dc1", 1, "MASTER"),
        ("old", 20, "DISABLED"),
    ]
    assert parse.vrrp_table("VRRP not configured!\n") == ()
    with pytest.raises(parse.ParseError):
        parse.vrrp_table("VRRP is not running\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1 minute, 5 seconds ago", 65), ("0:01:05", 65), ("1 day, 0:01:05", 86465), ("1h2m3s", 3723), ("00:05:00", 300)],
)
def test_durations_in_every_form_devices_print(text: str, seconds: int) -> None:
    assert parse._seconds(text) == seconds


def test_expectations_of_the_example_fabric() -> None:
    plans = {s: stackfile.load_stack(ROOT, s).plan for s in ("dc1", "dc2")}
    fabric = expect.expectations(plans, ["dc1"])
    r1 = fabric.device("dc1-r1")
    assert {fabric.name_of(a) for a in r1.bgp} == {"dc1-r2", "dc1-hv1", "dc1-hv2", "dc2-r1"}
    assert set(r1.wireguard.values()) == {"dc1-r2", "dc1-hv1", "dc1-hv2", "dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"}
    acme = r1.vnis[10010]
    assert acme.route_target == "65000:10010" and not acme.l3
    assert {fabric.name_of(a) for a in acme.vteps} == {"dc1-r2", "dc2-r1", "dc2-r2", "dc1-hv1", "dc1-hv2"}
    assert r1.vnis[plans["dc1"].tenants[0].l3_vni].route_target == "65000:10"
    assert {d.stack for d in fabric.devices} == {"dc1"} and not fabric.unknown
    # dc2's plan unknown: its members' segments are neither required nor refused
    alone = expect.expectations({"dc1": plans["dc1"]}, ["dc1"])
    assert {alone.name_of(a) for a in alone.unknown} == {"dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"}


def _device(**vnis: expect.Vni) -> expect.Device:
    return expect.Device(
        name="n1",
        kind=expect.NODE,
        stack="lab",
        site="a",
        mesh_address="172.27.1.1",
        bgp={"172.27.1.2": "n2"},
        wireguard={"172.27.1.2": "n2"},
        vnis={v.vni: v for v in vnis.values()},
    )


def test_checks_name_each_problem() -> None:
    want = expect.Vni(10010, "red", "main", "65000:10010", frozenset({"172.27.1.2"}), "vxlan10010")
    fabric = expect.Fabric((_device(red=want),), {"172.27.1.2": "n2", "172.27.9.9": "x9"}, frozenset({"172.27.8.8"}))
    facts = DeviceFacts(
        "n1",
        expect.NODE,
        bgp=(BgpSession("172.27.1.2", "Connect", 0, 0), BgpSession("172.27.9.9", "Established", 1, 1)),
        wireguard=(WireguardPeer("k", "", ("172.27.1.2/32",), 400, 0, 0),),
        vnis=(
            VniState(
                10010,
                "L2",
                remote_vteps=("172.27.8.8", "172.27.9.9"),
                import_rts=("65000:1",),
                export_rts=("65000:10010",),
            ),
            VniState(10020, "L2", in_kernel=False),
        ),
        flood={"vxlan10010": ("172.27.1.2",)},
    )
    bad = {r.check: r.reason for r in verify.verify(fabric, {"n1": facts}) if r.status == "fail"}
    assert bad == {
        "bgp-sessions": "n2 (172.27.1.2) is Connect; unplanned session with x9 (172.27.9.9)",
        "wireguard-handshakes": "no handshake within 180 s: n2 (400 s ago)",
        "tenant-vnis": "VNI 10020 (L2) is not planned here",
        "vtep-flood-lists": "VNI 10010 (red main): no n2 (EVPN); unplanned x9 (EVPN)",
        "route-targets": "VNI 10010 (red main) imports 65000:1, not 65000:10010",
    }
    # a longer handshake window passes that check
    assert all(
        r.passed
        for r in verify.verify(fabric, {"n1": facts}, handshake_within=600)
        if r.check == "wireguard-handshakes"
    )


def test_a_device_not_reached_fails_once_and_skips_the_rest() -> None:
    fabric = expect.Fabric((_device(),))
    results = verify.verify(fabric, {"n1": DeviceFacts("n1", expect.NODE, errors=("ssh: refused",))})
    assert [(r.check, r.status) for r in results][:2] == [("reachable", "fail"), ("bgp-sessions", "skip")]
    assert results[0].reason == "ssh: refused"


@given(st.text(max_size=60))
def test_junit_holds_any_reason_and_parses_back(reason: str) -> None:
    """A device's error text may hold anything (quotes, markup, NUL): the XML stays well-formed
    and says it, with what XML cannot hold shown as U+FFFD."""
    results = [verify.Result("reachable", "n1", "fail", reason), verify.Result("bgp-sessions", "n1", "skip", reason)]
    root = ET.fromstring(report.junit(results, "fabric-lab", 1.0))
    failure, skipped = next(root.iter("failure")), next(root.iter("skipped"))
    assert failure.get("message") == skipped.get("message") == report._xml_text(reason)
    # element text: XML reads a carriage return as a line end
    assert (failure.text or "") == report._xml_text(reason).replace("\r\n", "\n").replace("\r", "\n")


def test_expectations_survive_their_trip_through_a_resource_input() -> None:
    plans = {s: stackfile.load_stack(ROOT, s).plan for s in ("dc1", "dc2")}
    fabric = expect.expectations(plans, ["dc1", "dc2"])
    data = expect.to_data(fabric)
    assert expect.from_data(json.loads(json.dumps(data))) == fabric


def test_an_answer_of_any_shape_is_could_not_read_never_a_crash() -> None:
    """A device is not trusted: JSON of another shape, a missing clock, garbage."""
    answers = {
        "now": "sh: date: not found",
        "bgp": json.dumps({"peers": {"172.27.1.1": 1}}),
        "vnis": json.dumps([1, 2]),
        "routes": "{}",
        "wireguard": "kEGc=\t-\t(none)\t172.27.1.1/32\t1000\t0\t0\t25",
        "flood": json.dumps([1]),
    }
    facts = parse.linux_facts("n1", expect.NODE, answers, 0.1)
    assert facts.bgp is None and facts.wireguard is None and facts.vnis is None and facts.flood is None
    assert [e.split(":")[0] for e in facts.errors] == ["bgp", "wireguard", "evpn", "flood"]
    assert "the host's clock did not answer: sh: date: not found" in facts.errors[1]
    assert "unexpected shape (AttributeError" in facts.errors[0]


def test_a_linux_vteps_unread_flood_list_fails_its_check_and_a_missing_vrrp_group_fails() -> None:
    want = expect.Vni(10010, "red", "main", "65000:10010", frozenset(), "vxlan10010")
    fabric = expect.Fabric((_device(red=want),), {"172.27.1.2": "n2"})
    facts = DeviceFacts(
        "n1",
        expect.NODE,
        errors=("flood: not `bridge -j fdb` JSON: bridge: not found",),
        bgp=(BgpSession("172.27.1.2", "Established", 1, 1),),
        wireguard=(WireguardPeer("k", "", ("172.27.1.2/32",), 5, 0, 0),),
        vnis=(VniState(10010, "L2", import_rts=("65000:10010",), export_rts=("65000:10010",)),),
    )
    bad = {r.check: r.reason for r in verify.verify(fabric, {"n1": facts}) if r.status == "fail"}
    assert bad == {"vtep-flood-lists": "could not read flood: not `bridge -j fdb` JSON: bridge: not found"}
    group = expect.VrrpGroup("red-a", "red", "a")
    routers = tuple(
        expect.Device(n, expect.ROUTER, "dc", "a", f"172.27.1.{i}", {}, {}, {}, (group,))
        for i, n in ((1, "r1"), (2, "r2"))
    )
    vrrp = {
        "r1": DeviceFacts("r1", expect.ROUTER, vrrp=(VrrpState("red-a", "br10010", 1, "MASTER"),)),
        "r2": DeviceFacts("r2", expect.ROUTER, vrrp=()),
    }
    results = verify.vrrp_masters(expect.Fabric(routers), vrrp)
    assert [(r.status, r.reason) for r in results] == [("fail", "r2 does not hold the group")]


def test_vyos_text_edge_cases() -> None:
    assert parse.bgp_summary_text("% No L2VPN EVPN neighbor is configured\n") == ()
    assert parse._size("512 bytes") == 512 and parse._size("2 KB") == 2048 and parse._size("1.50 KiB") == 1536
    with pytest.raises(parse.ParseError, match="not a BGP summary"):
        parse.bgp_summary_text("Exiting: failed to connect to any daemons.")


def test_device_text_is_shown_without_control_characters() -> None:
    """An escape sequence in a device's answer would act on the operator's terminal."""
    from rich.console import Console

    hostile = "\x1b[2J\x1b]52;c;ZXZpbA==\x07:white_check_mark:\ud800" + "x" * 400
    assert "\x1b" not in report.shown(hostile) and "\ud800" not in report.shown(hostile)
    assert len(report.shown(hostile)) == report.SHOWN_CHARS
    facts = {"n1": DeviceFacts("n1", expect.NODE, wireguard=(WireguardPeer("k", hostile, (), None, 0, 0),))}
    console = Console(record=True, width=400, emoji=False, markup=False, highlight=False)
    console.print(report.status_tables(expect.Fabric((_device(),)), facts))
    text = console.export_text()
    assert "\x1b" not in text and ":white_check_mark:" in text and "✅" not in text


def test_a_stack_alone_expects_only_its_own_members() -> None:
    """The post-up check (peers=False): dc2's members are unknown, neither required nor refused."""
    plans = {s: stackfile.load_stack(ROOT, s).plan for s in ("dc1", "dc2")}
    fabric = expect.expectations({"dc1": plans["dc1"]}, ["dc1"], peers=False)
    r1 = fabric.device("dc1-r1")
    assert set(r1.bgp.values()) == {"dc1-r2", "dc1-hv1", "dc1-hv2"}
    assert set(r1.wireguard.values()) == {"dc1-r2", "dc1-hv1", "dc1-hv2"}
    assert {fabric.name_of(a) for a in r1.vnis[10010].vteps} == {"dc1-r2", "dc1-hv1", "dc1-hv2"}
    assert {fabric.name_of(a) for a in fabric.unknown} == {"dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"}


def test_a_stack_without_its_own_reflector_expects_no_flood_list_of_its_own(tmp_path: Path) -> None:
    """c1 and c2 in a stack of their own, served by the lab stack's reflectors: their type-3
    routes reach each other only through the other stack, so its post-up check requires
    neither sessions nor VTEPs, and refuses none of theirs."""
    import yaml

    lab = yaml.safe_load((ROOT / "Pulumi.lab.yaml").read_text())
    config = lab["config"]
    nodes = config.pop("fabric:nodes")
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    for stack, names, peers in (("lab", {"a1", "a2", "b1", "b2"}, ["edge"]), ("edge", {"c1", "c2"}, ["lab"])):
        mine = [n for n in nodes if n["name"] in names]
        data = {"config": {**config, "fabric:nodes": mine, "fabric:peer_stacks": peers}}
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data))
    plan = stackfile.load_stack(tmp_path, "edge").plan
    fabric = expect.expectations({"edge": plan}, ["edge"], peers=False)
    c1 = fabric.device("c1")
    assert c1.bgp == {} and c1.wireguard == {"172.27.3.2": "c2"}
    assert all(not v.vteps for v in c1.vnis.values())
    assert {"172.27.3.2", "172.27.1.1", "172.27.2.1"} <= c1.optional
    seen = VniState(
        10010, "L2", remote_vteps=("172.27.1.1", "172.27.3.2"), import_rts=("65000:10010",), export_rts=("65000:10010",)
    )
    facts = DeviceFacts(
        "c1",
        expect.NODE,
        bgp=(BgpSession("172.27.1.1", "Established", 1, 4),),
        wireguard=(
            WireguardPeer("k", "", ("172.27.3.2/32",), 5, 0, 0),
            WireguardPeer("j", "", ("172.27.1.1/32",), 5, 0, 0),
        ),
        vnis=(seen, replace(seen, vni=10030, import_rts=("65000:10030",), export_rts=("65000:10030",))),
        flood={"vxlan10010": ("172.27.1.1", "172.27.3.2"), "vxlan10030": ("172.27.3.2",)},
    )
    results = [r for r in verify.verify(fabric, {"c1": facts}) if r.subject == "c1"]
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    # the whole fabric (peers=True) requires c2 and the reflectors
    both = {s: stackfile.load_stack(tmp_path, s).plan for s in ("lab", "edge")}
    whole = expect.expectations(both, ["edge"]).device("c1")
    assert set(whole.bgp.values()) == {"a1", "b1"} and whole.optional == frozenset()


def test_a_cut_answer_leaves_no_question_unanswered_unnoticed() -> None:
    """A question whose section never came (the script's output cut) is unread, not empty."""
    facts = parse.linux_facts("n1", expect.NODE, {"now": "1000\n", "bgp": json.dumps(SUMMARY)}, 0.1)
    assert facts.bgp is not None and facts.wireguard is None and facts.flood is None
    assert "wireguard: no answer to 'wireguard'" in facts.errors
