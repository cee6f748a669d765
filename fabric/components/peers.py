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


#: How long the backend may take to list its stacks before the lookup gives up.
LIST_TIMEOUT_S = 30


def qualified(name: str, organization: str, project: str) -> str:
    """``org/project/stack`` for a name ``pulumi stack ls`` printed short or qualified."""
    parts = name.split("/")
    if len(parts) == 1:
        return f"{organization}/{project}/{name}"
    if len(parts) == 2:
        return f"{organization}/{parts[0]}/{parts[1]}"
    return name


def parse_stack_list(text: str, organization: str, project: str) -> set[str]:
    """The fully qualified stack names in ``pulumi stack ls --json`` output."""
    return {qualified(str(entry["name"]), organization, project) for entry in json.loads(text)}


def backend_stacks(organization: str, project: str) -> set[str] | None:
    """The project's stacks in the current backend (qualified names), or None when unknown.

    Runs the CLI that runs this program (it is on PATH when the user runs ``pulumi``);
    ``--project`` makes it work from any directory, e.g. under the Automation API.
    """
    try:
        result = subprocess.run(
            ["pulumi", "stack", "ls", "--all", "--json", "--project", project],
            capture_output=True,
            text=True,
            timeout=LIST_TIMEOUT_S,
            check=True,
        )
        return parse_stack_list(result.stdout, organization, project)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError) as exc:
        pulumi.warn(
            f"could not list the backend's stacks ({type(exc).__name__}); peer stacks are read without "
            "checking that they exist, so a missing one fails this update"
        )
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
    peer_stacks: list[str], known: Callable[[str, str], set[str] | None] | None = None
) -> pulumi.Output[list[MeshMember]]:
    """Every peer stack's exported members (none yet for a peer that was never up).

    ``known`` lists the backend's stacks; default :func:`backend_stacks`, looked up at call time.
    """
    organization, project = pulumi.get_organization(), pulumi.get_project()
    stacks = (known or backend_stacks)(organization, project) if peer_stacks else set()
    outputs: list[pulumi.Output[Any]] = []
    for peer in peer_stacks:
        name = qualified(peer, organization, project)
        if stacks is not None and name not in stacks:
            pulumi.warn(
                f"peer stack {peer!r} does not exist yet: the mesh is built without its members; "
                f"run `pulumi up` here again once {peer} is up"
            )
            continue
        ref = pulumi.StackReference(name)
        outputs.append(ref.get_output(MEMBERS_OUTPUT))
    return pulumi.Output.all(*outputs).apply(
        lambda exported: [member_from_export(r) for records in exported if records for r in records]
    )
