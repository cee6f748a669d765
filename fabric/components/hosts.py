"""Host state applied over SSH: one ``HostConcern`` per concern, in order (hypervisors and nodes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pulumi

from fabric import model
from fabric.components.late import LateValues
from fabric.connections import host_props
from fabric.deferred import WIREGUARD_PRIVATE_KEY
from fabric.render.linux.state import HostState
from markers import SECRET
from providers.host import HostConcern


class ConcernInputs(NamedTuple):
    """What one concern's resource takes: files by path, actions in order (one line each), its secrets and
    the values known after ``up`` its files use (:mod:`fabric.components.late`)."""

    name: str
    files: Mapping[str, Any]
    actions: Sequence[str]
    secrets: Mapping[str, pulumi.Input[str]] | None = None
    late: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None


def concern_chain(
    parent: pulumi.Resource,
    prefix: str,
    host: str,
    ssh: model.Ssh,
    private_key: pulumi.Output[str] | None,
    concerns: Iterable[ConcernInputs],
) -> dict[str, HostConcern]:
    """``<prefix>-<concern>`` resources, each depending on the one before: concerns apply in the
    order given (a bond before the bridge on it, a tunnel before the segments riding it)."""
    out: dict[str, HostConcern] = {}
    previous: list[pulumi.Resource] = []
    for c in concerns:
        out[c.name] = HostConcern(
            f"{prefix}-{c.name}",
            **host_props(host, ssh),
            concern=c.name,
            private_key=private_key,
            files=c.files,
            actions=c.actions,
            secrets=c.secrets,
            late=c.late,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
        )
        previous = [out[c.name]]
    return out


def concern_inputs(
    state: HostState, wireguard_key: pulumi.Output[str] | None, late: LateValues | None, *, skip_empty: bool
) -> list[ConcernInputs]:
    """Each concern's resource inputs: only a concern whose files have the secret slot gets the
    host's WireGuard private key, and each gets exactly the late values its files use.
    ``skip_empty``: leave out concerns without files (a node's), else keep every one (a hypervisor's
    concerns are always its resources, so one that empties is applied empty, not deleted)."""
    out = []
    for name, c in state.concerns.items():
        if skip_empty and not c.files:
            continue
        files, actions = c.inputs()
        slots = [(kind, slot) for f in c.files for _, kind, slot in f.slots if kind != SECRET]
        secret = any(f.secret for f in c.files)
        if secret and wireguard_key is None:
            raise ValueError(f"{state.host}: concern {name} needs the host's WireGuard key")
        out.append(
            ConcernInputs(
                name,
                files,
                actions,
                {WIREGUARD_PRIVATE_KEY.name: wireguard_key} if secret and wireguard_key is not None else None,
                late.inputs(slots) if slots and late is not None else None,
            )
        )
    return out
