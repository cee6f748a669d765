"""The Pulumi program (``__main__.py``) under Pulumi's mocks: components, keys, peers, exports.

The engine itself runs in ``test_engine.py``; here the mocks stand in for it, so the
program's wiring is checked quickly: the resource tree, parents and names, the peer
stack's members flowing into every router's config, and the exported plan. Config is
the example dc1 stack's, as Pulumi would pass it.
"""

from __future__ import annotations

import json
import runpy
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc

from fabric import deferred
from fabric.components import peers
from fabric.loader import MEMBERS_OUTPUT
from tests.conftest import ROOT, fake_peer_backend

DC2_MEMBERS = [
    {"name": "dc2-r1", "site": "dc2", "site_id": 2, "node_id": 1, "endpoint": "5.254.43.162", "port": 51820,
     "public_key": deferred.public_key("real dc2-r1").sample, "mesh_address": "172.27.2.1",
     "roles": ["route-reflector", "gateway"]},
]  # fmt: skip


class Mocks(pulumi.runtime.Mocks):
    """Keys get stand-in values; the dc2 StackReference answers with dc2's members."""

    def __init__(self) -> None:
        self.resources: list[tuple[str, str, str | None]] = []
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, args.resource_id))
        self.inputs[args.name] = dict(args.inputs)
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic/fabric:WireguardKey":
            outputs.update(public_key=deferred.public_key(f"mock {args.name}").sample, private_key="mock-private")
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = {"name": args.name, "outputs": {MEMBERS_OUTPUT: DC2_MEMBERS}}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _config(stack: str) -> dict[str, str]:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    values = {k: v["value"] for k, v in project.items()}
    values.update(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    values["fabric:vyos_api_key"] = "example-key"  # Pulumi hands the program decrypted secrets
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def _run(monkeypatch: pytest.MonkeyPatch, config: dict[str, str], mocks: Mocks) -> dict[str, Any]:
    pulumi.runtime.set_mocks(mocks, project="fabric", stack="dc1", preview=False)
    pulumi.runtime.set_all_config(config, ["fabric:vyos_api_key"])
    exported = fake_peer_backend(monkeypatch, DC2_MEMBERS)
    program = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    # Wait for every router's config resource too, not only for what is exported.
    dc = program["datacenter"]
    exported["_applied"] = [r.applied.urn for r in dc.routers.values()] + [
        c.urn for hv in dc.hypervisors.values() for c in hv.concerns.values()
    ]
    if program["checks"] is not None:
        exported["_applied"].append(program["checks"].urn)
    return exported


@pulumi.runtime.test  # type: ignore[untyped-decorator]
def test_program_builds_the_tree_and_exports_the_plan(monkeypatch: pytest.MonkeyPatch) -> pulumi.Output[None]:
    mocks = Mocks()
    exported = _run(monkeypatch, _config("dc1"), mocks)

    def check(args: list[Any]) -> None:
        plan, members, mesh_peers = args
        types = [t for t, _, _ in mocks.resources]
        assert types.count("fabric:index:Datacenter") == 1 and types.count("fabric:index:Mesh") == 1
        assert types.count("fabric:index:Router") == 2 and types.count("fabric:index:Hypervisor") == 2
        assert types.count("fabric:index:Tenant") == 3  # umbrella is dc2 only
        # Each provider resource says what it is: routers' and hypervisors' keys, routers' configs,
        # 9 concerns per host (5 of its own, 4 as a VTEP).
        assert types.count("pulumi-python:dynamic/fabric:WireguardKey") == 4
        assert types.count("pulumi-python:dynamic/fabric:RouterConfig") == 2
        assert types.count("pulumi-python:dynamic/fabric:HostConcern") == 2 * 9
        names = [n for t, n, _ in mocks.resources if t.startswith("fabric:") or t.startswith("pulumi-python")]
        assert all(n.startswith("dc1") for n in names)
        assert "dc1-r1-wg-key" in names
        assert plan["site"] == "dc1" and plan["asn"] == 65000
        assert plan["routers"]["dc1-r1"]["roles"] == ["route-reflector", "gateway"]
        assert plan["routers"]["dc1-r1"]["wireguard_peers"] == ["dc1-r2", "dc1-hv1", "dc1-hv2", "dc2-r1"]
        assert plan["tenants"]["acme"]["route_target"] == "65000:10"
        assert mesh_peers == ["dc2-r1"]
        assert [m["name"] for m in members] == ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"]
        assert members[0]["public_key"] == deferred.public_key("mock dc1-r1-wg-key").sample
        assert "example-key" not in json.dumps([plan, members])

    return pulumi.Output.all(
        exported["plan"],
        exported[MEMBERS_OUTPUT],
        exported["mesh_peers"],
        pulumi.Output.all(*exported["_applied"]),
    ).apply(lambda args: check(args[:3]))


def test_program_stops_on_bad_config_before_any_resource(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config("dc1")
    del config["fabric:vyos_api_key"]
    mocks = Mocks()
    with pytest.raises(SystemExit):
        _run(monkeypatch, config, mocks)
    assert "vyos_api_key: missing secret" in capsys.readouterr().err
    assert mocks.resources == []


@pulumi.runtime.test  # type: ignore[untyped-decorator]
def test_verify_after_up_checks_the_stacks_devices_after_they_are_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> pulumi.Output[None]:
    """``fabric:verify: {after_up: true}``: one FabricVerify, child of the root, reading dc1's
    routers and hypervisors with the stack's secrets, expecting what dc1's plan says of its own
    members."""
    config = _config("dc1") | {"fabric:verify": json.dumps({"after_up": True, "deadline": 30})}
    mocks = Mocks()
    exported = _run(monkeypatch, config, mocks)

    def check(_: Any) -> None:
        verifies = [n for t, n, _ in mocks.resources if t == "pulumi-python:dynamic/fabric:FabricVerify"]
        assert verifies == ["dc1-verify"]
        inputs = mocks.inputs["dc1-verify"]
        assert [t["name"] for t in inputs["targets"]] == ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"]
        assert inputs["targets"][0]["props"]["endpoint"].startswith("https://")
        assert "api_key" not in inputs["targets"][0]["props"]
        # the key is a secret input (the mocks see Pulumi's secret wrapper)
        assert inputs["api_key"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": "example-key"}
        assert inputs["deadline"] == 30 and inputs["handshake_within"] == 180 and len(inputs["applied"]) == 64
        devices = inputs["expectations"]["devices"]
        assert {d["name"] for d in devices} == {"dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"}
        # what dc1's own apply makes true: its members among themselves; dc2's are unknown (dc2
        # learns of a change only at its own next up)
        acme = next(v for d in devices if d["name"] == "dc1-r1" for v in d["vnis"] if v["vni"] == 10010)
        assert set(acme["vteps"]) == {"172.27.1.2", "172.27.1.129", "172.27.1.130"}
        assert inputs["expectations"]["unknown"] == ["172.27.2.1"]  # the mocked peer export: dc2-r1

    return pulumi.Output.all(*exported["_applied"]).apply(check)


def test_stack_lists_are_read_short_or_qualified() -> None:
    """``pulumi stack ls`` prints short names inside the project and qualified ones outside it."""
    inside = '[{"name": "dc1", "current": true}, {"name": "dc2", "current": false}]'
    outside = '[{"name": "organization/fabric/dc1"}, {"name": "other-org/fabric/dc2"}, {"name": "fabric/dc3"}]'
    assert peers.parse_stack_list(inside, "organization", "fabric") == {
        "organization/fabric/dc1",
        "organization/fabric/dc2",
    }
    assert peers.parse_stack_list(outside, "organization", "fabric") == {
        "organization/fabric/dc1",
        "other-org/fabric/dc2",  # another organization's dc2 is not ours
        "organization/fabric/dc3",
    }


def test_an_unlistable_backend_stops_the_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building without the peers' members would remove them from every router: never guess."""
    monkeypatch.setenv("PATH", "/nonexistent")  # no pulumi CLI to ask
    with pytest.raises(peers.PeerStackError, match="cannot list the backend's stacks"):
        peers.backend_stacks("fabric")
