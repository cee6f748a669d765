"""``python -m lab up|down|status|rootfs|keys|exec``: the lab's nodes from the command line.

``up`` reads the nodes from ``--spec FILE`` (JSON or YAML, see ``lab.spec``; a
``Pulumi.<stack>.yaml`` with ``fabric:nodes`` works) or makes ``--nodes N`` default
ones, and prints each node's SSH address and pinned host key. The state stays in
``/run/fabric-lab/state.json`` (``FABRIC_LAB_RUN`` moves the run directory) until
``down``. Exit codes as ``python -m fabric``'s: 0 fine, 1 failed (``status``: a node
does not answer, or no lab is up), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from lab import keys, nodes, rootfs
from lab.spec import DEFAULT_UNDERLAY_MTU, default_spec, load_spec
from lab.state import LabState, state_file
from lab.system import LabError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab", description="The fabric lab's nodes (systemd-nspawn).")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring the nodes up and wait until each answers SSH")
    up.add_argument("--spec", type=Path, help="JSON or YAML file with the nodes (default: --nodes default ones)")
    up.add_argument("--nodes", type=int, default=3, help="without --spec: this many nodes n1... (default 3)")
    up.add_argument("--mtu", type=int, default=None, help=f"underlay MTU (default {DEFAULT_UNDERLAY_MTU})")
    up.add_argument("--timeout", type=float, default=nodes.READY_TIMEOUT_S, help="seconds to wait for SSH")
    up.add_argument("--keep-on-failure", action="store_true", help="leave a failed lab for inspection")
    down = sub.add_parser("down", help="remove every namespace, container, mount and directory of the lab")
    down.add_argument("--state", type=Path, default=None, help="state file (default: the run directory's)")
    status = sub.add_parser("status", help="the nodes and whether they answer")
    status.add_argument("--json", action="store_true")
    sub.add_parser("rootfs", help="build the cached root file system (if needed) and print its path").add_argument(
        "--prune", action="store_true", help="remove cached trees of other recipes"
    )
    k = sub.add_parser("keys", help="host key lines to pin, and the operator key")
    k.add_argument("node", nargs="*", help="node names (default: the running lab's)")
    k.add_argument("--private", action="store_true", help="print the operator's private key instead")
    m = sub.add_parser("matrix", help="attach tenant endpoints and print who reaches whom (after pulumi up)")
    m.add_argument("--project", type=Path, default=Path("."), help="project directory (holds Pulumi.yaml)")
    m.add_argument("--stack", default="lab", help="the stack whose plan places the endpoints (default: lab)")
    ex = sub.add_parser("exec", help="run a command in a node")
    ex.add_argument("node")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        spec = load_spec(args.spec) if args.spec else default_spec(args.nodes)
        if args.mtu is not None:
            spec = type(spec)(nodes=spec.nodes, underlay_mtu=args.mtu)
        state = nodes.up(spec, timeout=args.timeout, keep_on_failure=args.keep_on_failure)
        for n in state.nodes:
            print(f"{n.name}\tssh root@{n.ssh}\tunderlay {n.underlay}\t{keys.host_key_line(n.name)}")
        print(f"state: {state.path}   operator key: python -m lab keys --private")
        return 0
    if args.command == "down":
        nodes.down(state_path=args.state)
        return 0
    if args.command == "status":
        if not state_file().exists():
            print("no lab is up")
            return 1
        result = nodes.status(LabState.load())
        if args.json:
            print(json.dumps([asdict(s) for s in result], indent=1))
        else:
            for s in result:
                up = "running" if s.container else "stopped"
                print(f"{s.name}\t{up}\tssh {s.ssh_address} {'answers' if s.ssh else 'silent'}\tunderlay {s.underlay}")
        return 0 if all(s.container and s.ssh for s in result) else 1
    if args.command == "rootfs":
        path = rootfs.ensure_rootfs()
        if args.prune:
            keep = Path(LabState.load().rootfs) if state_file().exists() else None
            rootfs.prune(keep=keep)
        print(path)
        return 0
    if args.command == "keys":
        if args.private:
            print(keys.operator_private_key(), end="")
            return 0
        names = args.node or [n.name for n in LabState.load().nodes]
        for name in names:
            print(f"{name}\t{keys.host_key_line(name)}")
        print(f"operator\t{keys.operator_public_key_line()}")
        return 0
    if args.command == "matrix":
        return show_matrix(args.project, args.stack)
    if args.command == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not argv:
            print("lab exec: a command is needed", file=sys.stderr)
            return 2
        done = nodes.exec_in(LabState.load(), args.node, argv)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode
    raise AssertionError(args.command)


def show_matrix(project: Path, stack: str) -> int:
    """Endpoints for every (node, tenant) of the stack's plan, then the ping matrix as a table:
    0 when it is exactly as designed (same tenant reaches, other tenants do not)."""
    from rich.console import Console
    from rich.table import Table

    from fabric import stackfile
    from lab import dataplane

    plan = stackfile.load_stack(project, stack).plan
    eps = dataplane.endpoints(plan)
    state = LabState.load()
    dataplane.attach(state, eps, mtu=plan.mtu.tenant)
    state = LabState.load()
    got = dataplane.matrix(state, eps)
    want = dataplane.expected(eps)
    table = Table(title=f"stack {stack}: who reaches whom (ping, tenant MTU {plan.mtu.tenant})")
    table.add_column("from \\ to")
    for e in eps:
        table.add_column(e.label, justify="center")
    for src in eps:
        cells = []
        for dst in eps:
            if src == dst:
                cells.append("")
                continue
            key = (src.label, dst.label)
            mark = "[green]✓[/]" if got[key] else "[dim]·[/]"
            cells.append(mark if got[key] == want[key] else f"[red bold]{'✓' if got[key] else '✗'}![/]")
        table.add_row(src.label, *cells)
    console = Console()
    console.print(table)
    wrong = [k for k in want if got[k] != want[k]]
    console.print(
        "[green]as designed[/]: every endpoint reaches its own tenant's and no other"
        if not wrong
        else f"[red]{len(wrong)} pairs differ from the design[/] (marked !)"
    )
    return 0 if not wrong else 1
