"""Benchmark: the lab from nothing to every node answering SSH, and back to nothing.

With the Debian tree cached (built first, untimed, if missing), each round times
``lab.up`` for ``--nodes`` nodes (namespaces, overlays, links, booting the containers,
until every node's sshd answers on its management address and its systemd reports
running) and ``lab.down`` (clean shutdown of every container, then mounts,
namespaces, links, cgroups, directories). After each ``up`` every node is logged in
to over SSH with its pinned host key (untimed), so a fast but broken lab cannot pass.
Needs root.

    venv/bin/python bench/lab_bringup.py [--nodes 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paramiko

from lab import LabState, default_spec, down, ensure_rootfs, host_key_line, operator_private_key, up


def check_ssh(state: LabState) -> None:
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(operator_private_key()))
    for node in state.nodes:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        kind, blob = host_key_line(node.name).split()[:2]
        client.get_host_keys().add(node.ssh, kind, paramiko.PKey.from_type_string(kind, base64.b64decode(blob)))
        client.connect(node.ssh, username="root", pkey=key, look_for_keys=False, allow_agent=False, timeout=10)
        _in, out, _err = client.exec_command("hostname")
        assert out.read().decode().strip() == node.name
        client.close()


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--nodes", type=int, default=6)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    ensure_rootfs()
    spec = default_spec(args.nodes)
    ups, downs, ready_at = [], [], []
    for i in range(args.rounds):
        lines: list[str] = []
        start = time.perf_counter()
        state = up(spec, progress=lines.append)
        ups.append(time.perf_counter() - start)
        ready_at.append(lines)
        try:
            check_ssh(state)
        finally:
            start = time.perf_counter()
            down(state, progress=lambda _line: None)
            downs.append(time.perf_counter() - start)
        print(f"round {i + 1}: up {ups[-1]:.2f} s, down {downs[-1]:.2f} s", flush=True)
    print(f"\n{args.nodes} nodes, {args.rounds} rounds (rootfs cached):")
    print(
        f"  up   (to every node answering SSH, systemd running): median {statistics.median(ups):.2f} s, best {min(ups):.2f} s"
    )
    print(
        f"  down (everything removed):                          median {statistics.median(downs):.2f} s, best {min(downs):.2f} s"
    )
    print("  last round's progress:")
    for line in ready_at[-1]:
        print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
