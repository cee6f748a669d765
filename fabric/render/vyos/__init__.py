"""A VyOS router's configuration as ordered ``set`` paths, one module per config section.

Each section module has ``OWNS`` (the config subtrees it alone writes; the VyOS provider
applies all sections of a router as one resource and deletes exactly these subtrees,
less the optional ``KEEP_ON_DELETE`` ones that keep the API reachable) and
``render(plan, router)``. Sections are listed in apply order: a path that refers to
another (a bridge member, a VRF) comes after what it refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from fabric.deferred import Deferred
from fabric.render import gc_paused
from fabric.render.vyos import (
    bgp,
    bridge,
    dhcp,
    ethernet,
    firewall,
    nat,
    ospf,
    static,
    system,
    vrf,
    vrrp,
    vxlan,
    wireguard,
)
from fabric.render.vyos.command import Command, set_line
from fabric.topology import Plan, RouterPlan
from fabric.vyos_schema import VyosSchema

#: Section name -> module, in apply order.
SECTIONS: dict[str, ModuleType] = {
    "system": system,
    "ethernet": ethernet,
    "wireguard": wireguard,
    "vrf": vrf,
    "vxlan": vxlan,
    "bridge": bridge,
    "static": static,
    "ospf": ospf,
    "bgp": bgp,
    "vrrp": vrrp,
    "firewall": firewall,
    "nat": nat,
    "dhcp": dhcp,
}


@dataclass(frozen=True)
class RenderedRouter:
    """One router's rendered config: per section, its owned subtrees and commands."""

    name: str
    vyos_version: str
    sections: dict[str, list[Command]]

    def commands(self) -> list[Command]:
        return [c for section in self.sections.values() for c in section]

    def config(self) -> dict[str, list[str]]:
        """``{"<path words>": [values]}`` (deferred values as markers): the VyOS provider's working form.

        The provider's ``config`` input is the per-section ``set`` text instead (one value per
        section, see ``fabric.components.router.sections_text``); state written before that
        holds this form, which the provider still reads.
        """
        out: dict[str, list[str]] = {}
        for c in self.commands():
            values = out.setdefault(" ".join(c.path), [])
            if c.value is not None:
                values.append(c.value.marker if isinstance(c.value, Deferred) else c.value)
        return out

    def text(self) -> str:
        """The config as VyOS CLI ``set`` lines, one per line."""
        return "".join(set_line(c) + "\n" for c in self.commands())


def owned_subtrees(section: str) -> tuple[tuple[str, ...], ...]:
    """The config subtrees a section owns (disjoint across sections)."""
    owns: tuple[tuple[str, ...], ...] = SECTIONS[section].OWNS
    return owns


def all_owned_subtrees() -> list[tuple[str, ...]]:
    """Every subtree any section owns: what the router's config resource manages."""
    return [o for section in SECTIONS for o in owned_subtrees(section)]


def keep_on_delete() -> list[tuple[str, ...]]:
    """Owned subtrees that deleting the config leaves in place (the API's own)."""
    return [k for module in SECTIONS.values() for k in getattr(module, "KEEP_ON_DELETE", ())]


def render_router(plan: Plan, router: RouterPlan) -> RenderedRouter:
    with gc_paused():
        return RenderedRouter(
            name=router.name,
            vyos_version=router.vyos_version,
            sections={name: module.render(plan, router) for name, module in SECTIONS.items()},
        )


def render_routers(plan: Plan) -> list[RenderedRouter]:
    return [render_router(plan, r) for r in plan.routers]


def schema_problems(plan: Plan) -> list[str]:
    """Every rendered line checked against the schema of its router's VyOS version."""
    problems = []
    for rendered in render_routers(plan):
        schema = VyosSchema.load(rendered.vyos_version)
        for v in schema.check_all(c.tokens() for c in rendered.commands()):
            problems.append(f"{rendered.name} (VyOS {rendered.vyos_version}): {v.message}")
    return problems
