"""``system`` identity and ``service https``: the API the VyOS provider talks to.

The API key is a secret reference; the API answers only the admin prefixes.
"""

from __future__ import annotations

from fabric.render.secrets import API_KEY
from fabric.render.vyos.command import Command, cmd
from fabric.topology import Plan, RouterPlan

# Only what fabric writes: other API keys, certificates and listen addresses under
# ``service https`` stay the operator's.
OWNS = (
    ("system", "host-name"),
    ("system", "domain-name"),
    ("service", "https", "api", "keys", "id", "fabric"),
    ("service", "https", "api", "rest"),
    ("service", "https", "allow-client"),
    ("service", "https", "port"),
)
#: How the provider reaches the API: deleting these would cut it off mid-delete.
KEEP_ON_DELETE = OWNS[2:]


def render(plan: Plan, router: RouterPlan) -> list[Command]:
    out = [
        cmd("system", "host-name", value=router.name),
        cmd("system", "domain-name", value=plan.domain),
        cmd("service", "https", "api", "keys", "id", "fabric", "key", value=API_KEY),
    ]
    if router.vyos_version != "1.4":
        # Rolling releases since late 2024 serve the REST endpoints only when enabled.
        out.append(cmd("service", "https", "api", "rest"))
    out += [cmd("service", "https", "allow-client", "address", value=p) for p in router.admin_prefixes]
    out.append(cmd("service", "https", "port", value=router.api_port))
    return out
