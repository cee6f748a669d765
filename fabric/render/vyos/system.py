"""``system`` identity and ``service https``: the API the VyOS provider talks to.

The API key is a secret reference; the API answers only the admin prefixes.
"""

from __future__ import annotations

from fabric.render.vyos.command import API_KEY, Command, cmd
from fabric.topology import Plan, RouterPlan

# Only what fabric writes: the router's certificates and listen addresses under
# ``service https`` stay the operator's (they are how the provider reaches the API).
OWNS = (
    ("system", "host-name"),
    ("system", "domain-name"),
    ("service", "https", "api"),
    ("service", "https", "allow-client"),
    ("service", "https", "port"),
)
#: Deleting the API's own config would cut the provider off mid-delete: it stays.
KEEP_ON_DELETE = (("service", "https", "api"),)


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
