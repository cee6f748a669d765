"""The one way config becomes an Inventory, for ``python -m fabric`` and the Pulumi program alike.

Both paths hand over what Pulumi hands a program: ``fabric:`` keys with text values
(structured ones as JSON) and the set of keys that are secrets. The offline reader
(:mod:`fabric.stackfile`) produces exactly that from the stack files, parsing them as
Pulumi does; the program reads it from the engine. From there one function decides:
unknown keys, secrets in plain text, shapes and types (:mod:`fabric.model`), the config
rules (:mod:`fabric.checks`), the peer stacks' exported members checked field by field
and against this stack, and the rendered configs (every VyOS line against VyOS's
schema, every cloud node's user-data against its cloud's size limit). So a config the
program refuses is exactly one ``validate`` refuses, with the same messages, and both
refuse before anything is registered or touched.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

import markers
from fabric import checks, model, topology
from fabric.checks.common import Remote, member_key
from fabric.errors import ConfigError
from fabric.fields import kind_of, shown, written
from fabric.render.cloudinit import user_data_problems
from fabric.render.vyos import schema_problems

NAMESPACE = "fabric:"
#: Keys that must be Pulumi secrets, never plain text in a stack file.
SECRET_KEYS = ("vyos_api_key", "ssh_private_key")
#: The export every stack publishes and its peers read.
MEMBERS_OUTPUT = "mesh_members"


def raw_from_config(values: Mapping[str, object], secret_keys: Collection[str]) -> dict[str, Any]:
    """The ``fabric:`` keys as model input (prefix removed, JSON decoded, secrets as markers).

    ``values`` are as Pulumi gives them to a program: text, structured values as JSON.
    Other namespaces (``aws:region``) are not fabric's and pass untouched.
    """
    raw: dict[str, Any] = {}
    problems = []
    known = set(model.CONFIG_KEYS)
    for key, value in values.items():
        if not key.startswith(NAMESPACE):
            continue
        name = key.removeprefix(NAMESPACE)
        if name not in known:
            label = name if _plain(name) else shown(name)
            problems.append(
                f"{label}: unknown key {shown(key)} (check the spelling; known keys: {', '.join(sorted(known))})"
            )
        elif name in SECRET_KEYS:
            if key in secret_keys:
                raw[name] = model.Secret(key)
            else:
                problems.append(f"{name}: {plain_secret(name)}")
        elif key in secret_keys:
            problems.append(f"{name}: is a secret, but fabric config is plain; set it without --secret")
        else:
            raw[name] = _decode(value)
    if problems:
        raise ConfigError(problems)
    return raw


def plain_secret(name: str) -> str:
    """The problem of a secret key written in plain text, and how to store it."""
    return f"stored in plain text; store it with `pulumi config set --secret {NAMESPACE}{name} <value>`"


def _decode(value: object) -> Any:
    """Pulumi hands structured values over as JSON and plain strings as they are."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def load(raw: Mapping[str, Any]) -> model.Inventory:
    """Validate a stack's config (keys without the ``fabric:`` prefix) into an Inventory."""
    try:
        inventory = model.Inventory.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError([describe(err, raw) for err in exc.errors()]) from None
    problems = checks.problems(inventory)
    if problems:
        raise ConfigError(problems)
    return inventory


def describe(err: Any, raw: Any, prefix: str = "") -> str:
    """Turn a pydantic error into ``key.path: message``, naming list items by their name."""
    parts: list[str] = [prefix] if prefix else []
    node: Any = raw
    for loc in err["loc"]:
        if isinstance(loc, int):
            label = str(loc)
            if isinstance(node, list) and loc < len(node):
                item = node[loc]
                if isinstance(item, dict) and isinstance(item.get("name"), str) and _plain(item["name"]):
                    label = item["name"]
                node = item
            else:
                node = None
            if parts:
                parts[-1] += f"[{label}]"
            else:
                parts.append(f"[{label}]")
        elif loc.startswith("function-") or loc in ("tagged-union", "json-or-python"):
            continue
        elif loc == "[key]":
            parts.pop()  # the key itself, already quoted in the message
            return f"{'.'.join(parts)}: key {_message(err)}"
        else:
            parts.append(loc if _plain(loc) else shown(loc))
            node = node.get(loc) if isinstance(node, dict) else None
    key = ".".join(parts) or "(top level)"
    return f"{key}: {_message(err)}"


#: Pydantic's error types and what fabric says instead, in the user's (YAML's) words.
_EXPECTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "float_type": "a number",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
}


#: Keys earlier versions read, with why they went: the stack file still holding one learns what to do.
_RETIRED = {
    **{
        key: "no longer used: a tenant segment is never a VLAN, it reaches every hypervisor as VXLAN inside "
        "WireGuard (README 'Tenant VMs'); remove it"
        for key in ("vlan", "vlan_base")
    },
    "tenant_migration": "no longer used: a VM moves between hypervisors with its MAC and address (EVPN "
    "stretches its segment), so no migration block is needed (README 'Tenant networks'); remove it",
}


def _message(err: Any) -> str:
    """One pydantic error as a sentence about the value the user wrote."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return _RETIRED.get(str(err["loc"][-1]), "unknown key (check the spelling; see the README's config reference)")
    if kind in _EXPECTED:
        hint = " (write it without quotes)" if isinstance(value, str) else ""
        return f"{written(value)} is {kind_of(value)}, not {_EXPECTED[kind]}{hint}"
    if kind == "literal_error":
        return f"{written(value)} is not one of {ctx['expected']}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound, side = (ctx["ge"], "smallest") if kind == "greater_than_equal" else (ctx["le"], "largest")
        return f"{written(value)} is out of range: the {side} allowed is {bound}"
    if kind in ("too_long", "too_short"):
        limit = f"at most {ctx['max_length']}" if kind == "too_long" else f"at least {ctx['min_length']}"
        return f"holds {ctx['actual_length']} items; {limit} allowed"
    if kind == "dataclass_exact_type" and ctx.get("class_name") == model.Secret.__name__:
        return plain_secret(str(err["loc"][-1]))
    return str(err["msg"]).removeprefix("Value error, ")


def _plain(word: str) -> bool:
    """A key or name safe to print as it is (else it is quoted short)."""
    return len(word) <= 64 and word.replace("_", "").replace("-", "").isalnum() and word.isascii()


def members_from_export(stack: str, records: object) -> tuple[topology.MeshMember, ...]:
    """A peer stack's ``mesh_members`` export, every field checked as local config is."""
    if not isinstance(records, list):
        raise ConfigError([f"peer_stacks[{stack}].{MEMBERS_OUTPUT}: {shown(records)} is not a list of members"])
    members = []
    problems = []
    for index, record in enumerate(records):
        name = record.get("name") if isinstance(record, dict) else None
        label = name if isinstance(name, str) and _plain(name) else str(index)
        try:
            m = model.ExportedMember.model_validate(record)
        except ValidationError as exc:
            problems += [describe(err, record, member_key(stack, label)) for err in exc.errors()]
            continue
        members.append(topology.MeshMember(**{**m.model_dump(), "roles": tuple(m.roles)}))
    if problems:
        raise ConfigError(problems)
    return tuple(members)


def member_export(m: topology.MeshMember, values: markers.Values | None = None) -> dict[str, Any]:
    """A member as its stack exports it (what :func:`members_from_export` reads back): its
    key and endpoint from ``values`` (an apply's), or as markers without (an offline plan,
    which no peer accepts as a key)."""
    m = topology.resolved(m, values) if values is not None else m
    return {
        **dataclasses.asdict(m),
        "public_key": str(m.public_key),
        "endpoint": str(m.endpoint),
        "roles": list(m.roles),
    }


def members_of(exports: Mapping[str, object], peer_stacks: list[str]) -> tuple[Remote, list[str]]:
    """Each listed peer stack's export checked (a stack without one is not up yet), and the problems."""
    remote: dict[str, tuple[topology.MeshMember, ...]] = {}
    problems: list[str] = []
    for stack in peer_stacks:
        records = exports.get(stack)
        if records is None:
            continue
        try:
            remote[stack] = members_from_export(stack, records)
        except ConfigError as exc:
            problems += exc.problems
    return remote, problems


@dataclass(frozen=True)
class Validated:
    """A stack ready to build: its config, its peers' members (by stack) and its plan (every
    address, number and rendered line final; keys and cloud addresses known only after
    ``up`` deferred)."""

    inventory: model.Inventory
    remote: Remote
    plan: topology.Plan

    def remote_members(self) -> list[topology.MeshMember]:
        return [m for members in self.remote.values() for m in members]


def validate(inv: model.Inventory, exports: Mapping[str, object]) -> Validated:
    """Everything after :func:`load`: the peers' exports field by field, the rules over the
    config and the peers, the CA files, then every rendered config (VyOS lines against the
    schema, user-data against the cloud's limit). Raises one ConfigError with every problem."""
    remote, problems = members_of(exports, inv.peer_stacks)
    problems += checks.peer_problems(inv, remote)
    problems += ca_file_problems(inv)
    if problems:
        raise ConfigError(problems)
    plan = topology.build(inv, [m for ms in remote.values() for m in ms])
    problems = rendered_problems(plan)
    if problems:
        raise ConfigError(problems)
    return Validated(inv, remote, plan)


def rendered_problems(plan: topology.Plan) -> list[str]:
    """What the devices would refuse: VyOS lines outside their version's schema, user-data too big."""
    return schema_problems(plan) + user_data_problems(plan)


def ca_file_problems(inv: model.Inventory) -> list[str]:
    """Each router's ``api.ca_file`` holds CA certificates and nothing else."""
    problems = []
    for router in inv.routers:
        if router.api.ca_file is not None:
            try:
                ca_bundle(router.api.ca_file)
            except ValueError as exc:
                problems.append(f"datacenter.routers[{router.name}].api.ca_file: {exc}")
    return problems


#: A PEM block: its label and base64 body.
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
#: Largest CA file read (a bundle of every public CA is about 250 KiB).
CA_FILE_MAX_BYTES = 1024 * 1024


def ca_bundle(path: str) -> str:
    """The CA certificates of a PEM file, re-encoded: only certificates leave the file, so
    comments or other text in it never reach the provider's inputs, state or preview, and a
    file with a key in it (the wrong file) is refused.
    ValueError when the file cannot be read, holds anything but certificates, or none."""
    file = Path(path).expanduser()
    try:
        with file.open("rb") as f:
            data = f.read(CA_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {shown(path)}: {exc.strerror or exc}") from None
    if len(data) > CA_FILE_MAX_BYTES:
        raise ValueError(f"{shown(path)} is over {CA_FILE_MAX_BYTES // 1024} KiB; a CA bundle is smaller")
    text = data.decode("ascii", errors="replace")
    labels = [m.group(1) for m in _PEM_BLOCK.finditer(text)]
    others = sorted({label for label in labels if label != "CERTIFICATE"})
    if others:
        raise ValueError(
            f"{shown(path)} holds {', '.join(others)} blocks; only CA certificates are read (nothing was carried over)"
        )
    if not labels:
        raise ValueError(f"{shown(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{shown(path)} holds a certificate that does not parse") from None
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
