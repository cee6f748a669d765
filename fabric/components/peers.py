"""Mesh members of the peer stacks, read before any resource is registered.

Each stack exports ``mesh_members``; this stack reads every stack in ``peer_stacks``
with the Pulumi CLI that runs the program (``pulumi stack output --json``), so the
members are plain data when the program starts: the loader checks every field of
them (``fabric.loader``) and the config against them before anything exists, and the
plan is built from them once. A peer stack that does not exist yet, or has not
exported its members yet, is a warning: the mesh is built without it (the first
stack up builds its half, the second completes the mesh, and a second ``up`` of the
first converges). A peer stack that exists but cannot be read stops the update: building
without its members would remove them from every router.
"""

from __future__ import annotations

import json
import subprocess

import pulumi

from fabric.loader import MEMBERS_OUTPUT

#: How long the backend may take to answer one CLI call.
CLI_TIMEOUT_S = 60


class PeerStackError(RuntimeError):
    """A peer stack exists but its members could not be read; the message says why."""


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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI that runs this program (on PATH under ``pulumi``; ``--project``-free calls only)."""
    return subprocess.run(["pulumi", *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)


def backend_stacks(project: str) -> list[str]:
    """The qualified names of the project's stacks in the current backend."""
    try:
        result = _cli("stack", "ls", "--all", "--json", f"--project={project}")
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerStackError(f"peer_stacks: cannot list the backend's stacks: {exc}") from None
    if result.returncode != 0:
        raise PeerStackError(f"peer_stacks: cannot list the backend's stacks: {result.stderr.strip()[:300]}")
    return sorted(parse_stack_list(result.stdout, pulumi.get_organization(), project))


def stack_members(stack: str) -> object | None:
    """The stack's ``mesh_members`` export as JSON data (None: not exported yet), unchecked."""
    try:
        result = _cli("stack", "output", MEMBERS_OUTPUT, "--json", f"--stack={stack}")
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerStackError(f"peer_stacks: cannot read {stack}: {exc}") from None
    if result.returncode != 0:
        if "does not have output property" in result.stderr:
            return None
        raise PeerStackError(f"peer_stacks: cannot read {stack}: {result.stderr.strip()[:300]}")
    try:
        data: object = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise PeerStackError(f"peer_stacks: {stack} answered with something that is not JSON") from None
    return data


def peer_exports(peer_stacks: list[str]) -> dict[str, object]:
    """Each peer stack's exported members, by its name as ``peer_stacks`` lists it; stacks
    that do not exist yet, or have not exported yet, are left out with a warning."""
    if not peer_stacks:
        return {}
    organization, project = pulumi.get_organization(), pulumi.get_project()
    existing = set(backend_stacks(project))
    out: dict[str, object] = {}
    for peer in peer_stacks:
        name = qualified(peer, organization, project)
        records = stack_members(name) if name in existing else None
        if records is None:
            state = "has not exported its mesh members" if name in existing else "does not exist"
            pulumi.warn(
                f"peer stack {peer!r} {state} yet: the mesh is built without it; "
                f"run `pulumi up` here again once {peer} is up"
            )
            continue
        out[peer] = records
    return out
