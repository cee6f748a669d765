"""Benchmark: plan a stack with all three clouds enabled and render each node's user-data.

The dc1 example stack with N tenants, every one spanning dc1, dc2 and the three cloud
sites. Reports the time to validate, plan and render (routers, cloud-init user-data,
node files), and each user-data's size raw and packed (gzip + base64), against the clouds'
limits (AWS 16 KiB, Azure 64 KiB base64-encoded, GCP 256 KiB per metadata value),
since user-data grows with the tenants a node carries.

    venv/bin/python bench/cloud_burst.py [--tenants 10 100 250] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fabric import loader, topology
from fabric.cloud_limits import CLOUDS
from fabric.render.cloudinit import pack, render_user_data
from fabric.render.linux.node import render_node
from fabric.render.vyos import render_routers
from fabric.stackfile import load_inventory, raw_config
from tests.conftest import ALL_CLOUDS, ROOT, with_tenants


def config(tenants: int) -> dict[str, Any]:
    raw = raw_config(ROOT, "dc1")
    raw["clouds"] = ALL_CLOUDS
    with_tenants(
        raw,
        [
            {
                "name": f"t{t}",
                "id": t,
                "sites": ["dc1", "dc2", "aws", "azure", "gcp"],
                "egress": {"allow_all": t % 2 == 0},
            }
            for t in range(1, tenants + 1)
        ],
    )
    raw["datacenter"] = {**raw["datacenter"], "nat_addresses": {}}
    return raw


def run_once(tenants: int) -> dict[str, Any]:
    dc2 = load_inventory(ROOT, "dc2")
    remote = topology.stand_ins(topology.local_members(dc2))
    start = time.perf_counter()
    inv = loader.load(config(tenants))
    plan = topology.build(inv, remote)
    lines = sum(len(r.commands()) for r in render_routers(plan))
    sizes = {}
    for cloud in plan.clouds:
        text = render_user_data(plan, cloud)
        render_node(plan, cloud.node)
        sizes[cloud.provider] = (len(text), len(pack(text)))
    return {"seconds": time.perf_counter() - start, "vyos_lines": lines, "sizes": sizes}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenants", type=int, nargs="+", default=[10, 100, 250])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    for n in args.tenants:
        best = min((run_once(n) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        sizes = ", ".join(
            f"{c} {raw / 1024:.1f} KiB, packed {packed / 1024:.1f} KiB (limit {CLOUDS[c].user_data_bytes // 1024})"
            for c, (raw, packed) in best["sizes"].items()
        )
        print(
            f"{n:4d} tenants: plan + render {best['seconds']:.3f} s (best of {args.repeat}), {best['vyos_lines']} router lines; user-data {sizes}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
