"""Read a stack's config straight from ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``.

The CLI (``python -m fabric render|plan|validate``) and the tests use this to work
offline, without the Pulumi engine. It produces exactly what the engine gives the
program (:mod:`fabric.pulumi_yaml` parses as the CLI does; project values first, a
stack's value replacing the project's whole), and hands it to the same loader
(:mod:`fabric.loader`), so both refuse the same configs with the same messages.
Secrets stay encrypted: a ``secure:`` value is only known to be a secret.

Without Pulumi there are no WireGuard key resources nor cloud addresses: offline plans
show this stack's as markers, as previews do (:mod:`fabric.deferred`), and peer stacks'
members are computed from their own stack files, exported with stand-ins (the markers'
samples) and read back as Pulumi would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabric import loader, model, pulumi_yaml, topology
from fabric.errors import ConfigError

#: Project config type names and the Python types their defaults must have.
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,), "array": (list,)}
#: What marks an encrypted value in a stack file.
SECURE = "secure"


def _project_values(project: dict[str, Any], name: str) -> tuple[dict[str, Any], set[str], list[str]]:
    """Pulumi.yaml's config: values, keys declared without a value, and problems (as the CLI refuses them)."""
    values: dict[str, Any] = {}
    declared: set[str] = set()
    problems: list[str] = []
    for key, spec in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if not isinstance(spec, dict):
            values[full] = spec
            continue
        if set(spec) - {"type", "description", "default", "value", "secret", "items"}:
            problems.append(f"Pulumi.yaml: config {key}: a mapping must be written as {{value: …}}")
        elif "value" in spec and "default" in spec:
            problems.append(f"Pulumi.yaml: config {key} cannot have both a 'default' and 'value' attribute")
        elif "value" in spec or "default" in spec:
            value = spec["value"] if "value" in spec else spec["default"]
            want = _TYPES.get(str(spec.get("type")))
            if "default" in spec and want and not _of_type(value, want):
                problems.append(
                    f"Pulumi.yaml: the default value of config {key} is not of the expected type {spec['type']!r}"
                )
            values[full] = value
        else:
            declared.add(full)
    return values, declared, problems


def _of_type(value: Any, want: tuple[type, ...]) -> bool:
    """``isinstance``, except that a boolean is no integer (as in Pulumi's schema)."""
    return isinstance(value, want) and (isinstance(value, bool) == (want == (bool,)))


def _secret(value: Any) -> bool:
    """A value that is, or holds, a ``secure:`` value (an object holding one is secret as a whole)."""
    if isinstance(value, dict):
        return set(value) == {SECURE} or any(_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_secret(v) for v in value)
    return False


def config_values(project_dir: Path, stack: str) -> tuple[dict[str, str], set[str]]:
    """Every config value of the stack as the engine gives it to the program, and the secret keys.

    Secret values are not decrypted: their text is a stand-in (the core never reads it).
    """
    project = pulumi_yaml.read(project_dir / "Pulumi.yaml")
    name = str(project.get("name", ""))
    stack_data = pulumi_yaml.read(project_dir / f"Pulumi.{stack}.yaml")
    merged, declared, problems = _project_values(project, name)
    for key, value in (stack_data.get("config") or {}).items():
        merged[key if ":" in key else f"{name}:{key}"] = value
    problems += [f"Pulumi.{stack}.yaml: missing configuration value {key!r}" for key in sorted(declared - set(merged))]
    if problems:
        raise ConfigError(problems)
    secret = {key for key, value in merged.items() if _secret(value)}
    values = {key: "[secret]" if key in secret else pulumi_yaml.config_text(value) for key, value in merged.items()}
    return values, secret


def octal_lookalikes(project_dir: Path, stack: str) -> list[str]:
    """Numbers with a leading zero in the project and stack files (Pulumi reads them as octal).
    The program runs this too: the engine hands it the number, no longer its text."""
    files = (project_dir / "Pulumi.yaml", project_dir / f"Pulumi.{stack}.yaml")
    return [problem for path in files for problem in pulumi_yaml.octal_lookalikes(path)]


def raw_from(values: Mapping[str, object], secret: Collection[str], project_dir: Path, stack: str) -> dict[str, Any]:
    """:func:`fabric.loader.raw_from_config`, with the stack files' octal look-alikes refused
    alongside: what ``validate`` and the program both run on the values they were given."""
    problems = octal_lookalikes(project_dir, stack)
    try:
        raw = loader.raw_from_config(values, secret)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return raw


def raw_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's ``fabric:`` config as model input (prefix removed), checked for unknown keys,
    plain secrets and octal look-alikes."""
    return raw_from(*config_values(project_dir, stack), project_dir, stack)


@dataclass(frozen=True)
class OfflineStack:
    """One stack as the CLI sees it: its inventory and plan, peers from their files."""

    name: str
    inventory: model.Inventory
    plan: topology.Plan


def load_inventory(project_dir: Path, stack: str) -> model.Inventory:
    return loader.load(raw_config(project_dir, stack))


def peer_exports(project_dir: Path, inv: model.Inventory) -> dict[str, object]:
    """What each peer stack would export, computed from its own stack file (stand-in keys)."""
    exports: dict[str, object] = {}
    problems: list[str] = []
    for peer in inv.peer_stacks:
        if not (project_dir / f"Pulumi.{peer}.yaml").exists():
            continue  # not created yet: as in Pulumi, the mesh is built without it
        try:
            peer_inv = load_inventory(project_dir, peer)
        except ConfigError as exc:
            problems += [f"peer_stacks[{peer}]: {p}" for p in exc.problems]
            continue
        exports[peer] = [loader.member_export(m) for m in topology.stand_ins(topology.local_members(peer_inv))]
    if problems:
        raise ConfigError(problems)
    return exports


def load_stack(project_dir: Path, stack: str) -> OfflineStack:
    """Validate the stack and its peer stacks, then build its plan (as the program does before registering anything)."""
    inv = load_inventory(project_dir, stack)
    validated = loader.validate(inv, peer_exports(project_dir, inv))
    return OfflineStack(stack, inv, validated.plan)


def stacks_in(project_dir: Path) -> list[str]:
    """Every stack with a settings file in the project directory."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))


def fabric_stacks(project_dir: Path) -> list[str]:
    """The stacks with devices: a ``fabric:datacenter`` or ``fabric:nodes``."""
    return [s for s in stacks_in(project_dir) if {"datacenter", "nodes"} & set(raw_config(project_dir, s))]


def pulumi_cli(project: Path) -> Path | None:
    """The ``pulumi`` on ``PATH``, else the one ``./scripts/setup.sh`` installs in the project."""
    found = shutil.which("pulumi")
    if found:
        return Path(found)
    local = project / ".tools" / "pulumi" / "bin" / "pulumi"
    return local.resolve() if local.is_file() else None


def run_pulumi(project: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """``pulumi ARGS`` in the project directory, its output captured; None without a CLI. Its
    language host and plugins sit next to it (``.tools/pulumi/bin`` holds them all), so that
    directory comes first on its ``PATH``."""
    cli = pulumi_cli(project)
    if cli is None:
        return None
    env = {**os.environ, "PATH": f"{cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(cli), *args], cwd=project, env=env, capture_output=True, text=True, check=False)
