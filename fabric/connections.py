"""How each device is reached: a router's API endpoint and TLS, a host's SSH.

One place for the components (which hand these to the providers) and for ``status`` and
``verify`` (which open the providers' own connections with them), so a read goes exactly
where an apply goes and verifies the peer exactly as an apply does.
"""

from __future__ import annotations

from typing import Any

from fabric import model
from fabric.loader import ca_bundle
from fabric.topology import RouterPlan


def api_endpoint(planned: RouterPlan) -> str:
    return f"https://{planned.api_address}:{planned.api_port}"


def api_tls(router: model.Router) -> dict[str, object]:
    """How the provider verifies the router's certificate: a pinned fingerprint, or only the
    certificates of the CA file (checked by the loader before anything was registered)."""
    api = router.api
    tls: dict[str, object] = {"insecure": api.insecure}
    if api.fingerprint:
        tls["fingerprint"] = api.fingerprint
    if api.ca_file:
        tls["ca_pem"] = ca_bundle(api.ca_file)
    return tls


def router_props(planned: RouterPlan, router: model.Router) -> dict[str, Any]:
    """What :class:`providers.vyos.Router` connects with (the API key apart: a secret)."""
    return {"router": router.name, "endpoint": api_endpoint(planned), "tls": api_tls(router)}


def host_props(host: str, ssh: model.Ssh) -> dict[str, Any]:
    """What :class:`providers.host.Host` connects with (the private key apart: a secret)."""
    return {
        "host": host,
        "address": str(ssh.address),
        "port": ssh.port,
        "user": ssh.user,
        "host_key": ssh.host_key,
        "root": ssh.root,
    }
