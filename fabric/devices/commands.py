"""``python -m fabric status`` and ``python -m fabric verify``: read the fabric, hold it to the plan.

Both read the same thing (:meth:`Fabric.read`): every router (its API's ``/show``) and
Linux VTEP (SSH) of the stacks named, in parallel. The credentials are the stack's own
secrets, which the Pulumi CLI decrypts (``pulumi config --show-secrets --json``), or
``FABRIC_VYOS_API_KEY`` and ``FABRIC_SSH_PRIVATE_KEY`` from the environment (for CI
without the stack's passphrase); without an SSH key, an SSH agent is used. Nothing is
written anywhere, and no secret is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from fabric import stackfile
from fabric.devices import read
from fabric.errors import AccessError, ConfigError
from fabric.health import expect, report
from fabric.health.facts import DeviceFacts
from fabric.health.verify import HANDSHAKE_WITHIN_S, Result, failed, until_passing, verify

API_KEY_ENV = "FABRIC_VYOS_API_KEY"
SSH_KEY_ENV = "FABRIC_SSH_PRIVATE_KEY"


@dataclass(frozen=True)
class Reading:
    """One pass over the fabric: what was read, and how long it took."""

    facts: dict[str, DeviceFacts]
    took_s: float


@dataclass(frozen=True)
class Fabric:
    """What ``status`` and ``verify`` read: the expectations, and per stack its devices and the
    credentials to reach them (read once per run, also when ``--watch`` or ``--wait`` repeat)."""

    expected: expect.Fabric
    stacks: dict[str, tuple[list[read.Target], read.Credentials]]
    #: How recent a WireGuard handshake must be: the most any of the stacks allows.
    handshake_within: int

    def read(self, timeout: float) -> Reading:
        """Every device of every stack at once."""
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(self.stacks)) as pool:
            done = [pool.submit(read.read_all, targets, creds, timeout) for targets, creds in self.stacks.values()]
            facts = {name: f for future in done for name, f in future.result().items()}
        return Reading(facts, time.monotonic() - start)


def fabric_of(project: Path, stacks: Sequence[str], named: bool = True) -> Fabric:
    """The stacks' expectations (their peer stacks' plans included, where their files are), how
    to reach each device and with what. A stack without a device to read (only cloud nodes) is
    an error when ``named``, else passed over; none at all is always one."""
    loaded = {s: stackfile.load_stack(project, s) for s in stacks}
    peers = {p for s in loaded.values() for p in s.inventory.peer_stacks if p not in loaded}
    for peer in sorted(peers):
        if (project / f"Pulumi.{peer}.yaml").exists():
            loaded[peer] = stackfile.load_stack(project, peer)
    expected = expect.expectations({name: s.plan for name, s in loaded.items()}, stacks)
    per_stack = {}
    for stack in stacks:
        devices = [d for d in expected.devices if d.stack == stack]
        targets = read.targets(loaded[stack].inventory, loaded[stack].plan, devices)
        if not targets:
            if named:
                raise AccessError(f"stack {stack} has no router or host to read")
            continue
        need_api_key = any(t.kind == expect.ROUTER for t in targets)
        per_stack[stack] = (targets, credentials(project, stack, need_api_key))
    if not per_stack:
        raise AccessError(f"no router or host to read in stacks {', '.join(stacks)}")
    within = max(loaded[s].inventory.verify.handshake_within for s in per_stack)
    return Fabric(expected, per_stack, within)


def credentials(project: Path, stack: str, need_api_key: bool) -> read.Credentials:
    """The environment's secrets, else the stack's (decrypted by the Pulumi CLI). Without an API
    key where routers need one, an error; without an SSH key, an SSH agent."""
    api_key, ssh_key = os.environ.get(API_KEY_ENV), os.environ.get(SSH_KEY_ENV)
    if ssh_key and (api_key or not need_api_key):
        return read.Credentials(api_key, ssh_key)
    values = _stack_secrets(project, stack)
    if values is None and need_api_key and not api_key:
        raise AccessError(
            f"stack {stack}: its secrets cannot be read (no pulumi CLI, or `pulumi config` failed: see above); "
            f"set {API_KEY_ENV} (and {SSH_KEY_ENV}, else an SSH agent is used)"
        )
    found = values or {}

    def secret(key: str) -> str | None:
        entry = found.get(f"fabric:{key}")
        return str(entry["value"]) if isinstance(entry, dict) and entry.get("value") is not None else None

    api = api_key or secret("vyos_api_key")
    if need_api_key and not api:
        raise AccessError(f"stack {stack}: fabric:vyos_api_key is not set (nor {API_KEY_ENV})")
    return read.Credentials(api, ssh_key or secret("ssh_private_key"))


def _stack_secrets(project: Path, stack: str) -> dict[str, Any] | None:
    """``pulumi config --show-secrets --json`` of the stack, or None (said on stderr) when it fails."""
    done = stackfile.run_pulumi(project, "config", "--show-secrets", "--json", "--stack", stack)
    if done is None:
        print(f"stack {stack}: no pulumi CLI to read its secrets (./scripts/setup.sh installs one)", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(
            f"stack {stack}: `pulumi config` could not read its secrets: {done.stderr.strip()[-400:]}", file=sys.stderr
        )
        return None
    try:
        values = json.loads(done.stdout)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, dict):
        print(f"stack {stack}: `pulumi config --json` did not answer a JSON object", file=sys.stderr)
        return None
    return values


def _fabric(args: argparse.Namespace) -> tuple[list[str], Fabric]:
    """The stacks named, else every stack with devices, and what to read of them."""
    stacks = list(args.stack or stackfile.fabric_stacks(args.project))
    if not stacks:
        raise ConfigError([f"{args.project}: no Pulumi.<stack>.yaml with a fabric:datacenter or fabric:nodes"])
    return stacks, fabric_of(args.project, stacks, named=bool(args.stack))


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Every device's sessions, tunnels, VNIs, VRRP and VRF routes; 0 when every device answered."""
    stacks, fabric = _fabric(args)
    try:
        while True:
            reading = fabric.read(args.timeout)
            if args.json:
                out = {"stacks": stacks, "took_s": round(reading.took_s, 3)}
                out["devices"] = {n: f.to_json() for n, f in reading.facts.items()}
                print(json.dumps(out, indent=1))
            else:
                if args.watch:
                    console.clear()
                console.print(report.status_tables(fabric.expected, reading.facts, fabric.handshake_within))
                console.print(report.status_summary(reading.facts, reading.took_s, fabric.handshake_within))
            if not args.watch:
                return 0 if all(f.reached for f in reading.facts.values()) else 1
            time.sleep(args.watch)
    except KeyboardInterrupt:  # how a watch ends
        return 0


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    """The plan's expectations against the devices: 0 when every check passes."""
    stacks, fabric = _fabric(args)
    start = time.monotonic()
    within = args.handshake_within or fabric.handshake_within

    def check() -> list[Result]:
        return verify(fabric.expected, fabric.read(args.timeout).facts, handshake_within=within)

    results = until_passing(check, args.wait)
    took = time.monotonic() - start
    if args.junit:
        args.junit.write_bytes(report.junit(results, "fabric-" + "-".join(stacks), took))
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=1))
    else:
        if args.all:
            console.print(report.verify_table(results))
        else:
            console.print(report.checks_table(results))
            if failed(results) or any(r.status == "skip" for r in results):
                console.print(report.verify_table([r for r in results if r.status != "pass"], "what failed, and why"))
        console.print(report.verify_summary(results, took))
    return 1 if failed(results) else 0


def add_parsers(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack", action="append", help="stack to read; repeat for several (default: every fabric stack)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--timeout",
        type=float,
        default=read.TIMEOUT_S,
        help=f"seconds per device to connect and answer (default {read.TIMEOUT_S:g})",
    )
    s = sub.add_parser(
        "status", parents=[common], help="read sessions, tunnels, VTEPs, VNIs, VRRP, VRF routes from every device"
    )
    s.add_argument("--watch", type=float, metavar="SECONDS", help="read again every SECONDS until interrupted")
    s.set_defaults(func=cmd_status)
    v = sub.add_parser(
        "verify", parents=[common], help="check every device against the plan; non-zero when a check fails"
    )
    v.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    v.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="repeat until every check passes, at most this long"
    )
    v.add_argument(
        "--all",
        action="store_true",
        help="list every check of every subject (default: one line per check, then what failed or was skipped)",
    )
    v.add_argument(
        "--handshake-within",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how recent a WireGuard handshake must be (default: the stacks' fabric:verify.handshake_within, "
        f"{HANDSHAKE_WITHIN_S} unless set)",
    )
    v.set_defaults(func=cmd_verify)
