"""``python -m fabric``: render, plan, diagram and validate, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def fabric(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fabric", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_render_writes_set_commands_and_host_files(tmp_path: Path) -> None:
    result = fabric("render", "--stack", "dc1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    vyos = (tmp_path / "dc1-r1.vyos").read_text().splitlines()
    assert vyos[0] == "set system host-name 'dc1-r1'"
    assert all(line.startswith("set ") for line in vyos)
    assert "set interfaces wireguard wg0 peer dc2-r1 allowed-ips '172.27.2.1/32'" in vyos
    assert (tmp_path / "dc1-r2.vyos").exists()
    assert any((tmp_path / "dc1-hv1").rglob("*.netdev"))


def test_plan_prints_the_numbers() -> None:
    result = fabric("plan", "--stack", "dc1")
    assert result.returncode == 0, result.stderr
    for expected in ("dc1-r1", "172.27.1.1", "dc2-r2", "peer stack", "acme", "65000:10", "100.65.10.0/24", "10010"):
        assert expected in result.stdout


def test_diagram_is_mermaid(tmp_path: Path) -> None:
    out = tmp_path / "fabric.mmd"
    assert fabric("diagram", "--out", str(out)).returncode == 0
    text = out.read_text()
    assert text.startswith("graph TB")
    assert "subgraph dc1" in text and "subgraph dc2" in text
    assert "dc1_r1 == iBGP EVPN === dc2_r1" in text


def test_validate_passes_on_the_examples() -> None:
    result = fabric("validate")
    assert result.returncode == 0, result.stderr
    assert "dc1" in result.stdout and "dc2" in result.stdout


def test_validate_fails_with_the_key_and_problem(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dc1.yaml").write_text(
        (ROOT / "Pulumi.dc1.yaml").read_text().replace("hypervisor: dc1-hv2", "hypervisor: dc1-hv9")
    )
    (tmp_path / "Pulumi.dc2.yaml").write_text((ROOT / "Pulumi.dc2.yaml").read_text())
    result = fabric("validate", "--stack", "dc1", cwd=tmp_path)
    assert result.returncode == 1
    assert "datacenter.routers[dc1-r2].hypervisor: unknown hypervisor 'dc1-hv9'" in result.stderr
    assert "Traceback" not in result.stderr


def test_render_and_plan_show_a_burst(tmp_path: Path) -> None:
    """A stack with a cloud enabled: the node's user-data and files are written for review."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        (ROOT / "Pulumi.yaml")
        .read_text()
        .replace(
            "sites: [dc1, dc2]\n        egress:\n          allow:",
            "sites: [dc1, dc2, aws]\n        egress:\n          allow:",
            1,
        )
    )
    (project / "Pulumi.dc1.yaml").write_text(
        (ROOT / "Pulumi.dc1.yaml").read_text().replace("aws: {enabled: false", "aws: {enabled: true")
    )
    (project / "Pulumi.dc2.yaml").write_text((ROOT / "Pulumi.dc2.yaml").read_text())
    out = tmp_path / "out"
    result = fabric("render", "--stack", "dc1", "--out", str(out), cwd=project)
    assert result.returncode == 0, result.stderr
    user_data = (out / "aws-n1.user-data").read_text()
    assert user_data.startswith("#cloud-config\n") and "<secret:wireguard-private-key>" in user_data
    assert "neighbor 172.27.1.1 remote-as internal" in (out / "aws-n1/etc/frr/frr.conf").read_text()
    vyos = (out / "dc1-r1.vyos").read_text()
    assert "set interfaces wireguard wg0 peer aws-n1 allowed-ips '172.27.3.1/32'" in vyos
    assert "set vrf name acme protocols static route 10.243.10.0/24 next-hop '100.65.10.49'" in vyos
    plan = fabric("plan", "--stack", "dc1", cwd=project)
    assert plan.returncode == 0, plan.stderr
    for expected in ("cloud extensions", "aws-n1", "10.243.0.0/16", "acme 10.243.10.0/24", "the cloud's static IP"):
        assert expected in plan.stdout
