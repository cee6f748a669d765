"""Tenant VMs on every hypervisor (README "Tenant VMs"): one L2 path, placement, host state.

The loop test reads the graph from what fabric renders for every device (``fabric.l2graph``);
the placement properties render every device before and after a change and compare.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fabric import addressing as ap
from fabric import l2graph, loader, stackfile, topology
from fabric.render.linux import render_hypervisor
from fabric.render.linux.ovs import VSCTL
from fabric.render.linux.state import Concern, HostAction, HostState
from fabric.render.vyos import render_router
from fabric.render.vyos.command import Command
from tests.conftest import ROOT
from tests.unit.test_render_linux import one, parse_ini

EXAMPLES = [stackfile.load_stack(ROOT, s).plan for s in ("dc1", "dc2")]


def _tenant_ports(plans: list[topology.Plan]) -> dict[str, set[str]]:
    """Per tenant, every port a tenant VM plugs into (its tap, on its hypervisor)."""
    out: dict[str, set[str]] = {}
    for plan in plans:
        for hv in plan.hypervisors:
            for vm in hv.vms:
                if vm.tenant is not None:
                    out.setdefault(vm.tenant.name, set()).add(f"{hv.spec.name}/{vm.tap}")
    return out


def _one_path_everywhere(plans: list[topology.Plan]) -> None:
    """No cycle anywhere, and each tenant's VM ports, its gateway routers' bridges and the
    hypervisors carrying it are one component around the tenant's VNI."""
    graph = l2graph.edges(l2graph.devices(plans))
    assert l2graph.cycles(graph) == []
    tenants = {t.name: t for p in plans for t in p.tenants}
    for name, ports in _tenant_ports(plans).items():
        t = tenants[name]
        reach = l2graph.component(graph, l2graph.vni(t.vni))
        assert ports <= reach, name
        gateways = {
            f"{r.name}/br{t.vni}" for p in plans for r in p.routers if any(c.tenant.name == name for c in r.tenants)
        }
        assert gateways and gateways <= reach
        # Never another tenant's segment, nor any VLAN of a switch (the segment is never a VLAN).
        assert not any(v.startswith("vni:") and v != l2graph.vni(t.vni) for v in reach)
        assert not any("@" in v for v in reach)


def test_the_examples_have_one_path_between_any_two_tenant_ports() -> None:
    _one_path_everywhere(EXAMPLES)
    assert _tenant_ports(EXAMPLES) == {
        "acme": {"dc1-hv1/vt-acme-web1", "dc1-hv2/vt-acme-db1"},
        "initech": {"dc1-hv2/vt-initech-app1"},
        "umbrella": {"dc2-hv2/vt-umbrella-ci1"},
    }


def test_the_graph_sees_the_loop_of_the_old_attachment() -> None:
    """Before, a router also bridged its tenant's VLAN on its hypervisor's switch: with both
    gateway routers on one hypervisor, the VLAN and the VXLAN made two paths (the check finds it)."""
    d = l2graph.devices(EXAMPLES[:1])
    acme = next(t for t in EXAMPLES[0].tenants if t.name == "acme")
    vlan = 1010
    routers = tuple(
        dataclasses.replace(
            r,
            sections={
                **r.sections,
                "old": [
                    Command(("interfaces", "ethernet", "eth0", "vif", str(vlan), "description"), "tenant acme"),
                    Command(("interfaces", "bridge", f"br{acme.vni}", "member", "interface", f"eth0.{vlan}")),
                ],
            },
        )
        for r in d.routers
    )
    trunks = [(*VSCTL, "--may-exist", "add-port", "br0", f"vt-{r.name}", "--", "set", "Port", f"vt-{r.name}",
               "vlan_mode=trunk", f"trunks=10,100,{vlan}") for r in d.routers]  # fmt: skip
    hv1 = HostState("dc1-hv1", {"ovs": Concern((), (HostAction("ovs-bridge", tuple(trunks)),))})
    old = l2graph.Devices(routers, (*d.hosts[1:], hv1), d.sites)
    loops = l2graph.cycles(l2graph.edges(old))
    assert loops and any("eth0" in v for edge in loops for v in edge)
    assert l2graph.cycles(l2graph.edges(d)) == []


# ----------------------------------------------------------------------------- random fabrics

RAW_DC1 = stackfile.raw_config(ROOT, "dc1")
HYPERVISORS = 6


def _fabric(vms: list[tuple[int, int]], hypervisors: int = HYPERVISORS) -> dict[str, Any]:
    """dc1 with ``hypervisors`` hosts (all in the mesh) and one VM per (tenant index, host index)."""
    raw = copy.deepcopy(RAW_DC1)
    dc = raw["datacenter"]
    template = dc["hypervisors"][0]
    dc["hypervisors"] = [
        {
            **copy.deepcopy(template),
            "name": f"dc1-hv{h}",
            "id": h,
            "ssh": {**template["ssh"], "address": f"5.254.54.{9 + h}"},
        }
        for h in range(1, hypervisors + 1)
    ]
    tenants = [t["name"] for t in raw["tenants"] if "dc1" in (t.get("sites") or ["dc1"])]
    for t in raw["tenants"]:  # the example's allow entries for one of its VMs go with its VMs
        allow = t.get("egress", {}).get("allow", [])
        allow[:] = [a for a in allow if "/" not in a.get("source", "")]
    dc["vms"] = [
        {
            "name": f"vm{i}",
            "id": i + 1,
            "tenant": tenants[t % len(tenants)],
            "hypervisor": f"dc1-hv{h % hypervisors + 1}",
        }
        for i, (t, h) in enumerate(vms)
    ]
    return raw


def _plan(raw: dict[str, Any]) -> topology.Plan:
    return topology.build(loader.load(raw))


placements = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=12)


@settings(max_examples=25, deadline=None)
@given(vms=placements)
def test_random_placements_keep_one_path(vms: list[tuple[int, int]]) -> None:
    _one_path_everywhere([_plan(_fabric(vms))])


def _rendered(plan: topology.Plan) -> dict[str, dict[str, str]]:
    """Every device's rendered state: a router's lines, a hypervisor's files by concern."""
    out = {r.name: {"config": render_router(plan, r).text()} for r in plan.routers}
    for hv in plan.hypervisors:
        state = render_hypervisor(plan, hv)
        out[hv.spec.name] = {f"{c}:{f.path}": f.content for c, concern in state.concerns.items() for f in concern.files}
    return out


def _changed(a: topology.Plan, b: topology.Plan) -> dict[str, set[str]]:
    before, after = _rendered(a), _rendered(b)
    return {
        device: {
            k for k in before[device].keys() | after[device].keys() if before[device].get(k) != after[device].get(k)
        }
        for device in before
        if before[device] != after[device]
    }


@settings(max_examples=20, deadline=None)
@given(vms=placements, moved=st.integers(0, 100), to=st.integers(0, 100))
def test_a_vm_added_moved_or_removed_changes_only_its_hypervisors(
    vms: list[tuple[int, int]], moved: int, to: int
) -> None:
    """Only the hypervisors it leaves and joins change, and there only the VM, its tap, its
    tenant's segment (the EVPN membership FRR announces from it) and the host filter: no router,
    no other host, never the host's tunnel or BGP config."""
    vms = vms or [(0, 0)]
    raw = _fabric(vms)
    index = moved % len(vms)
    vm = raw["datacenter"]["vms"][index]
    plan = _plan(raw)
    target = f"dc1-hv{to % HYPERVISORS + 1}"
    moved_raw = copy.deepcopy(raw)
    moved_raw["datacenter"]["vms"][index]["hypervisor"] = target
    removed_raw = copy.deepcopy(raw)
    del removed_raw["datacenter"]["vms"][index]
    for other, hosts in ((moved_raw, {vm["hypervisor"], target}), (removed_raw, {vm["hypervisor"]})):
        changed = _changed(plan, _plan(other))
        assert set(changed) <= hosts
        for keys in changed.values():
            assert {k.split(":", 1)[0] for k in keys} <= {"segments", "forwarding", "vms"}
    # Adding it back is the reverse of removing it.
    assert set(_changed(_plan(removed_raw), plan)) <= {vm["hypervisor"]}


# ----------------------------------------------------------------------------- a hypervisor's state


def test_a_vm_keeps_its_mac_and_address_when_it_moves() -> None:
    raw = _fabric([(0, 0), (1, 1)])
    raw["datacenter"]["vms"][0]["address"] = "100.65.10.100"
    before = _plan(raw)
    raw["datacenter"]["vms"][0]["hypervisor"] = "dc1-hv3"
    after = _plan(raw)

    def vm0(plan: topology.Plan) -> tuple[str, topology.VmPlan]:
        return next((hv.spec.name, vm) for hv in plan.hypervisors for vm in hv.vms if vm.name == "vm0")

    (host_a, a), (host_b, b) = vm0(before), vm0(after)
    assert (host_a, host_b) == ("dc1-hv1", "dc1-hv3")
    assert a.mac == b.mac == ap.vm_mac(1, 1) == "02:fb:01:00:00:01" and str(b.address) == "100.65.10.100"
    assert ap.vm_mac(2, 0x123456) == "02:fb:02:12:34:56"


def test_a_hypervisor_carries_exactly_the_tenants_of_its_vms_and_its_dhcp() -> None:
    dc1 = EXAMPLES[0]
    carried = {hv.spec.name: [t.segment.bridge for t in hv.vtep.tenants] for hv in dc1.hypervisors if hv.vtep}
    # Each DHCP host carries every segment it serves (acme's three: main, data, services);
    # dc1-hv2 carries initech only for its VM (initech's DHCP is served in dc2).
    acme = ["br10010", "br100161", "br100162"]
    assert carried == {"dc1-hv1": [*acme, "br10020"], "dc1-hv2": [*acme, "br10020", "br10030"]}
    hv2 = dc1.hypervisors[1]
    assert hv2.vtep is not None and hv2.vtep.mesh_address == ap.mesh_address(dc1.control_plane, 1, 130)
    assert [n.name for n in hv2.vtep.bgp_neighbors] == ["dc1-r1"]  # its site's route reflector
    bare = _plan(_fabric([]))
    assert [t.tenant.name for t in bare.hypervisors[2].vtep.tenants] == []  # type: ignore[union-attr]


def test_the_vm_unit_tap_and_filter_as_rendered() -> None:
    hv2 = EXAMPLES[0].hypervisors[1]
    state = render_hypervisor(EXAMPLES[0], hv2)
    unit = parse_ini(state.file("/etc/systemd/system/fabric-vm-acme-db1.service").content)
    assert one(unit, "Service", "Environment") == "SYSTEMD_VMSPAWN_NETWORK_MAC=02:fb:01:00:00:02"
    assert "--cpus=4" in one(unit, "Service", "ExecStart") and "--ram=8G" in one(unit, "Service", "ExecStart")
    assert "ovs" not in one(unit, "Unit", "After")
    tap = parse_ini(state.file("/etc/systemd/network/61-vt-acme-db1.network").content)
    assert one(tap, "Network", "Bridge") == "br10010" and one(tap, "Link", "MTUBytes") == "1390"
    bridge = parse_ini(state.file("/etc/systemd/network/60-br10030.network").content)
    assert "Address" not in bridge["Network"]  # a hypervisor only bridges
    nft = state.file("/etc/nftables.conf").content
    assert 'iifname "vt-acme-db1" ether saddr != 02:fb:01:00:00:02 drop' in nft
    assert 'iifname "br10030" drop' in nft  # initech: not served here, nothing of the host's
    assert 'iifname { "br10010", "acme" } udp dport 67 accept' in nft  # acme's DHCP server is here
    assert 'iifname { "br10010", "br100161", "br100162", "br10020", "br10030" } drop' in nft  # never routed
    ovs = state.concerns["ovs"].action("ovs-bridge").commands
    assert not any("vt-acme-db1" in argv for argv in ovs)  # a tenant VM's tap is never an OVS port
