"""The policy pack (``policy/``) with the real engine: ``pulumi preview --policy-pack policy``.

The Pulumi CLI from the set-up step runs the example stacks (copied, a local file
backend) with the pack, whose Python analyzer (``pulumi-analyzer-policy-python``) the
set-up step installs beside the CLI. Each rule has a passing run (the example stacks as
they are, or the config that says what the rule asks) and a violating one; a violation
fails the preview before anything is created. The host-key rule cannot be broken from
fabric's config (``validate`` requires a pin), so its violating run is a small program
that registers a host resource without one: the pack guards the resource type, whoever
registers it. No device is contacted: previews never reach one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.rules import RULES, STACK_RULES
from tests.conftest import ROOT
from tests.engine.project import Project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    p = Project(tmp_path_factory.mktemp("policy"))
    shutil.copytree(ROOT / "policy", p.dir / "policy", ignore=shutil.ignore_patterns("__pycache__"))
    p.init("dc1")
    yield p
    p.close()


def preview(project: Project) -> tuple[int, str]:
    result = project.run("preview", "-s", "dc1", "--policy-pack", "policy", check=False)
    return result.returncode, result.stdout + result.stderr


def edited(project: Project, edit: Callable[[dict[str, Any]], None]) -> tuple[int, str]:
    """A preview of dc1 with its stack file and Pulumi.yaml edited, both restored afterwards."""
    files = [project.dir / "Pulumi.dc1.yaml", project.dir / "Pulumi.yaml"]
    saved = [f.read_text() for f in files]
    data = {f.name: yaml.safe_load(text) for f, text in zip(files, saved, strict=True)}
    edit(data)
    try:
        for f in files:
            f.write_text(yaml.safe_dump(data[f.name], sort_keys=False))
        return preview(project)
    finally:
        for f, text in zip(files, saved, strict=True):
            f.write_text(text)


def dc(data: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = data["Pulumi.dc1.yaml"]["config"]["fabric:datacenter"]
    return config


def tenants(data: dict[str, Any]) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = data["Pulumi.yaml"]["config"]["fabric:tenants"]["value"]
    return value


def violated(output: str, rule: str) -> bool:
    """Whether the CLI's policy summary lists ``rule`` as violated (``- [mandatory]  <rule>  (<type>: <name>)``)."""
    return re.search(rf"- \[mandatory\]\s+{re.escape(rule)}\s", output) is not None


def test_the_example_stack_passes_every_rule(project: Project) -> None:
    code, output = preview(project)
    assert code == 0, output
    assert "fabric@v" in output and "+ 34 to create" in output
    assert not any(violated(output, name) for name, _, _ in [*RULES, *STACK_RULES])


def test_tls_verification_off_is_refused(project: Project) -> None:
    def insecure(data: dict[str, Any]) -> None:
        dc(data)["routers"][0]["api"] = {"insecure": True}

    code, output = edited(project, insecure)
    assert code != 0 and violated(output, "router-tls-verified")
    assert "router dc1-r1: TLS verification is off (api.insecure)" in output
    assert "error: preview failed" in output


def test_admin_access_from_anywhere_is_refused(project: Project) -> None:
    def anywhere(data: dict[str, Any]) -> None:
        dc(data).update(admin_prefixes=["0.0.0.0/0"], admin_from_anywhere=True)

    code, output = edited(project, anywhere)
    assert code != 0 and violated(output, "no-admin-from-anywhere")
    assert "router dc1-r1: its API and SSH answer 0.0.0.0/0" in output and "router dc1-r2:" in output


def test_commit_confirm_turned_off_is_refused_where_vyos_has_it(project: Project) -> None:
    def off(version: str) -> Callable[[dict[str, Any]], None]:
        def edit(data: dict[str, Any]) -> None:
            dc(data)["routers"][1].update(api={"commit_confirm": False}, vyos_version=version)

        return edit

    code, output = edited(project, off("1.5"))
    assert code != 0 and violated(output, "commit-confirm-on")
    assert "router dc1-r2: VyOS 1.5 has commit-confirm" in output
    # VyOS 1.4's API has no commit-confirm: nothing to turn off, nothing refused.
    code, output = edited(project, off("1.4"))
    assert code == 0 and not violated(output, "commit-confirm-on"), output


def test_unrestricted_egress_needs_allow_all(project: Project) -> None:
    """A tenant that says ``egress.allow_all`` gets chains that accept by default: allowed."""

    def allow_all(data: dict[str, Any]) -> None:
        tenants(data)[0]["egress"] = {"allow_all": True}

    code, output = edited(project, allow_all)
    assert code == 0 and not violated(output, "egress-explicit"), output


def program_preview(workdir: Path, source: str) -> tuple[int, str]:
    """``pulumi preview --policy-pack policy`` of a small program of this project's resource types."""
    p = Project(workdir)
    try:
        shutil.copytree(ROOT / "policy", p.dir / "policy", ignore=shutil.ignore_patterns("__pycache__"))
        (p.dir / "Pulumi.yaml").write_text("name: probe\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
        (p.dir / "__main__.py").write_text(source)
        p.run("stack", "init", "probe")
        result = p.run("preview", "-s", "probe", "--policy-pack", "policy", check=False)
        return result.returncode, result.stdout + result.stderr
    finally:
        p.close()


UNRESTRICTED = """
import pulumi
from providers.vyos import VyosConfig

tenant = {{"name": "acme", "egress": {{"allow_all": {allow_all}, "allow": []}}}}
pulumi.ComponentResource("fabric:index:Tenant", "dc1-acme", tenant).register_outputs(tenant)
VyosConfig(
    "dc1-r1-vyos", router="dc1-r1", endpoint="https://127.0.0.1:9", api_key="k", tls={{}}, vyos_version="1.5",
    confirm=True, owns={{}}, keep_on_delete=[], secrets={{}}, secret_paths={{}},
    config={{"firewall": "set firewall ipv4 name EGRESS-acme default-action 'accept'\\n"}},
)
"""


@pytest.mark.parametrize("allow_all", [False, True])
def test_a_router_letting_a_tenant_out_unrestricted_needs_the_tenants_allow_all(
    tmp_path: Path, allow_all: bool
) -> None:
    """What is applied matches what was asked: fabric's renderer never writes such a chain
    for a tenant without ``allow_all`` (so the violating run is a program that does)."""
    code, output = program_preview(tmp_path, UNRESTRICTED.format(allow_all=allow_all))
    if allow_all:
        assert code == 0 and not violated(output, "egress-explicit"), output
    else:
        assert code != 0 and violated(output, "egress-explicit")
        assert "router dc1-r1: tenant acme's egress is unrestricted (EGRESS-acme accepts by default)" in output


HOST = """
from providers.host import HostConcern

HostConcern(
    "h1-network", host="h1", concern="network", address="127.0.0.1", port=22, user="root",
    host_key={host_key!r}, private_key=None, files={{}}, actions=[],
)
"""


@pytest.mark.parametrize("host_key", [None, "SHA256:" + "A" * 43])
def test_a_host_without_a_pinned_key_is_refused(tmp_path: Path, host_key: str | None) -> None:
    code, output = program_preview(tmp_path, HOST.format(host_key=host_key))
    if host_key is None:
        assert code != 0 and violated(output, "host-keys-pinned")
        assert "host h1: no pinned SSH host key (ssh.host_key)" in output
    else:
        assert code == 0 and not violated(output, "host-keys-pinned"), output


def test_the_pull_request_report_runs_the_pack_and_names_a_violation(project: Project) -> None:
    """``python -m fabric review --policy-pack policy`` (what the workflow runs): a passing
    stack gets its report; a violation fails the review, naming the rule and the router."""

    def review(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "fabric", "review", "--stack", "dc1", "--policy-pack", "policy", *extra]
        env = {**project.env, "PYTHONPATH": str(project.dir)}
        return subprocess.run(command, cwd=project.dir, env=env, capture_output=True, text=True, check=False)

    passing = review("--max-chars", "0")
    assert passing.returncode == 0, passing.stderr
    assert "set interfaces wireguard wg0 peer dc1-r2 public-key '<public-key:dc1-r2>'" in passing.stdout
    path = project.dir / "Pulumi.dc1.yaml"
    saved = path.read_text()
    data = yaml.safe_load(saved)
    data["config"]["fabric:datacenter"]["routers"][0]["api"] = {"insecure": True}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        failing = review()
    finally:
        path.write_text(saved)
    assert failing.returncode == 1 and failing.stdout == ""
    assert "stack dc1: pulumi preview failed" in failing.stderr
    assert violated(failing.stderr, "router-tls-verified")
    assert "router dc1-r1: TLS verification is off (api.insecure)" in failing.stderr
