"""``fabric:index:Hypervisor``: a bare-metal host's rendered state, applied over SSH per concern.

A hypervisor in the mesh (a public address) also has a WireGuard key, and its VTEP
concerns (wireguard, segments, forwarding, frr) get the key and the late values their
files use, as a node's do (:func:`fabric.components.hosts.concern_inputs`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from fabric import model
from fabric.components.hosts import concern_chain, concern_inputs
from fabric.components.keys import mesh_key
from fabric.components.late import LateValues
from fabric.render.linux import render_hypervisor
from fabric.topology import HypervisorPlan, Plan
from providers.host import HostConcern


class Hypervisor(pulumi.ComponentResource):
    """One ``HostConcern`` resource per concern on this host (:meth:`attach`), and its key when in the mesh."""

    public_key: pulumi.Output[str] | None

    def __init__(self, name: str, inv: model.Inventory, hv: HypervisorPlan, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Hypervisor", name, None, opts)
        self.name = name
        self.planned = hv
        self.public_key = None
        self.private_key: pulumi.Output[str] | None = None
        if hv.vtep is not None:
            key = mesh_key(name, inv, hv.spec.key_rotation, self)
            self.public_key, self.private_key = key.public_key, key.private_key
        self.concerns: dict[str, HostConcern] = {}

    def attach(self, plan: Plan, late: LateValues, ssh_private_key: pulumi.Output[str] | None) -> None:
        hv = self.planned
        state = render_hypervisor(plan, hv)
        self.files: dict[str, dict[str, str]] = {
            concern: {f.path: f.content for f in c.files} for concern, c in state.concerns.items()
        }
        # Concerns apply in order (sriov, network, ovs, the VTEP's, dhcp, vms): the bonds exist
        # before OVS takes one as its uplink, a tenant's bridge before its DHCP server and VMs.
        inputs = concern_inputs(state, self.private_key, late, skip_empty=False)
        self.concerns = concern_chain(self, self.name, hv.spec.name, hv.spec.ssh, ssh_private_key, inputs)
        self.backbone_address = str(hv.backbone_address)
        outputs: dict[str, Any] = {
            "backbone_address": self.backbone_address,
            "vms": [vm.name for vm in hv.vms],
            "files": self.files,
        }
        if hv.vtep is not None:
            outputs |= {
                "public_key": self.public_key,
                "mesh_address": str(hv.vtep.mesh_address),
                "tenants": [t.tenant.name for t in hv.vtep.tenants],
            }
        self.register_outputs(outputs)
