"""``fabric:index:Router``: one VyOS router, its WireGuard key and its rendered config."""

from __future__ import annotations

import pulumi

from fabric import addressing as ap
from fabric import model
from fabric.render.vyos import render_router
from fabric.render.vyos.command import set_line
from fabric.topology import Plan
from providers.keys import WireguardKey


def key_rotation(inv: model.Inventory, router: model.Router) -> str:
    """The key's only replacing input: the fabric-wide epoch and the router's own counter."""
    return f"{inv.mesh.key_epoch}.{router.key_rotation}"


class Router(pulumi.ComponentResource):
    """A router's key now; its config once every key (and peer) is known (:meth:`attach`)."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]
    config: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, inv: model.Inventory, spec: model.Router, opts: pulumi.ResourceOptions) -> None:
        super().__init__("fabric:index:Router", name, None, opts)
        self.spec = spec
        self.mesh_address = str(ap.mesh_address(inv.address_plan.control_plane, inv.site_id, spec.id))
        key = WireguardKey(f"{name}-wg-key", key_rotation(inv, spec), pulumi.ResourceOptions(parent=self))
        self.public_key = key.public_key
        self.private_key = key.private_key

    def attach(self, plan: pulumi.Output[Plan]) -> None:
        """Render this router from the full plan and register the outputs."""
        self.config = plan.apply(self._sections)
        self.register_outputs(
            {
                "public_key": self.public_key,
                "mesh_address": self.mesh_address,
                "vyos_version": self.spec.vyos_version,
                "config": self.config,
            }
        )

    def _sections(self, plan: Plan) -> dict[str, str]:
        """Per section, its ``set`` lines as one text: cheap for the engine to carry and diff.

        (A list of thousands of strings costs the SDK time quadratic in its length.)
        """
        router = next(r for r in plan.routers if r.name == self.spec.name)
        rendered = render_router(plan, router)
        return {
            section: "".join(set_line(c) + "\n" for c in commands) for section, commands in rendered.sections.items()
        }
