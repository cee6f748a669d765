"""Shared test helpers: load YAML configs with ``!secret`` markers, patch them by dotted path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fabric import model

ROOT = Path(__file__).resolve().parent.parent
ERRORS = Path(__file__).resolve().parent / "errors"


class _Loader(yaml.SafeLoader):
    """YAML with ``!secret <key>``: a config value that is set as a Pulumi secret."""


_Loader.add_constructor("!secret", lambda loader, node: model.Secret(str(loader.construct_scalar(node))))  # type: ignore[arg-type]


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(dotted: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(dotted)]


def patch(raw: dict[str, Any], sets: dict[str, Any] | None = None, deletes: list[str] | None = None) -> dict[str, Any]:
    """A copy of ``raw`` with ``a.b[0].c`` keys set or deleted."""
    out = copy.deepcopy(raw)
    for dotted, value in (sets or {}).items():
        *parents, last = _steps(dotted)
        node: Any = out
        for step in parents:
            node = node[step]
        if isinstance(node, list) and isinstance(last, int) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    for dotted in deletes or []:
        *parents, last = _steps(dotted)
        node = out
        for step in parents:
            node = node[step]
        del node[last]
    return out


@pytest.fixture
def base_raw() -> dict[str, Any]:
    """The small valid config the error cases patch."""
    raw: dict[str, Any] = load_yaml(ERRORS / "_base.yaml")
    return raw


#: Clouds settings that enable all three extensions (what an operator would write).
ALL_CLOUDS: dict[str, Any] = {
    "aws": {"enabled": True, "region": "eu-central-1", "admin_prefixes": ["192.0.2.0/28"]},
    "azure": {
        "enabled": True,
        "region": "westeurope",
        "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbm0jVfpH6K4LhNKcD2IQKzIRs0k3oqVSBc1eVRr9tL admin",
    },
    "gcp": {"enabled": True, "region": "europe-west3"},
}


def burst_raw(clouds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The example dc1 stack with cloud extensions (default: all three), and tenants spanning them:
    acme into aws and gcp, globex (egress allow_all) into azure and aws."""
    from fabric.stackfile import raw_config

    raw = raw_config(ROOT, "dc1")
    raw["clouds"] = copy.deepcopy(ALL_CLOUDS if clouds is None else clouds)
    spans = {"acme": ["aws", "gcp"], "globex": ["azure", "aws"]}
    for t in raw["tenants"]:
        t["sites"] = [*(t.get("sites") or ["dc1", "dc2"]), *spans.get(t["name"], [])]
    return raw


def with_tenants(raw: dict[str, Any], tenants: list[dict[str, Any]]) -> dict[str, Any]:
    """``raw`` with ``tenants`` in place of its own, less the tenant VMs of tenants now gone."""
    raw["tenants"] = tenants
    if raw.get("datacenter"):
        names = {t["name"] for t in tenants}
        raw["datacenter"]["vms"] = [vm for vm in raw["datacenter"].get("vms", []) if vm["tenant"] in names]
    return raw


def fake_peer_backend(monkeypatch: pytest.MonkeyPatch, dc2_members: list[dict[str, Any]]) -> dict[str, Any]:
    """The backend's answers for a program run under Pulumi's mocks: dc1 and dc2 exist, dc2
    exports ``dc2_members`` (read as the CLI prints them). Returns what the program exports."""
    import pulumi

    from fabric.components import peers

    monkeypatch.setattr(
        peers, "backend_stacks", lambda project: [f"{pulumi.get_organization()}/{project}/dc{i}" for i in (1, 2)]
    )
    monkeypatch.setattr(peers, "stack_members", lambda stack: json.loads(json.dumps(dc2_members)))
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    return exported
