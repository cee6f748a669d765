"""``status`` and ``verify`` against VyOS routers: the API emulator, linked into the example fabric.

No VyOS router runs here: every router of the example stacks dc1 and dc2 is a
:class:`~tests.beds.vyos_emulator.VyosEmulator` holding its rendered config with real keys
(``tests/beds/emulated_fabric.py``); what the routers would learn from each other is
derived from their configs by the rules of ``tests/beds/vyos_opstate.py``. The reads go
through the same code as against a real router (``fabric.devices.read``: the VyOS
provider's client, the certificate pinned), and the answers are parsed by the same
parsers as a real router's.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabric.health import parse, report, verify
from fabric.health.facts import DeviceFacts
from providers.keys import generate_keypair
from tests.beds.emulated_fabric import API_KEY, EmulatedFabric
from tests.beds.vyos_emulator import VyosEmulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fabric() -> Iterator[EmulatedFabric]:
    f = EmulatedFabric(ROOT, ["dc1", "dc2"])
    try:
        yield f
    finally:
        f.close()


def failing(results: list[verify.Result]) -> dict[tuple[str, str], str]:
    return {(r.check, r.subject): r.reason for r in results if r.status == "fail"}


def show(e: VyosEmulator, *path: str) -> str:
    import httpx

    with httpx.Client(verify=False) as client:  # loopback emulator; the pinned path is read.read_all's
        reply = client.post(f"{e.url}/show", json={"key": API_KEY, "op": "show", "path": list(path)})
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert isinstance(data, str)
    return data


def test_the_converged_example_fabric_passes_every_check(fabric: EmulatedFabric) -> None:
    facts = fabric.read()
    results = verify.verify(fabric.fabric, facts)
    assert not failing(results), failing(results)
    checks = {r.check for r in results}
    assert checks == set(verify.CHECKS), checks
    # dc1-r1 is dc1's reflector: sessions to dc1-r2, both hypervisors and dc2's reflector
    r1 = facts["dc1-r1"]
    assert {s.peer for s in r1.bgp or ()} == {"172.27.1.2", "172.27.1.129", "172.27.1.130", "172.27.2.1"}
    assert all(s.established and s.prefixes > 0 for s in r1.bgp or ())
    # every planned peer handshaked; acme's first segment floods to the other routers and the hypervisors
    assert len(r1.wireguard or ()) == len(fabric.fabric.device("dc1-r1").wireguard)
    acme = r1.vni(10010)
    assert acme is not None and acme.kind == "L2" and acme.routes == {"3": 6}
    assert set(acme.remote_vteps) == {"172.27.1.2", "172.27.1.129", "172.27.1.130", "172.27.2.1", "172.27.2.2"}
    planned = fabric.fabric.device("dc1-r1").vnis.values()
    acme_l3 = r1.vni(next(v.vni for v in planned if v.l3 and v.tenant == "acme"))
    assert acme_l3 is not None and acme_l3.kind == "L3" and acme_l3.vrf == "acme" and acme_l3.routes["5"] > 0
    tenants = [v for v in r1.vnis or () if v.kind == "L3"]
    assert len(tenants) == 3 and all(v.routes.get("5", 0) > 0 and v.vrf for v in tenants)
    # one master per group: the lower router id (higher priority), as the plan says
    assert {g.state for g in facts["dc1-r1"].vrrp or ()} == {"MASTER"}
    assert {g.state for g in facts["dc1-r2"].vrrp or ()} == {"BACKUP"}
    assert r1.vrf_routes is not None and r1.vrf_routes["acme"] >= 2


def test_a_stopped_router_fails_reachable_and_its_peers_sessions(fabric: EmulatedFabric) -> None:
    fabric.emulators["dc2-r2"].stop()
    results = verify.verify(fabric.fabric, fabric.read())
    bad = failing(results)
    assert (
        bad[("reachable", "dc2-r2")] == f"api: cannot connect to {fabric.emulators['dc2-r2'].url}: Connection refused"
    )
    assert all(r.status == "skip" for r in results if r.subject == "dc2-r2" and r.check != "reachable")
    assert "dc2-r2 (172.27.2.2) is Active" in bad[("bgp-sessions", "dc2-r1")]
    assert bad[("wireguard-handshakes", "dc1-r1")] == "no handshake yet: dc2-r2"
    assert "no dc2-r2" in bad[("vtep-flood-lists", "dc1-r2")]
    assert "dc2-r2 could not be read" in bad[("vrrp-masters", "acme-dc2@dc2")]
    # dc1's groups are untouched
    assert ("vrrp-masters", "acme-dc1@dc1") not in bad


def test_a_wrong_wireguard_key_fails_exactly_that_tunnel(fabric: EmulatedFabric) -> None:
    """dc1-r2 holds a key for dc2-r1 that is not dc2-r1's: that tunnel never handshakes (on
    both sides), so no session rides it; every other tunnel stays up."""
    _, wrong = generate_keypair()
    fabric.emulators["dc1-r2"].set_by_hand(("interfaces", "wireguard", "wg0", "peer", "dc2-r1", "public-key", wrong))
    bad = failing(verify.verify(fabric.fabric, fabric.read()))
    assert bad[("wireguard-handshakes", "dc1-r2")] == "no handshake yet: dc2-r1"
    assert bad[("wireguard-handshakes", "dc2-r1")] == "no handshake yet: dc1-r2"
    assert {k[0] for k in bad} == {"wireguard-handshakes"}, bad


def test_two_masters_and_no_master_are_named(fabric: EmulatedFabric) -> None:
    fabric.emulators["dc1-r2"].forced_vrrp["acme-dc1"] = "MASTER"
    fabric.emulators["dc2-r1"].forced_vrrp["globex-dc2"] = "FAULT"
    bad = failing(verify.verify(fabric.fabric, fabric.read()))
    assert bad[("vrrp-masters", "acme-dc1@dc1")] == "2 masters (dc1-r1 MASTER, dc1-r2 MASTER)"
    assert bad[("vrrp-masters", "globex-dc2@dc2")] == "no master (dc2-r1 FAULT, dc2-r2 BACKUP)"
    assert {k[0] for k in bad} == {"vrrp-masters"}


def test_frr_down_on_a_router_fails_the_checks_that_need_it(fabric: EmulatedFabric) -> None:
    """A failing op-mode command answers 200 with its error text (vyos-1x's op-mode wrapper
    exits 0): the parser refuses it and the checks say why."""
    down = "% Exiting: failed to connect to any daemons.\n"
    e = fabric.emulators["dc1-r2"]
    for question in ("bgp", "vnis", "routes"):
        e.break_op_mode(parse.VYOS_QUESTIONS[question], down)
    bad = failing(verify.verify(fabric.fabric, fabric.read()))
    assert bad[("bgp-sessions", "dc1-r2")].startswith("could not read bgp: not a BGP summary: % Exiting")
    assert bad[("tenant-vnis", "dc1-r2")].startswith("could not read evpn: not FRR's JSON: % Exiting")


def test_a_tenant_vni_removed_by_hand_is_missing_there_and_on_its_peers(fabric: EmulatedFabric) -> None:
    e = fabric.emulators["dc1-r2"]
    vxlan = next(n for n, c in e.config_tree()["interfaces"]["vxlan"].items() if c.get("vni") == "10020")
    e.delete_by_hand(("interfaces", "vxlan", vxlan))
    bad = failing(verify.verify(fabric.fabric, fabric.read()))
    assert bad[("tenant-vnis", "dc1-r2")] == "VNI 10020 (globex main) missing"
    assert bad[("vtep-flood-lists", "dc2-r1")] == "VNI 10020 (globex main): no dc1-r2 (EVPN)"


def test_op_mode_takes_json_only_where_its_tree_has_a_value(fabric: EmulatedFabric) -> None:
    """vyos-1x's op-mode interpreter: ``json`` after ``summary`` or ``vrrp`` is no word of the tree."""
    import httpx

    e = fabric.emulators["dc1-r1"]
    with httpx.Client(verify=False) as client:
        for path in (["bgp", "l2vpn", "evpn", "summary", "json"], ["vrrp", "json"], ["evpn", "vni", "detail", "json"]):
            reply = client.post(f"{e.url}/show", json={"key": API_KEY, "op": "show", "path": path})
            assert reply.status_code == 400 and "Invalid command" in reply.json()["error"], path
    for question in parse.VYOS_QUESTIONS.values():
        assert show(e, *question)


@pytest.mark.parametrize("version", ["1.4", "1.5"])
def test_each_answer_parses_in_both_releases(version: str) -> None:
    """Each ``/show`` answer of a 1.4 and a 1.5 router parses into what its config holds."""
    private, public = generate_keypair()
    _, peer = generate_keypair()
    config = [
        ("interfaces", "wireguard", "wg0", "address", "172.27.1.1/32"),
        ("interfaces", "wireguard", "wg0", "private-key", private),
        ("interfaces", "wireguard", "wg0", "peer", "r2", "public-key", peer),
        ("interfaces", "wireguard", "wg0", "peer", "r2", "allowed-ips", "172.27.1.2/32"),
        ("interfaces", "wireguard", "wg0", "peer", "r2", "address", "192.0.2.2"),
        ("interfaces", "wireguard", "wg0", "peer", "r2", "port", "51820"),
        ("interfaces", "vxlan", "vxlan10010", "vni", "10010"),
        ("interfaces", "vxlan", "vxlan10010", "source-address", "172.27.1.1"),
        ("interfaces", "bridge", "br10010", "member", "interface", "vxlan10010"),
        ("interfaces", "bridge", "br10010", "address", "100.65.10.2/24"),
        ("high-availability", "vrrp", "group", "acme-dc1", "interface", "br10010"),
        ("high-availability", "vrrp", "group", "acme-dc1", "vrid", "1"),
        ("high-availability", "vrrp", "group", "acme-dc1", "priority", "200"),
        ("high-availability", "vrrp", "group", "acme-dc1", "address", "100.65.10.1/24"),
        ("protocols", "bgp", "system-as", "65000"),
        ("protocols", "bgp", "neighbor", "172.27.1.2", "remote-as", "internal"),
    ]
    from tests.engine.project import bootstrap_config

    with VyosEmulator(API_KEY, version, initial=[*bootstrap_config(API_KEY, version), *config], hostname="r1") as e:
        answers = {name: show(e, *path) for name, path in parse.VYOS_QUESTIONS.items()}
    facts: DeviceFacts = parse.vyos_facts("r1", answers, 0.1, {})
    assert facts.errors == ()
    assert facts.bgp is not None and [(s.peer, s.state) for s in facts.bgp] == [("172.27.1.2", "Active")]
    assert facts.wireguard is not None and [
        (p.public_key, p.allowed_ips, p.handshake_age_s) for p in facts.wireguard
    ] == [(peer, ("172.27.1.2/32",), None)]
    assert facts.vnis is not None and [(v.vni, v.kind, v.import_rts, v.routes) for v in facts.vnis] == [
        (10010, "L2", ("65000:10010",), {"3": 1})
    ]
    assert facts.vrrp is not None and [(g.group, g.interface, g.vrid, g.state) for g in facts.vrrp] == [
        ("acme-dc1", "br10010", 1, "MASTER")
    ]
    assert facts.vrf_routes == {"default": 2}
    assert public not in json.dumps(facts.to_json())  # only peers' keys are read, never the router's own


def test_reports_render_and_the_junit_xml_parses(fabric: EmulatedFabric, tmp_path: Path) -> None:
    fabric.emulators["dc1-r2"].forced_vrrp["acme-dc1"] = "MASTER"
    facts = fabric.read()
    results = verify.verify(fabric.fabric, facts)
    root = ET.fromstring(report.junit(results, "fabric-dc1-dc2", 0.5))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == set(verify.CHECKS)
    assert suites["vrrp-masters"].get("failures") == "1"
    failure = next(root.iter("failure"))
    assert failure.get("message") == "2 masters (dc1-r1 MASTER, dc1-r2 MASTER)"
    assert root.get("tests") == str(len(results))
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(report.status_tables(fabric.fabric, facts))
    console.print(report.status_summary(facts, 0.5))
    text = console.export_text()
    assert "BGP EVPN sessions" in text and "VRRP groups" in text and "4/4 devices answered" in text
