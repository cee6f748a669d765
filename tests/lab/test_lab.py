"""The lab: a real, encrypted, multi-tenant EVPN fabric on this machine, built by ``pulumi up --stack lab``.

Real parts throughout: six booted Debian nodes (systemd-nspawn containers with systemd,
networkd, sshd, FRR 8.4 and wireguard-go, each in its own network namespace) on a
private underlay, configured by the real Pulumi CLI through the same Node components
and host provider production uses, over SSH with pinned host keys. Endpoints are
namespaces on the nodes' tenant bridges. Every address is inside namespaces this test
creates; nothing is sent anywhere else. The module starts its lab and tears it down
(``pulumi destroy``, then every namespace, container and process, checked at the end).

Config (``Pulumi.lab.yaml``): sites lab-a and lab-b (datacenters, a reflector each) and
lab-c (a cloud site, served by both reflectors), two ``frr`` nodes each, and in lab-a and
lab-b an ``l2`` node (a3, b3: the hypervisor's kind of VTEP, no address on any segment,
no router) with tenant ports (a3: red and green, b3: blue); tenants red (all three
sites), green (a, b) and blue (b, c); underlay MTU 1610, so tenants get exactly 1500.
"""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from netaddr import IPAddress, IPNetwork

import lab
from fabric.health import verify
from lab import dataplane
from tests.lab.lab_fabric import LabFabric, wait_until

#: FRR's datacenter profile holds a session for 9 s; what the fabric needs to notice a loss.
HOLD_S = 9


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFabric]:
    f = LabFabric(tmp_path_factory.mktemp("lab"))
    try:
        f.up()
        f.wait_converged()
        yield f
        f.destroy()
        for node in f.node_names():  # destroy undid what up made, on every node
            links = lab.exec_in(f.state, node, ["ip", "-br", "link"], check=True).stdout
            assert not re.search(r"^(wg0|br1\d+|vxlan\d+) ", links, re.M), (node, links)
            left = lab.exec_in(f.state, node, ["ls", "/etc/wireguard", "/etc/frr", "/etc/systemd/network"]).stdout
            assert "wg0.conf" not in left and "frr.conf" not in left and "60-" not in left, (node, left)
            assert lab.exec_in(f.state, node, ["systemctl", "is-active", "frr"]).stdout.strip() != "active"
    finally:
        f.close()
    assert not [ns for ns in _netns() if ns.startswith("fablab-")], "the lab left network namespaces"
    assert not Path("/run/fabric-lab/state.json").exists()


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def by_label(f: LabFabric) -> dict[str, dataplane.Endpoint]:
    return {e.label: e for e in f.endpoints}


def test_every_same_tenant_pair_reaches_at_the_planned_mtu(fabric: LabFabric) -> None:
    """Full-size (1500) don't-fragment packets cross every site pair; one byte more does not
    fit through the fabric (the endpoints themselves would send it: their MTU is larger)."""
    assert fabric.tenant_mtu == 1500
    m = fabric.matrix()
    same = {k: v for k, v in m.items() if k[0].split("@")[0] == k[1].split("@")[0]}
    # red on 7 endpoints (6 frr nodes and a3), green on 5 (4 and a3), blue on 5 (4 and b3), red's
    # segment db on the 4 frr nodes of the datacenters.
    assert len(same) == 7 * 6 + 5 * 4 + 5 * 4 + 4 * 3 and all(same.values()), [k for k, v in same.items() if not v]
    full = fabric.matrix(size=1500 - 28)  # 28 = IPv4 + ICMP headers
    assert all(full[k] for k in same), [k for k in same if not full[k]]
    over = fabric.matrix(size=1500 - 28 + 1)
    assert not any(over.values())


def test_no_endpoint_reaches_another_tenant(fabric: LabFabric) -> None:
    """Not across sites, not on the same node (whose addresses on other tenants' segments stay
    silent too); nor, at L2, another segment of its own tenant (the lab has no gateway to route)."""
    m = fabric.matrix()
    other = [k for k in m if k[0].split("@")[0] != k[1].split("@")[0]]
    assert len(other) == 21 * 20 - 94
    assert not any(m[k] for k in other), [k for k in other if m[k]]
    eps = by_label(fabric)
    # red@b1 next to green and blue on b1: only red's own gateway (b1's red address) answers.
    answered = dataplane.reach(
        fabric.state, eps["red@b1"], [eps["red@b1"].gateway, eps["green@b1"].gateway, eps["blue@b1"].gateway]
    )
    assert list(answered.values()) == [True, False, False]


def test_a_tenants_second_segment_is_an_l2_segment_of_its_own(fabric: LabFabric) -> None:
    """red's segment db (its own VNI and block, slot 16 x 10 + 1 of tenant_segments) spans the frr
    nodes of the two datacenters: its endpoints reach each other across sites and nothing else at
    L2, not red's first segment, not green or blue; a node answers on db only from db."""
    db = [e for e in fabric.endpoints if e.name == "red-db"]
    assert sorted(e.node for e in db) == ["a1", "a2", "b1", "b2"]
    assert all(IPAddress(e.ip) in IPNetwork("100.112.161.0/24") for e in db)
    m = fabric.matrix()
    for a in db:
        reached = {b.label for b in fabric.endpoints if b != a and m[(a.label, b.label)]}
        assert reached == {b.label for b in db if b != a}, a.label
    eps = by_label(fabric)
    answered = dataplane.reach(fabric.state, eps["red-db@a1"], [eps["red-db@a1"].gateway, eps["red@a1"].gateway])
    assert list(answered.values()) == [True, False]


def test_the_underlay_carries_only_wireguard(fabric: LabFabric) -> None:
    """During a full matrix of pings, every IP packet on the underlay is WireGuard (UDP 51820
    between node endpoints): no cleartext VXLAN, BGP or ICMP."""
    with dataplane.capture() as lines:
        fabric.matrix()
        fabric.matrix(size=fabric.tenant_mtu - 28)  # full-size tenant packets: never fragmented
    assert len(lines) > 100
    wireguard = re.compile(r"^\S+ IP 10\.254\.0\.\d+\.51820 > 10\.254\.0\.\d+\.51820: UDP, length (\d+)$")
    others = [line for line in lines if not wireguard.match(line)]
    assert others == []
    # The largest: a 1500-byte tenant packet + VXLAN (50) + WireGuard data header and tag (32).
    assert max(int(m.group(1)) for line in lines if (m := wireguard.match(line))) == 1500 + 50 + 32


def test_evpn_routes_are_on_every_node_for_its_tenants_only(fabric: LabFabric) -> None:
    """Read from FRR's JSON: each node has exactly its tenants' VNIs, a type-3 route per VTEP of
    the tenant, a type-2 MAC/IP route per endpoint of the tenant on an frr node and a type-2
    route with the port's MAC for one on an l2 node (which has no address there to learn IPs
    with), and nothing of another."""
    plan_nodes = {n.name: n for n in fabric.plan_nodes()}
    # Per segment (its endpoints' name: the tenant's, with the segment's past the first).
    segments = {dataplane.segment_name(c): c.segment.vni for n in plan_nodes.values() for c in n.tenants}
    assert set(segments) == {"red", "green", "blue", "red-db"}
    vteps = {
        s: [n for n in plan_nodes.values() if any(dataplane.segment_name(c) == s for c in n.tenants)] for s in segments
    }
    for name, node in plan_nodes.items():
        state = dataplane.evpn(fabric.state, name)
        mine = {dataplane.segment_name(c) for c in node.tenants}
        assert set(state) == {segments[s] for s in mine}, name
        for t in mine:
            routes = state[segments[t]]
            assert {p.split("]:[")[-1].rstrip("]") for p in routes["3"]} == {str(n.mesh_address) for n in vteps[t]}
            ips = {p.split("]:[")[-1].rstrip("]") for p in routes["2"] if p.count("]:[") == 5}
            mine_eps = [e for e in fabric.endpoints if e.name == t]
            assert {e.ip for e in mine_eps if e.port is None} <= ips <= {e.ip for e in mine_eps}, (name, t)
            for e in mine_eps:
                assert e.port is None or any(f"[{e.mac}]" in p for p in routes["2"]), (name, t, e.label)


def test_adding_a_tenant_reaches_it_and_leaves_the_others_sessions_up(fabric: LabFabric) -> None:
    before = {n: dataplane.bgp_uptimes(fabric.state, n) for n in fabric.node_names()}

    def add(config: dict[str, Any]) -> None:
        config["fabric:tenants"].append({"name": "gold", "id": 40, "sites": ["lab-a", "lab-c"]})

    fabric.edit_config(add)
    summary = fabric.up()
    # Files change on the existing host resources (and a Tenant component appears); nothing is replaced.
    assert summary.get("replace", 0) == 0 and summary.get("delete", 0) == 0 and summary.get("update", 0) > 0
    fabric.wait_converged()
    gold = [e for e in fabric.endpoints if e.tenant == "gold"]
    assert {e.node for e in gold} == {"a1", "a2", "c1", "c2"}
    after = {n: dataplane.bgp_uptimes(fabric.state, n) for n in fabric.node_names()}
    for node, sessions in before.items():
        assert set(after[node]) == set(sessions), node  # every session still established
        for peer, uptime in sessions.items():
            assert after[node][peer] > uptime, f"{node}: the session to {peer} restarted"

    def remove(config: dict[str, Any]) -> None:
        config["fabric:tenants"] = [t for t in config["fabric:tenants"] if t["name"] != "gold"]

    fabric.edit_config(remove)
    gold_a1 = next(e for e in gold if e.node == "a1")
    fabric.project.up("lab")  # endpoints stay attached a moment: gold must now be unreachable
    assert not any(dataplane.reach(fabric.state, gold_a1, [e.ip for e in gold if e != gold_a1]).values())
    for node in ("a1", "c2"):
        links = lab.exec_in(fabric.state, node, ["ip", "-br", "link"]).stdout
        assert "br10040" not in links and "vxlan10040" not in links
    fabric.up()
    fabric.wait_converged()


def test_rotating_one_nodes_key_keeps_or_restores_reachability(fabric: LabFabric) -> None:
    def key_of(node: str) -> str:
        return lab.exec_in(fabric.state, node, ["wg", "show", "wg0", "public-key"], check=True).stdout.strip()

    old = key_of("b2")

    def rotate(config: dict[str, Any]) -> None:
        next(n for n in config["fabric:nodes"] if n["name"] == "b2")["key_rotation"] = 1

    fabric.edit_config(rotate)
    fabric.up()
    new = key_of("b2")
    assert new != old
    peers = lab.exec_in(fabric.state, "a1", ["wg", "show", "wg0", "peers"], check=True).stdout.split()
    assert new in peers and old not in peers
    fabric.wait_converged()


def test_status_shows_every_session_established_and_every_handshake_recent(fabric: LabFabric) -> None:
    """``python -m fabric status --stack lab``: every node answers over SSH (host key pinned,
    the stack's key read by the Pulumi CLI), every BGP session is established, every
    WireGuard peer handshaked within 3 minutes, and each node holds exactly its VNIs."""
    done = fabric.fabric_cli("status", "--stack", "lab", "--json")
    assert done.returncode == 0, done.stderr
    devices = json.loads(done.stdout)["devices"]
    plan = fabric.plan()
    assert set(devices) == {n.name for n in plan.nodes}
    for node in plan.nodes:
        d = devices[node.name]
        assert d["reached"] and d["errors"] == [], (node.name, d["errors"])
        assert {s["peer"]: s["state"] for s in d["bgp"]} == {n.address: "Established" for n in node.bgp_neighbors}
        assert len(d["wireguard"]) == len(node.wireguard_peers)
        assert all(p["handshake_age_s"] is not None and p["handshake_age_s"] <= 180 for p in d["wireguard"])
        assert {v["vni"] for v in d["vnis"]} == {c.segment.vni for c in node.tenants}
    text = fabric.fabric_cli("status", "--stack", "lab")
    assert text.returncode == 0 and "BGP EVPN sessions" in text.stdout and "8/8 devices answered" in text.stdout


def test_verify_passes_on_the_converged_lab(fabric: LabFabric, tmp_path: Path) -> None:
    report = tmp_path / "verify.xml"
    done = fabric.fabric_cli("verify", "--stack", "lab", "--junit", str(report))
    assert done.returncode == 0, done.stdout
    assert "48 passed, 0 failed, 0 skipped" in done.stdout
    root = ET.parse(report).getroot()
    assert root.get("tests") == "48" and root.get("failures") == "0"
    assert {s.get("name") for s in root.iter("testsuite")} == set(verify.CHECKS) - {"vrrp-masters"}


def test_pulumi_up_verifies_the_fabric_and_fails_when_it_does_not_converge(fabric: LabFabric) -> None:
    """``fabric:verify: {after_up: true}`` (Pulumi.lab.yaml): every ``up`` so far ended with the
    checks passing (the resource holds their count); with c2's FRR stopped, an ``up`` that
    changes the deadline runs them again and fails after it, naming what did not converge."""
    state = json.loads(fabric.project.export("lab"))
    checks = [r for r in state["deployment"]["resources"] if r["type"].endswith("fabric:FabricVerify")]
    assert [r["outputs"]["checks"] for r in checks] == [48]

    def deadline(seconds: int) -> Callable[[dict[str, Any]], None]:
        return lambda config: config["fabric:verify"].update(deadline=seconds)

    lab.exec_in(fabric.state, "c2", ["systemctl", "stop", "frr"], check=True)
    try:
        fabric.edit_config(deadline(10))
        failed = fabric.project.run("up", "-s", "lab", "--yes", "--skip-preview", check=False)
        assert failed.returncode != 0
        assert "the fabric did not converge within 10 s" in failed.stdout
        assert "bgp-sessions c2: could not read bgp" in failed.stdout
    finally:
        lab.exec_in(fabric.state, "c2", ["systemctl", "start", "frr"], check=True)
        fabric.edit_config(deadline(60))
    fabric.up()
    fabric.wait_converged()


def test_verify_names_a_wrong_wireguard_key(fabric: LabFabric) -> None:
    """b2's tunnel restarts with a key nobody knows: exactly b2's handshake check fails, naming
    every peer; its old key back, every check passes again."""
    conf = "/etc/wireguard/wg0.conf"
    script = f'cp {conf} /run/wg0.conf.good && sed -i "s|^PrivateKey = .*|PrivateKey = $(wg genkey)|" {conf}'
    lab.exec_in(fabric.state, "b2", ["sh", "-c", f"{script} && systemctl restart wg-quick@wg0"], check=True)
    try:
        bad = fabric.failing_checks()
        assert bad[("wireguard-handshakes", "b2")] == "no handshake yet: a1, a2, a3, b1, b3, c1, c2"
        assert all(check != "wireguard-handshakes" or subject == "b2" for check, subject in bad)
    finally:
        restore = f"cp /run/wg0.conf.good {conf} && systemctl restart wg-quick@wg0"
        lab.exec_in(fabric.state, "b2", ["sh", "-c", restore], check=True)
    done = fabric.fabric_cli("verify", "--stack", "lab", "--wait", "60")
    assert done.returncode == 0, done.stdout


def test_verify_names_a_tenant_vni_removed_by_hand(fabric: LabFabric) -> None:
    """green's VXLAN device deleted on a2: a2 misses VNI 10020, every other carrier of green
    floods without a2 (in EVPN and in the kernel), and nothing else fails."""
    lab.exec_in(fabric.state, "a2", ["ip", "link", "del", "vxlan10020"], check=True)
    try:
        bad: dict[tuple[str, str], str] = {}

        def named() -> bool:
            bad.clear()
            bad.update(fabric.failing_checks())
            return ("tenant-vnis", "a2") in bad and ("vtep-flood-lists", "b1") in bad

        wait_until(named, 30, "the missing VNI named")
        assert bad[("tenant-vnis", "a2")] == "VNI 10020 (green main) missing"
        green = {n.name for n in fabric.plan_nodes() for c in n.tenants if c.segment.vni == 10020} - {"a2"}
        assert {s for c, s in bad if c == "vtep-flood-lists"} == green
        assert bad[("vtep-flood-lists", "b1")] == "VNI 10020 (green main): no a2 (EVPN and kernel)"
        assert {c for c, _ in bad} == {"tenant-vnis", "vtep-flood-lists"}
    finally:
        lab.exec_in(fabric.state, "a2", ["networkctl", "reload"], check=True)  # networkd makes it again
    done = fabric.fabric_cli("verify", "--stack", "lab", "--wait", "60")
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("unit", ["frr", "wg-quick@wg0"])
def test_a_node_losing_frr_or_wireguard_spares_the_others_and_recovers(fabric: LabFabric, unit: str) -> None:
    """c2 loses a daemon: the other nodes' endpoints keep reaching each other, and ``verify``
    names what broke (c2's own reads, the reflectors' sessions with it); started again,
    everything is reachable again and every check passes."""
    lab.exec_in(fabric.state, "c2", ["systemctl", "stop", unit], check=True)
    try:
        others = [e for e in fabric.endpoints if e.node != "c2"]
        expected = dataplane.expected(others)
        wait_until(
            lambda: dataplane.matrix(fabric.state, others) == expected, 3 * HOLD_S, "the others still reach each other"
        )
        # ...and keep doing so after c2's sessions have timed out everywhere.
        wait_until(lambda: not _established_with(fabric, "c2"), 4 * HOLD_S, "c2's sessions timed out")
        assert dataplane.matrix(fabric.state, others) == expected
        bad = fabric.failing_checks()
        assert bad[("bgp-sessions", "a1")].startswith("c2 (172.27.3.2) is ")
        assert bad[("bgp-sessions", "b1")].startswith("c2 (172.27.3.2) is ")
        if unit == "frr":
            assert bad[("bgp-sessions", "c2")].startswith("could not read bgp: not FRR's JSON")
            assert not any(check == "wireguard-handshakes" for check, _ in bad)
        else:
            assert bad[("wireguard-handshakes", "c2")].startswith("could not read wireguard")
    finally:
        lab.exec_in(fabric.state, "c2", ["systemctl", "start", unit], check=True)
    fabric.wait_converged()
    done = fabric.fabric_cli("verify", "--stack", "lab", "--wait", "60")
    assert done.returncode == 0, done.stdout


def _established_with(fabric: LabFabric, node: str) -> bool:
    mesh = next(str(n.mesh_address) for n in fabric.plan_nodes() if n.name == node)
    return any(mesh in dataplane.bgp_uptimes(fabric.state, n) for n in ("a1", "b1"))


def test_an_l2_node_bridges_its_ports_and_nothing_else(fabric: LabFabric) -> None:
    """a3 runs no router and has no address on any segment (as a hypervisor): its red port
    reaches red on lab-b and lab-c at the full tenant MTU, not one byte more; it carries
    exactly its ports' tenants; each port is bridged by the node's own networkd file; and a
    port speaking from another MAC than the fabric gave it is dropped by the node."""
    eps = by_label(fabric)
    a3_red = eps["red@a3"]
    remote = [e for e in fabric.endpoints if e.name == "red" and e.site != "lab-a"]
    assert {e.node for e in remote} == {"b1", "b2", "c1", "c2"}
    size = fabric.tenant_mtu - 28
    assert all(dataplane.reach(fabric.state, a3_red, [e.ip for e in remote], size=size).values())
    assert not any(dataplane.reach(fabric.state, a3_red, [e.ip for e in remote], size=size + 1).values())
    links = {
        link["ifname"]: link for link in json.loads(lab.exec_in(fabric.state, "a3", ["ip", "-j", "-d", "link"]).stdout)
    }
    assert {n for n in links if n.startswith("br1")} == {"br10010", "br10020"}  # red and green, not blue
    assert links["vt-a3-red"]["master"] == "br10010" and links["vt-a3-green"]["master"] == "br10020"
    addresses = lab.exec_in(fabric.state, "a3", ["ip", "-br", "address", "show", "dev", "br10010"]).stdout.split()
    assert addresses[2:] == []  # "br10010 UP" and nothing else: the node has no address there
    # Another MAC on the port: the node's bridge filter drops every frame from it.
    ns = ["ip", "-n", fabric.state.endpoint("a3", "red").netns]
    subprocess.run([*ns, "link", "set", "eth0", "address", "02:fb:01:00:00:99"], check=True)
    try:
        assert not any(dataplane.reach(fabric.state, a3_red, [e.ip for e in remote]).values())
    finally:
        subprocess.run([*ns, "link", "set", "eth0", "address", a3_red.mac or ""], check=True)
    wait_until(lambda: all(dataplane.reach(fabric.state, a3_red, [e.ip for e in remote]).values()), 30, "red@a3 back")
