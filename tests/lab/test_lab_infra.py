"""The lab's infrastructure for real: three booted nodes, and everything the fabric needs in them.

Needs root (as CI has). The first run builds the cached Debian tree (72-77 s here);
after that the whole file takes about 15 s. A lab left up (by an interrupted run, or
by hand) is torn down first.
Inside the nodes: wireguard-go tunnels between nodes over the underlay (``wg-quick``
through its systemd unit), a VXLAN segment made by systemd-networkd riding inside
WireGuard, FRR with bgpd and an iBGP EVPN session over the tunnel, tenant endpoints
on the segment pinging across nodes at the full 1500-byte tenant MTU. Then ``down``
must leave no namespace, process, mount, link, cgroup or directory behind, also when
the process that brought the lab up was killed halfway.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from lab import (
    EndpointState,
    LabState,
    add_endpoint,
    default_spec,
    down,
    exec_in,
    exec_in_endpoint,
    host_key_line,
    operator_private_key,
    parse_spec,
    up,
)
from lab.keys import host_key_fingerprint
from lab.nodes import NETNS_DIR, PREFIX
from lab.state import state_file
from lab.system import LabError, alive, mounts_under, processes_rooted_under

ROOT = Path(__file__).resolve().parents[2]
MESH_PORT = 51820
#: Underlay 1700 - 60 (WireGuard over IPv4) = 1640, which carries a 1500-byte tenant
#: frame in VXLAN (1550).
WG_MTU = 1640
TENANT_MTU = 1500
VNI = 100
HOST_FORWARDING = Path("/proc/sys/net/ipv4/ip_forward").read_text()


def mesh_address(i: int) -> str:
    return f"172.27.0.{i}"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    down()  # a lab left behind by an interrupted run
    state = up(default_spec(3))
    yield state
    down(state)


@pytest.fixture(scope="module")
def mesh(lab: LabState) -> LabState:
    """A WireGuard full mesh over the underlay, as ``wg-quick@wg0`` (wireguard-go) on every node."""
    keys = [X25519PrivateKey.generate() for _ in lab.nodes]

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    private = [b64(k.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())) for k in keys]
    public = [b64(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)) for k in keys]
    for i, node in enumerate(lab.nodes):
        lines = [
            "[Interface]",
            f"Address = {mesh_address(i + 1)}/24",
            f"ListenPort = {MESH_PORT}",
            f"MTU = {WG_MTU}",
            f"PrivateKey = {private[i]}",
        ]
        for j, peer in enumerate(lab.nodes):
            if j != i:
                endpoint = peer.underlay.split("/")[0]
                lines += ["", "[Peer]", f"PublicKey = {public[j]}", f"AllowedIPs = {mesh_address(j + 1)}/32"]
                lines.append(f"Endpoint = {endpoint}:{MESH_PORT}")
        install(lab, node.name, "/etc/wireguard/wg0.conf", "\n".join(lines) + "\n", mode="600")
        exec_in(lab, node.name, ["systemctl", "start", "wg-quick@wg0"], check=True)
    return lab


def install(lab: LabState, node: str, path: str, content: str, mode: str = "644", owner: str = "root") -> None:
    exec_in(
        lab,
        node,
        ["install", "-D", "-m", mode, "-o", owner, "-g", owner, "/dev/stdin", path],
        input=content,
        check=True,
    )


def ssh_client(address: str, pin: str) -> paramiko.SSHClient:
    """Log in as root with the operator key, accepting only the pinned host key."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    kind, blob = pin.split()[:2]
    client.get_host_keys().add(address, kind, paramiko.PKey.from_type_string(kind, base64.b64decode(blob)))
    client.connect(
        address,
        username="root",
        pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(operator_private_key())),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def ping(lab: LabState, node: str, address: str, size: int = 56, tries: int = 10) -> str:
    """Ping until one answer (the first packets may wait for a handshake or ARP); DF set."""
    argv = ["ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", str(size), address]
    for _ in range(tries):
        done = exec_in(lab, node, argv)
        if done.returncode == 0:
            return done.stdout
    pytest.fail(f"{node} cannot ping {address} (size {size}): {done.stdout}{done.stderr}")


def test_nodes_answer_ssh_with_their_pinned_host_keys(lab: LabState) -> None:
    for node in lab.nodes:
        with ssh_client(node.ssh, host_key_line(node.name)) as client:
            _in, out, _err = client.exec_command("hostname; cat /etc/machine-id; systemctl is-system-running")
            hostname, machine_id, running = out.read().decode().split()
        assert hostname == node.name
        assert running == "running"
        assert len(machine_id) == 32
    ids = {exec_in(lab, n.name, ["cat", "/etc/machine-id"]).stdout for n in lab.nodes}
    assert len(ids) == len(lab.nodes), "every node has its own machine id (networkd's bridge MACs come from it)"


def test_a_wrong_host_key_pin_is_refused(lab: LabState) -> None:
    n1, n2 = lab.nodes[0], lab.nodes[1]
    with pytest.raises(paramiko.BadHostKeyException):
        ssh_client(n1.ssh, host_key_line(n2.name))


def test_nodes_are_wired_as_documented(lab: LabState) -> None:
    n1 = lab.nodes[0]
    links = json.loads(exec_in(lab, n1.name, ["ip", "-j", "address", "show"], check=True).stdout)
    by_name = {link["ifname"]: link for link in links}
    assert set(by_name) == {"lo", "eth0", "mgmt0"}
    assert by_name["eth0"]["mtu"] == lab.underlay_mtu
    assert [f"{a['local']}/{a['prefixlen']}" for a in by_name["eth0"]["addr_info"]] == [n1.underlay]
    assert [a["local"] for a in by_name["mgmt0"]["addr_info"]] == [n1.ssh]
    routes = exec_in(lab, n1.name, ["ip", "-4", "route", "show"], check=True).stdout
    assert "default" not in routes, "a node routes nowhere but its own links"
    # A node's own network sysctls are its to set (a cloud node forwards); the kernel's are not.
    exec_in(lab, n1.name, ["sysctl", "-w", "net.ipv4.ip_forward=1"], check=True)
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == HOST_FORWARDING
    assert exec_in(lab, n1.name, ["sysctl", "-w", "kernel.hostname=x"]).returncode != 0
    # The underlay carries full-size frames between nodes; SSH never crosses it.
    ping(lab, n1.name, lab.nodes[1].underlay.split("/")[0], size=lab.underlay_mtu - 28)
    assert exec_in(lab, n1.name, ["ping", "-c", "1", "-W", "1", lab.nodes[1].ssh]).returncode != 0


def test_wireguard_mesh_over_the_underlay(mesh: LabState) -> None:
    for i, node in enumerate(mesh.nodes):
        for j in range(len(mesh.nodes)):
            if j != i:
                ping(mesh, node.name, mesh_address(j + 1), size=WG_MTU - 28)  # the whole tunnel MTU, unfragmented
        assert exec_in(mesh, node.name, ["systemctl", "is-active", "wg-quick@wg0"]).stdout.strip() == "active"
        # Userspace WireGuard, each node with its own control socket.
        assert exec_in(mesh, node.name, ["pgrep", "-x", "wireguard-go"]).returncode == 0
        assert exec_in(mesh, node.name, ["test", "-S", "/run/wireguard/wg0.sock"]).returncode == 0
        shown = exec_in(mesh, node.name, ["wg", "show", "wg0", "latest-handshakes"], check=True).stdout
        assert len(shown.splitlines()) == len(mesh.nodes) - 1


def segment_files(lab: LabState, i: int) -> dict[str, str]:
    """One tenant segment as systemd-networkd files, shaped like fabric's: VXLAN from the mesh
    address (so it rides in WireGuard) in a bridge holding the node's address. Without
    EVPN here, static all-zero FDB entries flood to the other nodes."""
    others = [mesh_address(j + 1) for j in range(len(lab.nodes)) if j != i]
    fdb = "".join(f"\n[BridgeFDB]\nMACAddress=00:00:00:00:00:00\nDestination={o}\n" for o in others)
    vx, br = f"vxlan{VNI}", f"br{VNI}"
    return {
        f"60-{br}.netdev": f"[NetDev]\nName={br}\nKind=bridge\nMTUBytes={TENANT_MTU}\n\n[Bridge]\nSTP=no\n",
        f"60-{vx}.netdev": (
            f"[NetDev]\nName={vx}\nKind=vxlan\nMTUBytes={TENANT_MTU}\n\n"
            f"[VXLAN]\nVNI={VNI}\nLocal={mesh_address(i + 1)}\nDestinationPort=4789\nIndependent=yes\n"
        ),
        f"60-{vx}.network": f"[Match]\nName={vx}\n\n[Network]\nBridge={br}\nLinkLocalAddressing=no\n"
        f"ConfigureWithoutCarrier=yes\n{fdb}",
        f"60-{br}.network": f"[Match]\nName={br}\n\n[Network]\nAddress=100.65.{VNI}.{i + 1}/24\n"
        "LinkLocalAddressing=no\nConfigureWithoutCarrier=yes\n",
    }


def test_networkd_segment_and_endpoints_across_nodes(mesh: LabState) -> None:
    for i, node in enumerate(mesh.nodes[:2]):
        for name, content in segment_files(mesh, i).items():
            install(mesh, node.name, f"/etc/systemd/network/{name}", content)
        exec_in(mesh, node.name, ["networkctl", "reload"], check=True)
    br = f"br{VNI}"
    for i, node in enumerate(mesh.nodes[:2]):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            shown = exec_in(mesh, node.name, ["ip", "-j", "-d", "address", "show", "dev", br]).stdout
            links = json.loads(shown or "[]")
            if links and any(a.get("local") == f"100.65.{VNI}.{i + 1}" for a in links[0]["addr_info"]):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{node.name}: networkd did not make {br} with its address")
        assert links[0]["linkinfo"]["info_kind"] == "bridge"
        vx = json.loads(exec_in(mesh, node.name, ["ip", "-j", "-d", "link", "show", f"vxlan{VNI}"]).stdout)[0]
        assert vx["linkinfo"]["info_kind"] == "vxlan" and vx["linkinfo"]["info_data"]["id"] == VNI
        assert vx["master"] == br
    a = add_endpoint(mesh, "n1", "a", br, f"100.65.{VNI}.101/24", mtu=TENANT_MTU)
    b = add_endpoint(mesh, "n2", "b", br, f"100.65.{VNI}.102/24", mtu=TENANT_MTU)
    assert mesh.endpoints == [a, b]
    assert LabState.load().endpoints == [a, b], "endpoints are recorded in the state file"

    def endpoint_ping(endpoint: EndpointState, address: str, size: int) -> None:
        argv = ["ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", str(size), address]
        for _ in range(10):
            done = exec_in_endpoint(mesh, endpoint.node, endpoint.name, argv)
            if done.returncode == 0:
                return
        pytest.fail(f"endpoint {endpoint.name} cannot ping {address}: {done.stdout}{done.stderr}")

    endpoint_ping(a, f"100.65.{VNI}.1", 56)  # its own node's bridge address
    # Across nodes: the endpoint's full 1500-byte frame in VXLAN in WireGuard over the underlay.
    endpoint_ping(a, f"100.65.{VNI}.102", TENANT_MTU - 28)
    endpoint_ping(b, f"100.65.{VNI}.2", 56)


FRR_DAEMONS = """bgpd=yes
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
frr_profile="datacenter"
"""


def frr_conf(name: str, me: str, peers: list[str], extra: tuple[str, ...] = ()) -> str:
    lines = [
        "frr defaults datacenter",
        f"hostname {name}",
        "service integrated-vtysh-config",
        "!",
        "router bgp 65000",
        f" bgp router-id {me}",
        " no bgp default ipv4-unicast",
        *extra,
    ]
    for p in peers:
        lines += [f" neighbor {p} remote-as internal", f" neighbor {p} update-source {me}"]
    lines += [" address-family l2vpn evpn", *(f"  neighbor {p} activate" for p in peers), "  advertise-all-vni"]
    return "\n".join([*lines, " exit-address-family", "exit", ""])


def peer_states(summary: Any) -> dict[str, str]:
    """``show bgp summary json``: peer -> state, whatever address families it is grouped by."""
    found: dict[str, str] = {}
    if isinstance(summary, dict):
        for key, value in summary.items():
            if key == "peers" and isinstance(value, dict):
                found.update({p: str(v.get("state")) for p, v in value.items()})
            else:
                found.update(peer_states(value))
    return found


def test_frr_bgpd_evpn_session_over_wireguard(mesh: LabState) -> None:
    n1, n2 = mesh.nodes[0].name, mesh.nodes[1].name
    for i, (node, peer) in enumerate(((n1, mesh_address(2)), (n2, mesh_address(1)))):
        install(mesh, node, "/etc/frr/daemons", FRR_DAEMONS, mode="640", owner="frr")
        install(mesh, node, "/etc/frr/frr.conf", frr_conf(node, mesh_address(i + 1), [peer]), mode="640", owner="frr")
        exec_in(mesh, node, ["systemctl", "restart", "frr"], check=True)
    assert exec_in(mesh, n1, ["pgrep", "-x", "bgpd"]).returncode == 0
    deadline = time.monotonic() + 60
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        done = exec_in(mesh, n1, ["vtysh", "-c", "show bgp summary json"], check=True)
        states = peer_states(json.loads(done.stdout))
        if states.get(mesh_address(2)) == "Established":
            break
        time.sleep(0.5)
    assert states.get(mesh_address(2)) == "Established", states
    # frr-reload.py (python3 from frr-pythontools) applies a changed frr.conf.
    conf = frr_conf(n1, mesh_address(1), [mesh_address(2)], extra=(" timers bgp 4 12",))
    install(mesh, n1, "/etc/frr/frr.conf", conf, mode="640", owner="frr")
    bgpd = exec_in(mesh, n1, ["pgrep", "-x", "bgpd"]).stdout
    exec_in(mesh, n1, ["systemctl", "reload", "frr"], check=True)
    running = exec_in(mesh, n1, ["vtysh", "-c", "show running-config"], check=True).stdout
    assert "timers bgp 4 12" in running
    assert exec_in(mesh, n1, ["pgrep", "-x", "bgpd"]).stdout == bgpd, "a reload, not a restart"


def assert_nothing_left(state: LabState) -> None:
    leftover_netns = [n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX)] if NETNS_DIR.exists() else []
    assert leftover_netns == []
    procs = [p for n in state.nodes for p in (n.nspawn, n.leader) if p is not None]
    assert procs and not [p for p in procs if alive(p)]
    assert processes_rooted_under(Path(state.run_dir)) == []
    assert mounts_under(Path(state.run_dir)) == []
    assert state.rootfs not in Path("/proc/self/mountinfo").read_text(), "no overlay of the lab's tree is left"
    assert not Path(state.run_dir).exists()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in links.splitlines() if ": fl-" in line]
    assert not [c for n in state.nodes for c in n.cgroups if Path(c).exists()]


def test_down_leaves_nothing(lab: LabState) -> None:
    assert lab.endpoints, "the endpoints test ran first: down removes endpoints too"
    down(lab)
    assert_nothing_left(lab)
    down(lab)  # idempotent


def _run_lab(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs
    )


def test_cli_with_a_stack_style_spec(tmp_path: Path) -> None:
    """``up`` from a Pulumi.<stack>.yaml-shaped file in one process, ``down`` from another."""
    stack = {
        "config": {
            "fabric:nodes": [
                {
                    "name": "lab-a",
                    "site": "lab",
                    "id": 1,
                    "endpoint": "10.254.0.21",
                    "ssh": {"address": "10.255.21.2", "host_key": host_key_line("lab-a")},
                },
                {
                    "name": "lab-b",
                    "site": "lab",
                    "id": 2,
                    "endpoint": "10.254.0.22",
                    "ssh": {"address": "10.255.22.2", "host_key": host_key_line("lab-b")},
                },
            ]
        }
    }
    spec = tmp_path / "Pulumi.lab.yaml"
    spec.write_text(yaml.safe_dump(stack))
    done = _run_lab("up", "--spec", str(spec))
    assert done.returncode == 0, done.stderr
    assert host_key_line("lab-a") in done.stdout
    state = LabState.load()
    try:
        assert [n.name for n in state.nodes] == ["lab-a", "lab-b"]
        assert _run_lab("status").returncode == 0
        shown = _run_lab("exec", "lab-b", "--", "hostname")
        assert shown.stdout.strip() == "lab-b"
        with ssh_client("10.255.21.2", host_key_line("lab-a")) as client:
            _in, out, _err = client.exec_command("ping -c 1 -W 2 10.254.0.22 >/dev/null && echo ok")
            assert out.read().decode().strip() == "ok"
        done = _run_lab("down")
        assert done.returncode == 0, done.stderr
    finally:
        down()
    assert_nothing_left(state)


def test_down_after_up_was_killed_halfway() -> None:
    """A crash while the nodes boot: only the state file is left, and it is enough."""
    child = subprocess.Popen(
        [sys.executable, "-c", "from lab import up, default_spec; up(default_spec(2))"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = state_file()
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        try:
            state = LabState.load(path)
        except LabError:
            state = None
        if state is not None and len(state.nodes) == 2 and all(n.leader is not None for n in state.nodes):
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert state is not None, "up recorded its nodes"
    assert all(n.leader is not None and alive(n.leader) for n in state.nodes), "the containers run on"
    down()  # from the state file alone
    assert_nothing_left(state)
    assert not path.exists()


def test_a_stack_spec_must_pin_the_lab_keys() -> None:
    def stack(pin: str) -> dict[str, Any]:
        node = {"name": "lab-a", "endpoint": "10.254.0.21", "ssh": {"address": "10.255.21.2", "host_key": pin}}
        return {"config": {"fabric:nodes": [node]}}

    for pin in (host_key_line("lab-a"), f"10.255.21.2 {host_key_line('lab-a')}", host_key_fingerprint("lab-a")):
        assert parse_spec(stack(pin)).nodes[0].name == "lab-a"
    with pytest.raises(LabError, match=r"not the lab's key for it: pin ssh-ed25519 AAAA"):
        parse_spec(stack(host_key_line("lab-b")))
