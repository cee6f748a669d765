"""``python -m fabric``: render, plan, diagram and validate stacks offline; read the fabric's health.

Most commands work from the stack files alone (no Pulumi engine, no device access), so
they run in CI and in a pull request review; ``review`` runs ``pulumi preview`` (or reads
its JSON) and writes a pull-request comment; ``status`` and ``verify`` read the devices
(read only: :mod:`fabric.devices`, a layer outside the core that ``fabric/__main__.py``
adds through ``extra``). Exit codes: 0 fine, 1 invalid config or rendered config (or a
failed preview, an unreachable device, a failing check), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fabric import diagram, review, stackfile
from fabric.deferred import Deferred
from fabric.errors import AccessError, ConfigError
from fabric.render.cloudinit import render_user_data
from fabric.render.linux import HostState, render_hypervisor
from fabric.render.linux.node import render_node
from fabric.render.vyos import render_routers
from fabric.topology import Plan


def _stacks(args: argparse.Namespace) -> list[str]:
    if args.stack:
        return [args.stack]
    stacks = stackfile.fabric_stacks(args.project)
    if not stacks:
        raise ConfigError([f"{args.project}: no Pulumi.<stack>.yaml with a fabric:datacenter or fabric:nodes"])
    return stacks


def write_render(plan: Plan, out: Path) -> list[Path]:
    """Write every device's config under ``out``: ``<router>.vyos``, ``<hypervisor>/<path>``,
    ``<node>/<path>`` for each frr node, and per cloud node ``<node>.user-data`` (cloud-init)
    and ``<node>/<path>`` (its files)."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for rendered in render_routers(plan):
        path = out / f"{rendered.name}.vyos"
        path.write_text(rendered.text())
        written.append(path)
    for hv in plan.hypervisors:
        written += _write_host(out / hv.spec.name, render_hypervisor(plan, hv))
    for node in plan.nodes:
        written += _write_host(out / node.name, render_node(plan, node))
    for cloud in plan.clouds:
        path = out / f"{cloud.node.name}.user-data"
        path.write_text(render_user_data(plan, cloud))
        written.append(path)
        written += _write_host(out / cloud.node.name, render_node(plan, cloud.node))
    return written


def _write_host(folder: Path, state: HostState) -> list[Path]:
    """A host's files under ``folder``, at their paths on the host."""
    written = []
    for f in state.files():
        path = folder / f.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content)
        written.append(path)
    return written


def cmd_render(args: argparse.Namespace, console: Console) -> int:
    stacks = _stacks(args)
    for stack in stacks:
        plan = stackfile.load_stack(args.project, stack).plan
        out = args.out / stack if (args.all or not args.stack) else args.out
        written = write_render(plan, out)
        console.print(Text.assemble((stack, "green"), f": wrote {len(written)} files under {out}"))
    return 0


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    for stack in _stacks(args):
        plan = stackfile.load_stack(args.project, stack).plan
        console.print(_plan_tables(stack, plan))
    return 0


def _plan_tables(stack: str, plan: Plan) -> Table:
    outer = Table.grid(padding=(1, 0))
    sites = Table(
        title=f"stack {stack}: mesh members (AS {plan.asn}, MTU underlay/wg/tenant "
        f"{plan.mtu.underlay}/{plan.mtu.wireguard}/{plan.mtu.tenant})"
    )
    for col in ("site", "id", "member", "mesh address", "endpoint", "roles", "where"):
        sites.add_column(col)
    for m in sorted((*plan.members, *plan.remote), key=lambda m: (m.site_id, m.node_id)):
        local = m in plan.members
        sites.add_row(
            m.site,
            str(m.site_id),
            m.name,
            m.mesh_address,
            "(the cloud's static IP, after up)" if isinstance(m.endpoint, Deferred) else m.endpoint or "(not yet)",
            ", ".join(m.roles),
            "this stack" if local else "peer stack",
        )
    routers = Table(title="routers")
    for col in ("router", "vyos", "hypervisor", "backbone", "public", "wg peers", "bgp sessions", "tenants"):
        routers.add_column(col)
    for r in plan.routers:
        routers.add_row(
            r.name,
            r.vyos_version,
            r.hypervisor,
            str(r.backbone_address),
            f"{r.public_address}/{r.public_prefix.prefixlen}",
            str(len(r.wireguard_peers)),
            ", ".join(n.name + (" (client)" if n.client else "") for n in r.bgp_neighbors),
            ", ".join(c.tenant.name for c in r.tenants),
        )
    tenants = Table(title="tenants")
    columns = ("tenant", "id", "sites", "vni", "l3 vni", "table", "rt", "network", "gateway here", "segments", "egress")
    for col in columns:
        tenants.add_column(col)
    for t in plan.tenants:
        gw = next((str(c.first.vrrp_address) for r in plan.routers for c in r.tenants if c.tenant.name == t.name), "-")
        egress = "all" if t.policy.egress_default == "accept" else f"{len(t.policy.allows)} rules"
        tenants.add_row(
            t.name,
            str(t.id),
            ", ".join(t.sites),
            str(t.vni),
            str(t.l3_vni),
            str(t.vrf_table),
            t.route_target,
            str(t.network),
            gw,
            ", ".join(f"{s.name} {s.network} (vni {s.vni})" for s in t.segments[1:]) or "-",
            egress + (f", {len(t.published)} published" if t.published else ""),
        )
    outer.add_row(sites)
    outer.add_row(routers)
    outer.add_row(tenants)
    if plan.clouds:
        outer.add_row(_clouds_table(plan))
    return outer


def _clouds_table(plan: Plan) -> Table:
    clouds = Table(title="cloud extensions (bursts)")
    for col in ("site", "provider", "region", "node", "mesh address", "network", "node address", "tenant subnets"):
        clouds.add_column(col)
    for c in plan.clouds:
        clouds.add_row(
            c.site,
            c.provider,
            c.spec.region or "",
            c.node.name,
            str(c.node.mesh_address),
            str(c.network),
            str(c.node_address),
            ", ".join(f"{t.tenant.name} {t.subnet}" for t in c.tenants),
        )
    return clouds


def _write(out: Path | None, text: str, console: Console) -> None:
    """``text`` to the ``--out`` file (saying so, with its size), else to stdout."""
    if out:
        out.write_text(text)
        console.print(f"wrote {out} ({len(text.encode())} bytes)")
    else:
        sys.stdout.write(text)


def cmd_diagram(args: argparse.Namespace, console: Console) -> int:
    plans = [stackfile.load_stack(args.project, s).plan for s in _stacks(args)]
    _write(args.out, diagram.mermaid(plans), console)
    return 0


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """What ``pulumi up`` checks before registering anything: the same loader, the same messages."""
    failed = False
    for stack in _stacks(args):
        try:
            plan = stackfile.load_stack(args.project, stack).plan
        except ConfigError as exc:
            print(f"{stack}: {exc}", file=sys.stderr)
            failed = True
            continue
        lines = sum(len(r.commands()) for r in render_routers(plan))
        console.print(
            Text.assemble((stack, "green"), f": config valid; {lines} VyOS lines valid for their routers' versions")
        )
    return 1 if failed else 0


class UsageError(Exception):
    """A command line that cannot work (exit code 2)."""


def cmd_review(args: argparse.Namespace, console: Console) -> int:
    """Markdown for a pull-request comment: what ``pulumi up`` would change, per stack and device."""
    stacks: list[str] = args.stack
    files: list[str] = args.preview_json or []
    if files and len(files) != len(stacks):
        raise UsageError(f"--preview-json given {len(files)} times for {len(stacks)} stacks: give one per --stack")
    if files.count("-") > 1:
        raise UsageError("--preview-json - (stdin) can be given once")
    if files and args.policy_pack:
        raise UsageError("--policy-pack runs the preview: it cannot check a --preview-json file")
    if args.max_chars and args.max_chars < review.MIN_LIMIT:
        raise UsageError(f"--max-chars must be 0 (no limit) or at least {review.MIN_LIMIT}")
    reports = []
    for i, stack in enumerate(stacks):
        text = _read_preview(files[i]) if files else _run_preview(args.project, stack, args.policy_pack)
        if text is None:
            return 1
        try:
            reports.append(review.stack_report(stack, json.loads(text)))
        except (ValueError, review.PreviewError) as exc:
            print(f"stack {stack}: not a `pulumi preview --json` result: {exc}", file=sys.stderr)
            return 1
    stack_args = " ".join(f"--stack {s}" for s in stacks)
    hint = args.full_report or (
        f"run `python -m fabric review {stack_args} --max-chars 0 --out report.md` for the full report"
    )
    text = review.markdown(reports, max_chars=args.max_chars or None, full_report=hint)
    if args.full_out:
        args.full_out.write_text(review.markdown(reports, max_chars=None))
    _write(args.out, text, console)
    return 0


def _read_preview(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text()
    except OSError as exc:
        raise UsageError(f"--preview-json {name}: {exc.strerror}") from exc


def _run_preview(project: Path, stack: str, policy_pack: Path | None = None) -> str | None:
    """``pulumi preview --stack S --json --diff`` (with ``--policy-pack``) in the project
    directory; None (and the CLI's errors, a policy's violations included, on stderr) when it fails."""
    policy = ["--policy-pack", str(policy_pack)] if policy_pack else []

    def preview(*extra: str) -> subprocess.CompletedProcess[str] | None:
        return stackfile.run_pulumi(project, "preview", "--stack", stack, *extra, *policy)

    result = preview("--json", "--diff")
    if result is None:
        print("no pulumi CLI on PATH nor in .tools/pulumi/bin: run ./scripts/setup.sh", file=sys.stderr)
        return None
    if result.returncode == 0:
        return result.stdout
    try:
        errors = review.preview_errors(json.loads(result.stdout))
    except ValueError:
        errors = [result.stdout.strip()] if result.stdout.strip() else []
    if policy:
        # The JSON holds no policy violations; the CLI's own summary names them.
        summary = preview()
        errors.append(review.policy_section(summary.stdout if summary else ""))
    shown = "\n".join(e for e in [*errors, result.stderr.strip()] if e)
    print(f"stack {stack}: pulumi preview failed (exit code {result.returncode}):\n{shown}", file=sys.stderr)
    return None


def cmd_lab(args: argparse.Namespace, console: Console) -> int:
    """``python -m fabric lab up`` boots the nodes of the project's Pulumi.lab.yaml; the rest is ``python -m lab``."""
    from lab.cli import main as lab_main

    rest = list(args.args)
    if rest[:1] == ["up"] and "--spec" not in rest and "--nodes" not in rest:
        rest += ["--spec", str(args.project / "Pulumi.lab.yaml")]
    if rest[:1] == ["matrix"] and "--project" not in rest:
        rest += ["--project", str(args.project)]
    return lab_main(rest)


def parser(extra: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    """The CLI's commands; ``extra`` adds the commands of layers outside the core (``fabric/__main__.py``)."""
    p = argparse.ArgumentParser(prog="python -m fabric", description=__doc__.splitlines()[0])
    p.add_argument("--project", type=Path, default=Path("."), help="project directory (holds Pulumi.yaml)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="write every device's config as files for review")
    r.add_argument("--stack", help="stack name (default: every datacenter stack, one folder each)")
    r.add_argument("--all", action="store_true", help="one folder per stack even with --stack")
    r.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    r.set_defaults(func=cmd_render)

    pl = sub.add_parser("plan", help="print sites, routers, mesh addresses, tenants and their numbers")
    pl.add_argument("--stack")
    pl.set_defaults(func=cmd_plan)

    d = sub.add_parser("diagram", help="write a Mermaid diagram of the fabric")
    d.add_argument("--stack")
    d.add_argument("--out", type=Path, help="file to write (default: stdout)")
    d.set_defaults(func=cmd_diagram)

    lb = sub.add_parser("lab", help="the lab's nodes: up, down, status, matrix, exec (see README 'The lab')")
    lb.add_argument("args", nargs=argparse.REMAINDER, help="lab command and its options (python -m lab --help)")
    lb.set_defaults(func=cmd_lab)

    v = sub.add_parser("validate", help="check config and every rendered VyOS line; non-zero on errors")
    v.add_argument("--stack")
    v.set_defaults(func=cmd_validate)

    rv = sub.add_parser("review", help="Markdown for a pull request: what `pulumi up` would change, per device")
    rv.add_argument(
        "--stack", action="append", required=True, help="stack to preview; repeat for one report of several"
    )
    rv.add_argument(
        "--preview-json",
        action="append",
        metavar="FILE",
        help="read `pulumi preview --json` output instead of running it (- for stdin); one per --stack, in order",
    )
    rv.add_argument("--out", type=Path, help="file to write (default: stdout)")
    rv.add_argument(
        "--policy-pack",
        type=Path,
        metavar="DIR",
        help="run the preview with this policy pack (e.g. policy): a violation fails it",
    )
    rv.add_argument(
        "--max-chars",
        type=int,
        default=review.GITHUB_LIMIT,
        help=f"shorten the report to this size, with notes (default: GitHub's comment limit, {review.GITHUB_LIMIT}; 0: no limit)",
    )
    rv.add_argument("--full-out", type=Path, help="also write the full, never shortened report to this file")
    rv.add_argument(
        "--full-report", metavar="MARKDOWN", help="where the full report is, for the notes of a shortened one"
    )
    rv.set_defaults(func=cmd_review)
    for add in extra:
        add(sub)
    return p


def main(argv: Sequence[str] | None = None, extra: Sequence[Callable[[Any], None]] = ()) -> int:
    args = parser(extra).parse_args(argv)
    # No markup and no emoji codes: table cells hold config text and what devices say, which
    # must print as themselves ("[/oops]", ":white_check_mark:" too); control characters in
    # device text are replaced before it gets here (fabric.health.report.shown).
    console = Console(stderr=False, highlight=False, markup=False, emoji=False)
    try:
        code: int = args.func(args, console)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"python -m fabric {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AccessError as exc:
        print(f"python -m fabric {args.command}: {exc}", file=sys.stderr)
        return 1
    return code
