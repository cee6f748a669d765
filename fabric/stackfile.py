"""Read a stack's config straight from ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``.

The CLI (``python -m fabric render|plan|validate``) and the tests use this to work
offline, without the Pulumi engine: project-level values first, the stack's own on
top, ``fabric:`` keys only. Secrets stay encrypted: a ``secure:`` value becomes a
:class:`~fabric.model.Secret` marker (the core only needs to know it is set).

Without Pulumi there are no WireGuard key resources, so offline plans use
placeholder public keys (see :func:`placeholder_public_key`), and peer stacks'
members are computed from their own stack files.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fabric import model, topology
from fabric.errors import ConfigError

NAMESPACE = "fabric:"
#: Keys that must be Pulumi secrets, never plain text in a stack file.
SECRET_KEYS = ("vyos_api_key", "ssh_private_key")


def placeholder_public_key(name: str) -> str:
    """A stable stand-in public key for offline renders (not a real key; no private half exists)."""
    return base64.b64encode(hashlib.sha256(f"fabric placeholder key {name}".encode()).digest()).decode()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError([f"{path.name}: no such file (is this the project directory?)"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path.name}: expected a mapping at the top level"])
    return data


def raw_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's ``fabric:`` config, project values overlaid by the stack's, prefix removed."""
    project = _read_yaml(project_dir / "Pulumi.yaml")
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    stack_data = _read_yaml(stack_file)
    merged: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "value" in spec:
            merged[key] = spec["value"]
        elif isinstance(spec, dict) and "default" in spec:
            merged[key] = spec["default"]
    merged.update(stack_data.get("config") or {})
    raw: dict[str, Any] = {}
    problems = []
    for key, value in merged.items():
        if not key.startswith(NAMESPACE):
            continue
        name = key.removeprefix(NAMESPACE)
        if name in SECRET_KEYS:
            if isinstance(value, dict) and set(value) == {"secure"}:
                value = model.Secret(key)
            else:
                problems.append(
                    f"{name}: stored in plain text in {stack_file.name}; "
                    f"store it with `pulumi config set --secret {key} <value>`"
                )
                continue
        raw[name] = value
    if problems:
        raise ConfigError(problems)
    return raw


@dataclass(frozen=True)
class OfflineStack:
    """One stack as the CLI sees it: its inventory and plan, peers from their files."""

    name: str
    inventory: model.Inventory
    plan: topology.Plan


def load_inventory(project_dir: Path, stack: str) -> model.Inventory:
    return model.load(raw_config(project_dir, stack))


def placeholder_keys(inv: model.Inventory) -> dict[str, str]:
    """Stand-in public keys of the stack's routers, nodes and cloud nodes."""
    names = [r.name for r in inv.routers] + [n.name for n in inv.nodes]
    names += [name for name, _, _ in topology.cloud_nodes(inv)]
    return {name: placeholder_public_key(name) for name in names}


def load_stack(project_dir: Path, stack: str) -> OfflineStack:
    """Validate the stack and its peer stacks, then build its plan."""
    inv = load_inventory(project_dir, stack)
    remote: list[topology.MeshMember] = []
    problems: list[str] = []
    for peer in inv.peer_stacks:
        try:
            peer_inv = load_inventory(project_dir, peer)
        except ConfigError as exc:
            problems += [f"peer_stacks[{peer}]: {p}" for p in exc.problems]
            continue
        remote += topology.local_members(peer_inv, placeholder_keys(peer_inv))
    if problems:
        raise ConfigError(problems)
    return OfflineStack(stack, inv, topology.build(inv, placeholder_keys(inv), remote))


def stacks_in(project_dir: Path) -> list[str]:
    """Every stack with a settings file in the project directory."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
