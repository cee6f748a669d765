"""The real Pulumi engine: previews, two stacks forming one mesh, key secrecy and rotation.

Every test runs the ``pulumi`` CLI (installed by ./scripts/setup.sh) on a copy of the
project from its directory, as a user runs it, with a local file backend in a temp
folder. No device is contacted: this issue's resources are keys and components.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import Project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path)
    p.init("dc1", "dc2")
    yield p


def _changed(summary: dict[str, int]) -> dict[str, int]:
    """What an update did to resources, less reads (StackReferences) and unchanged ones."""
    return {op: n for op, n in summary.items() if op not in ("same", "read")}


def _types(preview: dict[str, object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in preview["steps"]:  # type: ignore[attr-defined]
        t = step["urn"].split("::")[2].split("$")[-1]
        counts[t] = counts.get(t, 0) + 1
    return counts


def test_preview_shows_the_full_resource_tree(project: Project) -> None:
    for stack, tenants in (("dc1", 3), ("dc2", 4)):
        types = _types(project.preview_json(stack))
        assert types["fabric:index:Datacenter"] == 1
        assert types["fabric:index:Mesh"] == 1
        assert types["fabric:index:Router"] == 2
        assert types["fabric:index:Hypervisor"] == 2
        assert types["fabric:index:Tenant"] == tenants
        assert types["pulumi-python:dynamic:Resource"] == 2  # one WireGuard key per router


def test_a_missing_peer_stack_is_a_warning(tmp_path: Path) -> None:
    alone = Project(tmp_path)
    alone.init("dc1")
    result = alone.run("preview", "-s", "dc1")  # as a user runs it, from the project directory
    assert "warning: peer stack 'dc2' does not exist yet" in result.stdout
    assert "+ 12 to create" in result.stdout


def test_two_stacks_converge_into_one_mesh_then_nothing_changes(project: Project) -> None:
    assert _changed(project.up("dc1")) == {"create": 12}
    assert project.outputs("dc1")["mesh_peers"] == []
    project.up("dc2")
    assert project.outputs("dc2")["mesh_peers"] == ["dc1-r1", "dc1-r2"]
    assert _changed(project.up("dc1")) == {}
    assert project.outputs("dc1")["mesh_peers"] == ["dc2-r1", "dc2-r2"]

    # Both stacks now hold the full mesh with the real public keys of the other.
    members = {s: {m["name"]: m for m in project.outputs(s)["mesh_members"]} for s in ("dc1", "dc2")}
    for stack, other in (("dc1", "dc2"), ("dc2", "dc1")):
        plan = project.outputs(stack)["plan"]
        for router in plan["routers"].values():
            assert set(members[other]) <= set(router["wireguard_peers"])
    r1 = json.loads(project.run("stack", "export", "-s", "dc1").stdout)
    dc1_r1_config = next(
        r["outputs"]["config"] for r in r1["deployment"]["resources"] if r["urn"].endswith("Router::dc1-r1")
    )
    key = members["dc2"]["dc2-r1"]["public_key"]
    assert f"set interfaces wireguard wg0 peer dc2-r1 public-key '{key}'" in dc1_r1_config["wireguard"]

    # A further up of either stack changes nothing: no resource, and no output either
    # (router configs, mesh members and plans are outputs, which resource counts miss).
    for stack in ("dc1", "dc2"):
        before = _snapshot(project, stack)
        assert project.run("preview", "-s", stack, "--expect-no-changes").returncode == 0
        assert _changed(project.up(stack)) == {}
        assert _snapshot(project, stack) == before

    for stack in ("dc2", "dc1"):
        project.run("destroy", "-s", stack, "--yes", "--skip-preview")
        assert json.loads(project.run("stack", "export", "-s", stack).stdout)["deployment"].get("resources") in (
            None,
            [],
        )


def _private_keys(project: Project, stack: str) -> list[str]:
    secret_state = json.loads(project.export(stack, show_secrets=True))
    return [
        json.loads(r["outputs"]["private_key"]["plaintext"])  # --show-secrets keeps the secret envelope
        for r in secret_state["deployment"]["resources"]
        if r["type"] == "pulumi-python:dynamic:Resource"
    ]


def test_private_keys_never_appear_in_plain_text(project: Project) -> None:
    up = project.run("up", "-s", "dc1", "--yes", "--skip-preview")
    private = _private_keys(project, "dc1")
    assert len(private) == 2 and all(len(k) == 44 for k in private)
    plain = project.export("dc1")
    outputs = project.run("stack", "output", "-s", "dc1", "--json")
    # A rotation's diff shows the replaced key, still as a secret.
    project.run("config", "set", "--path", "fabric:mesh.key_epoch", "1", "-s", "dc1")
    rotation_diff = project.run("preview", "-s", "dc1", "--diff")
    assert "private_key" in rotation_diff.stdout and "[secret]" in rotation_diff.stdout
    rotated = project.run("up", "-s", "dc1", "--yes", "--skip-preview", "--diff")
    texts = (plain, up.stdout, up.stderr, outputs.stdout, rotation_diff.stdout, rotated.stdout, rotated.stderr)
    for key in private + _private_keys(project, "dc1"):
        for text in (*texts, project.export("dc1")):
            assert key not in text
    assert '"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"' in plain  # secret signature


def _snapshot(project: Project, stack: str) -> dict[str, object]:
    """Stack outputs and every component's registered outputs: what resource counts do not show."""
    state = json.loads(project.export(stack))
    components = {
        r["urn"]: r.get("outputs") for r in state["deployment"]["resources"] if r["type"].startswith("fabric:")
    }
    return {"stack": project.outputs(stack), "components": components}


def _public_keys(project: Project, stack: str) -> dict[str, str]:
    return {m["name"]: m["public_key"] for m in project.outputs(stack)["mesh_members"]}


def test_key_rotation_replaces_the_key_and_updates_every_peer_in_one_up(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    project.run("config", "set", "--path", "fabric:datacenter.routers[0].key_rotation", "1", "-s", "dc1")
    changes = _changed(project.up("dc1"))
    assert changes == {"replace": 1}
    after = _public_keys(project, "dc1")
    assert after["dc1-r1"] != before["dc1-r1"] and after["dc1-r2"] == before["dc1-r2"]
    state = json.loads(project.export("dc1"))
    r2_config = next(
        r["outputs"]["config"] for r in state["deployment"]["resources"] if r["urn"].endswith("Router::dc1-r2")
    )
    assert f"set interfaces wireguard wg0 peer dc1-r1 public-key '{after['dc1-r1']}'" in r2_config["wireguard"]


def test_the_key_epoch_rotates_every_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    project.run("config", "set", "--path", "fabric:mesh.key_epoch", "1", "-s", "dc1")
    assert _changed(project.up("dc1")) == {"replace": 2}
    after = _public_keys(project, "dc1")
    assert all(after[name] != before[name] for name in before)


def test_reordering_config_keeps_every_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    stack_file = project.dir / "Pulumi.dc1.yaml"
    r1 = "      - {name: dc1-r1, id: 1, hypervisor: dc1-hv1, route_reflector: true, public_address: 5.254.54.2}\n"
    r2 = "      - {name: dc1-r2, id: 2, hypervisor: dc1-hv2, public_address: 5.254.54.3}\n"
    text = stack_file.read_text()
    assert r1 + r2 in text
    stack_file.write_text(text.replace(r1 + r2, r2 + r1))
    assert _changed(project.up("dc1")) == {}
    assert _public_keys(project, "dc1") == before


def test_renaming_a_router_keeps_its_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    stack_file = project.dir / "Pulumi.dc1.yaml"
    text = stack_file.read_text()
    stack_file.write_text(
        text.replace(
            "- {name: dc1-r2, id: 2, hypervisor: dc1-hv2, public_address: 5.254.54.3}",
            "- {name: dc1-edge, id: 2, hypervisor: dc1-hv2, public_address: 5.254.54.3, previous_names: [dc1-r2]}",
        )
    )
    assert set(_changed(project.up("dc1"))) <= {"update"}  # renamed in place: no create, delete or replace
    assert _public_keys(project, "dc1")["dc1-edge"] == before["dc1-r2"]
