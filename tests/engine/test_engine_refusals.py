"""The real Pulumi engine refuses hostile and inconsistent input before registering anything,
with the messages ``python -m fabric validate`` gives.

Each test runs the ``pulumi`` CLI on a copy of the project with a local file backend. A
hostile peer stack is a real stack in that backend whose state (imported with
``pulumi stack import``) exports hostile ``mesh_members``, as a compromised or careless
peer stack would. Nothing is contacted: the program stops before any resource exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fabric import cli, loader, model, stackfile
from fabric.errors import ConfigError
from tests.engine.project import Project

#: A dc2 member as a hostile peer stack exports it: a name that writes a wg-quick hook, a
#: public key that widens a peer's AllowedIPs, a mesh address that is not the formula's.
HOSTILE_MEMBERS: list[dict[str, Any]] = [
    {
        "name": "dc2-r1\n[Interface]\nPostUp = id",
        "site": "dc2",
        "site_id": 2,
        "node_id": 1,
        "endpoint": "5.254.43.162",
        "port": 51820,
        "public_key": "x\nAllowedIPs = 0.0.0.0/0",
        "mesh_address": "172.27.2.9",
        "roles": ["route-reflector", "gateway"],
    }
]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = Project(tmp_path)
    p.init("dc1")
    yield p
    p.close()


def _stack_file(project: Project, stack: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((project.dir / f"Pulumi.{stack}.yaml").read_text())
    return data


def _write_stack_file(project: Project, stack: str, data: dict[str, Any]) -> None:
    (project.dir / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _nothing_registered(project: Project, stack: str) -> None:
    state = json.loads(project.export(stack))
    assert not state["deployment"].get("resources"), "a resource was registered"


def _validate_messages(project: Project, stack: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        stackfile.load_stack(project.dir, stack)
    return info.value.problems


def test_plaintext_secret_unknown_keys_and_octal_are_refused_like_validate(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _stack_file(project, "dc1")
    data["config"]["fabric:vyos_api_key"] = "plain-text-key"
    data["config"]["fabric:tenantz"] = [{"name": "x", "id": 1}]
    data["config"]["fabric:datacentre"] = "dc1"
    _write_stack_file(project, "dc1", data)
    # A number Pulumi reads as octal: the program sees only 27136, so it reads the file as validate does.
    assert "fabric:asn" not in data["config"]
    path = project.dir / "Pulumi.dc1.yaml"
    text = path.read_text()
    path.write_text(text.replace("config:\n", "config:\n  fabric:asn: 065000\n", 1))
    line = path.read_text().splitlines().index("  fabric:asn: 065000") + 1
    expected = _validate_messages(project, "dc1")
    known = ", ".join(sorted(model.CONFIG_KEYS))
    assert set(expected) == {
        f"Pulumi.dc1.yaml line {line}: 065000 has a leading zero, so Pulumi reads it as octal 27136; write 65000 "
        "(or 0o65000 to mean octal)",
        f"datacentre: unknown key 'fabric:datacentre' (check the spelling; known keys: {known})",
        f"tenantz: unknown key 'fabric:tenantz' (check the spelling; known keys: {known})",
        "vyos_api_key: stored in plain text; store it with `pulumi config set --secret fabric:vyos_api_key <value>`",
    }
    for command in (["preview"], ["up", "--yes"]):
        result = project.run(*command, "-s", "dc1", check=False)
        assert result.returncode != 0
        for message in expected:
            assert message in result.stdout + result.stderr, message
    _nothing_registered(project, "dc1")
    # `validate` says the same and fails.
    assert cli.main(["--project", str(project.dir), "validate", "--stack", "dc1"]) == 1
    err = capsys.readouterr().err
    assert all(message in err for message in expected)


def test_a_hostile_peer_export_is_refused_naming_the_peer_and_member(project: Project) -> None:
    project.init("dc2")
    deployment = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-12-02T00:00:00Z", "magic": "", "version": ""},
            "resources": [
                {
                    "urn": "urn:pulumi:dc2::fabric::pulumi:pulumi:Stack::fabric-dc2",
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                    "outputs": {"mesh_members": HOSTILE_MEMBERS},
                }
            ],
        },
    }
    project.run("stack", "import", "-s", "dc2", stdin=json.dumps(deployment))
    result = project.run("preview", "-s", "dc1", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    # The same loader, given the same export, gives these messages: the program printed them.
    inv = stackfile.load_inventory(project.dir, "dc1")
    with pytest.raises(ConfigError) as info:
        loader.validate(inv, {"dc2": HOSTILE_MEMBERS})
    assert info.value.problems
    for message in info.value.problems:
        assert message.startswith("peer_stacks[dc2].mesh_members[")
        assert message in output, message
    # The hostile text is only ever quoted: no line of output starts a wg-quick hook.
    assert not any(line.lstrip().startswith(("PostUp", "[Interface]", "AllowedIPs")) for line in output.splitlines())
    _nothing_registered(project, "dc1")


def test_bad_tenant_vms_are_refused_like_validate(project: Project) -> None:
    """Hostile text in a VM's name (refused by its field), then a VM on an unknown hypervisor and
    one booting a host device (refused by the rules): each time ``preview`` and ``up`` stop with
    exactly ``validate``'s messages, and nothing is registered."""
    original = _stack_file(project, "dc1")
    hostile = {"name": "evil\n[Service]", "id": 10, "tenant": "acme", "hypervisor": "dc1-hv1"}
    inconsistent = [
        {"name": "lost", "id": 11, "tenant": "acme", "hypervisor": "dc1-hv9"},
        {"name": "thief", "id": 12, "tenant": "acme", "hypervisor": "dc1-hv1", "image": "/dev/sda"},
    ]
    for added, wanted in (
        ([hostile], ["datacenter.vms[3].name: 'evil\\n[Service]' holds the control character '\\n' (newline)"]),
        (
            inconsistent,
            [
                "datacenter.vms[lost].hypervisor: unknown hypervisor 'dc1-hv9' (hypervisors: dc1-hv1, dc1-hv2)",
                "datacenter.vms[thief].image: /dev/sda is not under /var/lib/machines/",
            ],
        ),
    ):
        data = json.loads(json.dumps(original))
        data["config"]["fabric:datacenter"]["vms"] += added
        _write_stack_file(project, "dc1", data)
        expected = _validate_messages(project, "dc1")
        assert all(any(m.startswith(w) for m in expected) for w in wanted), expected
        for command in (["preview"], ["up", "--yes"]):
            result = project.run(*command, "-s", "dc1", check=False)
            assert result.returncode != 0
            for message in expected:
                assert message in result.stdout + result.stderr, message
            assert not any(line.lstrip().startswith("[Service]") for line in result.stdout.splitlines())
        _nothing_registered(project, "dc1")


def test_hostile_post_up_verify_settings_are_refused_like_validate(project: Project) -> None:
    """``fabric:verify`` given hostile text and a deadline out of range: ``preview`` stops with
    exactly ``validate``'s messages (the program reads it with the same loader), nothing registered."""
    data = _stack_file(project, "dc1")
    data["config"]["fabric:verify"] = {"after_up": "true'\n<b>", "deadline": 5}
    _write_stack_file(project, "dc1", data)
    expected = _validate_messages(project, "dc1")
    assert expected == [
        'verify.after_up: "true\'\\n<b>" is text, not true or false (write it without quotes)',
        "verify.deadline: 5 is out of range: the smallest allowed is 10",
    ]
    result = project.run("preview", "-s", "dc1", check=False)
    assert result.returncode != 0
    for message in expected:
        assert message in result.stdout + result.stderr, message
    _nothing_registered(project, "dc1")
