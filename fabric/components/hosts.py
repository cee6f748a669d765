"""Host state applied over SSH: one ``HostConcern`` per concern, in order (hypervisors and nodes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pulumi

from fabric import model
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
            host=host,
            concern=c.name,
            address=str(ssh.address),
            port=ssh.port,
            user=ssh.user,
            host_key=ssh.host_key,
            private_key=private_key,
            files=c.files,
            actions=c.actions,
            root=ssh.root,
            secrets=c.secrets,
            late=c.late,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=previous),
        )
        previous = [out[c.name]]
    return out
