"""``fabric:index:Router``: one VyOS router, its WireGuard key, and its config applied via the API."""

from __future__ import annotations

import pulumi

from fabric import model
from fabric.components.keys import mesh_key
from fabric.components.late import LateValues
from fabric.connections import router_props
from fabric.deferred import API_KEY, WIREGUARD_PRIVATE_KEY
from fabric.render.vyos import SECTIONS, RenderedRouter, keep_on_delete, owned_subtrees, render_router
from fabric.render.vyos.command import late_paths, secret_paths, set_line
from fabric.topology import Plan, RouterPlan
from fabric.vyos_releases import release
from providers.vyos import VyosConfig


class Router(pulumi.ComponentResource):
    """A router's key, and its config applied through the API (:meth:`attach`)."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]
    config: dict[str, str]

    def __init__(
        self, name: str, inv: model.Inventory, spec: model.Router, planned: RouterPlan, opts: pulumi.ResourceOptions
    ) -> None:
        """``planned``: the router as the plan decides it."""
        super().__init__("fabric:index:Router", name, None, opts)
        self.name = name
        self.spec = spec
        self.planned = planned
        self.mesh_address = str(planned.mesh_address)
        if spec.api.insecure:
            pulumi.warn(f"router {name}: TLS verification is off (api.insecure); the API key could be intercepted")
        key = mesh_key(name, inv, spec.key_rotation, self)
        self.public_key = key.public_key
        self.private_key = key.private_key

    def attach(self, plan: Plan, api_key: pulumi.Output[str], late: LateValues) -> None:
        """Render this router, apply it through the API (the other members' keys and the
        cloud nodes' addresses filled in by the provider), register outputs."""
        rendered = render_router(plan, self.planned)
        commands = rendered.commands()
        self.config = sections_text(rendered)
        slots = late_paths(commands)
        self.applied = VyosConfig(
            f"{self.name}-vyos",
            **router_props(self.planned, self.spec),
            api_key=api_key,
            vyos_version=self.spec.vyos_version,
            confirm=self.spec.api.commit_confirm and release(self.spec.vyos_version).commit_confirm,
            owns={section: [list(o) for o in owned_subtrees(section)] for section in SECTIONS},
            keep_on_delete=[list(k) for k in keep_on_delete()],
            config=self.config,
            secrets={WIREGUARD_PRIVATE_KEY.name: self.private_key, API_KEY.name: api_key},
            secret_paths=secret_paths(commands),
            late=late.inputs((kind, name) for pairs in slots.values() for kind, name in pairs),
            late_paths=slots,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "public_key": self.public_key,
                "mesh_address": self.mesh_address,
                "vyos_version": self.spec.vyos_version,
                "config": self.config,
            }
        )


def sections_text(rendered: RenderedRouter) -> dict[str, str]:
    """Per section, its ``set`` lines as one text: the router's ``config`` output and what its
    ``fabric:vyos`` resource applies. Cheap for the SDK and the engine to carry and diff (the
    Pulumi 3.163 Python SDK serializes a resource's inputs in time quadratic in their number
    of values; a router with 200 tenants has ~17,000 lines), and ``pulumi preview --diff``
    shows a changed section as a line diff.
    """
    return {section: "".join(set_line(c) + "\n" for c in commands) for section, commands in rendered.sections.items()}
