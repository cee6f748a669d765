"""``fabric:index:Hypervisor``: a bare-metal host's rendered state, per concern."""

from __future__ import annotations

from typing import Any

import pulumi

from fabric.render.linux import render_hypervisor
from fabric.topology import HypervisorPlan, Plan


class Hypervisor(pulumi.ComponentResource):
    """Files (path -> content) and action names per concern, ready for the host provider."""

    def __init__(self, name: str, plan: Plan, hv: HypervisorPlan, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Hypervisor", name, None, opts)
        state = render_hypervisor(plan, hv)
        self.files: dict[str, dict[str, str]] = {
            concern: {f.path: f.content for f in c.files} for concern, c in state.concerns.items()
        }
        self.actions: dict[str, list[str]] = {
            concern: [a.name for a in c.actions] for concern, c in state.concerns.items()
        }
        self.backbone_address = str(hv.backbone_address)
        outputs: dict[str, Any] = {
            "backbone_address": self.backbone_address,
            "vms": [vm.router for vm in hv.vms],
            "files": self.files,
            "actions": self.actions,
        }
        self.register_outputs(outputs)
