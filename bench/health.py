"""Benchmark: ``status`` and ``verify`` of two datacenters of four routers each and six nodes.

The routers are VyOS API emulators (no VyOS runs here) holding the rendered configs of
the example stacks grown to four routers per datacenter (two gateways and two more,
``tests/beds/emulated_fabric.py``); the nodes are the lab's six ``frr`` nodes (real
FRR, WireGuard and SSH, after ``pulumi up --stack lab``). One pass reads all fourteen
devices in parallel, as ``python -m fabric status`` does, and checks them against
their plans, as ``verify`` does. Reported: the wall time of a pass (median of
``--repeat``), the time per device (reading one device, on its own thread), and the
CLI end to end (``python -m fabric verify --stack lab``: start-up, the stack's secrets
through the Pulumi CLI, reading, checks). Target: a pass under 5 s. Needs root.

    venv/bin/python bench/health.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from netaddr import IPAddress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab  # noqa: E402
from fabric import stackfile  # noqa: E402
from fabric.devices import read  # noqa: E402
from fabric.health import expect, verify  # noqa: E402
from tests.beds.emulated_fabric import API_KEY, EmulatedFabric  # noqa: E402
from tests.lab.lab_fabric import LabFabric  # noqa: E402

ROUTERS_PER_DC = 4
LAB_NODES = ("a1", "a2", "b1", "b2", "c1", "c2")


def four_router_project(into: Path) -> Path:
    """The example project with routers 3 and 4 (not gateways: a site has one gateway pair) per datacenter."""
    for name in ("Pulumi.yaml", "Pulumi.dc1.yaml", "Pulumi.dc2.yaml"):
        shutil.copy2(ROOT / name, into / name)
    for dc in ("dc1", "dc2"):
        path = into / f"Pulumi.{dc}.yaml"
        data = yaml.safe_load(path.read_text())
        datacenter = data["config"]["fabric:datacenter"]
        hvs = [hv["name"] for hv in datacenter["hypervisors"]]
        first = IPAddress(datacenter["routers"][0]["public_address"])  # router i at the first's + i - 1
        for i in range(len(datacenter["routers"]) + 1, ROUTERS_PER_DC + 1):
            router = {"name": f"{dc}-r{i}", "id": i, "hypervisor": hvs[i % len(hvs)], "gateway": False}
            datacenter["routers"].append({**router, "public_address": str(first + i - 1)})
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return into


def one_pass(
    targets: list[read.Target], creds: read.Credentials, fabrics: list[expect.Fabric]
) -> tuple[float, dict[str, float], int, int]:
    start = time.monotonic()
    facts = read.read_all(targets, creds)
    results = [
        r
        for f in fabrics
        for r in verify.verify(f, {n: x for n, x in facts.items() if n in {d.name for d in f.devices}})
    ]
    wall = time.monotonic() - start
    return wall, {n: f.took_s for n, f in facts.items()}, len(results), len(verify.failed(results))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fabric-health-bench-") as tmp:
        project = four_router_project(Path(tmp))
        routers = EmulatedFabric(project, ["dc1", "dc2"])
        (Path(tmp) / "lab").mkdir()
        labfab = LabFabric(Path(tmp) / "lab")
        try:
            labfab.up()
            labfab.wait_converged(timeout=120)
            plan = labfab.plan()
            lab_fabric = expect.expectations({"lab": plan}, ["lab"])
            lab_fabric = expect.Fabric(
                tuple(d for d in lab_fabric.devices if d.name in LAB_NODES), lab_fabric.names, lab_fabric.unknown
            )
            inventory = stackfile.load_stack(labfab.project.dir, "lab").inventory
            targets = routers.targets() + read.targets(inventory, plan, lab_fabric.devices)
            creds = read.Credentials(API_KEY, lab.operator_private_key())
            runs = [one_pass(targets, creds, [routers.fabric, lab_fabric]) for _ in range(args.repeat)]
            cli = []
            for _ in range(args.repeat):
                start = time.monotonic()
                done = labfab.fabric_cli("verify", "--stack", "lab")
                cli.append(time.monotonic() - start)
                assert done.returncode == 0, done.stdout
        finally:
            routers.close()
            labfab.close()
    walls = [r[0] for r in runs]
    print(
        f"devices: {len(targets)} ({2 * ROUTERS_PER_DC} emulated routers, {len(LAB_NODES)} lab nodes); "
        f"checks per pass: {runs[0][2]}, failing: {max(r[3] for r in runs)}"
    )
    print(
        f"status+verify pass  median {statistics.median(walls):5.2f} s  (min {min(walls):.2f}, max {max(walls):.2f}; target < 5 s)"
    )
    for kind, names in (("router", [t.name for t in targets if t.kind == "router"]), ("node", list(LAB_NODES))):
        per = [r[1][n] for r in runs for n in names]
        print(f"per {kind:6s}          median {statistics.median(per):5.2f} s  (max {max(per):.2f})")
    print(f"CLI verify --stack lab median {statistics.median(cli):5.2f} s  (min {min(cli):.2f}, max {max(cli):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
