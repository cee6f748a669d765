"""Every cross-field rule of the config, one small function each.

pydantic checks what one field can hold (``fabric.model``, ``fabric.fields``); the rules
here check what only several fields together can say: overlaps, duplicates, collisions,
exhaustion, references, and what this stack's config says against its peer stacks'
exported members. A rule yields messages, each starting with the config key the user
wrote (``tenants[acme].egress.allow[0].destination: …``), and knows nothing of the
others. Each rule has an expected-error case in ``tests/errors/`` that names it.

:func:`fabric.loader.load` runs :data:`RULES` on every config; :data:`PEER_RULES` run
once the peer stacks' members are read (offline from their stack files, in Pulumi from
their exports), in both paths with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fabric.checks import clouds, datacenter, mesh, nodes, peers, plan, publish, segments, sites, tenants, vms
from fabric.checks.common import Remote
from fabric.model import Inventory

Rule = Callable[[Inventory], Iterable[str]]
PeerRule = Callable[[Inventory, Remote], Iterable[str]]

#: Rules over one stack's config, in report order.
RULES: tuple[Rule, ...] = (
    *plan.RULES,
    *sites.RULES,
    sites.stack_has_devices,
    *tenants.RULES,
    *segments.RULES,
    *datacenter.RULES,
    *vms.RULES,
    *publish.RULES,
    plan.mtu_fits,
    *clouds.RULES,
    *nodes.RULES,
    datacenter.api_key_set,
)
#: Rules over the config and the peer stacks' members (empty when a stack has no peers yet).
PEER_RULES: tuple[PeerRule, ...] = (*peers.RULES, *mesh.RULES)


def problems(inv: Inventory) -> list[str]:
    """Every problem the config rules find."""
    return [message for rule in RULES for message in rule(inv)]


def peer_problems(inv: Inventory, remote: Remote) -> list[str]:
    """Every problem the config has together with its peer stacks' members."""
    return [message for rule in PEER_RULES for message in rule(inv, remote)]


def rule_names() -> list[str]:
    """``module.function`` of every rule: what the expected-error cases name."""
    return [f"{r.__module__.rsplit('.', 1)[-1]}.{r.__name__}" for r in (*RULES, *PEER_RULES)]
