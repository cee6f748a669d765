"""The host provider against a real OpenSSH server on loopback.

Files land under a per-test ``root`` on this machine; ``networkctl``/``systemctl``/
``udevadm`` cannot run in this container (no systemd as PID 1), so logging stand-ins for
them sit first on the SSH session's PATH (see ``tests/beds/sshd.py``) and the tests read
what they were asked to do. Everything else (sshd, sh, base64, chown, mv) is real.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabric import deferred, loader, stackfile, topology
from fabric.render.linux import render_hypervisor
from fabric.render.linux.node import render_node
from providers.host import HostConcernProvider, HostError, HostKeyError, actions_of, cleanup_of
from tests.beds.ovs import Switch
from tests.beds.sshd import Sshd, stand_ins
from tests.conftest import ERRORS, ROOT, burst_raw, load_yaml, patch

STANDINS = ("networkctl", "systemctl", "udevadm", "ip", "ovs-vsctl", "wg", "wg-quick")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = Sshd(tmp_path / "sshd")
    stand_ins(server.bin, tmp_path / "calls.log", STANDINS)
    with server:
        yield server


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def hypervisor_concerns(tmp_path: Path, bond_rate: str = "fast", datapath: str = "system") -> dict[str, dict[str, Any]]:
    """The rendered state of one hypervisor, as the Hypervisor component hands it over."""
    raw = patch(
        load_yaml(ERRORS / "_base.yaml"),
        {
            "datacenter.hypervisors[0].bonds[0].lacp_rate": bond_rate,
            "datacenter.hypervisors[0].ovs": {"datapath": datapath},
        },
    )
    inv = loader.load(raw)
    plan = topology.build(inv)
    state = render_hypervisor(plan, plan.hypervisors[0])
    return {name: dict(zip(("files", "actions"), c.inputs(), strict=True)) for name, c in state.concerns.items()}


def props(sshd: Sshd, root: Path, concern: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "host": "hv1",
        "concern": concern,
        "address": "127.0.0.1",
        "port": sshd.port,
        "user": "root",
        "host_key": sshd.host_key_line,
        "private_key": sshd.user_key,
        "files": spec["files"],
        "actions": spec["actions"],
        "root": str(root),
        **({"late": spec["late"]} if spec.get("late") else {}),
        **extra,
    }


def test_first_apply_writes_every_file_and_runs_its_actions(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    network = hypervisor_concerns(tmp_path)["network"]
    outs = HostConcernProvider().create(props(sshd, root, "network", network)).outs
    assert outs is not None and sorted(outs["written"]) == sorted(network["files"])
    for path, spec in network["files"].items():
        on_host = root / path.lstrip("/")
        assert on_host.read_text() == spec["content"]
        assert oct(on_host.stat().st_mode & 0o777) == oct(spec["mode"])
    assert "networkctl reload" in calls(tmp_path)
    assert not list(root.rglob("*.fabric-new"))  # written to a temporary file, then renamed


def test_a_second_apply_writes_nothing_and_runs_nothing(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    network = hypervisor_concerns(tmp_path)["network"]
    p = props(sshd, root, "network", network)
    HostConcernProvider().create(p)
    before = calls(tmp_path)
    mtimes = {f: f.stat().st_mtime_ns for f in root.rglob("*") if f.is_file()}
    assert HostConcernProvider().diff("id", p, p).changes is False  # pulumi up stops here
    outs = HostConcernProvider().update("id", p, p).outs  # and an explicit re-apply does nothing
    assert outs is not None and outs["written"] == [] and outs["ran"] == []
    assert calls(tmp_path) == before
    assert {f: f.stat().st_mtime_ns for f in root.rglob("*") if f.is_file()} == mtimes


def test_one_bond_setting_rewrites_one_file_and_reloads_networkd_only(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    fast = props(sshd, root, "network", hypervisor_concerns(tmp_path, "fast")["network"])
    slow = props(sshd, root, "network", hypervisor_concerns(tmp_path, "slow")["network"])
    HostConcernProvider().create(fast)
    (tmp_path / "calls.log").unlink()
    outs = HostConcernProvider().update("id", fast, slow).outs
    assert outs is not None and outs["written"] == ["/etc/systemd/network/10-bond0.netdev"]
    assert outs["ran"] == ["networkd-reload", "bond-bond0"]
    assert calls(tmp_path)[0] == "networkctl reload"
    assert all(c.startswith(("networkctl", "ip link")) for c in calls(tmp_path))
    assert "LACPTransmitRate=slow" in (root / "etc/systemd/network/10-bond0.netdev").read_text()


def test_drift_by_hand_is_found_and_repaired(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    network = hypervisor_concerns(tmp_path)["network"]
    p = props(sshd, root, "network", network)
    HostConcernProvider().create(p)
    edited = root / "etc/systemd/network/10-bond0.netdev"
    edited.write_text(edited.read_text().replace("fast", "slow"))
    (root / "etc/systemd/network/30-bond1.network").unlink()
    read = HostConcernProvider().read("id", p).outs
    assert read is not None
    assert read["drift"] == [
        "/etc/systemd/network/10-bond0.netdev: changed on the host "
        f"(sha256 {read['files']['/etc/systemd/network/10-bond0.netdev']['content'][-13:-1]}, mode 644, owner root)",
        "/etc/systemd/network/30-bond1.network: missing on the host",
    ]
    assert HostConcernProvider().diff("id", read, p).changes
    outs = HostConcernProvider().update("id", read, p).outs
    assert outs is not None and sorted(outs["written"]) == [
        "/etc/systemd/network/10-bond0.netdev",
        "/etc/systemd/network/30-bond1.network",
    ]
    assert HostConcernProvider().read("id", p).outs["drift"] == []  # type: ignore[index]


def test_a_changed_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    network = hypervisor_concerns(tmp_path)["network"]
    other = Sshd(tmp_path / "other")  # a different key, as a reinstalled (or impostor) host has
    with pytest.raises(
        HostKeyError, match=r"host hv1 \(\[?127.0.0.1\]?:\d+\) presented ssh-ed25519 SHA256:.*not the pinned key"
    ):
        HostConcernProvider().create(props(sshd, tmp_path / "host", "network", network, host_key=other.host_key_line))
    with pytest.raises(HostKeyError, match=r"no ssh.host_key is pinned.*never accepted"):
        HostConcernProvider().create(props(sshd, tmp_path / "host", "network", network, host_key=None))
    assert not (tmp_path / "host").exists()
    # A pinned SHA256 fingerprint works as well as a known_hosts line.
    HostConcernProvider().create(props(sshd, tmp_path / "host", "network", network, host_key=sshd.fingerprint))


def test_a_failure_mid_apply_names_the_command_and_a_rerun_converges(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    network = hypervisor_concerns(tmp_path)["network"]
    broken = sshd.bin / "networkctl"
    broken.write_text('#!/bin/sh\necho "Failed to reload network settings: Connection refused" >&2\nexit 1\n')
    with pytest.raises(
        HostError, match=r"(?s)host hv1: run networkd-reload: networkctl reload failed \(exit 1\).*Connection refused"
    ):
        HostConcernProvider().create(props(sshd, root, "network", network))
    broken.write_text(f'#!/bin/sh\necho "networkctl $*" >> {tmp_path / "calls.log"}\n')
    # The files were written before the failure. The engine recorded nothing, so it runs
    # create again: the files are already there, yet the reload they need still runs.
    outs = HostConcernProvider().create(props(sshd, root, "network", network)).outs
    assert outs is not None and outs["written"] == []
    assert outs["ran"] == [a.split(": ", 1)[0] for a in network["actions"]]
    assert "networkctl reload" in calls(tmp_path)
    assert not (root / "var/lib/fabric/pending/network").exists()
    assert HostConcernProvider().create(props(sshd, root, "network", network)).outs["ran"] == []  # type: ignore[index]


def shell_commands(line: str) -> list[list[str]]:
    """A shell line's commands as the shell splits them: words, between unquoted ``&&``."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            commands.append([])
        else:
            commands[-1].append(token)
    return commands


def test_actions_are_one_readable_line_each_and_run_as_their_commands() -> None:
    """What a preview shows of an action is one line, ``name: cmd && cmd``, each command
    quoted so the shell splits it back into exactly the rendered words; state of earlier
    versions (argv lists) reads as the same lines, so upgrading changes nothing."""
    raw = burst_raw()
    plan = topology.build(loader.load(raw))
    states = [
        render_hypervisor(plan, hv) for hv in topology.build(loader.load(load_yaml(ERRORS / "_base.yaml"))).hypervisors
    ]
    states += [render_node(plan, c.node) for c in plan.clouds]
    for state in states:
        for concern in state.concerns.values():
            files, lines = concern.inputs()
            assert len(lines) == len(concern.actions) and all("\n" not in line for line in lines)
            for action, (name, line) in zip(concern.actions, actions_of(lines), strict=True):
                assert name == action.name
                assert shell_commands(line) == [list(argv) for argv in action.commands]
            earlier = [{"name": a.name, "commands": [list(argv) for argv in a.commands]} for a in concern.actions]
            assert actions_of(earlier) == actions_of(lines)
            for path, spec in files.items():
                argvs = concern.files[[f.path for f in concern.files].index(path)].cleanup
                assert cleanup_of({"cleanup": [list(a) for a in argvs]}) == cleanup_of(spec)
            old = {"host": "h", "files": files, "actions": earlier}
            assert HostConcernProvider().diff("id", old, {**old, "actions": lines}).changes is False
            if lines:
                assert HostConcernProvider().diff("id", old, {**old, "actions": lines[1:]}).changes is True


def test_an_action_stops_at_its_first_failing_command(sshd: Sshd, tmp_path: Path) -> None:
    """``a && b`` does not stop a ``set -e`` script when ``a`` fails; the provider's script does."""
    root = tmp_path / "host"
    spec = {
        "files": {"/etc/x.conf": {"content": "x\n", "mode": 0o644, "owner": "root", "reload": ["two"]}},
        "actions": [f"two: false && touch {tmp_path / 'second'}", f"after: touch {tmp_path / 'after'}"],
    }
    with pytest.raises(HostError, match=r"run two: false && touch .* failed \(exit 1\)"):
        HostConcernProvider().create(props(sshd, root, "x", spec))
    assert not (tmp_path / "second").exists() and not (tmp_path / "after").exists()


def test_sudo_is_used_when_the_user_is_not_root(sshd: Sshd, tmp_path: Path) -> None:
    sudo = sshd.bin / "sudo"
    sudo.write_text(f'#!/bin/sh\necho "sudo $*" >> {tmp_path / "calls.log"}\nshift\nexec "$@"\n')
    sudo.chmod(0o755)
    network = hypervisor_concerns(tmp_path)["network"]
    # Logging in as another user needs that user; root's session with user "admin" in the
    # props exercises the sudo path while sshd still authenticates root.
    p = props(sshd, tmp_path / "host", "network", network)
    provider = HostConcernProvider()
    p_admin = {**p, "user": "admin"}
    with pytest.raises(HostError, match="SSH authentication failed"):
        provider.create(p_admin)
    assert os.geteuid() == 0  # the tests run as root, like CI
    from providers import host as host_module

    session = host_module.Host(p)
    session.sudo = True
    try:
        code, output = session.run("id -u\n")
    finally:
        session.close()
    assert code == 0 and output.strip() == "0"
    assert calls(tmp_path)[-1] == "sudo -n sh -s"


def test_delete_removes_every_owned_file_and_stops_units(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    vms = hypervisor_concerns(tmp_path)["vms"]
    p = props(sshd, root, "vms", vms)
    HostConcernProvider().create(p)
    assert list(root.rglob("*.service"))
    HostConcernProvider().delete("id", p)
    assert [f for f in root.rglob("*") if f.is_file()] == []
    units = [p.rsplit("/", 1)[-1] for p in vms["files"] if p.endswith(".service")]
    for unit in units:
        assert f"systemctl disable --now {unit}" in calls(tmp_path)
    assert calls(tmp_path)[-1] == "systemctl daemon-reload"


def test_a_dropped_connection_mid_apply_is_an_error_and_a_rerun_converges(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    network = hypervisor_concerns(tmp_path)["network"]
    cutter = sshd.bin / "networkctl"
    cutter.write_text("#!/bin/sh\nkill -9 $PPID\n")  # the session's shell dies: the connection drops mid-apply
    with pytest.raises(HostError, match=r"host hv1: run networkd-reload: networkctl reload failed"):
        HostConcernProvider().create(props(sshd, root, "network", network))
    cutter.write_text(f'#!/bin/sh\necho "networkctl $*" >> {tmp_path / "calls.log"}\n')
    outs = HostConcernProvider().create(props(sshd, root, "network", network)).outs
    assert outs is not None and "networkd-reload" in outs["ran"] and "networkctl reload" in calls(tmp_path)
    assert HostConcernProvider().read("id", props(sshd, root, "network", network)).outs["drift"] == []  # type: ignore[index]


def test_the_ovs_concern_builds_a_real_switch(tmp_path: Path) -> None:
    """Real ovs-vsctl against a real (userspace) Open vSwitch; only `systemctl` stands in."""
    switch = Switch(tmp_path / "ovs").start()
    server = Sshd(tmp_path / "sshd", env={"OVS_RUNDIR": str(switch.dir)})
    stand_ins(server.bin, tmp_path / "calls.log", ("systemctl",))
    raw_ovs = hypervisor_concerns(tmp_path, datapath="netdev")["ovs"]
    try:
        with server:
            p = props(server, tmp_path / "host", "ovs", raw_ovs)
            outs = HostConcernProvider().create(p).outs
            assert outs is not None and "ovs-bridge" in outs["ran"]
            assert switch.vsctl("list-br").split() == ["br0"]
            assert switch.vsctl("get", "Bridge", "br0", "datapath_type").strip() == "netdev"
            assert sorted(switch.vsctl("list-ports", "br0").split()) == ["bond1", "vt-r1", "vt-r2"]
            assert switch.vsctl("get", "Port", "bond1", "trunks").strip() == "[10, 100]"  # no tenant VLAN leaves
            assert switch.vsctl("get", "Port", "vt-r1", "trunks").strip() == "[10, 100]"  # nor into a router
            assert switch.vsctl("get", "Open_vSwitch", ".", "other_config:hw-offload").strip() == '"true"'
            assert "systemctl restart ovs-vswitchd.service" in calls(tmp_path)  # hw-offload needs a restart
            again = HostConcernProvider().update("id", p, p).outs
            assert again is not None and again["written"] == [] and again["ran"] == []
    finally:
        switch.stop()


def test_a_host_not_yet_listening_is_retried_with_backoff(tmp_path: Path) -> None:
    """A host still booting: the first connection attempts fail, a later one succeeds."""
    server = Sshd(tmp_path / "sshd")
    stand_ins(server.bin, tmp_path / "calls.log", STANDINS)
    network = hypervisor_concerns(tmp_path)["network"]
    starter = threading.Timer(1.0, server.start)
    starter.start()
    try:
        outs = HostConcernProvider().create(props(server, tmp_path / "host", "network", network)).outs
        assert outs is not None and outs["written"]
    finally:
        starter.join()
        server.stop()


def test_a_new_address_or_port_is_an_update_and_another_root_a_delete_first_replace(sshd: Sshd, tmp_path: Path) -> None:
    network = hypervisor_concerns(tmp_path)["network"]
    p = props(sshd, tmp_path / "host", "network", network)
    moved = HostConcernProvider().diff("id", p, {**p, "port": p["port"] + 1, "address": "127.0.0.2"})
    assert moved.changes and moved.replaces == []  # the same host, reached another way: never a wipe
    rooted = HostConcernProvider().diff("id", p, {**p, "root": str(tmp_path / "elsewhere")})
    assert rooted.replaces == ["root"] and rooted.delete_before_replace


def test_only_the_pinned_key_is_accepted_whatever_types_the_host_has(tmp_path: Path) -> None:
    """A host with an RSA and an ed25519 key: a pinned RSA key is negotiated and accepted;
    a pin with @markers or several keys is refused outright."""
    server = Sshd(tmp_path / "sshd", host_keys=2)
    stand_ins(server.bin, tmp_path / "calls.log", STANDINS)
    network = hypervisor_concerns(tmp_path)["network"]
    rsa_line = " ".join(Path(f"{server.rsa_host_key}.pub").read_text().split()[:2])
    with server:
        HostConcernProvider().create(props(server, tmp_path / "host", "network", network, host_key=rsa_line))
        for bad in (f"@revoked * {server.host_key_line}", f"{rsa_line}\n{server.host_key_line}"):
            with pytest.raises(HostKeyError, match=r"exactly one key"):
                HostConcernProvider().create(props(server, tmp_path / "host", "network", network, host_key=bad))


def node_concerns(tenants: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """An ``frr`` node's rendered state (a cloud node of the burst example), as provider inputs."""
    raw = burst_raw()
    if tenants is not None:
        for t in raw["tenants"]:
            t["sites"] = [s for s in t["sites"] if s != "gcp" or t["name"] in tenants]
    inv = loader.load(raw)
    plan = topology.build(inv)
    gcp = next(c for c in plan.clouds if c.site == "gcp")
    state = render_node(plan, gcp.node)
    # The other members' keys and addresses as the provider's ``late`` input (their stand-ins here).
    return {
        name: {
            "files": c.inputs()[0],
            "actions": c.inputs()[1],
            "late": deferred.samples(tuple(s for f in c.files for s in f.slots if s[1] != "secret")),
        }
        for name, c in state.concerns.items()
    }


KEY = "oK1bQdlVJ8m3ytg2Yy3nKc0Xb6o8C9SgaSv1z2mBqFQ="


def test_secrets_reach_the_host_file_but_never_the_state(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    wg = node_concerns()["wireguard"]
    p = props(sshd, root, "wireguard", wg, secrets={"wireguard-private-key": KEY})
    outs = HostConcernProvider().create(p).outs
    written = (root / "etc/wireguard/wg0.conf").read_text()
    assert f"PrivateKey = {KEY}\n" in written and "<secret:" not in written
    # The peers' keys and addresses known after up are filled in from the ``late`` input.
    router_key = deferred.public_key("dc1-r1").sample
    assert f"PublicKey = {router_key}\n" in written and "<public-key:" not in written and "<endpoint:" not in written
    assert f"Endpoint = {deferred.endpoint('aws-n1').sample}:51820\n" in written
    assert oct((root / "etc/wireguard/wg0.conf").stat().st_mode & 0o777) == "0o600"
    assert outs is not None and KEY not in repr({k: v for k, v in outs.items() if k != "secrets"})
    assert HostConcernProvider().read("id", p).outs["drift"] == []  # type: ignore[index]
    # Another key is a change of the file on the host, though the rendered text is the same.
    other = {**p, "secrets": {"wireguard-private-key": "c" * 43 + "="}}
    assert HostConcernProvider().diff("id", p, other).changes is True
    outs = HostConcernProvider().update("id", p, other).outs
    assert outs is not None and outs["written"] == ["/etc/wireguard/wg0.conf"] and outs["ran"] == ["wg-sync"]
    # A marker without its secret is refused before anything is written.
    with pytest.raises(HostError, match="secret 'wireguard-private-key'"):
        HostConcernProvider().update("id", other, {**p, "secrets": {}})
    # A peer's rotated key is a change of the file too; one still unknown (a preview) as well.
    rotated = {**other, "late": {**p["late"], "public-key": {**p["late"]["public-key"], "dc1-r1": "d" * 43 + "="}}}
    assert HostConcernProvider().diff("id", other, rotated).changes is True
    unknown = {**rotated, "late": {**rotated["late"], "endpoint": {"aws-n1": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}}
    assert HostConcernProvider().diff("id", rotated, unknown).changes is True
    outs = HostConcernProvider().update("id", other, rotated).outs
    assert outs is not None and outs["written"] == ["/etc/wireguard/wg0.conf"]
    assert f"PublicKey = {'d' * 43}=\n" in (root / "etc/wireguard/wg0.conf").read_text()
    with pytest.raises(HostError, match=r"the text needs the (public-key|endpoint) '[a-z0-9-]+', which was not given"):
        HostConcernProvider().update("id", rotated, {**rotated, "late": {}})


def test_state_with_keys_in_the_text_is_the_same_as_markers_with_their_values() -> None:
    """A file applied before values known after up became markers (the keys in its text) is
    no change against the same file as markers and the same keys: the upgrade writes nothing."""
    wg = node_concerns()["wireguard"]
    late = wg["late"]
    now = {
        "host": "n",
        "files": wg["files"],
        "actions": wg["actions"],
        "late": late,
        "secrets": {"wireguard-private-key": KEY},
    }

    def keys_in_text(spec: dict[str, Any]) -> dict[str, Any]:
        content = spec["content"]
        for kind, values in late.items():
            for name, value in values.items():
                content = content.replace(f"<{kind}:{name}>", value)
        secrets = [[content.index("<secret:"), "wireguard-private-key"]]
        return {
            **{k: v for k, v in spec.items() if k not in ("late", "secrets")},
            "content": content,
            "secrets": secrets,
        }

    earlier = {**now, "files": {path: keys_in_text(spec) for path, spec in wg["files"].items()}, "late": None}
    assert earlier["files"] != wg["files"]
    assert HostConcernProvider().diff("id", earlier, now).changes is False
    assert HostConcernProvider().diff("id", earlier, {**now, "late": {**late, "public-key": {}}}).changes is True


def test_marker_text_outside_the_renderers_slots_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    """The provider's own guard (the model refuses such text already): a marker the renderer did
    not put in a slot, say in a comment, never gets the private key, and nothing is written."""
    root = tmp_path / "host"
    p = props(sshd, root, "wireguard", node_concerns()["wireguard"], secrets={"wireguard-private-key": KEY})
    spec = p["files"]["/etc/wireguard/wg0.conf"]
    forged = {**spec, "content": spec["content"] + "# <secret:wireguard-private-key>\n"}
    with pytest.raises(HostError, match="secret marker text outside the renderer's slots"):
        HostConcernProvider().create({**p, "files": {**p["files"], "/etc/wireguard/wg0.conf": forged}})
    assert not (root / "etc/wireguard/wg0.conf").exists()


def test_an_update_removes_the_files_it_no_longer_owns_and_undoes_them(sshd: Sshd, tmp_path: Path) -> None:
    """A tenant leaving a node: its networkd files go, its devices are deleted, networkd reloads."""
    root = tmp_path / "host"
    both = props(sshd, root, "segments", node_concerns()["segments"])
    HostConcernProvider().create(both)
    assert (root / "etc/systemd/network/60-br10010.netdev").exists()
    (tmp_path / "calls.log").unlink()
    none = props(sshd, root, "segments", node_concerns(tenants=[])["segments"])
    outs = HostConcernProvider().update("id", both, none).outs
    assert outs is not None and outs["written"] == [] and outs["ran"] == ["networkd-reload"]
    assert sorted(outs["removed"]) == sorted(both["files"])
    assert not list((root / "etc/systemd/network").glob("60-*"))
    assert calls(tmp_path) == ["ip link delete br10010", "ip link delete vxlan10010", "networkctl reload"]


def test_deleting_a_node_concern_undoes_what_its_files_made(sshd: Sshd, tmp_path: Path) -> None:
    root = tmp_path / "host"
    frr = props(sshd, root, "frr", node_concerns()["frr"])
    stand_ins(sshd.bin, tmp_path / "calls.log", ("chown",))  # the frr user exists only where FRR is installed
    HostConcernProvider().create(frr)
    assert "systemctl reload-or-restart frr" in calls(tmp_path)
    HostConcernProvider().delete("id", frr)
    assert not (root / "etc/frr/frr.conf").exists() and "systemctl disable --now frr" in calls(tmp_path)


def test_a_replaced_resource_leaves_the_files_its_successor_owns(sshd: Sshd, tmp_path: Path) -> None:
    """Pulumi replaces create-first (a renamed node): the new resource writes the same files,
    then the old one is deleted, which must not remove them (the host records the owner)."""
    root = tmp_path / "host"
    segments = node_concerns()["segments"]
    old = props(sshd, root, "segments", segments, owner="lab-a1-segments")
    new = props(sshd, root, "segments", segments, owner="lab-edge1-segments")
    HostConcernProvider().create(old)
    assert (root / "var/lib/fabric/owner/segments").read_text() == "lab-a1-segments\n"
    outs = HostConcernProvider().create(new).outs  # same files: nothing to write but the owner
    assert outs is not None and outs["written"] == []
    (tmp_path / "calls.log").unlink()
    HostConcernProvider().delete("id", old)
    assert (root / "etc/systemd/network/60-br10010.netdev").exists() and calls(tmp_path) == []
    HostConcernProvider().delete("id", new)
    assert not (root / "etc/systemd/network/60-br10010.netdev").exists()
    assert "ip link delete br10010" in calls(tmp_path)


def test_a_unit_without_cleanup_is_still_stopped_when_removed(sshd: Sshd, tmp_path: Path) -> None:
    """Files from state written before ``cleanup`` existed: units are disabled all the same."""
    root = tmp_path / "host"
    vms = hypervisor_concerns(tmp_path)["vms"]
    for spec in vms["files"].values():
        spec.pop("cleanup", None)
    p = props(sshd, root, "vms", vms)
    HostConcernProvider().create(p)
    HostConcernProvider().delete("id", p)
    units = [path.rsplit("/", 1)[-1] for path in vms["files"]]
    assert units and all(f"systemctl disable --now {unit}" in calls(tmp_path) for unit in units)


def example_hypervisor(host: str, move: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """A hypervisor of the dc1 example as provider inputs, its tenant VMs moved as ``move`` says."""
    raw = stackfile.raw_config(ROOT, "dc1")
    for vm in raw["datacenter"]["vms"]:
        vm["hypervisor"] = (move or {}).get(vm["name"], vm["hypervisor"])
    plan = topology.build(loader.load(raw))
    state = render_hypervisor(plan, next(hv for hv in plan.hypervisors if hv.spec.name == host))
    return {name: dict(zip(("files", "actions"), c.inputs(), strict=True)) for name, c in state.concerns.items()}


def test_a_hypervisors_vtep_and_tenant_vm_apply_reapply_and_move_away(sshd: Sshd, tmp_path: Path) -> None:
    """dc1-hv2 as a VTEP with two tenant VMs: applied, re-applied without a write, then one VM
    moves to dc1-hv1 (its unit stops, its tap file, and its tenant's segment, which nothing else
    on the host needs, go), then the concerns are deleted and nothing of them is left."""
    stand_ins(sshd.bin, tmp_path / "calls.log", ("nft", "sysctl"))
    root = tmp_path / "host"
    concerns = ("segments", "forwarding", "vms")
    before = example_hypervisor("dc1-hv2")
    p = {c: props(sshd, root, c, before[c]) for c in concerns}
    for c in concerns:
        outs = HostConcernProvider().create(p[c]).outs
        assert outs is not None and sorted(outs["written"]) == sorted(before[c]["files"])
    assert (root / "etc/systemd/network/61-vt-initech-app1.network").read_text().count("Bridge=br10030") == 1
    assert "systemctl restart fabric-vm-initech-app1.service" in calls(tmp_path)
    assert "nft -f /etc/nftables.conf" in calls(tmp_path)
    done = calls(tmp_path)
    for c in concerns:
        assert HostConcernProvider().diff("id", p[c], p[c]).changes is False
        outs = HostConcernProvider().update("id", p[c], p[c]).outs
        assert outs is not None and outs["written"] == [] and outs["ran"] == []
    assert calls(tmp_path) == done

    after = example_hypervisor("dc1-hv2", move={"initech-app1": "dc1-hv1"})
    moved = {c: props(sshd, root, c, after[c]) for c in concerns}
    removed: list[str] = []
    for c in concerns:
        outs = HostConcernProvider().update("id", p[c], moved[c]).outs
        assert outs is not None
        removed += outs["removed"]
    assert sorted(removed) == [
        "/etc/systemd/network/60-br10030.netdev",
        "/etc/systemd/network/60-br10030.network",
        "/etc/systemd/network/60-vxlan10030.netdev",
        "/etc/systemd/network/60-vxlan10030.network",
        "/etc/systemd/network/61-vt-initech-app1.network",
        "/etc/systemd/system/fabric-vm-initech-app1.service",
    ]
    log = calls(tmp_path)[len(done) :]
    assert {"ip link delete br10030", "ip link delete vxlan10030"} <= set(log)
    assert "systemctl disable --now fabric-vm-initech-app1.service" in log
    assert "br10030" not in (root / "etc/nftables.conf").read_text()
    assert "fabric-vm-acme-db1.service" not in " ".join(log)  # the VM that stays is not touched

    for c in concerns:
        HostConcernProvider().delete("id", moved[c])
    assert [f for f in root.rglob("*") if f.is_file()] == []
    assert "nft delete table bridge fabric" in calls(tmp_path)
