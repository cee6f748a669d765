"""The lab fabric as tests and the benchmark use it: nodes up, ``pulumi up --stack lab``, endpoints.

:class:`LabFabric` brings the lab's nodes up from ``Pulumi.lab.yaml`` (systemd-nspawn
containers in their own network namespaces, see ``lab``), runs the real Pulumi CLI on a
copy of the project with a local backend, attaches one endpoint per node and tenant,
and tears everything down again: ``pulumi destroy``, then every namespace, container
and process the lab started.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import lab
from fabric import stackfile
from fabric.topology import NodePlan, Plan
from lab import dataplane
from tests.engine.project import Project

STACK = "lab"
ENDPOINT_EXTRA_MTU = 100


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> float:
    """Poll ``check`` until true; the seconds it took, or an AssertionError naming ``what``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


class LabFabric:
    """One lab: its nodes, its Pulumi project, its endpoints."""

    def __init__(self, workdir: Path) -> None:
        lab.down()  # a lab left by an interrupted run (or by hand) goes first
        self.project = Project(workdir)
        self.stack_file = self.project.dir / f"Pulumi.{STACK}.yaml"
        self.timings: dict[str, float] = {}
        self.endpoints: list[dataplane.Endpoint] = []
        start = time.monotonic()
        self.state = lab.up(lab.load_spec(self.stack_file))
        self.timings["lab up"] = time.monotonic() - start
        self.project.init(STACK)

    def plan(self) -> Plan:
        return stackfile.load_stack(self.project.dir, STACK).plan

    def plan_endpoints(self) -> list[dataplane.Endpoint]:
        return dataplane.endpoints(self.plan())

    def plan_nodes(self) -> tuple[NodePlan, ...]:
        return self.plan().nodes

    def node_names(self) -> list[str]:
        return [n.name for n in self.plan_nodes()]

    def up(self) -> dict[str, Any]:
        """``pulumi up``; then endpoints for every (node, tenant) the config now has, and none else."""
        start = time.monotonic()
        summary = self.project.up(STACK)
        self.timings["pulumi up"] = time.monotonic() - start
        wanted = self.plan_endpoints()
        self.refresh_state()
        keys = {(e.node, e.name) for e in wanted}
        dataplane.detach(self.state, [e for e in self.endpoints if (e.node, e.name) not in keys])
        self.refresh_state()
        # Endpoints' own MTU is above the tenants', so that an oversize packet leaves them
        # and it is the fabric that refuses it.
        dataplane.attach(self.state, wanted, mtu=self.tenant_mtu + ENDPOINT_EXTRA_MTU)
        self.refresh_state()
        self.endpoints = wanted
        return summary

    @property
    def tenant_mtu(self) -> int:
        return self.plan().mtu.tenant

    def refresh_state(self) -> None:
        self.state = lab.LabState.load()

    def matrix(self, size: int = 56) -> dict[tuple[str, str], bool]:
        return dataplane.matrix(self.state, self.endpoints, size=size)

    def converged(self) -> bool:
        """Every same-tenant pair answers and no other pair does."""
        return self.matrix() == dataplane.expected(self.endpoints)

    def wait_converged(self, timeout: float = 60) -> float:
        took = wait_until(self.converged, timeout, "the reachability matrix as designed")
        self.timings["convergence"] = took
        return took

    def edit_config(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the lab stack's config (as an operator edits Pulumi.lab.yaml)."""
        data = yaml.safe_load(self.stack_file.read_text())
        change(data["config"])
        self.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def fabric_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m fabric ARGS`` in the project, as an operator runs it (the stack's secrets
        read by the Pulumi CLI with the project's backend and passphrase)."""
        return subprocess.run(
            [sys.executable, "-m", "fabric", *args],
            cwd=self.project.dir,
            env=self.project.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def failing_checks(self) -> dict[tuple[str, str], str]:
        """``verify --json``: the failing checks, (check, subject) -> reason."""
        done = self.fabric_cli("verify", "--stack", STACK, "--json")
        results = json.loads(done.stdout)
        assert done.returncode == (1 if any(r["status"] == "fail" for r in results) else 0), done.stderr
        return {(r["check"], r["subject"]): r["reason"] for r in results if r["status"] == "fail"}

    def destroy(self) -> None:
        """``pulumi destroy``: every node's fabric files, devices and daemons go."""
        self.project.run("destroy", "-s", STACK, "--yes", "--skip-preview")

    def close(self) -> None:
        try:
            self.project.run("destroy", "-s", STACK, "--yes", "--skip-preview", check=False)
        finally:
            lab.down()
