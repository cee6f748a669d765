"""Benchmark: validate + plan + render a large fabric, and how time grows with tenants.

The fabric: 2 datacenters x 16 hypervisors (every one in the mesh, a VTEP) x 4 routers
(one reflector, a gateway pair), 3 cloud sites of 2 nodes each (as peer-stack members),
N tenants spanning both datacenters and 4 N tenant VMs spread over the hypervisors
(2,000 with 500 tenants); tenants 1-240 also have two further segments, a published port
and an allow entry for one segment (issue 15). Each datacenter is one stack, planned with
the other as its peer, as ``pulumi up`` of each stack does.

Targets (issues 2 and 14): 500 tenants (and 2,000 VMs) in under 2 s, peak memory under
500 MB, 1000 tenants at most 2.2x the time of 500. Each size runs in a fresh process
(clean peak RSS); the best of ``--repeat`` runs is reported. Schema validation of every
rendered line is timed separately (``validate``), since ``plan``/``render`` never need it.
Also reported: WireGuard peers per router and per hypervisor, and a hypervisor's FRR
config and tenant segments carried (the fewest and the most: a host that serves DHCP
carries every segment of its datacenter).

    venv/bin/python bench/plan_render.py [--tenants 500 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fabric import deferred, loader, model, topology
from fabric.render.linux import render_hypervisor
from fabric.render.vyos import render_routers
from fabric.vyos_schema import VyosSchema

#: Tenants 1-240 have two further segments and a published port (the segment pool holds 16
#: blocks per tenant id up to 255 at /24) and an allow entry for one of those segments.
SEGMENTED = 240
HYPERVISORS = 16
ROUTERS = 4
CLOUDS = ("aws", "azure", "gcp")


def datacenter(site: int) -> dict[str, Any]:
    nics = [{"name": f"enp1s0f{i}", "model": "intel-x710", "vfs": 7} for i in range(4)] + [
        {"name": f"enp2s0f{i}", "model": "mellanox-cx4", "vfs": 7} for i in range(2)
    ]
    bonds = [
        {"name": "bond0", "interfaces": [f"enp1s0f{i}" for i in range(4)]},
        {"name": "bond1", "interfaces": ["enp2s0f0", "enp2s0f1"], "mtu": 9000},
    ]
    return {
        "name": f"dc{site}",
        "public_prefixes": [f"5.254.{50 + site}.0/24"],
        "hypervisors": [
            {
                "name": f"dc{site}-hv{h}",
                "id": h,
                "ssh": {"address": f"5.254.{50 + site}.{100 + h}", "host_key": "SHA256:" + "A" * 43},
                "nics": nics,
                "bonds": bonds,
            }
            for h in range(1, HYPERVISORS + 1)
        ],
        "routers": [
            {
                "name": f"dc{site}-r{r}",
                "id": r,
                "hypervisor": f"dc{site}-hv{r}",
                "route_reflector": r == 1,
                "gateway": r <= 2,
                "public_address": f"5.254.{50 + site}.{r + 1}",
            }
            for r in range(1, ROUTERS + 1)
        ],
    }


def vms(site: int, tenants: int) -> list[dict[str, Any]]:
    """Half of the 4 N VMs in each datacenter: VM ``i`` on hypervisor ``i mod 16``, of tenant ``7 i mod N``."""
    return [
        {
            "name": f"vm{i}",
            "id": i,
            "tenant": f"t{(7 * i) % tenants + 1}",
            "hypervisor": f"dc{site}-hv{i % HYPERVISORS + 1}",
        }
        for i in range(1, 2 * tenants + 1)
    ]


def raw_config(site: int, tenants: int) -> dict[str, Any]:
    return {
        "address_plan": {
            "tenant_access": "100.64.0.0/14",
            "tenant_networks": "100.68.0.0/14",
            "tenant_services": "100.72.0.0/14",
            "tenant_segments": "100.96.0.0/12",
        },
        "sites": [{"name": "dc1", "id": 1}, {"name": "dc2", "id": 2}]
        + [{"name": c, "id": 3 + i, "kind": "cloud"} for i, c in enumerate(CLOUDS)],
        "tenants": [
            {
                "name": f"t{t}",
                "id": t,
                "egress": {
                    "allow": [
                        {"destination": "192.0.2.0/24", "ports": [443]},
                        *(
                            [{"destination": "198.51.100.0/24", "ports": [5432], "source": "db"}]
                            if t <= SEGMENTED
                            else []
                        ),
                    ]
                }
                if t % 2
                else {"allow_all": True},
                **(
                    {
                        "segments": [{"name": "db", "id": 1}, {"name": "web", "id": 2}],
                        "publish": [
                            {
                                "id": 1,
                                "datacenter": "dc1",
                                "public_address": "5.254.51.200",
                                "port": 8000 + t,
                                "to": f"100.68.{t}.100",
                                "to_port": 443,
                            }
                        ],
                    }
                    if t <= SEGMENTED
                    else {}
                ),
            }
            for t in range(1, tenants + 1)
        ],
        "datacenter": {**datacenter(site), "vms": vms(site, tenants)},
        "vyos_api_key": model.Secret("fabric:vyos_api_key"),
    }


def cloud_members() -> list[topology.MeshMember]:
    return [
        topology.MeshMember(
            name=f"{c}-n{n}",
            site=c,
            site_id=3 + i,
            node_id=n,
            endpoint=f"198.51.100.{10 * i + n}",
            port=51820,
            public_key=deferred.public_key(f"{c}-n{n}").sample,
            mesh_address=f"172.27.{3 + i}.{n}",
        )
        for i, c in enumerate(CLOUDS)
        for n in (1, 2)
    ]


def selective_peers(plans: list[topology.Plan]) -> list[int]:
    """The fewest and the most WireGuard peers a hypervisor would have if it peered only with
    what it needs (its site's routers, and the other VTEPs it shares a tenant with: other
    hypervisors, the other site's gateway routers), the alternative to the full mesh."""
    vteps = {h.spec.name: {t.tenant.name for t in h.vtep.tenants} for p in plans for h in p.hypervisors if h.vtep}
    gateways = {r.name: {c.tenant.name for c in r.tenants} for p in plans for r in p.routers}
    counts = []
    for p in plans:
        own = {r.name for r in p.routers}
        for h in p.hypervisors:
            mine = vteps.get(h.spec.name, set())
            shared = {n for n, ts in (vteps | gateways).items() if n != h.spec.name and ts & mine}
            counts.append(len(own | shared))
    return [min(counts), max(counts)]


def run_once(tenants: int, validate: bool) -> dict[str, Any]:
    """One measurement, in this process: both datacenter stacks, validate -> plan -> render."""
    start = time.perf_counter()
    invs = {s: loader.load(raw_config(s, tenants)) for s in (1, 2)}
    members = {s: topology.stand_ins(topology.local_members(inv)) for s, inv in invs.items()}
    lines = files = 0
    plans = []
    frr: list[tuple[int, int]] = []
    for s, inv in invs.items():
        remote = [*members[3 - s], *cloud_members()]
        plan = topology.build(inv, remote)
        plans.append(plan)
        for rendered in render_routers(plan):
            lines += len(rendered.commands())
        for hv in plan.hypervisors:
            state = render_hypervisor(plan, hv)
            files += len(state.files())
            frr.append((len(state.file("/etc/frr/frr.conf").content), len(hv.vtep.tenants) if hv.vtep else 0))
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "tenants": tenants,
        "vms": sum(len(inv.dc.vms) for inv in invs.values()),
        "seconds": elapsed,
        "vyos_lines": lines,
        "host_files": files,
        "router_peers": sorted({len(r.wireguard_peers) for p in plans for r in p.routers}),
        "hypervisor_peers": sorted({len(h.vtep.wireguard_peers) for p in plans for h in p.hypervisors if h.vtep}),
        "frr_conf_bytes": max(size for size, _ in frr),
        "carried": [min(n for _, n in frr), max(n for _, n in frr)],
        "selective_peers": selective_peers(plans),
    }
    if validate:
        start = time.perf_counter()
        bad = 0
        for plan in plans:
            for rendered in render_routers(plan):
                schema = VyosSchema.load(rendered.vyos_version)
                bad += len(schema.check_all(c.tokens() for c in rendered.commands()))
        result["validate_seconds"] = time.perf_counter() - start
        result["invalid_lines"] = bad
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenants", type=int, nargs="+", default=[500, 1000])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_once(args.one, args.validate)))
        return 0
    results = {}
    for n in args.tenants:
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--one", str(n), *(["--validate"] if i == 0 else [])],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for i in range(args.repeat)
        ]
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        best.update({k: runs[0][k] for k in ("validate_seconds", "invalid_lines")})
        results[n] = best
        print(
            f"{n:5d} tenants, {best['vms']} VMs: plan+render {best['seconds']:.3f} s (best of {args.repeat}), "
            f"{best['vyos_lines']} VyOS lines, {best['host_files']} host files, "
            f"peak RSS {best['peak_rss_mb']:.0f} MB; schema check {best['validate_seconds']:.2f} s, "
            f"{best['invalid_lines']} invalid lines\n"
            f"       WireGuard peers per router {best['router_peers']}, per hypervisor {best['hypervisor_peers']} "
            f"(peering only where needed: {best['selective_peers'][0]}-{best['selective_peers'][1]}); "
            f"a hypervisor's frr.conf {best['frr_conf_bytes']} bytes; tenant segments carried per hypervisor "
            f"{best['carried'][0]}-{best['carried'][1]}"
        )
    if len(args.tenants) >= 2:
        a, b = args.tenants[0], args.tenants[1]
        print(f"growth: {b} tenants take {results[b]['seconds'] / results[a]['seconds']:.2f}x the time of {a}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
