"""cloud-init user-data for a cloud node: the ``frr`` node's host state, written at first boot.

The files and actions are exactly those :func:`fabric.render.linux.node.render_node`
gives a node managed over SSH, so a cloud node and a lab node cannot drift apart:
packages are installed first, the files are written after them (``defer``, so the
packages' own defaults do not overwrite ours and ``frr`` owns its files), then every
action runs once, in concern order: WireGuard up, segments, forwarding, FRR.

The WireGuard private key appears as a marker (``<secret:wireguard-private-key>``); the
cloud component substitutes the key inside a Pulumi secret output, so user-data is a
secret in state and never shown in previews.

A cloud node is configured once, at first boot. When its rendered user-data changes
(a peer joins, a key rotates), the component replaces the node; its static public IP
and so its mesh endpoint stay.
"""

from __future__ import annotations

import yaml

from fabric.render.linux.node import render_node
from fabric.topology import CloudPlan, Plan

#: Debian/Ubuntu packages a node needs (WireGuard tools, FRR, nftables for forwarding).
PACKAGES = ("wireguard-tools", "frr", "frr-pythontools", "nftables")
#: The admin user the clouds create for SSH logins.
ADMIN_USER = "fabric"


class _Literal(str):
    """A string YAML writes as a ``|`` block, so files read as themselves in user-data."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render_user_data(plan: Plan, cloud: CloudPlan) -> str:
    """The ``#cloud-config`` document for the cloud's node."""
    state = render_node(plan, cloud.node)
    files = [
        {
            "path": f.path,
            "content": _Literal(f.content),
            "permissions": f"0{f.mode:o}",
            "owner": f"{f.owner}:{f.owner}",
            "defer": True,
        }
        for f in state.files()
    ]
    commands = [
        list(argv) for concern in state.concerns.values() for action in concern.actions for argv in action.commands
    ]
    doc: dict[str, object] = {
        "hostname": cloud.node.name,
        "package_update": True,
        "packages": list(PACKAGES),
        "write_files": files,
        # networkd manages the segments; cloud images may use it already, enabling it is harmless.
        "runcmd": [["systemctl", "enable", "--now", "systemd-networkd"], *commands],
    }
    if cloud.spec.ssh_public_key:
        doc["users"] = [
            "default",
            {
                "name": ADMIN_USER,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [cloud.spec.ssh_public_key],
            },
        ]
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000)
    return f"#cloud-config\n# Node {cloud.node.name} of cloud site {cloud.site} (fabric).\n{body}"
