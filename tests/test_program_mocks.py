"""The Pulumi program (``__main__.py``) under Pulumi's mocks: it builds the model and exports the plan.

No engine runs here (the real-engine tests come with the CLI set-up); the mocks
stand in for it. Config is the example dc1 stack's, as Pulumi would pass it.
"""

from __future__ import annotations

import json
import runpy
from typing import Any

import pulumi
import pytest

from fabric.errors import ConfigError
from tests.conftest import ROOT


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _config(stack: str, **overrides: Any) -> dict[str, str]:
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    values = {k: v["value"] for k, v in project.items()}
    values.update(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    values["fabric:vyos_api_key"] = "example-key"  # Pulumi hands the program decrypted secrets
    values.update(overrides)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def _run(monkeypatch: pytest.MonkeyPatch, config: dict[str, str]) -> dict[str, Any]:
    pulumi.runtime.set_mocks(Mocks(), project="fabric", stack="dc1", preview=False)
    pulumi.runtime.set_all_config(config, ["fabric:vyos_api_key"])
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    return exported


def test_program_exports_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _run(monkeypatch, _config("dc1"))["plan"]
    assert plan["site"] == "dc1" and plan["asn"] == 65000
    assert plan["routers"]["dc1-r1"]["mesh_address"] == "172.27.1.1"
    assert plan["routers"]["dc1-r1"]["roles"] == ["route-reflector", "gateway"]
    assert plan["tenants"]["acme"]["route_target"] == "65000:10"
    assert plan["tenants"]["acme"]["network"] == "100.65.10.0/24"
    assert plan["hypervisors"]["dc1-hv1"]["vms"] == ["dc1-r1"]
    assert "example-key" not in json.dumps(plan)


def test_program_stops_on_bad_config_before_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config("dc1")
    del config["fabric:vyos_api_key"]
    with pytest.raises(ConfigError, match=r"vyos_api_key: missing secret"):
        _run(monkeypatch, config)
