"""fabric's policy rules: mandatory rules every ``pulumi preview``/``up`` with
``--policy-pack policy`` checks, on the resources the program registers (the pack's
entry point is ``__main__.py``).

``validate`` refuses what cannot work; this pack refuses what a team has decided it will
not run, even where the config may ask for it (``api.insecure``, ``admin_from_anywhere``,
``api.commit_confirm: false``), and checks that what is applied matches what was asked
(no tenant let out unrestricted unless it says so). Each rule reads inputs of the
resource types it names, so it holds for any program that registers them, and the facts
it needs come from the project's own tables and names (:mod:`fabric.vyos_releases`,
:mod:`fabric.render.vyos.names`), never restated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from fabric.render.vyos.names import EGRESS_PREFIX
from fabric.vyos_releases import RELEASES
from providers.types import MODULE
from providers.vyos import config_lines

ROUTER_CONFIG = f"pulumi-python:dynamic/{MODULE}:RouterConfig"
HOST_CONCERN = f"pulumi-python:dynamic/{MODULE}:HostConcern"
TENANT = "fabric:index:Tenant"
ANYWHERE = "0.0.0.0/0"
#: Where a VyOS router lists who may reach its API (`service https allow-client address`).
API_CLIENTS = "service https allow-client address"


#: A resource rule's check: the resource's properties -> the problem, or None.
Check = Callable[[Mapping[str, Any]], "str | None"]


def _lines(config: Any) -> Iterator[tuple[str, str | None]]:
    if isinstance(config, Mapping):
        for lines in config_lines(config).values():
            yield from ((path, value) for path, value, _ in lines)


def tls_verified(props: Mapping[str, Any]) -> str | None:
    if (props.get("tls") or {}).get("insecure") is not True:
        return None
    return f"router {props.get('router')}: TLS verification is off (api.insecure): the API key could be intercepted"


def no_admin_from_anywhere(props: Mapping[str, Any]) -> str | None:
    if not any(path == API_CLIENTS and value == ANYWHERE for path, value in _lines(props.get("config"))):
        return None
    return (
        f"router {props.get('router')}: its API and SSH answer {ANYWHERE} (datacenter.admin_from_anywhere): "
        "list the management networks in datacenter.admin_prefixes"
    )


def commit_confirm_on(props: Mapping[str, Any]) -> str | None:
    release = RELEASES.get(str(props.get("vyos_version")))
    if release is None or not release.commit_confirm or props.get("confirm") is not False:
        return None
    return (
        f"router {props.get('router')}: VyOS {release.version} has commit-confirm, and this router applies "
        "without it (api.commit_confirm: false): a change that cuts the provider off would not roll back"
    )


def host_keys_pinned(props: Mapping[str, Any]) -> str | None:
    if props.get("host_key"):
        return None
    return f"host {props.get('host')}: no pinned SSH host key (ssh.host_key): the host cannot be told from another"


def validator(resource_type: str, check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """The CrossGuard validation of ``check`` on resources of ``resource_type``."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == resource_type and (problem := check(args.props)) is not None:
            report(problem, None)

    return validate


def egress_explicit(args: StackValidationArgs, report: ReportViolation) -> None:
    """A router lets a tenant out unrestricted (its egress chain accepts what no rule names)
    only where that tenant says ``egress.allow_all``: what is applied matches what was asked."""
    allow_all = {
        r.props.get("name"): (r.props.get("egress") or {}).get("allow_all") is True
        for r in args.resources
        if r.resource_type == TENANT
    }
    for r in args.resources:
        if r.resource_type != ROUTER_CONFIG:
            continue
        for path, value in _lines(r.props.get("config")):
            words = path.split(" ")
            if words[:3] == ["firewall", "ipv4", "name"] and words[4:] == ["default-action"] and value == "accept":
                chain = words[3]
                tenant = chain.removeprefix(EGRESS_PREFIX)
                if chain.startswith(EGRESS_PREFIX) and not allow_all.get(tenant):
                    report(
                        f"router {r.props.get('router')}: tenant {tenant}'s egress is unrestricted ({chain} accepts "
                        "by default) though the tenant does not say egress.allow_all: true",
                        r.urn,
                    )


#: Each resource rule: (name, what it requires, the check on one resource type).
RULES: list[tuple[str, str, Callable[[ResourceValidationArgs, ReportViolation], None]]] = [
    ("router-tls-verified", "Router APIs are reached with TLS verified.", validator(ROUTER_CONFIG, tls_verified)),
    (
        "no-admin-from-anywhere",
        "No router API or SSH answers 0.0.0.0/0.",
        validator(ROUTER_CONFIG, no_admin_from_anywhere),
    ),
    (
        "commit-confirm-on",
        "Routers whose VyOS has commit-confirm apply under it.",
        validator(ROUTER_CONFIG, commit_confirm_on),
    ),
    (
        "host-keys-pinned",
        "Every host reached over SSH has its host key pinned.",
        validator(HOST_CONCERN, host_keys_pinned),
    ),
]
#: Each stack rule (it sees every resource at once).
STACK_RULES: list[tuple[str, str, Callable[[StackValidationArgs, ReportViolation], None]]] = [
    ("egress-explicit", "No tenant has unrestricted egress unless egress.allow_all says so.", egress_explicit),
]
