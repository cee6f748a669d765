"""Benchmark: `pulumi preview` of dc1, with the example tenants and with 200 (and 400 VMs), and where the time goes.

Runs the real CLI (from ./scripts/setup.sh) on a copy of the project with a local file
backend, like the engine tests, every device an emulator or sshd on loopback. The Python program's own share is measured inside
its process (a ``sitecustomize`` that the language host's interpreter imports first):
its CPU time, which is its own evaluation (model, plan, render, SDK serialization),
and its wall time from interpreter start to exit, which also includes waiting on the
engine. Wall time less program CPU is the engine and start-up (CLI, language host,
resource registration and diffing).

Target (issue 3): the 200-tenant preview under 60 s on this 2-core machine. Cases: a new
stack, the same stack after ``up``, a router added (every router's config names its new
key), a tenant VM added (its hypervisor's files and actions only) and, on one tenant, a
segment, a published port and a per-segment allow entry added (issue 15).

    venv/bin/python bench/preview.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.engine.project import Project, add_tenant_networks

SITECUSTOMIZE = """
import atexit, json, os, resource, time
_start = time.perf_counter()
def _report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["FABRIC_BENCH_TIMES"], "a") as f:
        f.write(json.dumps({"wall": time.perf_counter() - _start, "cpu": usage.ru_utime + usage.ru_stime}) + "\\n")
atexit.register(_report)
"""


def with_tenants(project: Project, count: int) -> None:
    """Replace the example tenants by ``count`` tenants spanning both datacenters, and dc1's
    VMs by two per tenant, alternating between its two hypervisors."""
    path = project.dir / "Pulumi.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    data["config"]["fabric:tenants"]["value"] = [
        {"name": f"t{i}", "id": i, "egress": {"allow": [{"destination": "192.0.2.0/24", "ports": [443]}]}}
        for i in range(1, count + 1)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _edit_datacenter(
        project,
        lambda dc: dc.update(
            vms=[
                {"name": f"vm{i}", "id": i, "tenant": f"t{(i - 1) // 2 + 1}", "hypervisor": f"dc1-hv{i % 2 + 1}"}
                for i in range(1, 2 * count + 1)
            ]
        ),
    )


def _edit_datacenter(project: Project, edit: Any) -> None:
    path = project.dir / "Pulumi.dc1.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    edit(data["config"]["fabric:datacenter"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _preview(project: Project, times: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        times.write_text("")
        start = time.perf_counter()
        result = project.run("preview", "-s", "dc1")
        wall = time.perf_counter() - start
        program = [json.loads(line) for line in times.read_text().splitlines()]
        # The language host also runs small Python helpers; the program is the longest.
        main = max(program, key=lambda p: p["wall"])
        runs.append({"wall": wall, "program_wall": main["wall"], "program_cpu": main["cpu"]})
    summary = next(line for line in result.stdout.splitlines() if "to create" in line or "unchanged" in line)
    median: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {**median, "resources": summary.strip()}


def add_router(project: Project) -> None:
    """A third router in dc1's stack file (its key exists only after the next ``up``)."""
    _edit_datacenter(
        project,
        lambda dc: dc["routers"].append(
            {"name": "dc1-r3", "id": 3, "hypervisor": "dc1-hv2", "gateway": False, "public_address": "5.254.54.4"}
        ),
    )


def add_vm(project: Project, tenant: str) -> None:
    """One more VM of ``tenant`` on dc1-hv1."""
    _edit_datacenter(
        project,
        lambda dc: dc.setdefault("vms", []).append(
            {"name": "bench-vm", "id": 9999, "tenant": tenant, "hypervisor": "dc1-hv1"}
        ),
    )


def measure(tenants: int | None, repeat: int) -> dict[str, dict[str, Any]]:
    """A new stack's preview, the preview of the same stack after ``up`` (every config
    rendered and diffed), and the preview of adding a router to it (whose new key every
    router's config names)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp))
        if tenants is not None:
            with_tenants(project, tenants)
        hook = Path(tmp) / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
        times = Path(tmp) / "times.jsonl"
        project.env["PYTHONPATH"] = str(hook)
        project.env["FABRIC_BENCH_TIMES"] = str(times)
        project.init("dc1")
        # Every router an API emulator and every hypervisor an sshd on loopback: the
        # example stacks' addresses are never contacted.
        project.emulate_devices("dc1")
        try:
            new = _preview(project, times, repeat)
            project.run("up", "-s", "dc1", "--yes", "--skip-preview")
            existing = _preview(project, times, repeat)
            add_vm(project, "acme" if tenants is None else "t1")
            vm = _preview(project, times, repeat)
            add_tenant_networks(project, "initech" if tenants is None else "t2")
            networks = _preview(project, times, repeat)
            add_router(project)
            added = _preview(project, times, repeat)
        finally:
            project.close()
    return {
        "new stack": new,
        "after up": existing,
        "a VM added": vm,
        "a segment, a published port, a per-segment rule": networks,
        "a router added": added,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    for tenants in (None, 200):
        for case, r in measure(tenants, args.repeat).items():
            engine = r["wall"] - r["program_cpu"]
            print(
                f"dc1 preview, {tenants or 'example'} tenants, {case}: {r['wall']:.2f} s wall (median of "
                f"{args.repeat}); program evaluation {r['program_cpu']:.2f} s CPU "
                f"({100 * r['program_cpu'] / r['wall']:.0f}%; its process lived {r['program_wall']:.2f} s), "
                f"engine and start-up {engine:.2f} s; {r['resources']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
