"""The real Pulumi engine: previews, two stacks forming one mesh, key secrecy and rotation.

Every test runs the ``pulumi`` CLI (installed by ./scripts/setup.sh) on a copy of the
project from its directory, as a user runs it, with a local file backend in a temp
folder. No device is contacted: this issue's resources are keys and components.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from netaddr import IPNetwork

from fabric import addressing as ap
from fabric.render.vyos import all_owned_subtrees
from providers.vyos import desired_config, flatten, owned, owned_roots
from tests.engine.project import Project, add_tenant_networks


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """Both stacks, every router an emulator on loopback."""
    p = Project(tmp_path)
    p.init("dc1", "dc2")
    p.emulate_devices("dc1")
    p.emulate_devices("dc2")
    yield p
    p.close()


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
        # Per router its WireGuard key and its config; per hypervisor its key and nine concerns
        # (five of the host, four of the VTEP).
        assert types["pulumi-python:dynamic/fabric:WireguardKey"] == 4
        assert types["pulumi-python:dynamic/fabric:RouterConfig"] == 2
        assert types["pulumi-python:dynamic/fabric:HostConcern"] == 2 * 9


def test_a_missing_peer_stack_is_a_warning(tmp_path: Path) -> None:
    alone = Project(tmp_path)
    alone.init("dc1")
    result = alone.run("preview", "-s", "dc1")  # as a user runs it; a preview never contacts a router
    assert "warning: peer stack 'dc2' does not exist yet" in result.stdout
    assert "+ 34 to create" in result.stdout


def test_two_stacks_converge_into_one_mesh_then_nothing_changes(project: Project) -> None:
    assert _changed(project.up("dc1")) == {"create": 34}
    assert project.outputs("dc1")["mesh_peers"] == []
    project.up("dc2")
    assert project.outputs("dc2")["mesh_peers"] == ["dc1-r1", "dc1-r2", "dc1-hv1", "dc1-hv2"]
    dc1_writes = {name: e.write_count for name, e in project.emulators.items() if name.startswith("dc1")}
    # Both dc1 routers and both hypervisors' tunnels gain the dc2 peers.
    assert _changed(project.up("dc1")) == {"update": 4}
    assert project.outputs("dc1")["mesh_peers"] == ["dc2-r1", "dc2-r2", "dc2-hv1", "dc2-hv2"]
    for name, count in dc1_writes.items():
        assert project.emulators[name].write_count - count == 3  # one configure, one confirm, one save

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
        snapshot = _snapshot(project, stack)
        writes = {name: e.write_requests for name, e in project.emulators.items()}
        assert project.run("preview", "-s", stack, "--expect-no-changes").returncode == 0
        assert _changed(project.up(stack)) == {}
        assert _snapshot(project, stack) == snapshot
        assert {name: e.write_requests for name, e in project.emulators.items()} == writes  # not one write

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
        if r["urn"].endswith("-wg-key")
    ]


def test_private_keys_never_appear_in_plain_text(project: Project) -> None:
    up = project.run("up", "-s", "dc1", "--yes", "--skip-preview")
    private = _private_keys(project, "dc1")
    assert len(private) == 4 and all(len(k) == 44 for k in private)  # two routers, two hypervisors
    plain = project.export("dc1")
    outputs = project.run("stack", "output", "-s", "dc1", "--json")
    # A rotation's diff shows the replaced key, still as a secret.
    project.run("config", "set", "--path", "fabric:mesh.key_epoch", "1", "-s", "dc1")
    rotation_diff = project.run("preview", "-s", "dc1", "--diff")
    assert "private_key" in rotation_diff.stdout and "[secret]" in rotation_diff.stdout
    rotated = project.run("up", "-s", "dc1", "--yes", "--skip-preview", "--diff")
    texts = (plain, up.stdout, up.stderr, outputs.stdout, rotation_diff.stdout, rotated.stdout, rotated.stderr)
    ssh_key = project.user_key.read_text().strip()
    for key in [*private, *_private_keys(project, "dc1"), ssh_key]:
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
    # The key; its own router, its peer router and both hypervisors' tunnels re-configured.
    assert changes == {"replace": 1, "update": 4}
    after = _public_keys(project, "dc1")
    assert after["dc1-r1"] != before["dc1-r1"] and after["dc1-r2"] == before["dc1-r2"]
    state = json.loads(project.export("dc1"))
    r2_config = next(
        r["outputs"]["config"] for r in state["deployment"]["resources"] if r["urn"].endswith("Router::dc1-r2")
    )
    # The rendered config holds the marker; the router holds the new key, filled in by the provider.
    assert "set interfaces wireguard wg0 peer dc1-r1 public-key '<public-key:dc1-r1>'" in r2_config["wireguard"]
    assert _owned_running(project, "dc1-r2")["interfaces wireguard wg0 peer dc1-r1 public-key"] == [after["dc1-r1"]]


def test_the_key_epoch_rotates_every_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    project.run("config", "set", "--path", "fabric:mesh.key_epoch", "1", "-s", "dc1")
    # Every key; both routers and both hypervisors' tunnels re-keyed.
    assert _changed(project.up("dc1")) == {"replace": 4, "update": 4}
    after = _public_keys(project, "dc1")
    assert all(after[name] != before[name] for name in before)


def _edit_routers(project: Project, stack: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    path = project.dir / f"Pulumi.{stack}.yaml"
    data = yaml.safe_load(path.read_text())
    dc = data["config"]["fabric:datacenter"]
    dc["routers"] = edit(dc["routers"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_reordering_config_keeps_every_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")
    _edit_routers(project, "dc1", lambda routers: list(reversed(routers)))
    assert _changed(project.up("dc1")) == {}
    assert _public_keys(project, "dc1") == before


def test_renaming_a_router_keeps_its_key(project: Project) -> None:
    project.up("dc1")
    before = _public_keys(project, "dc1")

    def rename(routers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in routers:
            if r["name"] == "dc1-r2":
                r.update(name="dc1-edge", previous_names=["dc1-r2"])
        return routers

    _edit_routers(project, "dc1", rename)
    assert set(_changed(project.up("dc1"))) <= {"update"}  # renamed in place: no create, delete or replace
    assert _public_keys(project, "dc1")["dc1-edge"] == before["dc1-r2"]


def _owned_running(project: Project, router: str) -> dict[str, list[str]]:
    return owned(flatten(project.emulators[router].config_tree()), [list(o) for o in all_owned_subtrees()])


def test_drift_found_by_refresh_is_repaired_by_up_and_destroy_cleans_up(project: Project) -> None:
    project.up("dc1")
    applied = _owned_running(project, "dc1-r1")
    router = project.emulators["dc1-r1"]
    router.set_by_hand(("interfaces", "vxlan", "vxlan10010", "description", "edited by hand"))
    refresh = project.run("refresh", "-s", "dc1", "--yes", "--skip-preview")
    assert "~ 1 updated" in refresh.stdout  # the router's config resource
    state = json.loads(project.export("dc1"))
    config = next(r for r in state["deployment"]["resources"] if r["urn"].endswith("::dc1-r1-vyos"))
    assert config["outputs"]["drift"] == [
        "- interfaces vxlan vxlan10010 description 'tenant acme segment' (applied, gone from the router)",
        "+ interfaces vxlan vxlan10010 description 'edited by hand' (on the router, not in fabric's config)",
    ]
    drift = project.run("preview", "-s", "dc1", "--diff", "--expect-no-changes", check=False)
    assert drift.returncode != 0 and "dc1-r1-vyos" in drift.stdout  # the next up has work to do
    assert _changed(project.up("dc1")) == {"update": 1}
    assert _owned_running(project, "dc1-r1") == applied

    # The same for a host: a file edited by hand shows in the concern's drift, and up restores it.
    netdev = project.workdir / "hosts/dc1-hv1/root/etc/systemd/network/10-bond0.netdev"
    original = netdev.read_text()
    netdev.write_text(original.replace("LACPTransmitRate=fast", "LACPTransmitRate=slow"))
    project.run("refresh", "-s", "dc1", "--yes", "--skip-preview")
    state = json.loads(project.export("dc1"))
    network = next(r for r in state["deployment"]["resources"] if r["urn"].endswith("::dc1-hv1-network"))
    assert network["outputs"]["drift"][0].startswith("/etc/systemd/network/10-bond0.netdev: changed on the host")
    assert _changed(project.up("dc1")) == {"update": 1}
    assert netdev.read_text() == original

    project.run("destroy", "-s", "dc1", "--yes", "--skip-preview")
    for host in ("dc1-hv1", "dc1-hv2"):
        files = [f for f in (project.workdir / "hosts" / host / "root" / "etc").rglob("*") if f.is_file()]
        assert files == []  # every owned file is gone
    for name in ("dc1-r1", "dc1-r2"):
        left = _owned_running(project, name)
        assert "service https api keys id fabric key" in left  # the API stays reachable
        assert not any(
            p.startswith(("interfaces wireguard", "interfaces vxlan", "vrf", "protocols", "firewall")) for p in left
        )


def test_adding_a_tenant_changes_only_its_lines_on_every_router(project: Project) -> None:
    project.up("dc1")
    before = {name: _owned_running(project, name) for name in ("dc1-r1", "dc1-r2")}
    path = project.dir / "Pulumi.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["fabric:tenants"]["value"].append({"name": "hooli", "id": 50, "sites": ["dc1", "dc2"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    preview = project.run("preview", "-s", "dc1", "--diff")  # what a reviewer reads in the pull request
    # Per router, the changed section as a line diff: each new line, with a little context.
    assert "dc1-r1-vyos" in preview.stdout and "+ set vrf name hooli table '1050'" in preview.stdout
    assert "set vrf name acme table '1010'" not in preview.stdout  # unchanged lines far from a change stay out
    # The Tenant component; both routers; on both hypervisors (each serves a DHCP slice of the
    # new tenant) its segment, the host filter for it and its DHCP server. No switch port changes.
    assert _changed(project.up("dc1")) == {"create": 1, "update": 8}
    for host in ("dc1-hv1", "dc1-hv2"):
        network = project.workdir / "hosts" / host / "root" / "etc/systemd/network"
        assert (network / "60-br10050.network").exists() and (network / "60-vxlan10050.netdev").exists()
        assert "DHCPServer=yes" in (network / "60-br10050.network.d/50-dhcp.conf").read_text()
        assert "1050" not in (project.workdir / "hosts" / host / "calls.log").read_text()
    for name, old in before.items():
        new = _owned_running(project, name)
        changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
        assert changed and all(
            "hooli" in p or "1050" in p or "10050" in p or "20050" in p or "1100" in p or "1101" in p for p in changed
        )


def test_router_faults_through_the_engine(project: Project) -> None:
    """What a user sees from `pulumi up` when a router misbehaves, and that the next up converges."""
    r1, r2 = project.emulators["dc1-r1"], project.emulators["dc1-r2"]
    untouched = r1.running()

    # A wrong API key: refused with a clear error; nothing changes on the router.
    project.run("config", "set", "--secret", "fabric:vyos_api_key", "not-the-key", "-s", "dc1")
    failed = project.run("up", "-s", "dc1", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "router dc1-r1: the API refused the key (HTTP 401" in failed.stdout
    assert r1.running() == untouched and "not-the-key" not in failed.stdout
    project.run("config", "set", "--secret", "fabric:vyos_api_key", "fabric-test-key", "-s", "dc1")

    # A certificate that is not the pinned one: refused before the key is ever sent.
    def pin_wrong(routers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        routers[0]["api"]["fingerprint"] = "00" * 32
        return routers

    _edit_routers(project, "dc1", pin_wrong)
    r1.clear_requests()
    failed = project.run("up", "-s", "dc1", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "refusing to connect" in failed.stdout
    assert r1.requests == []
    _edit_routers(
        project,
        "dc1",
        lambda routers: [
            {**r, "api": {**r["api"], "fingerprint": project.emulators[r["name"]].fingerprint_sha256}} for r in routers
        ],
    )

    # The first apply goes through; the faults below hit the next change (a new tenant).
    project.up("dc1")
    applied = r1.running()
    path = project.dir / "Pulumi.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["fabric:tenants"]["value"].append({"name": "hooli", "id": 50, "sites": ["dc1"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    # A commit the router refuses: the error names it, the router is unchanged.
    r1.fail_next_commit("Commit failed: bridge br1050 cannot be created")
    failed = project.run("up", "-s", "dc1", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "bridge br1050 cannot be created" in failed.stdout
    assert "back at its config from before this apply" in failed.stdout
    assert r1.running() == applied
    # The timer the router armed before its failed commit is not provably fabric's: left to
    # run out, it takes the router to its saved config (the last up's).
    assert r1.expire_confirm_now() and r1.running() == applied == r1.saved

    # The connection drops after the commit: put back; the timer runs out; the next up converges.
    r1.drop_connection_after_commit()
    failed = project.run("up", "-s", "dc1", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "lost the connection during configure" in failed.stdout
    assert r1.expire_confirm_now() and r1.running() == applied
    project.up("dc1")
    for router in (r1, r2):
        assert "vrf name hooli table" in owned(flatten(router.config_tree()), [list(o) for o in all_owned_subtrees()])
        assert router.saved == router.running() and not router.confirm_pending


def test_a_stack_from_before_the_typed_resources_upgrades_without_a_change(project: Project) -> None:
    """A stack created when every provider resource was ``pulumi-python:dynamic:Resource``:
    the old type is an alias of the named ones, so preview and up change nothing and write
    nothing to a router, and the state then holds the named types."""
    project.up("dc1")
    text = project.export("dc1")
    named = sorted(set(re.findall(r"pulumi-python:dynamic/fabric:[A-Za-z]+", text)))
    assert named == [f"pulumi-python:dynamic/fabric:{n}" for n in ("HostConcern", "RouterConfig", "WireguardKey")]
    for t in named:
        text = text.replace(t, "pulumi-python:dynamic:Resource")
    earlier = project.workdir / "untyped.json"
    earlier.write_text(text)
    project.run("stack", "import", "-s", "dc1", "--file", str(earlier))
    writes = {name: e.write_requests for name, e in project.emulators.items()}
    assert project.run("preview", "-s", "dc1", "--expect-no-changes").returncode == 0
    assert _changed(project.up("dc1")) == {}
    assert {name: e.write_requests for name, e in project.emulators.items()} == writes
    assert "pulumi-python:dynamic:Resource" not in project.export("dc1")


def test_state_of_an_earlier_version_updates_without_a_change(project: Project) -> None:
    """A stack applied before router configs were kept per section (``config`` as
    ``{"<path words>": [values]}``, ``owns`` one list) previews and updates with no change
    and no write to a router; later changes apply as usual."""
    project.up("dc1")
    state = json.loads(project.export("dc1"))
    routers = [r for r in state["deployment"]["resources"] if r["urn"].endswith("-vyos")]
    assert len(routers) == 2
    for r in routers:
        for part in ("inputs", "outputs"):
            assert isinstance(r[part]["config"]["vrf"], str)
            r[part]["config"] = desired_config(r[part]["config"])
            r[part]["owns"] = owned_roots(r[part]["owns"])
    earlier = project.workdir / "earlier.json"
    earlier.write_text(json.dumps(state))
    project.run("stack", "import", "-s", "dc1", "--file", str(earlier))
    writes = {name: e.write_requests for name, e in project.emulators.items()}

    assert project.run("preview", "-s", "dc1", "--expect-no-changes").returncode == 0
    refresh = project.run("refresh", "-s", "dc1", "--yes", "--skip-preview")
    assert "updated" not in refresh.stdout  # read correctly: no drift
    assert _changed(project.up("dc1")) == {}
    assert {name: e.write_requests for name, e in project.emulators.items()} == writes
    # That up recorded the inputs in the new form (the outputs keep the old one until the next apply).
    state = json.loads(project.export("dc1"))
    assert all(
        isinstance(r["inputs"]["config"]["vrf"], str) and isinstance(r["inputs"]["owns"], dict)
        for r in state["deployment"]["resources"]
        if r["urn"].endswith("-vyos")
    )

    path = project.dir / "Pulumi.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["fabric:tenants"]["value"].append({"name": "hooli", "id": 50, "sites": ["dc1"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert "+ set vrf name hooli table '1050'" in project.run("preview", "-s", "dc1", "--diff").stdout
    # The tenant; both routers; per hypervisor its segment, filter and DHCP server for hooli.
    assert _changed(project.up("dc1")) == {"create": 1, "update": 8}
    for name in ("dc1-r1", "dc1-r2"):
        assert _owned_running(project, name)["vrf name hooli table"] == ["1050"]
    state = json.loads(project.export("dc1"))
    for r in state["deployment"]["resources"]:
        if r["urn"].endswith("-vyos"):
            assert "set vrf name hooli table '1050'" in r["outputs"]["config"]["vrf"]
    assert project.run("preview", "-s", "dc1", "--expect-no-changes").returncode == 0


def test_a_stack_from_before_late_markers_upgrades_without_a_change(project: Project) -> None:
    """A stack applied when router configs held their peers' keys as text (no ``late``
    input): the same keys as markers and values ask the same of the router, so preview and
    up change nothing and write nothing."""
    project.up("dc1")
    state = json.loads(project.export("dc1"))
    routers = [r for r in state["deployment"]["resources"] if r["urn"].endswith("-vyos")]
    for r in routers:
        late = r["inputs"].pop("late")
        r["inputs"].pop("late_paths")
        for part in ("inputs", "outputs"):
            r[part].pop("late", None)
            r[part].pop("late_paths", None)
            for section, text in r[part]["config"].items():
                for kind, values in late.items():
                    for name, value in values.items():
                        text = text.replace(f"<{kind}:{name}>", value)
                r[part]["config"][section] = text
        assert "<public-key:" not in json.dumps(r["inputs"]["config"])
    earlier = project.workdir / "keys-in-text.json"
    earlier.write_text(json.dumps(state))
    project.run("stack", "import", "-s", "dc1", "--file", str(earlier))
    writes = {name: e.write_requests for name, e in project.emulators.items()}
    assert project.run("preview", "-s", "dc1", "--expect-no-changes").returncode == 0
    assert _changed(project.up("dc1")) == {}
    assert {name: e.write_requests for name, e in project.emulators.items()} == writes


def test_adding_a_router_shows_every_line_it_changes_on_the_others_in_preview(project: Project) -> None:
    """A new router's key exists only after up, yet the preview names each line it adds on the
    routers already there (its key as a marker the provider fills in), and nothing else changes."""
    project.up("dc1")
    _edit_routers(
        project,
        "dc1",
        lambda routers: [
            *routers,
            {"name": "dc1-r3", "id": 3, "hypervisor": "dc1-hv2", "gateway": False, "public_address": "5.254.54.4"},
        ],
    )
    preview = project.run("preview", "-s", "dc1", "--diff").stdout
    for line in (
        "+ set interfaces wireguard wg0 peer dc1-r3 public-key '<public-key:dc1-r3>'",
        "+ set interfaces wireguard wg0 peer dc1-r3 allowed-ips '172.27.1.3/32'",
        "+ set protocols bgp neighbor 172.27.1.3 remote-as 'internal'",
    ):
        assert line in preview, line
    # Both routers already there are updates whose config is known: no "output<string>" anywhere in their diffs.
    steps = {s["urn"].rsplit("::", 1)[1]: s for s in project.preview_json("dc1")["steps"]}
    for name in ("dc1-r1-vyos", "dc1-r2-vyos"):
        step = steps[name]
        assert step["op"] == "update"
        config = step["newState"]["inputs"]["config"]
        assert all(isinstance(text, str) and "04da6b54" not in text for text in config.values())
        assert "peer dc1-r3 public-key '<public-key:dc1-r3>'" in config["wireguard"]
    assert steps["dc1-r3-vyos"]["op"] == "create"
    assert "set system host-name 'dc1-r3'" in steps["dc1-r3-vyos"]["newState"]["inputs"]["config"]["system"]


def test_a_vm_added_then_moved_changes_only_its_hypervisors(project: Project) -> None:
    """As a newcomer does it: a VM added in the stack file shows in the preview as its
    hypervisor's files (the unit, the tap's port in the tenant bridge) and nothing on any
    router; ``up`` writes them on that host only and starts the VM; moved to the other
    hypervisor, it stops there and starts on the new one."""
    project.up("dc1")
    writes = {name: e.write_requests for name, e in project.emulators.items()}
    calls = {h: project.workdir / "hosts" / h / "calls.log" for h in ("dc1-hv1", "dc1-hv2")}
    path = project.dir / "Pulumi.dc1.yaml"

    def place(hypervisor: str) -> None:
        data = yaml.safe_load(path.read_text())
        vms = data["config"]["fabric:datacenter"]["vms"]
        vms[:] = [vm for vm in vms if vm["name"] != "globex-app1"]
        vms.append({"name": "globex-app1", "id": 7, "tenant": "globex", "hypervisor": hypervisor})
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    place("dc1-hv1")
    preview = project.run("preview", "-s", "dc1", "--diff").stdout
    assert "/etc/systemd/system/fabric-vm-globex-app1.service" in preview
    assert "SYSTEMD_VMSPAWN_NETWORK_MAC=02:fb:01:00:00:07" in preview
    assert "61-vt-globex-app1.network" in preview and "dc1-r1-vyos" not in preview
    before = {h: c.read_text() for h, c in calls.items()}
    # hv1's unit, tap port and host filter (its globex segment exists already: it serves globex's DHCP).
    assert _changed(project.up("dc1")) == {"update": 3}
    assert "systemctl restart fabric-vm-globex-app1.service" in calls["dc1-hv1"].read_text()[len(before["dc1-hv1"]) :]
    assert calls["dc1-hv2"].read_text() == before["dc1-hv2"]
    hv1 = project.workdir / "hosts" / "dc1-hv1" / "root" / "etc/systemd/network"
    assert "Bridge=br10020" in (hv1 / "61-vt-globex-app1.network").read_text()

    place("dc1-hv2")
    before = {h: c.read_text() for h, c in calls.items()}
    assert _changed(project.up("dc1")) == {"update": 6}  # the same three concerns on both hosts
    assert (
        "systemctl disable --now fabric-vm-globex-app1.service"
        in calls["dc1-hv1"].read_text()[len(before["dc1-hv1"]) :]
    )
    assert "systemctl restart fabric-vm-globex-app1.service" in calls["dc1-hv2"].read_text()[len(before["dc1-hv2"]) :]
    assert not (hv1 / "61-vt-globex-app1.network").exists()
    assert {name: e.write_requests for name, e in project.emulators.items()} == writes  # no router touched


def test_a_segment_a_published_port_and_a_per_vm_rule_are_one_up_and_go_again_exactly(project: Project) -> None:
    """As a newcomer does it, in Pulumi.yaml: tenant initech gets a second segment, a published
    port on a public address of dc1 (to its VM initech-app1), an allow entry for that segment
    only and one for that VM only. The preview shows
    each new line on each gateway; one ``up`` applies them; removing them again leaves every
    router's running config as it was before, line for line."""
    project.up("dc1")
    routers = ("dc1-r1", "dc1-r2")
    before = {name: _owned_running(project, name) for name in routers}
    path = project.dir / "Pulumi.yaml"
    original = path.read_text()
    add_tenant_networks(project, "initech", vm="initech-app1")  # the VM at 100.65.30.100
    db = ap.segment_block(IPNetwork("100.112.0.0/12"), 24, 30, 1)  # slot 16 x 30 + 1
    vni = ap.segment_vni(100000, 30, 1)

    preview = project.run("preview", "-s", "dc1", "--diff").stdout
    for line in (
        f"+ set interfaces bridge br{vni} address '{ap.router_tenant_address(db, 1, 1)}/24'",
        f"+ set interfaces vxlan vxlan{vni} vni '{vni}'",
        f"+ set high-availability vrrp group initech.db.dc1 address {ap.vrrp_address(db, 1)}/24",
        "+ set nat destination rule 203001 destination address '5.254.54.41'",
        "+ set nat destination rule 203001 translation port '443'",
        f"+ set firewall ipv4 name EGRESS-initech rule 101 source address '{db}'",
        "+ set firewall ipv4 name EGRESS-initech rule 102 source address '100.65.30.100/32'",
        "+ set firewall ipv4 name INGRESS-initech rule 101 destination address '100.65.30.100/32'",
        "+ set high-availability vrrp group public-dc1 address 5.254.54.41/26",
    ):
        assert line in preview, line
    assert "- set" not in preview  # nothing of what is there goes
    changed = _changed(project.up("dc1"))
    assert changed == {"update": 3}, changed  # the Tenant component and the two gateways
    applied = {name: _owned_running(project, name) for name in routers}
    # Its paths: the tenant's, the segment's, the NAT rule's, the public VRRP group and its sync
    # group (dc1 holds a public address now), the ingress jump, VRRP admitted on the public VLAN.
    ours = ("initech", str(vni), str(db), "203001", "5.254.54.41", "nat-dc1", "100030")
    for name in routers:
        added = {p for p in applied[name].keys() | before[name].keys() if applied[name].get(p) != before[name].get(p)}
        assert added and not [p for p in added if not any(word in p for word in ours)]

    path.write_text(original)
    assert _changed(project.up("dc1")) == {"update": 3}
    assert {name: _owned_running(project, name) for name in routers} == before
