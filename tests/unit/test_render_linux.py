"""Rendered hypervisor state: bonds, VFs, OVS trunks and VM units, as an Arch host would read them.

No host is touched: INI files are parsed the way systemd reads them (duplicate keys kept),
units go through ``systemd-analyze verify`` when this machine has it, and the small shell
programs the actions run are executed against fake sysfs files and fake ``ip``/``ovs-vsctl``.
"""

from __future__ import annotations

import configparser
import copy
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fabric import loader, model, stackfile, topology
from fabric.errors import ConfigError
from fabric.render.linux import (
    CONCERNS,
    MANAGED,
    Concern,
    HostAction,
    HostFile,
    HostState,
    network,
    ovs,
    render_hypervisor,
    sriov,
    vms,
)
from fabric.render.linux.dhcp import DNS_DIR
from tests.conftest import ROOT

NICS: list[dict[str, Any]] = [
    {"name": "enp1s0f0", "model": "intel-x710", "vfs": 7},
    {"name": "enp1s0f1", "model": "intel-x710", "vfs": 7, "mac": "3c:fd:fe:00:00:01"},
    {"name": "enp2s0f0", "model": "mellanox-cx4", "vfs": 4},
    {"name": "enp2s0f1", "model": "mellanox-cx4"},
]
BONDS: list[dict[str, Any]] = [
    {"name": "bond0", "interfaces": ["enp1s0f0", "enp1s0f1"]},
    {"name": "bond1", "interfaces": ["enp2s0f0", "enp2s0f1"], "mtu": 9000},
]


def _hypervisor(name: str, hv_id: int) -> dict[str, Any]:
    return {
        "name": name,
        "id": hv_id,
        "ssh": {"address": f"5.254.54.{10 + hv_id}", "host_key": "SHA256:" + "A" * 43},
        "nics": copy.deepcopy(NICS),
        "bonds": copy.deepcopy(BONDS),
    }


def raw_config() -> dict[str, Any]:
    """dc1: hv1 runs a gateway and an edge router, hv2 a gateway, hv3 nothing yet.

    Tenants: acme (every datacenter), globex (dc1 only), umbrella (dc2 only, so on no dc1 host).
    """
    return {
        "sites": [{"name": "dc1", "id": 1}, {"name": "dc2", "id": 2}],
        "tenants": [
            {"name": "acme", "id": 10},
            {"name": "globex", "id": 20, "sites": ["dc1"]},
            {"name": "umbrella", "id": 40, "sites": ["dc2"]},
        ],
        "datacenter": {
            "name": "dc1",
            "public_prefixes": ["5.254.54.0/26"],
            "hypervisors": [_hypervisor("dc1-hv1", 1), _hypervisor("dc1-hv2", 2), _hypervisor("dc1-hv3", 3)],
            "routers": [
                {
                    "name": "dc1-r1",
                    "id": 1,
                    "hypervisor": "dc1-hv1",
                    "route_reflector": True,
                    "public_address": "5.254.54.2",
                    "vm": {"cpus": 4, "memory": "8G", "image": "/srv/images/dc1-r1.raw"},
                },
                {"name": "dc1-r2", "id": 2, "hypervisor": "dc1-hv2", "public_address": "5.254.54.3"},
                {
                    "name": "dc1-edge",
                    "id": 3,
                    "hypervisor": "dc1-hv1",
                    "gateway": False,
                    "public_address": "5.254.54.4",
                },
            ],
        },
        "vyos_api_key": model.Secret("fabric:vyos_api_key"),
    }


def build(raw: dict[str, Any]) -> topology.Plan:
    return topology.build(loader.load(raw))


def render(raw: dict[str, Any], host: str) -> HostState:
    plan = build(raw)
    return render_hypervisor(plan, next(hv for hv in plan.hypervisors if hv.spec.name == host))


@pytest.fixture(scope="module")
def plan() -> topology.Plan:
    return build(raw_config())


@pytest.fixture(scope="module")
def states(plan: topology.Plan) -> dict[str, HostState]:
    return {hv.spec.name: render_hypervisor(plan, hv) for hv in plan.hypervisors}


# ----------------------------------------------------------------------------- parsing like systemd


class _MultiDict(dict[str, Any]):
    """configparser storage that keeps repeated keys (``ExecStart=`` twice) instead of the last."""

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def parse_ini(content: str) -> dict[str, dict[str, list[str]]]:
    parser = configparser.RawConfigParser(
        dict_type=_MultiDict,
        strict=False,
        interpolation=None,
        delimiters=("=",),
        comment_prefixes=("#", ";"),
        empty_lines_in_values=False,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(content)
    return {s: {k: v.split("\n") for k, v in parser.items(s)} for s in parser.sections()}


def one(parsed: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = parsed[section][key]
    assert len(values) == 1, (section, key, values)
    return values[0]


# Section names systemd accepts per file type (systemd.netdev(5), systemd.network(5),
# systemd.link(5), systemd.unit(5), systemd.service(5)), restricted to kinds rendered here.
VALID_SECTIONS = {
    ".netdev": {"Match", "NetDev", "Bond", "VLAN", "VRF", "Bridge", "VXLAN"},
    ".network": {"Match", "Link", "Network", "Address", "Route", "SR-IOV", "DHCPServer", "Bridge"},
    ".link": {"Match", "Link", "SR-IOV"},
    ".service": {"Unit", "Service", "Install"},
}

INI_SUFFIXES = tuple(VALID_SECTIONS)


def ini_files(state: HostState) -> list[HostFile]:
    return [f for f in state.files() if f.path.endswith(INI_SUFFIXES)]


def by_path(state: HostState, concern: str) -> dict[str, str]:
    return {f.path: f.content for f in state.concerns[concern].files}


# ----------------------------------------------------------------------------- network


def test_bond_netdev_has_exactly_the_seed_lacp_settings(states: dict[str, HostState]) -> None:
    for state in states.values():
        for name in ("bond0", "bond1"):
            parsed = parse_ini(state.file(f"/etc/systemd/network/10-{name}.netdev").content)
            assert parsed["NetDev"] == {"Name": [name], "Kind": ["bond"]}
            assert parsed["Bond"] == {
                "Mode": ["802.3ad"],
                "LACPTransmitRate": ["fast"],
                "MIIMonitorSec": ["1s"],
                "UpDelaySec": ["2s"],
                "DownDelaySec": ["2s"],
                "TransmitHashPolicy": ["layer3+4"],
            }


def test_each_member_nic_is_enslaved_to_its_bond(states: dict[str, HostState]) -> None:
    expected = {"enp1s0f0": "bond0", "enp1s0f1": "bond0", "enp2s0f0": "bond1", "enp2s0f1": "bond1"}
    for state in states.values():
        members = {}
        for f in state.concerns["network"].files:
            parsed = parse_ini(f.content)
            if "Bond" in parsed.get("Network", {}):
                members[one(parsed, "Match", "Name")] = one(parsed, "Network", "Bond")
        assert members == expected


def test_management_bond_has_the_backbone_address_and_the_uplink_none(plan: topology.Plan) -> None:
    for hv in plan.hypervisors:
        state = render_hypervisor(plan, hv)
        mgmt = parse_ini(state.file("/etc/systemd/network/30-bond0.network").content)
        assert mgmt["Network"]["Address"] == [f"172.16.1.{128 + hv.spec.id}/24"]
        assert "Gateway" not in mgmt["Network"]
        uplink = parse_ini(state.file("/etc/systemd/network/30-bond1.network").content)
        assert "Address" not in uplink["Network"]
        assert one(uplink, "Network", "LinkLocalAddressing") == "no"
        assert one(uplink, "Network", "ConfigureWithoutCarrier") == "yes"
        assert one(uplink, "Network", "KeepMaster") == "yes"  # OVS is its master
        assert one(uplink, "Link", "MTUBytes") == "9000"
        assert "MTUBytes" not in mgmt.get("Link", {})


def test_vmspawn_taps_get_no_dhcp_or_nat_from_systemds_default_file(states: dict[str, HostState]) -> None:
    taps = parse_ini(states["dc1-hv1"].file(network.TAP_NETWORK_PATH).content)
    # Same name as /usr/lib/systemd/network/80-vm-vt.network, so it replaces that file.
    assert network.TAP_NETWORK_PATH.endswith("/80-vm-vt.network")
    assert taps["Match"] == {"Name": ["vt-*"], "Driver": ["tun"]}
    assert not {"Address", "DHCPServer", "IPMasquerade"} & set(taps["Network"])
    assert one(taps, "Network", "KeepMaster") == "yes"


def test_changing_one_bond_setting_changes_exactly_one_network_file() -> None:
    before = by_path(render(raw_config(), "dc1-hv1"), "network")
    raw = raw_config()
    raw["datacenter"]["hypervisors"][0]["bonds"][0]["lacp_rate"] = "slow"
    changed_state = render(raw, "dc1-hv1")
    after = by_path(changed_state, "network")
    assert before.keys() == after.keys()
    changed = [p for p in before if before[p] != after[p]]
    assert changed == ["/etc/systemd/network/10-bond0.netdev"]
    assert "LACPTransmitRate=slow" in after[changed[0]]
    # ... and makes it live on the running bond, leaving bond1 alone.
    actions = changed_state.concerns["network"].actions_for(changed)
    assert [a.name for a in actions] == ["networkd-reload", "bond-bond0"]
    assert "slow" in actions[1].commands[0]


def test_changing_a_bond_mtu_changes_only_its_network_file() -> None:
    before = by_path(render(raw_config(), "dc1-hv1"), "network")
    raw = raw_config()
    raw["datacenter"]["hypervisors"][0]["bonds"][1]["mtu"] = 9100
    after = by_path(render(raw, "dc1-hv1"), "network")
    assert [p for p in before if before[p] != after[p]] == ["/etc/systemd/network/30-bond1.network"]


def test_bond_live_action_sets_the_timers_only_on_an_existing_bond(tmp_path: Path) -> None:
    state = render(raw_config(), "dc1-hv1")
    (command,) = state.concerns["network"].action("bond-bond0").commands
    log = tmp_path / "ip.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    _script(fake / "ip", f'echo "$*" >> {log}\n[ "$1 $2" != "link show" ] || [ -e {tmp_path}/exists ]\n')
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}

    subprocess.run(command, check=True, env=env)  # bond not created yet: only looked at
    assert log.read_text().splitlines() == ["link show dev bond0"]

    (tmp_path / "exists").touch()
    log.unlink()
    subprocess.run(command, check=True, env=env)
    assert log.read_text().splitlines() == [
        "link show dev bond0",
        "link set dev bond0 type bond lacp_rate fast miimon 1000 updelay 2000 downdelay 2000 xmit_hash_policy layer3+4",
    ]


# ----------------------------------------------------------------------------- SR-IOV


def test_vf_counts_per_nic_only_for_nics_with_vfs(states: dict[str, HostState]) -> None:
    for state in states.values():
        concern = state.concerns["sriov"]
        counts = {}
        for f in concern.files:
            parsed = parse_ini(f.content)
            nic = Path(f.path).stem.removeprefix("10-")
            counts[nic] = int(one(parsed, "Link", "SR-IOVVirtualFunctions"))
            assert f.reload == (f"sriov-{nic}",)
            # The live action writes the same count to the same NIC.
            argv = concern.action(f"sriov-{nic}").commands[-1]
            assert argv[-2:] == (f"/sys/class/net/{nic}/device/sriov_numvfs", str(counts[nic]))
        assert counts == {"enp1s0f0": 7, "enp1s0f1": 7, "enp2s0f0": 4}
        assert [a.name for a in concern.actions] == ["sriov-enp1s0f0", "sriov-enp1s0f1", "sriov-enp2s0f0"]


def test_link_files_match_the_nic_before_it_is_renamed(states: dict[str, HostState]) -> None:
    state = states["dc1-hv1"]
    by_mac = parse_ini(state.file("/etc/systemd/network/10-enp1s0f1.link").content)
    assert by_mac["Match"] == {"PermanentMACAddress": ["3c:fd:fe:00:00:01"]}
    assert one(by_mac, "Link", "Name") == "enp1s0f1"
    by_path_name = parse_ini(state.file("/etc/systemd/network/10-enp1s0f0.link").content)
    assert by_path_name["Match"] == {"Property": ["ID_NET_NAME_PATH=enp1s0f0"]}
    # The file replaces 99-default.link for this NIC, so it must keep the default naming.
    assert one(by_path_name, "Link", "NamePolicy") == "keep kernel database onboard slot path"
    for f in state.concerns["sriov"].files:
        assert "OriginalName" not in parse_ini(f.content)["Match"]


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("eno1", ("Property", "ID_NET_NAME_ONBOARD=eno1")),
        ("ens1f0", ("Property", "ID_NET_NAME_SLOT=ens1f0")),
        ("enp65s0f1np1", ("Property", "ID_NET_NAME_PATH=enp65s0f1np1")),
        ("enx3cfdfe000001", ("Property", "ID_NET_NAME_MAC=enx3cfdfe000001")),
        ("eth0", ("OriginalName", "eth0")),
    ],
)
def test_link_match_follows_the_naming_scheme(name: str, entry: tuple[str, str]) -> None:
    assert sriov.match(model.Nic(name=name, vfs=1)) == [entry]


def test_vf_action_goes_through_zero_and_does_nothing_when_right(tmp_path: Path) -> None:
    state = render(raw_config(), "dc1-hv1")
    sh, _c, script, arg0, _path, want = state.concerns["sriov"].action("sriov-enp1s0f0").commands[-1]
    numvfs = tmp_path / "sriov_numvfs"

    numvfs.write_text("3\n")
    run = subprocess.run([sh, "-xc", script, arg0, str(numvfs), want], capture_output=True, text=True, check=True)
    assert numvfs.read_text() == "7\n"
    assert re.search(r"echo 0\n(.*\n)*.*echo 7", run.stderr), run.stderr  # 3 -> 0 -> 7, as the kernel needs

    os.utime(numvfs, ns=(0, 0))
    subprocess.run([sh, "-c", script, arg0, str(numvfs), want], check=True)
    assert numvfs.stat().st_mtime_ns == 0  # already right: not written

    numvfs.write_text("0\n")
    run = subprocess.run([sh, "-xc", script, arg0, str(numvfs), want], capture_output=True, text=True, check=True)
    assert numvfs.read_text() == "7\n" and "echo 0" not in run.stderr

    missing = subprocess.run([sh, "-c", script, arg0, str(tmp_path / "absent"), want], capture_output=True)
    assert missing.returncode != 0  # a NIC without SR-IOV fails the action loudly


# ----------------------------------------------------------------------------- Open vSwitch


def _vsctl_commands(state: HostState) -> list[tuple[str, ...]]:
    concern = state.concerns["ovs"]
    return [argv for a in concern.actions for argv in a.commands if argv[0] == "ovs-vsctl"]


def test_ovs_commands_are_idempotent(states: dict[str, HostState]) -> None:
    for state in states.values():
        commands = _vsctl_commands(state)
        assert commands
        for argv in commands:
            verbs = [w for w in argv if w in {"add-br", "add-port", "add-bond", "del-port", "del-br"}]
            for verb in verbs:
                option = "--if-exists" if verb.startswith("del") else "--may-exist"
                assert argv[argv.index(verb) - 1] == option, argv
            assert any(w.startswith("--timeout=") for w in argv)  # never hangs on a dead ovs-vswitchd
        bridge = state.concerns["ovs"].action("ovs-bridge").commands
        assert bridge[0][-8:] == ("--may-exist", "add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=system")


def _trunks(argv: tuple[str, ...], port: str) -> set[int]:
    """The VLANs an ``add-port ... -- set Port <port> vlan_mode=trunk trunks=...`` command sets."""
    assert argv[argv.index("Port") + 1] == port and "vlan_mode=trunk" in argv
    (trunks,) = [w for w in argv if w.startswith("trunks=")]
    return {int(v) for v in trunks.removeprefix("trunks=").split(",")}


def _port_command(state: HostState, port: str) -> tuple[str, ...]:
    (argv,) = [a for a in _vsctl_commands(state) if "add-port" in a and a[a.index("add-port") + 2] == port]
    return argv


def test_no_tenant_segment_is_a_vlan(states: dict[str, HostState]) -> None:
    """The uplink and the routers' taps trunk public and backbone only: a tenant reaches a router
    only through EVPN, so no VLAN can give a tenant port a second path (README "Tenant VMs")."""
    for host in ("dc1-hv1", "dc1-hv2", "dc1-hv3"):
        assert _trunks(_port_command(states[host], "bond1"), "bond1") == {10, 100}
    assert _trunks(_port_command(states["dc1-hv1"], "vt-dc1-r1"), "vt-dc1-r1") == {10, 100}


def test_each_vm_tap_is_a_trunk_of_its_own_vlans_at_the_uplink_mtu(states: dict[str, HostState]) -> None:
    hv1 = states["dc1-hv1"]
    r1 = _port_command(hv1, "vt-dc1-r1")
    assert r1[:7] == ("ovs-vsctl", "--timeout=30", "--", "--may-exist", "add-port", "br0", "vt-dc1-r1")
    assert _trunks(r1, "vt-dc1-r1") == {10, 100}
    assert "mtu_request=9000" in r1
    assert _trunks(_port_command(hv1, "vt-dc1-edge"), "vt-dc1-edge") == {10, 100}
    assert not [a for a in _vsctl_commands(states["dc1-hv3"]) if "add-port" in a and "bond1" not in a]


def test_taps_of_vms_gone_from_the_host_are_removed(tmp_path: Path, states: dict[str, HostState]) -> None:
    (prune,) = [a for a in states["dc1-hv1"].concerns["ovs"].action("ovs-bridge").commands if a[0] == "sh"]
    log = tmp_path / "vsctl.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    _script(
        fake / "ovs-vsctl",
        f'echo "$*" >> {log}\n'
        'case "$*" in *list-ports*) echo bond1; echo vt-dc1-r1; echo vt-dc1-old; '
        "echo vt-dc1-edge;; esac\n",
    )
    subprocess.run(prune, check=True, env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    deleted = [line for line in log.read_text().splitlines() if "del-port" in line]
    assert deleted == ["--timeout=30 -- --if-exists del-port br0 vt-dc1-old"]


def test_ovs_intent_on_disk_is_exactly_what_the_actions_run(states: dict[str, HostState]) -> None:
    for state in states.values():
        concern = state.concerns["ovs"]
        for path, action in ((ovs.bridge_path("br0"), "ovs-bridge"), (ovs.GLOBAL_PATH, "ovs-global")):
            f = state.file(path)
            assert f.mode == 0o755
            lines = f.content.splitlines()
            body = lines[lines.index("set -eu") + 1 :]
            assert [tuple(shlex.split(line)) for line in body if line] == list(concern.action(action).commands)
        unit = parse_ini(state.file(ovs.UNIT_PATH).content)
        assert unit["Service"]["ExecStart"] == [ovs.GLOBAL_PATH, ovs.bridge_path("br0")]
        assert "ovs-vswitchd.service" in one(unit, "Unit", "After").split()


def test_only_a_hw_offload_change_restarts_ovs_vswitchd() -> None:
    before = render(raw_config(), "dc1-hv1").concerns["ovs"]
    assert before.action("ovs-global").commands[0][-1] == "other_config:hw-offload=true"
    raw = raw_config()
    raw["datacenter"]["hypervisors"][0]["ovs"] = {"hw_offload": False}
    after = render(raw, "dc1-hv1").concerns["ovs"]
    old = {f.path: f.content for f in before.files}
    changed = [f.path for f in after.files if old[f.path] != f.content]
    assert changed == [ovs.GLOBAL_PATH]
    assert [a.name for a in after.actions_for(changed)] == ["ovs-global", "ovs-restart"]
    assert after.action("ovs-global").commands[0][-1] == "other_config:hw-offload=false"
    # A VLAN change on the bridge does not restart the switch.
    bridge_only = after.actions_for([ovs.bridge_path("br0")])
    assert "ovs-restart" not in [a.name for a in bridge_only]


# ----------------------------------------------------------------------------- VMs


def _exec_start_argv(unit: dict[str, dict[str, list[str]]]) -> list[str]:
    """ExecStart as systemd splits it, with its %% and $$ escapes undone."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(one(unit, "Service", "ExecStart"))]


def test_a_vm_unit_per_router_on_that_hypervisor_only(plan: topology.Plan, states: dict[str, HostState]) -> None:
    units = {host: sorted(f.path for f in s.concerns["vms"].files) for host, s in states.items()}
    assert units == {
        "dc1-hv1": ["/etc/systemd/system/fabric-vm-dc1-edge.service", "/etc/systemd/system/fabric-vm-dc1-r1.service"],
        "dc1-hv2": ["/etc/systemd/system/fabric-vm-dc1-r2.service"],
        "dc1-hv3": [],
    }
    unit = parse_ini(states["dc1-hv1"].file("/etc/systemd/system/fabric-vm-dc1-r1.service").content)
    argv = _exec_start_argv(unit)
    assert argv[0] == "/usr/bin/systemd-vmspawn"
    for option in ("--machine=dc1-r1", "--image=/srv/images/dc1-r1.raw", "--cpus=4", "--ram=8G", "--network-tap"):
        assert option in argv
    defaults = _exec_start_argv(parse_ini(states["dc1-hv2"].file(vms.unit_path(_vm(plan, "dc1-r2"))).content))
    assert {"--image=/var/lib/machines/dc1-r2.raw", "--cpus=2", "--ram=4G"} <= set(defaults)


def _vm(plan: topology.Plan, router: str) -> topology.VmPlan:
    return next(vm for hv in plan.hypervisors for vm in hv.vms if vm.name == router)


def test_vm_unit_runs_as_a_plain_service_after_ovs(states: dict[str, HostState]) -> None:
    unit = parse_ini(states["dc1-hv1"].file("/etc/systemd/system/fabric-vm-dc1-r1.service").content)
    assert one(unit, "Service", "Type") == "exec"  # vmspawn's READY=1 waits for the guest
    assert one(unit, "Service", "KillMode") == "mixed"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert {"ovs-vswitchd.service", "network-online.target"} <= set(one(unit, "Unit", "After").split())
    assert {"ovs-vswitchd.service", "network-online.target"} <= set(one(unit, "Unit", "Wants").split())
    assert "Requires" not in unit["Unit"]  # an OVS restart must not restart the routers
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_a_changed_unit_restarts_only_its_vm() -> None:
    raw = raw_config()
    raw["datacenter"]["routers"][0]["vm"]["cpus"] = 8
    state = render(raw, "dc1-hv1")
    before = by_path(render(raw_config(), "dc1-hv1"), "vms")
    changed = [p for p, c in by_path(state, "vms").items() if before[p] != c]
    assert changed == ["/etc/systemd/system/fabric-vm-dc1-r1.service"]
    actions = state.concerns["vms"].actions_for(changed)
    assert [a.name for a in actions] == ["daemon-reload", "vm-dc1-r1"]
    assert actions[1].commands == (
        ("systemctl", "enable", "fabric-vm-dc1-r1.service"),
        ("systemctl", "restart", "fabric-vm-dc1-r1.service"),
    )


def test_the_ovs_port_is_the_tap_vmspawn_creates(plan: topology.Plan, states: dict[str, HostState]) -> None:
    for hv in plan.hypervisors:
        ports = {a[a.index("add-port") + 2] for a in _vsctl_commands(states[hv.spec.name]) if "add-port" in a}
        assert ports == {"bond1"} | {f"vt-{vm.name}" for vm in hv.vms if vm.tenant is None}
        assert all(len(p) <= 15 for p in ports)


def test_an_image_path_reaches_vmspawn_unchanged() -> None:
    raw = raw_config()
    raw["datacenter"]["routers"][0]["vm"]["image"] = "/srv/vm-images/r1+v1.5_rc.raw"
    unit = parse_ini(render(raw, "dc1-hv1").file("/etc/systemd/system/fabric-vm-dc1-r1.service").content)
    assert "--image=/srv/vm-images/r1+v1.5_rc.raw" in _exec_start_argv(unit)


def test_an_image_path_systemd_would_expand_is_refused() -> None:
    """Spaces, '%' and '$' would be split or expanded by systemd: the model refuses them."""
    raw = raw_config()
    raw["datacenter"]["routers"][0]["vm"]["image"] = "/srv/vm images/r1 100%$HOME.raw"
    with pytest.raises(ConfigError, match=r"datacenter\.routers\[dc1-r1\]\.vm\.image: .* absolute path"):
        render(raw, "dc1-hv1")


# ----------------------------------------------------------------------------- every file


def test_every_ini_file_parses_with_valid_sections(states: dict[str, HostState]) -> None:
    for state in states.values():
        files = ini_files(state)
        # All but the two OVS scripts and the VTEP's wg0.conf, nftables.conf, frr.conf, daemons, sysctl.
        others = [f for f in state.files() if not f.path.endswith(INI_SUFFIXES)]
        assert {f.path for f in others} <= {
            "/etc/fabric/ovs/global.sh",
            "/etc/fabric/ovs/br0.sh",
            "/etc/wireguard/wg0.conf",
            "/etc/nftables.conf",
            "/etc/frr/frr.conf",
            "/etc/frr/daemons",
            "/etc/sysctl.d/90-fabric.conf",
        } | {f.path for f in state.concerns["dhcp"].files if ".network.d/" in f.path or f.path.startswith(DNS_DIR)}
        for f in state.concerns["dhcp"].files:
            if ".network.d/" in f.path:
                files.append(f)  # a .network drop-in parses as one
        for f in files:
            parsed = parse_ini(f.content)
            suffix = ".network" if ".network.d/" in f.path else Path(f.path).suffix
            assert parsed and set(parsed) <= VALID_SECTIONS[suffix], (f.path, set(parsed))
            for section in parsed.values():
                for key, values in section.items():
                    assert re.fullmatch(r"[A-Z][A-Za-z0-9-]*", key), (f.path, key)
                    assert all(v.strip() == v and v for v in values), (f.path, key, values)


def test_every_file_says_it_is_managed_by_fabric_and_for_whom(states: dict[str, HostState]) -> None:
    for host, state in states.items():
        for f in state.files():
            lines = f.content.splitlines()
            head = lines[1] if lines[0].startswith("#!") else lines[0]
            head = head.replace("!", "#", 1)  # frr.conf comments with '!'
            assert head.startswith(f"# {MANAGED} (hypervisor {host}"), (f.path, head)
            assert f.owner == ("frr" if f.path.startswith("/etc/frr/") else "root") and f.path.startswith("/etc/")
        for f in state.concerns["vms"].files:
            router = Path(f.path).stem.removeprefix("fabric-vm-")
            assert f"router {router}" in f.content.splitlines()[0]


def test_every_reload_names_an_action_of_its_concern_and_actions_are_argv(states: dict[str, HostState]) -> None:
    assert list(CONCERNS) == ["sriov", "network", "ovs", "dhcp", "vms"]
    vtep = ["wireguard", "segments", "forwarding", "frr"]
    for state in states.values():
        assert list(state.concerns) == ["sriov", "network", "ovs", *vtep, "dhcp", "vms"]
        for concern in state.concerns.values():
            names = {a.name for a in concern.actions}
            for f in concern.files:
                assert f.reload and set(f.reload) <= names
            for action in concern.actions:
                for argv in action.commands:
                    assert all(isinstance(w, str) and w for w in argv)
                    assert argv[0] != "sh" or argv[1] == "-c"  # scripts get their values as $1.., not spliced


def test_a_concern_unpacks_as_files_and_actions_and_bad_ones_are_refused(states: dict[str, HostState]) -> None:
    files, actions = states["dc1-hv1"].concerns["vms"]
    assert files == states["dc1-hv1"].concerns["vms"].files and actions[0].name == "daemon-reload"
    unit = HostFile("/etc/x.service", "x\n", reload=("nope",))
    reload = HostAction("daemon-reload", (("systemctl", "daemon-reload"),))
    with pytest.raises(ValueError, match="unknown actions"):
        HostState("h", {"vms": Concern((unit,), (reload,))})
    same = HostFile("/etc/x.service", "x\n")
    with pytest.raises(ValueError, match="rendered by both a and b"):
        HostState("h", {"a": Concern((same,), ()), "b": Concern((same,), ())})


def test_rendering_is_deterministic_and_ignores_inventory_list_order() -> None:
    first = {h: render(raw_config(), h) for h in ("dc1-hv1", "dc1-hv2", "dc1-hv3")}
    second = {h: render(raw_config(), h) for h in ("dc1-hv1", "dc1-hv2", "dc1-hv3")}
    assert first == second
    raw = raw_config()
    raw["datacenter"]["routers"].reverse()
    for hv in raw["datacenter"]["hypervisors"]:
        hv["nics"].reverse()
    for host, state in first.items():
        shuffled = render(raw, host)
        for name in CONCERNS:
            assert by_path(shuffled, name) == by_path(state, name)
            assert shuffled.concerns[name].actions == state.concerns[name].actions


# ----------------------------------------------------------------------------- systemd's own check


_UNIT_KEYS = {  # systemd.unit(5), systemd.service(5), systemd.kill(5): the keys rendered here
    "Unit": {"Description", "Documentation", "Wants", "After"},
    "Service": {"Type", "RemainAfterExit", "ExecStart", "KillMode", "Restart", "RestartSec", "TimeoutStopSec"},
    "Install": {"WantedBy"},
}


def _parse_problems(path: Path) -> list[str]:
    """Unknown sections or keys, and relative commands, found by parsing the unit ourselves."""
    parsed = parse_ini(path.read_text())
    problems = [f"unknown section [{s}]" for s in parsed if s not in _UNIT_KEYS]
    problems += [
        f"unknown key {k} in [{s}]" for s, keys in parsed.items() for k in keys if k not in _UNIT_KEYS.get(s, set())
    ]
    problems += [
        f"relative ExecStart {v}"
        for v in parsed.get("Service", {}).get("ExecStart", [])
        if not shlex.split(v)[0].startswith("/")
    ]
    return problems


_MISSING_EXECUTABLE = re.compile(r": Command (\S+) is not executable: No such file or directory$")


def _analyze_problems(analyze: str, path: Path) -> list[str]:
    """What ``systemd-analyze verify`` reports, less a command this machine does not have."""
    run = subprocess.run(
        [analyze, "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    problems = []
    for line in (run.stdout + run.stderr).splitlines():
        missing = _MISSING_EXECUTABLE.search(line)
        if line.strip() and not (missing and not Path(missing[1]).exists()):
            problems.append(line)
    if run.returncode != 0 and not problems and "is not executable" not in run.stderr:
        problems.append(f"systemd-analyze exited {run.returncode}")
    return problems


def _verify_unit(path: Path) -> list[str]:
    """Our parse always; systemd's own ``verify`` too where this machine has systemd-analyze."""
    analyze = shutil.which("systemd-analyze")
    return _parse_problems(path) + (_analyze_problems(analyze, path) if analyze else [])


def test_systemd_accepts_the_rendered_units(tmp_path: Path, states: dict[str, HostState]) -> None:
    units = [f for f in states["dc1-hv1"].files() if f.path.endswith(".service")]
    assert {Path(f.path).name for f in units} == {
        "fabric-ovs.service",
        "fabric-vm-dc1-edge.service",
        "fabric-vm-dc1-r1.service",
        "fabric-dns-acme.service",
        "fabric-dns-globex.service",
    }
    for f in units:
        path = tmp_path / Path(f.path).name
        path.write_text(f.content)
        assert _verify_unit(path) == [], f.path
    # The check is not vacuous: a misspelt key is reported.
    bad = tmp_path / "bad.service"
    bad.write_text(units[0].content.replace("KillMode=", "KilMode=").replace("RemainAfterExit=", "RemainAfterExi="))
    assert _verify_unit(bad)


# ----------------------------------------------------------------------------- helpers


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_a_public_ssh_address_lives_on_the_public_vlan_of_the_management_bond() -> None:
    """The host stays reachable at the address Pulumi connects to, with its default route."""
    plan = stackfile.load_stack(ROOT, "dc1").plan
    hv1 = next(hv for hv in plan.hypervisors if hv.spec.name == "dc1-hv1")
    files = by_path(render_hypervisor(plan, hv1), "network")
    assert parse_ini(files["/etc/systemd/network/15-bond0.10.netdev"]) == {
        "NetDev": {"Name": ["bond0.10"], "Kind": ["vlan"]},
        "VLAN": {"Id": ["10"]},
    }
    public = parse_ini(files["/etc/systemd/network/40-bond0.10.network"])
    assert public["Network"]["Address"] == ["5.254.54.10/26"] and public["Network"]["Gateway"] == ["5.254.54.1"]
    assert parse_ini(files["/etc/systemd/network/30-bond0.network"])["Network"]["VLAN"] == ["bond0.10"]
