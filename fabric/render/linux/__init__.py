"""A hypervisor's desired host state (Arch Linux, systemd >= 257, Open vSwitch) as data.

``render_hypervisor(plan, hv)`` is pure: it returns files and idempotent actions, grouped
by concern, and never touches a host. One module per concern, each with
``render(plan, hv) -> Concern``; a rendered line's origin is the module named after its
concern:

* ``network``: systemd-networkd bonds, member NICs, the VM taps' link settings.
* ``sriov``: SR-IOV VF counts as systemd ``.link`` files.
* ``ovs``: the Open vSwitch bridge, uplink trunk and router VM tap ports.
* ``wireguard``, ``segments``, ``forwarding``, ``frr``: the host as a mesh member and
  the L2 VTEP of the tenants it carries, rendered by :mod:`fabric.render.linux.node`
  exactly as an ``frr`` node's (only for a hypervisor in the mesh: ``HypervisorPlan.vtep``).
* ``dhcp``: the tenants' DHCP servers for the gateway routers on this host.
* ``vms``: one systemd-vmspawn service per router or tenant VM.

The host provider creates one resource per (host, concern), writes only changed files
and runs only the actions they name (``Concern.actions_for``), in the listed order.
Concerns are listed in apply order: links before bonds, bonds before the bridge, the
tunnel before the segments over it, segments before the DHCP servers and VMs on them.
"""

from __future__ import annotations

from collections.abc import Callable

from fabric.render.linux import dhcp, network, node, ovs, sriov, vms
from fabric.render.linux.state import Concern, HostAction, HostFile, HostState
from fabric.render.linux.text import MANAGED
from fabric.topology import HypervisorPlan, Plan

__all__ = [
    "CONCERNS",
    "MANAGED",
    "Concern",
    "HostAction",
    "HostFile",
    "HostState",
    "render_hypervisor",
    "render_hypervisors",
]

#: Concern name -> renderer of the host itself, in apply order (the VTEP's concerns go after ``ovs``).
CONCERNS: dict[str, Callable[[Plan, HypervisorPlan], Concern]] = {
    "sriov": sriov.render,
    "network": network.render,
    "ovs": ovs.render,
    "dhcp": dhcp.render,
    "vms": vms.render,
}


def render_hypervisor(plan: Plan, hv: HypervisorPlan) -> HostState:
    """One hypervisor's files and actions; raises ConfigError for a plan no host can run."""
    host = {name: render(plan, hv) for name, render in CONCERNS.items()}
    vtep = {} if hv.vtep is None else {name: render(plan, hv.vtep) for name, render in node.CONCERNS.items()}
    order = ["sriov", "network", "ovs", *vtep, "dhcp", "vms"]
    return HostState(host=hv.spec.name, concerns={name: (host | vtep)[name] for name in order})


def render_hypervisors(plan: Plan) -> list[HostState]:
    return [render_hypervisor(plan, hv) for hv in plan.hypervisors]
