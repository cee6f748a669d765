"""``fabric:verify: {after_up: true}``: ``pulumi up`` checks the fabric once its devices are applied.

One resource per stack, ``<root>-verify``, after every router and host resource of the
stack. Its create and update run ``python -m fabric verify``'s checks on this stack's
devices (:mod:`fabric.health`), again and again until every one passes or ``deadline``
seconds have gone; then the run fails, listing the failing checks and why. It runs
when it is new and whenever what the stack applies changes (``applied``: a digest of
every device's rendered config and every member's public key), so an ``up`` that
changes nothing checks nothing. Its delete does nothing. Only the stack's own devices
are read; the peer stacks' plans (their files in the project) say which of their
members carry which segments. The API key and the SSH key arrive as Pulumi secrets,
as the appliers' do, and are never in its outputs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from fabric import loader, stackfile
from fabric.devices import read
from fabric.errors import ConfigError
from fabric.health import expect
from fabric.health.verify import Result, failed, verify
from providers import types

#: Seconds between two rounds of checks.
PAUSE_S = 2.0
#: Failing checks named in the error (the rest are counted).
SHOWN = 20


def converge(props: Mapping[str, Any]) -> list[Result]:
    """The checks, repeated until they pass or the deadline passes; the last results."""
    fabric = expect.from_data(props["expectations"])
    targets = [read.Target(t["name"], t["kind"], t["props"]) for t in props["targets"]]
    creds = read.Credentials(props.get("api_key"), props.get("ssh_private_key"))
    deadline = time.monotonic() + float(props["deadline"])
    while True:
        results = verify(fabric, read.read_all(targets, creds), handshake_within=int(props["handshake_within"]))
        if not failed(results) or time.monotonic() >= deadline:
            return results
        time.sleep(PAUSE_S)


def outcome(props: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs after a passing round; a failing one raises, naming the checks."""
    start = time.monotonic()
    results = converge(props)
    bad = failed(results)
    if bad:
        lines = [f"  {r.check} {r.subject}: {r.reason}" for r in bad[:SHOWN]]
        more = [f"  ... and {len(bad) - SHOWN} more"] if len(bad) > SHOWN else []
        raise RuntimeError(
            f"stack {props['stack']}: the fabric did not converge within {int(props['deadline'])} s: "
            f"{len(bad)} of {len(results)} checks fail (python -m fabric verify --stack {props['stack']} "
            "shows them all):\n" + "\n".join(lines + more)
        )
    took = round(time.monotonic() - start, 1)
    return {**props, "checks": len(results), "converged_s": took}


class VerifyProvider(ResourceProvider):
    """Holds no state; the Pulumi state refers to it by module path (keep ``fabric.components.verify``)."""

    INPUTS = ("stack", "targets", "expectations", "applied", "deadline", "handshake_within")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in self.INPUTS), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"verify-{props['stack']}", outs=outcome(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=outcome(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Checking leaves nothing behind."""


class FabricVerify(Resource, module=types.MODULE, name="FabricVerify"):
    """The stack's devices checked against the plan after they are applied."""

    def __init__(
        self,
        name: str,
        *,
        stack: str,
        targets: Sequence[Mapping[str, Any]],
        expectations: Mapping[str, Any],
        applied: pulumi.Input[str],
        settings: Any,
        api_key: pulumi.Input[str] | None,
        ssh_private_key: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            VerifyProvider(),
            name,
            {
                "stack": stack,
                "targets": targets,
                "expectations": expectations,
                "applied": applied,
                "deadline": settings.deadline,
                "handshake_within": settings.handshake_within,
                "api_key": None if api_key is None else pulumi.Output.secret(api_key),
                "ssh_private_key": None if ssh_private_key is None else pulumi.Output.secret(ssh_private_key),
                "checks": None,
                "converged_s": None,
            },
            types.options(opts, secret_outputs=["api_key", "ssh_private_key"]),
        )


def peer_plans(stack: loader.Validated, project: Path) -> dict[str, Any]:
    """The peer stacks' plans from their files in the project (a peer without one is unknown)."""
    plans = {}
    for peer in stack.inventory.peer_stacks:
        if (project / f"Pulumi.{peer}.yaml").exists():
            try:
                plans[peer] = stackfile.load_stack(project, peer).plan
            except ConfigError as exc:
                pulumi.warn(f"verify: peer stack {peer}'s file does not validate, its members are unknown: {exc}")
    return plans


def digest(texts: Any) -> str:
    return hashlib.sha256(json.dumps(texts, sort_keys=True, default=str).encode()).hexdigest()


def verify_after_up(
    name: str,
    stack_name: str,
    stack: loader.Validated,
    devices: Sequence[pulumi.Resource],
    rendered: Any,
    members: pulumi.Output[Any],
    api_key: pulumi.Output[str] | None,
    ssh_private_key: pulumi.Output[str] | None,
    parent: pulumi.Resource,
) -> FabricVerify | None:
    """The post-``up`` check of the stack (None when it has no device to read)."""
    plans = {stack_name: stack.plan, **peer_plans(stack, Path.cwd())}
    fabric = expect.expectations(plans, [stack_name])
    targets = read.targets(stack.inventory, stack.plan, fabric.devices)
    if not targets:
        return None
    static = digest(rendered)
    return FabricVerify(
        name,
        stack=stack_name,
        targets=[{"name": t.name, "kind": t.kind, "props": dict(t.props)} for t in targets],
        expectations=expect.to_data(fabric),
        applied=pulumi.Output.all(static, members).apply(digest),
        settings=stack.inventory.verify,
        api_key=api_key,
        ssh_private_key=ssh_private_key,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(devices)),
    )
