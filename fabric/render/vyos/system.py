"""``system`` identity, commit-confirm expiry, and ``service https``: the API the VyOS provider talks to.

The API key is a secret reference; the API answers only the admin prefixes. When a
commit-confirm timer runs out (the provider lost the router mid-apply), VyOS's default
is to reboot into the saved config: every tenant's gateway goes down with it. fabric sets
the schema's other choice, ``reload`` (the saved config loaded in place), on releases
whose schema has it (:mod:`fabric.vyos_releases`; 1.4's API has no commit-confirm at all).
"""

from __future__ import annotations

from fabric.deferred import API_KEY
from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan
from fabric.vyos_releases import release

# Only what fabric writes: other API keys, certificates and listen addresses under
# ``service https`` stay the operator's.
OWNS = (
    ("system", "host-name"),
    ("system", "domain-name"),
    ("system", "config-management", "commit-confirm", "action"),
    ("service", "https", "api", "keys", "id", "fabric"),
    ("service", "https", "api", "rest"),
    ("service", "https", "allow-client"),
    ("service", "https", "port"),
)
#: How the provider reaches the API: deleting these would cut it off mid-delete.
KEEP_ON_DELETE = tuple(o for o in OWNS if o[0] == "service")


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = [
        cmd("system", "host-name", value=router.name),
        cmd("system", "domain-name", value=plan.domain),
        cmd("service", "https", "api", "keys", "id", "fabric", "key", value=API_KEY),
    ]
    can = release(router.vyos_version)
    if can.confirm_action:
        out.append(cmd("system", "config-management", "commit-confirm", "action", value="reload"))
    if can.rest_switch:
        out.append(cmd("service", "https", "api", "rest"))
    out += [cmd("service", "https", "allow-client", "address", value=p) for p in router.admin_prefixes]
    out.append(cmd("service", "https", "port", value=router.api_port))
    return out
