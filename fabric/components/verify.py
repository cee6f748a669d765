"""``fabric:verify: {after_up: true}``: ``pulumi up`` checks the fabric once its devices are applied.

One resource per stack, ``<root>-verify``, after every router and host resource of the
stack. Its create and update run ``python -m fabric verify``'s checks on this stack's
devices (:mod:`fabric.health`), again and again until every one passes or ``deadline``
seconds have gone; then the run fails, listing the failing checks and why. It runs
when it is new and whenever what the stack applies changes (``applied``: a digest of
every device's rendered config and every member's public key), so an ``up`` that
changes nothing checks nothing. Its delete does nothing. It holds the stack to what its
own apply makes true: sessions, tunnels and VTEPs among the stack's own members (a peer
stack's members learn of a change only at that stack's next ``up``, so they are neither
required nor refused here; ``python -m fabric verify --stack dc1 --stack dc2`` checks the
whole). The API key and the SSH key arrive as Pulumi secrets, as the appliers' do, and
never leave the provider: its outputs hold neither.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from fabric import loader
from fabric.devices import read
from fabric.health import expect
from fabric.health.report import clean
from fabric.health.verify import failed, until_passing, verify
from providers import types

#: Failing checks named in the error (the rest are counted).
SHOWN = 20
#: Inputs that only reach the provider.
SECRETS = ("api_key", "ssh_private_key")


def outcome(props: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs after a passing round; a failing one raises, naming the checks."""
    fabric = expect.from_data(props["expectations"])
    targets = [read.Target(t["name"], t["kind"], t["props"]) for t in props["targets"]]
    creds = read.Credentials(props.get("api_key"), props.get("ssh_private_key"))
    within = int(props["handshake_within"])
    start = time.monotonic()
    results = until_passing(
        lambda: verify(fabric, read.read_all(targets, creds), handshake_within=within), float(props["deadline"])
    )
    bad = failed(results)
    if bad:
        lines = [f"  {r.check} {clean(r.subject)}: {clean(r.reason)}" for r in bad[:SHOWN]]
        more = [f"  ... and {len(bad) - SHOWN} more"] if len(bad) > SHOWN else []
        raise RuntimeError(
            f"stack {props['stack']}: the fabric did not converge within {int(props['deadline'])} s: "
            f"{len(bad)} of {len(results)} checks fail (python -m fabric verify --stack {props['stack']} "
            "shows them all):\n" + "\n".join(lines + more)
        )
    outs = {k: v for k, v in props.items() if k not in SECRETS}
    return {**outs, "checks": len(results), "converged_s": round(time.monotonic() - start, 1)}


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
            types.options(opts, secret_outputs=list(SECRETS)),
        )


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
    fabric = expect.expectations({stack_name: stack.plan}, [stack_name], peers=False)
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
