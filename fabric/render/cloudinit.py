"""cloud-init user-data for a cloud node: the ``frr`` node's host state, written at first boot.

The files and actions are exactly those :func:`fabric.render.linux.node.render_node`
gives a node managed over SSH, so a cloud node and a lab node cannot drift apart:
packages are installed first, the files are written after them (``defer``, so the
packages' own defaults do not overwrite ours and ``frr`` owns its files), then every
action runs once, in concern order: WireGuard up, segments, forwarding, FRR.

The WireGuard private key appears as a marker (``<secret:wireguard-private-key>``) in the
file's slot (:mod:`fabric.deferred`), as do the peers' keys and cloud endpoints known
only after ``up``; the cloud component fills them into those slots inside a Pulumi
secret output, so user-data is a secret in state and never shown in previews, and no
other text of the user-data can take the key.

User-data grows with the tenants a node carries (about 2 KiB each), past AWS's 16 KiB
limit at ten tenants, so it travels gzip-compressed and base64-encoded
(:func:`packed_user_data`), which cloud-init unpacks on every cloud; a node whose packed
user-data still exceeds its cloud's limit (:mod:`fabric.cloud_limits`) is a config error naming the cloud.

A cloud node is configured once, at first boot. When its rendered user-data changes
(a peer joins, a key rotates), the component replaces the node; its static public IP
and so its mesh endpoint stay.
"""

from __future__ import annotations

import base64
import gzip

import yaml

from fabric.cloud_limits import CLOUDS
from fabric.deferred import samples
from fabric.errors import ConfigError
from fabric.render.linux.node import render_node
from fabric.topology import CloudPlan, Plan
from markers import Values

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


def render_user_data(plan: Plan, cloud: CloudPlan, values: Values | None = None) -> str:
    """The ``#cloud-config`` document for the cloud's node: with ``values`` (by kind and
    name, :mod:`markers`), each file's slots filled in from them, else markers."""
    state = render_node(plan, cloud.node)
    files = [
        {
            "path": f.path,
            "content": _Literal(f.filled(values) if values is not None else f.content),
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


def pack(text: str) -> str:
    """gzip (reproducibly: no timestamp) then base64: the form every cloud takes user-data in."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode()


def packed_user_data(plan: Plan, cloud: CloudPlan, values: Values) -> str:
    """The node's user-data with its private key and late values in, packed; a ConfigError past its cloud's limit."""
    packed = pack(render_user_data(plan, cloud, values))
    problem = _size_problem(cloud, packed)
    if problem:
        raise ConfigError([problem])
    return packed


def user_data_problems(plan: Plan) -> list[str]:
    """Every cloud node whose user-data, packed with stand-ins of the real values' lengths,
    is over its cloud's limit: checked with the config, before anything is created."""
    out = []
    for cloud in plan.clouds:
        problem = _size_problem(cloud, packed_sample(plan, cloud))
        if problem:
            out.append(problem)
    return out


def packed_sample(plan: Plan, cloud: CloudPlan) -> str:
    """The packed user-data with every slot's stand-in (what :func:`user_data_problems` measures)."""
    node = render_node(plan, cloud.node)
    return pack(render_user_data(plan, cloud, samples(tuple(s for f in node.files() for s in f.slots))))


def _size_problem(cloud: CloudPlan, packed: str) -> str | None:
    limits = CLOUDS[cloud.provider]
    size = len(base64.b64decode(packed)) if limits.counts_decoded else len(packed)
    limit = limits.user_data_bytes
    if size <= limit:
        return None
    return (
        f"clouds.{cloud.provider}: the node's user-data is {size / 1024:.1f} KiB packed, over "
        f"{cloud.provider}'s {limit // 1024} KiB limit; {len(cloud.tenants)} tenants span {cloud.site}: "
        "let fewer tenants extend into it"
    )
