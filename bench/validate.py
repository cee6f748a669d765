"""Benchmark: what every ``validate`` and every ``pulumi preview``/``up`` now does before
registering a resource: the one loader, stage by stage.

The fabric is ``bench/plan_render.py``'s (2 datacenters x 16 hypervisors x 4 routers,
3 cloud sites of 2 nodes as peer members, N tenants spanning both datacenters); the
datacenter stack is validated with its peer stack's and the clouds' members as
exports, as the program reads them. Stages: ``load`` (shapes, types and the config
rules), ``peers`` (each exported member checked, the rules across stacks), ``rendered``
(the plan, every VyOS line against its version's schema, every user-data size).

    venv/bin/python bench/validate.py [--tenants 10 200 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_render import cloud_members, raw_config

from fabric import checks, loader, topology


def stages(tenants: int) -> dict[str, float]:
    raw = raw_config(1, tenants)
    peer = loader.load(raw_config(2, tenants))
    exports = {
        "dc2": [loader.member_export(m) for m in (*topology.stand_ins(topology.local_members(peer)), *cloud_members())]
    }
    raw["peer_stacks"] = ["dc2"]
    times: dict[str, float] = {}
    start = time.perf_counter()
    inv = loader.load(raw)
    times["load"] = time.perf_counter() - start
    start = time.perf_counter()
    remote, problems = loader.members_of(exports, inv.peer_stacks)
    problems += checks.peer_problems(inv, remote)
    times["peers"] = time.perf_counter() - start
    assert not problems, problems
    start = time.perf_counter()
    plan = topology.build(inv, [m for ms in remote.values() for m in ms])
    assert not loader.rendered_problems(plan)
    times["rendered"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenants", type=int, nargs="+", default=[10, 200, 500])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    for n in args.tenants:
        best = min((stages(n) for _ in range(args.repeat)), key=lambda t: t["total"])
        print(
            f"{n:4d} tenants: load {best['load']:.3f} s, peers {best['peers']:.3f} s, "
            f"rendered {best['rendered']:.3f} s, total {best['total']:.3f} s (best of {args.repeat})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
