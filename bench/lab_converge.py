"""Benchmark: the lab from nothing to every same-tenant ping answering.

Three separate figures, as issue 7 asks: the lab's bring-up (six booted nodes answering
SSH, the Debian tree already cached), ``pulumi up --stack lab`` (the real CLI, every
node configured over SSH), and EVPN convergence (from the end of ``up`` until the
reachability matrix is exactly as designed: 3 sites x 2 nodes x 3 tenants). Target:
``pulumi up`` plus convergence under 30 s on the 2-core machine. Needs root; leaves
nothing behind.

    venv/bin/python bench/lab_converge.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.lab.lab_fabric import LabFabric


def run_once() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fabric-lab-bench-") as tmp:
        fabric = LabFabric(Path(tmp))
        try:
            fabric.up()
            fabric.wait_converged(timeout=120)
            return dict(fabric.timings)
        finally:
            fabric.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    runs = [run_once() for _ in range(args.repeat)]
    for key in ("lab up", "pulumi up", "convergence"):
        values = [r[key] for r in runs]
        print(f"{key:12s} median {statistics.median(values):6.1f} s  (min {min(values):.1f}, max {max(values):.1f})")
    total = [r["pulumi up"] + r["convergence"] for r in runs]
    print(f"{'up + conv.':12s} median {statistics.median(total):6.1f} s  (target < 30 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
