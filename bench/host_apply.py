"""Benchmark: applying host state over SSH to 10 hosts (10 real sshd instances on loopback).

Each host gets the example hypervisor's ``network`` concern (bonds, member NICs,
management VLAN: the most files of any concern). Measured per host, all hosts in turn:
a no-change apply (one SSH connection: connect, one round trip of hashes, nothing
written) and a one-file change (the bond's LACP rate: one file written, networkd
reloaded). Target (issue 5): under 1 s per host for a no-change apply.

    venv/bin/python bench/host_apply.py [--hosts 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from providers.host import HostConcernProvider
from tests.beds.sshd import Sshd, keygen, stand_ins
from tests.beds.test_host_provider import hypervisor_concerns, props


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key = work / "user_ed25519"
        keygen(key)
        fast = hypervisor_concerns(work, "fast")["network"]
        slow = hypervisor_concerns(work, "slow")["network"]
        servers = []
        for i in range(args.hosts):
            server = Sshd(work / f"sshd{i}", user_key=key)
            stand_ins(server.bin, work / f"calls{i}.log", ("networkctl", "ip"))
            servers.append(server.start())
        try:
            hosts: list[tuple[dict[str, Any], dict[str, Any]]] = [
                (props(s, work / f"root{i}", "network", fast), props(s, work / f"root{i}", "network", slow))
                for i, s in enumerate(servers)
            ]
            provider = HostConcernProvider()
            for first, _ in hosts:
                provider.create(first)
            no_change, one_file = [], []
            for _ in range(args.repeat):
                for first, second in hosts:
                    start = time.perf_counter()
                    outs = provider.update("id", first, first).outs or {}
                    no_change.append(time.perf_counter() - start)
                    assert outs["written"] == [] and outs["ran"] == []
                    start = time.perf_counter()
                    outs = provider.update("id", first, second).outs or {}
                    one_file.append(time.perf_counter() - start)
                    assert outs["written"] == ["/etc/systemd/network/10-bond0.netdev"]
                    provider.update("id", second, first)  # back, for the next round
        finally:
            for server in servers:
                server.stop()
    print(
        f"{args.hosts} hosts over SSH (network concern, {len(fast['files'])} files): no-change apply "
        f"median {statistics.median(no_change) * 1000:.0f} ms per host (max {max(no_change) * 1000:.0f} ms, "
        f"{sum(no_change) / args.repeat:.2f} s for all {args.hosts}); one-file change median "
        f"{statistics.median(one_file) * 1000:.0f} ms per host; one SSH connection per apply"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
