"""A hypervisor's desired host state (Arch Linux, systemd >= 257, Open vSwitch) as data.

``render_hypervisor(plan, hv)`` is pure: it returns files and idempotent actions, grouped
by concern, and never touches a host. One module per concern, each with
``render(plan, hv) -> Concern``; a rendered line's origin is the module named after its
concern:

* ``network``: systemd-networkd bonds, member NICs, the VM taps' link settings.
* ``sriov``: SR-IOV VF counts as systemd ``.link`` files.
* ``ovs``: the Open vSwitch bridge, uplink trunk and VM tap ports.
* ``dhcp``: the tenants' DHCP servers for the gateway routers on this host.
* ``vms``: one systemd-vmspawn service per router VM.

The host provider creates one resource per (host, concern), writes only changed files
and runs only the actions they name (``Concern.actions_for``), in the listed order.
Concerns are listed in apply order: links before bonds, bonds before the bridge, the
bridge before the VMs that plug into it.
"""

from __future__ import annotations

from collections.abc import Callable

from fabric.render.linux import dhcp, network, ovs, sriov, vms
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

#: Concern name -> renderer, in apply order.
CONCERNS: dict[str, Callable[[Plan, HypervisorPlan], Concern]] = {
    "sriov": sriov.render,
    "network": network.render,
    "ovs": ovs.render,
    "dhcp": dhcp.render,
    "vms": vms.render,
}


def render_hypervisor(plan: Plan, hv: HypervisorPlan) -> HostState:
    """One hypervisor's files and actions; raises ConfigError for a plan no host can run."""
    return HostState(host=hv.spec.name, concerns={name: render(plan, hv) for name, render in CONCERNS.items()})


def render_hypervisors(plan: Plan) -> list[HostState]:
    return [render_hypervisor(plan, hv) for hv in plan.hypervisors]
