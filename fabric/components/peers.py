"""Mesh members of the other datacenter stacks, through StackReferences.

A StackReference to a stack that does not exist fails the whole update, and Pulumi
offers no way to catch that. So each peer stack named in ``peer_stacks`` is first
looked up in the backend; a missing one is a warning, and the mesh is built without
it: the first stack up builds its half, the second completes the mesh, and a second
``up`` of the first converges.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pulumi

from fabric.topology import MeshMember

#: The export every datacenter stack publishes and its peers read.
MEMBERS_OUTPUT = "mesh_members"


def backend_stacks() -> set[str] | None:
    """Names of the project's stacks in the current backend, or None when unknown."""
    try:
        result = subprocess.run(
            ["pulumi", "stack", "ls", "--json"], capture_output=True, text=True, timeout=120, check=True
        )
        return {entry["name"].split("/")[-1] for entry in json.loads(result.stdout)}
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None


def member_from_export(record: dict[str, Any]) -> MeshMember:
    return MeshMember(
        name=record["name"],
        site=record["site"],
        site_id=int(record["site_id"]),
        node_id=int(record["node_id"]),
        endpoint=record["endpoint"],
        port=int(record["port"]),
        public_key=record["public_key"],
        mesh_address=record["mesh_address"],
        roles=tuple(record.get("roles") or ()),
    )


def member_export(m: MeshMember) -> dict[str, Any]:
    return {
        "name": m.name,
        "site": m.site,
        "site_id": m.site_id,
        "node_id": m.node_id,
        "endpoint": m.endpoint,
        "port": m.port,
        "public_key": m.public_key,
        "mesh_address": m.mesh_address,
        "roles": list(m.roles),
    }


def peer_members(
    peer_stacks: list[str], known: Callable[[], set[str] | None] = backend_stacks
) -> pulumi.Output[list[MeshMember]]:
    """Every peer stack's exported members (an empty list for a peer not yet up)."""
    stacks = known() if peer_stacks else set()
    outputs: list[pulumi.Output[Any]] = []
    for peer in peer_stacks:
        if stacks is not None and peer not in stacks:
            pulumi.warn(
                f"peer stack {peer!r} does not exist yet: the mesh is built without its members; "
                f"run `pulumi up` here again once {peer} is up"
            )
            continue
        ref = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/{peer}")
        outputs.append(ref.get_output(MEMBERS_OUTPUT))
    return pulumi.Output.all(*outputs).apply(
        lambda exported: [member_from_export(r) for records in exported if records for r in records]
    )
