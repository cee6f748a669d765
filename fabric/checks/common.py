"""What several rules share: naming repeated items, overlapping prefixes, the peer members."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from netaddr import IPAddress, IPNetwork

from fabric.model import MAX_VM_NAME, Inventory, Tenant
from fabric.topology import MeshMember, TenantPlan, tenant_plan

#: The peer stacks' members, validated, by the stack name as ``peer_stacks`` lists it.
Remote = Mapping[str, tuple[MeshMember, ...]]


def duplicates(items: list[Any], attr: str, key: str) -> Iterator[str]:
    """One message per item whose ``attr`` repeats an earlier item's.

    Items are named by their ``name``, except when the name itself repeats: then by position.
    """
    seen: dict[Any, tuple[int, Any]] = {}
    for index, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            first_index, first = seen[value]
            if attr == "name":
                yield f"{key}[{index}].name: {value!r} is also the name of {key}[{first_index}]"
            else:
                yield f"{key}[{item.name}].{attr}: {value} is also used by {key}[{first.name}]"
        else:
            seen[value] = (index, item)


#: The last inventory checked and its tenants' plans: rules ask for a tenant's plan many times
#: (per VM, per entry), and a plan is a pure function of the two.
_planned: tuple[Inventory | None, dict[int, TenantPlan]] = (None, {})


def planned(inv: Inventory, t: Tenant) -> TenantPlan:
    """``tenant_plan(inv, t)``, built once per inventory and tenant (only call it for a tenant
    whose sites are registered: :func:`spans_known`)."""
    global _planned
    if _planned[0] is not inv:
        _planned = (inv, {})
    plans = _planned[1]
    if id(t) not in plans:
        plans[id(t)] = tenant_plan(inv, t)
    return plans[id(t)]


def spans_known(inv: Inventory, t: Tenant) -> bool:
    """The tenant's sites are registered (else its own rule reports them, and no plan is built)."""
    return set(t.sites or ()) <= {s.name for s in inv.sites}


def tap_fits(key: str, name: str, what: str) -> Iterator[str]:
    """``vt-<name>`` (a VM's tap, a port's interface) fits Linux's 15 characters."""
    if len(name) > MAX_VM_NAME:
        yield (
            f"{key}.name: {name!r} is too long: its interface is vt-<name> and Linux interface names have at "
            f"most 15 characters, so a {what} name has at most {MAX_VM_NAME}"
        )


def overlap(a: IPNetwork, b: IPNetwork) -> bool:
    return bool(a.first <= b.last and b.first <= a.last)


def overlaps(named: list[tuple[str, IPNetwork]]) -> Iterator[str]:
    """One message per pair of overlapping prefixes, blamed on the later one."""
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1 :]:
            if overlap(a, b):
                yield f"{key_b}: {b} overlaps {key_a} {a}"


def unusable(addr: IPAddress, prefixes: list[IPNetwork]) -> bool:
    """Network or broadcast address of the prefix holding ``addr`` (prefixes longer than /31 have both)."""
    net = next(p for p in prefixes if addr in p)
    return bool(net.prefixlen < 31 and addr in (net.network, net.broadcast))


def remote_members(remote: Remote) -> Iterator[tuple[str, MeshMember]]:
    """(stack, member) of every peer member, in ``peer_stacks`` order."""
    for stack, members in remote.items():
        for m in members:
            yield stack, m


def member_key(stack: str, name: str) -> str:
    """How messages name a peer stack's member."""
    return f"peer_stacks[{stack}].mesh_members[{name}]"
