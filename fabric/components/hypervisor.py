"""``fabric:index:Hypervisor``: a bare-metal host's rendered state, applied over SSH per concern."""

from __future__ import annotations

from typing import Any

import pulumi

from fabric.components.hosts import ConcernInputs, concern_chain
from fabric.render.linux import render_hypervisor
from fabric.topology import HypervisorPlan, Plan
from providers.host import HostConcern


class Hypervisor(pulumi.ComponentResource):
    """One ``HostConcern`` resource per concern (network, sriov, ovs, vms) on this host."""

    def __init__(
        self,
        name: str,
        plan: Plan,
        hv: HypervisorPlan,
        private_key: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__("fabric:index:Hypervisor", name, None, opts)
        state = render_hypervisor(plan, hv)
        self.files: dict[str, dict[str, str]] = {
            concern: {f.path: f.content for f in c.files} for concern, c in state.concerns.items()
        }
        # Concerns apply in order (sriov, network, ovs, vms): the bonds exist before OVS
        # takes one as its uplink, and the bridge before a VM's tap joins it.
        self.concerns: dict[str, HostConcern] = concern_chain(
            self,
            name,
            hv.spec.name,
            hv.spec.ssh,
            private_key,
            (ConcernInputs(concern, *c.inputs()) for concern, c in state.concerns.items()),
        )
        self.backbone_address = str(hv.backbone_address)
        outputs: dict[str, Any] = {
            "backbone_address": self.backbone_address,
            "vms": [vm.router for vm in hv.vms],
            "files": self.files,
        }
        self.register_outputs(outputs)
